//! One watch event recomposes its namespace, not the whole fleet.
//!
//! In members mode everything [`compose`](super::compose) relates lives in one
//! namespace: a backend names a profile and a Service of its own namespace, an
//! export scopes a Service of its own namespace, port conflicts compare exports of
//! one Service. So the fleet is composed per namespace (a *part*: the same
//! [`compose_cached`] over the objects of that namespace only) and the parts are
//! merged: profiles by owner name, observed objects in the order a whole
//! composition lists them, diagnostics as the settings' own plus each part's. An
//! event recomposes only its namespace; a settings change or a relist recomposes
//! every part.
//!
//! Where namespaces do meet, the whole fleet is composed as before: hub mode
//! (exports and public IPs come from the hub), the Azure mirror (its maps span
//! every profile), object counts at a limit, and two namespaces whose profiles
//! would map to one owner name (`a-b`/`c` and `a`/`b-c`: first come, first
//! served across namespaces). The result is the same `Fleet` either way; the
//! tests pin that after sequences of events.
//!
//! The merge shares the parts' profiles and observed objects (`Arc`s) and digests
//! only new profiles for the content serial ([`SerialCache`]): what grows with the
//! fleet is copying pointers, in owner order (docs/BENCHMARKS.md, "Kubernetes
//! watch events at scale").
//!
//! [`SerialCache`]: fleetdns_config::validate::SerialCache

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use fleetdns_config::document::Doc;
use fleetdns_config::limits;
use fleetdns_config::settings::SettingsDocument;
use fleetdns_config::{Diagnostic, Diagnostics, Fleet, ObjectKind, ObservedObject, Profile};

use super::compose::{compose_cached, ParseCache, Resource, Snapshot, Topology};

/// Where observed objects go in a whole composition's order: exports by member and
/// key, then profiles and backends each by creation time and key.
type ObservedKey = (u8, usize, String, String, String);

/// What composing one namespace gave.
#[derive(Default)]
struct Part {
    cache: ParseCache,
    /// Owner names of its profiles, as in the merged map.
    owners: Vec<String>,
    /// Keys of its observed objects in the merged map.
    observed: Vec<ObservedKey>,
    /// Its diagnostics, without the settings' own.
    diags: Vec<Diagnostic>,
}

/// The settings' share of every composition: the fleet of no objects and its diagnostics.
struct Base {
    fleet: Fleet,
    diags: Vec<Diagnostic>,
}

/// Which namespaces changed since the last composition.
#[derive(Debug, Default)]
enum Dirty {
    /// Everything (start, settings, relists, after a whole composition).
    #[default]
    All,
    /// These namespaces only (possibly none: a cluster's reachability changed).
    Some(BTreeSet<String>),
}

/// The composer's state between events: per namespace its part, and the merged
/// profiles and observed objects.
#[derive(Default)]
pub struct Composer {
    dirty: Dirty,
    whole: ParseCache,
    base: Option<Base>,
    parts: BTreeMap<String, Part>,
    profiles: BTreeMap<String, Arc<Profile>>,
    observed: BTreeMap<ObservedKey, Arc<ObservedObject>>,
    /// Whether `parts` hold every namespace (false after a whole composition).
    parts_valid: bool,
    /// `<namespace>-<name>` of every profile object (valid or not), the owner name it
    /// could claim → the namespaces making that claim.
    claims: HashMap<String, BTreeSet<String>>,
    /// Per namespace, its claims.
    ns_claims: HashMap<String, Vec<String>>,
    /// Claims made from more than one namespace.
    shared_claims: usize,
    /// Compositions of parts since start (for tests and logs).
    parts_composed: u64,
    /// How long the last merge of parts took (for logs).
    merge_time: std::time::Duration,
    /// The profile digests of the last merged fleet's serial.
    serials: fleetdns_config::validate::SerialCache,
}

/// How a composition was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// From the parts of the namespaces that changed (this many).
    Parts(usize),
    /// Of the whole fleet at once.
    Whole,
}

impl Composer {
    /// Notes that objects of `namespace` changed.
    pub fn touch(&mut self, namespace: &str) {
        if let Dirty::Some(set) = &mut self.dirty {
            if !set.contains(namespace) {
                set.insert(namespace.to_string());
            }
        }
    }

    /// Notes that anything may have changed (settings, a relist).
    pub fn touch_all(&mut self) {
        self.dirty = Dirty::All;
    }

    /// How many namespace parts were composed since start.
    pub fn parts_composed(&self) -> u64 {
        self.parts_composed
    }

    /// How long the last merge of parts took: the share of a composition that grows
    /// with the whole fleet (copying profiles and observed objects, the content serial).
    pub fn merge_time(&self) -> std::time::Duration {
        self.merge_time
    }

    /// The fleet of `snapshot`, as [`compose_cached`] of the whole snapshot would give
    /// it, recomposing only what changed since the last call; and how it was made.
    pub fn compose(
        &mut self,
        settings: &(Doc, SettingsDocument),
        topology: &Topology,
        snapshot: &Snapshot,
    ) -> (Option<Fleet>, Diagnostics, Path) {
        let dirty = std::mem::replace(&mut self.dirty, Dirty::Some(BTreeSet::new()));
        let namespaces: BTreeSet<String> = match dirty {
            Dirty::All => {
                self.base = None;
                self.parts_valid = false;
                self.claims.clear();
                self.ns_claims.clear();
                self.shared_claims = 0;
                namespaces(snapshot)
            }
            Dirty::Some(set) => set,
        };
        for ns in &namespaces {
            self.claim(topology, snapshot, ns);
        }
        if self.base.is_none() {
            let (fleet, diags) = compose_cached(
                settings,
                topology,
                &Snapshot::default(),
                &mut ParseCache::default(),
            );
            self.base = fleet.map(|fleet| Base {
                fleet,
                diags: diags.0,
            });
        }
        if self.shared_claims > 0 || !self.partable(settings, topology, snapshot) {
            return self.whole(settings, topology, snapshot);
        }
        let namespaces = if self.parts_valid {
            namespaces
        } else {
            // The last good export weights live on in the new parts.
            let mut weights = self.whole.take_last_weights();
            for part in self.parts.values_mut() {
                weights.extend(part.cache.take_last_weights());
            }
            self.clear_parts();
            self.parts_valid = true;
            for (key, weight) in weights {
                self.parts
                    .entry(key.1.clone())
                    .or_default()
                    .cache
                    .add_last_weights([(key, weight)]);
            }
            self::namespaces(snapshot)
        };
        for ns in &namespaces {
            if !self.part(settings, topology, snapshot, ns) {
                return self.whole(settings, topology, snapshot);
            }
        }
        let merging = tokio::time::Instant::now();
        let (fleet, diags) = self.merge(settings, snapshot);
        self.merge_time = merging.elapsed();
        (Some(fleet), diags, Path::Parts(namespaces.len()))
    }

    /// Records the owner names the profiles of `ns` could claim.
    fn claim(&mut self, topology: &Topology, snapshot: &Snapshot, ns: &str) {
        for claim in self.ns_claims.remove(ns).unwrap_or_default() {
            if let Some(spaces) = self.claims.get_mut(&claim) {
                if spaces.len() == 2 && spaces.contains(ns) {
                    self.shared_claims -= 1;
                }
                spaces.remove(ns);
                if spaces.is_empty() {
                    self.claims.remove(&claim);
                }
            }
        }
        let mut mine = Vec::new();
        if let Some(profiles) = snapshot
            .collections
            .get(&(topology.hub.clone(), Resource::Profiles))
        {
            for ((_, name), _) in profiles
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
            {
                let claim = format!("{ns}-{name}").to_ascii_lowercase();
                let spaces = self.claims.entry(claim.clone()).or_default();
                if spaces.insert(ns.to_string()) && spaces.len() == 2 {
                    self.shared_claims += 1;
                }
                mine.push(claim);
            }
        }
        if !mine.is_empty() {
            self.ns_claims.insert(ns.to_string(), mine);
        }
    }

    /// Whether the fleet may be composed by parts at all.
    fn partable(
        &self,
        settings: &(Doc, SettingsDocument),
        topology: &Topology,
        snapshot: &Snapshot,
    ) -> bool {
        let spec = &settings.1.spec;
        let hub_mode = spec
            .kubernetes
            .as_ref()
            .is_some_and(|k| k.source.as_deref() == Some("hub"));
        let count = |cluster: &str, r: Resource| {
            snapshot
                .collections
                .get(&(cluster.to_string(), r))
                .map_or(0, |c| c.len())
        };
        let exports: usize = topology
            .members
            .iter()
            .map(|m| count(m, Resource::Exports))
            .sum();
        self.base.is_some()
            && !hub_mode
            && spec.azure.is_none()
            && count(&topology.hub, Resource::Profiles) < limits::MAX_PROFILES
            && count(&topology.hub, Resource::Backends) < limits::MAX_BACKENDS
            && exports < limits::MAX_EXPORTS
    }

    /// The whole fleet at once; every part is recomposed next time.
    fn whole(
        &mut self,
        settings: &(Doc, SettingsDocument),
        topology: &Topology,
        snapshot: &Snapshot,
    ) -> (Option<Fleet>, Diagnostics, Path) {
        // The last good export weights live on in the whole composition.
        for part in self.parts.values_mut() {
            let weights = part.cache.take_last_weights();
            self.whole.add_last_weights(weights);
        }
        self.clear_parts();
        self.parts_valid = false;
        let (fleet, diags) = compose_cached(settings, topology, snapshot, &mut self.whole);
        (fleet, diags, Path::Whole)
    }

    fn clear_parts(&mut self) {
        self.parts.clear();
        self.profiles.clear();
        self.observed.clear();
    }

    /// Recomposes the part of `ns`; false when its result cannot be merged.
    fn part(
        &mut self,
        settings: &(Doc, SettingsDocument),
        topology: &Topology,
        snapshot: &Snapshot,
        ns: &str,
    ) -> bool {
        let mut part = self.parts.remove(ns).unwrap_or_default();
        for owner in part.owners.drain(..) {
            self.profiles.remove(&owner);
        }
        for key in part.observed.drain(..) {
            self.observed.remove(&key);
        }
        let sub = only(snapshot, ns);
        if sub.collections.values().all(|c| c.is_empty()) {
            return true;
        }
        self.parts_composed += 1;
        let (fleet, diags) = compose_cached(settings, topology, &sub, &mut part.cache);
        let Some(fleet) = fleet else {
            self.parts.insert(ns.to_string(), part);
            return false;
        };
        let Some(own) = without(diags.0, &self.base.as_ref().expect("partable").diags) else {
            self.parts.insert(ns.to_string(), part);
            return false;
        };
        part.diags = own;
        for p in fleet.profiles {
            part.owners.push(p.owner.clone());
            if self.profiles.insert(p.owner.clone(), p).is_some() {
                self.parts.insert(ns.to_string(), part);
                return false;
            }
        }
        for o in fleet.observed.objects {
            let key = observed_key(topology, &o);
            part.observed.push(key.clone());
            if self.observed.insert(key, o).is_some() {
                self.parts.insert(ns.to_string(), part);
                return false;
            }
        }
        self.parts.insert(ns.to_string(), part);
        true
    }

    /// The fleet of every part: the settings' fleet with the parts' profiles and
    /// observed objects, the clusters' states, and the content serial.
    fn merge(
        &mut self,
        settings: &(Doc, SettingsDocument),
        snapshot: &Snapshot,
    ) -> (Fleet, Diagnostics) {
        let base = self.base.as_ref().expect("partable");
        let mut diags = Diagnostics(base.diags.clone());
        for part in self.parts.values() {
            diags.0.extend(part.diags.iter().cloned());
        }
        // Profiles and observed objects are shared with the parts: the merge copies
        // pointers, and the serial digests only the profiles it has not seen.
        let mut fleet = base.fleet.clone();
        fleet.profiles = self.profiles.values().cloned().collect();
        fleet.observed.objects = self.observed.values().cloned().collect();
        if settings.1.spec.soa.serial.is_none() {
            fleetdns_config::validate::seal_cached(&mut fleet, &mut self.serials);
        }
        fleet.observed.clusters = snapshot.clusters.values().cloned().collect();
        (fleet, diags)
    }
}

/// The namespaces of every object held.
fn namespaces(snapshot: &Snapshot) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for objects in snapshot.collections.values() {
        let mut last: Option<&String> = None;
        for (ns, _) in objects.keys() {
            if last != Some(ns) {
                out.insert(ns.clone());
                last = Some(ns);
            }
        }
    }
    out
}

/// The objects of `ns` only (shared, not copied), with every cluster's state.
fn only(snapshot: &Snapshot, ns: &str) -> Snapshot {
    let mut sub = Snapshot {
        clusters: snapshot.clusters.clone(),
        ..Snapshot::default()
    };
    for (key, objects) in &snapshot.collections {
        let part: BTreeMap<(String, String), Arc<Value>> = objects
            .range((ns.to_string(), String::new())..)
            .take_while(|((n, _), _)| n == ns)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        sub.collections.insert(key.clone(), part);
    }
    sub
}

/// `diags` without one of each of `settings` (the diagnostics every composition has);
/// `None` when one is missing (then this part is not what the merge assumes).
fn without(mut diags: Vec<Diagnostic>, settings: &[Diagnostic]) -> Option<Vec<Diagnostic>> {
    for d in settings {
        let at = diags.iter().position(|x| x == d)?;
        diags.remove(at);
    }
    Some(diags)
}

fn observed_key(topology: &Topology, o: &ObservedObject) -> ObservedKey {
    match o.kind {
        ObjectKind::ServiceExport => {
            let member = topology
                .members
                .iter()
                .position(|m| *m == o.cluster)
                .unwrap_or(usize::MAX);
            (
                0,
                member,
                String::new(),
                o.namespace.clone(),
                o.name.clone(),
            )
        }
        ObjectKind::TrafficManagerProfile => {
            (1, 0, o.created.clone(), o.namespace.clone(), o.name.clone())
        }
        ObjectKind::TrafficManagerBackend => {
            (2, 0, o.created.clone(), o.namespace.clone(), o.name.clone())
        }
    }
}
