//! How long the Kubernetes source takes to turn watched objects into a `Fleet`
//! (the part of "watch event → new answers" that grows with the fleet).
//!
//! `cargo run --release -p fleetdns-sources --example compose -- 1000 10000`
// A benchmark measures wall time on purpose: std::time::Instant is right here.
#![allow(clippy::disallowed_types)]

use std::path::Path;
use std::time::Instant;

use fleetdns_config::file;
use fleetdns_sources::kubernetes::compose::{
    compose_cached, ParseCache, Resource, Snapshot, Topology,
};
use serde_json::{json, Value};

const SETTINGS: &str = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.example.com
  nameServers: [{name: ns1.fleet.example.com, addresses: [127.0.0.1]}]
  kubernetes:
    members: [{name: member-1}, {name: member-2}]
";

fn put(s: &mut Snapshot, cluster: &str, r: Resource, o: Value) {
    s.insert(cluster, r, o);
}

fn snapshot(n: usize) -> Snapshot {
    let mut s = Snapshot::default();
    for i in 0..n {
        let name = format!("p{i}");
        let meta = |uid: String| json!({"namespace": "ns", "name": name, "uid": uid, "generation": 1, "resourceVersion": "1"});
        put(
            &mut s,
            "hub",
            Resource::Profiles,
            json!({"apiVersion": "networking.fleet.azure.com/v1beta1",
            "kind": "TrafficManagerProfile", "metadata": meta(format!("tmp-{i}")), "spec": {"resourceGroup": "rg"}}),
        );
        put(
            &mut s,
            "hub",
            Resource::Backends,
            json!({"apiVersion": "networking.fleet.azure.com/v1beta1",
            "kind": "TrafficManagerBackend", "metadata": meta(format!("tmb-{i}")),
            "spec": {"profile": {"name": name}, "backend": {"name": name}, "weight": 10}}),
        );
        for (c, m) in [("member-1", 1), ("member-2", 2)] {
            put(
                &mut s,
                c,
                Resource::Services,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(format!("svc-{c}-{i}")),
                "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
                "status": {"loadBalancer": {"ingress": [{"ip": format!("10.{m}.{}.{}", i / 250, i % 250 + 1)}]}}}),
            );
            put(
                &mut s,
                c,
                Resource::Exports,
                json!({"apiVersion": "networking.fleet.azure.com/v1beta1",
                "kind": "ServiceExport", "metadata": meta(format!("se-{c}-{i}"))}),
            );
        }
    }
    s
}

fn main() {
    let mut diags = Default::default();
    let settings = file::parse(Path::new("k.yaml"), SETTINGS, &mut diags)
        .settings
        .remove(0);
    let topology = Topology {
        hub: "hub".into(),
        members: vec!["member-1".into(), "member-2".into()],
    };
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1000, 10000]
    } else {
        sizes
    };
    println!("| profiles | objects | first compose | compose after one change (cached parses) | endpoints |");
    println!("|---|---|---|---|---|");
    for n in sizes {
        let mut s = snapshot(n);
        let mut cache = ParseCache::default();
        let t = Instant::now();
        let (fleet, _) = compose_cached(&settings, &topology, &s, &mut cache);
        let first = t.elapsed().as_secs_f64();
        let endpoints: usize =
            fleet.map_or(0, |f| f.profiles.iter().map(|p| p.endpoints.len()).sum());
        let mut best = f64::MAX;
        for round in 0..3 {
            // One export's weight changes (a new resourceVersion), as a watch event would bring.
            put(
                &mut s,
                "member-1",
                Resource::Exports,
                json!({"apiVersion": "networking.fleet.azure.com/v1beta1",
                "kind": "ServiceExport", "metadata": {"namespace": "ns", "name": "p0", "resourceVersion": format!("r{round}"),
                "annotations": {"networking.fleet.azure.com/weight": format!("{}", round + 2)}}}),
            );
            let t = Instant::now();
            let _ = compose_cached(&settings, &topology, &s, &mut cache);
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "| {n} | {} | {:.0} ms | {:.0} ms | {endpoints} |",
            n * 6,
            first * 1000.0,
            best * 1000.0
        );
    }
}
