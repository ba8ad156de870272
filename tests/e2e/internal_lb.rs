//! Internal load balancers in members mode: a Service annotated
//! `service.beta.kubernetes.io/azure-load-balancer-internal: "true"` has a private
//! address; fleet-networking never publishes it
//! (Azure/fleet-networking @ 4fcffcf `pkg/controllers/member/serviceexport/controller.go`:348
//! sets `isInternalLoadBalancer` from exactly "true"; `pkg/controllers/hub/
//! trafficmanagerbackend/controller.go`:592-594 rejects it), and neither does
//! fleetdns unless the profile opts in with `fleetdns.io/serve-internal-load-balancers: "true"`.

use std::net::SocketAddr;
use std::time::Duration;

use fleetdns_kubefake::{write_kubeconfig_with_token, FakeCluster};
use fleetdns_testsupport::dns::Client;
use fleetdns_testsupport::process::scratch_dir;
use fleetdns_testsupport::{wait, Fleetdns};
use serde_json::json;

use crate::{fixtures, kube_fixtures};

use kube_fixtures::FLEET;

fn addresses(client: &Client, name: &str, n: usize) -> std::collections::BTreeSet<String> {
    (0..n)
        .filter_map(|_| kube_fixtures::a_record(client, name))
        .collect()
}

#[test]
fn internal_lb_excluded_in_members_mode_unless_the_profile_opts_in() {
    let at = |h: u8| -> SocketAddr { format!("127.0.152.{h}:0").parse().unwrap() };
    let hub = FakeCluster::start(at(1), "hub").unwrap();
    let m1 = FakeCluster::start(at(2), "member-1").unwrap();
    let m2 = FakeCluster::start(at(3), "member-2").unwrap();
    let dir = scratch_dir("internal-lb");
    let kc = dir.join("kubeconfig");
    write_kubeconfig_with_token(&kc, &[&hub, &m1, &m2], "t").unwrap();
    for (profile, annotations) in [
        ("web", json!({})),
        (
            "private",
            json!({"fleetdns.io/serve-internal-load-balancers": "true"}),
        ),
    ] {
        hub.create(
            &json!({"apiVersion": FLEET, "kind": "TrafficManagerProfile",
            "metadata": {"name": profile, "namespace": "demo", "annotations": annotations},
            "spec": {"resourceGroup": "rg"}}),
        )
        .unwrap();
        hub.create(
            &json!({"apiVersion": FLEET, "kind": "TrafficManagerBackend",
            "metadata": {"name": profile, "namespace": "demo"},
            "spec": {"profile": {"name": profile}, "backend": {"name": "web"}}}),
        )
        .unwrap();
    }
    for (cluster, ip, internal) in [(&m1, "192.0.2.1", None), (&m2, "10.1.0.4", Some("true"))] {
        let annotations = match internal {
            Some(v) => json!({"service.beta.kubernetes.io/azure-load-balancer-internal": v}),
            None => json!({}),
        };
        cluster
            .create_with_status(&json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "demo", "annotations": annotations},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}))
            .unwrap();
        cluster
            .create(&json!({"apiVersion": FLEET, "kind": "ServiceExport",
            "metadata": {"name": "web", "namespace": "demo",
                "annotations": {"fleetdns.io/always-serve": "true"}}}))
            .unwrap();
    }
    let config = format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.test
  nameServers: [{{name: ns1.fleet.test, addresses: [127.0.0.1]}}]
  kubernetes:
    kubeconfig: {}
    hub: {{context: hub}}
    members: [{{name: member-1, context: member-1}}, {{name: member-2, context: member-2}}]
    status: {{enabled: false}}
",
        kc.display()
    );
    let f = Fleetdns::start(fixtures::BIN.as_ref(), &config, "127.0.152.10:0");
    let client = Client::new(f.addr);
    wait::eventually(
        "the opt-in profile serves both",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || addresses(&client, "demo-private.fleet.test", 60).len() == 2,
    );
    // Without the opt-in only the public load balancer, and its weight is the whole.
    let public = addresses(&client, "demo-web.fleet.test", 200);
    assert_eq!(public.into_iter().collect::<Vec<_>>(), ["192.0.2.1"]);
    assert!(
        f.log()
            .contains("InternalLoadBalancer: Service demo/web in cluster member-2"),
        "{}",
        f.log()
    );
    let mut metrics = String::new();
    wait::eventually(
        "metric counts the exclusion",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            metrics = crate::hub_mode::http_get(f.admin, "/metrics");
            metrics.contains(
                "fleetdns_kubernetes_excluded_endpoints{reason=\"internal_load_balancer\"} 1",
            )
        },
    );
    // The annotation must be exactly "true" (SEc:348): "True" is a public load balancer.
    m2.merge_patch("v1", "Service", "demo", "web",
        &json!({"metadata": {"annotations": {"service.beta.kubernetes.io/azure-load-balancer-internal": "True"}}}), false).unwrap();
    wait::eventually(
        "\"True\" is not internal",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || addresses(&client, "demo-web.fleet.test", 60).len() == 2,
    );
    let _ = std::fs::remove_dir_all(&dir);
}
