//! Composition decisions taken the way fleet-networking takes them: an invalid
//! weight annotation keeps the last good weight (serviceexport/controller.go:176-197),
//! a DNS name belongs to the profile that came first, and each object carries
//! its observed status and condition owners for the status writer.

use std::path::Path;

use fleetdns_config::{file, Fleet, ObjectKind};
use fleetdns_sources::kubernetes::compose::{
    compose_cached, ParseCache, Resource, Snapshot, Topology,
};
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
        members: vec!["member-1".into()],
    }
}

fn meta(ns: &str, name: &str, created: &str) -> Value {
    json!({"namespace": ns, "name": name, "uid": format!("uid-{ns}-{name}"), "generation": 1,
           "creationTimestamp": created, "resourceVersion": "1"})
}

fn world(weight: &str, rv: &str) -> Snapshot {
    let mut s = Snapshot::default();
    s.insert(
        "hub",
        Resource::Profiles,
        json!({"apiVersion": "networking.fleet.azure.com/v1beta1",
        "kind": "TrafficManagerProfile", "metadata": meta("demo", "web", "2026-01-01T00:00:00Z"),
        "spec": {"resourceGroup": "rg", "monitorConfig": {"port": 80}}}),
    );
    s.insert(
        "hub",
        Resource::Backends,
        json!({"apiVersion": "networking.fleet.azure.com/v1beta1",
        "kind": "TrafficManagerBackend", "metadata": meta("demo", "web", "2026-01-01T00:00:00Z"),
        "spec": {"profile": {"name": "web"}, "backend": {"name": "web"}, "weight": 10}}),
    );
    s.insert(
        "member-1",
        Resource::Services,
        json!({"apiVersion": "v1", "kind": "Service",
        "metadata": meta("demo", "web", "2026-01-01T00:00:00Z"),
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}),
    );
    let mut m = meta("demo", "web", "2026-01-01T00:00:00Z");
    m["resourceVersion"] = json!(rv);
    m["annotations"] = json!({"networking.fleet.azure.com/weight": weight});
    s.insert(
        "member-1",
        Resource::Exports,
        json!({"apiVersion": "networking.fleet.azure.com/v1beta1",
        "kind": "ServiceExport", "metadata": m}),
    );
    s
}

fn export_weights(f: &Fleet) -> Vec<u32> {
    f.profiles
        .iter()
        .flat_map(|p| &p.endpoints)
        .map(|e| e.export_weight)
        .collect()
}

fn export_of(f: &Fleet) -> &fleetdns_config::ObservedObject {
    f.observed
        .objects
        .iter()
        .find(|o| o.kind == ObjectKind::ServiceExport)
        .unwrap()
}

#[test]
fn parity_an_invalid_weight_annotation_keeps_serving_the_last_good_weight_and_only_flags_the_export(
) {
    let mut cache = ParseCache::default();
    let (f, _) = compose_cached(&settings(), &topology(), &world("7", "10"), &mut cache);
    let f = f.unwrap();
    assert_eq!(export_weights(&f), vec![7]);
    let (f, _) = compose_cached(&settings(), &topology(), &world("seven", "11"), &mut cache);
    let f = f.unwrap();
    assert_eq!(
        export_weights(&f),
        vec![7],
        "still served at the last good weight"
    );
    let x = export_of(&f);
    assert!(x.exported && x.problems.is_empty(), "{x:?}");
    assert_eq!(x.export_weight, Some(7));
    let (reason, message) = x.export_validity.clone().unwrap();
    assert_eq!(reason, "ServiceExportInvalidWeightAnnotation");
    assert_eq!(
        message,
        "serviceExport demo/web has an invalid weight annotation, err = the weight annotation is not a valid integer: seven"
    );
    // Never valid before: not exported at all.
    let (f, _) = compose_cached(
        &settings(),
        &topology(),
        &world("2000", "12"),
        &mut ParseCache::default(),
    );
    let f = f.unwrap();
    assert!(export_weights(&f).is_empty());
    let x = export_of(&f);
    assert!(!x.exported);
    assert!(x
        .export_validity
        .as_ref()
        .unwrap()
        .1
        .ends_with("is not in the range [0, 1000]: 2000"));
}

#[test]
fn parity_a_dns_name_clash_is_won_by_the_profile_created_first() {
    // team/a-web and team-a/web both map to team-a-web; team/a-web sorts first
    // but team-a/web was created first and keeps the name.
    let mut s = world("1", "1");
    for (ns, name, created) in [
        ("team-a", "web", "2026-01-01T00:00:00Z"),
        ("team", "a-web", "2026-02-01T00:00:00Z"),
    ] {
        s.insert(
            "hub",
            Resource::Profiles,
            json!({"apiVersion": "networking.fleet.azure.com/v1beta1",
            "kind": "TrafficManagerProfile", "metadata": meta(ns, name, created),
            "spec": {"resourceGroup": "rg", "monitorConfig": {"port": 80}}}),
        );
    }
    let (f, _) = compose_cached(&settings(), &topology(), &s, &mut ParseCache::default());
    let f = f.unwrap();
    let owner: Vec<_> = f
        .profiles
        .iter()
        .filter(|p| p.owner.starts_with("team-a-web"))
        .map(|p| (p.namespace.as_str(), p.name.as_str()))
        .collect();
    assert_eq!(owner, vec![("team-a", "web")]);
    let loser = f
        .observed
        .objects
        .iter()
        .find(|o| o.namespace == "team" && o.name == "a-web")
        .unwrap();
    assert!(
        loser
            .problems
            .iter()
            .any(|p| p.contains("maps to the owner name")),
        "{loser:?}"
    );
}

#[test]
fn observed_objects_carry_their_status_and_who_owns_each_condition() {
    let mut s = world("1", "1");
    let mut p = s.collections[&("hub".to_string(), Resource::Profiles)]
        [&("demo".to_string(), "web".to_string())]
        .as_ref()
        .clone();
    p["status"] = json!({"dnsName": "demo-web.trafficmanager.net",
        "conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed", "message": "m",
                        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}]});
    p["metadata"]["managedFields"] = json!([
        {"manager": "hub-net-controller-manager", "operation": "Update", "subresource": "status",
         "fieldsV1": {"f:status": {"f:dnsName": {}, "f:conditions": {".": {}, "k:{\"type\":\"Programmed\"}": {".": {}, "f:status": {}}}}}},
        {"manager": "fleetdns", "operation": "Apply", "subresource": "status",
         "fieldsV1": {"f:status": {"f:conditions": {"k:{\"type\":\"fleetdns.io/Serving\"}": {".": {}}}}}}
    ]);
    s.insert("hub", Resource::Profiles, p);
    let (f, _) = compose_cached(&settings(), &topology(), &s, &mut ParseCache::default());
    let f = f.unwrap();
    let o = f
        .observed
        .objects
        .iter()
        .find(|o| o.kind == ObjectKind::TrafficManagerProfile)
        .unwrap();
    assert_eq!(
        o.condition_managers["Programmed"],
        vec!["hub-net-controller-manager"]
    );
    assert_eq!(
        o.condition_managers["fleetdns.io/Serving"],
        vec!["fleetdns"]
    );
    assert_eq!(o.condition("Programmed").unwrap()["status"], "True");
    assert_eq!(o.status_fields["dnsName"], "demo-web.trafficmanager.net");
    assert_eq!(o.created, "2026-01-01T00:00:00Z");
}
