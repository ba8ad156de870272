//! Benchmark: how fast a dead endpoint shows up as Degraded in `Health`.
//!
//! ```text
//! cargo run --release -p fleetdns-prober --example failover -- [--trials 10]
//! ```
//!
//! One HTTP endpoint (a test [`Backend`] on 127.0.11.1), probed every 1 s with a
//! 1 s timeout, for tolerated failures 0 and 1. Each trial waits for Online,
//! kills the backend (the port then refuses) and measures the time until the
//! prober publishes Degraded, then restarts the backend and measures the time
//! back to Online. The kill lands at a random phase of the probe cycle (a
//! random 0–1 s pause after Online), so the figures are min / mean / max over
//! the trials.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fleetdns_config::{
    Endpoint, Fleet, Health, MonitorConfig, MonitorState, Profile, Protocol, Target,
};
use fleetdns_prober::{run, Metrics};
use fleetdns_testsupport::backend::{Backend, Behavior};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const ADDR: ([u8; 4], u16) = ([127, 0, 11, 1], 18090);

fn fleet(tolerated: u32) -> Fleet {
    let yaml = "\
apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
metadata:
  name: fleetdns
spec:
  zone: fleet.example.com
  nameServers:
    - name: ns1.fleet.example.com
      addresses: [127.0.0.1]
";
    let (mut fleet, _) = fleetdns_config::file::load_str(Path::new("bench.yaml"), yaml)
        .unwrap_or_else(|d| panic!("base config: {d:?}"));
    let ([a, b, c, d], port) = ADDR;
    fleet.profiles = vec![std::sync::Arc::new(Profile {
        namespace: "bench".into(),
        name: "web".into(),
        owner: "bench-web.fleet.example.com".into(),
        ttl: 0,
        monitor: MonitorConfig {
            protocol: Protocol::Http,
            port,
            path: "/healthz".into(),
            interval_seconds: 1,
            timeout_seconds: 1,
            tolerated_failures: tolerated,
            custom_headers: vec![],
            expected_status: vec![(200, 200)],
            verify_tls: false,
        }
        .into(),
        fail_closed: false,
        routing: fleetdns_config::RoutingMethod::Weighted,
        endpoints: vec![Endpoint {
            id: "bench/web#web#east".into(),
            backend: "web".into(),
            service: "web".into(),
            cluster: "east".into(),
            target: Target::Addresses {
                v4: Some([a, b, c, d].into()),
                v6: None,
            },
            weight: 1,
            export_weight: 1,
            always_serve: false,
            priority: fleetdns_config::routing::DEFAULT_PRIORITY,
        }],
    })];
    fleet
}

/// Waits (at most 30 s) until the endpoint is in `want`; returns the time taken.
async fn wait(health: &mut watch::Receiver<Arc<Health>>, want: MonitorState) -> Duration {
    let start = Instant::now();
    loop {
        if health
            .borrow_and_update()
            .iter()
            .next()
            .map(|(_, e)| e.state)
            == Some(want)
        {
            return start.elapsed();
        }
        tokio::time::timeout(Duration::from_secs(30), health.changed())
            .await
            .unwrap_or_else(|_| panic!("not {want:?} within 30 s"))
            .expect("prober running");
    }
}

fn summary(label: &str, d: &[Duration]) {
    let ms: Vec<f64> = d.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ms.iter().copied().fold(0.0, f64::max);
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    println!("  {label:<22} min {min:>5.0} ms   mean {mean:>5.0} ms   max {max:>5.0} ms");
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut trials = 10usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--trials", Some(n)) => trials = n,
            _ => panic!("usage: failover [--trials N]"),
        }
    }
    let addr = SocketAddr::from(ADDR);
    println!("failover: HTTP, interval 1 s, timeout 1 s, backend killed (port refuses); {trials} trials each");
    for tolerated in [0, 1] {
        let mut backend = Backend::start(addr, Behavior::Status(200));
        let (_fleet_tx, fleet_rx) = watch::channel(Arc::new(fleet(tolerated)));
        let (health_tx, mut health) = watch::channel(Arc::new(Health::default()));
        let shutdown = CancellationToken::new();
        let metrics = Metrics::unregistered().expect("metrics");
        let prober = tokio::spawn(run(fleet_rx, health_tx, metrics, shutdown.clone()));

        let (mut down, mut up) = (Vec::new(), Vec::new());
        for _ in 0..trials {
            wait(&mut health, MonitorState::Online).await;
            // Kill at a random phase of the probe cycle.
            tokio::time::sleep(Duration::from_millis(fastrand::u64(0..1000))).await;
            backend.stop();
            down.push(wait(&mut health, MonitorState::Degraded).await);
            backend.restart();
            up.push(wait(&mut health, MonitorState::Online).await);
        }
        println!(
            "tolerated failures {tolerated} (Degraded after {} failure(s)):",
            tolerated + 1
        );
        summary("kill → Degraded", &down);
        summary("restart → Online", &up);
        shutdown.cancel();
        let _ = prober.await;
        backend.stop();
    }
}
