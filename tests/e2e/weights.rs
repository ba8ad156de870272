//! Weighted selection through a real UDP socket: shares match weights.

use std::collections::BTreeMap;

use fleetdns_testsupport::dns::{Client, Opts};
use hickory_proto::rr::RecordType;

use crate::fixtures;

/// Sends `n` A queries for `name` and counts the answers by their data.
fn shares(addr: std::net::SocketAddr, name: &str, n: u32) -> BTreeMap<String, f64> {
    let client = Client::new(addr);
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..n {
        let m = client.query(name, RecordType::A, &Opts::default());
        assert_eq!(m.answers.len(), 1);
        *counts.entry(m.answers[0].data.to_string()).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(k, v)| (k, 100.0 * f64::from(v) / f64::from(n)))
        .collect()
}

fn assert_within(actual: &BTreeMap<String, f64>, expected: &[(&str, f64)], tolerance: f64) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "every endpoint and only them: {actual:?}"
    );
    for (target, want) in expected {
        let got = actual.get(*target).copied().unwrap_or(0.0);
        assert!(
            (got - want).abs() <= tolerance,
            "{target}: {got:.2}% vs expected {want:.2}% (±{tolerance}pp); all: {actual:?}"
        );
    }
}

#[test]
fn example_config_shares_match_effective_weights_over_20000_queries() {
    // examples/fleet.yaml: backend weight 100, exports 50/50/100 → endpoint weights 25/25/50.
    let s = fixtures::start(&fixtures::example());
    let got = shares(
        s.addr,
        "kuard-demo-kuard-atm-demo.fleet.example.com.",
        20_000,
    );
    assert_within(
        &got,
        &[
            ("127.0.0.11", 25.0),
            ("127.0.0.12", 25.0),
            ("127.0.0.13", 50.0),
        ],
        2.0,
    );
}

#[test]
fn fleet_formula_example_500_with_exports_100_and_200_serves_167_to_334() {
    let mut c = fixtures::settings("");
    c += &fixtures::profile("web", "svc", 500);
    c += "---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata:
  name: svc
  namespace: ns
  annotations: {networking.fleet.azure.com/weight: \"100\", fleetdns.io/clusters: c1}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata:
  name: svc
  namespace: ns
  annotations: {networking.fleet.azure.com/weight: \"200\", fleetdns.io/clusters: c2}
";
    let s = fixtures::start(&c);
    let got = shares(s.addr, "ns-web.tm.test.", 20_000);
    let total = 167.0 + 334.0;
    assert_within(
        &got,
        &[
            ("192.0.2.1", 100.0 * 167.0 / total),
            ("192.0.2.2", 100.0 * 334.0 / total),
        ],
        2.0,
    );
}

#[test]
fn several_backends_of_one_profile_compete_by_their_weights() {
    // Backend a (weight 9) on svc (two clusters → 5 + 5), backend b (weight 1) on v6's
    // cluster c1 but IPv4 service svc2 → weight 1. Shares 5:5:1.
    let mut c = fixtures::settings("");
    c = c.replace(
        "        - {namespace: ns, name: host, loadBalancer: ['lb1.example.net']}\n",
        "        - {namespace: ns, name: host, loadBalancer: ['lb1.example.net']}\n        - {namespace: ns, name: other, loadBalancer: ['198.51.100.7']}\n",
    );
    c += &fixtures::profile("web", "svc", 9);
    c += "---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: second, namespace: ns}
spec:
  profile: {name: web}
  backend: {name: other}
  weight: 1
";
    c += &fixtures::export("svc", None);
    c += &fixtures::export("other", None);
    let s = fixtures::start(&c);
    let got = shares(s.addr, "ns-web.tm.test.", 11_000);
    let t = 11.0;
    assert_within(
        &got,
        &[
            ("192.0.2.1", 500.0 / t),
            ("192.0.2.2", 500.0 / t),
            ("198.51.100.7", 100.0 / t),
        ],
        2.0,
    );
}
