//! The compiled zone: every owner name's answers, ready for queries.
//!
//! `compile(&Fleet, &Health)` is pure and cannot fail on a validated `Fleet`. It
//! folds health in (Degraded endpoints leave the answer sets; when all are
//! Degraded the profile fails open, or serves nothing if it opted into fail-closed)
//! and precomputes one weighted [`Sampler`] per (name, answer type). The result is
//! immutable; a new one is swapped in atomically whenever the fleet or the health
//! changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use fleetdns_config::{Endpoint, Fleet, Health, Target};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record};
use ipnet::IpNet;
use prometheus::IntCounter;

use crate::metrics::DnsMetrics;
use crate::sampler::Sampler;
use crate::wire::{self, WireSet};

/// Label of the health-view TXT name below each profile: `_health.<profile owner>`.
pub const HEALTH_LABEL: &str = fleetdns_config::limits::HEALTH_LABEL;
/// Label under which per-cluster names live: `<cluster>._cluster.<profile owner>`.
pub const CLUSTER_LABEL: &str = "_cluster";

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
    /// Owner names, keyed by their lower-case wire form (so the fast path can look
    /// up straight from packet bytes).
    pub(crate) nodes: HashMap<Box<[u8]>, Node>,
    /// The apex in lower-case wire form.
    pub(crate) apex_key: Box<[u8]>,
    /// Wire forms for the fast path: SOA and NS answers (owner = question), the
    /// negative SOA and the glue (owners written in full).
    pub(crate) soa_wire: WireSet,
    pub(crate) soa_negative_wire: WireSet,
    pub(crate) ns_wire: WireSet,
    pub(crate) glue_wire: WireSet,
    /// Client networks that may see private (health-view) names.
    pub(crate) trusted: Box<[IpNet]>,
    /// Response rate limiting of UDP answers.
    pub(crate) rrl: crate::rrl::Settings,
    /// Limits on DNS over TCP.
    pub(crate) tcp: fleetdns_config::TcpLimits,
}

/// Everything that exists at one owner name.
#[derive(Debug, Default)]
pub(crate) struct Node {
    /// The apex carries SOA and NS.
    pub(crate) apex: bool,
    /// Health-view name: does not exist for untrusted clients.
    pub(crate) private: bool,
    /// Static address records (name servers' glue).
    pub(crate) a: Box<[Record]>,
    pub(crate) aaaa: Box<[Record]>,
    /// The same, in wire form with the owner pointing at the question.
    pub(crate) a_wire: WireSet,
    pub(crate) aaaa_wire: WireSet,
    /// Weighted endpoint answers of a profile (or of one cluster of it).
    pub(crate) profile: Option<ProfileNode>,
    /// `_health` TXT of a profile, synthesized per query.
    pub(crate) health: Option<Box<HealthView>>,
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

/// Records, the weighted sampler that chooses among them, and per record the
/// counter of answers that returned its endpoint.
#[derive(Debug)]
pub(crate) struct Pick {
    pub(crate) records: Box<[Record]>,
    /// Each record in wire form, owner pointing at the question.
    pub(crate) wire: Box<[Box<[u8]>]>,
    pub(crate) counters: Box<[IntCounter]>,
    pub(crate) sampler: Option<Sampler>,
}

impl Pick {
    fn new(entries: Vec<(Record, u32, IntCounter)>) -> Self {
        let weights: Vec<u32> = entries.iter().map(|(_, w, _)| *w).collect();
        let (records, counters): (Vec<Record>, Vec<IntCounter>) =
            entries.into_iter().map(|(r, _, c)| (r, c)).unzip();
        let wire = records
            .iter()
            .map(|r| wire::record(r, true).expect("endpoint records are A, AAAA or CNAME"))
            .collect();
        Self {
            sampler: Sampler::new(&weights),
            records: records.into_boxed_slice(),
            wire,
            counters: counters.into_boxed_slice(),
        }
    }

    /// The index of one record drawn by weight, or `None` when the set is empty.
    pub(crate) fn pick_index(&self) -> Option<usize> {
        self.sampler.as_ref().map(Sampler::pick)
    }

    /// One record drawn by weight with its endpoint's answer counter, or nothing
    /// when the set is empty.
    pub(crate) fn pick(&self) -> Option<(&[Record], &IntCounter)> {
        let i = self.pick_index()?;
        Some((std::slice::from_ref(&self.records[i]), &self.counters[i]))
    }
}

/// What the `_health` TXT of one profile shows.
#[derive(Debug)]
pub struct HealthView {
    /// `<namespace>/<name>`.
    pub profile: String,
    pub fail_closed: bool,
    pub endpoints: Vec<EndpointView>,
}

/// One endpoint as the health view shows it.
#[derive(Debug)]
pub struct EndpointView {
    pub id: String,
    pub cluster: String,
    pub target: String,
    pub weight: u32,
    pub always_serve: bool,
    /// In the answer set of the zone this view was compiled with.
    pub served: bool,
}

impl Zone {
    /// The zone apex.
    pub fn apex(&self) -> &LowerName {
        &self.apex
    }

    /// The node at `name`, looked up by its lower-case wire form.
    pub(crate) fn node(&self, name: &Name) -> Option<&Node> {
        let mut buf = [0u8; 256];
        let mut len = 0;
        for label in name.iter() {
            let end = len + 1 + label.len();
            if end >= buf.len() {
                return None;
            }
            buf[len] = label.len() as u8;
            for (dst, src) in buf[len + 1..end].iter_mut().zip(label) {
                *dst = src.to_ascii_lowercase();
            }
            len = end;
        }
        buf[len] = 0;
        self.nodes.get(&buf[..=len])
    }

    /// Response rate limiting settings.
    pub fn rrl(&self) -> &crate::rrl::Settings {
        &self.rrl
    }

    /// Limits on DNS over TCP.
    pub fn tcp_limits(&self) -> &fleetdns_config::TcpLimits {
        &self.tcp
    }

    /// Whether `client` may see the health view.
    pub fn is_trusted(&self, client: IpAddr) -> bool {
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
            v4 => v4,
        };
        self.trusted.iter().any(|n| n.contains(&client))
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

/// Builds the answer sets of `name` from `endpoints`.
fn profile_node(
    name: &Name,
    ttl: u32,
    endpoints: &[&Endpoint],
    counter: &dyn Fn(&Endpoint) -> IntCounter,
) -> ProfileNode {
    let (mut a, mut aaaa, mut cname) = (Vec::new(), Vec::new(), Vec::new());
    for e in endpoints {
        let c = counter(e);
        match &e.target {
            Target::Addresses { v4, v6 } => {
                if let Some(v4) = v4 {
                    a.push((
                        address_record(name, ttl, IpAddr::V4(*v4)),
                        e.weight,
                        c.clone(),
                    ));
                }
                if let Some(v6) = v6 {
                    aaaa.push((address_record(name, ttl, IpAddr::V6(*v6)), e.weight, c));
                }
            }
            Target::Host(h) => {
                let r = Record::from_rdata(name.clone(), ttl, RData::CNAME(CNAME(fqdn(h))));
                a.push((r.clone(), e.weight, c.clone()));
                aaaa.push((r.clone(), e.weight, c.clone()));
                cname.push((r, e.weight, c));
            }
        }
    }
    ProfileNode {
        a: Pick::new(a),
        aaaa: Pick::new(aaaa),
        cname: Pick::new(cname),
    }
}

/// Compiles the fleet and the observed health into a zone.
pub fn compile(fleet: &Fleet, health: &Health, metrics: &DnsMetrics) -> Zone {
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

    let mut live = BTreeSet::new();
    for p in &fleet.profiles {
        let label = format!("{}/{}", p.namespace, p.name);
        live.extend(p.endpoints.iter().map(|e| (label.clone(), e.id.clone())));
        let counter = |e: &Endpoint| metrics.answer_counter(&label, &e.id);
        let name = fqdn(&p.owner);
        let served = served_endpoints(&p.endpoints, health, p.fail_closed);
        let node = profile_node(&name, p.ttl, &served, &counter);
        nodes.entry(LowerName::new(&name)).or_default().profile = Some(node);

        // Health view: _health.<owner> TXT, and <cluster>._cluster.<owner>.
        let view = HealthView {
            profile: label.clone(),
            fail_closed: p.fail_closed,
            endpoints: p
                .endpoints
                .iter()
                .map(|e| EndpointView {
                    id: e.id.clone(),
                    cluster: e.cluster.clone(),
                    target: e.target.to_string(),
                    weight: e.weight,
                    always_serve: e.always_serve,
                    served: served.iter().any(|s| s.id == e.id),
                })
                .collect(),
        };
        // Validation keeps owners short enough for this name; should one not fit,
        // the profile simply has no health view.
        if let Ok(health_name) = Name::from_ascii(format!("{HEALTH_LABEL}.{}.", p.owner)) {
            let node = nodes.entry(LowerName::new(&health_name)).or_default();
            node.private = true;
            node.health = Some(Box::new(view));
        }
        let mut by_cluster: BTreeMap<&str, Vec<&Endpoint>> = BTreeMap::new();
        for e in &p.endpoints {
            let list = by_cluster.entry(e.cluster.as_str()).or_default();
            if health.state_of(e).is_available() {
                list.push(e);
            }
        }
        for (cluster, endpoints) in by_cluster {
            let Ok(cname) = Name::from_ascii(format!("{cluster}.{CLUSTER_LABEL}.{}.", p.owner))
            else {
                continue;
            };
            let node = nodes.entry(LowerName::new(&cname)).or_default();
            node.private = true;
            node.profile = Some(profile_node(&cname, p.ttl, &endpoints, &counter));
        }
    }
    metrics.retain_answers(live);

    // Empty non-terminals: every ancestor of a name, below the apex, exists (NODATA,
    // not NXDOMAIN). Ancestors only of private names are private themselves.
    let names: Vec<(LowerName, bool)> = nodes.iter().map(|(k, v)| (k.clone(), v.private)).collect();
    for (name, private) in names {
        let mut n = name.base_name();
        while n.num_labels() > apex.num_labels() && apex.zone_of(&n) {
            let node = nodes.entry(n.clone()).or_insert_with(|| Node {
                private,
                ..Node::default()
            });
            node.private &= private;
            n = n.base_name();
        }
    }

    let nodes = nodes
        .into_iter()
        .map(|(name, mut node)| {
            node.a_wire = WireSet::new(&node.a, true);
            node.aaaa_wire = WireSet::new(&node.aaaa, true);
            (wire::key(&name), node)
        })
        .collect();
    Zone {
        apex_key: wire::key(&apex),
        soa_wire: WireSet::with_compression(std::slice::from_ref(&soa), true, &apex),
        soa_negative_wire: WireSet::with_compression(
            std::slice::from_ref(&soa_negative),
            false,
            &apex,
        ),
        ns_wire: WireSet::with_compression(&ns, true, &apex),
        glue_wire: WireSet::with_compression(&glue, false, &apex),
        apex,
        soa,
        soa_negative,
        ns,
        glue: glue.into_boxed_slice(),
        nodes,
        trusted: fleet.trusted_networks.clone().into_boxed_slice(),
        rrl: crate::rrl::Settings::from_fleet(&fleet.rrl),
        tcp: fleet.tcp.clone(),
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
