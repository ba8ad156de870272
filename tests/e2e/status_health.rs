//! Status follows the probes in Kubernetes mode: when a member's backend process
//! dies, fleetdns's `fleetdns.io/Serving` on the TrafficManagerBackend names the
//! Degraded cluster, and when it comes back the condition says so. The status
//! writer skips health snapshots that change no status (a probe result saying the
//! same as the last one), so this pins that the ones that do still reach the
//! cluster. Addresses: 127.0.124.x; kubefake hub and member on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use fleetdns_kubefake::{write_kubeconfig_with_token, FakeCluster};
use fleetdns_testsupport::process::scratch_dir;
use fleetdns_testsupport::{wait, DemoBackend};
use serde_json::{json, Value};

use crate::fixtures;
use crate::kube_fixtures::FLEET;

const PORT: u16 = 18124;
const BACKEND: &str = "127.0.124.20";

/// The backend `demo/web`'s Serving condition message as written on the hub.
fn serving(hub: &FakeCluster) -> String {
    let b = hub
        .get(FLEET, "TrafficManagerBackend", "demo", "web")
        .unwrap_or_default();
    b["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "fleetdns.io/Serving")
        .and_then(|c| c["message"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn until(what: &str, hub: &FakeCluster, check: impl Fn(&str) -> bool) {
    wait::eventually(
        what,
        Duration::from_secs(20),
        Duration::from_millis(100),
        || {
            let m = serving(hub);
            check(&m).then_some(()).ok_or(m)
        },
    );
}

#[test]
fn status_health_kubernetes_serving_condition_follows_a_killed_backend() {
    let at = |host: u8| -> SocketAddr { format!("127.0.124.{host}:0").parse().unwrap() };
    let hub = FakeCluster::start(at(1), "hub").expect("hub");
    let m1 = FakeCluster::start(at(2), "member-1").expect("member-1");
    let dir = scratch_dir("status-health");
    let kubeconfig = dir.join("kubeconfig");
    write_kubeconfig_with_token(&kubeconfig, &[&hub, &m1], "t").unwrap();
    let mut backend = DemoBackend::start(
        fixtures::BIN.as_ref(),
        format!("{BACKEND}:{PORT}").parse().unwrap(),
    );
    let objects: [Value; 2] = [
        json!({"apiVersion": FLEET, "kind": "TrafficManagerProfile",
            "metadata": {"name": "web", "namespace": "demo", "annotations": {
                "fleetdns.io/probe-interval-seconds": "1", "fleetdns.io/probe-timeout-seconds": "1"}},
            "spec": {"resourceGroup": "rg",
                "monitorConfig": {"port": PORT, "path": "/healthz", "toleratedNumberOfFailures": 1}}}),
        json!({"apiVersion": FLEET, "kind": "TrafficManagerBackend",
            "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"profile": {"name": "web"}, "backend": {"name": "web"}, "weight": 100}}),
    ];
    for o in &objects {
        hub.create(o).unwrap();
    }
    m1.create_with_status(&json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": PORT, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": BACKEND}]}}}))
        .unwrap();
    m1.create(&json!({"apiVersion": FLEET, "kind": "ServiceExport",
        "metadata": {"name": "web", "namespace": "demo"}}))
        .unwrap();
    let config = format!(
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
    status: {{leaseNamespace: fleetdns-system}}
",
        kubeconfig.display()
    );
    let _fleetdns = fleetdns_testsupport::Fleetdns::start_with(
        fixtures::BIN.as_ref(),
        &config,
        "127.0.124.10:0",
        &["--identity", "status-health"],
    );
    until("Serving with the endpoint up", &hub, |m| {
        m.contains("with 1 of 1 endpoint(s)") && !m.contains("Degraded")
    });

    backend.kill();
    until("the Degraded cluster named", &hub, |m| {
        m.contains("with 0 of 1 endpoint(s)") && m.contains("Degraded: cluster member-1")
    });

    backend.restart();
    until("Serving again", &hub, |m| {
        m.contains("with 1 of 1 endpoint(s)") && !m.contains("Degraded")
    });
    let _ = std::fs::remove_dir_all(&dir);
}
