//! DNS metrics, resolved before the query path so a query only increments atomics.
//!
//! `fleetdns_dns_queries_total{qtype,rcode}`: qtype and rcode come from closed
//! lists and every combination's counter is created up front, so a query
//! indexes an array instead of hashing labels under a lock.
//! `fleetdns_dns_answers_total{profile,endpoint}`: one atomic per endpoint, given
//! out when a zone is published ([`crate::Snapshot::compile`]) and kept in the
//! snapshot by the endpoint's index in the zone — Traffic Manager's "queries by
//! endpoint returned" (see `answer_counters.rs`).
//! `fleetdns_rrl_dropped_total`, `fleetdns_rrl_slipped_total`: response rate
//! limiting. `fleetdns_tcp_connections`, `fleetdns_tcp_refused_total{cap}`,
//! `fleetdns_tcp_timeouts_total`: the TCP limits.

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::answer_counters::{AnswerCounters, AnswerStore, AnswersCollector};
use crate::nodes::Nodes;

/// Query types counted by name; everything else is `other`.
const QTYPES: &[&str] = &[
    "A", "AAAA", "CNAME", "NS", "SOA", "TXT", "ANY", "AXFR", "IXFR", "other",
];
/// Response codes counted by name; everything else is `other`.
const RCODES: &[&str] = &[
    "NOERROR", "NXDOMAIN", "REFUSED", "FORMERR", "NOTIMP", "SERVFAIL", "BADVERS", "other",
];

fn qtype_index(t: RecordType) -> usize {
    match t {
        RecordType::A => 0,
        RecordType::AAAA => 1,
        RecordType::CNAME => 2,
        RecordType::NS => 3,
        RecordType::SOA => 4,
        RecordType::TXT => 5,
        RecordType::ANY => 6,
        RecordType::AXFR => 7,
        RecordType::IXFR => 8,
        _ => 9,
    }
}

fn rcode_index(r: ResponseCode) -> usize {
    match u16::from(r) {
        0 => 0,
        3 => 1,
        5 => 2,
        1 => 3,
        4 => 4,
        2 => 5,
        16 => 6,
        _ => 7,
    }
}

/// The DNS server's metrics.
pub struct DnsMetrics {
    queries_vec: IntCounterVec,
    /// `QTYPES.len() × RCODES.len()` counters from `queries_vec`, row-major by qtype.
    queries: Box<[IntCounter]>,
    /// The per-endpoint answer counters, rendered at scrape time.
    answers: Arc<AnswerStore>,
    /// UDP responses not sent because of response rate limiting.
    pub rrl_dropped: IntCounter,
    /// UDP responses sent truncated (TC) instead of dropped by rate limiting.
    pub rrl_slipped: IntCounter,
    /// TCP connections refused because a connection cap was reached, by cap.
    pub tcp_refused_total: IntCounter,
    /// TCP connections refused because the per-client cap was reached.
    pub tcp_refused_client: IntCounter,
    /// TCP connections closed by the idle or read timeout.
    pub tcp_timeouts: IntCounter,
    /// TCP connections open now.
    pub tcp_open: IntGauge,
    tcp_refused: IntCounterVec,
}

impl DnsMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self::unregistered()?;
        registry.register(Box::new(m.queries_vec.clone()))?;
        registry.register(Box::new(AnswersCollector(m.answers.clone())))?;
        registry.register(Box::new(m.rrl_dropped.clone()))?;
        registry.register(Box::new(m.rrl_slipped.clone()))?;
        registry.register(Box::new(m.tcp_refused.clone()))?;
        registry.register(Box::new(m.tcp_timeouts.clone()))?;
        registry.register(Box::new(m.tcp_open.clone()))?;
        Ok(m)
    }

    /// Creates the metrics without registering them (tests, tools).
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        let queries_vec = IntCounterVec::new(
            Opts::new(
                "fleetdns_dns_queries_total",
                "DNS queries answered, by query type and response code",
            ),
            &["qtype", "rcode"],
        )?;
        let mut queries = Vec::with_capacity(QTYPES.len() * RCODES.len());
        for q in QTYPES {
            for r in RCODES {
                queries.push(queries_vec.with_label_values(&[*q, *r]));
            }
        }
        let answers = Arc::new(AnswerStore::new()?);
        let tcp_refused = IntCounterVec::new(
            Opts::new(
                "fleetdns_tcp_refused_total",
                "TCP connections closed at once because a connection cap was reached, by cap (total or client)",
            ),
            &["cap"],
        )?;
        Ok(Self {
            queries_vec,
            queries: queries.into_boxed_slice(),
            answers,
            rrl_dropped: IntCounter::new(
                "fleetdns_rrl_dropped_total",
                "UDP responses not sent because of response rate limiting",
            )?,
            rrl_slipped: IntCounter::new(
                "fleetdns_rrl_slipped_total",
                "UDP responses sent truncated (TC) instead of dropped by response rate limiting",
            )?,
            tcp_refused_total: tcp_refused.with_label_values(&["total"]),
            tcp_refused_client: tcp_refused.with_label_values(&["client"]),
            tcp_refused,
            tcp_timeouts: IntCounter::new(
                "fleetdns_tcp_timeouts_total",
                "TCP connections closed by the idle or the read timeout",
            )?,
            tcp_open: IntGauge::new("fleetdns_tcp_connections", "TCP connections open")?,
        })
    }

    /// Counts one answered query. Lock-free: an index and an atomic add.
    pub fn count_query(&self, qtype: RecordType, rcode: ResponseCode) {
        self.queries[qtype_index(qtype) * RCODES.len() + rcode_index(rcode)].inc();
    }

    /// Every exported answer counter as (endpoint id, answers so far): what the
    /// status page samples every few seconds to show each endpoint's share of the
    /// last minute. Reads the current counters, never through the query path.
    pub fn answer_totals(&self) -> Vec<(String, u64)> {
        self.answers.totals()
    }

    /// Calls `f` with each exported answer counter's slot (a small integer, an
    /// endpoint's while it is in the zone), endpoint id and answers so far,
    /// without copying the ids: what the status page samples every few seconds.
    pub fn visit_answer_totals(&self, f: impl FnMut(u32, &std::sync::Arc<str>, u64)) {
        self.answers.visit(f);
    }

    /// The answer counters of a compiled zone's endpoints (a series for each
    /// endpoint some answer set holds or that had one), keeping the counts of
    /// endpoints that are still there and dropping the series of endpoints that
    /// are gone. Called when a zone is published, never on the query path.
    pub(crate) fn answer_counters(&self, nodes: Nodes, positions: u32) -> Arc<AnswerCounters> {
        self.answers.compile(nodes, positions)
    }

    /// The answer counters of a patched zone (see `AnswerStore::patch`).
    pub(crate) fn patch_answer_counters(
        &self,
        previous: &Arc<AnswerCounters>,
        nodes: Nodes,
        positions: u32,
        touched: &[(u32, Option<bool>)],
    ) -> Arc<AnswerCounters> {
        self.answers.patch(previous, nodes, positions, touched)
    }
}
