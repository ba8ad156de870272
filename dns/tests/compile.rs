//! `compile` + `answer` in process: health folding, fail-open/closed, the health
//! view's privacy, and that the sampler follows the effective weights.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use fleetdns_config::{file, EndpointHealth, Fleet, Health, MonitorState};
use fleetdns_dns::answer::answer;
use fleetdns_dns::compile;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Name, RecordType};

fn fleet(fail_closed: bool) -> Fleet {
    let ann = if fail_closed {
        "  annotations: {fleetdns.io/fail-closed: \"true\"}\n"
    } else {
        ""
    };
    let text = format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers: [{{name: ns1.tm.test, addresses: [127.0.0.1]}}]
  clusters:
    - {{name: a, services: [{{namespace: ns, name: svc, loadBalancer: ['192.0.2.1']}}]}}
    - {{name: b, services: [{{namespace: ns, name: svc, loadBalancer: ['192.0.2.2']}}]}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata:
  name: web
  namespace: ns
{ann}spec: {{resourceGroup: rg}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: web, namespace: ns}}
spec: {{profile: {{name: web}}, backend: {{name: svc}}, weight: 4}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {{name: svc, namespace: ns, annotations: {{fleetdns.io/clusters: a, networking.fleet.azure.com/weight: '3'}}}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {{name: svc, namespace: ns, annotations: {{fleetdns.io/clusters: b}}}}
"
    );
    file::load_str(Path::new("t.yaml"), &text).expect("valid").0
}

fn health(states: &[(&str, MonitorState)]) -> Health {
    states
        .iter()
        .map(|(id, s)| {
            (
                Arc::from(*id),
                EndpointHealth {
                    state: *s,
                    consecutive_failures: 0,
                    last: None,
                },
            )
        })
        .collect()
}

fn name(s: &str) -> LowerName {
    LowerName::new(&Name::from_str(s).unwrap())
}

/// Draws `n` A answers and counts them by address.
fn draw(zone: &fleetdns_dns::Zone, n: u32) -> BTreeMap<String, u32> {
    let q = name("ns-web.tm.test.");
    let mut out = BTreeMap::new();
    for _ in 0..n {
        let a = answer(zone, &q, RecordType::A, false);
        let key = a
            .records(&Name::root())
            .next()
            .map_or("NODATA".to_string(), |r| r.data.to_string());
        *out.entry(key).or_default() += 1;
    }
    out
}

const A: &str = "ns/web#svc#a";
const B: &str = "ns/web#svc#b";

#[test]
fn weights_follow_the_fleet_formula() {
    let f = fleet(false);
    let w: Vec<u32> = f.profiles[0].endpoints.iter().map(|e| e.weight).collect();
    assert_eq!(w, [3, 1], "ceil(4×3/4), ceil(4×1/4)");
    let zone = compile(&f, &Health::default());
    let counts = draw(&zone, 40_000);
    let share = f64::from(counts["192.0.2.1"]) / 40_000.0;
    assert!((share - 0.75).abs() < 0.02, "{counts:?}");
}

#[test]
fn degraded_endpoints_leave_and_checking_ones_stay() {
    let f = fleet(false);
    let zone = compile(
        &f,
        &health(&[
            (A, MonitorState::Degraded),
            (B, MonitorState::CheckingEndpoint),
        ]),
    );
    assert_eq!(draw(&zone, 200).keys().collect::<Vec<_>>(), ["192.0.2.2"]);
    let zone = compile(
        &f,
        &health(&[(A, MonitorState::Online), (B, MonitorState::Degraded)]),
    );
    assert_eq!(draw(&zone, 200).keys().collect::<Vec<_>>(), ["192.0.2.1"]);
}

#[test]
fn all_degraded_fails_open_unless_fail_closed() {
    let all_down = health(&[(A, MonitorState::Degraded), (B, MonitorState::Degraded)]);
    let open = compile(&fleet(false), &all_down);
    assert_eq!(draw(&open, 400).len(), 2, "both served");
    let closed = compile(&fleet(true), &all_down);
    let a = answer(&closed, &name("ns-web.tm.test."), RecordType::A, false);
    assert_eq!(a.rcode, ResponseCode::NoError);
    assert!(
        a.records(&Name::root()).next().is_none() && a.authoritative,
        "NODATA"
    );
}

#[test]
fn the_health_view_exists_only_for_trusted_clients() {
    let zone = compile(&fleet(false), &health(&[(A, MonitorState::Degraded)]));
    for (q, t) in [
        ("_health.ns-web.tm.test.", RecordType::TXT),
        ("a._cluster.ns-web.tm.test.", RecordType::A),
        ("_cluster.ns-web.tm.test.", RecordType::A),
    ] {
        let untrusted = answer(&zone, &name(q), t, false);
        assert_eq!(untrusted.rcode, ResponseCode::NXDomain, "{q}");
        assert!(untrusted.health.is_none() && untrusted.records(&Name::root()).next().is_none());
        let trusted = answer(&zone, &name(q), t, true);
        assert_eq!(trusted.rcode, ResponseCode::NoError, "{q}");
    }
    let view = answer(
        &zone,
        &name("_health.ns-web.tm.test."),
        RecordType::TXT,
        true,
    )
    .health
    .expect("health view");
    let endpoints: Vec<_> = view.endpoints().collect();
    assert_eq!(endpoints.len(), 2);
    assert!(!endpoints[0].served && endpoints[1].served);
    // Per-cluster names answer only healthy endpoints: cluster a is Degraded.
    assert!(answer(
        &zone,
        &name("a._cluster.ns-web.tm.test."),
        RecordType::A,
        true
    )
    .records(&Name::root())
    .next()
    .is_none());
    assert_eq!(
        answer(
            &zone,
            &name("b._cluster.ns-web.tm.test."),
            RecordType::A,
            true
        )
        .records(&Name::root())
        .count(),
        1
    );
    assert!(zone.is_trusted("127.0.0.1".parse().unwrap()));
    assert!(
        zone.is_trusted("::ffff:10.1.2.3".parse().unwrap()),
        "IPv4-mapped clients are judged as IPv4"
    );
    assert!(!zone.is_trusted("8.8.8.8".parse().unwrap()));
}
