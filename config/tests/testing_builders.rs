//! The model's test builders (`fleetdns_config::testing`) make what validation makes:
//! a built fleet equals the validated file that says the same, so the tests of other
//! crates that build fleets see the defaults the binary would use.
//!
//! Compiled with the `test-support` feature, which the workspace's test builds turn on
//! (the prober's dev-dependency); alone: `cargo test -p fleetdns-config --features test-support`.
#![cfg(feature = "test-support")]

use std::path::Path;

use fleetdns_config::testing::{endpoint, fleet, monitor, profile, MonitorBuilder, ZONE};
use fleetdns_config::{file, Fleet, Protocol, Target};

const SETTINGS: &str = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.example.com
  nameServers: [{name: ns1.fleet.example.com, addresses: [127.0.0.1]}]
";

fn load(text: &str) -> Fleet {
    file::load_str(Path::new("fleet.yaml"), text)
        .unwrap_or_else(|d| panic!("{d}"))
        .0
}

#[test]
fn an_empty_fleet_is_the_validated_minimal_file() {
    let loaded = load(SETTINGS);
    assert_eq!(loaded.zone.apex, ZONE);
    // The file has no serial: validation derives one from the content.
    let built = fleet().serial(loaded.zone.soa.serial).build();
    assert_eq!(built, loaded);
}

#[test]
fn a_profile_with_defaults_is_the_validated_profile_without_monitor_config() {
    let text = format!(
        "{SETTINGS}  clusters:
    - {{name: c1, services: [{{namespace: ns, name: svc, loadBalancer: ['192.0.2.1']}}]}}
    - {{name: c2, services: [{{namespace: ns, name: svc, loadBalancer: ['lb.example.net']}}]}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {{name: web, namespace: ns}}
spec: {{resourceGroup: rg}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: web-b, namespace: ns}}
spec: {{profile: {{name: web}}, backend: {{name: svc}}}}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {{name: svc, namespace: ns}}
"
    );
    let loaded = load(&text);
    let ep = |cluster: &str| {
        endpoint(&format!("ns/web-b#svc#{cluster}"))
            .backend("web-b")
            .service("svc")
            .cluster(cluster)
    };
    let built = fleet()
        .serial(loaded.zone.soa.serial)
        .profile(
            profile("ns", "web")
                // Given out of order: the builder sorts endpoints by id.
                .endpoint(ep("c2").host("lb.example.net"))
                .endpoint(ep("c1").ipv4([192, 0, 2, 1])),
        )
        .build();
    assert_eq!(built, loaded);
    assert_eq!(
        built.profiles[0].monitor,
        monitor(Protocol::Http).build().into()
    );
}

#[test]
fn builders_set_what_they_are_told() {
    let m = monitor(Protocol::Https)
        .port(8443)
        .path("/ready")
        .interval(10)
        .timeout(5)
        .tolerated(0)
        .header("Host", "www.contoso.com")
        .expected_status(&[(200, 299)])
        .verify_tls(true)
        .build();
    assert_eq!(
        (
            m.port,
            m.path.as_str(),
            m.interval_seconds,
            m.timeout_seconds
        ),
        (8443, "/ready", 10, 5)
    );
    assert_eq!(m.tolerated_failures, 0);
    assert_eq!(
        m.custom_headers,
        [("Host".to_string(), "www.contoso.com".into())]
    );
    assert_eq!(
        (m.expected_status.as_slice(), m.verify_tls),
        (&[(200, 299)][..], true)
    );
    assert_eq!(MonitorBuilder::from(m.clone()).build(), m);

    let p = profile("Team", "Web")
        .zone("tm.test")
        .ttl(5)
        .fail_closed(true)
        .monitor(m.clone())
        .endpoint(
            endpoint("e")
                .ipv6("2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap())
                .weight(7)
                .export_weight(3)
                .always_serve(true),
        )
        .build();
    assert_eq!(p.owner, "team-web.tm.test");
    assert_eq!((p.ttl, p.fail_closed, &*p.monitor), (5, true, &m));
    let e = &p.endpoints[0];
    assert_eq!(
        e.target,
        Target::Addresses {
            v4: None,
            v6: Some("2001:db8::1".parse().unwrap())
        }
    );
    assert_eq!((e.weight, e.export_weight, e.always_serve), (7, 3, true));

    let f = fleet()
        .profile(profile("ns", "b"))
        .profiles([profile("ns", "a")])
        .build();
    let owners: Vec<&str> = f.profiles.iter().map(|p| p.owner.as_str()).collect();
    assert_eq!(owners, ["ns-a.fleet.example.com", "ns-b.fleet.example.com"]);
}
