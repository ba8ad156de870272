//! Arbitrary bytes as a config file: splitting, YAML parsing, schema checks and
//! validation must return a `Fleet` or diagnostics, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("fuzz.yaml");
    match fleetdns_config::file::load_str(path, text) {
        Ok((fleet, diags)) => {
            assert!(!diags.has_errors());
            // A valid fleet compiles and every diagnostic renders.
            let _ = format!("{diags}");
            let metrics = fleetdns_dns::DnsMetrics::unregistered().unwrap();
            let _ = fleetdns_dns::compile(&fleet, &Default::default(), &metrics);
        }
        Err(diags) => {
            let _ = format!("{diags}");
        }
    }
});
