//! The parity table: each situation fleet-networking's controllers handle, what
//! they write, and that fleetdns (owner mode) writes the same condition type,
//! status, reason, message and observedGeneration, the same `dnsName`, and the
//! same `endpoints[]` fields (omitted, never `[]`, when there are none).
//!
//! Upstream is Azure/fleet-networking at 4fcffcf; every row cites the file and
//! line its expectation is transcribed from:
//! - TMPc = pkg/controllers/hub/trafficmanagerprofile/controller.go
//! - TMBc = pkg/controllers/hub/trafficmanagerbackend/controller.go
//! - SEc  = pkg/controllers/member/serviceexport/controller.go
//! - COND = pkg/common/condition/condition.go, META = pkg/common/objectmeta/objectmeta.go
//!
//! Situations upstream reaches only through a failing API or ARM call (TMBc:375,
//! 413, 447, 536, 558, 683, 719: Accepted=Unknown/Pending "Failed to …") have no
//! fleetdns counterpart: the source keeps serving the last observed objects, and
//! the Azure mirror's failures arrive as the profile's Pending (row P4), which
//! backends follow (row B3). Two upstream states are transient and never written
//! by fleetdns, which decides from one consistent snapshot: a ServiceImport with
//! no clusters yet (TMBc:520-526, "In the process of exporting the services") and
//! Conflict=Unknown/ServicePendingConflictResolution (SEc:543-551) before the hub
//! has judged conflicts; fleetdns judges them in the same composition (row E9).

#[path = "parity/backend.rs"]
mod backend;
#[path = "parity/export.rs"]
mod export;
#[path = "parity/world.rs"]
mod world;

use fleetdns_config::ObjectKind;
use fleetdns_sources::kubernetes::compose::{Resource, Snapshot};
use fleetdns_sync::azure::{ConditionStatus, MirrorStatus, Programmed, Reason};
use fleetdns_sync::status::desired::{desired, render, Mode};
use serde_json::{json, Value};
use world::*;

/// One row of the table.
struct Row {
    /// Where upstream writes this.
    cite: &'static str,
    situation: &'static str,
    /// Snapshots composed in turn (state over time); the last one is judged.
    snapshots: Vec<Snapshot>,
    mirror: Option<MirrorStatus>,
    kind: ObjectKind,
    cluster: &'static str,
    /// (namespace, name) of the object judged.
    object: (&'static str, &'static str),
    /// (type, status, reason, message).
    want: (&'static str, &'static str, &'static str, String),
    /// Checks of the other status fields.
    fields: fn(&Value),
}

fn with(f: impl FnOnce(&mut Snapshot)) -> Vec<Snapshot> {
    let mut s = base();
    f(&mut s);
    vec![s]
}

fn no_dns_name(s: &Value) {
    assert!(s.get("dnsName").is_none(), "dnsName omitted (reset): {s}");
    assert!(s.get("resourceID").is_none(), "resourceID omitted: {s}");
}
fn no_endpoints(s: &Value) {
    assert!(
        s.get("endpoints").is_none(),
        "endpoints omitted, not []: {s}"
    );
}
fn any(_: &Value) {}

fn arm(status: ConditionStatus, reason: Reason, message: &str) -> Option<MirrorStatus> {
    Some(mirror(Programmed {
        status,
        reason,
        message: message.into(),
    }))
}

fn profile_rows() -> Vec<Row> {
    let p = ObjectKind::TrafficManagerProfile;
    vec![
        Row { cite: "TMPc:341-367", situation: "ARM profile created or updated", snapshots: with(|_| {}),
            mirror: Some(mirror(Programmed::ok())), kind: p, cluster: "hub", object: ("demo", "web"),
            want: ("Programmed", "True", "Programmed", "Successfully configured the Azure Traffic Manager profile".into()),
            fields: |s| {
                assert_eq!(s["dnsName"], "demo-web.trafficmanager.net");
                assert_eq!(s["resourceID"], ARM_ID);
            } },
        Row { cite: "TMPc:368-375", situation: "ARM 409: the DNS name is taken", snapshots: with(|_| {}),
            mirror: arm(ConditionStatus::False, Reason::DNSNameNotAvailable, "Domain name is not available. Please choose a different profile name or namespace"),
            kind: p, cluster: "hub", object: ("demo", "web"),
            want: ("Programmed", "False", "DNSNameNotAvailable", "Domain name is not available. Please choose a different profile name or namespace".into()),
            fields: no_dns_name },
        Row { cite: "TMPc:376-383", situation: "ARM 4xx other than 409/429", snapshots: with(|_| {}),
            mirror: arm(ConditionStatus::False, Reason::Invalid, "Invalid profile: 403 Forbidden"), kind: p, cluster: "hub", object: ("demo", "web"),
            want: ("Programmed", "False", "Invalid", "Invalid profile: 403 Forbidden".into()), fields: no_dns_name },
        Row { cite: "TMPc:384-391", situation: "ARM 429/5xx: retried", snapshots: with(|_| {}),
            mirror: arm(ConditionStatus::Unknown, Reason::Pending, "Failed to configure profile and retrying: 503"), kind: p, cluster: "hub", object: ("demo", "web"),
            want: ("Programmed", "Unknown", "Pending", "Failed to configure profile and retrying: 503".into()), fields: no_dns_name },
        Row { cite: "TMPc:368-375 (first come: TMPc:227 creates in order)", situation: "a younger profile maps to the same DNS name (team/a-web vs team-a/web)",
            snapshots: with(|s| {
                for (ns, name, created) in [("team-a", "web", "2026-01-01T00:00:00Z"), ("team", "a-web", "2026-02-01T00:00:00Z")] {
                    s.insert("hub", Resource::Profiles, obj("TrafficManagerProfile", ns, name, &format!("uid-{ns}"), created,
                        json!({"spec": {"resourceGroup": "rg", "monitorConfig": {"port": 80}}})));
                }
                s.collection_mut("hub", Resource::Profiles).remove(&("demo".to_string(), "web".to_string()));
            }),
            mirror: None, kind: p, cluster: "hub", object: ("team", "a-web"),
            want: ("Programmed", "False", "DNSNameNotAvailable", "Domain name is not available. Please choose a different profile name or namespace".into()),
            fields: no_dns_name },
        Row { cite: "TMPc:361-367 (fleetdns without the mirror)", situation: "in the fleetdns zone, no Azure profile", snapshots: with(|_| {}),
            mirror: None, kind: p, cluster: "hub", object: ("demo", "web"),
            want: ("Programmed", "True", "Programmed", "Successfully configured the DNS name demo-web.fleet.example.com in the fleetdns zone fleet.example.com".into()),
            fields: |s| assert_eq!(s["dnsName"], "demo-web.fleet.example.com") },
    ]
}

#[test]
fn parity_table_owner_mode_writes_what_fleet_networking_writes() {
    let rows: Vec<Row> = profile_rows()
        .into_iter()
        .chain(backend::rows())
        .chain(export::rows())
        .collect();
    let mut failures = Vec::new();
    for row in &rows {
        let fleet = fleet_of(&row.snapshots);
        let all = desired(&fleet, true, row.mirror.as_ref());
        let Some(d) = all.iter().find(|d| {
            d.kind == row.kind
                && d.cluster == row.cluster
                && (d.namespace.as_str(), d.name.as_str()) == row.object
        }) else {
            failures.push(format!(
                "{} ({}): no status for {:?} {:?}",
                row.cite, row.situation, row.kind, row.object
            ));
            continue;
        };
        let status = render(d, Mode::Owner, "2026-12-01T00:00:00Z");
        let (ty, st, reason, message) = &row.want;
        let got = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == *ty)
            .cloned();
        let want = json!({"type": ty, "status": st, "reason": reason, "message": message,
                          "observedGeneration": GENERATION, "lastTransitionTime": "2026-12-01T00:00:00Z"});
        if got.as_ref() != Some(&want) {
            failures.push(format!(
                "{} ({}):\n  want {want}\n  got  {}",
                row.cite,
                row.situation,
                got.unwrap_or_default()
            ));
            continue;
        }
        if let Err(e) = std::panic::catch_unwind(|| (row.fields)(&status)) {
            let why = e.downcast_ref::<String>().cloned().unwrap_or_default();
            failures.push(format!("{} ({}): {why}", row.cite, row.situation));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows differ:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    // Every reason upstream writes has a row.
    for reason in [
        "Programmed",
        "DNSNameNotAvailable",
        "Invalid",
        "Pending",
        "Accepted",
        "ServiceIsValid",
        "ServiceNotFound",
        "ServiceIneligible",
        "ServiceExportInvalidWeightAnnotation",
        "NoConflictFound",
        "ConflictFound",
    ] {
        assert!(
            rows.iter().any(|r| r.want.2 == reason),
            "no row for reason {reason}"
        );
    }
}
