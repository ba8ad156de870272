//! `fleetdns check` in Kubernetes mode against fake clusters: it exits non-zero, naming
//! the cluster and its context, for a missing context (3), an unreachable cluster (4), a
//! missing CRD (6) and a missing permission (7), and 0 when all is well or `--offline`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use fleetdns_kubefake::{write_kubeconfig, FakeCluster, Options};
use fleetdns_testsupport::process::scratch_dir;

use crate::fixtures;

/// A hub and two members on 127.0.<net>.1-3, a kubeconfig and a config naming them.
struct Clusters {
    hub: FakeCluster,
    m1: FakeCluster,
    m2: FakeCluster,
    dir: PathBuf,
}

impl Clusters {
    fn start(net: u8, member_options: Options) -> Clusters {
        let at = |h: u8| -> SocketAddr { format!("127.0.{net}.{h}:0").parse().unwrap() };
        let c = Clusters {
            hub: FakeCluster::start(at(1), "hub").unwrap(),
            m1: FakeCluster::start(at(2), "member-1").unwrap(),
            m2: FakeCluster::start_with(at(3), "member-2", member_options).unwrap(),
            dir: scratch_dir("kube-check"),
        };
        write_kubeconfig(c.dir.join("kubeconfig"), &[&c.hub, &c.m1, &c.m2]).unwrap();
        c
    }

    /// Runs `fleetdns check` with member-2 at `member2_context`; returns (exit code, stdout).
    fn check(&self, member2_context: &str, extra: &[&str]) -> (i32, String) {
        let config = self.dir.join("fleetdns.yaml");
        std::fs::write(
            &config,
            format!(
                "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.test
  nameServers: [{{name: ns1.fleet.test, addresses: [127.0.0.1]}}]
  kubernetes:
    kubeconfig: {}
    hub: {{context: hub}}
    members:
      - {{name: member-1, context: member-1}}
      - {{name: member-2, context: {member2_context}}}
",
                self.dir.join("kubeconfig").display()
            ),
        )
        .unwrap();
        let out = Command::new("timeout")
            .arg("60")
            .arg(fixtures::BIN)
            .arg("check")
            .arg("--config")
            .arg(&config)
            .args(extra)
            .output()
            .expect("run fleetdns check");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

impl Drop for Clusters {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn kube_check_passes_when_every_cluster_is_usable() {
    let c = Clusters::start(142, Options::default());
    let (code, out) = c.check("member-2", &[]);
    assert_eq!(code, 0, "{out}");
    for line in [
        "cluster hub (context hub): ok",
        "cluster member-1 (context member-1): ok",
        "cluster member-2 (context member-2): ok",
    ] {
        assert!(out.contains(line), "{out}");
    }
}

#[test]
fn kube_check_missing_context_exits_3_naming_it() {
    let c = Clusters::start(143, Options::default());
    let (code, out) = c.check("member-9", &[]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("cluster member-2 (context member-9): kubeconfig:"),
        "{out}"
    );
    // --offline checks the file only.
    let (code, out) = c.check("member-9", &["--offline"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("cluster member-2"), "{out}");
}

#[test]
fn kube_check_unreachable_cluster_exits_4_naming_it() {
    let c = Clusters::start(144, Options::default());
    c.m1.stop();
    let (code, out) = c.check("member-2", &[]);
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("cluster member-1 (context member-1): unreachable:"),
        "{out}"
    );
    assert!(out.contains("cluster hub (context hub): ok"), "{out}");
}

#[test]
fn kube_check_missing_crd_exits_6_naming_it() {
    let without_exports = Options {
        omit_types: vec!["serviceexports".into()],
        ..Options::default()
    };
    let c = Clusters::start(145, without_exports);
    let (code, out) = c.check("member-2", &[]);
    assert_eq!(code, 6, "{out}");
    assert!(
        out.contains("cluster member-2 (context member-2): CRD missing: serviceexports.networking.fleet.azure.com"),
        "{out}"
    );
}

#[test]
fn kube_check_missing_permission_exits_7_naming_it() {
    let c = Clusters::start(146, Options::default());
    c.hub.deny(
        "watch",
        "networking.fleet.azure.com",
        "trafficmanagerbackends",
    );
    let (code, out) = c.check("member-2", &[]);
    assert_eq!(code, 7, "{out}");
    assert!(
        out.contains("cluster hub (context hub): permission missing: may not watch trafficmanagerbackends.networking.fleet.azure.com in all namespaces"),
        "{out}"
    );
    // Status write-back (on by default) needs its Lease: denied, that is reported too.
    c.hub.allow_all();
    c.hub.deny("update", "coordination.k8s.io", "leases");
    let (code, out) = c.check("member-2", &[]);
    assert_eq!(code, 7, "{out}");
    assert!(
        out.contains(
            "may not update leases.coordination.k8s.io \"fleetdns-status-writer\" in namespace default"
        ),
        "{out}"
    );
}
