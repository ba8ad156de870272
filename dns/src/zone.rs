//! The compiled zone: every owner name's answers, ready for queries.
//!
//! A [`Zone`] is what [`crate::compile()`] makes of a `Fleet` and a `Health`: plain
//! data, immutable, holding each answer set twice (hickory `Record`s for the
//! general path, precompiled wire bytes for the fast path) so neither path builds
//! records per query. It knows nothing of metrics or of the health snapshot the
//! health view shows: [`crate::Snapshot`] pairs it with those.

use std::net::IpAddr;

use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};
use ipnet::IpNet;

use crate::chunked::Chunked;
use crate::nodes::Nodes;
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
    /// The apex in lower-case wire form.
    pub(crate) apex_key: Box<[u8]>,
    /// SOA with its own TTL, for SOA answers (owner = the question).
    pub(crate) soa: Rrset,
    /// SOA with the negative TTL `min(ttl, minimum)`, for the authority section of
    /// NXDOMAIN and NODATA answers (RFC 2308 §3); owner written in full.
    pub(crate) soa_negative: Rrset,
    /// NS at the apex (owner = the question).
    pub(crate) ns: Rrset,
    /// A/AAAA records of in-zone name servers, for the additional section.
    pub(crate) glue: Rrset,
    /// Owner names, keyed by their lower-case wire form (so the fast path can look
    /// up straight from packet bytes), sharded by profile.
    pub(crate) nodes: Nodes,
    /// Every endpoint of the fleet by position; [`Pick::endpoints`] index it. A
    /// full compile numbers them in fleet order; a patch keeps the positions of
    /// endpoints that stay, appends new ones and leaves `None` where one left.
    pub(crate) endpoints: Chunked<Option<EndpointKey>>,
    /// How many positions of `endpoints` hold an endpoint.
    pub(crate) live_endpoints: usize,
    /// Client networks that may see private (health-view) names.
    pub(crate) trusted: Box<[IpNet]>,
    /// Response rate limiting of UDP answers.
    pub(crate) rrl: crate::rrl::Settings,
    /// Limits on DNS over TCP.
    pub(crate) tcp: fleetdns_config::TcpLimits,
    /// DNSSEC: the apex keys and the NSEC chains, when the zone is signed.
    pub(crate) dnssec: Option<Box<crate::dnssec::Signed>>,
}

/// One RRset in both forms: records for hickory's encoder, and wire bytes for
/// the fast path. Opaque outside the crate.
#[derive(Debug, Default)]
pub struct Rrset {
    pub(crate) records: Box<[Record]>,
    pub(crate) wire: WireSet,
    /// Its RRSIGs (same owner form), when the zone is signed.
    pub(crate) sig: Option<Box<Rrset>>,
}

impl Rrset {
    /// `records` with their plain wire form; `at_question` writes owners as a
    /// pointer to the question.
    pub(crate) fn new(records: Vec<Record>, at_question: bool) -> Self {
        Self {
            wire: WireSet::new(&records, at_question),
            records: records.into_boxed_slice(),
            sig: None,
        }
    }

    /// As [`Rrset::new`], with the compressed wire form too (names at or below
    /// `apex` point to the apex in the question).
    pub(crate) fn compressed(records: Vec<Record>, at_question: bool, apex: &Name) -> Self {
        Self {
            wire: WireSet::with_compression(&records, at_question, apex),
            records: records.into_boxed_slice(),
            sig: None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// Everything that exists at one owner name.
#[derive(Debug, Default)]
pub(crate) struct Node {
    /// The apex carries SOA and NS.
    pub(crate) apex: bool,
    /// Health-view name: does not exist for untrusted clients.
    pub(crate) private: bool,
    /// Static address records (name servers' glue); boxed, as only name
    /// servers' names have them.
    pub(crate) glue: Option<Box<Glue>>,
    /// Weighted endpoint answers of a profile (or of one cluster of it); boxed, as
    /// most names (health views, empty non-terminals) have none.
    pub(crate) profile: Option<Box<ProfileNode>>,
    /// `_health` TXT of a profile, rendered per query.
    pub(crate) health: Option<Box<HealthView>>,
}

/// A name server's address records at its name, owner = the question.
#[derive(Debug, Default)]
pub(crate) struct Glue {
    pub(crate) a: Rrset,
    pub(crate) aaaa: Rrset,
}

impl Node {
    /// Its static A records, if it has any.
    pub(crate) fn a(&self) -> Option<&Rrset> {
        self.glue.as_ref().map(|g| &g.a).filter(|r| !r.is_empty())
    }

    /// Its static AAAA records, if it has any.
    pub(crate) fn aaaa(&self) -> Option<&Rrset> {
        self.glue
            .as_ref()
            .map(|g| &g.aaaa)
            .filter(|r| !r.is_empty())
    }
}

/// A profile's answer sets, one per query type; each is boxed and absent when
/// empty (most per-cluster names answer one type only).
#[derive(Debug)]
pub(crate) struct ProfileNode {
    /// For A queries: A records of IPv4 endpoints and CNAMEs of host endpoints.
    pub(crate) a: Option<Box<Pick>>,
    /// For AAAA queries: AAAA records of IPv6 endpoints and CNAMEs.
    pub(crate) aaaa: Option<Box<Pick>>,
    /// For CNAME queries: CNAMEs of host endpoints only.
    pub(crate) cname: Option<Box<Pick>>,
    /// At a profile's owner name: the position in [`Zone::endpoints`] of each of
    /// its endpoints, in the profile's order (a patch reuses them). Empty at
    /// per-cluster names.
    pub(crate) positions: Box<[u32]>,
}

impl ProfileNode {
    /// The answer sets that hold records.
    pub(crate) fn picks(&self) -> impl Iterator<Item = &Pick> {
        [&self.a, &self.aaaa, &self.cname]
            .into_iter()
            .filter_map(|p| p.as_deref())
    }

    /// The answer sets that hold records, for signing.
    pub(crate) fn picks_mut(&mut self) -> impl Iterator<Item = &mut Pick> {
        [&mut self.a, &mut self.aaaa, &mut self.cname]
            .into_iter()
            .filter_map(|p| p.as_deref_mut())
    }
}

/// Records, the weighted sampler that chooses among them, and per record the
/// endpoint it came from. Opaque outside the crate. For a Priority profile it
/// holds only the endpoints of the best priority available (chosen at compile
/// time, so a query never looks at priorities).
#[derive(Debug)]
pub struct Pick {
    /// Each record in wire form, owner pointing at the question: the only
    /// form kept (the general path and signing decode one when they need it,
    /// see [`Pick::record`]).
    pub(crate) wire: Box<[Box<[u8]>]>,
    /// Per record, its endpoint's index in [`Zone::endpoints`].
    pub(crate) endpoints: Box<[u32]>,
    pub(crate) sampler: Option<Sampler>,
    /// Per record, its weight, and their sum (for MultiValue draws).
    pub(crate) weights: Box<[u32]>,
    pub(crate) total: u64,
    /// Records per answer: 1 (one drawn by weight) or a MultiValue profile's
    /// `maxReturn` (that many distinct ones, see [`crate::multivalue`]).
    pub(crate) max_return: u8,
    /// Per record, its RRSIGs (owner = the question), when the zone is signed;
    /// empty otherwise.
    pub(crate) sigs: Box<[Rrset]>,
    /// MultiValue on a signed zone: the signed subsets DO=1 queries get.
    pub(crate) subsets: Option<Box<crate::multivalue::Subsets>>,
}

impl Pick {
    /// `(record, weight, endpoint index)` entries, answered `max_return` at a time.
    pub(crate) fn new(entries: Vec<(Record, u32, u32)>, max_return: u8) -> Self {
        let weights: Vec<u32> = entries.iter().map(|(_, w, _)| *w).collect();
        let endpoints = entries.iter().map(|(_, _, e)| *e).collect();
        let wire = entries
            .iter()
            .map(|(r, _, _)| wire::record(r, true).expect("endpoint records are A, AAAA or CNAME"))
            .collect();
        Self {
            sampler: Sampler::new(&weights),
            total: weights.iter().map(|&w| u64::from(w)).sum(),
            weights: weights.into_boxed_slice(),
            max_return: max_return.max(1),
            wire,
            endpoints,
            sigs: Box::default(),
            subsets: None,
        }
    }

    /// How many records it holds.
    pub(crate) fn len(&self) -> usize {
        self.wire.len()
    }

    /// Record `index` with owner `owner`, decoded from its wire form (the
    /// rdata of endpoint records holds no compression pointers).
    pub(crate) fn record(&self, index: usize, owner: &Name) -> Record {
        let w = &self.wire[index];
        let rtype = RecordType::from(u16::from_be_bytes([w[2], w[3]]));
        let ttl = u32::from_be_bytes([w[6], w[7], w[8], w[9]]);
        let rdata = &w[12..];
        let mut decoder = BinDecoder::new(rdata);
        let data = RData::read(&mut decoder, rtype, Restrict::new(rdata.len() as u16))
            .expect("wire form written from an RData");
        Record::from_rdata(owner.clone(), ttl, data)
    }

    /// The type of record `index`.
    pub(crate) fn record_type(&self, index: usize) -> RecordType {
        let w = &self.wire[index];
        RecordType::from(u16::from_be_bytes([w[2], w[3]]))
    }

    /// The index of one record drawn by weight, or `None` when the set is empty.
    pub(crate) fn pick_index(&self) -> Option<usize> {
        self.sampler.as_ref().map(Sampler::pick)
    }
}

/// An endpoint as the answer counters know it.
#[derive(Debug, Clone)]
pub(crate) struct EndpointKey {
    /// `<namespace>/<name>` of its profile, shared by the profile's endpoints.
    pub(crate) profile: std::sync::Arc<str>,
    pub(crate) id: std::sync::Arc<str>,
    /// Whether some answer set of this zone holds it (then it gets a counter).
    pub(crate) answerable: bool,
}

/// What the `_health` TXT of one profile shows.
#[derive(Debug)]
pub struct HealthView {
    /// `<namespace>/<name>`.
    pub profile: String,
    /// Whether the profile serves nothing when every endpoint is Degraded.
    pub fail_closed: bool,
    /// The profile's routing method.
    pub routing: fleetdns_config::RoutingMethod,
    /// Its endpoints, in the profile's order.
    pub endpoints: Vec<EndpointView>,
    /// When the zone is signed: the view as compiled (no states or ages, which
    /// change without a recompile), signed, for DO=1 queries.
    pub(crate) signed: Option<Box<Rrset>>,
}

/// One endpoint as the health view shows it.
#[derive(Debug)]
pub struct EndpointView {
    /// `<namespace>/<profile>#<backend>#<cluster>` (shared with the answer
    /// counters' key).
    pub id: std::sync::Arc<str>,
    /// The member cluster that exports it.
    pub cluster: String,
    /// Its address(es) or host name, as answered (shown by its `Display`).
    pub target: fleetdns_config::Target,
    /// Its effective weight (fleet-networking's formula).
    pub weight: u32,
    /// Never probed, always served (`fleetdns.io/always-serve`).
    pub always_serve: bool,
    /// In the answer set of the zone this view was compiled with.
    pub served: bool,
    /// Its priority (shown for Priority profiles).
    pub priority: u32,
}

impl Zone {
    /// The zone apex.
    pub fn apex(&self) -> &LowerName {
        &self.apex
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

#[cfg(feature = "fuzzing")]
impl Zone {
    /// Everything the zone answers, one line per fact, sorted: names and their
    /// flags, RRsets as wire bytes, each answer set's records with weight and
    /// endpoint id, health views. Endpoint positions are left out (a patched
    /// zone numbers them differently from a whole compile), their ids are not.
    /// For tests that compare two zones.
    pub fn describe(&self) -> Vec<String> {
        fn hex(b: &[u8]) -> String {
            b.iter().map(|x| format!("{x:02x}")).collect()
        }
        let set = |r: &Rrset| {
            let records: Vec<String> = r.records.iter().map(ToString::to_string).collect();
            format!("{} [{}]", hex(&r.wire.bytes), records.join(","))
        };
        let id = |pos: u32| match self.endpoints.get(pos as usize) {
            Some(Some(k)) => format!("{}|{}|{}", k.profile, k.id, k.answerable),
            _ => "<none>".into(),
        };
        let mut out = vec![
            format!("soa {}", set(&self.soa)),
            format!("soa- {}", set(&self.soa_negative)),
            format!("ns {}", set(&self.ns)),
            format!("glue {}", set(&self.glue)),
        ];
        for (key, node) in self.nodes.iter() {
            let name = hex(key);
            out.push(format!(
                "{name} apex={} private={} a={} aaaa={}",
                node.apex,
                node.private,
                node.a().map(set).unwrap_or_default(),
                node.aaaa().map(set).unwrap_or_default()
            ));
            if let Some(p) = &node.profile {
                for (t, pick) in [("a", &p.a), ("aaaa", &p.aaaa), ("cname", &p.cname)] {
                    let Some(pick) = pick.as_deref() else {
                        out.push(format!("{name} {t} none"));
                        continue;
                    };
                    let mut records: Vec<String> = (0..pick.wire.len())
                        .map(|i| {
                            format!(
                                "{} {} w={} {}",
                                hex(&pick.wire[i]),
                                pick.record(i, &Name::root()).data,
                                pick.weights[i],
                                id(pick.endpoints[i])
                            )
                        })
                        .collect();
                    records.sort();
                    out.push(format!(
                        "{name} {t} max={} total={} [{}]",
                        pick.max_return,
                        pick.total,
                        records.join("; ")
                    ));
                }
                let ids: Vec<String> = p.positions.iter().map(|&i| id(i)).collect();
                out.push(format!("{name} endpoints [{}]", ids.join("; ")));
            }
            if let Some(v) = &node.health {
                out.push(format!("{name} view {:?}", v.profile));
                for e in &v.endpoints {
                    out.push(format!(
                        "{name} view {} {} {} w={} always={} served={} prio={}",
                        e.id, e.cluster, e.target, e.weight, e.always_serve, e.served, e.priority
                    ));
                }
            }
        }
        let mut keys: Vec<String> = self
            .endpoints
            .iter()
            .flatten()
            .map(|k| format!("key {}|{}|{}", k.profile, k.id, k.answerable))
            .collect();
        keys.sort();
        out.extend(keys);
        out.sort();
        out
    }
}
