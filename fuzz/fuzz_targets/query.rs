//! Arbitrary bytes as a DNS message, through both answer paths.
//!
//! The same bytes go to the UDP fast path, the general path over UDP and the
//! general path over TCP, from a trusted and from an untrusted client (the first
//! byte of the ID picks which). None may panic; every response produced must
//! parse, carry the query's ID and have QR set.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;

use fleetdns_dns::fuzzing::Harness;
use hickory_proto::op::Message;
use hickory_server::net::xfer::Protocol;
use libfuzzer_sys::fuzz_target;

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let (fleet, _) = fleetdns_config::file::load_str(
            std::path::Path::new("fleet.yaml"),
            include_str!("../../examples/fleet.yaml"),
        )
        .expect("examples/fleet.yaml is valid");
        Harness::new(&fleet)
    })
}

fn check(query: &[u8], response: &[u8], path: &str) {
    let m = Message::from_vec(response)
        .unwrap_or_else(|e| panic!("{path}: the response does not parse: {e}"));
    assert!(
        m.metadata.message_type == hickory_proto::op::MessageType::Response,
        "{path}: QR not set"
    );
    assert_eq!(
        &response[..2],
        &query[..2],
        "{path}: the response's ID differs from the query's"
    );
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let client: SocketAddr = if data.first().is_some_and(|b| b & 1 == 1) {
        "127.0.0.1:5300".parse().unwrap()
    } else {
        "192.0.2.7:5300".parse().unwrap()
    };
    if let Some(r) = h.answer_fast(data, client) {
        check(data, &r, "fast path");
        assert!(r.len() <= 1232, "fast path: a UDP answer of {} bytes", r.len());
    }
    if let Some(r) = h.answer_general(data, client, Protocol::Udp) {
        check(data, &r, "general path (UDP)");
        assert!(r.len() <= 1232, "general path: a UDP answer of {} bytes", r.len());
    }
    if let Some(r) = h.answer_general(data, client, Protocol::Tcp) {
        check(data, &r, "general path (TCP)");
    }
});
