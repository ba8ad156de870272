//! What a change costs the zone at scale: one profile edited (the path of a
//! watch event or a reload), and health transitions at the rate of issue 20
//! (1,000,000 an hour), each applied as the prober publishes them — compared
//! with a whole compile of the same fleet.
//!
//! ```sh
//! python3 scripts/bench_helper.py gen-scale --n 100000 --config /tmp/c100k.yaml --queries /tmp/q.txt
//! cargo run --release -p fleetdns-dns --example patch_cost -- /tmp/c100k.yaml
//! ```
//!
//! Health: every endpoint starts Online; each round flips `batch` random
//! endpoints (Online ↔ Degraded) in a table of states and publishes a
//! snapshot from it (the prober's way: the same slot layout, the moves
//! recorded), then finds the profiles that route differently and patches the
//! zone, timed together. The prober publishes transitions at
//! most every 50 ms, so 1,000,000 an hour (278 a second) arrive as about 20
//! publications a second of ~14 transitions each.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetdns_config::{file, EndpointHealth, Health, MonitorState};
use fleetdns_dns::patch::{diff, health_changes};
use fleetdns_dns::{DnsMetrics, Snapshot};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: patch_cost <config.yaml> [batch]");
    let batch: usize = std::env::args()
        .nth(2)
        .map_or(14, |b| b.parse().expect("batch: a number"));
    let text = std::fs::read_to_string(&path).expect("readable config");
    let (fleet, _) = file::load_str(Path::new(&path), &text).unwrap_or_else(|d| panic!("{d}"));
    drop(text);
    let registry = prometheus::Registry::new();
    let metrics = DnsMetrics::register(&registry).expect("metrics");
    let online = |state| EndpointHealth {
        state,
        consecutive_failures: 0,
        last: None,
    };
    let ids: Vec<Arc<str>> = fleet
        .profiles
        .iter()
        .flat_map(|p| p.endpoints.iter().map(|e| e.id.clone()))
        .collect();
    let mut table: Health = ids
        .iter()
        .map(|id| (id.clone(), online(MonitorState::Online)))
        .collect();
    let health = Arc::new(table.publish());
    let t = Instant::now();
    let mut snapshot = Snapshot::compile(&fleet, health.clone(), &metrics);
    let full = t.elapsed();
    println!(
        "{} profiles, {} endpoints: whole compile {:.0} ms",
        fleet.profiles.len(),
        ids.len(),
        full.as_secs_f64() * 1e3
    );

    // One profile edited: the weight of its first endpoint, and the serial.
    let mut edited = fleet.clone();
    let i = edited.profiles.len() / 2;
    if let Some(e) = edited.profile_mut(i).endpoints.first_mut() {
        e.weight = e.weight % 1000 + 1;
    }
    edited.zone.soa.serial = edited.zone.soa.serial.wrapping_add(1);
    // Back and forth, each patch on top of the last (as serve applies them).
    let mut times = Vec::new();
    for round in 0..20 {
        let (from, to) = match round % 2 {
            0 => (&fleet, &edited),
            _ => (&edited, &fleet),
        };
        let t = Instant::now();
        let changes = diff(from, to).expect("only a profile changed");
        snapshot = snapshot
            .patch(to, health.clone(), &changes, &metrics)
            .expect("unsigned");
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "one profile edited: diff + patch median {:.2} ms (min {:.2}, max {:.2}; 20 runs)",
        times[10].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[19].as_secs_f64() * 1e3
    );

    // What a patch costs before any profile: the shared tables copied, the
    // snapshot replaced.
    let t = Instant::now();
    for _ in 0..100 {
        let same = fleetdns_dns::patch::Changes::default();
        snapshot = snapshot
            .patch(&fleet, health.clone(), &same, &metrics)
            .expect("unsigned");
    }
    println!(
        "a patch of no profile: {:.3} ms (the fixed part of every patch)",
        t.elapsed().as_secs_f64() * 1e3 / 100.0
    );

    // Health transitions, applied as the prober publishes them.
    let mut rng = fastrand::Rng::with_seed(20);
    let mut index = None;
    let rounds = 500;
    let mut busy = Duration::ZERO;
    let mut publish = Duration::ZERO;
    let mut dropped = Duration::ZERO;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..batch {
            let id = &ids[rng.usize(..ids.len())];
            let e = table.get_mut(id).expect("every endpoint has health");
            e.state = match e.state {
                MonitorState::Degraded => MonitorState::Online,
                _ => MonitorState::Degraded,
            };
            table.record_move(id);
        }
        let next = Arc::new(table.publish());
        publish += t.elapsed();
        let t = Instant::now();
        let mut changes = fleetdns_dns::patch::Changes::default();
        changes
            .compile
            .extend(health_changes(&fleet, snapshot.health(), &next, &mut index));
        let patched = snapshot
            .patch(&fleet, next.clone(), &changes, &metrics)
            .expect("unsigned");
        busy += t.elapsed();
        // Dropping the snapshot it replaces (its zone's unshared parts and its
        // Health copy) is timed apart: the Health copy is the prober's cost.
        let t = Instant::now();
        drop(std::mem::replace(&mut snapshot, patched));
        dropped += t.elapsed();
    }
    let per = busy / rounds;
    let per_second = 1_000_000.0 / 3600.0 / batch as f64;
    println!(
        "health: {rounds} publications of {batch} transitions: {:.3} ms each to find the profiles and patch \
         ({:.1} % of a core at 1,000,000 transitions an hour = {per_second:.1} publications/s); \
         copying the Health snapshot (the prober's part) {:.3} ms each; \
         dropping the snapshot replaced (mostly its Health copy) {:.3} ms each",
        per.as_secs_f64() * 1e3,
        per.as_secs_f64() * per_second * 100.0,
        (publish / rounds).as_secs_f64() * 1e3,
        (dropped / rounds).as_secs_f64() * 1e3
    );
}
