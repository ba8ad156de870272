//! The main loop with scripted probes and paused time: scheduling, concurrency,
//! publication policy, removal and shutdown, deterministic and instant.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use fleetdns_config::{Endpoint, MonitorConfig, Target};
use tokio::task::JoinHandle;

use super::*;
use crate::outcome::{Outcome, ProbeResult};
use crate::plan::fixtures::{fleet, monitor, profile};
use crate::spec::ProbeSpec;

/// A probe that takes `delay`, answers per host from a script (default healthy)
/// and records what it saw.
#[derive(Default)]
struct Fake {
    delay: Duration,
    unhealthy: Mutex<HashMap<String, bool>>,
    calls: Mutex<HashMap<String, Vec<Instant>>>,
    /// Instant each host's latest probe finished.
    done: Mutex<HashMap<String, Instant>>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

/// Decrements the in-flight count even when the probe is aborted.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Fake {
    fn new(delay: Duration) -> Arc<Fake> {
        Arc::new(Fake {
            delay,
            ..Fake::default()
        })
    }
    fn set_healthy(&self, host: &str, healthy: bool) {
        self.unhealthy
            .lock()
            .unwrap()
            .insert(host.to_string(), !healthy);
    }
    fn calls(&self, host: &str) -> Vec<Instant> {
        self.calls
            .lock()
            .unwrap()
            .get(host)
            .cloned()
            .unwrap_or_default()
    }
}

impl Probe for Fake {
    fn probe(&self, spec: &ProbeSpec) -> impl Future<Output = ProbeResult> + Send {
        let host = spec.host();
        async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            let _guard = InFlight(&self.in_flight);
            self.peak.fetch_max(now, Ordering::SeqCst);
            self.calls
                .lock()
                .unwrap()
                .entry(host.clone())
                .or_default()
                .push(Instant::now());
            tokio::time::sleep(self.delay).await;
            let bad = self.unhealthy.lock().unwrap().get(&host).copied() == Some(true);
            self.done.lock().unwrap().insert(host, Instant::now());
            if bad {
                ProbeResult::new(Outcome::ConnectError, "connect: refused".into(), self.delay)
            } else {
                ProbeResult::new(Outcome::Success, "HTTP 200".into(), self.delay)
            }
        }
    }
}

fn host_endpoint(i: usize) -> Endpoint {
    Endpoint {
        target: Target::Host(host(i)),
        cluster: format!("c{i}").into(),
        id: format!("e{i}").into(),
        ..crate::plan::fixtures::endpoint("x", 1)
    }
}

fn host(i: usize) -> String {
    format!("e{i}.test")
}

fn fleet_of(n: usize, monitor: MonitorConfig) -> Arc<Fleet> {
    Arc::new(fleet(vec![profile(
        "web",
        monitor,
        (0..n).map(host_endpoint).collect(),
    )]))
}

fn fast_monitor(interval: u32, tolerated: u32) -> MonitorConfig {
    MonitorConfig {
        interval_seconds: interval,
        timeout_seconds: 1,
        tolerated_failures: tolerated,
        ..monitor()
    }
}

struct Harness {
    fleet: watch::Sender<Arc<Fleet>>,
    health: watch::Receiver<Arc<Health>>,
    shutdown: CancellationToken,
    handle: JoinHandle<()>,
}

fn start(fake: &Arc<Fake>, settings: Settings, fleet: Arc<Fleet>) -> Harness {
    let (fleet_tx, fleet_rx) = watch::channel(fleet);
    let (health_tx, health_rx) = watch::channel(Arc::new(Health::default()));
    let shutdown = CancellationToken::new();
    let metrics = Metrics::unregistered().unwrap();
    let handle = tokio::spawn(supervise(
        fake.clone(),
        settings,
        fleet_rx,
        health_tx,
        metrics,
        shutdown.clone(),
    ));
    Harness {
        fleet: fleet_tx,
        health: health_rx,
        shutdown,
        handle,
    }
}

fn state(h: &watch::Receiver<Arc<Health>>, id: &str) -> Option<MonitorState> {
    h.borrow().get(id).map(|e| e.state)
}

#[tokio::test(start_paused = true)]
async fn first_probes_are_spread_over_the_interval() {
    let fake = Fake::new(Duration::from_millis(5));
    let h = start(
        &fake,
        Settings::default(),
        fleet_of(1000, fast_monitor(10, 3)),
    );
    let t0 = Instant::now();
    // Timers round up to the millisecond: allow a moment past the interval.
    tokio::time::sleep(Duration::from_millis(10_100)).await;
    let mut per_second = [0usize; 10];
    for i in 0..1000 {
        let calls = fake.calls(&host(i));
        let first = calls
            .first()
            .unwrap_or_else(|| panic!("e{i} not probed in its first interval"));
        per_second[((*first - t0).as_secs() as usize).min(9)] += 1;
    }
    // Uniform: 100 per second expected (sd ≈ 9.5); lock-step would put all in one.
    assert!(
        per_second.iter().all(|&n| (50..=150).contains(&n)),
        "first probes per second of the interval: {per_second:?}"
    );
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn probes_in_flight_never_exceed_the_limit() {
    let fake = Fake::new(Duration::from_millis(500));
    let settings = Settings {
        max_in_flight: 8,
        ..Settings::default()
    };
    let h = start(&fake, settings, fleet_of(100, fast_monitor(10, 3)));
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        fake.peak.load(Ordering::SeqCst),
        8,
        "limit reached but not exceeded"
    );
    // 8 slots × 2 probes/s cover 100 endpoints well within 12 s.
    for i in 0..100 {
        assert!(
            !fake.calls(&host(i)).is_empty(),
            "endpoint {i} never probed"
        );
    }
    h.shutdown.cancel();
}

/// Publications seen on `health` until `end`.
async fn count_publications(health: &mut watch::Receiver<Arc<Health>>, end: Instant) -> usize {
    health.borrow_and_update();
    let mut n = 0;
    while tokio::time::timeout_at(end, health.changed()).await.is_ok() {
        n += 1;
        health.borrow_and_update();
    }
    n
}

#[tokio::test(start_paused = true)]
async fn observations_are_coalesced() {
    let fake = Fake::new(Duration::from_millis(10));
    let mut h = start(&fake, Settings::default(), fleet_of(50, fast_monitor(1, 0)));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(h
        .health
        .borrow()
        .iter()
        .all(|(_, e)| e.state == MonitorState::Online));

    // 50 endpoints × 1 probe/s for 4 s = 200 observations, no transitions.
    let n = count_publications(&mut h.health, Instant::now() + Duration::from_secs(4)).await;
    assert!(
        (4..=9).contains(&n),
        "{n} publications in 4 s; want about two per second"
    );
    let e = h.health.borrow().get("e3").expect("probed").clone();
    assert_eq!(e.last.map(|o| o.detail), Some("HTTP 200".into()));
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn lone_transition_is_published_at_once_and_bursts_are_batched() {
    let fake = Fake::new(Duration::from_millis(10));
    let settings = Settings {
        coalesce: Duration::from_secs(3600),
        ..Settings::default()
    };
    let mut h = start(&fake, settings, fleet_of(1000, fast_monitor(1, 0)));
    // First round: 1000 CheckingEndpoint → Online transitions within 1 s.
    let n = count_publications(&mut h.health, Instant::now() + Duration::from_millis(1100)).await;
    assert!(h
        .health
        .borrow()
        .iter()
        .all(|(_, e)| e.state == MonitorState::Online));
    assert!(
        (5..=25).contains(&n),
        "{n} publications for a burst of 1000 transitions"
    );

    // Later, one failure (tolerated 0) is published in the instant its probe ends.
    fake.set_healthy(&host(7), false);
    let deadline = Instant::now() + Duration::from_secs(3);
    while state(&h.health, "e7") != Some(MonitorState::Degraded) {
        tokio::time::timeout_at(deadline, h.health.changed())
            .await
            .expect("Degraded published within one interval")
            .unwrap();
    }
    let probed = fake.done.lock().unwrap()[&host(7)];
    assert_eq!(Instant::now(), probed, "published without waiting");
    let e7 = h.health.borrow().get("e7").expect("probed").clone();
    assert_eq!(e7.last.map(|o| o.detail), Some("connect: refused".into()));
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn removed_endpoint_is_aborted_mid_probe_and_leaves_health() {
    // Probes hang for a minute, so at 11 s both endpoints are mid-probe.
    let fake = Fake::new(Duration::from_secs(60));
    let h = start(&fake, Settings::default(), fleet_of(2, fast_monitor(10, 3)));
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(fake.in_flight.load(Ordering::SeqCst), 2, "both probing");
    assert_eq!(state(&h.health, "e1"), Some(MonitorState::CheckingEndpoint));

    h.fleet.send_replace(fleet_of(1, fast_monitor(10, 3)));
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        fake.in_flight.load(Ordering::SeqCst),
        1,
        "e1's probe aborted, e0's not"
    );
    assert_eq!(state(&h.health, "e1"), None);
    assert_eq!(state(&h.health, "e0"), Some(MonitorState::CheckingEndpoint));
    let calls = fake.calls(&host(1)).len();
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(fake.calls(&host(1)).len(), calls, "no probes after removal");
    assert!(fake.calls(&host(0)).len() >= 2, "e0 still probed");
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn changed_monitor_restarts_from_checking_endpoint() {
    let fake = Fake::new(Duration::from_millis(10));
    fake.set_healthy(&host(0), false);
    let mut h = start(&fake, Settings::default(), fleet_of(1, fast_monitor(1, 0)));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(state(&h.health, "e0"), Some(MonitorState::Degraded));

    // New path: published as CheckingEndpoint at once, then judged afresh.
    fake.set_healthy(&host(0), true);
    let repathed = MonitorConfig {
        path: "/ready".into(),
        ..fast_monitor(1, 0)
    };
    let sent = Instant::now();
    h.fleet.send_replace(fleet_of(1, repathed));
    while state(&h.health, "e0") == Some(MonitorState::Degraded) {
        tokio::time::timeout(Duration::from_millis(1), h.health.changed())
            .await
            .expect("restart published at once")
            .unwrap();
    }
    assert_eq!(state(&h.health, "e0"), Some(MonitorState::CheckingEndpoint));
    assert_eq!(Instant::now(), sent);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(state(&h.health, "e0"), Some(MonitorState::Online));
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn shutdown_returns_at_once_and_aborts_probes() {
    let fake = Fake::new(Duration::from_secs(60));
    let h = start(&fake, Settings::default(), fleet_of(20, fast_monitor(1, 0)));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.in_flight.load(Ordering::SeqCst), 20);
    h.shutdown.cancel();
    tokio::time::timeout(Duration::from_millis(10), h.handle)
        .await
        .expect("run returns promptly")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(fake.in_flight.load(Ordering::SeqCst), 0, "probes aborted");
}

/// Every gap between two probe starts of `calls` lies within the jitter of
/// `interval` (plus one grid tick of rounding).
fn assert_gaps_within_jitter(what: &str, calls: &[Instant], interval: Duration) {
    let lo = interval.mul_f64(1.0 - crate::schedule::JITTER);
    let hi = interval.mul_f64(1.0 + crate::schedule::JITTER) + crate::schedule::tick(interval);
    for pair in calls.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            lo <= gap && gap <= hi,
            "{what}: {gap:?} between two probes, want {lo:?}..={hi:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_thousand_endpoints_are_each_probed_once_per_interval() {
    let fake = Fake::new(Duration::from_millis(10));
    let h = start(
        &fake,
        Settings::default(),
        fleet_of(1000, fast_monitor(1, 0)),
    );
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_millis(10_005)).await;
    for i in 0..1000 {
        let calls = fake.calls(&host(i));
        // The first within the first interval (plus a tick), then one per
        // 0.95–1.06 s: 9 to 11 probes in 10 s.
        assert!(
            calls
                .first()
                .is_some_and(|&c| c - t0 <= Duration::from_millis(1010)),
            "e{i}: first probe late or missing"
        );
        assert!(
            (9..=11).contains(&calls.len()),
            "e{i}: {} probes in 10 s",
            calls.len()
        );
        assert_gaps_within_jitter(&format!("e{i}"), &calls, Duration::from_secs(1));
    }
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_removed_between_probes_is_never_probed_again() {
    let fake = Fake::new(Duration::from_millis(10));
    let h = start(&fake, Settings::default(), fleet_of(10, fast_monitor(1, 0)));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // None is in flight now or never: remove 5..10 whatever their phase.
    h.fleet.send_replace(fleet_of(5, fast_monitor(1, 0)));
    tokio::time::sleep(Duration::from_millis(1)).await;
    let before: Vec<usize> = (0..10).map(|i| fake.calls(&host(i)).len()).collect();
    tokio::time::sleep(Duration::from_secs(10)).await;
    for (i, &before) in before.iter().enumerate() {
        let now = fake.calls(&host(i)).len();
        if i < 5 {
            assert!(now >= before + 9, "e{i} kept its schedule: {now}");
        } else {
            assert_eq!(now, before, "e{i} probed after removal");
            assert_eq!(state(&h.health, &format!("e{i}")), None);
        }
    }
    // Back again: one fresh schedule, not the old one resumed beside it.
    h.fleet.send_replace(fleet_of(10, fast_monitor(1, 0)));
    tokio::time::sleep(Duration::from_millis(10_005)).await;
    for i in 5..10 {
        let calls = fake.calls(&host(i));
        let after = &calls[before[i]..];
        assert!(
            (9..=11).contains(&after.len()),
            "e{i}: {} probes in 10 s",
            after.len()
        );
        assert_gaps_within_jitter(&format!("e{i}"), after, Duration::from_secs(1));
    }
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_changed_plan_restarts_its_schedule_and_an_unchanged_one_keeps_it() {
    let fake = Fake::new(Duration::from_millis(10));
    let h = start(&fake, Settings::default(), fleet_of(20, fast_monitor(1, 0)));
    tokio::time::sleep(Duration::from_millis(3500)).await;

    // Reweighted: nothing the probe depends on, so every schedule goes on.
    let mut reweighted = (*fleet_of(20, fast_monitor(1, 0))).clone();
    for e in &mut reweighted.profile_mut(0).endpoints {
        e.weight = 7;
    }
    h.fleet.send_replace(Arc::new(reweighted));
    tokio::time::sleep(Duration::from_millis(3000)).await;
    for i in 0..20 {
        assert_gaps_within_jitter(
            &format!("e{i}"),
            &fake.calls(&host(i)),
            Duration::from_secs(1),
        );
    }

    // A 2 s interval instead: a new schedule at that interval, the old one gone.
    let changed_at = Instant::now();
    h.fleet.send_replace(fleet_of(20, fast_monitor(2, 0)));
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(
        (0..20).all(|i| state(&h.health, &format!("e{i}")) == Some(MonitorState::CheckingEndpoint))
    );
    tokio::time::sleep(Duration::from_millis(12_000)).await;
    for i in 0..20 {
        let calls: Vec<Instant> = fake
            .calls(&host(i))
            .into_iter()
            .filter(|&c| c > changed_at)
            .collect();
        assert!(
            calls
                .first()
                .is_some_and(|&c| c - changed_at <= Duration::from_millis(2020)),
            "e{i}: first probe after the change late or missing"
        );
        assert!(
            (5..=7).contains(&calls.len()),
            "e{i}: {} probes in 12 s at 2 s",
            calls.len()
        );
        assert_gaps_within_jitter(&format!("e{i}"), &calls, Duration::from_secs(2));
        assert_eq!(
            state(&h.health, &format!("e{i}")),
            Some(MonitorState::Online)
        );
    }
    h.shutdown.cancel();
}
