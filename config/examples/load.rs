//! Loading and reloading a large config file as `fleetdns serve` does (the same
//! allocator, the file source's `Loader`): a cold load, then reloads after
//! one-document edits, each timed by stage (split, parse, validate) with the
//! process's RSS and peak RSS. Every reload's `Fleet` is checked against a cold
//! load of the same text.
//!
//! ```sh
//! python3 scripts/bench_helper.py gen-scale --n 100000 --config /tmp/c100k.yaml --queries /tmp/q.txt
//! cargo run --release -p fleetdns-config --example load -- /tmp/c100k.yaml
//! ```
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use fleetdns_config::file::{self, Loader, Progress};
use fleetdns_config::Fleet;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// RSS and peak RSS, and the process's CPU time so far.
fn rss() -> String {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    format!("{}, cpu {:.1} s", vm(), ticks as f64 / 100.0)
}

fn vm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Loads `text` with `loader`, printing the stages.
fn timed(name: &str, loader: &mut Loader, path: &Path, text: &str) -> Fleet {
    let t = Instant::now();
    let mut marks = Vec::new();
    let mut progress = |p: Progress| match p {
        Progress::Split { .. } => marks.push(("split", t.elapsed())),
        Progress::Parsed { parsed, documents } if parsed == documents => {
            marks.push(("parse", t.elapsed()))
        }
        Progress::Validated { .. } => marks.push(("validate", t.elapsed())),
        _ => {}
    };
    let fleet = loader
        .load(path, Arc::from(text), &mut progress)
        .unwrap_or_else(|d| panic!("{d}"))
        .0;
    let total = t.elapsed();
    let mut last = std::time::Duration::ZERO;
    let stages: Vec<String> = marks
        .iter()
        .map(|(n, at)| {
            let s = format!("{n} {:.0}", (*at - last).as_secs_f64() * 1000.0);
            last = *at;
            s
        })
        .collect();
    println!(
        "{name:<44} {:>6.0} ms  ({} ms; {}; kept {} documents, {:.1} MiB)  {}",
        total.as_secs_f64() * 1000.0,
        stages.join(", "),
        if loader.last_was_incremental() {
            "incremental"
        } else {
            "validated everything"
        },
        loader.kept_documents(),
        loader.kept_bytes() as f64 / 1048576.0,
        rss()
    );
    fleet
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: load <config.yaml>");
    let path = Path::new(&path);
    let text = std::fs::read_to_string(path).expect("read the config");
    println!("{:<44} {} bytes  {}", "read text", text.len(), rss());
    let mut loader = Loader::default();
    let first = timed("cold load (Loader)", &mut loader, path, &text);
    drop(first);
    // LOAD_RELOADS=n repeats the unchanged reload (to profile it).
    let repeat: usize = std::env::var("LOAD_RELOADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    for _ in 0..repeat {
        timed("reload, file unchanged", &mut loader, path, &text);
    }
    // The edit scripts/scale_probe.py makes: one Service's address, in the settings document.
    let at = text
        .find("name: reload, loadBalancer: [\"127.2.0.")
        .expect("a gen-scale config, with the reload Service");
    let line_end = at + text[at..].find('\n').expect("a line");
    let service = format!(
        "{}name: reload, loadBalancer: [\"127.2.0.250\"]}}{}",
        &text[..at],
        &text[line_end..]
    );
    assert_ne!(service, text);
    let fleet = timed(
        "reload, one Service address changed",
        &mut loader,
        path,
        &service,
    );
    check(path, &service, &fleet);
    // One profile's own document: a TTL annotation.
    let profile = service.replacen(
        "metadata: {name: reload, namespace: bench}\nspec: {resourceGroup",
        "metadata: {name: reload, namespace: bench, annotations: {fleetdns.io/ttl: \"7\"}}\nspec: {resourceGroup",
        1,
    );
    assert_ne!(profile, service);
    let fleet = timed(
        "reload, one profile document changed",
        &mut loader,
        path,
        &profile,
    );
    check(path, &profile, &fleet);
}

/// The reload's fleet is the cold load's.
fn check(path: &Path, text: &str, fleet: &Fleet) {
    let t = Instant::now();
    let (cold, _) = file::load_shared(path, Arc::from(text), &mut |_| {}).expect("valid");
    assert!(cold == *fleet, "a cached reload differs from a cold load");
    println!(
        "{:<44} {:>6.0} ms  same Fleet as the reload  {}",
        "  cold load_shared of the same text",
        t.elapsed().as_secs_f64() * 1000.0,
        rss()
    );
}
