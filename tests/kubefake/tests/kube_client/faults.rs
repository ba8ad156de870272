//! Faults the fake injects and how kube's client and watcher live through them: apiserver
//! restarts (with and without history), an unreachable cluster, injected errors and latency.

use std::time::Duration;

use fleetdns_config::crd::v1beta1;
use fleetdns_testsupport::wait;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use kube::runtime::watcher::{self, Event};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn restart_and_unreachable_cluster_watcher_recovers() {
    let c = start(6, "member");
    let api: Api<Service> = Api::namespaced(client(&c).await, "apps");
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "apps"},
                     "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
                     "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}});
    let created = c.create_with_status(&svc).expect("seed service");
    assert_eq!(
        created["status"]["loadBalancer"]["ingress"][0]["ip"],
        "192.0.2.10"
    );
    let mut rx = spawn_watcher(api.clone(), watcher::Config::default());
    until(&mut rx, "InitDone", |e| matches!(e, Ok(Event::InitDone))).await;

    // Down until the refused request below is done: a timed restart could come back
    // before a slow machine gets to send it. `stop` holds the cluster down for as long
    // as the assertion takes.
    c.stop();
    assert!(!c.is_listening());
    let err = api.get("web").await.unwrap_err();
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "connection refused while down: {err:?}"
    );
    // Back through `restart`'s own timed path (history kept), after 300 ms more down.
    c.restart(Duration::from_millis(300), false);
    wait::eventually_async(
        "the fake cluster listening again after a 300 ms restart",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || std::future::ready(c.is_listening()),
    )
    .await;
    c.merge_patch(
        "v1",
        "Service",
        "apps",
        "web",
        &json!({"metadata": {"annotations": {"a": "1"}}}),
        false,
    )
    .unwrap();
    let seen = until(&mut rx, "MODIFIED web after restart", |e| {
        matches!(e, Ok(Event::Apply(s)) if s.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("a")))
    })
    .await;
    // History was kept, so the watcher resumed from its resourceVersion instead of relisting.
    assert!(
        !seen.iter().any(|e| matches!(e, Ok(Event::Init))),
        "{seen:?}"
    );

    // A restart that loses the history: the watcher relists (Init … InitDone) and goes on.
    c.restart(Duration::from_millis(200), true);
    let seen = until(&mut rx, "relist after compacting restart", |e| {
        matches!(e, Ok(Event::InitDone))
    })
    .await;
    assert!(
        seen.iter().any(|e| matches!(e, Ok(Event::Init))),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e, Err(s) if s.contains("Expired"))),
        "{seen:?}"
    );
    c.merge_patch(
        "v1",
        "Service",
        "apps",
        "web",
        &json!({"metadata": {"annotations": {"b": "2"}}}),
        false,
    )
    .unwrap();
    until(&mut rx, "MODIFIED web after relist", |e| {
        matches!(e, Ok(Event::Apply(s)) if s.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("b")))
    })
    .await;

    // Unreachable, then reachable again.
    c.stop();
    assert!(api.get("web").await.is_err());
    c.resume().unwrap();
    assert_eq!(
        api.get("web").await.unwrap().metadata.name.as_deref(),
        Some("web")
    );
}

#[tokio::test]
async fn injected_errors_and_latency() {
    let c = start(8, "hub");
    let api: Api<v1beta1::TrafficManagerProfile> = Api::namespaced(client(&c).await, "ns");
    c.fail_next(1);
    let err = api_error(
        api.create(&PostParams::default(), &profile("ns", "p"))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 500);
    assert!(api
        .create(&PostParams::default(), &profile("ns", "p"))
        .await
        .is_ok());
    // 503 is retried by kube's default retry policy (Retry-After: 1 honoured).
    c.fail_next_with(1, 503, Some("/trafficmanagerprofiles/p"));
    assert!(api.get("p").await.is_ok());
    let log = c.write_log();
    assert_eq!(log[0].reason.as_deref(), Some("InjectedFault"));
    assert_eq!(c.rejected_writes(), 0, "injected faults are not rejections");

    c.set_latency(Duration::from_millis(300));
    let t = std::time::Instant::now();
    api.get("p").await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
    c.set_latency(Duration::ZERO);
}
