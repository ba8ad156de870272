//! Rows for ServiceExport `Valid` and `Conflict` (member agent).

use super::*;

fn no_conflict_condition(s: &Value) {
    let types: Vec<&Value> = s["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["type"])
        .collect();
    assert!(
        !types.contains(&&json!("Conflict")),
        "upstream leaves Conflict untouched here: {s}"
    );
}

pub(super) fn rows() -> Vec<Row> {
    let e = ObjectKind::ServiceExport;
    let o = ("demo", "web");
    vec![
        Row { cite: "SEc:478-487", situation: "the Service is not found",
            snapshots: with(|s| remove(s, "member-2", Resource::Services)), mirror: None, kind: e, cluster: "member-2", object: o,
            want: ("Valid", "False", "ServiceNotFound", "service demo/web is not found".into()), fields: no_conflict_condition },
        Row { cite: "SEc:497-506", situation: "the Service is ExternalName or headless",
            snapshots: with(|s| s.insert("member-2", Resource::Services, service("", "ExternalName", 80))), mirror: None, kind: e, cluster: "member-2", object: o,
            want: ("Valid", "False", "ServiceIneligible", "service demo/web is not eligible for export".into()), fields: no_conflict_condition },
        Row { cite: "SEc:181-188, META:93-97", situation: "the weight annotation is not an integer",
            snapshots: with(|s| export(s, "member-2", Some("abc"), "2")), mirror: None, kind: e, cluster: "member-2", object: o,
            want: ("Valid", "False", "ServiceExportInvalidWeightAnnotation", "serviceExport demo/web has an invalid weight annotation, err = the weight annotation is not a valid integer: abc".into()),
            fields: any },
        Row { cite: "SEc:181-188, META:99-102", situation: "the weight annotation is out of range",
            snapshots: with(|s| export(s, "member-2", Some("1001"), "2")), mirror: None, kind: e, cluster: "member-2", object: o,
            want: ("Valid", "False", "ServiceExportInvalidWeightAnnotation", "serviceExport demo/web has an invalid weight annotation, err = the weight annotation is not in the range [0, 1000]: 1001".into()),
            fields: any },
        Row { cite: "SEc:210-217", situation: "weight 0: unexported but valid",
            snapshots: with(|s| export(s, "member-2", Some("0"), "2")), mirror: None, kind: e, cluster: "member-2", object: o,
            want: ("Valid", "True", "ServiceIsValid", "exported service demo/web with 0 weight".into()), fields: no_conflict_condition },
        Row { cite: "SEc:527-533", situation: "valid for export", snapshots: with(|_| {}), mirror: None, kind: e, cluster: "member-1", object: o,
            want: ("Valid", "True", "ServiceIsValid", "service demo/web is valid for export".into()), fields: any },
        Row { cite: "COND:71-82 (written by the member's internalserviceexport controller)", situation: "no conflict",
            snapshots: with(|_| {}), mirror: None, kind: e, cluster: "member-2", object: o,
            want: ("Conflict", "False", "NoConflictFound", "service demo/web is exported without conflict".into()), fields: any },
        Row { cite: "COND:85-98", situation: "ports differ from the export that came first",
            snapshots: with(|s| s.insert("member-2", Resource::Services, service("192.0.2.2", "LoadBalancer", 8080))), mirror: None, kind: e, cluster: "member-2", object: o,
            want: ("Conflict", "True", "ConflictFound", "service demo/web is in conflict with other exported services".into()), fields: any },
        Row { cite: "SEc:543-551 (never written: fleetdns judges conflicts in the same pass)", situation: "a new valid export",
            snapshots: with(|_| {}), mirror: None, kind: e, cluster: "member-1", object: o,
            want: ("Conflict", "False", "NoConflictFound", "service demo/web is exported without conflict".into()),
            fields: |s| assert!(!s.to_string().contains("ServicePendingConflictResolution")) },
    ]
}
