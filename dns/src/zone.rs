//! The compiled zone: every owner name's answers, ready for queries.
//!
//! A [`Zone`] is what [`crate::compile()`] makes of a `Fleet` and a `Health`: plain
//! data, immutable, holding each answer set twice (hickory `Record`s for the
//! general path, precompiled wire bytes for the fast path) so neither path builds
//! records per query. It knows nothing of metrics or of the health snapshot the
//! health view shows: [`crate::Snapshot`] pairs it with those.

use std::net::IpAddr;
use std::sync::Arc;

use fleetdns_config::Profile;

use hickory_proto::rr::{LowerName, Name, Record};
use ipnet::IpNet;

use crate::nodes::Nodes;
pub use crate::pick::Pick;
use crate::pick::Range;
use crate::wire::WireSet;

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
    /// Endpoint positions handed out so far ([`Pick::endpoints`] and the
    /// answer counters index by position; [`ProfileNode::positions`] say
    /// whose each is). A full compile numbers the endpoints in fleet order; a
    /// patch keeps the positions of endpoints that stay, hands new ones the
    /// next and leaves a gap where one left.
    pub(crate) positions: u32,
    /// How many positions hold an endpoint.
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

/// Everything that exists at one owner name of the map. A profile's health
/// view and per-cluster names have no node of their own: its owner's node
/// holds them (see [`crate::names`]).
#[derive(Debug, Default)]
pub(crate) struct Node {
    /// The apex carries SOA and NS.
    pub(crate) apex: bool,
    /// Health-view name: does not exist for untrusted clients.
    pub(crate) private: bool,
    /// Static address records (name servers' glue); boxed, as only name
    /// servers' names have them.
    pub(crate) glue: Option<Box<Glue>>,
    /// A profile's owner name: its answers and the names below it that it
    /// answers (in the node's own allocation: nearly every node has one).
    pub(crate) profile: Option<ProfileNode>,
}

/// A name server's address records at its name, owner = the question.
#[derive(Debug, Default)]
pub(crate) struct Glue {
    pub(crate) a: Rrset,
    pub(crate) aaaa: Rrset,
}

/// Weighted endpoint answers, one set per query type; each is boxed and
/// absent when empty (most per-cluster names answer one type only).
#[derive(Debug, Default)]
pub(crate) struct Answers {
    /// For A queries: A records of IPv4 endpoints and CNAMEs of host endpoints.
    pub(crate) a: Option<Box<Pick>>,
    /// For AAAA queries: AAAA records of IPv6 endpoints and CNAMEs.
    pub(crate) aaaa: Option<Box<Pick>>,
    /// For CNAME queries: CNAMEs of host endpoints only.
    pub(crate) cname: Option<Box<Pick>>,
}

impl Answers {
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

/// What a profile's owner name holds: its answers, and the names below it;
/// also what its health view shows ([`HealthView`]). Opaque outside the
/// crate but for the view's methods.
#[derive(Debug)]
pub struct ProfileNode {
    /// The profile it was compiled from (shared with the fleet): the health
    /// view and the answer counters read its names and endpoints from it
    /// rather than keeping copies.
    pub(crate) profile: Arc<Profile>,
    /// The answers at the owner name.
    pub(crate) answers: Answers,
    /// The position in the zone of each of its endpoints (see
    /// [`Zone::positions`]), in the profile's order (a patch reuses them).
    pub(crate) positions: Positions,
    /// `<cluster>._cluster.<owner>`, one per member cluster whose name fits,
    /// sorted by label.
    pub(crate) clusters: Box<[Cluster]>,
    /// The records the clusters answer, in one pick (each cluster's answer
    /// sets are ranges of it).
    pub(crate) cluster_records: Pick,
    /// Whether `_health.<owner>` (the health view) exists: not when that
    /// name would not fit.
    pub(crate) health: bool,
    /// When the zone is signed: the health view as compiled (no states or
    /// ages, which change without a recompile), signed, for DO=1 queries.
    pub(crate) health_signed: Option<Box<Rrset>>,
}

/// The positions of a profile's endpoints: consecutive ones (as a whole
/// compile hands them out) in no allocation, others listed.
#[derive(Debug)]
pub(crate) struct Positions {
    first: u32,
    /// All of them, when they are not `first`, `first + 1`, …: behind a
    /// thin pointer, so a node pays 8 bytes for it, not a slice's 16.
    #[allow(clippy::box_collection)]
    list: Option<Box<Vec<u32>>>,
}

impl Positions {
    pub(crate) fn new(positions: &[u32]) -> Self {
        let first = positions.first().copied().unwrap_or(0);
        let run = (first..).zip(positions).all(|(want, &p)| want == p);
        Self {
            first,
            list: (!run).then(|| Box::new(positions.to_vec())),
        }
    }
}

impl ProfileNode {
    /// The position in the zone of each of its endpoints, in the profile's
    /// order.
    pub(crate) fn positions(&self) -> impl ExactSizeIterator<Item = u32> + Clone + '_ {
        let n = self.profile.endpoints.len();
        let list = self.positions.list.as_deref();
        let first = self.positions.first;
        (0..n).map(move |i| list.map_or(first + i as u32, |l| l[i]))
    }

    /// Its endpoints, each with its position in the zone.
    pub(crate) fn endpoint_keys(&self) -> impl Iterator<Item = (u32, EndpointKey<'_>)> + '_ {
        let picks = || self.answers.picks().chain([&self.cluster_records]);
        // Few records (nearly every profile): look each endpoint up in place;
        // many: sort them once.
        let records: usize = picks().map(Pick::len).sum();
        let sorted = (records > 32).then(|| {
            let mut held: Vec<u32> = picks()
                .flat_map(|p| p.endpoints().iter().copied())
                .collect();
            held.sort_unstable();
            held
        });
        self.positions().enumerate().map(move |(i, pos)| {
            let answerable = match &sorted {
                Some(held) => held.binary_search(&pos).is_ok(),
                None => picks().any(|p| p.endpoints().contains(&pos)),
            };
            let key = EndpointKey {
                profile: &self.profile,
                index: i as u16,
                answerable,
            };
            (pos, key)
        })
    }
}

/// The answers of one `<cluster>._cluster.<owner>` name: its available
/// endpoints, answered as a Weighted profile, as ranges of the profile's
/// [`ProfileNode::cluster_records`].
#[derive(Debug)]
pub(crate) struct Cluster {
    /// The number of the cluster's labels (lower-case wire form, without
    /// the root) in the zone's table (`Nodes::label`).
    pub(crate) label: u32,
    /// For A queries.
    pub(crate) a: Range,
    /// For AAAA queries.
    pub(crate) aaaa: Range,
    /// For CNAME queries.
    pub(crate) cname: Range,
}

impl Cluster {
    /// Its answer sets, A, AAAA and CNAME.
    pub(crate) fn ranges(&self) -> [Range; 3] {
        [self.a, self.aaaa, self.cname]
    }
}

/// An endpoint as the answer counters know it: its profile (the fleet's own)
/// and its place in the profile's endpoints, so the label strings are the
/// fleet's, read when they are needed (compiles and scrapes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EndpointKey<'z> {
    pub(crate) profile: &'z Arc<Profile>,
    /// Index in `profile.endpoints`.
    pub(crate) index: u16,
    /// Whether some answer set of this zone holds it (then it gets a counter).
    pub(crate) answerable: bool,
}

impl<'z> EndpointKey<'z> {
    /// The endpoint's id (`<namespace>/<backend>#<service>#<cluster>`).
    pub(crate) fn id(&self) -> &'z str {
        &self.profile.endpoints[usize::from(self.index)].id
    }

    /// The endpoint's id, shared with the fleet.
    pub(crate) fn shared_id(&self) -> &'z Arc<str> {
        &self.profile.endpoints[usize::from(self.index)].id
    }

    /// Its profile's `<namespace>` and `<name>`.
    pub(crate) fn profile_name(&self) -> (&'z str, &'z str) {
        (&self.profile.namespace, &self.profile.name)
    }
}

/// What the `_health` TXT of one profile shows: its node, read as the
/// profile as compiled (its endpoints, from the fleet's own copy) and which
/// endpoints the node's answer sets hold.
pub type HealthView = ProfileNode;

impl ProfileNode {
    /// `<namespace>/<name>` of the profile.
    pub fn profile(&self) -> String {
        format!("{}/{}", self.profile.namespace, self.profile.name)
    }

    /// Whether the profile serves nothing when every endpoint is Degraded.
    pub fn fail_closed(&self) -> bool {
        self.profile.fail_closed
    }

    /// The profile's routing method.
    pub fn routing(&self) -> fleetdns_config::RoutingMethod {
        self.profile.routing
    }

    /// Its endpoints, in the profile's order; served = in an answer set of
    /// the owner name (Priority: the active priority only).
    pub fn endpoints(&self) -> impl ExactSizeIterator<Item = EndpointView<'_>> + '_ {
        self.profile
            .endpoints
            .iter()
            .zip(self.positions())
            .map(|(e, pos)| EndpointView {
                id: &e.id,
                cluster: &e.cluster,
                target: &e.target,
                weight: e.weight,
                always_serve: e.always_serve,
                served: self.answers.picks().any(|p| p.endpoints().contains(&pos)),
                priority: e.priority,
            })
    }
}

/// One endpoint as the health view shows it.
#[derive(Debug, Clone, Copy)]
pub struct EndpointView<'a> {
    /// `<namespace>/<backend>#<service>#<cluster>`.
    pub id: &'a str,
    /// The member cluster that exports it.
    pub cluster: &'a str,
    /// Its address(es) or host name, as answered (shown by its `Display`).
    pub target: &'a fleetdns_config::Target,
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
