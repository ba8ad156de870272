//! Compiling only what changed: a new fleet or new health applied to the zone
//! compiled before, in work proportional to the profiles that changed.
//!
//! [`diff`] says which profiles differ between two fleets (or that something
//! zone-wide changed, and only a whole compile will do); [`health_changes`]
//! which profiles route differently under new health. [`crate::Snapshot::patch`]
//! then copies the zone — its name shards and endpoint table are shared, not
//! copied — and compiles again only the names of those profiles, with the same
//! `profile::profile_names` a whole compile uses, so both give the same answers
//! (`dns/tests/patch.rs` checks it). An endpoint that stays keeps
//! its position in the endpoint table, and so its answer counter.

use std::collections::{BTreeSet, HashMap};

use fleetdns_config::{Fleet, Health};

use crate::compile::apex_sets;
use crate::profile::profile_names;
use crate::wire;
use crate::zone::Zone;

/// What to compile again: profiles of the new fleet (by index), and owners
/// that are gone.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Indices into the new fleet's profiles.
    pub compile: BTreeSet<usize>,
    /// Owner names (as in `Profile::owner`) of profiles that are gone.
    pub removed: Vec<String>,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.compile.is_empty() && self.removed.is_empty()
    }

    /// How many profiles change.
    pub fn len(&self) -> usize {
        self.compile.len() + self.removed.len()
    }

    /// Whether patching is cheaper than compiling `profiles` profiles whole: a
    /// patch pays per changed profile (its shard is copied), a whole compile once
    /// per profile. Past an eighth of the fleet (and at least 1,024 profiles) a
    /// whole compile wins: all 100,000 profiles changed at once took 59–117 s to
    /// patch and ~1 s to compile whole (docs/BENCHMARKS.md, "Kubernetes mode at 100k").
    pub fn worth_patching(&self, profiles: usize) -> bool {
        self.len() <= (profiles / 8).max(1024)
    }
}

/// Whether everything but the profiles and the SOA serial is the same.
fn same_zone_wide(a: &Fleet, b: &Fleet) -> bool {
    let mut za = a.zone.clone();
    za.soa.serial = b.zone.soa.serial;
    za == b.zone
        && a.trusted_networks == b.trusted_networks
        && a.rrl == b.rrl
        && a.tcp == b.tcp
        && a.dnssec == b.dnssec
}

/// The profiles that differ between `old` and `new` (both sorted by owner, as
/// validation leaves them), or `None` when something zone-wide changed.
///
/// A profile differs unless it is the same `Arc`: the zone reads its health
/// view and answer counter labels from the fleet's own profiles, so an equal
/// copy (a source that rebuilt it) is compiled again to point at the new
/// fleet's, rather than keep the old fleet's copy alive beside it.
pub fn diff(old: &Fleet, new: &Fleet) -> Option<Changes> {
    if !same_zone_wide(old, new) {
        return None;
    }
    let mut changes = Changes::default();
    let (mut i, mut j) = (0, 0);
    let (a, b) = (&old.profiles, &new.profiles);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.owner == y.owner => {
                if !std::sync::Arc::ptr_eq(x, y) {
                    changes.compile.insert(j);
                }
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.owner < y.owner => {
                changes.removed.push(x.owner.clone());
                i += 1;
            }
            (Some(x), None) => {
                changes.removed.push(x.owner.clone());
                i += 1;
            }
            (_, Some(_)) => {
                changes.compile.insert(j);
                j += 1;
            }
            (None, None) => break,
        }
    }
    Some(changes)
}

/// For each health slot, the profile (index in the fleet) its endpoint belongs
/// to: built once per fleet and prober layout, so a health update that keeps
/// the layout finds the profiles it moves without looking at the others.
#[derive(Debug)]
pub struct SlotIndex {
    slots: fleetdns_config::HealthSlots,
    profile: Box<[u32]>,
}

impl SlotIndex {
    /// The index of `health`'s slots over `fleet`'s profiles.
    pub fn new(fleet: &Fleet, health: &Health) -> Self {
        let mut profile = vec![u32::MAX; health.slot_count()].into_boxed_slice();
        for (i, p) in fleet.profiles.iter().enumerate() {
            for e in &p.endpoints {
                if let Some(s) = health.slot_of(&e.id) {
                    profile[s] = i as u32;
                }
            }
        }
        Self {
            slots: health.slots(),
            profile,
        }
    }
}

/// The profiles of `fleet` whose endpoints' availability differs between
/// `before` and `after` (what the zone's answers depend on). `index` is the
/// caller's cache for `fleet`: reset it when the fleet changes.
pub fn health_changes(
    fleet: &Fleet,
    before: &Health,
    after: &Health,
    index: &mut Option<SlotIndex>,
) -> BTreeSet<usize> {
    let changed = match after.moves_since(before) {
        Some(moved) => Some(moved.iter().map(|&s| s as usize).collect()),
        None => before.availability_changes(after),
    };
    if let Some(changed) = changed {
        if !index.as_ref().is_some_and(|x| x.slots.same(&after.slots())) {
            *index = Some(SlotIndex::new(fleet, after));
        }
        let index = index.as_ref().expect("just set");
        return changed
            .into_iter()
            .filter_map(|s| index.profile.get(s).copied())
            .filter(|&p| p != u32::MAX)
            .map(|p| p as usize)
            .collect();
    }
    // Another layout (endpoints came or went): compare every endpoint by id.
    fleet
        .profiles
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.endpoints
                .iter()
                .any(|e| before.state_of(e).is_available() != after.state_of(e).is_available())
        })
        .map(|(i, _)| i)
        .collect()
}

fn owner_key(owner: &str) -> Option<Box<[u8]>> {
    let mut name = hickory_proto::rr::Name::from_ascii(owner).ok()?;
    name.set_fqdn(true);
    Some(wire::key(&name))
}

/// Endpoint positions a patch changed: `Some(answerable)` where an endpoint
/// holds the position now, `None` where one left.
pub(crate) type Touched = Vec<(u32, Option<bool>)>;

/// `zone` (compiled from some fleet) turned into the zone of `fleet` and
/// `health`, compiling again only the profiles in `changes`; also the endpoint
/// positions that changed, each with whether an endpoint holds it now and
/// whether some answer set holds that endpoint (`Some(answerable)`), or
/// `None` for a position an endpoint left. `None` when only a whole compile will do: the
/// zone is signed (its NSEC chain spans every name), a name server lives at or
/// below a changed owner, or the endpoint table holds more gaps than entries.
pub(crate) fn patch(
    zone: &Zone,
    fleet: &Fleet,
    health: &Health,
    changes: &Changes,
) -> Option<(Zone, Touched)> {
    if zone.dnssec.is_some() || fleet.dnssec.is_some() {
        return None;
    }
    let mut nodes = zone.nodes.clone();
    let mut next = zone.positions;
    let mut touched = Vec::new();
    let mut live = zone.live_endpoints;
    let owners = changes.removed.iter().map(|o| (o.as_str(), None)).chain(
        changes
            .compile
            .iter()
            .map(|&i| fleet.profiles.get(i).map(|p| (p.owner.as_str(), Some(p))))
            .collect::<Option<Vec<_>>>()?,
    );
    for (owner, profile) in owners {
        if fleet
            .zone
            .name_servers
            .iter()
            .any(|n| n.name == owner || n.name.ends_with(&format!(".{owner}")))
        {
            return None;
        }
        let okey = owner_key(owner)?;
        // The positions of the profile's endpoints in the old zone, by id.
        let before = nodes
            .get(&okey)
            .and_then(|n| n.profile.as_ref())
            .map(|p| (p.profile.clone(), p.positions().collect::<Vec<u32>>()));
        let mut old: HashMap<&str, u32> = HashMap::new();
        if let Some((was, positions)) = &before {
            for (e, &pos) in was.endpoints.iter().zip(positions.iter()) {
                old.insert(&e.id, pos);
            }
            // Only the owner has a node: the names below it are its node's.
            nodes.shard_mut(&okey).remove(&okey);
        }
        if let Some(p) = profile {
            let positions: Vec<u32> = p
                .endpoints
                .iter()
                .map(|e| {
                    old.remove(&*e.id).unwrap_or_else(|| {
                        live += 1;
                        next += 1;
                        next - 1
                    })
                })
                .collect();
            let (key, node) = profile_names(p, health, &positions, &mut nodes);
            if let Some(compiled) = &node.profile {
                touched.extend(
                    compiled
                        .endpoint_keys()
                        .map(|(pos, k)| (pos, Some(k.answerable))),
                );
            }
            let shard = nodes.shard_mut(&key);
            if shard.contains_key(&key) {
                return None;
            }
            shard.insert(key, std::sync::Arc::new(node));
        }
        for pos in old.into_values() {
            live -= 1;
            touched.push((pos, None));
        }
    }
    if next as usize > 2 * live + 4096 {
        return None;
    }
    let sets = apex_sets(fleet);
    Some((
        Zone {
            apex_key: sets.apex_key,
            soa: sets.soa,
            soa_negative: sets.soa_negative,
            ns: sets.ns,
            glue: sets.glue,
            apex: sets.apex,
            nodes,
            positions: next,
            live_endpoints: live,
            trusted: fleet.trusted_networks.clone().into_boxed_slice(),
            rrl: crate::rrl::Settings::from_fleet(&fleet.rrl),
            tcp: fleet.tcp.clone(),
            dnssec: None,
        },
        touched,
    ))
}
