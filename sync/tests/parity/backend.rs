//! Rows for TrafficManagerBackend `Accepted` and `endpoints[]`.

use super::*;

fn two_endpoints(s: &Value) {
    let eps = s["endpoints"].as_array().expect("endpoints");
    // TMBc:578-582: ceil(10 × 1 / 2) = 5 each; TMBc:631-637 fields; from = export weight.
    assert_eq!(
        eps[0],
        json!({"name": "fleet-uid-backend#web#member-1", "target": "192.0.2.1", "weight": 5,
        "from": {"cluster": "member-1", "weight": 1}})
    );
    assert_eq!(eps.len(), 2);
}

fn one_endpoint(s: &Value) {
    assert_eq!(s["endpoints"].as_array().map(Vec::len), Some(1), "{s}");
}

pub(super) fn rows() -> Vec<Row> {
    let b = ObjectKind::TrafficManagerBackend;
    let o = ("demo", "web");
    let accepted = |n: usize| {
        format!(
            "{n} service(s) exported from clusters have been accepted as Traffic Manager endpoints"
        )
    };
    vec![
        Row { cite: "TMBc:335-336, 484-494", situation: "every exported service is an endpoint", snapshots: with(|_| {}),
            mirror: None, kind: b, cluster: "hub", object: o,
            want: ("Accepted", "True", "Accepted", accepted(2)), fields: two_endpoints },
        Row { cite: "TMBc:622-638", situation: "endpoints carry the ARM resourceID when the mirror holds them", snapshots: with(|_| {}),
            mirror: Some(mirror(Programmed::ok())), kind: b, cluster: "hub", object: o,
            want: ("Accepted", "True", "Accepted", accepted(2)),
            fields: |s| assert_eq!(s["endpoints"][1]["resourceID"], format!("{ARM_ID}/azureEndpoints/fleet-uid-backend#web#member-2")) },
        Row { cite: "TMBc:368-372", situation: "the profile does not exist",
            snapshots: with(|s| remove(s, "hub", Resource::Profiles)), mirror: None, kind: b, cluster: "hub", object: o,
            want: ("Accepted", "False", "Invalid", "TrafficManagerProfile \"web\" is not found".into()), fields: no_endpoints },
        Row { cite: "TMBc:384-385", situation: "the profile is not programmed (Programmed=False)", snapshots: with(|_| {}),
            mirror: arm(ConditionStatus::False, Reason::Invalid, "Invalid profile: 400"), kind: b, cluster: "hub", object: o,
            want: ("Accepted", "False", "Invalid", "Invalid trafficManagerProfile \"web\", please check the trafficManagerProfile status".into()),
            fields: no_endpoints },
        Row { cite: "TMBc:386-387", situation: "the profile is still being programmed (Programmed=Unknown)", snapshots: with(|_| {}),
            mirror: Some(MirrorStatus::default()), kind: b, cluster: "hub", object: o,
            want: ("Accepted", "Unknown", "Pending", "In the processing of trafficManagerProfile \"web\"".into()), fields: no_endpoints },
        Row { cite: "TMBc:427-444", situation: "no cluster exports the service (no ServiceImport)",
            snapshots: with(|s| { remove(s, "member-1", Resource::Exports); remove(s, "member-2", Resource::Exports); }),
            mirror: None, kind: b, cluster: "hub", object: o,
            want: ("Accepted", "False", "Invalid", "ServiceImport \"web\" is not found".into()), fields: no_endpoints },
        Row { cite: "TMBc:427-444 with SEc:199-209", situation: "every export has weight 0 (unexported: no ServiceImport)",
            snapshots: with(|s| { export(s, "member-1", Some("0"), "2"); export(s, "member-2", Some("0"), "2"); }),
            mirror: None, kind: b, cluster: "hub", object: o,
            want: ("Accepted", "False", "Invalid", "ServiceImport \"web\" is not found".into()), fields: no_endpoints },
        Row { cite: "TMBc:300-308", situation: "backend weight 0: all endpoints removed",
            snapshots: with(|s| {
                s.insert("hub", Resource::Backends, obj("TrafficManagerBackend", "demo", "web", "uid-backend", "2026-01-01T00:00:00Z",
                    json!({"spec": {"profile": {"name": "web"}, "backend": {"name": "web"}, "weight": 0}})));
            }),
            mirror: None, kind: b, cluster: "hub", object: o,
            want: ("Accepted", "True", "Accepted", accepted(0)), fields: no_endpoints },
        Row { cite: "TMBc:337-350, 588-591", situation: "an exported Service is not a LoadBalancer",
            snapshots: with(|s| s.insert("member-1", Resource::Services, service("", "ClusterIP", 80))),
            mirror: None, kind: b, cluster: "hub", object: o,
            want: ("Accepted", "False", "Invalid", "1 service(s) exported from clusters cannot be exposed as the Azure Traffic Manager, for example, service exported from member-1 is invalid: unsupported service type \"ClusterIP\"".into()),
            fields: one_endpoint },
        Row { cite: "TMBc:337-350, 595-597", situation: "a LoadBalancer Service has no address yet",
            snapshots: with(|s| s.insert("member-2", Resource::Services, service("", "LoadBalancer", 80))),
            mirror: None, kind: b, cluster: "hub", object: o,
            want: ("Accepted", "False", "Invalid", "1 service(s) exported from clusters cannot be exposed as the Azure Traffic Manager, for example, service exported from member-2 is invalid: in the processing of configuring public IP".into()),
            fields: one_endpoint },
        Row { cite: "TMBc:550-565 with SEc:128-147", situation: "one export's Service is not found (never reaches the ServiceImport)",
            snapshots: with(|s| remove(s, "member-2", Resource::Services)), mirror: None, kind: b, cluster: "hub", object: o,
            want: ("Accepted", "True", "Accepted", accepted(1)), fields: one_endpoint },
        Row { cite: "TMBc:550-565 with SEc:154-173", situation: "one export's Service is ineligible (ExternalName)",
            snapshots: with(|s| s.insert("member-2", Resource::Services, service("", "ExternalName", 80))), mirror: None, kind: b, cluster: "hub", object: o,
            want: ("Accepted", "True", "Accepted", accepted(1)), fields: one_endpoint },
        Row { cite: "TMBc:550-565 (conflicting clusters are not in the ServiceImport)", situation: "one export's ports conflict with the first export",
            snapshots: with(|s| s.insert("member-2", Resource::Services, service("192.0.2.2", "LoadBalancer", 8080))), mirror: None, kind: b, cluster: "hub", object: o,
            want: ("Accepted", "True", "Accepted", accepted(1)), fields: one_endpoint },
        Row { cite: "TMBc:578-582 with SEc:176-197", situation: "an invalid weight annotation keeps the last good weight",
            snapshots: {
                let mut first = base();
                export(&mut first, "member-1", Some("3"), "5");
                let mut then = first.clone();
                export(&mut then, "member-1", Some("three"), "6");
                vec![first, then]
            },
            mirror: None, kind: b, cluster: "hub", object: o,
            want: ("Accepted", "True", "Accepted", accepted(2)),
            fields: |s| {
                // ceil(10 × 3 / 4) = 8, ceil(10 × 1 / 4) = 3.
                assert_eq!(s["endpoints"][0]["weight"], 8, "{s}");
                assert_eq!(s["endpoints"][0]["from"]["weight"], 3, "{s}");
            } },
        Row { cite: "TMBc:335-341, 715-719", situation: "ARM refused one endpoint (4xx): only this backend says so, the others went in",
            snapshots: with(|_| {}), mirror: Some(with_backend(ConditionStatus::False, "Invalid",
                &["fleet-uid-backend#web#member-2: 400 BadRequest (request id r-1)".to_string()])),
            kind: b, cluster: "hub", object: o,
            want: ("Accepted", "False", "Invalid", "1 endpoint(s) failed to be created/updated in the Azure Traffic Manager, for example, fleet-uid-backend#web#member-2: 400 BadRequest (request id r-1); ".into()),
            fields: |s| assert_eq!(s["endpoints"].as_array().map(Vec::len), Some(2), "{s}") },
        Row { cite: "TMBc:720-725", situation: "an endpoint write is being retried (429/5xx)",
            snapshots: with(|_| {}), mirror: Some(with_backend(ConditionStatus::Unknown, "Pending",
                &["fleet-uid-backend#web#member-2: 503".to_string()])),
            kind: b, cluster: "hub", object: o,
            want: ("Accepted", "Unknown", "Pending", "Failed to configure endpoints and retrying: fleet-uid-backend#web#member-2: 503".into()),
            fields: |s| assert_eq!(s["endpoints"].as_array().map(Vec::len), Some(2), "{s}") },
    ]
}

/// The mirror with the profile programmed and the backend's endpoints in the
/// state given (`errors` one line per endpoint).
fn with_backend(status: ConditionStatus, reason: &str, errors: &[String]) -> MirrorStatus {
    use fleetdns_sync::azure::{Accepted, BackendStatus};
    let mut m = mirror(Programmed::ok());
    let accepted = match (status, reason) {
        (ConditionStatus::False, _) => Accepted::invalid(errors),
        (ConditionStatus::Unknown, _) => Accepted::pending(errors),
        _ => Accepted::ok(2),
    };
    m.backends.insert(
        "demo/web".into(),
        BackendStatus {
            profile: "demo/web".into(),
            accepted,
            errors: errors.to_vec(),
        },
    );
    m
}
