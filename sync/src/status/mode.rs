//! Which fields fleetdns writes on one object: the `spec.kubernetes.status.mode`
//! setting, with `auto` resolved from `metadata.managedFields`.
//!
//! `auto` is observer when a field manager other than fleetdns owns one of
//! fleet-networking's conditions on the object (`Programmed` on profiles,
//! `Accepted` on backends, `Valid` on ServiceExports): Fleet's own controller is
//! there. Otherwise owner. It is re-decided with every new observation, so a
//! controller that appears later (or goes away) switches the object.

use fleetdns_config::{ObjectKind, StatusMode};

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
    d.observed
        .condition_managers
        .get(upstream_condition(d.kind))
        .into_iter()
        .flatten()
        .filter(|m| m.as_str() != FIELD_MANAGER)
        .cloned()
        .collect()
}

/// The mode for `d` under `setting`.
pub fn resolve(setting: StatusMode, d: &Desired) -> Mode {
    match setting {
        StatusMode::Owner => Mode::Owner,
        StatusMode::Observer => Mode::Observer,
        StatusMode::Auto if other_owners(d).is_empty() => Mode::Owner,
        StatusMode::Auto => Mode::Observer,
    }
}
