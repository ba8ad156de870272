//! `deploy/`: the manifests a platform engineer applies. The CRDs are what
//! `fleetdns crds` prints, the bundled config is valid, RBAC is least privilege,
//! and the Deployment runs 2+ replicas behind UDP and TCP port 53.

use std::process::Command;

use serde_json::Value;

use crate::fixtures;

fn docs(file: &str) -> Vec<Value> {
    let path = format!("{}/deploy/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{path}: {e}")))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

#[test]
fn crds_in_deploy_are_what_fleetdns_crds_prints() {
    let out = Command::new(fixtures::BIN).arg("crds").output().unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/crds.yaml")).unwrap();
    assert!(
        printed == shipped,
        "deploy/crds.yaml is stale: run `fleetdns crds > deploy/crds.yaml`"
    );
    let kinds: Vec<String> = docs("crds.yaml")
        .iter()
        .map(|c| c["spec"]["names"]["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "TrafficManagerProfile",
            "TrafficManagerBackend",
            "ServiceExport"
        ]
    );
}

#[test]
fn bundled_config_is_valid_and_in_kubernetes_mode() {
    let cm = docs("config.yaml").remove(0);
    let text = cm["data"]["fleet.yaml"].as_str().unwrap();
    let dir = fleetdns_testsupport::process::scratch_dir("deploy-config");
    let path = dir.join("fleet.yaml");
    std::fs::write(&path, text).unwrap();
    // The file only: there is no cluster to check here.
    let out = Command::new(fixtures::BIN)
        .args(["check", "--offline", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_dir_all(dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("kubernetes:"));
}

#[test]
fn rbac_reads_objects_and_writes_only_status_its_lease_events_and_its_finalizer() {
    let mut rules = Vec::new();
    for d in docs("rbac.yaml") {
        if matches!(d["kind"].as_str(), Some("ClusterRole" | "Role")) {
            rules.extend(d["rules"].as_array().unwrap().clone());
        }
    }
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    for r in &rules {
        let (resources, verbs) = (strs(&r["resources"]), strs(&r["verbs"]));
        assert!(
            !verbs.contains(&"*".to_string()) && !resources.contains(&"*".to_string()),
            "{r}"
        );
        let writes: Vec<&String> = verbs
            .iter()
            .filter(|v| !matches!(v.as_str(), "get" | "list" | "watch"))
            .collect();
        if writes.is_empty() {
            continue;
        }
        // Events are only ever created (on status transitions and conflicts).
        if resources.iter().any(|r| r == "events") {
            assert_eq!(resources, ["events"], "{r}");
            assert_eq!(verbs, ["create"], "events are only created: {r}");
            continue;
        }
        // Its finalizer on profiles and backends (JSON patch of metadata.finalizers):
        // patch only, nothing else on the objects themselves.
        if resources
            .iter()
            .any(|r| r == "trafficmanagerprofiles" || r == "trafficmanagerbackends")
        {
            assert_eq!(
                resources,
                ["trafficmanagerprofiles", "trafficmanagerbackends"],
                "{r}"
            );
            assert_eq!(writes, ["patch"], "only the finalizer is written: {r}");
            continue;
        }
        let ok = resources
            .iter()
            .all(|res| res.ends_with("/status") || res == "leases");
        assert!(ok, "write verbs {writes:?} on {resources:?}");
        if resources.iter().any(|r| r == "leases") && verbs.contains(&"update".to_string()) {
            assert_eq!(strs(&r["resourceNames"]), ["fleetdns-status-writer"], "{r}");
        }
    }
    let all: Vec<String> = rules.iter().flat_map(|r| strs(&r["resources"])).collect();
    for needed in [
        "trafficmanagerprofiles",
        "trafficmanagerbackends",
        "serviceexports",
        "services",
        "trafficmanagerprofiles/status",
        "trafficmanagerbackends/status",
        "leases",
        "events",
    ] {
        assert!(
            all.contains(&needed.to_string()),
            "{needed} missing from RBAC"
        );
    }
}

#[test]
fn deployment_runs_replicas_behind_dns_ports() {
    let d = docs("deployment.yaml");
    let deploy = d.iter().find(|x| x["kind"] == "Deployment").unwrap();
    assert!(deploy["spec"]["replicas"].as_i64().unwrap() >= 2);
    let c = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    let svc = d.iter().find(|x| x["kind"] == "Service").unwrap();
    let mut ports: Vec<(i64, String)> = svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["port"].as_i64().unwrap(),
                p["protocol"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    ports.sort();
    assert_eq!(ports, [(53, "TCP".to_string()), (53, "UDP".to_string())]);
}
