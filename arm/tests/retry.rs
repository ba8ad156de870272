//! The ARM client against the ARM emulator: per-request retries, every Retry-After
//! form, request ids, error details, remaining-quota gauges. `cargo test arm_retry`.

use std::sync::Arc;
use std::time::Duration;

use fleetdns_arm::{ArmClient, ArmMetrics, Blame, Call, ClientOptions, Resource, TokenSource};
use fleetdns_armemu::{ArmEmu, Fault};
use fleetdns_config::azure::AzureAuth;
use fleetdns_config::backoff::Backoff;

const PATH: &str = "/subscriptions/00000000-0000-0000-0000-0000000000c1/resourceGroups/rg/providers/Microsoft.Network/trafficmanagerprofiles/p1";

/// reqwest is built without a TLS provider; the binary installs ring, tests do too.
fn ring() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn client(emu: &ArmEmu, metrics: &ArmMetrics, attempts: u32) -> ArmClient {
    ring();
    let http = ArmClient::http(Duration::from_secs(5)).unwrap();
    let tokens = Arc::new(TokenSource::new(
        AzureAuth::ManagedIdentity {
            client_id: None,
            endpoint: format!("{}/metadata/identity/oauth2/token", emu.url()),
        },
        emu.url(),
        Resource::arm(&emu.url()),
        http.clone(),
        metrics.clone(),
    ));
    let options = ClientOptions {
        max_requests_per_second: 100,
        attempts,
        backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(100)).unwrap(),
    };
    ArmClient::new(http, emu.url(), tokens, metrics.clone(), options)
}

fn get() -> Call {
    Call::get(PATH.into(), "2022-04-01")
}

#[tokio::test]
async fn arm_retry_429_and_503_in_every_retry_after_form_are_retried_never_early() {
    let emu = ArmEmu::start("127.0.93.1:0");
    let metrics = ArmMetrics::unregistered();
    let c = client(&emu, &metrics, 6);
    emu.inject(Fault::Unavailable(1), 1);
    emu.inject(Fault::ThrottleMs(300), 1);
    emu.inject(Fault::ThrottleDate(2), 1);
    emu.inject(Fault::ServerError, 1);
    let r = c.send(&get()).await.expect("succeeds after the faults");
    assert_eq!(r.status, 404, "no such profile: a GET answers Ok(404)");
    let log = emu.requests();
    assert_eq!(log.len(), 5, "four faults, then the answer: {log:#?}");
    assert!(
        log.iter().all(|l| !l.early),
        "a request came before its Retry-After: {log:#?}"
    );
    let ids: std::collections::BTreeSet<_> = log
        .iter()
        .map(|l| {
            l.client_request_id
                .clone()
                .expect("x-ms-client-request-id sent")
        })
        .collect();
    assert_eq!(ids.len(), 5, "a fresh client request id per attempt");
    assert_eq!(r.ids.request.as_deref(), Some(log[4].request_id.as_str()));
    assert!(r.ids.correlation.is_some());
    let retried = metrics.requests.with_label_values(&["GET", "429"]).get();
    assert_eq!(retried, 2);
    assert!(
        metrics
            .rate_limit
            .with_label_values(&["subscription-reads"])
            .get()
            > 0
    );
}

#[tokio::test]
async fn arm_retry_gives_up_at_once_on_the_callers_fault_with_ids_and_details() {
    let emu = ArmEmu::start("127.0.93.2:0");
    let metrics = ArmMetrics::unregistered();
    let c = client(&emu, &metrics, 4);
    emu.inject(Fault::Forbidden, 1);
    let e = c.send(&get()).await.expect_err("403 is final");
    assert_eq!(e.status(), Some(403));
    assert_eq!(e.code(), Some("AuthorizationFailed"));
    assert_eq!(e.blame(), Blame::Caller);
    assert!(!e.retryable());
    let log = emu.requests();
    assert_eq!(log.len(), 1, "not retried");
    let text = e.to_string();
    assert!(
        text.contains(&log[0].request_id),
        "request id in the error: {text}"
    );
    assert!(text.contains("correlation id"), "{text}");

    // Endpoint errors carry ARM's details.
    emu.fail_endpoint("ep1", 400, "BadRequest");
    let put = Call::put(
        format!("{PATH}/ExternalEndpoints/ep1"),
        "2022-04-01",
        serde_json::json!({"properties": {"target": "203.0.113.1"}}),
    );
    let e = c.send(&put).await.expect_err("400");
    assert!(e.to_string().contains("injected detail"), "{e}");
}

#[tokio::test]
async fn arm_retry_stops_after_the_configured_attempts() {
    let emu = ArmEmu::start("127.0.93.3:0");
    let metrics = ArmMetrics::unregistered();
    let c = client(&emu, &metrics, 3);
    emu.inject(Fault::ServerError, 5);
    let e = c.send(&get()).await.expect_err("still failing");
    assert_eq!(e.status(), Some(500));
    assert_eq!(e.blame(), Blame::Azure);
    assert_eq!(emu.requests().len(), 3);
}

#[tokio::test]
async fn arm_retry_timeouts_are_retried() {
    let emu = ArmEmu::start("127.0.93.4:0");
    let metrics = ArmMetrics::unregistered();
    ring();
    let http = ArmClient::http(Duration::from_millis(300)).unwrap();
    let tokens = Arc::new(TokenSource::new(
        AzureAuth::ManagedIdentity {
            client_id: None,
            endpoint: format!("{}/metadata/identity/oauth2/token", emu.url()),
        },
        emu.url(),
        Resource::arm(&emu.url()),
        http.clone(),
        metrics.clone(),
    ));
    let options = ClientOptions {
        max_requests_per_second: 100,
        attempts: 3,
        backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(50)).unwrap(),
    };
    let c = ArmClient::new(http, emu.url(), tokens, metrics.clone(), options);
    // Warm the token so the delay hits the ARM request, not the token request.
    c.send(&get()).await.unwrap();
    emu.clear_log();
    emu.inject(Fault::Delay(Duration::from_secs(2)), 1);
    emu.inject(Fault::Reset, 1);
    let r = c.send(&get()).await.expect("third attempt answers");
    assert_eq!(r.status, 404);
    assert_eq!(
        metrics.requests.with_label_values(&["GET", "error"]).get(),
        2
    );
}
