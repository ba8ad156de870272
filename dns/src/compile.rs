//! `compile(&Fleet, &Health) -> Zone`: pure, and it cannot fail on a validated `Fleet`.
//!
//! It folds health in (Degraded endpoints leave the answer sets; when all are
//! Degraded the profile fails open, or serves nothing if it opted into
//! fail-closed), applies the routing method's compile-time part (MultiValue:
//! addresses only; Priority: the best priority available), precomputes one
//! weighted alias table (`crate::sampler`) per (name, answer type), and encodes every record the fast path may send. No metrics,
//! no I/O: [`crate::Snapshot::compile`] attaches the answer counters.

use std::net::IpAddr;
use std::sync::Arc;

use fleetdns_config::{Endpoint, Fleet, Health};
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record};

use crate::nodes::Nodes;
use crate::profile::profile_names;
use crate::wire;
use crate::zone::{Glue, Node, Rrset, Zone};

pub(crate) fn fqdn(name: &str) -> Name {
    let mut n = Name::from_ascii(name).expect("validated names parse");
    n.set_fqdn(true);
    n
}

pub(crate) fn address_record(name: &Name, ttl: u32, ip: IpAddr) -> Record {
    match ip {
        IpAddr::V4(a) => Record::from_rdata(name.clone(), ttl, RData::A(A(a))),
        IpAddr::V6(a) => Record::from_rdata(name.clone(), ttl, RData::AAAA(AAAA(a))),
    }
}

/// The zone-wide RRsets, from the fleet's zone settings: what a patch builds
/// again (the serial may have changed) while every name stays shared.
pub(crate) struct ApexSets {
    pub(crate) apex: LowerName,
    pub(crate) apex_key: Box<[u8]>,
    pub(crate) soa: Rrset,
    pub(crate) soa_negative: Rrset,
    pub(crate) ns: Rrset,
    pub(crate) glue: Rrset,
}

/// In-zone name servers and their address records.
fn glue_names(fleet: &Fleet, apex: &LowerName) -> Vec<(Name, Vec<Record>)> {
    let z = &fleet.zone;
    z.name_servers
        .iter()
        .map(|n| (fqdn(&n.name), n))
        .filter(|(name, _)| apex.zone_of(&LowerName::new(name)))
        .map(|(name, n)| {
            let records = n
                .addresses
                .iter()
                .map(|&ip| address_record(&name, z.soa.ttl, ip))
                .collect();
            (name, records)
        })
        .collect()
}

pub(crate) fn apex_sets(fleet: &Fleet) -> ApexSets {
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
    let glue: Vec<Record> = glue_names(fleet, &apex)
        .into_iter()
        .flat_map(|(_, r)| r)
        .collect();
    ApexSets {
        apex_key: wire::key(&apex),
        soa: Rrset::compressed(vec![soa], true, &apex),
        soa_negative: Rrset::compressed(vec![soa_negative], false, &apex),
        ns: Rrset::compressed(ns, true, &apex),
        glue: Rrset::compressed(glue, false, &apex),
        apex,
    }
}

/// Compiles the fleet and the observed health into a zone.
pub fn compile(fleet: &Fleet, health: &Health) -> Zone {
    let sets = apex_sets(fleet);
    let apex_key = sets.apex_key.clone();
    let mut nodes = Nodes::new(
        apex_key.len(),
        2 + fleet.zone.name_servers.len() + fleet.profiles.len(),
    );
    nodes.entry(apex_key.clone()).apex = true;

    let mut statics = Vec::new();
    for (name, records) in glue_names(fleet, &sets.apex) {
        let (a, aaaa) = records
            .into_iter()
            .partition(|r| matches!(r.data, RData::A(_)));
        let key = wire::key(&name);
        let node = nodes.entry(key.clone());
        node.glue = Some(Box::new(Glue {
            a: Rrset::new(a, true),
            aaaa: Rrset::new(aaaa, true),
        }));
        statics.push(key);
    }

    let mut next = 0u32;
    for p in fleet.profiles.iter() {
        let n = p.endpoints.len() as u32;
        let positions: Vec<u32> = (next..next + n).collect();
        next += n;
        let (key, node) = profile_names(p, health, &positions, &mut nodes);
        merge(&mut nodes, key, node);
    }

    // Empty non-terminals: every ancestor of a name, below the apex, exists (NODATA,
    // not NXDOMAIN). A profile brings its own (`_cluster.<owner>`); name servers'
    // names may need others. Ancestors only of private names are private themselves.
    for name in statics {
        let mut n: &[u8] = &name;
        while let Some(parent) = wire::parent(n) {
            if parent.len() <= apex_key.len() || !parent.ends_with(&apex_key) {
                break;
            }
            nodes.entry(parent.into()).private = false;
            n = parent;
        }
    }
    nodes.shrink_to_fit();

    Zone {
        apex_key,
        soa: sets.soa,
        soa_negative: sets.soa_negative,
        ns: sets.ns,
        glue: sets.glue,
        apex: sets.apex,
        nodes,
        live_endpoints: next as usize,
        positions: next,
        trusted: fleet.trusted_networks.clone().into_boxed_slice(),
        rrl: crate::rrl::Settings::from_fleet(&fleet.rrl),
        tcp: fleet.tcp.clone(),
        dnssec: None,
    }
}

/// Puts `from` at `key`, merged with what is there already (a name server
/// below a profile's owner shares its names).
fn merge(nodes: &mut Nodes, key: Box<[u8]>, from: Node) {
    use std::collections::hash_map::Entry;
    match nodes.shard_mut(&key).entry(key) {
        Entry::Vacant(v) => {
            v.insert(Arc::new(from));
        }
        Entry::Occupied(o) => {
            let node = Arc::get_mut(o.into_mut()).expect("merged while the zone is built");
            if from.profile.is_some() {
                node.private = from.private;
                node.profile = from.profile;
            } else {
                node.private &= from.private;
            }
        }
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
pub(crate) fn served<'f>(
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
