//! A ServiceExport's `Valid` and `Conflict`, as fleet-networking's member agent
//! writes them (serviceexport/controller.go:176-240, 478-560).

use std::sync::Arc;

use fleetdns_config::ObservedObject;

use super::{base, Condition, Desired};

pub(super) fn export(o: &Arc<ObservedObject>) -> Desired {
    let mut d = base(o);
    let (reason, message) = o
        .export_validity
        .clone()
        .unwrap_or_else(|| ("ServiceIsValid".into(), String::new()));
    let valid = reason == "ServiceIsValid";
    d.conditions.push(Condition::new(
        "Valid",
        if valid { "True" } else { "False" },
        &reason,
        message,
    ));
    // Upstream sets Conflict only once the export is valid with a weight above 0
    // (controller.go:543-551); invalid and weight-0 exports keep whatever Conflict
    // they had, so fleetdns leaves it out for them.
    if !o.exported {
        return d;
    }
    d.conditions.push(match &o.export_conflict {
        // pkg/common/condition/condition.go:85-98; which cluster came first is
        // in the backend's fleetdns.io/Serving.
        Some(_) => Condition::new(
            "Conflict",
            "True",
            "ConflictFound",
            format!(
                "service {}/{} is in conflict with other exported services",
                o.namespace, o.name
            ),
        ),
        None => Condition::new(
            "Conflict",
            "False",
            "NoConflictFound",
            format!(
                "service {}/{} is exported without conflict",
                o.namespace, o.name
            ),
        ),
    });
    d
}
