//! DNS metrics, resolved before the query path so a query only increments atomics.
//!
//! `fleetdns_dns_queries_total{qtype,rcode}`: qtype and rcode come from closed
//! lists and every combination's counter is created up front, so the handler
//! indexes an array instead of hashing labels under a lock.
//! `fleetdns_dns_answers_total{profile,endpoint}`: one counter per endpoint, looked
//! up when the zone is compiled and stored beside the endpoint's record — Traffic
//! Manager's "queries by endpoint returned".

use std::collections::BTreeSet;
use std::sync::Mutex;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

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
}

impl DnsMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self::unregistered()?;
        registry.register(Box::new(m.queries_vec.clone()))?;
        registry.register(Box::new(m.answers.clone()))?;
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
        Ok(Self {
            queries_vec,
            queries: queries.into_boxed_slice(),
            answers,
            live: Mutex::new(BTreeSet::new()),
        })
    }

    /// Counts one answered query. Lock-free: an index and an atomic add.
    pub fn count_query(&self, qtype: RecordType, rcode: ResponseCode) {
        self.queries[qtype_index(qtype) * RCODES.len() + rcode_index(rcode)].inc();
    }

    /// The answer counter of one endpoint, for the zone compiler.
    pub(crate) fn answer_counter(&self, profile: &str, endpoint: &str) -> IntCounter {
        self.answers.with_label_values(&[profile, endpoint])
    }

    /// Drops the answer series of endpoints that are gone. Called by the compiler
    /// (not the query path); the mutex is never held across an await.
    pub(crate) fn retain_answers(&self, live: BTreeSet<(String, String)>) {
        let mut current = self.live.lock().expect("metrics label set lock");
        for gone in current.difference(&live) {
            let _ = self.answers.remove_label_values(&[&gone.0, &gone.1]);
        }
        *current = live;
    }
}
