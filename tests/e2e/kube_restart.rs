//! A member's API server restarted with an empty store: its resourceVersions start again
//! at 1, below the one fleetdns holds. The fake answers the resumed watch with 504 "Too
//! large resource version" (as the watch cache does after an etcd restore); fleetdns must
//! relist, serve the new state and say why in its log.

use std::net::SocketAddr;
use std::time::Duration;

use fleetdns_kubefake::{write_kubeconfig, FakeCluster};
use fleetdns_testsupport::dns::{Client, Opts};
use fleetdns_testsupport::process::scratch_dir;
use fleetdns_testsupport::{wait, Fleetdns};
use hickory_proto::rr::{RData, RecordType};
use serde_json::json;

use crate::fixtures;

const FLEET: &str = "networking.fleet.azure.com/v1beta1";

/// A LoadBalancer Service `demo/web` at `ip` and its export (always served: no probes).
fn export_service(member: &FakeCluster, ip: &str) {
    member
        .create_with_status(&json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}))
        .unwrap();
    member
        .create(&json!({"apiVersion": FLEET, "kind": "ServiceExport",
            "metadata": {"name": "web", "namespace": "demo",
                         "annotations": {"fleetdns.io/always-serve": "true"}}}))
        .unwrap();
}

fn answers(client: &Client) -> Vec<String> {
    client
        .query("demo-web.fleet.test", RecordType::A, &Opts::default())
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn kubernetes_relists_after_api_server_restart_with_empty_store() {
    let at = |h: u8| -> SocketAddr { format!("127.0.147.{h}:0").parse().unwrap() };
    let hub = FakeCluster::start(at(1), "hub").unwrap();
    let member = FakeCluster::start(at(2), "member-1").unwrap();
    let dir = scratch_dir("kube-restart");
    let kubeconfig = dir.join("kubeconfig");
    write_kubeconfig(&kubeconfig, &[&hub, &member]).unwrap();
    hub.create(
        &json!({"apiVersion": FLEET, "kind": "TrafficManagerProfile",
        "metadata": {"name": "web", "namespace": "demo"}, "spec": {"resourceGroup": "rg"}}),
    )
    .unwrap();
    hub.create(
        &json!({"apiVersion": FLEET, "kind": "TrafficManagerBackend",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"profile": {"name": "web"}, "backend": {"name": "web"}, "weight": 1}}),
    )
    .unwrap();
    // History the restarted store will not have: the member's resourceVersion goes well
    // past what the new store reaches after its re-seeding.
    for i in 0..30 {
        member
            .create(&json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("filler-{i}"), "namespace": "demo"}}))
            .unwrap();
    }
    export_service(&member, "192.0.2.1");
    let old_rv = member.resource_version();
    let config = format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.test
  nameServers: [{{name: ns1.fleet.test, addresses: [127.0.0.1]}}]
  kubernetes:
    kubeconfig: {}
    hub: {{context: hub}}
    members: [{{name: member-1, context: member-1}}]
    status: {{enabled: false}}
",
        kubeconfig.display()
    );
    let fleetdns = Fleetdns::start(fixtures::BIN.as_ref(), &config, "127.0.147.10:0");
    let client = Client::new(fleetdns.addr);
    wait::eventually(
        "the first state is served",
        Duration::from_secs(15),
        Duration::from_millis(50),
        || answers(&client) == ["192.0.2.1"],
    );

    // Down for half a second, back with nothing; the new state is written meanwhile.
    member.restart_empty(Duration::from_millis(500));
    export_service(&member, "192.0.2.9");
    assert!(
        member.resource_version() < old_rv,
        "the restarted store must be behind: {} vs {old_rv}",
        member.resource_version()
    );
    wait::eventually(
        "the restarted cluster's state is served",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || answers(&client) == ["192.0.2.9"],
    );
    assert!(
        fleetdns.wait_for_log("relisting", Duration::from_secs(5)),
        "no log line says why fleetdns relisted:\n{}",
        fleetdns.log()
    );
    let log = fleetdns.log();
    let line = log
        .lines()
        .find(|l| l.contains("relisting"))
        .unwrap_or_default();
    assert!(
        line.contains("cluster=member-1") && line.contains("Too large resource version"),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
