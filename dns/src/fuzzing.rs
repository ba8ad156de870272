//! Entry points for the fuzz targets (`fuzz/`) and the corpus replay test.
//!
//! They run exactly the code the UDP workers and the TCP loop run — the fast path
//! ([`fast::respond`]) and the general path ([`general::respond`], hickory's
//! parser and encoder) — on a zone compiled once, without sockets. Compiled only
//! with the `fuzzing` feature (enabled by `fuzz/` and by this crate's own tests);
//! nothing here is used when serving.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use fleetdns_config::{Fleet, Health};
use hickory_server::net::xfer::Protocol;

use crate::fast::{self, Fast};
use crate::general::{self, Scratch};
use crate::metrics::DnsMetrics;
use crate::rrl::{self, Limiter, Verdict};
use crate::snapshot::Snapshot;

/// A compiled zone and what both paths need to answer from it.
pub struct Harness {
    snapshot: Snapshot,
    metrics: DnsMetrics,
    scratch: Mutex<Scratch>,
    /// A strict rate limiter (1/s, slip 2, nobody exempt) the responses pass through.
    limiter: Mutex<Limiter>,
    rrl: rrl::Settings,
}

impl Harness {
    /// Compiles `fleet` (with no health observations) into a harness.
    pub fn new(fleet: &Fleet) -> Self {
        Self::signed(fleet, &[])
    }

    /// As [`Harness::new`], the zone signed with `keys` (none: unsigned), now.
    pub fn signed(fleet: &Fleet, keys: &[crate::dnssec::SigningKey]) -> Self {
        let metrics = DnsMetrics::unregistered().expect("metrics are well formed");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as u32;
        let mut cache = crate::dnssec::SigCache::default();
        let signing = crate::snapshot::Signing {
            keys,
            validity: crate::dnssec::Validity {
                lifetime: 14 * 86_400,
                skew: 3_600,
            },
            now,
            cache: &mut cache,
        };
        let snapshot =
            Snapshot::compile_signed(fleet, Arc::new(Health::default()), &metrics, Some(signing));
        Self {
            snapshot,
            metrics,
            scratch: Mutex::new(Scratch::default()),
            limiter: Mutex::new(Limiter::new(64)),
            rrl: rrl::Settings {
                enabled: true,
                responses_per_second: 1,
                slip: 2,
                exempt: Box::new([]),
            },
        }
    }

    /// The UDP fast path: `Some(response)` when it answers, `None` when it leaves
    /// the packet to the general path.
    pub fn answer_fast(&self, packet: &[u8], client: SocketAddr) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        match fast::respond(&self.snapshot, packet, client.ip(), &self.metrics, &mut out) {
            Fast::Answered => Some(out),
            Fast::Fallback => None,
        }
    }

    /// The general path as UDP or TCP serve it: `None` when nothing is sent.
    pub fn answer_general(
        &self,
        packet: &[u8],
        client: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut scratch = self.scratch.lock().expect("fuzzing scratch lock");
        general::respond(
            &self.snapshot,
            &self.metrics,
            packet,
            client,
            protocol,
            &mut out,
            &mut scratch,
        )
        .then_some(out)
    }

    /// Passes `response` through the rate limiter as a UDP worker does; returns
    /// what would be sent.
    pub fn rate_limit(&self, response: &[u8], client: SocketAddr) -> Option<Vec<u8>> {
        let mut limiter = self.limiter.lock().expect("fuzzing limiter lock");
        let mut out = response.to_vec();
        match limiter.check(&self.rrl, client.ip(), response) {
            Verdict::Send => Some(out),
            Verdict::Slip => {
                rrl::truncate(&mut out);
                Some(out)
            }
            Verdict::Drop => None,
        }
    }

    /// What a UDP worker sends for `packet`: the fast path, else the general path.
    pub fn answer_udp(&self, packet: &[u8], client: SocketAddr) -> Option<Vec<u8>> {
        self.answer_fast(packet, client)
            .or_else(|| self.answer_general(packet, client, Protocol::Udp))
    }
}

/// The `query` fuzz target's body: `packet` through the fast path and the
/// general path over UDP and TCP, from a trusted or an untrusted client (bit 0
/// of the first byte picks), then the UDP answer through a strict rate limiter.
/// Panics if a path panics, or if a response does not parse, lacks QR, has
/// another ID than the query, or (UDP) exceeds 1232 bytes, or if a slip is not a
/// TC answer no larger than the query.
pub fn query(h: &Harness, packet: &[u8]) {
    let client: SocketAddr = if packet.first().is_some_and(|b| b & 1 == 1) {
        SocketAddr::from(([127, 0, 0, 1], 5300))
    } else {
        SocketAddr::from(([192, 0, 2, 7], 5300))
    };
    let max_udp = usize::from(crate::decide::MAX_UDP_PAYLOAD);
    if let Some(r) = h.answer_fast(packet, client) {
        check_response(packet, &r, "fast path");
        assert!(
            r.len() <= max_udp,
            "fast path: a UDP answer of {} bytes",
            r.len()
        );
    }
    if let Some(r) = h.answer_general(packet, client, Protocol::Udp) {
        check_response(packet, &r, "general path (UDP)");
        assert!(
            r.len() <= max_udp,
            "general path: a UDP answer of {} bytes",
            r.len()
        );
    }
    if let Some(r) = h.answer_general(packet, client, Protocol::Tcp) {
        check_response(packet, &r, "general path (TCP)");
    }
    // Rate limiting: a slip is a parseable response with TC set, never larger
    // than the query. Arbitrary bytes taken as a response must not panic it either.
    if let Some(r) = h.answer_udp(packet, client) {
        for _ in 0..3 {
            if let Some(sent) = h.rate_limit(&r, client) {
                check_response(packet, &sent, "rate-limited answer");
                if sent.len() != r.len() {
                    assert!(sent.len() <= packet.len(), "a slip larger than the query");
                    assert_eq!(sent[2] & 0x02, 0x02, "a slip without TC");
                }
            }
        }
    }
    let _ = h.rate_limit(packet, client);
    let mut raw = packet.to_vec();
    rrl::truncate(&mut raw);
}

fn check_response(query: &[u8], response: &[u8], path: &str) {
    let m = hickory_proto::op::Message::from_vec(response)
        .unwrap_or_else(|e| panic!("{path}: the response does not parse: {e}"));
    assert!(
        m.metadata.message_type == hickory_proto::op::MessageType::Response,
        "{path}: QR not set"
    );
    assert_eq!(
        response.get(..2),
        query.get(..2),
        "{path}: the response's ID differs from the query's"
    );
}

/// The `config` fuzz target's body: `bytes` as a config file. Loading returns a
/// `Fleet` or diagnostics (which must render); a `Fleet` must compile. Panics
/// only on a bug.
pub fn config(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    match fleetdns_config::file::load_str(std::path::Path::new("fuzz.yaml"), text) {
        Ok((fleet, diags)) => {
            assert!(!diags.has_errors(), "a Fleet came with errors");
            let _ = diags.to_string();
            // It compiles, and every profile name answers on both paths.
            let h = Harness::new(&fleet);
            for p in &fleet.profiles {
                if let Ok(q) = query_for(&p.owner) {
                    query(&h, &q);
                }
            }
        }
        Err(diags) => {
            let _ = diags.to_string();
        }
    }
}

/// A plain A query for `name`.
fn query_for(name: &str) -> Result<Vec<u8>, hickory_proto::ProtoError> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name)?, RecordType::A));
    m.to_vec()
}
