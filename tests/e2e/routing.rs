//! Routing methods end to end with the real binary (`routing_method_*`):
//! Priority failover to the secondary when the primary's backend process is
//! killed, and back when it returns; MultiValue answers with several addresses,
//! as the real `nslookup` and `dig` print them. Addresses: 127.0.22.x.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use fleetdns_testsupport::dns::{Client, Opts};
use fleetdns_testsupport::{tools, wait, DemoBackend};
use hickory_proto::rr::{RData, RecordType};

use crate::fixtures;

const PORT: u16 = 18122;
const PRIMARY: &str = "127.0.22.1";
const SECONDARY: &str = "127.0.22.2";

/// Profile `ns/web`, Priority: backend `primary` (priority 1, cluster c1) and
/// `secondary` (priority 2, cluster c2), probed over HTTP every second with a
/// 1 s timeout, one failure tolerated.
fn priority_config() -> String {
    format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers: [{{name: ns1.tm.test, addresses: [127.0.0.1]}}]
  healthView: {{trustedNetworks: [127.0.0.0/8]}}
  clusters:
    - {{name: c1, services: [{{namespace: ns, name: app-east, loadBalancer: ['{PRIMARY}']}}]}}
    - {{name: c2, services: [{{namespace: ns, name: app-west, loadBalancer: ['{SECONDARY}']}}]}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata:
  name: web
  namespace: ns
  annotations:
    fleetdns.io/routing-method: Priority
    fleetdns.io/probe-interval-seconds: \"1\"
    fleetdns.io/probe-timeout-seconds: \"1\"
spec:
  resourceGroup: rg
  monitorConfig: {{port: {PORT}, path: /healthz, toleratedNumberOfFailures: 1}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: primary, namespace: ns, annotations: {{fleetdns.io/priority: \"1\"}}}}
spec: {{profile: {{name: web}}, backend: {{name: app-east}}, weight: 100}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: secondary, namespace: ns, annotations: {{fleetdns.io/priority: \"2\"}}}}
spec: {{profile: {{name: web}}, backend: {{name: app-west}}, weight: 100}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {{name: app-east, namespace: ns}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {{name: app-west, namespace: ns}}
"
    )
}

fn addr(ip: &str) -> SocketAddr {
    format!("{ip}:{PORT}").parse().unwrap()
}

/// The distinct A answers of `n` queries.
fn answers(client: &Client, n: usize) -> BTreeSet<String> {
    (0..n)
        .flat_map(|_| {
            let m = client.query("ns-web.tm.test.", RecordType::A, &Opts::default());
            m.answers
                .iter()
                .map(|r| r.data.to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn health_txt(client: &Client) -> String {
    let m = client.query("_health.ns-web.tm.test.", RecordType::TXT, &Opts::default());
    let lines: Vec<String> = m
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::TXT(t) => t
                .txt_data
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            other => other.to_string(),
        })
        .collect();
    lines.join("\n")
}

fn only(ip: &str) -> BTreeSet<String> {
    BTreeSet::from([ip.to_string()])
}

#[test]
fn routing_method_priority_fails_over_from_a_killed_primary_and_back() {
    let mut primary = DemoBackend::start(fixtures::BIN.as_ref(), addr(PRIMARY));
    let _secondary = DemoBackend::start(fixtures::BIN.as_ref(), addr(SECONDARY));
    let s = fixtures::start(&priority_config());
    let client = Client::new(s.addr);
    wait::eventually(
        "both endpoints Online",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || {
            let h = health_txt(&client);
            (h.matches("state=Online").count() == 2)
                .then_some(())
                .ok_or(h)
        },
    );
    assert_eq!(answers(&client, 200), only(PRIMARY), "priority 1 only");
    let h = health_txt(&client);
    assert!(h.contains("routing=Priority active-priority=1"), "{h}");

    primary.kill();
    // The failover bound: interval × (tolerated + 1) + timeout + 1 s = 1 × 2 + 1 + 1 = 4 s.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        answers(&client, 300),
        only(SECONDARY),
        "every answer moved to the secondary\n{}",
        health_txt(&client)
    );
    let h = health_txt(&client);
    assert!(h.contains("active-priority=2"), "{h}");
    assert!(
        h.lines().any(|l| l.contains(PRIMARY)
            && l.contains("state=Degraded")
            && l.contains("active=no")),
        "{h}"
    );
    let status = fixtures::http_get(s.admin, "/status");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let p = &status["profiles"][0];
    assert_eq!(p["routing"]["method"], "Priority", "{p:#}");
    assert_eq!(
        p["activeEndpoints"],
        serde_json::json!(["ns/secondary#app-west#c2"]),
        "{p:#}"
    );

    primary.restart();
    wait::eventually(
        "answers back on the primary",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let seen = answers(&client, 50);
            (seen == only(PRIMARY))
                .then_some(())
                .ok_or(format!("{seen:?}\n{}", health_txt(&client)))
        },
    );
    assert_eq!(answers(&client, 200), only(PRIMARY));
}

/// The shipped example with the seed's profile switched to MultiValue, as
/// `kubectl annotate trafficmanagerprofile kuard-atm-demo fleetdns.io/routing-method=MultiValue` would.
fn multivalue_example() -> String {
    let example = fixtures::example();
    let seed = "  name: kuard-atm-demo\n  namespace: kuard-demo\nspec:";
    assert!(
        example.contains(seed),
        "the example still has the seed profile"
    );
    example.replace(
        seed,
        "  name: kuard-atm-demo\n  namespace: kuard-demo\n  annotations:\n    fleetdns.io/routing-method: MultiValue\nspec:",
    )
}

const SEED: &str = "kuard-demo-kuard-atm-demo.fleet.example.com";
const SEED_ADDRESSES: [&str; 3] = ["127.0.0.11", "127.0.0.12", "127.0.0.13"];

#[test]
fn routing_method_multivalue_nslookup_prints_several_addresses() {
    let s = fixtures::start(&multivalue_example());
    let out = tools::run(
        "nslookup",
        &[
            &format!("-port={}", s.addr.port()),
            SEED,
            &s.addr.ip().to_string(),
        ],
    );
    assert!(out.contains(&format!("Name:\t{SEED}")), "{out}");
    let printed: BTreeSet<&str> = SEED_ADDRESSES
        .iter()
        .copied()
        .filter(|ip| out.contains(&format!("Address: {ip}\n")))
        .collect();
    assert_eq!(printed.len(), 3, "all three kuard-svc addresses:\n{out}");

    // dig shows the same: three A records in one answer.
    let dig = tools::run(
        "dig",
        &[
            "@127.0.0.1",
            "-p",
            &s.addr.port().to_string(),
            SEED,
            "A",
            "+short",
        ],
    );
    let mut lines: Vec<&str> = dig.lines().collect();
    lines.sort();
    assert_eq!(lines, SEED_ADDRESSES, "{dig}");
}

/// Kubernetes mode: `kubectl annotate` of the hub's profile switches it to
/// MultiValue while serving; the answers and fleetdns's `Serving` condition follow.
#[test]
fn routing_method_kubernetes_annotation_switches_a_live_profile_to_multivalue() {
    use fleetdns_kubefake::{write_kubeconfig_with_token, FakeCluster};
    use fleetdns_testsupport::process::scratch_dir;
    use serde_json::json;

    use crate::kube_fixtures::{self, FLEET};

    let at = |host: u8| -> SocketAddr { format!("127.0.122.{host}:0").parse().unwrap() };
    let hub = FakeCluster::start(at(1), "hub").expect("hub");
    let m1 = FakeCluster::start(at(2), "member-1").expect("member-1");
    let m2 = FakeCluster::start(at(3), "member-2").expect("member-2");
    let dir = scratch_dir("routing-kube");
    let kubeconfig = dir.join("kubeconfig");
    write_kubeconfig_with_token(&kubeconfig, &[&hub, &m1, &m2], "t").unwrap();
    kube_fixtures::seed_web(&hub);
    for (cluster, ip) in [(&m1, "192.0.2.1"), (&m2, "192.0.2.2")] {
        cluster
            .create_with_status(&json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": "demo"},
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
    members:
      - {{name: member-1, context: member-1}}
      - {{name: member-2, context: member-2}}
    status: {{leaseNamespace: fleetdns-system}}
",
        kubeconfig.display()
    );
    let s = fleetdns_testsupport::Fleetdns::start_with(
        fixtures::BIN.as_ref(),
        &config,
        "127.0.122.10:0",
        &["--identity", "routing"],
    );
    let client = Client::new(s.addr);
    let records = || {
        let m = client.query("demo-web.fleet.test.", RecordType::A, &Opts::default());
        m.answers.len()
    };
    wait::eventually(
        "Weighted answers (one record)",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || (records() == 1).then_some(()).ok_or("no answer yet"),
    );
    // kubectl annotate trafficmanagerprofile web -n demo fleetdns.io/routing-method=MultiValue
    hub.merge_patch(
        FLEET,
        "TrafficManagerProfile",
        "demo",
        "web",
        &json!({"metadata": {"annotations": {"fleetdns.io/routing-method": "MultiValue"}}}),
        false,
    )
    .unwrap();
    wait::eventually(
        "MultiValue answers (both members)",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || (records() == 2).then_some(()).ok_or("still one record"),
    );
    assert!((0..100).all(|_| records() == 2));
    wait::eventually(
        "the Serving condition names the method",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || {
            let p = hub
                .get(FLEET, "TrafficManagerProfile", "demo", "web")
                .unwrap_or_default();
            let serving = p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "fleetdns.io/Serving")
                .cloned()
                .unwrap_or_default();
            serving["message"]
                .as_str()
                .is_some_and(|m| m.contains("(MultiValue, up to 3 addresses per answer)"))
                .then_some(())
                .ok_or(format!("{serving:#}"))
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
}
