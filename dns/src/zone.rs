//! The compiled zone: every owner name's answers, ready for queries.
//!
//! `compile(&Fleet, &Health)` is pure and cannot fail on a validated `Fleet`. It
//! folds health in (Degraded endpoints leave the answer sets; when all are
//! Degraded the profile fails open, or serves nothing if it opted into fail-closed)
//! and precomputes one weighted [`Sampler`] per (name, answer type). The result is
//! immutable; a new one is swapped in atomically whenever the fleet or the health
//! changes.

use std::collections::HashMap;
use std::net::IpAddr;

use fleetdns_config::{Endpoint, Fleet, Health, Target};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record};

use crate::sampler::Sampler;

/// A query-ready zone.
#[derive(Debug)]
pub struct Zone {
    pub(crate) apex: LowerName,
    /// SOA with its own TTL, for SOA answers.
    pub(crate) soa: Record,
    /// SOA with the negative TTL `min(ttl, minimum)`, for the authority section of
    /// NXDOMAIN and NODATA answers (RFC 2308 §3).
    pub(crate) soa_negative: Record,
    pub(crate) ns: Box<[Record]>,
    /// A/AAAA records of in-zone name servers, for the additional section.
    pub(crate) glue: Box<[Record]>,
    pub(crate) nodes: HashMap<LowerName, Node>,
}

/// Everything that exists at one owner name.
#[derive(Debug, Default)]
pub(crate) struct Node {
    /// The apex carries SOA and NS.
    pub(crate) apex: bool,
    /// Static address records (name servers' glue).
    pub(crate) a: Box<[Record]>,
    pub(crate) aaaa: Box<[Record]>,
    /// Weighted endpoint answers of a profile.
    pub(crate) profile: Option<ProfileNode>,
}

/// A profile's answer sets, one per query type.
#[derive(Debug)]
pub(crate) struct ProfileNode {
    /// For A queries: A records of IPv4 endpoints and CNAMEs of host endpoints.
    pub(crate) a: Pick,
    /// For AAAA queries: AAAA records of IPv6 endpoints and CNAMEs.
    pub(crate) aaaa: Pick,
    /// For CNAME queries: CNAMEs of host endpoints only.
    pub(crate) cname: Pick,
}

/// Records and the weighted sampler that chooses among them.
#[derive(Debug)]
pub(crate) struct Pick {
    pub(crate) records: Box<[Record]>,
    pub(crate) sampler: Option<Sampler>,
}

impl Pick {
    fn new(entries: Vec<(Record, u32)>) -> Self {
        let weights: Vec<u32> = entries.iter().map(|(_, w)| *w).collect();
        Self {
            sampler: Sampler::new(&weights),
            records: entries.into_iter().map(|(r, _)| r).collect(),
        }
    }

    /// One record drawn by weight, or nothing when the set is empty.
    pub(crate) fn pick(&self) -> &[Record] {
        match &self.sampler {
            Some(s) => std::slice::from_ref(&self.records[s.pick()]),
            None => &[],
        }
    }
}

impl Zone {
    /// The zone apex.
    pub fn apex(&self) -> &LowerName {
        &self.apex
    }

    /// Number of owner names in the zone (apex, profiles, hosts, empty non-terminals).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        match &self.soa.data {
            RData::SOA(soa) => soa.serial,
            _ => 0,
        }
    }
}

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
    let ns: Box<[Record]> = z
        .name_servers
        .iter()
        .map(|n| Record::from_rdata(origin.clone(), z.soa.ttl, RData::NS(NS(fqdn(&n.name)))))
        .collect();

    let mut nodes: HashMap<LowerName, Node> = HashMap::new();
    nodes.entry(apex.clone()).or_default().apex = true;

    let mut glue = Vec::new();
    for n in &z.name_servers {
        let name = fqdn(&n.name);
        let lower = LowerName::new(&name);
        if !apex.zone_of(&lower) {
            continue;
        }
        let records: Vec<Record> = n
            .addresses
            .iter()
            .map(|&ip| address_record(&name, z.soa.ttl, ip))
            .collect();
        glue.extend(records.iter().cloned());
        let node = nodes.entry(lower).or_default();
        node.a = records
            .iter()
            .filter(|r| matches!(r.data, RData::A(_)))
            .cloned()
            .collect();
        node.aaaa = records
            .into_iter()
            .filter(|r| matches!(r.data, RData::AAAA(_)))
            .collect();
    }

    for p in &fleet.profiles {
        let name = fqdn(&p.owner);
        let served = served_endpoints(&p.endpoints, health, p.fail_closed);
        let (mut a, mut aaaa, mut cname) = (Vec::new(), Vec::new(), Vec::new());
        for e in served {
            match &e.target {
                Target::Addresses { v4, v6 } => {
                    if let Some(v4) = v4 {
                        a.push((address_record(&name, p.ttl, IpAddr::V4(*v4)), e.weight));
                    }
                    if let Some(v6) = v6 {
                        aaaa.push((address_record(&name, p.ttl, IpAddr::V6(*v6)), e.weight));
                    }
                }
                Target::Host(h) => {
                    let r = Record::from_rdata(name.clone(), p.ttl, RData::CNAME(CNAME(fqdn(h))));
                    a.push((r.clone(), e.weight));
                    aaaa.push((r.clone(), e.weight));
                    cname.push((r, e.weight));
                }
            }
        }
        nodes.entry(LowerName::new(&name)).or_default().profile = Some(ProfileNode {
            a: Pick::new(a),
            aaaa: Pick::new(aaaa),
            cname: Pick::new(cname),
        });
    }

    // Empty non-terminals: every ancestor of a name, below the apex, exists (NODATA, not NXDOMAIN).
    let names: Vec<LowerName> = nodes.keys().cloned().collect();
    for name in names {
        let mut n = name.base_name();
        while n.num_labels() > apex.num_labels() && apex.zone_of(&n) {
            nodes.entry(n.clone()).or_default();
            n = n.base_name();
        }
    }

    Zone {
        apex,
        soa,
        soa_negative,
        ns,
        glue: glue.into_boxed_slice(),
        nodes,
    }
}

/// The endpoints in the answer set, after health: available ones; when none is
/// available, all of them (fail-open, as Traffic Manager) unless fail-closed.
pub fn served_endpoints<'f>(
    endpoints: &'f [Endpoint],
    health: &Health,
    fail_closed: bool,
) -> Vec<&'f Endpoint> {
    let available: Vec<&Endpoint> = endpoints
        .iter()
        .filter(|e| health.state_of(e).is_available())
        .collect();
    if !available.is_empty() || fail_closed {
        available
    } else {
        endpoints.iter().collect()
    }
}
