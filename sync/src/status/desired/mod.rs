//! What each object's status should say: a pure function of the `Fleet` (and the
//! probes' `Health`).
//!
//! Two layers, kept apart so that fleetdns never changes the meaning of
//! fleet-networking's fields:
//! - [`Desired::fields`] and [`Desired::conditions`] are fleet-networking's own
//!   (`dnsName`, `resourceID`, `Programmed`; `endpoints[]`, `Accepted`; `Valid`,
//!   `Conflict`), computed the way its controllers compute them (the parity table
//!   in `sync/tests/parity.rs` cites the upstream line of every row). Only owner
//!   mode writes them.
//! - [`Desired::own`] is fleetdns's condition `fleetdns.io/Serving`: what fleetdns
//!   answers for the profile or backend, which endpoints are Degraded and why
//!   each left-out export is left out. Both modes write it.

mod backend;
mod export;
mod index;
mod profile;
mod render;
mod serving;

use std::collections::BTreeMap;
use std::sync::Arc;

use fleetdns_config::{Fleet, Health, ObjectKind, ObservedObject};
use serde_json::{Map, Value};

use crate::azure::MirrorStatus;

pub use render::{render, satisfied, Mode};

/// fleetdns's own condition type on profiles and backends.
pub const SERVING: &str = "fleetdns.io/Serving";

/// One condition as desired (times and generation are added when written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// Condition type: `Programmed`, `Accepted`, `Valid`, `Conflict` or [`SERVING`].
    pub type_: &'static str,
    /// `True`, `False` or `Unknown`.
    pub status: &'static str,
    /// CamelCase reason (fleet-networking's for its conditions).
    pub reason: String,
    /// Human-readable message (fleet-networking's wording for its conditions).
    pub message: String,
}

impl Condition {
    fn new(type_: &'static str, status: &'static str, reason: &str, message: String) -> Self {
        Self {
            type_,
            status,
            reason: reason.to_string(),
            message,
        }
    }
}

/// The status one object should have.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// Which kind of object.
    pub kind: ObjectKind,
    /// The cluster the object lives in (status is written there).
    pub cluster: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// `metadata.uid` of the observed object.
    pub uid: String,
    /// `metadata.generation`, written as each condition's `observedGeneration`.
    pub generation: i64,
    /// fleet-networking's status fields other than conditions; absent = omitted.
    pub fields: Map<String, Value>,
    /// fleet-networking's conditions.
    pub conditions: Vec<Condition>,
    /// fleetdns's own condition ([`SERVING`]), on profiles and backends.
    pub own: Option<Condition>,
    /// The object as the source last saw it (status, condition owners).
    pub observed: Arc<ObservedObject>,
}

/// Desired status of every observed object (ServiceExports only when
/// `manage_exports`), without health.
pub fn desired(fleet: &Fleet, manage_exports: bool, mirror: Option<&MirrorStatus>) -> Vec<Desired> {
    desired_with_health(fleet, None, manage_exports, mirror)
}

/// Desired status of every observed object. With the Azure mirror on, a profile
/// is `Programmed` when its Traffic Manager profile is, with ARM's `dnsName` and
/// `resourceID`, as fleet-networking writes them.
pub fn desired_with_health(
    fleet: &Fleet,
    health: Option<&Health>,
    manage_exports: bool,
    mirror: Option<&MirrorStatus>,
) -> Vec<Desired> {
    // Profiles first: backends judge their profile by its Programmed condition.
    let mut programmed: BTreeMap<(&str, &str), &'static str> = BTreeMap::new();
    let mut out = Vec::new();
    // Objects being deleted get no status (only their finalizer, see `finalizer`).
    let live = || fleet.observed.objects.iter().filter(|o| !o.deleting());
    let ix = index::Index::new(fleet);
    for o in live() {
        if o.kind == ObjectKind::TrafficManagerProfile {
            let d = profile::profile(&ix, health, o, mirror);
            let status = d.conditions.first().map_or("Unknown", |c| c.status);
            programmed.insert((&o.namespace, &o.name), status);
            out.push(d);
        }
    }
    for o in live() {
        match o.kind {
            ObjectKind::TrafficManagerProfile => {}
            ObjectKind::TrafficManagerBackend => {
                let p = o
                    .backend_profile
                    .as_deref()
                    .and_then(|p| programmed.get(&(o.namespace.as_str(), p)).copied());
                out.push(backend::backend(&ix, health, o, p, mirror));
            }
            ObjectKind::ServiceExport if manage_exports => out.push(export::export(o)),
            ObjectKind::ServiceExport => {}
        }
    }
    out
}

/// Whether the desired statuses would read the same from `a` as from `b`: every
/// endpoint's state, and a Degraded endpoint's last observation (the `Serving`
/// message names it). Probe results that change neither (an Online endpoint
/// probed again, a failure count) change no status, so a new `Health` that
/// [`reads_same`] as the last one needs no pass over every object.
pub fn reads_same(a: &Health, b: &Health) -> bool {
    use fleetdns_config::{EndpointHealth, MonitorState};
    let same = |x: &EndpointHealth, y: &EndpointHealth| {
        let detail = |h: &EndpointHealth| h.last.as_ref().map(|l| Arc::clone(&l.detail));
        x.state == y.state && (x.state != MonitorState::Degraded || detail(x) == detail(y))
    };
    if a.slots().same(&b.slots()) {
        // Snapshots of one prober's layout: slot by slot, no lookups.
        return a.iter().zip(b.iter()).all(|((_, x), (_, y))| same(x, y));
    }
    a.len() == b.len()
        && a.iter()
            .all(|(id, x)| b.get(id).is_some_and(|y| same(x, y)))
}

fn base(o: &Arc<ObservedObject>) -> Desired {
    Desired {
        kind: o.kind,
        cluster: o.cluster.clone(),
        namespace: o.namespace.clone(),
        name: o.name.clone(),
        uid: o.uid.clone(),
        generation: o.generation,
        fields: Map::new(),
        conditions: Vec::new(),
        own: None,
        observed: Arc::clone(o),
    }
}

/// Messages are bounded (metav1.Condition allows 32768 bytes).
fn bounded(mut s: String) -> String {
    if s.len() > 4000 {
        let mut cut = 4000;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn problems_text(problems: &[String]) -> String {
    bounded(problems.join("; "))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use fleetdns_config::{EndpointHealth, Health, MonitorState, Observation};

    use super::reads_same;

    fn health(entries: &[(&str, MonitorState, &str)]) -> Health {
        entries
            .iter()
            .map(|(id, state, detail)| {
                let last = Observation {
                    healthy: *state != MonitorState::Degraded,
                    detail: Arc::from(*detail),
                    at: SystemTime::UNIX_EPOCH,
                    duration: Duration::from_millis(3),
                };
                let h = EndpointHealth {
                    state: *state,
                    consecutive_failures: 0,
                    last: Some(last),
                };
                (Arc::from(*id), h)
            })
            .collect()
    }

    #[test]
    fn only_what_a_status_says_makes_health_read_differently() {
        use MonitorState::*;
        let base = health(&[
            ("a", Online, "HTTP 200"),
            ("b", Degraded, "timeout after 9s"),
        ]);
        let mut probed_again = base.clone();
        probed_again.get_mut("a").unwrap().consecutive_failures = 1;
        probed_again.get_mut("a").unwrap().last.as_mut().unwrap().at = SystemTime::now();
        assert!(
            reads_same(&base, &probed_again),
            "a new probe result saying the same"
        );
        // The same layout (a later snapshot of one prober), compared slot by slot.
        let mut went_down = base.clone();
        went_down.get_mut("a").unwrap().state = Degraded;
        assert!(!reads_same(&base, &went_down), "a state, slot by slot");
        let mut new_reason = base.clone();
        new_reason
            .get_mut("b")
            .unwrap()
            .last
            .as_mut()
            .unwrap()
            .detail = Arc::from("HTTP 503");
        assert!(
            !reads_same(&base, &new_reason),
            "a Degraded reason, slot by slot"
        );
        assert!(reads_same(
            &base,
            &health(&[
                ("b", Degraded, "timeout after 9s"),
                ("a", Online, "HTTP 204")
            ])
        ));
        for (what, other) in [
            (
                "a state",
                health(&[
                    ("a", Degraded, "HTTP 500"),
                    ("b", Degraded, "timeout after 9s"),
                ]),
            ),
            (
                "a Degraded endpoint's reason",
                health(&[("a", Online, "HTTP 200"), ("b", Degraded, "HTTP 503")]),
            ),
            ("the endpoints", health(&[("a", Online, "HTTP 200")])),
            (
                "an endpoint's id",
                health(&[
                    ("a", Online, "HTTP 200"),
                    ("c", Degraded, "timeout after 9s"),
                ]),
            ),
        ] {
            assert!(!reads_same(&base, &other), "{what} changed");
        }
    }
}
