//! What signing costs at compile time: `cargo run --release -p fleetdns-dns
//! --example sign_cost -- 10000` compiles a fleet of N profiles (two IPv4
//! endpoints each), unsigned and signed (one ECDSA P-256 CSK), then measures a
//! recompile with nothing changed, a change to one endpoint, and a re-sign pass
//! once every signature is past half its lifetime. Prints wall and CPU time
//! (one thread) and the signatures made. Used by scripts/bench_dnssec.sh.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use fleetdns_config::{file, Fleet, Health};
use fleetdns_dns::dnssec::{Algorithm, SigCache, SigningKey, Validity, FLAGS_KSK};
use fleetdns_dns::{DnsMetrics, Signing, Snapshot};

fn fleet(n: usize, changed: bool) -> Fleet {
    let mut y = String::from(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.example.com
  soa: {serial: 1}
  nameServers: [{name: ns1.fleet.example.com, addresses: [127.0.0.1]}]
  clusters:
",
    );
    for c in 0..2 {
        y += &format!("    - name: c{c}\n      services:\n");
        for i in 0..n {
            let last = if changed && i == 0 && c == 0 {
                250
            } else {
                c + 1
            };
            let _ = writeln!(
                y,
                "        - {{namespace: ns, name: s{i}, loadBalancer: ['10.{}.{}.{last}']}}",
                i >> 8 & 255,
                i & 255
            );
        }
    }
    for i in 0..n {
        let _ = write!(
            y,
            "---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {{name: p{i}, namespace: ns}}
spec: {{resourceGroup: rg}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: p{i}, namespace: ns}}
spec: {{profile: {{name: p{i}}}, backend: {{name: s{i}}}, weight: 1}}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {{name: s{i}, namespace: ns}}
"
        );
    }
    file::load_str(Path::new("scale.yaml"), &y)
        .unwrap_or_else(|d| panic!("{d}"))
        .0
}

/// CPU seconds this process has used (utime + stime).
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|t| t.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|t| t.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let metrics = DnsMetrics::unregistered().expect("metrics");
    let keys = vec![
        SigningKey::generate(Algorithm::EcdsaP256Sha256, FLAGS_KSK)
            .expect("key")
            .0,
    ];
    let (base, changed) = (fleet(n, false), fleet(n, true));
    let health = Arc::new(Health::default());
    let mut cache = SigCache::default();
    let now = 1_800_000_000u32;
    let step = |label: &str, fleet: &Fleet, signed: bool, now: u32, cache: &mut SigCache| {
        let (made0, _) = cache.counts();
        let (t, c) = (Instant::now(), cpu());
        let signing = signed.then_some(Signing {
            keys: &keys,
            validity: Validity {
                lifetime: 14 * 86_400,
                skew: 3_600,
            },
            now,
            cache,
        });
        let s = Snapshot::compile_signed(fleet, health.clone(), &metrics, signing);
        let (wall, cpu_s) = (t.elapsed().as_secs_f64(), cpu() - c);
        drop(s);
        println!(
            "{n}\t{label}\t{wall:.3}\t{cpu_s:.2}\t{}\t{}",
            cache.counts().0 - made0,
            cache.len()
        );
    };
    println!("profiles\tstep\twall_s\tcpu_s\tsignatures_made\tsignatures_held");
    step("compile unsigned", &base, false, now, &mut cache);
    step("compile + sign (cold)", &base, true, now, &mut cache);
    step(
        "recompile, nothing changed",
        &base,
        true,
        now + 60,
        &mut cache,
    );
    step(
        "recompile, one endpoint changed",
        &changed,
        true,
        now + 120,
        &mut cache,
    );
    step(
        "re-sign pass, all past half-life",
        &changed,
        true,
        now + 8 * 86_400,
        &mut cache,
    );
}
