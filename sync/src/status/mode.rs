//! Which fields fleetdns writes on one object: the `spec.kubernetes.status.mode`
//! setting, with `auto` resolved from `metadata.managedFields`.
//!
//! `auto` is observer when a field manager other than fleetdns owns one of
//! fleet-networking's conditions on the object (`Programmed` on profiles,
//! `Accepted` on backends, `Valid` on ServiceExports): Fleet's own controller is
//! there. Otherwise owner. It is re-decided with every new observation, so a
//! controller that appears later (or goes away) switches the object.

use fleetdns_config::{ObjectKind, ObservedObject, StatusMode};

use super::desired::{Desired, Mode};
use super::writer::FIELD_MANAGER;

/// fleet-networking's condition on each kind, whose owner decides `auto`.
pub fn upstream_condition(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::TrafficManagerProfile => "Programmed",
        ObjectKind::TrafficManagerBackend => "Accepted",
        ObjectKind::ServiceExport => "Valid",
    }
}

/// Other managers owning the upstream condition of `d`, if any.
pub fn other_owners(d: &Desired) -> Vec<String> {
    observed_other_owners(&d.observed)
}

/// Other managers owning the upstream condition of an observed object, if any.
pub fn observed_other_owners(o: &ObservedObject) -> Vec<String> {
    o.condition_managers
        .get(upstream_condition(o.kind))
        .into_iter()
        .flatten()
        .filter(|m| m.as_str() != FIELD_MANAGER)
        .cloned()
        .collect()
}

/// The mode for `d` under `setting`.
pub fn resolve(setting: StatusMode, d: &Desired) -> Mode {
    resolve_observed(setting, &d.observed)
}

/// The mode for an observed object under `setting`.
pub fn resolve_observed(setting: StatusMode, o: &ObservedObject) -> Mode {
    match setting {
        StatusMode::Owner => Mode::Owner,
        StatusMode::Observer => Mode::Observer,
        StatusMode::Auto if observed_other_owners(o).is_empty() => Mode::Owner,
        StatusMode::Auto => Mode::Observer,
    }
}
