//! Where the memory and time of loading a large config go, stage by stage: the
//! text, the parsed documents (`Inputs`), the validated `Fleet`, the compiled
//! `Zone` and the answer counters, with the live heap bytes after each stage
//! (counting global allocator) and the time each stage took.
//!
//! ```sh
//! python3 scripts/bench_helper.py gen-scale --n 10000 --config /tmp/c10k.yaml --queries /tmp/q.txt
//! cargo run --release -p fleetdns-dns --example scale -- /tmp/c10k.yaml
//! ```

use std::alloc::System;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use fleetdns_config::{file, validate, Diagnostics, Health};
use fleetdns_dns::{DnsMetrics, Snapshot};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn live() -> f64 {
    let s = GLOBAL.stats();
    (s.bytes_allocated as f64 - s.bytes_deallocated as f64) / (1024.0 * 1024.0)
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

fn stage(name: &str, t: Instant) {
    println!(
        "{name:<28} {:>8.0} ms  live heap {:>8.1} MiB  ({})",
        t.elapsed().as_secs_f64() * 1000.0,
        live(),
        peak_rss()
    );
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: scale <config.yaml>");
    let path = Path::new(&path);
    let t = Instant::now();
    let text = std::fs::read_to_string(path).expect("read the config");
    stage("read text", t);
    let t = Instant::now();
    let mut diags = Diagnostics::default();
    let inputs = file::parse(path, &text, &mut diags);
    stage("parse → Inputs", t);
    drop(text);
    stage("  text dropped", Instant::now());
    let t = Instant::now();
    let fleet = validate::fleet(&inputs, &mut diags).expect("a valid config");
    assert!(!diags.has_errors(), "{diags}");
    stage("validate → Fleet", t);
    drop(inputs);
    stage("  Inputs dropped", Instant::now());
    let t = Instant::now();
    let zone = fleetdns_dns::compile(&fleet, &Health::default());
    stage("compile → Zone", t);
    drop(zone);
    let metrics = DnsMetrics::register(&prometheus::Registry::new()).expect("metrics");
    let t = Instant::now();
    let snapshot = Snapshot::compile(&fleet, Arc::new(Health::default()), &metrics);
    stage("Snapshot (zone + counters)", t);
    let t = Instant::now();
    let again = Snapshot::compile(&fleet, Arc::new(Health::default()), &metrics);
    stage("second Snapshot", t);
    drop(again);
    drop(snapshot);
    stage("  Snapshots dropped", Instant::now());
    drop(fleet);
    stage("  Fleet dropped", Instant::now());
    // The file source's reload path: a `Loader` keeps every document's parse
    // between loads, so a reload parses only the changed documents.
    let read =
        || -> Arc<str> { Arc::from(std::fs::read_to_string(path).expect("read the config")) };
    let mut loader = file::Loader::default();
    let t = Instant::now();
    let (fleet, _) = loader
        .load(path, read(), &mut |_| {})
        .unwrap_or_else(|d| panic!("{d}"));
    stage("Loader: cold load → Fleet", t);
    drop(fleet);
    stage("  Fleet dropped (parses kept)", Instant::now());
    let t = Instant::now();
    let (fleet, _) = loader
        .load(path, read(), &mut |_| {})
        .unwrap_or_else(|d| panic!("{d}"));
    stage("Loader: reload, unchanged", t);
    drop(fleet);
    drop(loader);
    stage("  Loader dropped", Instant::now());
}
