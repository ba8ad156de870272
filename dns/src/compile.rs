//! `compile(&Fleet, &Health) -> Zone`: pure, and it cannot fail on a validated `Fleet`.
//!
//! It folds health in (Degraded endpoints leave the answer sets; when all are
//! Degraded the profile fails open, or serves nothing if it opted into
//! fail-closed), applies the routing method's compile-time part (MultiValue:
//! addresses only; Priority: the best priority available), precomputes one
//! weighted [`crate::sampler::Sampler`] per (name, answer type), and encodes every record the fast path may send. No metrics,
//! no I/O: [`crate::Snapshot::compile`] attaches the answer counters.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use fleetdns_config::{Endpoint, Fleet, Health, RoutingMethod, Target};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record};

use crate::wire;
use crate::zone::{
    EndpointKey, EndpointView, HealthView, Node, Pick, ProfileNode, Rrset, Zone, CLUSTER_LABEL,
    HEALTH_LABEL,
};

fn fqdn(name: &str) -> Name {
    let mut n = Name::from_ascii(name).expect("validated names parse");
    n.set_fqdn(true);
    n
}

fn address_record(name: &Name, ttl: u32, ip: IpAddr) -> Record {
    match ip {
        IpAddr::V4(a) => Record::from_rdata(name.clone(), ttl, RData::A(A(a))),
        IpAddr::V6(a) => Record::from_rdata(name.clone(), ttl, RData::AAAA(AAAA(a))),
    }
}

/// Builds the answer sets of `name` from `(endpoint index, endpoint)` pairs
/// (the served ones) under `routing`, and marks the endpoints they hold
/// answerable. MultiValue answers addresses only (as Traffic Manager: a CNAME
/// cannot be mixed with addresses), so it leaves host-name endpoints out;
/// Priority keeps, per answer type, the endpoints of the best priority that
/// has one.
fn profile_node(
    name: &Name,
    ttl: u32,
    endpoints: &[(u32, &Endpoint)],
    routing: RoutingMethod,
    keys: &mut [EndpointKey],
) -> ProfileNode {
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
    let max_return = match routing {
        RoutingMethod::MultiValue { max_return } => max_return,
        RoutingMethod::Weighted | RoutingMethod::Priority => 1,
    };
    let mut pick = |mut entries: Entries, max_return: u8| {
        if routing == RoutingMethod::Priority {
            let best = entries.iter().map(|e| e.3).min();
            entries.retain(|e| Some(e.3) == best);
        }
        for e in &entries {
            keys[e.2 as usize].answerable = true;
        }
        Pick::new(
            entries.into_iter().map(|(r, w, i, _)| (r, w, i)).collect(),
            max_return,
        )
    };
    ProfileNode {
        a: pick(a, max_return),
        aaaa: pick(aaaa, max_return),
        cname: pick(cname, 1),
    }
}

/// Compiles the fleet and the observed health into a zone.
pub fn compile(fleet: &Fleet, health: &Health) -> Zone {
    let z = &fleet.zone;
    let origin = fqdn(&z.apex);
    let apex = LowerName::new(&origin);
    let soa_rdata = SOA::new(
        fqdn(&z.soa.mname),
        fqdn(&z.soa.rname),
        z.soa.serial,
        z.soa.refresh as i32,
        z.soa.retry as i32,
        z.soa.expire as i32,
        z.soa.minimum,
    );
    let soa = Record::from_rdata(origin.clone(), z.soa.ttl, RData::SOA(soa_rdata.clone()));
    let soa_negative =
        Record::from_rdata(origin.clone(), z.soa.negative_ttl(), RData::SOA(soa_rdata));
    let ns: Vec<Record> = z
        .name_servers
        .iter()
        .map(|n| Record::from_rdata(origin.clone(), z.soa.ttl, RData::NS(NS(fqdn(&n.name)))))
        .collect();

    // Keyed by lower-case wire form from the start: one map, no second copy of
    // every name (at 100k profiles the copy doubled the peak while compiling).
    let apex_key = wire::key(&apex);
    let mut nodes: HashMap<Box<[u8]>, Node> =
        HashMap::with_capacity(2 + z.name_servers.len() + fleet.profiles.len() * 6);
    nodes.entry(apex_key.clone()).or_default().apex = true;

    let mut glue = Vec::new();
    for n in &z.name_servers {
        let name = fqdn(&n.name);
        if !apex.zone_of(&LowerName::new(&name)) {
            continue;
        }
        let records: Vec<Record> = n
            .addresses
            .iter()
            .map(|&ip| address_record(&name, z.soa.ttl, ip))
            .collect();
        glue.extend(records.iter().cloned());
        let (a, aaaa) = records
            .into_iter()
            .partition(|r| matches!(r.data, RData::A(_)));
        let node = nodes.entry(wire::key(&name)).or_default();
        node.a = Rrset::new(a, true);
        node.aaaa = Rrset::new(aaaa, true);
    }

    let mut keys: Vec<EndpointKey> =
        Vec::with_capacity(fleet.profiles.iter().map(|p| p.endpoints.len()).sum());
    for p in &fleet.profiles {
        let label: std::sync::Arc<str> = format!("{}/{}", p.namespace, p.name).into();
        let base = keys.len() as u32;
        keys.extend(p.endpoints.iter().map(|e| EndpointKey {
            profile: label.clone(),
            id: e.id.as_str().into(),
            answerable: false,
        }));
        let indexed: Vec<(u32, &Endpoint)> = (base..).zip(&p.endpoints).collect();
        let name = fqdn(&p.owner);
        let served = served(&indexed, health, p.fail_closed);
        let node = profile_node(&name, p.ttl, &served, p.routing, &mut keys);
        // Served = in an answer set (Priority: the active priority only).
        let answered = |i: u32| {
            [&node.a, &node.aaaa, &node.cname]
                .iter()
                .any(|pick| pick.endpoints.contains(&i))
        };
        let served: Vec<u32> = indexed
            .iter()
            .map(|&(i, _)| i)
            .filter(|&i| answered(i))
            .collect();
        nodes.entry(wire::key(&name)).or_default().profile = Some(Box::new(node));

        // Health view: _health.<owner> TXT, and <cluster>._cluster.<owner>.
        let view = HealthView {
            profile: label.to_string(),
            fail_closed: p.fail_closed,
            routing: p.routing,
            endpoints: indexed
                .iter()
                .map(|&(i, e)| EndpointView {
                    id: e.id.clone(),
                    cluster: e.cluster.clone(),
                    target: e.target.to_string(),
                    weight: e.weight,
                    always_serve: e.always_serve,
                    served: served.contains(&i),
                    priority: e.priority,
                })
                .collect(),
            signed: None,
        };
        // Validation keeps owners short enough for this name; should one not fit,
        // the profile simply has no health view.
        if let Ok(health_name) = Name::from_ascii(format!("{HEALTH_LABEL}.{}.", p.owner)) {
            let node = nodes.entry(wire::key(&health_name)).or_default();
            node.private = true;
            node.health = Some(Box::new(view));
        }
        let mut by_cluster: BTreeMap<&str, Vec<(u32, &Endpoint)>> = BTreeMap::new();
        for &(i, e) in &indexed {
            let list = by_cluster.entry(e.cluster.as_str()).or_default();
            if health.state_of(e).is_available() {
                list.push((i, e));
            }
        }
        for (cluster, endpoints) in by_cluster {
            let Ok(cname) = Name::from_ascii(format!("{cluster}.{CLUSTER_LABEL}.{}.", p.owner))
            else {
                continue;
            };
            let node = nodes.entry(wire::key(&cname)).or_default();
            node.private = true;
            // Per-cluster names answer like a Weighted profile, whatever the method.
            node.profile = Some(Box::new(profile_node(
                &cname,
                p.ttl,
                &endpoints,
                RoutingMethod::Weighted,
                &mut keys,
            )));
        }
    }

    // Empty non-terminals: every ancestor of a name, below the apex, exists (NODATA,
    // not NXDOMAIN). Ancestors only of private names are private themselves.
    let names: Vec<(Box<[u8]>, bool)> = nodes.iter().map(|(k, v)| (k.clone(), v.private)).collect();
    for (name, private) in names {
        let mut n: &[u8] = &name;
        while let Some(parent) = wire::parent(n) {
            if parent.len() <= apex_key.len() || !parent.ends_with(&apex_key) {
                break;
            }
            let node = nodes.entry(parent.into()).or_insert_with(|| Node {
                private,
                ..Node::default()
            });
            node.private &= private;
            n = parent;
        }
    }
    nodes.shrink_to_fit();

    Zone {
        apex_key,
        soa: Rrset::compressed(vec![soa], true, &apex),
        soa_negative: Rrset::compressed(vec![soa_negative], false, &apex),
        ns: Rrset::compressed(ns, true, &apex),
        glue: Rrset::compressed(glue, false, &apex),
        apex,
        nodes,
        endpoints: keys.into(),
        trusted: fleet.trusted_networks.clone().into_boxed_slice(),
        rrl: crate::rrl::Settings::from_fleet(&fleet.rrl),
        tcp: fleet.tcp.clone(),
        dnssec: None,
    }
}

/// The endpoints in the answer set, after health: available ones; when none is
/// available, all of them (fail-open, as Traffic Manager) unless fail-closed.
pub fn served_endpoints<'f>(
    endpoints: &'f [Endpoint],
    health: &Health,
    fail_closed: bool,
) -> Vec<&'f Endpoint> {
    let indexed: Vec<(u32, &Endpoint)> = (0..).zip(endpoints).collect();
    served(&indexed, health, fail_closed)
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

/// [`served_endpoints`] over `(index, endpoint)` pairs.
fn served<'f>(
    endpoints: &[(u32, &'f Endpoint)],
    health: &Health,
    fail_closed: bool,
) -> Vec<(u32, &'f Endpoint)> {
    let available: Vec<(u32, &Endpoint)> = endpoints
        .iter()
        .copied()
        .filter(|(_, e)| health.state_of(e).is_available())
        .collect();
    if !available.is_empty() || fail_closed {
        available
    } else {
        endpoints.to_vec()
    }
}
