//! The prober as the binary runs it: `run` with a fleet channel, real backends,
//! real time (1 s intervals), health published over a watch channel.

use std::sync::Arc;
use std::time::Duration;

use fleetdns_config::testing::MonitorBuilder;
use fleetdns_config::{Endpoint, Fleet, Health, MonitorState, Protocol};
use fleetdns_prober::{run, Metrics};
use fleetdns_testsupport::backend::{Backend, Behavior};
use fleetdns_testsupport::wait;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::fixtures::*;

struct Running {
    fleet: watch::Sender<Arc<Fleet>>,
    health: watch::Receiver<Arc<Health>>,
    registry: Registry,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

fn start(fleet: Arc<Fleet>) -> Running {
    install_crypto();
    let (fleet_tx, fleet_rx) = watch::channel(fleet);
    let (health_tx, health_rx) = watch::channel(Arc::new(Health::default()));
    let registry = Registry::new();
    let metrics = Metrics::register(&registry).expect("register metrics");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(fleet_rx, health_tx, metrics, shutdown.clone()));
    Running {
        fleet: fleet_tx,
        health: health_rx,
        registry,
        shutdown,
        task,
    }
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(1), self.task)
            .await
            .expect("run returns after shutdown")
            .expect("run did not panic");
    }

    fn scrape(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }
}

#[tokio::test]
async fn killed_endpoint_degrades_in_time_and_recovers_after_restart() {
    let mut b = Backend::start(addr(20), Behavior::Status(200));
    let m = monitor(Protocol::Http, 1);
    let mut p = start(fleet(vec![profile(
        m.clone(),
        vec![endpoint("e", b.addr())],
    )]));
    wait_state(
        &mut p.health,
        "e",
        MonitorState::Online,
        Duration::from_secs(3),
    )
    .await;

    b.stop();
    // interval × (tolerated + 1) + timeout + 1 s
    let bound = Duration::from_secs(u64::from(
        m.interval_seconds * (m.tolerated_failures + 1) + m.timeout_seconds + 1,
    ));
    let took = wait_state(&mut p.health, "e", MonitorState::Degraded, bound).await;
    let e = p.health.borrow().get("e").expect("probed").clone();
    assert_eq!(e.consecutive_failures, 2);
    let last = e.last.expect("an observation");
    assert!(
        !last.healthy && last.detail.starts_with("connect: "),
        "{last:?}"
    );
    assert!(
        took >= Duration::from_millis(900),
        "needs two failures 1 s apart, took {took:?}"
    );

    b.restart();
    wait_state(
        &mut p.health,
        "e",
        MonitorState::Online,
        Duration::from_millis(2500),
    )
    .await;
    let text = p.scrape();
    assert!(
        text.contains(
            r#"fleetdns_endpoint_state_transitions_total{from="Online",to="Degraded"} 1"#
        ) && text.contains(
            r#"fleetdns_endpoint_state_transitions_total{from="Degraded",to="Online"} 1"#
        ),
        "{text}"
    );
    p.stop().await;
}

#[tokio::test]
async fn removed_endpoint_stops_being_probed_and_always_serve_never_is() {
    let a = Backend::start(addr(21), Behavior::Status(200));
    let b = Backend::start(addr(22), Behavior::Status(200));
    let c = Backend::start(addr(23), Behavior::Status(200));
    let m = monitor(Protocol::Http, 0);
    let all: Vec<Endpoint> = vec![
        endpoint("a", a.addr()).build(),
        endpoint("b", b.addr()).build(),
        endpoint("c", c.addr()).always_serve(true).build(),
    ];
    let mut p = start(fleet(vec![profile(m.clone(), all.clone())]));
    wait_state(
        &mut p.health,
        "b",
        MonitorState::Online,
        Duration::from_secs(3),
    )
    .await;
    assert!(
        p.health.borrow().get("c").is_none(),
        "always-serve is not in Health"
    );

    let interval = Duration::from_secs(u64::from(m.interval_seconds));
    let without_b: Vec<_> = all.into_iter().filter(|e| &*e.id != "b").collect();
    p.fleet.send_replace(fleet(vec![profile(m, without_b)]));
    wait::eventually_async(
        "b to leave Health",
        Duration::from_secs(1),
        Duration::from_millis(20),
        || std::future::ready(state(&p.health, "b").is_none()),
    )
    .await;
    // Let a request sent just before the removal land before counting (a loopback
    // request to a backend that answers at once takes a few milliseconds).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (hits_a, hits_b) = (a.hits(), b.hits());
    // Two and a half probe intervals (2.5 s): had b stayed scheduled it would have been
    // probed at least twice in them, as a, still scheduled, must be.
    tokio::time::sleep(interval * 5 / 2).await;
    assert_eq!(b.hits(), hits_b, "b probed after removal");
    assert!(a.hits() >= hits_a + 2, "a still probed every second");
    assert_eq!(c.connections(), 0, "always-serve endpoint probed");
    assert_eq!(
        state(&p.health, "a"),
        Some(MonitorState::Online),
        "a kept its state"
    );
    let text = p.scrape();
    assert!(
        !text.contains(r#"endpoint="b""#),
        "b's series remain:\n{text}"
    );
    p.stop().await;
}

#[tokio::test]
async fn changed_monitor_config_takes_effect_without_restart() {
    let b = Backend::start(addr(24), Behavior::Status(503));
    let m = monitor(Protocol::Http, 0);
    let mut p = start(fleet(vec![profile(
        m.clone(),
        vec![endpoint("e", b.addr())],
    )]));
    wait_state(
        &mut p.health,
        "e",
        MonitorState::Degraded,
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(b.last_path().as_deref(), Some("/healthz"));

    // A new path, and 503 now counts as healthy (say, a drain page).
    let changed = MonitorBuilder::from(m)
        .path("/ready")
        .expected_status(&[(200, 200), (503, 503)])
        .build();
    p.fleet
        .send_replace(fleet(vec![profile(changed, vec![endpoint("e", b.addr())])]));
    wait_state(
        &mut p.health,
        "e",
        MonitorState::CheckingEndpoint,
        Duration::from_secs(1),
    )
    .await;
    wait_state(
        &mut p.health,
        "e",
        MonitorState::Online,
        Duration::from_millis(2500),
    )
    .await;
    assert_eq!(b.last_path().as_deref(), Some("/ready"));
    p.stop().await;
}

#[tokio::test]
async fn metrics_series_appear_for_probed_endpoints() {
    let b = Backend::start(addr(25), Behavior::Tcp);
    let mut p = start(fleet(vec![profile(
        monitor(Protocol::Tcp, 0),
        vec![endpoint("t", b.addr())],
    )]));
    wait_state(
        &mut p.health,
        "t",
        MonitorState::Online,
        Duration::from_secs(3),
    )
    .await;
    let text = p.scrape();
    // The per-endpoint series (up, monitor state) are rendered by the binary
    // from the published Health: src/window/gauges.rs and tests/e2e/health.rs.
    for line in [
        r#"fleetdns_probe_results_total{outcome="success",protocol="tcp"} 1"#.to_string(),
        r#"fleetdns_probe_duration_seconds_count{protocol="tcp"} 1"#.to_string(),
        r#"fleetdns_endpoint_state_transitions_total{from="CheckingEndpoint",to="Online"} 1"#
            .to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
    p.stop().await;
}
