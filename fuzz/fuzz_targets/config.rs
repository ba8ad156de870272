//! Arbitrary bytes as a config file: see `fleetdns_dns::fuzzing::config`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fleetdns_dns::fuzzing::config(data));
