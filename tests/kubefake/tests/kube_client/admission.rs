//! What the fake refuses and holds back: 422 with field causes (schema, CEL rules,
//! immutable fields, name length), unknown fields (pruned, or 400 when strict), conflicts on
//! stale resourceVersions, and finalizers that hold a deletion.

use fleetdns_config::crd::{v1alpha1, v1beta1};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use serde_json::json;

use crate::common::*;

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
