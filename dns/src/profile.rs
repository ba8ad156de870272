//! What one profile compiles to: the node at its owner name, with its answer
//! sets, its health view and its per-cluster answers (see [`crate::names`]).
//!
//! A whole compile and a patch both build a profile's node here, so both give
//! the same answers. The node keeps the profile itself (shared with the
//! fleet) for the strings its health view and answer counters show, and
//! numbers the cluster labels every profile repeats (`Nodes::label_id`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use fleetdns_config::{Endpoint, Health, Profile, RoutingMethod, Target};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record};

use crate::compile::{address_record, fqdn, served};
use crate::names::cluster_key;
use crate::nodes::Nodes;
use crate::pick::Entry;
use crate::wire;
use crate::zone::{
    Answers, Cluster, Node, Pick, Positions, ProfileNode, CLUSTER_LABEL, HEALTH_LABEL,
};

/// Builds the answer sets of `name` from `(endpoint index, endpoint)` pairs
/// (the served ones) under `routing`. MultiValue answers addresses only (as Traffic Manager: a CNAME
/// cannot be mixed with addresses), so it leaves host-name endpoints out;
/// Priority keeps, per answer type, the endpoints of the best priority that
/// has one.
fn answer_sets(
    name: &Name,
    ttl: u32,
    endpoints: &[(u32, &Endpoint)],
    routing: RoutingMethod,
) -> [Vec<Entry>; 3] {
    type Entries = Vec<(Record, u32, u32, u32)>;
    let (mut a, mut aaaa, mut cname): (Entries, Entries, Entries) = Default::default();
    for &(i, e) in endpoints {
        let (w, p) = (e.weight, e.priority);
        match &e.target {
            Target::Addresses { v4, v6 } => {
                if let Some(v4) = v4 {
                    a.push((address_record(name, ttl, IpAddr::V4(*v4)), w, i, p));
                }
                if let Some(v6) = v6 {
                    aaaa.push((address_record(name, ttl, IpAddr::V6(*v6)), w, i, p));
                }
            }
            Target::Host(_) if matches!(routing, RoutingMethod::MultiValue { .. }) => {}
            Target::Host(h) => {
                let r = Record::from_rdata(name.clone(), ttl, RData::CNAME(CNAME(fqdn(h))));
                a.push((r.clone(), w, i, p));
                aaaa.push((r.clone(), w, i, p));
                cname.push((r, w, i, p));
            }
        }
    }
    let pick = |mut entries: Entries| {
        if routing == RoutingMethod::Priority {
            let best = entries.iter().map(|e| e.3).min();
            entries.retain(|e| Some(e.3) == best);
        }
        entries.into_iter().map(|(r, w, i, _)| (r, w, i)).collect()
    };
    [pick(a), pick(aaaa), pick(cname)]
}

/// The owner's answer sets (MultiValue: `max_return` records an answer).
fn answers(sets: [Vec<Entry>; 3], routing: RoutingMethod) -> Answers {
    let max_return = match routing {
        RoutingMethod::MultiValue { max_return } => max_return,
        RoutingMethod::Weighted | RoutingMethod::Priority => 1,
    };
    let [a, aaaa, cname] = sets;
    let pick = |entries: Vec<Entry>, max_return| {
        (!entries.is_empty()).then(|| Box::new(Pick::new(entries, max_return)))
    };
    Answers {
        a: pick(a, max_return),
        aaaa: pick(aaaa, max_return),
        cname: pick(cname, 1),
    }
}

/// The node of profile `p`, its endpoints at `positions` of the zone: at its
/// owner name, the answer sets, and what answers the names below it (see
/// [`crate::names`]): `_health.<owner>` (the health view), one
/// `<cluster>._cluster.<owner>` per member cluster, and the empty non-terminal
/// `_cluster.<owner>` above those. Cluster labels are numbered in `nodes`.
pub(crate) fn profile_names(
    p: &Arc<Profile>,
    health: &Health,
    positions: &[u32],
    nodes: &mut Nodes,
) -> (Box<[u8]>, Node) {
    let indexed: Vec<(u32, &Endpoint)> = positions.iter().copied().zip(&p.endpoints).collect();
    let name = fqdn(&p.owner);
    let owner = wire::key(&name);
    let served = served(&indexed, health, p.fail_closed);
    let answers = answers(answer_sets(&name, p.ttl, &served, p.routing), p.routing);
    // Health view: _health.<owner> TXT, and <cluster>._cluster.<owner>.
    // Validation keeps owners short enough for this name; should one not fit,
    // the profile simply has no health view.
    let health_view = Name::from_ascii(format!("{HEALTH_LABEL}.{}.", p.owner)).is_ok();
    let mut by_cluster: BTreeMap<&str, Vec<(u32, &Endpoint)>> = BTreeMap::new();
    for &(i, e) in &indexed {
        let list = by_cluster.entry(&*e.cluster).or_default();
        if health.state_of(e).is_available() {
            list.push((i, e));
        }
    }
    let mut labels = Vec::new();
    let mut groups = Vec::new();
    for (cluster, endpoints) in by_cluster {
        let Ok(cname) = Name::from_ascii(format!("{cluster}.{CLUSTER_LABEL}.{}.", p.owner)) else {
            continue;
        };
        // Per-cluster names answer like a Weighted profile, whatever the method.
        let sets = answer_sets(&cname, p.ttl, &endpoints, RoutingMethod::Weighted);
        let key = wire::key(&cname);
        labels.push(nodes.label_id(&key[..key.len() - cluster_key(&[], &owner).len()]));
        groups.extend(sets);
    }
    let (cluster_records, ranges) = Pick::grouped(groups);
    let mut clusters: Vec<Cluster> = labels
        .into_iter()
        .zip(ranges.chunks(3))
        .map(|(label, r)| Cluster {
            label,
            a: r[0],
            aaaa: r[1],
            cname: r[2],
        })
        .collect();
    // Sorted by label for lookups; two clusters whose names differ only in
    // letter case share a name, and the later one answers it.
    clusters.sort_by(|a, b| nodes.label(a.label).cmp(nodes.label(b.label)));
    clusters.reverse();
    clusters.dedup_by(|later, earlier| later.label == earlier.label);
    clusters.reverse();
    let node = Node {
        profile: Some(ProfileNode {
            profile: p.clone(),
            answers,
            positions: Positions::new(positions),
            clusters: clusters.into(),
            cluster_records,
            health: health_view,
            health_signed: None,
        }),
        ..Node::default()
    };
    (owner, node)
}
