//! The Kubernetes composer: objects as the API server returns them → `Fleet`, and
//! what each object's verdict is. Pure; no cluster needed.

use std::path::Path;

use fleetdns_config::{file, ClusterState, ObjectKind, Target};
use fleetdns_sources::kubernetes::compose::{compose, Resource, Snapshot, Topology};
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
      - {name: member-2, context: m2}
";

fn settings() -> (
    fleetdns_config::document::Doc,
    fleetdns_config::settings::SettingsDocument,
) {
    let mut diags = Default::default();
    let inputs = file::parse(Path::new("fleet.yaml"), SETTINGS, &mut diags);
    inputs.settings.into_iter().next().expect("settings parse")
}

fn topology() -> Topology {
    Topology {
        hub: "hub".into(),
        members: vec!["member-1".into(), "member-2".into()],
    }
}

fn meta(ns: &str, name: &str, uid: &str) -> Value {
    json!({"namespace": ns, "name": name, "uid": uid, "generation": 3, "creationTimestamp": "2026-01-01T00:00:00Z"})
}

fn profile(name: &str) -> Value {
    json!({"apiVersion": "networking.fleet.azure.com/v1beta1", "kind": "TrafficManagerProfile",
           "metadata": meta("demo", name, &format!("uid-{name}")),
           "spec": {"resourceGroup": "rg", "monitorConfig": {"port": 80}}})
}

fn backend(name: &str, profile: &str, service: &str, weight: i64) -> Value {
    json!({"apiVersion": "networking.fleet.azure.com/v1beta1", "kind": "TrafficManagerBackend",
           "metadata": meta("demo", name, &format!("uid-{name}")),
           "spec": {"profile": {"name": profile}, "backend": {"name": service}, "weight": weight}})
}

fn service(name: &str, ty: &str, ingress: &[&str], port: i64) -> Value {
    let ingress: Vec<Value> = ingress.iter().map(|i| json!({"ip": i})).collect();
    json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("demo", name, "svc-uid"),
           "spec": {"type": ty, "ports": [{"port": port, "protocol": "TCP"}]},
           "status": {"loadBalancer": {"ingress": ingress}}})
}

fn export(name: &str, weight: Option<&str>) -> Value {
    let mut m = meta("demo", name, &format!("export-{name}"));
    if let Some(w) = weight {
        m["annotations"] = json!({"networking.fleet.azure.com/weight": w});
    }
    json!({"apiVersion": "networking.fleet.azure.com/v1beta1", "kind": "ServiceExport", "metadata": m})
}

fn put(s: &mut Snapshot, cluster: &str, r: Resource, objects: Vec<Value>) {
    for o in objects {
        s.insert(cluster, r, o);
    }
}

fn base() -> Snapshot {
    let mut s = Snapshot::default();
    put(&mut s, "hub", Resource::Profiles, vec![profile("web")]);
    put(
        &mut s,
        "hub",
        Resource::Backends,
        vec![backend("web-be", "web", "web", 100)],
    );
    put(
        &mut s,
        "member-1",
        Resource::Services,
        vec![service("web", "LoadBalancer", &["192.0.2.1"], 80)],
    );
    put(
        &mut s,
        "member-2",
        Resource::Services,
        vec![service("web", "LoadBalancer", &["192.0.2.2"], 80)],
    );
    put(
        &mut s,
        "member-1",
        Resource::Exports,
        vec![export("web", Some("1"))],
    );
    put(
        &mut s,
        "member-2",
        Resource::Exports,
        vec![export("web", Some("3"))],
    );
    s
}

#[test]
fn exports_in_each_member_become_weighted_endpoints() {
    let (fleet, diags) = compose(&settings(), &topology(), &base());
    let fleet = fleet.expect("a fleet");
    assert!(!diags.has_errors(), "{diags}");
    let p = &fleet.profiles[0];
    assert_eq!(p.owner, "demo-web.fleet.example.com");
    let got: Vec<(String, u32, Target)> = p
        .endpoints
        .iter()
        .map(|e| (e.cluster.to_string(), e.weight, e.target.clone()))
        .collect();
    // fleet-networking's formula: ceil(100*1/4)=25, ceil(100*3/4)=75.
    assert_eq!(
        got,
        vec![
            (
                "member-1".into(),
                25,
                Target::Addresses {
                    v4: Some("192.0.2.1".parse().unwrap()),
                    v6: None
                }
            ),
            (
                "member-2".into(),
                75,
                Target::Addresses {
                    v4: Some("192.0.2.2".parse().unwrap()),
                    v6: None
                }
            ),
        ]
    );
    let kinds: Vec<ObjectKind> = fleet.observed.objects.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == ObjectKind::ServiceExport)
            .count(),
        2
    );
    assert!(
        fleet.observed.objects.iter().all(|o| o.problems.is_empty()),
        "{:?}",
        fleet.observed.objects
    );
    let tmb = fleet
        .observed
        .objects
        .iter()
        .find(|o| o.kind == ObjectKind::TrafficManagerBackend)
        .unwrap();
    assert_eq!((tmb.uid.as_str(), tmb.generation), ("uid-web-be", 3));
}

#[test]
fn a_bad_object_is_left_out_and_the_rest_serves() {
    let mut s = base();
    put(&mut s, "hub", Resource::Profiles, vec![profile("api")]);
    // Backend pointing at a profile that does not exist, and one bad weight annotation.
    put(
        &mut s,
        "hub",
        Resource::Backends,
        vec![backend("orphan", "nope", "web", 1)],
    );
    put(
        &mut s,
        "member-2",
        Resource::Exports,
        vec![export("web", Some("heavy"))],
    );
    let (fleet, _) = compose(&settings(), &topology(), &s);
    let fleet = fleet.expect("a fleet despite bad objects");
    let web = fleet.profiles.iter().find(|p| p.name == "web").unwrap();
    assert_eq!(
        web.endpoints.len(),
        1,
        "member-2's invalid export is left out"
    );
    assert_eq!(&*web.endpoints[0].cluster, "member-1");
    assert_eq!(web.endpoints[0].weight, 100);
    let orphan = fleet
        .observed
        .objects
        .iter()
        .find(|o| o.name == "orphan")
        .unwrap();
    assert!(
        orphan
            .problems
            .iter()
            .any(|p| p.contains("no TrafficManagerProfile named \"nope\"")),
        "{:?}",
        orphan.problems
    );
    let bad = fleet
        .observed
        .objects
        .iter()
        .find(|o| o.kind == ObjectKind::ServiceExport && o.cluster == "member-2")
        .unwrap();
    assert_eq!(
        bad.export_validity.as_ref().unwrap().0,
        "ServiceExportInvalidWeightAnnotation"
    );
}

#[test]
fn export_verdicts_follow_fleet_networking() {
    let mut s = base();
    // member-1: the Service is gone; member-2: ClusterIP (valid export, not an endpoint).
    s.collections
        .get_mut(&("member-1".into(), Resource::Services))
        .unwrap()
        .clear();
    put(
        &mut s,
        "member-2",
        Resource::Services,
        vec![service("web", "ClusterIP", &[], 80)],
    );
    let (fleet, _) = compose(&settings(), &topology(), &s);
    let fleet = fleet.unwrap();
    let verdict = |c: &str| {
        fleet
            .observed
            .objects
            .iter()
            .find(|o| o.kind == ObjectKind::ServiceExport && o.cluster == c)
            .unwrap()
            .clone()
    };
    assert_eq!(
        verdict("member-1").export_validity.clone().unwrap().0,
        "ServiceNotFound"
    );
    let m2 = verdict("member-2");
    assert_eq!(m2.export_validity.clone().unwrap().0, "ServiceIsValid");
    assert!(
        m2.problems[0].contains("unsupported service type \"ClusterIP\""),
        "{:?}",
        m2.problems
    );
    assert!(fleet.profiles[0].endpoints.is_empty());
}

#[test]
fn differing_ports_conflict_with_the_first_export() {
    let mut s = base();
    put(
        &mut s,
        "member-2",
        Resource::Services,
        vec![service("web", "LoadBalancer", &["192.0.2.2"], 8080)],
    );
    let (fleet, _) = compose(&settings(), &topology(), &s);
    let fleet = fleet.unwrap();
    let m2 = fleet
        .observed
        .objects
        .iter()
        .find(|o| o.kind == ObjectKind::ServiceExport && o.cluster == "member-2")
        .unwrap();
    assert!(
        m2.export_conflict
            .as_deref()
            .unwrap_or("")
            .contains("differ"),
        "{m2:?}"
    );
    assert_eq!(fleet.profiles[0].endpoints.len(), 1);
}

#[test]
fn cluster_states_travel_with_the_fleet_without_changing_the_zone() {
    let s = base();
    let (a, _) = compose(&settings(), &topology(), &s);
    let mut s2 = s.clone();
    s2.clusters.insert(
        "member-2".into(),
        ClusterState {
            name: "member-2".into(),
            reachable: false,
            unreachable_since: Some(std::time::SystemTime::now()),
            error: Some("connection refused".into()),
        },
    );
    let (b, _) = compose(&settings(), &topology(), &s2);
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.profiles, b.profiles,
        "the last known state of member-2 keeps serving"
    );
    assert_eq!(a.zone.soa.serial, b.zone.soa.serial);
    assert!(
        !b.observed
            .clusters
            .iter()
            .find(|c| c.name == "member-2")
            .unwrap()
            .reachable
    );
}

#[test]
fn kubernetes_mode_files_hold_settings_only() {
    let text = format!(
        "{SETTINGS}---\n{}",
        serde_yaml::to_string(&profile("web")).unwrap()
    );
    let err =
        file::load_str(Path::new("k.yaml"), &text).expect_err("objects in a kubernetes-mode file");
    assert!(
        err.to_string()
            .contains("objects come from the clusters when spec.kubernetes is set"),
        "{err}"
    );
    let (fleet, _) =
        file::load_str(Path::new("k.yaml"), SETTINGS).expect("settings alone are valid");
    let k = fleet.kubernetes.expect("kubernetes settings");
    assert_eq!(k.members.len(), 2);
    assert_eq!(k.lease_name, "fleetdns-status-writer");
}

#[test]
fn cached_parses_follow_resource_versions() {
    use fleetdns_sources::kubernetes::compose::{compose_cached, ParseCache};
    let mut s = base();
    let with_rv = |mut o: Value, rv: &str| {
        o["metadata"]["resourceVersion"] = json!(rv);
        o
    };
    put(
        &mut s,
        "member-2",
        Resource::Exports,
        vec![with_rv(export("web", Some("3")), "10")],
    );
    let mut cache = ParseCache::default();
    let weights = |f: &fleetdns_config::Fleet| {
        f.profiles[0]
            .endpoints
            .iter()
            .map(|e| e.weight)
            .collect::<Vec<_>>()
    };
    let first = compose_cached(&settings(), &topology(), &s, &mut cache)
        .0
        .unwrap();
    assert_eq!(weights(&first), [25, 75]);
    // Same resourceVersion: the cached parse is reused and gives the same fleet.
    let again = compose_cached(&settings(), &topology(), &s, &mut cache)
        .0
        .unwrap();
    assert_eq!(first.profiles, again.profiles);
    // A new resourceVersion with a new weight is parsed again.
    put(
        &mut s,
        "member-2",
        Resource::Exports,
        vec![with_rv(export("web", Some("1")), "11")],
    );
    let changed = compose_cached(&settings(), &topology(), &s, &mut cache)
        .0
        .unwrap();
    assert_eq!(weights(&changed), [50, 50]);
    // A deleted object leaves no stale parse behind.
    s.collections
        .get_mut(&("member-2".into(), Resource::Exports))
        .unwrap()
        .clear();
    let gone = compose_cached(&settings(), &topology(), &s, &mut cache)
        .0
        .unwrap();
    assert_eq!(weights(&gone), [100]);
}
