//! DNS metrics, resolved before the query path so a query only increments atomics.
//!
//! `fleetdns_dns_queries_total{qtype,rcode}`: qtype and rcode come from closed
//! lists and every combination's counter is created up front, so a query
//! indexes an array instead of hashing labels under a lock.
//! `fleetdns_dns_answers_total{profile,endpoint}`: one counter per endpoint, looked
//! up when a zone is published ([`crate::Snapshot::compile`]) and kept in the
//! snapshot by the endpoint's index in the zone — Traffic Manager's "queries by
//! endpoint returned".
//! `fleetdns_rrl_dropped_total`, `fleetdns_rrl_slipped_total`: response rate
//! limiting. `fleetdns_tcp_connections`, `fleetdns_tcp_refused_total{cap}`,
//! `fleetdns_tcp_timeouts_total`: the TCP limits.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::zone::EndpointKey;

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
    answers: IntCounterVec,
    /// (profile, endpoint) label pairs currently exported; compile removes the rest.
    live: Mutex<BTreeSet<(String, String)>>,
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
        registry.register(Box::new(m.answers.clone()))?;
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
        let answers = IntCounterVec::new(
            Opts::new("fleetdns_dns_answers_total", "Answers that returned each endpoint (Traffic Manager's queries by endpoint returned)"),
            &["profile", "endpoint"],
        )?;
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
            live: Mutex::new(BTreeSet::new()),
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
    /// last minute. Reads the label map, never the query path's handles.
    pub fn answer_totals(&self) -> Vec<(String, u64)> {
        use prometheus::core::Collector as _;
        self.answers
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .filter_map(|m| {
                let endpoint = m.get_label().iter().find(|l| l.name() == "endpoint")?;
                Some((
                    endpoint.value().to_string(),
                    m.get_counter().get_value() as u64,
                ))
            })
            .collect()
    }

    /// The answer counters of a compiled zone's endpoints (a counter for each
    /// endpoint some answer set holds), and drops the series of endpoints that
    /// are gone. Called when a zone is published, never on the query path; the
    /// mutex is never held across an await.
    pub(crate) fn answer_counters(&self, endpoints: &[EndpointKey]) -> Arc<[Option<IntCounter>]> {
        let counters = endpoints
            .iter()
            .map(|e| {
                e.answerable
                    .then(|| self.answers.with_label_values(&[&e.profile, &e.id]))
            })
            .collect();
        let live: BTreeSet<(String, String)> = endpoints
            .iter()
            .map(|e| (e.profile.clone(), e.id.clone()))
            .collect();
        let mut current = self.live.lock().expect("metrics label set lock");
        for gone in current.difference(&live) {
            let _ = self.answers.remove_label_values(&[&gone.0, &gone.1]);
        }
        *current = live;
        counters
    }
}
