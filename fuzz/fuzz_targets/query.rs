//! Arbitrary bytes as a DNS message, through both answer paths: see
//! `fleetdns_dns::fuzzing::query` for what is checked.
#![no_main]

use std::sync::OnceLock;

use fleetdns_dns::fuzzing::{self, Harness};
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

fuzz_target!(|data: &[u8]| fuzzing::query(harness(), data));
