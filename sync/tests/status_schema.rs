//! Every status the writer would send validates against the upstream CRD schema
//! (shared/specs/fleet-networking-crds), and says what fleet-networking would say.

use std::path::Path;

use fleetdns_config::{file, schema, Fleet, ObjectKind};
use fleetdns_sources::kubernetes::compose::{compose, Resource, Snapshot, Topology};
use fleetdns_sync::status::desired::{desired, render, satisfied, Desired, Mode};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{json, Value};

const SPECS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/specs/fleet-networking-crds"
);

fn upstream(file: &str) -> CustomResourceDefinition {
    let path = format!("{SPECS}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

const SETTINGS: &str = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.example.com
  nameServers:
    - {name: ns1.fleet.example.com, addresses: [127.0.0.1]}
  kubernetes:
    members: [{name: member-1}, {name: member-2}]
";

fn obj(kind: &str, name: &str, extra: Value) -> Value {
    let api = if kind == "Service" {
        "v1"
    } else {
        "networking.fleet.azure.com/v1beta1"
    };
    let mut o = json!({"apiVersion": api, "kind": kind,
        "metadata": {"namespace": "demo", "name": name, "uid": format!("{kind}-{name}").to_lowercase(),
                     "generation": 7, "creationTimestamp": "2026-01-01T00:00:00Z"}});
    for (k, v) in extra.as_object().unwrap() {
        if k == "metadata" {
            for (mk, mv) in v.as_object().unwrap() {
                o["metadata"][mk] = mv.clone();
            }
        } else {
            o[k] = v.clone();
        }
    }
    o
}

fn snapshot() -> Snapshot {
    let mut s = Snapshot::default();
    let mut put = |cluster: &str, r: Resource, o: Value| s.insert(cluster, r, o);
    put(
        "hub",
        Resource::Profiles,
        obj(
            "TrafficManagerProfile",
            "web",
            json!({"spec": {"resourceGroup": "rg"}}),
        ),
    );
    put(
        "hub",
        Resource::Profiles,
        obj(
            "TrafficManagerProfile",
            "bad",
            json!({
        "metadata": {"annotations": {"fleetdns.io/ttl": "forever"}}, "spec": {"resourceGroup": "rg"}}),
        ),
    );
    put(
        "hub",
        Resource::Backends,
        obj(
            "TrafficManagerBackend",
            "web",
            json!({
        "spec": {"profile": {"name": "web"}, "backend": {"name": "web"}, "weight": 10}}),
        ),
    );
    put(
        "hub",
        Resource::Backends,
        obj(
            "TrafficManagerBackend",
            "lost",
            json!({
        "spec": {"profile": {"name": "missing"}, "backend": {"name": "web"}}}),
        ),
    );
    for (cluster, ip, w) in [
        ("member-1", "192.0.2.1", "2"),
        ("member-2", "192.0.2.2", "1"),
    ] {
        put(
            cluster,
            Resource::Services,
            obj(
                "Service",
                "web",
                json!({
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}),
            ),
        );
        put(
            cluster,
            Resource::Exports,
            obj(
                "ServiceExport",
                "web",
                json!({
            "metadata": {"annotations": {"networking.fleet.azure.com/weight": w}}}),
            ),
        );
    }
    s
}

/// The fleet the Kubernetes source would compose from `snapshot`.
fn fleet_of(snapshot: &Snapshot) -> Fleet {
    let mut diags = Default::default();
    let settings = file::parse(Path::new("k.yaml"), SETTINGS, &mut diags)
        .settings
        .remove(0);
    let topology = Topology {
        hub: "hub".into(),
        members: vec!["member-1".into(), "member-2".into()],
    };
    compose(&settings, &topology, snapshot).0.expect("fleet")
}

fn statuses() -> Vec<Desired> {
    desired(&fleet_of(&snapshot()), true, None)
}

fn find<'a>(all: &'a [Desired], kind: ObjectKind, name: &str, cluster: &str) -> &'a Desired {
    all.iter()
        .find(|d| d.kind == kind && d.name == name && d.cluster == cluster)
        .unwrap_or_else(|| panic!("no status for {kind:?} {name} in {cluster}"))
}

fn condition(status: &Value, ty: &str) -> (String, String, String) {
    let c = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == ty)
        .unwrap();
    (
        c["status"].as_str().unwrap().into(),
        c["reason"].as_str().unwrap().into(),
        c["message"].as_str().unwrap().into(),
    )
}

#[test]
fn every_status_validates_against_the_upstream_schema() {
    let crds = [
        (
            ObjectKind::TrafficManagerProfile,
            upstream("trafficmanagerprofiles.yaml"),
            json!({"resourceGroup": "rg"}),
        ),
        (
            ObjectKind::TrafficManagerBackend,
            upstream("trafficmanagerbackends.yaml"),
            json!({"profile": {"name": "p"}, "backend": {"name": "b"}}),
        ),
        (
            ObjectKind::ServiceExport,
            upstream("serviceexports.yaml"),
            Value::Null,
        ),
    ];
    let all = statuses();
    assert_eq!(all.len(), 6, "2 profiles, 2 backends, 2 exports");
    for d in &all {
        let status = render(d, Mode::Owner, "2026-11-23T05:00:00Z");
        let (_, crd, spec) = crds.iter().find(|(k, _, _)| *k == d.kind).unwrap();
        let schema = schema::version_schema(crd, "v1beta1").expect("v1beta1 schema");
        let mut object = json!({"apiVersion": "networking.fleet.azure.com/v1beta1", "kind": format!("{:?}", d.kind),
            "metadata": {"name": d.name, "namespace": d.namespace}, "status": status});
        if !spec.is_null() {
            object["spec"] = spec.clone();
        }
        let violations = schema::check(schema, &object);
        assert!(
            violations.is_empty(),
            "{:?} {}: {violations:?}\n{object:#}",
            d.kind,
            d.name
        );
    }
}

#[test]
fn statuses_say_what_fleet_networking_says() {
    let all = statuses();
    let web = render(
        find(&all, ObjectKind::TrafficManagerProfile, "web", "hub"),
        Mode::Owner,
        "t",
    );
    assert_eq!(web["dnsName"], "demo-web.fleet.example.com");
    assert_eq!(condition(&web, "Programmed").1, "Programmed");
    assert_eq!(web["conditions"][0]["observedGeneration"], 7);
    let bad = render(
        find(&all, ObjectKind::TrafficManagerProfile, "bad", "hub"),
        Mode::Owner,
        "t",
    );
    assert!(
        bad.get("dnsName").is_none(),
        "omitted, as upstream resets it"
    );
    let (s, r, m) = condition(&bad, "Programmed");
    assert_eq!((s.as_str(), r.as_str()), ("False", "Invalid"));
    assert!(m.contains("fleetdns.io/ttl"), "{m}");

    let be = render(
        find(&all, ObjectKind::TrafficManagerBackend, "web", "hub"),
        Mode::Owner,
        "t",
    );
    let (s, r, m) = condition(&be, "Accepted");
    assert_eq!((s.as_str(), r.as_str()), ("True", "Accepted"));
    assert_eq!(
        m,
        "2 service(s) exported from clusters have been accepted as Traffic Manager endpoints"
    );
    let eps = be["endpoints"].as_array().unwrap();
    // W=10, export weights 2 and 1: ceil(20/3)=7, ceil(10/3)=4.
    assert_eq!(
        eps[0],
        json!({"name": "fleet-trafficmanagerbackend-web#web#member-1", "target": "192.0.2.1", "weight": 7,
               "from": {"cluster": "member-1", "weight": 2}})
    );
    assert_eq!(eps[1]["weight"], 4);
    let lost = render(
        find(&all, ObjectKind::TrafficManagerBackend, "lost", "hub"),
        Mode::Owner,
        "t",
    );
    assert_eq!(condition(&lost, "Accepted").1, "Invalid");
    assert!(lost.get("endpoints").is_none(), "omitted, not []");

    let se = render(
        find(&all, ObjectKind::ServiceExport, "web", "member-1"),
        Mode::Owner,
        "t",
    );
    assert_eq!(condition(&se, "Valid").1, "ServiceIsValid");
    assert_eq!(
        condition(&se, "Conflict"),
        (
            "False".into(),
            "NoConflictFound".into(),
            "service demo/web is exported without conflict".into()
        )
    );
}

#[test]
fn unchanged_status_is_not_rewritten_and_keeps_its_transition_time() {
    let all = statuses();
    let mut d = find(&all, ObjectKind::TrafficManagerBackend, "web", "hub").clone();
    let first = render(&d, Mode::Owner, "2026-11-23T05:00:00Z");
    assert!(!satisfied(&d, &first), "nothing observed yet");
    // The source now observes what was applied.
    std::sync::Arc::make_mut(&mut d.observed).conditions =
        first["conditions"].as_array().unwrap().clone();
    std::sync::Arc::make_mut(&mut d.observed).status_fields = first.as_object().unwrap().clone();
    std::sync::Arc::make_mut(&mut d.observed)
        .status_fields
        .remove("conditions");
    let again = render(&d, Mode::Owner, "2026-11-23T06:00:00Z");
    assert_eq!(again, first, "same conditions keep lastTransitionTime");
    assert!(satisfied(&d, &again));
    let mut changed = d.clone();
    changed.conditions[0].status = "False";
    let next = render(&changed, Mode::Owner, "2026-11-23T06:00:00Z");
    assert!(!satisfied(&changed, &next));
    assert_eq!(
        next["conditions"][0]["lastTransitionTime"],
        "2026-11-23T06:00:00Z"
    );
}

#[test]
fn with_the_azure_mirror_programmed_follows_arm_too() {
    use fleetdns_sync::azure::reconcile::ProfileStatus;
    use fleetdns_sync::azure::{ConditionStatus, MirrorStatus, Programmed, Reason};
    let fleet = fleet_of(&snapshot());
    let arm = |programmed: Programmed| {
        let mut m = MirrorStatus::default();
        m.profiles.insert(
            "demo/web".into(),
            ProfileStatus {
                name: "fleet-x".into(),
                resource_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/trafficManagerProfiles/fleet-x".into(),
                dns_name: Some("demo-web.trafficmanager.net".into()),
                programmed,
                endpoints: Default::default(),
            },
        );
        m
    };
    let web = |m: &MirrorStatus| {
        let all = desired(&fleet, false, Some(m));
        render(
            find(&all, ObjectKind::TrafficManagerProfile, "web", "hub"),
            Mode::Owner,
            "2026-11-23T05:00:00Z",
        )
    };
    let ok = web(&arm(Programmed::ok()));
    assert_eq!(condition(&ok, "Programmed").1, "Programmed");
    assert!(ok["resourceID"].as_str().unwrap().ends_with("/fleet-x"));
    let taken = web(&arm(Programmed {
        status: ConditionStatus::False,
        reason: Reason::DNSNameNotAvailable,
        message: "Domain name is not available".into(),
    }));
    assert_eq!(
        condition(&taken, "Programmed"),
        (
            "False".into(),
            "DNSNameNotAvailable".into(),
            "Domain name is not available".into()
        )
    );
    let pending = web(&MirrorStatus::default());
    assert_eq!(condition(&pending, "Programmed").1, "Pending");
    // All three validate against the upstream schema.
    let crd = upstream("trafficmanagerprofiles.yaml");
    let schema = schema::version_schema(&crd, "v1beta1").unwrap();
    assert_eq!(
        ok["dnsName"], "demo-web.trafficmanager.net",
        "ARM's FQDN, as upstream"
    );
    assert!(pending.get("dnsName").is_none());
    for status in [ok, taken, pending] {
        let object = json!({"apiVersion": "networking.fleet.azure.com/v1beta1", "kind": "TrafficManagerProfile",
            "metadata": {"name": "web", "namespace": "demo"}, "spec": {"resourceGroup": "rg"}, "status": status});
        assert!(schema::check(schema, &object).is_empty(), "{object:#}");
    }
}

#[test]
fn backends_tell_why_exports_are_not_endpoints() {
    let mut s = snapshot();
    s.collections
        .get_mut(&("member-1".into(), Resource::Services))
        .unwrap()
        .clear();
    let fleet = fleet_of(&s);
    let all = desired(&fleet, false, None);
    let d = find(&all, ObjectKind::TrafficManagerBackend, "web", "hub");
    let web = render(d, Mode::Owner, "t");
    // Upstream: an export whose Service is not found never reaches the
    // ServiceImport, so Accepted stays True for the rest.
    let (status, reason, message) = condition(&web, "Accepted");
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Accepted"));
    assert_eq!(
        message,
        "1 service(s) exported from clusters have been accepted as Traffic Manager endpoints"
    );
    assert_eq!(web["endpoints"].as_array().unwrap().len(), 1);
    // fleetdns says why in its own condition.
    let (status, reason, message) = condition(&web, "fleetdns.io/Serving");
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Serving"));
    assert!(
        message.contains("left out: cluster member-1: service demo/web is not found"),
        "{message}"
    );
    // Observer mode writes only that.
    let observer = render(d, Mode::Observer, "t");
    assert_eq!(observer.as_object().unwrap().len(), 1, "{observer}");
    assert_eq!(observer["conditions"].as_array().unwrap().len(), 1);
    // A backend whose profile is missing says so first.
    let lost = render(
        find(&all, ObjectKind::TrafficManagerBackend, "lost", "hub"),
        Mode::Owner,
        "t",
    );
    assert_eq!(
        condition(&lost, "Accepted").2,
        "TrafficManagerProfile \"missing\" is not found"
    );
}
