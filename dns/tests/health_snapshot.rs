//! One health-view answer reads one snapshot: `served` (from the compiled zone)
//! and `state` (from the health it pairs with) always agree, while another
//! thread publishes snapshots compiled from alternating `Health`.
//!
//! Before snapshots, the zone and the health sat in two `ArcSwap`s stored one
//! after the other, and this test failed within a few hundred queries with
//! answers such as `state=Online served=no`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use fleetdns_config::{file, EndpointHealth, Fleet, Health, MonitorState};
use fleetdns_dns::general::{self, Scratch};
use fleetdns_dns::{DnsMetrics, Snapshot};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_server::net::xfer::Protocol;

const CONFIG: &str = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers: [{name: ns1.tm.test, addresses: [127.0.0.1]}]
  healthView: {trustedNetworks: [127.0.0.1/32]}
  clusters:
    - {name: a, services: [{namespace: ns, name: svc, loadBalancer: ['192.0.2.1']}]}
    - {name: b, services: [{namespace: ns, name: svc, loadBalancer: ['192.0.2.2']}]}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {name: web, namespace: ns}
spec: {resourceGroup: rg}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: web, namespace: ns}
spec: {profile: {name: web}, backend: {name: svc}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {name: svc, namespace: ns}
";

fn fleet() -> Fleet {
    file::load_str(Path::new("t.yaml"), CONFIG)
        .unwrap_or_else(|d| panic!("{d}"))
        .0
}

/// Every endpoint Online except those of cluster `degraded`.
fn health(fleet: &Fleet, degraded: &str) -> Arc<Health> {
    let entries = fleet.profiles[0].endpoints.iter().map(|e| {
        let state = if *e.cluster == *degraded {
            MonitorState::Degraded
        } else {
            MonitorState::Online
        };
        let h = EndpointHealth {
            state,
            consecutive_failures: 0,
            last: None,
        };
        (e.id.clone(), h)
    });
    Arc::new(entries.collect())
}

/// The TXT strings of a reply: one line per record, strings separated by spaces.
fn txt(reply: &[u8]) -> String {
    let m = Message::from_vec(reply).expect("reply parses");
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
            other => panic!("not a TXT record: {other:?}"),
        })
        .collect();
    lines.join("\n")
}

#[test]
fn one_health_answer_reads_one_snapshot_while_health_changes() {
    let f = fleet();
    let metrics = Arc::new(DnsMetrics::unregistered().unwrap());
    let a = Arc::new(Snapshot::compile(&f, health(&f, "a"), &metrics));
    let b = Arc::new(Snapshot::compile(&f, health(&f, "b"), &metrics));
    let published = Arc::new(ArcSwap::new(a.clone()));

    let src: SocketAddr = "127.0.0.1:5300".parse().unwrap();
    let mut q = Message::new(7, MessageType::Query, OpCode::Query);
    q.add_query(Query::query(
        Name::from_ascii("_health.ns-web.tm.test.").unwrap(),
        RecordType::TXT,
    ));
    let q = q.to_vec().unwrap();
    let (mut out, mut scratch) = (Vec::new(), Scratch::default());
    let mut ask = |snapshot: &Snapshot| {
        assert!(general::respond(
            snapshot,
            &metrics,
            &q,
            src,
            Protocol::Udp,
            &mut out,
            &mut scratch
        ));
        txt(&out)
    };
    let (text_a, text_b) = (ask(&a), ask(&b));
    assert!(text_a.contains("cluster=a") && text_a.contains("state=Degraded served=no"));
    assert!(text_a.contains("state=Online served=yes"));
    assert_ne!(text_a, text_b);

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (published, stop) = (published.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                published.store(b.clone());
                published.store(a.clone());
                swaps += 2;
            }
            swaps
        })
    };
    let (mut seen_a, mut seen_b) = (0, 0);
    for n in 0..20_000 {
        let text = ask(&published.load());
        if text == text_a {
            seen_a += 1;
        } else if text == text_b {
            seen_b += 1;
        } else {
            stop.store(true, Ordering::Relaxed);
            panic!("answer {n} mixes two snapshots:\n{text}\nexpected\n{text_a}\nor\n{text_b}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(
        swaps > 0 && seen_a > 0 && seen_b > 0,
        "both snapshots served ({seen_a}, {seen_b}) over {swaps} swaps"
    );
}

#[test]
fn a_health_change_that_routes_the_same_keeps_the_zone_and_one_that_does_not_needs_a_compile() {
    let f = fleet();
    let metrics = DnsMetrics::unregistered().unwrap();
    let s = Snapshot::compile(&f, health(&f, "a"), &metrics);
    // Failures counted, nothing Degraded anew: the same zone, showing the new health.
    let mut counted = (*health(&f, "a")).clone();
    let id = f.profiles[0].endpoints[1].id.as_ref();
    counted.get_mut(id).expect("probed").consecutive_failures = 2;
    let refreshed = s.with_health(Arc::new(counted)).expect("same routing");
    assert!(std::ptr::eq(refreshed.zone(), s.zone()));
    assert_eq!(refreshed.health().get(id).unwrap().consecutive_failures, 2);
    assert!(
        s.with_health(health(&f, "b")).is_none(),
        "another endpoint serves"
    );
}
