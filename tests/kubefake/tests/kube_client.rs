//! The fake against the real kube-rs client and kube-runtime watcher: what fleetdns's
//! Kubernetes source and status write-back will see.
//!
//! Each test uses its own loopback address in 127.0.120.0/24 (port chosen by the kernel).

use std::time::Duration;

use fleetdns_config::crd::{v1alpha1, v1beta1};
use fleetdns_kubefake::{kubeconfig_yaml, write_kubeconfig, FakeCluster};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;
use serde_json::{json, Value};
use tokio::sync::mpsc;

const TMP: &str = "networking.fleet.azure.com/v1beta1";

fn start(last_octet: u8, name: &str) -> FakeCluster {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addr = format!("127.0.120.{last_octet}:0").parse().expect("addr");
    FakeCluster::start(addr, name).expect("fake cluster starts")
}

async fn client_with(c: &FakeCluster, token: &str) -> Client {
    let kc = Kubeconfig::from_yaml(&kubeconfig_yaml(&[c], Some(token))).expect("kubeconfig parses");
    let opts = KubeConfigOptions {
        context: Some(c.name().to_string()),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .expect("config");
    Client::try_from(cfg).expect("client")
}

async fn client(c: &FakeCluster) -> Client {
    client_with(c, &c.default_token()).await
}

fn profile(ns: &str, name: &str) -> v1beta1::TrafficManagerProfile {
    serde_json::from_value(json!({
        "apiVersion": TMP, "kind": "TrafficManagerProfile",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"resourceGroup": "rg", "monitorConfig": {"port": 8080}},
    }))
    .expect("profile")
}

fn condition(ty: &str, status: &str, reason: &str) -> Value {
    json!({"type": ty, "status": status, "reason": reason, "message": "m",
           "lastTransitionTime": "2026-01-02T15:04:05Z", "observedGeneration": 1})
}

/// Runs a watcher (with kube's default backoff) and forwards its events, errors as strings.
fn spawn_watcher<K>(
    api: Api<K>,
    cfg: watcher::Config,
) -> mpsc::UnboundedReceiver<Result<Event<K>, String>>
where
    K: kube::Resource
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut s = watcher::watcher(api, cfg).default_backoff().boxed();
        while let Some(ev) = s.next().await {
            if tx.send(ev.map_err(|e| e.to_string())).is_err() {
                return;
            }
        }
    });
    rx
}

/// Receives events until `pred` matches one (returning everything seen), or panics after 30 s
/// (kube's watcher backs off up to seconds after errors, and CI machines are busy).
async fn until<K: std::fmt::Debug>(
    rx: &mut mpsc::UnboundedReceiver<Result<Event<K>, String>>,
    what: &str,
    mut pred: impl FnMut(&Result<Event<K>, String>) -> bool,
) -> Vec<Result<Event<K>, String>> {
    let mut seen = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(end, rx.recv()).await {
            Ok(Some(ev)) => {
                let hit = pred(&ev);
                seen.push(ev);
                if hit {
                    return seen;
                }
            }
            Ok(None) => panic!("watcher ended while waiting for {what}; seen {seen:?}"),
            Err(_) => panic!("timed out waiting for {what}; seen {seen:?}"),
        }
    }
}

fn name_of<K: kube::Resource>(k: &K) -> String {
    k.meta().name.clone().unwrap_or_default()
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn list_watch_sees_added_modified_deleted() {
    let c = start(1, "hub");
    let api: Api<v1beta1::TrafficManagerProfile> = Api::namespaced(client(&c).await, "team-a");
    api.create(&PostParams::default(), &profile("team-a", "before"))
        .await
        .expect("create");
    let mut rx = spawn_watcher(api.clone(), watcher::Config::default());
    let init = until(&mut rx, "InitDone", |e| matches!(e, Ok(Event::InitDone))).await;
    assert!(
        init.iter()
            .any(|e| matches!(e, Ok(Event::InitApply(p)) if name_of(p) == "before")),
        "{init:?}"
    );

    c.create(&profile("team-a", "web")).expect("handle create");
    until(
        &mut rx,
        "ADDED web",
        |e| matches!(e, Ok(Event::Apply(p)) if name_of(p) == "web"),
    )
    .await;

    c.merge_patch(
        TMP,
        "TrafficManagerProfile",
        "team-a",
        "web",
        &json!({"spec": {"monitorConfig": {"path": "/healthz"}}}),
        false,
    )
    .expect("patch");
    let seen = until(&mut rx, "MODIFIED web", |e| {
        matches!(e, Ok(Event::Apply(p)) if name_of(p) == "web"
            && p.spec.monitor_config.as_ref().and_then(|m| m.path.as_deref()) == Some("/healthz"))
    })
    .await;
    let Some(Ok(Event::Apply(p))) = seen.last() else {
        unreachable!()
    };
    assert_eq!(
        p.metadata.generation,
        Some(2),
        "spec change bumps generation"
    );

    // Objects in another namespace are not seen by a namespaced watch.
    c.create(&profile("team-b", "other"))
        .expect("create in team-b");
    c.delete(TMP, "TrafficManagerProfile", "team-a", "web")
        .expect("delete");
    let seen = until(
        &mut rx,
        "DELETED web",
        |e| matches!(e, Ok(Event::Delete(p)) if name_of(p) == "web"),
    )
    .await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Ok(Event::Apply(p)) if name_of(p) == "other")),
        "{seen:?}"
    );

    // An all-namespaces list sees both namespaces, with a list resourceVersion.
    let all: Api<v1beta1::TrafficManagerProfile> = Api::all(client(&c).await);
    let list = all.list(&ListParams::default()).await.expect("list all");
    let names: Vec<String> = list.items.iter().map(name_of).collect();
    assert_eq!(names, ["before", "other"]);
    assert_eq!(
        list.metadata.resource_version,
        Some(c.resource_version().to_string())
    );
}

#[tokio::test]
async fn watch_410_makes_the_watcher_relist_and_continue() {
    let c = start(2, "hub");
    let api: Api<v1beta1::TrafficManagerProfile> = Api::namespaced(client(&c).await, "ns");
    c.create(&profile("ns", "a")).expect("create");
    let mut rx = spawn_watcher(api.clone(), watcher::Config::default());
    until(&mut rx, "InitDone", |e| matches!(e, Ok(Event::InitDone))).await;

    // Forced: every watch resumes into an ERROR event with a 410 Status.
    c.expire_all_watches();
    let seen = until(&mut rx, "relist InitDone", |e| {
        matches!(e, Ok(Event::InitDone))
    })
    .await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, Err(s) if s.contains("Expired"))),
        "410 surfaced as a watch error: {seen:?}"
    );
    assert!(
        seen.iter().any(|e| matches!(e, Ok(Event::Init))),
        "relisted: {seen:?}"
    );

    // History compaction: objects changed while the watcher was away, older resourceVersions
    // are gone, so the resumed watch gets 410 and the watcher relists.
    c.stop();
    c.create(&profile("ns", "b"))
        .expect("create while unreachable");
    c.compact();
    c.resume().expect("resume");
    let seen = until(
        &mut rx,
        "b after relist",
        |e| matches!(e, Ok(Event::InitApply(p)) if name_of(p) == "b"),
    )
    .await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, Err(s) if s.contains("too old resource version"))),
        "{seen:?}"
    );
    until(&mut rx, "InitDone", |e| matches!(e, Ok(Event::InitDone))).await;

    c.create(&profile("ns", "c")).expect("create c");
    until(
        &mut rx,
        "c",
        |e| matches!(e, Ok(Event::Apply(p)) if name_of(p) == "c"),
    )
    .await;
}

#[tokio::test]
async fn status_patch_merge_and_apply() {
    let c = start(3, "hub");
    let api: Api<v1beta1::TrafficManagerProfile> = Api::namespaced(client(&c).await, "ns");
    let created = api
        .create(&PostParams::default(), &profile("ns", "p"))
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    let mc = created.spec.monitor_config.as_ref().expect("monitorConfig");
    assert_eq!(
        (mc.interval_in_seconds, mc.path.as_deref(), mc.port),
        (Some(30), Some("/"), Some(8080)),
        "schema defaults"
    );

    let merged = api
        .patch_status(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                "dnsName": "ns-p.trafficmanager.net",
                "conditions": [condition("Programmed", "True", "Programmed")],
            }})),
        )
        .await
        .expect("merge status");
    let st = merged.status.as_ref().expect("status");
    assert_eq!(st.dns_name.as_deref(), Some("ns-p.trafficmanager.net"));
    assert_eq!(
        merged.metadata.generation,
        Some(1),
        "status does not bump generation"
    );

    let applied = api
        .patch_status(
            "p",
            &PatchParams::apply("fleetdns").force(),
            &Patch::Apply(json!({
                "apiVersion": TMP, "kind": "TrafficManagerProfile",
                "status": {"conditions": [condition("Other", "False", "Pending")]},
            })),
        )
        .await
        .expect("apply status");
    let types: Vec<String> = applied
        .status
        .unwrap()
        .conditions
        .unwrap()
        .iter()
        .map(|c| c.type_.clone())
        .collect();
    assert_eq!(types, ["Programmed", "Other"], "conditions merged by type");

    // Writes to the main resource ignore status; writes to /status ignore spec.
    let main = api
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"dnsName": "evil"}, "metadata": {"labels": {"x": "y"}}}),
            ),
        )
        .await
        .expect("main patch");
    assert_eq!(
        main.status.unwrap().dns_name.as_deref(),
        Some("ns-p.trafficmanager.net")
    );
    let st = api
        .patch_status(
            "p",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"resourceGroup": "other"}, "status": {"dnsName": "x.example"}}),
            ),
        )
        .await
        .expect("status patch with spec");
    assert_eq!(st.spec.resource_group, "rg");
    assert_eq!(st.status.unwrap().dns_name.as_deref(), Some("x.example"));

    let log = c.write_log();
    let status_writes: Vec<_> = log.iter().filter(|w| w.is_status()).collect();
    assert_eq!(status_writes.len(), 3);
    assert!(status_writes.iter().all(|w| w.accepted() && w.validated));
    assert_eq!(status_writes[1].verb, "apply");
    assert_eq!(status_writes[1].field_manager.as_deref(), Some("fleetdns"));
    assert_eq!(
        status_writes[1].content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
}

#[tokio::test]
async fn invalid_writes_are_rejected_with_422_and_field_causes() {
    let c = start(4, "hub");
    let api: Api<v1beta1::TrafficManagerProfile> = Api::namespaced(client(&c).await, "ns");
    api.create(&PostParams::default(), &profile("ns", "p"))
        .await
        .expect("create");

    let bad_status = json!({"status": {"conditions": [{"type": "Programmed", "status": "Maybe",
        "reason": "Programmed", "message": "", "lastTransitionTime": "2026-01-02T15:04:05Z"}]}});
    let err = api_error(
        api.patch_status("p", &PatchParams::default(), &Patch::Merge(bad_status))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"), "{err:?}");
    let causes = err
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].field, "status.conditions[0].status");
    assert!(err.message.starts_with("TrafficManagerProfile.networking.fleet.azure.com \"p\" is invalid: status.conditions[0].status"), "{}", err.message);

    // A condition without its required reason.
    let err = api_error(
        api.patch_status("p", &PatchParams::default(), &Patch::Merge(json!({"status": {"conditions": [
            {"type": "Programmed", "status": "True", "message": "", "lastTransitionTime": "2026-01-02T15:04:05Z"}]}})))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    assert!(
        err.message
            .contains("status.conditions[0].reason: Required value"),
        "{}",
        err.message
    );

    // Spec: enum, CEL interval/timeout rule, immutable resourceGroup, name length.
    let mut bad = profile("ns", "q");
    bad.spec
        .monitor_config
        .as_mut()
        .unwrap()
        .interval_in_seconds = Some(20);
    let err = api_error(api.create(&PostParams::default(), &bad).await.unwrap_err());
    assert!(
        err.message.contains("spec.monitorConfig.intervalInSeconds"),
        "{}",
        err.message
    );

    let mut bad = profile("ns", "q");
    let mc = bad.spec.monitor_config.as_mut().unwrap();
    mc.interval_in_seconds = Some(10);
    mc.timeout_in_seconds = Some(10);
    let err = api_error(api.create(&PostParams::default(), &bad).await.unwrap_err());
    assert!(err.message.contains("spec.monitorConfig: Invalid value: \"object\": timeoutInSeconds must be between 5 and 9 when intervalInSeconds is 10"), "{}", err.message);

    let err = api_error(
        api.patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"resourceGroup": "other"}})),
        )
        .await
        .unwrap_err(),
    );
    assert!(
        err.message
            .contains("spec.resourceGroup: Invalid value: \"string\": resourceGroup is immutable"),
        "{}",
        err.message
    );

    let long = "x".repeat(64);
    let err = api_error(
        api.create(&PostParams::default(), &profile("ns", &long))
            .await
            .unwrap_err(),
    );
    assert!(
        err.message.contains("metadata.name max length is 63"),
        "{}",
        err.message
    );

    // v1alpha1 has no interval/timeout CEL rules upstream.
    let alpha: Api<v1alpha1::TrafficManagerProfile> = Api::namespaced(client(&c).await, "ns");
    let mut obj: v1alpha1::TrafficManagerProfile = serde_json::from_value(json!({
        "apiVersion": "networking.fleet.azure.com/v1alpha1", "kind": "TrafficManagerProfile",
        "metadata": {"name": "alpha", "namespace": "ns"},
        "spec": {"resourceGroup": "rg", "monitorConfig": {"intervalInSeconds": 10, "timeoutInSeconds": 10}},
    })).unwrap();
    obj = alpha
        .create(&PostParams::default(), &obj)
        .await
        .expect("v1alpha1 allows it");
    assert_eq!(obj.metadata.name.as_deref(), Some("alpha"));
    // …and the same object is served as v1beta1.
    assert!(api.get("alpha").await.is_ok());

    assert_eq!(c.invalid_writes(), 6);
    let stored = api.get("p").await.unwrap();
    assert_eq!(stored.spec.resource_group, "rg");
    assert!(stored.status.is_none());
}

#[tokio::test]
async fn replace_with_stale_resource_version_conflicts() {
    let c = start(5, "hub");
    let leases: Api<Lease> = Api::namespaced(client(&c).await, "kube-system");
    let lease: Lease = serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "fleetdns-leader", "namespace": "kube-system"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15},
    }))
    .unwrap();
    let first = leases
        .create(&PostParams::default(), &lease)
        .await
        .expect("create lease");
    let err = api_error(
        leases
            .create(&PostParams::default(), &lease)
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));

    let mut mine = first.clone();
    mine.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let taken = leases
        .replace("fleetdns-leader", &PostParams::default(), &mine)
        .await
        .expect("replace with current rv");
    assert_ne!(
        taken.metadata.resource_version,
        first.metadata.resource_version
    );

    let mut stale = first.clone();
    stale.spec.as_mut().unwrap().holder_identity = Some("c".into());
    let err = api_error(
        leases
            .replace("fleetdns-leader", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (err.code, err.reason.as_str()),
        (409, "Conflict"),
        "{err:?}"
    );
    assert!(err.message.contains("the object has been modified"));

    // Leases cannot be updated unconditionally.
    stale.metadata.resource_version = None;
    let err = api_error(
        leases
            .replace("fleetdns-leader", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    assert_eq!(
        leases
            .get("fleetdns-leader")
            .await
            .unwrap()
            .spec
            .unwrap()
            .holder_identity
            .as_deref(),
        Some("b")
    );

    let err = api_error(leases.get("nope").await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    assert_eq!(err.message, "leases.coordination.k8s.io \"nope\" not found");
}

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

    c.restart(Duration::from_millis(300), false);
    assert!(!c.is_listening());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = api.get("web").await.unwrap_err();
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "connection refused while down: {err:?}"
    );
    let end = tokio::time::Instant::now() + Duration::from_secs(5);
    while !c.is_listening() && tokio::time::Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(c.is_listening());
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
async fn write_log_tells_writers_apart() {
    let c = start(7, "hub");
    c.create(&profile("ns", "p")).unwrap();
    let a: Api<v1beta1::TrafficManagerProfile> =
        Api::namespaced(client_with(&c, "replica-a").await, "ns");
    let b: Api<v1beta1::TrafficManagerProfile> =
        Api::namespaced(client_with(&c, "replica-b").await, "ns");
    a.patch_status(
        "p",
        &PatchParams::apply("fleetdns-a").force(),
        &Patch::Apply(json!({
        "apiVersion": TMP, "kind": "TrafficManagerProfile", "status": {"dnsName": "a"}})),
    )
    .await
    .unwrap();
    b.patch_status(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"dnsName": "b"}})),
    )
    .await
    .unwrap();
    // No-op writes are accepted but change nothing (no new resourceVersion).
    let rv = c.resource_version();
    b.patch_status(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"dnsName": "b"}})),
    )
    .await
    .unwrap();
    assert_eq!(c.resource_version(), rv);

    let log: Vec<_> = c
        .write_log()
        .into_iter()
        .filter(|w| w.is_status())
        .collect();
    let tokens: Vec<Option<&str>> = log.iter().map(|w| w.token.as_deref()).collect();
    assert_eq!(
        tokens,
        [Some("replica-a"), Some("replica-b"), Some("replica-b")]
    );
    assert_eq!(
        log.iter().map(|w| w.changed).collect::<Vec<_>>(),
        [true, true, false]
    );
    assert_eq!(
        log[0].body.as_ref().map(|b| b["status"]["dnsName"].clone()),
        Some(json!("a")),
        "the write log keeps what was written"
    );
    assert_eq!(
        log[0].path,
        "/apis/networking.fleet.azure.com/v1beta1/namespaces/ns/trafficmanagerprofiles/p/status"
    );

    // Only listed tokens may talk to the cluster.
    c.require_tokens(Some(vec!["replica-a".into()]));
    let err = api_error(b.get("p").await.unwrap_err());
    assert_eq!(err.code, 401);
    assert!(a.get("p").await.is_ok());
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

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let c = start(9, "member");
    let api: Api<v1beta1::ServiceExport> = Api::namespaced(client(&c).await, "apps");
    let export: v1beta1::ServiceExport = serde_json::from_value(json!({
        "apiVersion": TMP, "kind": "ServiceExport",
        "metadata": {"name": "web", "namespace": "apps", "finalizers": ["networking.fleet.azure.com/svc-export-cleanup"],
                     "annotations": {"networking.fleet.azure.com/weight": "10"}},
    })).unwrap();
    api.create(&PostParams::default(), &export).await.unwrap();
    let mut rx = spawn_watcher(api.clone(), watcher::Config::default());
    until(&mut rx, "InitDone", |e| matches!(e, Ok(Event::InitDone))).await;

    let res = api.delete("web", &DeleteParams::default()).await.unwrap();
    let pending = res.left().expect("object returned while finalizers remain");
    assert!(pending.metadata.deletion_timestamp.is_some());
    until(
        &mut rx,
        "MODIFIED with deletionTimestamp",
        |e| matches!(e, Ok(Event::Apply(s)) if s.metadata.deletion_timestamp.is_some()),
    )
    .await;
    let err = api_error(
        api.patch("web", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": ["a", "networking.fleet.azure.com/svc-export-cleanup"]}})))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    until(&mut rx, "DELETED", |e| matches!(e, Ok(Event::Delete(_)))).await;
    assert!(api.get_opt("web").await.unwrap().is_none());
}

#[tokio::test]
async fn unknown_fields_pruned_or_rejected_when_strict() {
    let c = start(10, "hub");
    let dynamic: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client(&c).await,
        "ns",
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(
                "networking.fleet.azure.com",
                "v1beta1",
                "TrafficManagerBackend",
            ),
            "trafficmanagerbackends",
        ),
    );
    let obj: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": TMP, "kind": "TrafficManagerBackend",
        "metadata": {"name": "b", "namespace": "ns"},
        "spec": {"profile": {"name": "p"}, "backend": {"name": "svc"}, "wieght": 5},
    }))
    .unwrap();
    let created = dynamic
        .create(&PostParams::default(), &obj)
        .await
        .expect("pruned create");
    assert_eq!(
        created.data["spec"],
        json!({"profile": {"name": "p"}, "backend": {"name": "svc"}, "weight": 1})
    );

    let strict = PatchParams {
        field_validation: Some(kube::api::ValidationDirective::Strict),
        ..PatchParams::default()
    };
    let err = api_error(
        dynamic
            .patch("b", &strict, &Patch::Merge(json!({"spec": {"wieght": 5}})))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 400);
    assert!(
        err.message.contains("unknown field \"spec.wieght\""),
        "{}",
        err.message
    );
    // Immutable backend.
    let err = api_error(
        dynamic
            .patch(
                "b",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"backend": {"name": "x"}}})),
            )
            .await
            .unwrap_err(),
    );
    assert!(
        err.message.contains("spec.backend is immutable"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn discovery_pagination_and_kubeconfig_file() {
    let c = start(11, "hub");
    let m = start(12, "member-1");
    let dir = std::env::temp_dir().join(format!("kubefake-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kubeconfig");
    write_kubeconfig(&path, &[&c, &m]).unwrap();
    let kc = Kubeconfig::read_from(&path).unwrap();
    let opts = KubeConfigOptions {
        context: Some("member-1".into()),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .unwrap();
    assert_eq!(cfg.cluster_url.to_string(), format!("{}/", m.url()));
    let member = Client::try_from(cfg).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let discovery = kube::Discovery::new(member.clone())
        .run()
        .await
        .expect("discovery");
    let group = discovery
        .get("networking.fleet.azure.com")
        .expect("fleet group");
    assert_eq!(group.preferred_version(), Some("v1beta1"));
    let kinds: Vec<String> = group
        .recommended_resources()
        .iter()
        .map(|(r, _)| r.kind.clone())
        .collect();
    assert!(
        kinds.contains(&"TrafficManagerProfile".to_string()),
        "{kinds:?}"
    );
    assert!(discovery.get("coordination.k8s.io").is_some());

    for i in 0..5 {
        m.create(&profile("ns", &format!("p{i}"))).unwrap();
    }
    let api: Api<v1beta1::TrafficManagerProfile> = Api::namespaced(member, "ns");
    let page = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().expect("continue token");
    let rest = api
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .unwrap();
    let names: Vec<String> = rest.items.iter().map(name_of).collect();
    assert_eq!(names, ["p2", "p3", "p4"]);
    assert!(rest.metadata.continue_.is_none());
    // Label selectors.
    m.merge_patch(
        TMP,
        "TrafficManagerProfile",
        "ns",
        "p3",
        &json!({"metadata": {"labels": {"tier": "gold"}}}),
        false,
    )
    .unwrap();
    let gold = api
        .list(&ListParams::default().labels("tier=gold"))
        .await
        .unwrap();
    assert_eq!(gold.items.iter().map(name_of).collect::<Vec<_>>(), ["p3"]);
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=p4"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
}

#[tokio::test]
async fn server_side_apply_tracks_field_ownership() {
    let c = start(13, "hub");
    c.create(&profile("ns", "p")).unwrap();
    let api: Api<v1beta1::TrafficManagerProfile> = Api::namespaced(client(&c).await, "ns");
    let status = |s: Value| {
        Patch::Apply(json!({"apiVersion": TMP, "kind": "TrafficManagerProfile", "status": s}))
    };
    let fleetdns = PatchParams::apply("fleetdns");

    api.patch_status(
        "p",
        &fleetdns,
        &status(
            json!({"dnsName": "x", "conditions": [condition("Programmed", "True", "Programmed")]}),
        ),
    )
    .await
    .unwrap();
    // Omitting a field this manager alone applied removes it.
    let p = api
        .patch_status(
            "p",
            &fleetdns,
            &status(json!({"conditions": [condition("Programmed", "True", "Programmed")]})),
        )
        .await
        .unwrap();
    let st = p.status.unwrap();
    assert_eq!(st.dns_name, None);
    assert_eq!(st.conditions.unwrap().len(), 1);

    // Another manager takes the free field; applying a different value now conflicts…
    api.patch_status(
        "p",
        &PatchParams::apply("other"),
        &status(json!({"dnsName": "y"})),
    )
    .await
    .unwrap();
    let err = api_error(
        api.patch_status("p", &fleetdns, &status(json!({"dnsName": "z", "conditions": [condition("Programmed", "True", "Programmed")]})))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (err.code, err.reason.as_str()),
        (409, "Conflict"),
        "{err:?}"
    );
    let causes = err.details.map(|d| d.causes).unwrap_or_default();
    assert_eq!(causes[0].field, ".status.dnsName");
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    // …unless forced, which takes the field over.
    let p = api
        .patch_status("p", &PatchParams::apply("fleetdns").force(), &status(json!({"dnsName": "z", "conditions": [condition("Programmed", "True", "Programmed")]})))
        .await
        .unwrap();
    assert_eq!(p.status.as_ref().unwrap().dns_name.as_deref(), Some("z"));
    let managers: Vec<(String, Option<String>)> = p
        .metadata
        .managed_fields
        .unwrap()
        .iter()
        .map(|m| (m.manager.clone().unwrap(), m.subresource.clone()))
        .collect();
    assert_eq!(
        managers,
        [
            ("kubectl".to_string(), None),
            ("fleetdns".to_string(), Some("status".to_string()))
        ],
        "'other' owns nothing any more"
    );
    // A merge patch by another writer takes ownership of what it changes.
    api.patch_status(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"dnsName": "m"}})),
    )
    .await
    .unwrap();
    let p = api
        .patch_status(
            "p",
            &fleetdns,
            &status(json!({"conditions": [condition("Programmed", "True", "Programmed")]})),
        )
        .await
        .unwrap();
    assert_eq!(
        p.status.unwrap().dns_name.as_deref(),
        Some("m"),
        "no longer fleetdns's to remove"
    );
}

#[tokio::test]
async fn bookmarks_timeouts_streaming_lists_and_metadata_watches() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let opts = fleetdns_kubefake::Options {
        bookmark_interval: Duration::from_millis(200),
        ..Default::default()
    };
    let c = FakeCluster::start_with("127.0.120.14:0".parse().unwrap(), "hub", opts).unwrap();
    c.create(&profile("ns", "a")).unwrap();
    let api: Api<v1beta1::TrafficManagerProfile> = Api::namespaced(client(&c).await, "ns");

    // Raw watch: ADDED for the current state (resourceVersion 0), bookmarks, server-side end.
    let t = std::time::Instant::now();
    let events: Vec<_> = api
        .watch(&kube::api::WatchParams::default().timeout(1), "0")
        .await
        .unwrap()
        .collect()
        .await;
    assert!(t.elapsed() >= Duration::from_millis(900) && t.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(&events[0], Ok(kube::api::WatchEvent::Added(p)) if name_of(p) == "a"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Ok(kube::api::WatchEvent::Bookmark(_)))),
        "{events:?}"
    );

    // A forced 410 on the next watch request.
    c.expire_next_watches(1);
    let events: Vec<_> = api
        .watch(
            &kube::api::WatchParams::default().timeout(5),
            &c.resource_version().to_string(),
        )
        .await
        .unwrap()
        .collect()
        .await;
    assert!(
        matches!(&events[..], [Ok(kube::api::WatchEvent::Error(e))] if e.code == 410),
        "{events:?}"
    );

    // A watch from a resourceVersion the history no longer has: one ERROR event, 410.
    c.create(&profile("ns", "b")).unwrap();
    c.compact();
    let events: Vec<_> = api
        .watch(&kube::api::WatchParams::default().timeout(5), "1")
        .await
        .unwrap()
        .collect()
        .await;
    assert!(
        matches!(&events[..], [Ok(kube::api::WatchEvent::Error(e))] if e.code == 410 && e.reason == "Expired"),
        "{events:?}"
    );

    // Streaming lists (sendInitialEvents) and metadata-only watches.
    let mut rx = spawn_watcher(api.clone(), watcher::Config::default().streaming_lists());
    let seen = until(&mut rx, "InitDone (streaming)", |e| {
        matches!(e, Ok(Event::InitDone))
    })
    .await;
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, Ok(Event::InitApply(_))))
            .count(),
        2,
        "{seen:?}"
    );

    let (tx, mut mrx) = mpsc::unbounded_channel();
    let mapi: Api<kube::core::PartialObjectMeta<v1beta1::TrafficManagerProfile>> =
        Api::namespaced(client(&c).await, "ns");
    tokio::spawn(async move {
        let mut s = watcher::watcher(mapi, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(e) = s.next().await {
            if tx.send(e.map_err(|e| e.to_string())).is_err() {
                return;
            }
        }
    });
    until(&mut mrx, "metadata InitDone", |e| {
        matches!(e, Ok(Event::InitDone))
    })
    .await;
    c.create(&profile("ns", "c")).unwrap();
    until(
        &mut mrx,
        "metadata c",
        |e| matches!(e, Ok(Event::Apply(m)) if m.metadata.name.as_deref() == Some("c")),
    )
    .await;
    until(
        &mut rx,
        "streaming c",
        |e| matches!(e, Ok(Event::Apply(p)) if name_of(p) == "c"),
    )
    .await;
}

#[tokio::test]
async fn seed_manifests_apply_unchanged() {
    let c = start(15, "hub");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/specs/seed-manifests");
    for file in [
        "kuard-atm-demo.yaml",
        "kuard-atm-demo-backend.yaml",
        "kuard-export-service.yaml",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let applied = c
            .apply_yaml(&text)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!applied.is_empty(), "{file}");
    }
    let profiles = c.list(TMP, "TrafficManagerProfile", None);
    assert_eq!(profiles.len(), 1);
    // Schema defaults were applied to the stored object.
    let mc = &profiles[0]["spec"]["monitorConfig"];
    assert!(mc.get("toleratedNumberOfFailures").is_some(), "{mc}");
    assert_eq!(
        c.list("networking.fleet.azure.com/v1alpha1", "ServiceExport", None)
            .len(),
        1
    );
    assert!(c
        .write_log()
        .iter()
        .all(|w| w.accepted() && w.verb == "apply"));
}

#[tokio::test]
async fn json_patch_delete_collection_and_missing_namespace() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let opts = fleetdns_kubefake::Options {
        auto_create_namespaces: false,
        ..Default::default()
    };
    let c = FakeCluster::start_with("127.0.120.16:0".parse().unwrap(), "hub", opts).unwrap();
    let api: Api<v1beta1::TrafficManagerProfile> = Api::namespaced(client(&c).await, "team-a");
    let err = api_error(
        api.create(&PostParams::default(), &profile("team-a", "p"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (err.code, err.message.as_str()),
        (404, "namespaces \"team-a\" not found")
    );
    c.create(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}))
        .unwrap();
    for n in ["p", "q", "r"] {
        api.create(&PostParams::default(), &profile("team-a", n))
            .await
            .unwrap();
    }

    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/resourceGroup", "value": "rg"},
        {"op": "replace", "path": "/spec/monitorConfig/port", "value": 9090},
    ]))
    .unwrap();
    let p = api
        .patch("p", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .unwrap();
    assert_eq!(p.spec.monitor_config.unwrap().port, Some(9090));
    let bad: json_patch::Patch = serde_json::from_value(
        json!([{"op": "test", "path": "/spec/resourceGroup", "value": "nope"}]),
    )
    .unwrap();
    assert_eq!(
        api_error(
            api.patch("p", &PatchParams::default(), &Patch::Json::<()>(bad))
                .await
                .unwrap_err()
        )
        .code,
        422
    );

    c.merge_patch(
        TMP,
        "TrafficManagerProfile",
        "team-a",
        "q",
        &json!({"metadata": {"labels": {"gone": "yes"}}}),
        false,
    )
    .unwrap();
    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("gone=yes"),
    )
    .await
    .unwrap();
    let left: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(name_of)
        .collect();
    assert_eq!(left, ["p", "r"]);
    let log = c.write_log();
    assert_eq!(log.last().unwrap().verb, "deletecollection");
}
