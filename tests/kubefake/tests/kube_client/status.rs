//! Writes to the status subresource: merge patches and server-side apply, spec/status
//! separation, field ownership between managers, and the write log that tells writers apart.

use fleetdns_config::crd::v1beta1;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

use crate::common::*;

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
