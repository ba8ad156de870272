//! Where the memory of Kubernetes mode goes at scale (issue 20): live heap after each
//! stage, counted by a global allocator. Ignored: a measurement, not a check; run with
//! `N=100000 cargo test --release -p fleetdns-sources --test kube_memory_scale -- --ignored --nocapture`.
//!
//! The objects are shaped as `kubefake` serves them to the watchers (uid,
//! resourceVersion, creationTimestamp, `managedFields` of each writer), 100 profiles a
//! namespace, as in `scripts/kube_scale_probe.py`, and go through the watchers' own
//! ingest ([`fleetdns_sources::kubernetes::slim`]).

use std::alloc::System;
use std::path::Path;
use std::sync::Arc;

use fleetdns_config::file;
use fleetdns_sources::kubernetes::compose::{Resource, Snapshot, Topology};
use fleetdns_sources::kubernetes::incremental::Composer;
use fleetdns_sources::kubernetes::slim::slim;
use serde_json::{json, Value};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn live_mib() -> f64 {
    let s = GLOBAL.stats();
    (s.bytes_allocated as f64 - s.bytes_deallocated as f64 + s.bytes_reallocated as f64)
        / (1024.0 * 1024.0)
}

const SETTINGS: &str = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.example.com
  nameServers:
    - {name: ns1.fleet.example.com, addresses: [127.0.0.1]}
  kubernetes:
    hub: {context: hub}
    members:
      - {name: member-1, context: m1}
";

const T: &str = "2026-12-06T01:43:14Z";

fn managed(api: &str, fields: Value, sub: Option<&str>) -> Value {
    let mut e = json!({"apiVersion": api, "fieldsType": "FieldsV1", "fieldsV1": fields,
                       "manager": "kubectl", "operation": "Update", "time": T});
    if let Some(s) = sub {
        e["subresource"] = json!(s);
    }
    e
}

fn meta(ns: &str, name: &str, i: usize, managed_fields: Vec<Value>) -> Value {
    json!({"creationTimestamp": T, "generation": 1, "name": name, "namespace": ns,
           "resourceVersion": (i + 10).to_string(),
           "uid": format!("9dde4f54-e9dd-4303-a0d6-{i:012}"), "managedFields": managed_fields})
}

/// The four objects of profile `i`, as kubefake serves them.
fn objects(i: usize) -> [(&'static str, Resource, Value); 4] {
    let ns = format!("team-{}", i / 100);
    let g = "networking.fleet.azure.com";
    let (p, b, s) = (format!("p{i}"), format!("b{i}"), format!("svc{i}"));
    let profile = json!({"apiVersion": format!("{g}/v1beta1"), "kind": "TrafficManagerProfile",
        "metadata": meta(&ns, &p, i, vec![managed(&format!("{g}/v1beta1"), json!({"f:spec": {"f:monitorConfig": {"f:intervalInSeconds": {}, "f:path": {}, "f:port": {}, "f:protocol": {}, "f:toleratedNumberOfFailures": {}}, "f:resourceGroup": {}}}), None)]),
        "spec": {"monitorConfig": {"intervalInSeconds": 30, "path": "/", "port": 80, "protocol": "HTTP", "toleratedNumberOfFailures": 3}, "resourceGroup": "rg"}});
    let backend = json!({"apiVersion": format!("{g}/v1beta1"), "kind": "TrafficManagerBackend",
        "metadata": meta(&ns, &b, i, vec![managed(&format!("{g}/v1beta1"), json!({"f:spec": {"f:backend": {"f:name": {}}, "f:profile": {"f:name": {}}, "f:weight": {}}}), None)]),
        "spec": {"profile": {"name": p}, "backend": {"name": s}, "weight": 100}});
    let service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": meta(&ns, &s, i, vec![
            managed("v1", json!({"f:spec": {"f:ports": {}, "f:type": {}}}), None),
            managed("v1", json!({"f:status": {"f:loadBalancer": {"f:ingress": {}}}}), Some("status"))]),
        "spec": {"ports": [{"port": 80, "protocol": "TCP"}], "type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": [{"ip": format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)}]}}});
    let export = json!({"apiVersion": format!("{g}/v1alpha1"), "kind": "ServiceExport",
        "metadata": {
            "annotations": {format!("{g}/weight"): "50", "fleetdns.io/always-serve": "true"},
            "creationTimestamp": T, "generation": 1, "name": s, "namespace": ns,
            "resourceVersion": (i + 10).to_string(), "uid": format!("u-{i}"),
            "managedFields": [managed(&format!("{g}/v1alpha1"), json!({"f:metadata": {"f:annotations": {".": {}, "f:fleetdns.io/always-serve": {}, format!("f:{g}/weight"): {}}}}), None)]}});
    [
        ("hub", Resource::Profiles, profile),
        ("hub", Resource::Backends, backend),
        ("member-1", Resource::Services, service),
        ("member-1", Resource::Exports, export),
    ]
}

#[test]
#[ignore = "a measurement; run by hand"]
fn live_heap_by_stage() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let raw = std::env::var("RAW").is_ok();
    let mut diags = Default::default();
    let settings = file::parse(Path::new("f.yaml"), SETTINGS, &mut diags)
        .settings
        .into_iter()
        .next()
        .unwrap();
    let topology = Topology {
        hub: "hub".into(),
        members: vec!["member-1".into()],
    };
    let start = live_mib();
    let mut snap = Snapshot::default();
    for i in 0..n {
        for (cluster, resource, mut o) in objects(i) {
            if !raw {
                slim(resource, &mut o);
            }
            snap.insert(cluster, resource, o);
        }
    }
    let after_snapshot = live_mib();
    eprintln!(
        "n={n} ({}) snapshot: {:.1} MiB",
        if raw { "as served" } else { "slimmed" },
        after_snapshot - start
    );
    let mut composer = Composer::default();
    let t = tokio::time::Instant::now();
    let (fleet, diags, how) = composer.compose(&settings, &topology, &snap);
    let fleet = Arc::new(fleet.unwrap());
    let composed = live_mib();
    eprintln!(
        "composer (parse caches, merged profiles and observed objects) + published fleet: {:.1} MiB ({how:?}, {:?}, {} diagnostics)",
        composed - after_snapshot,
        t.elapsed(),
        diags.iter().count()
    );
    let copy = Arc::new((*fleet).clone());
    eprintln!(
        "one more Fleet (what the merge copies per event): {:.1} MiB",
        live_mib() - composed
    );
    drop(copy);
    let before = live_mib();
    drop(fleet);
    eprintln!("the published fleet alone: {:.1} MiB", before - live_mib());
    let before = live_mib();
    drop(composer);
    eprintln!("the composer alone: {:.1} MiB", before - live_mib());
    assert_eq!(snap.collections.len(), 4);
}

#[test]
#[ignore = "a measurement; run by hand"]
fn sizes() {
    use fleetdns_config::crd::v1beta1::{TrafficManagerBackendSpec, TrafficManagerProfileSpec};
    use fleetdns_config::inputs::{Inputs, Object};
    eprintln!(
        "Object<Profile> {} Object<Backend> {} Object<()> {} Inputs {} Value {} Profile {} ObservedObject {}",
        std::mem::size_of::<Object<TrafficManagerProfileSpec>>(),
        std::mem::size_of::<Object<TrafficManagerBackendSpec>>(),
        std::mem::size_of::<Object<()>>(),
        std::mem::size_of::<Inputs>(),
        std::mem::size_of::<Value>(),
        std::mem::size_of::<fleetdns_config::Profile>(),
        std::mem::size_of::<fleetdns_config::ObservedObject>(),
    );
}
