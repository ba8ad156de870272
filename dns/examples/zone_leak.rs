//! Throwaway: compile a zone and exit with it alive (heaptrack "leaked").
use fleetdns_config::{file, validate, Diagnostics, Health};
use std::path::Path;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let path = Path::new(&path);
    let text = std::fs::read_to_string(path).unwrap();
    let mut diags = Diagnostics::default();
    let inputs = file::parse(path, &text, &mut diags);
    drop(text);
    let fleet = validate::fleet(&inputs, &mut diags).unwrap();
    drop(inputs);
    let metrics = fleetdns_dns::DnsMetrics::register(&prometheus::Registry::new()).unwrap();
    let s =
        fleetdns_dns::Snapshot::compile(&fleet, std::sync::Arc::new(Health::default()), &metrics);
    std::mem::forget(s);
    std::mem::forget(fleet);
    std::mem::forget(metrics);
    std::process::exit(0);
}
