//! What one probe judges healthy: Traffic Manager's rules against real servers.

use std::time::Duration;

use fleetdns_config::testing::MonitorBuilder;
use fleetdns_config::{MonitorConfig, Protocol};
use fleetdns_prober::{Outcome, ProbeResult, Probes, Settings};
use fleetdns_testsupport::backend::{Backend, Behavior};
use fleetdns_testsupport::wait;

use crate::fixtures::{addr, fast_monitor, install_crypto, monitor, target};

fn probes() -> Probes {
    install_crypto();
    Probes::new(&Settings::default()).expect("probe clients")
}

async fn check(m: &MonitorConfig, b: &Backend) -> ProbeResult {
    probes().check(m, &target(b.addr())).await
}

#[tokio::test]
async fn http_200_is_healthy_and_sends_user_agent() {
    let b = Backend::start(addr(1), Behavior::Status(200));
    let r = check(&monitor(Protocol::Http, 0), &b).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (Outcome::Success, "HTTP 200")
    );
    assert_eq!(b.hits(), 1);
    assert_eq!(b.last_path().as_deref(), Some("/healthz"));
    let ua = b.last_header("user-agent").unwrap_or_default();
    assert!(ua.starts_with("fleetdns-probe/"), "User-Agent {ua:?}");
}

#[tokio::test]
async fn http_503_is_unhealthy() {
    let b = Backend::start(addr(2), Behavior::Status(503));
    let r = check(&monitor(Protocol::Http, 0), &b).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (Outcome::UnexpectedStatus, "HTTP 503")
    );
    assert!(!r.observation().healthy);
}

#[tokio::test]
async fn redirect_is_a_failure_and_not_followed() {
    let b = Backend::start(addr(3), Behavior::Redirect);
    let r = check(&monitor(Protocol::Http, 0), &b).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (Outcome::Redirect, "HTTP 302 (redirect)")
    );
    assert_eq!(b.hits(), 1, "the Location was not followed");
    assert_eq!(b.last_path().as_deref(), Some("/healthz"));
}

#[tokio::test]
async fn expected_ranges_decide_health() {
    let b = Backend::start(addr(4), Behavior::Status(204));
    let m = fast_monitor(Protocol::Http, 0)
        .expected_status(&[(200, 299), (301, 301)])
        .build();
    let p = probes();
    for (status, healthy) in [
        (204, true),
        (299, true),
        (301, true),
        (302, false),
        (503, false),
    ] {
        b.set_behavior(Behavior::Status(status));
        let r = p.check(&m, &target(b.addr())).await;
        assert_eq!(r.outcome.is_healthy(), healthy, "status {status}: {r:?}");
    }
    // The default (200 only) rejects a 204.
    b.set_behavior(Behavior::Status(204));
    let r = p
        .check(&monitor(Protocol::Http, 0), &target(b.addr()))
        .await;
    assert_eq!(r.outcome, Outcome::UnexpectedStatus);
}

#[tokio::test]
async fn server_that_never_answers_times_out() {
    let b = Backend::start(addr(5), Behavior::Hang);
    let r = check(&monitor(Protocol::Http, 0), &b).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (Outcome::Timeout, "timeout after 1s")
    );
    assert!(
        r.duration >= Duration::from_secs(1) && r.duration < Duration::from_millis(2500),
        "took {:?}",
        r.duration
    );
    assert_eq!(b.hits(), 1, "the request was sent");
}

#[tokio::test]
async fn host_header_defaults_to_target_and_custom_headers_arrive() {
    let b = Backend::start(addr(6), Behavior::Status(200));
    let p = probes();
    p.check(&monitor(Protocol::Http, 0), &target(b.addr()))
        .await;
    assert_eq!(b.last_host().as_deref(), Some("127.0.10.6"));

    let m = fast_monitor(Protocol::Http, 0)
        .header("HOST", "www.contoso.com")
        .header("X-Probe-Token", "s3cret")
        .build();
    let r = p.check(&m, &target(b.addr())).await;
    assert!(r.outcome.is_healthy(), "{r:?}");
    assert_eq!(b.last_host().as_deref(), Some("www.contoso.com"));
    assert_eq!(b.last_header("x-probe-token").as_deref(), Some("s3cret"));
}

#[tokio::test]
async fn https_self_signed_is_healthy_unless_verify_tls() {
    let b = Backend::start_tls(addr(7), Behavior::Status(200));
    let p = probes();
    let m = monitor(Protocol::Https, 0);
    let r = p.check(&m, &target(b.addr())).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (Outcome::Success, "HTTP 200")
    );

    let strict = MonitorBuilder::from(m).verify_tls(true).build();
    let r = p.check(&strict, &target(b.addr())).await;
    assert_eq!(r.outcome, Outcome::TlsError, "{r:?}");
    assert_eq!(b.hits(), 1, "no request after a rejected certificate");

    // Plain HTTP against a TLS port is not healthy either.
    let r = p
        .check(&monitor(Protocol::Http, 0), &target(b.addr()))
        .await;
    assert!(!r.outcome.is_healthy(), "{r:?}");
}

#[tokio::test]
async fn tcp_probe_is_healthy_when_connect_succeeds_and_fails_when_refused() {
    let mut b = Backend::start(addr(8), Behavior::Tcp);
    let p = probes();
    let m = monitor(Protocol::Tcp, 0);
    let r = p.check(&m, &target(b.addr())).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (Outcome::Success, "TCP connected")
    );
    // The kernel completes the handshake before the backend's accept() runs.
    wait::eventually_async(
        "the backend to accept the connection",
        Duration::from_secs(1),
        Duration::from_millis(20),
        || std::future::ready(b.connections() == 1),
    )
    .await;
    assert_eq!(b.hits(), 0, "a TCP probe sends nothing");

    b.stop();
    let r = p.check(&m, &target(b.addr())).await;
    assert_eq!(r.outcome, Outcome::ConnectError, "{r:?}");
    assert!(r.detail.contains("refused"), "{}", r.detail);
}

#[tokio::test]
async fn refused_http_is_a_connect_error_and_each_probe_uses_a_new_connection() {
    let mut b = Backend::start(addr(9), Behavior::Status(200));
    let p = probes();
    let m = monitor(Protocol::Http, 0);
    for _ in 0..3 {
        assert!(p.check(&m, &target(b.addr())).await.outcome.is_healthy());
    }
    assert_eq!((b.hits(), b.connections()), (3, 3), "no connection reuse");

    b.stop();
    let r = p.check(&m, &target(b.addr())).await;
    assert_eq!(r.outcome, Outcome::ConnectError, "{r:?}");
    assert!(r.detail.starts_with("connect: "), "{}", r.detail);
}
