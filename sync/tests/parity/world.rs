//! The small fleet every parity row starts from, and how a row changes it.

use std::path::Path;

use fleetdns_config::{file, Fleet};
use fleetdns_sources::kubernetes::compose::{
    compose_cached, ParseCache, Resource, Snapshot, Topology,
};
use fleetdns_sync::azure::reconcile::ProfileStatus;
use fleetdns_sync::azure::{MirrorStatus, Programmed};
use serde_json::{json, Value};

const SETTINGS: &str = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.example.com
  nameServers:
    - {name: ns1.fleet.example.com, addresses: [127.0.0.1]}
  kubernetes:
    members: [{name: member-1}, {name: member-2}]
";

pub const GENERATION: i64 = 4;
pub const ARM_ID: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/trafficManagerProfiles/fleet-uid-profile";

pub fn obj(kind: &str, ns: &str, name: &str, uid: &str, created: &str, extra: Value) -> Value {
    let api = if kind == "Service" {
        "v1"
    } else {
        "networking.fleet.azure.com/v1beta1"
    };
    let mut o = json!({"apiVersion": api, "kind": kind,
        "metadata": {"namespace": ns, "name": name, "uid": uid, "generation": GENERATION,
                     "creationTimestamp": created, "resourceVersion": "1"}});
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

/// Profile, backend (weight 10) and in two members a LoadBalancer Service with an export.
pub fn base() -> Snapshot {
    let mut s = Snapshot::default();
    s.insert(
        "hub",
        Resource::Profiles,
        obj(
            "TrafficManagerProfile",
            "demo",
            "web",
            "uid-profile",
            "2026-01-01T00:00:00Z",
            json!({"spec": {"resourceGroup": "rg", "monitorConfig": {"port": 80}}}),
        ),
    );
    s.insert(
        "hub",
        Resource::Backends,
        obj(
            "TrafficManagerBackend",
            "demo",
            "web",
            "uid-backend",
            "2026-01-01T00:00:00Z",
            json!({"spec": {"profile": {"name": "web"}, "backend": {"name": "web"}, "weight": 10}}),
        ),
    );
    for (cluster, ip) in [("member-1", "192.0.2.1"), ("member-2", "192.0.2.2")] {
        s.insert(cluster, Resource::Services, service(ip, "LoadBalancer", 80));
        export(&mut s, cluster, Some("1"), "1");
    }
    s
}

pub fn service(ip: &str, ty: &str, port: i64) -> Value {
    let ingress: Vec<Value> = if ip.is_empty() {
        vec![]
    } else {
        vec![json!({"ip": ip})]
    };
    obj(
        "Service",
        "demo",
        "web",
        "uid-svc",
        "2026-01-01T00:00:00Z",
        json!({"spec": {"type": ty, "ports": [{"port": port, "protocol": "TCP"}]},
               "status": {"loadBalancer": {"ingress": ingress}}}),
    )
}

pub fn export(s: &mut Snapshot, cluster: &str, weight: Option<&str>, rv: &str) {
    let created = if cluster == "member-1" {
        "2026-01-01T00:00:00Z"
    } else {
        "2026-01-02T00:00:00Z"
    };
    let mut o = obj(
        "ServiceExport",
        "demo",
        "web",
        &format!("uid-export-{cluster}"),
        created,
        json!({}),
    );
    o["metadata"]["resourceVersion"] = json!(rv);
    if let Some(w) = weight {
        o["metadata"]["annotations"] = json!({"networking.fleet.azure.com/weight": w});
    }
    s.insert(cluster, Resource::Exports, o);
}

pub fn remove(s: &mut Snapshot, cluster: &str, r: Resource) {
    s.collection_mut(cluster, r).clear();
}

/// Composes `snapshots` in turn through one cache (as the source does over time)
/// and returns the last fleet.
pub fn fleet_of(snapshots: &[Snapshot]) -> Fleet {
    let mut diags = Default::default();
    let settings = file::parse(Path::new("k.yaml"), SETTINGS, &mut diags)
        .settings
        .remove(0);
    let topology = Topology {
        hub: "hub".into(),
        members: vec!["member-1".into(), "member-2".into()],
    };
    let mut cache = ParseCache::default();
    let mut last = None;
    for s in snapshots {
        last = compose_cached(&settings, &topology, s, &mut cache).0;
    }
    last.expect("fleet")
}

/// The mirror having programmed profile demo/web as `programmed`, with endpoints.
pub fn mirror(programmed: Programmed) -> MirrorStatus {
    let mut m = MirrorStatus::default();
    let ok = programmed.status == fleetdns_sync::azure::ConditionStatus::True;
    m.profiles.insert(
        "demo/web".into(),
        ProfileStatus {
            name: "fleet-uid-profile".into(),
            resource_id: ARM_ID.into(),
            dns_name: ok.then(|| "demo-web.trafficmanager.net".into()),
            programmed,
            endpoints: ["member-1", "member-2"]
                .iter()
                .map(|c| (format!("fleet-uid-backend#web#{c}"), "Online".to_string()))
                .collect(),
        },
    );
    m
}
