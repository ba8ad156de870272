//! The rest of the API surface a client meets: discovery, kubeconfig files for several
//! clusters, pagination and label/field selectors, the seed manifests from the Fleet docs,
//! JSON patch, delete-collection and missing namespaces.

use fleetdns_config::crd::v1beta1;
use fleetdns_kubefake::{write_kubeconfig, FakeCluster};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Client;
use serde_json::json;

use crate::common::*;

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
