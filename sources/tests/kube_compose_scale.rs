//! Where the time of one watch event goes at scale (issue 20). Ignored: a measurement,
//! not a check; run with
//! `cargo test --release -p fleetdns-sources --test kube_compose_scale -- --ignored --nocapture`.

use std::path::Path;
use tokio::time::Instant;

use fleetdns_config::file;
use fleetdns_sources::kubernetes::compose::{
    compose_cached, ParseCache, Resource, Snapshot, Topology,
};
use fleetdns_sources::kubernetes::incremental::Composer;
use serde_json::{json, Value};

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

fn objects(n: usize) -> Snapshot {
    let mut s = Snapshot::default();
    for i in 0..n {
        let ns = format!("team-{}", i % 100);
        let meta = |name: String| json!({"namespace": ns, "name": name, "uid": format!("u-{name}"), "resourceVersion": "1", "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z"});
        s.insert("hub", Resource::Profiles, json!({"apiVersion": "networking.fleet.azure.com/v1beta1", "kind": "TrafficManagerProfile", "metadata": meta(format!("p{i}")), "spec": {"resourceGroup": "rg", "monitorConfig": {"port": 80}}}));
        s.insert("hub", Resource::Backends, json!({"apiVersion": "networking.fleet.azure.com/v1beta1", "kind": "TrafficManagerBackend", "metadata": meta(format!("b{i}")), "spec": {"profile": {"name": format!("p{i}")}, "backend": {"name": format!("svc{i}")}, "weight": 100}}));
        s.insert("member-1", Resource::Services, json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(format!("svc{i}")), "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]}, "status": {"loadBalancer": {"ingress": [{"ip": format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)}]}}}));
        let mut m = meta(format!("svc{i}"));
        m["annotations"] =
            json!({"networking.fleet.azure.com/weight": "50", "fleetdns.io/always-serve": "true"});
        s.insert("member-1", Resource::Exports, json!({"apiVersion": "networking.fleet.azure.com/v1alpha1", "kind": "ServiceExport", "metadata": m}));
    }
    s
}

struct Sink(u64);
impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
#[ignore = "a measurement; run by hand"]
fn one_event_at_scale() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
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
    let mut snap = objects(n);
    let mut cache = ParseCache::default();
    let t = Instant::now();
    let (fleet, d) = compose_cached(&settings, &topology, &snap, &mut cache);
    let fleet = fleet.unwrap();
    eprintln!(
        "n={n} cold compose {:?} ({} profiles, {} diags)",
        t.elapsed(),
        fleet.profiles.len(),
        d.iter().count()
    );
    let mut composer = Composer::default();
    let t = Instant::now();
    let (_, _, how) = composer.compose(&settings, &topology, &snap);
    eprintln!("incremental composer, cold: {:?} ({how:?})", t.elapsed());
    let mut svc: Value = (*snap.collections[&("member-1".to_string(), Resource::Services)]
        [&("team-7".to_string(), "svc7".to_string())])
        .clone();
    svc["status"]["loadBalancer"]["ingress"][0]["ip"] = json!("192.0.2.99");
    svc["metadata"]["resourceVersion"] = json!("2");
    snap.insert("member-1", Resource::Services, svc);
    let t = Instant::now();
    let (f2, _) = compose_cached(&settings, &topology, &snap, &mut cache);
    let f2 = f2.unwrap();
    eprintln!("warm compose after one change {:?}", t.elapsed());
    composer.touch("team-7");
    let t = Instant::now();
    let (f3, _, how) = composer.compose(&settings, &topology, &snap);
    eprintln!(
        "incremental composer after one change {:?} ({how:?})",
        t.elapsed()
    );
    assert_eq!(f3.as_ref(), Some(&f2), "the same fleet either way");
    let t = Instant::now();
    let c = f2.clone();
    eprintln!("Fleet clone {:?}", t.elapsed());
    let t = Instant::now();
    let eq = c == fleet;
    eprintln!("Fleet == {:?} ({eq})", t.elapsed());
    let t = Instant::now();
    let mut sink = Sink(0);
    serde_json::to_writer(&mut sink, &f2).unwrap();
    eprintln!(
        "Fleet to JSON (the content serial's walk) {:?}, {} bytes",
        t.elapsed(),
        sink.0
    );
    let t = Instant::now();
    let o = f2.observed.clone();
    eprintln!(
        "observed clone {:?} ({} objects)",
        t.elapsed(),
        o.objects.len()
    );
    let t = Instant::now();
    let p = f2.profiles.clone();
    eprintln!("profiles clone {:?} ({})", t.elapsed(), p.len());
}
