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

// ---- deploy/hub/: fleetdns in an AKS cluster reading an Azure Fleet Manager hub (hub mode,
// workload identity). Nothing here reaches Azure or a real cluster: the manifests are
// checked as files, and the bundled config with the real binary's offline check.

/// The manifests `kubectl apply -k deploy/hub/` applies (its kustomization's resources).
fn hub_overlay() -> Vec<Value> {
    let k = docs("hub/kustomization.yaml").remove(0);
    k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| docs(&format!("hub/{}", r.as_str().unwrap())))
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn deploy_hub_overlay_parses_and_applies_nothing_meant_for_the_hub() {
    let k = docs("hub/kustomization.yaml").remove(0);
    let resources: Vec<&str> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    // The hub's RBAC is applied on the hub, not in the cluster fleetdns runs in; no CRDs
    // either (the hub has them, and nothing is read from the local cluster).
    assert!(!resources.contains(&"hub-rbac.yaml"), "{resources:?}");
    let kinds: Vec<String> = hub_overlay()
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_string())
        .collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
    for kind in [
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    ] {
        assert!(!kinds.iter().any(|k| k == kind), "{kind} in the overlay");
    }
    // Every document of every file in deploy/hub/ parses (hub-rbac.yaml included).
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/hub");
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(!docs(&format!("hub/{name}")).is_empty(), "{name}");
    }
}

#[test]
fn deploy_hub_config_is_hub_mode_with_workload_identity_and_passes_check() {
    let overlay = hub_overlay();
    let cm = find(&overlay, "ConfigMap", "fleetdns-config");
    let text = cm["data"]["fleet.yaml"].as_str().unwrap();
    let cfg: Value = serde_yaml::from_str(text).unwrap();
    let k = &cfg["spec"]["kubernetes"];
    assert_eq!(k["source"], "hub");
    assert!(
        k.get("members").is_none(),
        "members are discovered in hub mode"
    );
    assert_eq!(k["hub"]["auth"]["azure"]["method"], "workloadIdentity");
    assert_eq!(k["publicIPs"]["auth"]["method"], "workloadIdentity");
    // The kubeconfig it names is the hub-kubeconfig ConfigMap, mounted by the Deployment.
    let path = k["kubeconfig"].as_str().unwrap();
    let (dir, key) = path.rsplit_once('/').unwrap();
    let deploy = find(&overlay, "Deployment", "fleetdns");
    let pod = &deploy["spec"]["template"]["spec"];
    let mount = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == dir)
        .unwrap_or_else(|| panic!("nothing mounted at {dir}"));
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let kc = find(
        &overlay,
        "ConfigMap",
        volume["configMap"]["name"].as_str().unwrap(),
    );
    assert!(kc["data"][key].is_string(), "{key} missing from {kc}");
    let kubeconfig: Value = serde_yaml::from_str(kc["data"][key].as_str().unwrap()).unwrap();
    let contexts = kubeconfig["contexts"].as_array().unwrap();
    assert!(
        contexts.iter().any(|c| c["name"] == k["hub"]["context"]),
        "context {} not in the kubeconfig",
        k["hub"]["context"]
    );
    // The lease is on the hub, in the namespace the hub RBAC grants.
    assert_eq!(k["status"]["leaseNamespace"], "fleetdns-system");
    assert_eq!(k["status"]["leaseName"], "fleetdns-status-writer");

    let dir = fleetdns_testsupport::process::scratch_dir("deploy-hub-config");
    let file = dir.join("fleet.yaml");
    std::fs::write(&file, text).unwrap();
    // In the pod, the AKS workload identity webhook sets these three (the config names none
    // of them); without them the workloadIdentity method has nothing to sign in with.
    let webhook_env = [
        ("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001"),
        ("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000002"),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            "/var/run/secrets/azure/tokens/azure-identity-token",
        ),
    ];
    let check = |with_env: bool| {
        let mut cmd = Command::new(fixtures::BIN);
        cmd.args(["check", "--offline", "--config"]).arg(&file);
        for (name, value) in webhook_env {
            cmd.env_remove(name);
            if with_env {
                cmd.env(name, value);
            }
        }
        cmd.output().unwrap()
    };
    let (injected, bare) = (check(true), check(false));
    std::fs::remove_dir_all(dir).unwrap();
    assert!(
        injected.status.success(),
        "{}{}",
        String::from_utf8_lossy(&injected.stdout),
        String::from_utf8_lossy(&injected.stderr)
    );
    assert!(!bare.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&bare.stdout),
        String::from_utf8_lossy(&bare.stderr)
    );
    assert!(said.contains("AZURE_CLIENT_ID"), "{said}");
}

#[test]
fn deploy_hub_service_account_and_pods_carry_workload_identity() {
    let overlay = hub_overlay();
    let sa = find(&overlay, "ServiceAccount", "fleetdns");
    assert_eq!(sa["metadata"]["namespace"], "fleetdns-system");
    assert_eq!(
        sa["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "<IDENTITY_CLIENT_ID>"
    );
    let deploy = find(&overlay, "Deployment", "fleetdns");
    assert!(deploy["spec"]["replicas"].as_i64().unwrap() >= 2);
    let template = &deploy["spec"]["template"];
    // A string "true": the webhook matches the label's value.
    assert_eq!(
        template["metadata"]["labels"]["azure.workload.identity/use"],
        Value::String("true".into())
    );
    assert_eq!(template["spec"]["serviceAccountName"], "fleetdns");
    let svc = find(&overlay, "Service", "fleetdns");
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

#[test]
fn deploy_hub_kubeconfig_has_server_and_ca_and_no_credentials_and_no_secret() {
    let overlay = hub_overlay();
    let kc = find(&overlay, "ConfigMap", "fleetdns-hub-kubeconfig");
    let kubeconfig: Value =
        serde_yaml::from_str(kc["data"]["kubeconfig"].as_str().unwrap()).unwrap();
    let cluster = &kubeconfig["clusters"][0]["cluster"];
    assert_eq!(cluster["server"], "<HUB_SERVER>");
    assert_eq!(cluster["certificate-authority-data"], "<HUB_CA_DATA>");
    assert!(cluster.get("insecure-skip-tls-verify").is_none());
    for u in kubeconfig["users"].as_array().unwrap() {
        let user = u["user"].as_object().unwrap();
        assert!(user.is_empty(), "credentials in the kubeconfig: {u}");
    }
    // No Secret anywhere in deploy/hub/, and nothing that looks like a credential.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/hub");
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        for d in docs(&format!("hub/{name}")) {
            assert_ne!(d["kind"], "Secret", "{name}");
        }
        let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        for word in [
            "token:",
            "client-key-data",
            "client-certificate-data",
            "password",
            "clientSecret",
            "exec:",
        ] {
            assert!(!text.contains(word), "{name} contains {word}");
        }
    }
}

/// One RBAC grant: (API group, resource, verb, resourceNames).
type Grant = (String, String, String, Vec<String>);

fn grants(rules: &[Value]) -> Vec<Grant> {
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for r in rules {
        for g in strs(&r["apiGroups"]) {
            for res in strs(&r["resources"]) {
                for v in strs(&r["verbs"]) {
                    out.push((g.clone(), res.clone(), v, strs(&r["resourceNames"])));
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn deploy_hub_rbac_grants_exactly_what_hub_mode_does() {
    let d = docs("hub/hub-rbac.yaml");
    let cluster = grants(
        find(&d, "ClusterRole", "fleetdns-hub-mode")["rules"]
            .as_array()
            .unwrap(),
    );
    let lease_role = find(&d, "Role", "fleetdns-lease");
    assert_eq!(lease_role["metadata"]["namespace"], "fleetdns-system");
    let lease = grants(lease_role["rules"].as_array().unwrap());
    for (g, r, v, _) in cluster.iter().chain(&lease) {
        assert!(g != "*" && r != "*" && v != "*", "wildcard: {g} {r} {v}");
    }
    // What fleetdns does on the hub in hub mode, listed by hand; keep in step with
    // sources/src/kubernetes/mod.rs (Source::connect: the watches), preflight.rs (`needs`:
    // what `fleetdns check` asks an access review for) and sync/src/status/ (writer,
    // finalizer, events, lease).
    let fleet = "networking.fleet.azure.com";
    let g = |group: &str, res: &str, verb: &str| -> Grant {
        (group.into(), res.into(), verb.into(), Vec::new())
    };
    let mut want = vec![
        // Watched (kube-runtime watchers: list, then watch).
        g(fleet, "trafficmanagerprofiles", "list"),
        g(fleet, "trafficmanagerprofiles", "watch"),
        g(fleet, "trafficmanagerbackends", "list"),
        g(fleet, "trafficmanagerbackends", "watch"),
        g(fleet, "serviceimports", "list"),
        g(fleet, "serviceimports", "watch"),
        g(fleet, "internalserviceexports", "list"),
        g(fleet, "internalserviceexports", "watch"),
        g("cluster.kubernetes-fleet.io", "memberclusters", "list"),
        g("cluster.kubernetes-fleet.io", "memberclusters", "watch"),
        // Status by server-side apply.
        g(fleet, "trafficmanagerprofiles/status", "patch"),
        g(fleet, "trafficmanagerbackends/status", "patch"),
        // Its finalizer fleetdns.io/azure-mirror (JSON patch of metadata.finalizers).
        g(fleet, "trafficmanagerprofiles", "patch"),
        g(fleet, "trafficmanagerbackends", "patch"),
        // Events on status transitions and conflicts.
        g("events.k8s.io", "events", "create"),
    ];
    want.sort();
    assert_eq!(cluster, want);
    let named = |verb: &str| -> Grant {
        (
            "coordination.k8s.io".into(),
            "leases".into(),
            verb.into(),
            vec!["fleetdns-status-writer".into()],
        )
    };
    let mut want_lease = vec![
        // Create cannot be limited by name; everything else touches only that Lease
        // (followers watch it with a metadata.name field selector).
        g("coordination.k8s.io", "leases", "create"),
        named("get"),
        named("list"),
        named("watch"),
        named("update"),
    ];
    want_lease.sort();
    assert_eq!(lease, want_lease);
}

#[test]
fn deploy_hub_rbac_is_bound_to_the_identity_object_id_as_a_user() {
    let d = docs("hub/hub-rbac.yaml");
    for (kind, name, role_kind) in [
        ("ClusterRoleBinding", "fleetdns-hub-mode", "ClusterRole"),
        ("RoleBinding", "fleetdns-lease", "Role"),
    ] {
        let b = find(&d, kind, name);
        assert_eq!(b["roleRef"]["kind"], role_kind);
        assert_eq!(b["roleRef"]["name"], name);
        let subjects = b["subjects"].as_array().unwrap();
        assert_eq!(subjects.len(), 1, "{b}");
        // AKS-managed Azure AD names a managed identity by its object id.
        assert_eq!(subjects[0]["kind"], "User");
        assert_eq!(subjects[0]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(subjects[0]["name"], "<IDENTITY_OBJECT_ID>");
    }
    let raw = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/hub/hub-rbac.yaml"
    ))
    .unwrap();
    assert!(
        raw.contains("Replace <IDENTITY_OBJECT_ID>")
            || raw.contains("replacing <IDENTITY_OBJECT_ID>")
    );
}
