//! How a profile's answers choose among its endpoints: Traffic Manager's routing
//! methods beyond the Weighted one fleet-networking sets.
//!
//! The Fleet CRDs cannot say this, so it comes from annotations (DESIGN.md §5):
//! [`ROUTING_METHOD_ANNOTATION`] and [`MAX_RETURN_ANNOTATION`] on the
//! TrafficManagerProfile, [`PRIORITY_ANNOTATION`] on a TrafficManagerBackend.

use serde::Serialize;

/// Annotation on a TrafficManagerProfile: `Weighted` (default), `MultiValue` or `Priority`.
pub const ROUTING_METHOD_ANNOTATION: &str = "fleetdns.io/routing-method";
/// Annotation on a TrafficManagerProfile: endpoints per MultiValue answer, 1..=8 (default 3).
pub const MAX_RETURN_ANNOTATION: &str = "fleetdns.io/max-return";
/// Annotation on a TrafficManagerBackend: its endpoints' priority in a Priority
/// profile, 1..=1000, lower answered first (Traffic Manager's convention).
pub const PRIORITY_ANNOTATION: &str = "fleetdns.io/priority";

/// The accepted values of [`ROUTING_METHOD_ANNOTATION`], as written.
pub const ROUTING_METHODS: [&str; 3] = ["Weighted", "MultiValue", "Priority"];
/// Default endpoints per MultiValue answer (Traffic Manager has no default; Route 53 answers up to 8).
pub const DEFAULT_MAX_RETURN: u8 = 3;
/// Most endpoints per MultiValue answer (Traffic Manager's `maxReturn` limit).
pub const MAX_MAX_RETURN: u8 = 8;
/// Priority of a backend without [`PRIORITY_ANNOTATION`]: the last resort.
pub const DEFAULT_PRIORITY: u32 = 1000;
/// Highest (least preferred) priority value, as Traffic Manager allows.
pub const MAX_PRIORITY: u32 = 1000;

/// A profile's routing method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "method")]
pub enum RoutingMethod {
    /// One endpoint per answer, drawn with probability weight/Σweight (fleet-networking's method).
    #[default]
    Weighted,
    /// Up to `max_return` distinct endpoints per answer, drawn by weight without
    /// replacement; addresses only (host-name endpoints are not served).
    MultiValue {
        /// Endpoints per answer, 1..=[`MAX_MAX_RETURN`].
        #[serde(rename = "maxReturn")]
        max_return: u8,
    },
    /// The available endpoints of the best (lowest) priority only; equal
    /// priorities share by weight.
    Priority,
}

impl RoutingMethod {
    /// Whether this is the default, Weighted.
    pub fn is_weighted(&self) -> bool {
        matches!(self, RoutingMethod::Weighted)
    }

    /// The method's name as the annotation and Traffic Manager spell it.
    pub fn name(&self) -> &'static str {
        match self {
            RoutingMethod::Weighted => "Weighted",
            RoutingMethod::MultiValue { .. } => "MultiValue",
            RoutingMethod::Priority => "Priority",
        }
    }
}

impl std::fmt::Display for RoutingMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoutingMethod::MultiValue { max_return } => write!(f, "MultiValue(max {max_return})"),
            other => f.write_str(other.name()),
        }
    }
}

/// Whether `priority` is the default (for serialization: a fleet without the
/// annotation serializes, and so hashes into its SOA serial, as before).
pub fn is_default_priority(priority: &u32) -> bool {
    *priority == DEFAULT_PRIORITY
}

/// The endpoints a Priority profile answers with under `health`: the best
/// (lowest) priority among the available endpoints, or among all of them when
/// none is available and the profile fails open; none when it fails closed.
/// (Per answer type the zone picks among the endpoints that have a record of
/// that type; this is the profile-wide view status pages show.)
pub fn active_endpoints<'e>(
    endpoints: &'e [crate::Endpoint],
    health: &crate::Health,
    fail_closed: bool,
) -> Vec<&'e crate::Endpoint> {
    let available: Vec<&crate::Endpoint> = endpoints
        .iter()
        .filter(|e| health.state_of(e).is_available())
        .collect();
    let served = if !available.is_empty() || fail_closed {
        available
    } else {
        endpoints.iter().collect()
    };
    let best = served.iter().map(|e| e.priority).min();
    served
        .into_iter()
        .filter(|e| Some(e.priority) == best)
        .collect()
}

#[cfg(test)]
mod routing_method {
    use std::sync::Arc;

    use super::*;
    use crate::{Endpoint, EndpointHealth, Health, MonitorState, Target};

    fn endpoint(id: &str, priority: u32) -> Endpoint {
        Endpoint {
            id: id.into(),
            backend: "b".into(),
            service: "s".into(),
            cluster: id.into(),
            target: Target::Host(format!("{id}.example")),
            weight: 1,
            export_weight: 1,
            always_serve: false,
            priority,
        }
    }

    #[test]
    fn active_endpoints_are_the_best_available_priority() {
        let eps = [endpoint("a", 1), endpoint("b", 1), endpoint("c", 2)];
        let health = |down: &[&str]| -> Health {
            down.iter()
                .map(|id| {
                    let h = EndpointHealth {
                        state: MonitorState::Degraded,
                        consecutive_failures: 4,
                        last: None,
                    };
                    (Arc::from(*id), h)
                })
                .collect()
        };
        let ids = |v: Vec<&crate::Endpoint>| v.iter().map(|e| e.id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(active_endpoints(&eps, &health(&[]), false)), ["a", "b"]);
        assert_eq!(ids(active_endpoints(&eps, &health(&["a"]), false)), ["b"]);
        assert_eq!(
            ids(active_endpoints(&eps, &health(&["a", "b"]), false)),
            ["c"]
        );
        let all = health(&["a", "b", "c"]);
        assert_eq!(
            ids(active_endpoints(&eps, &all, false)),
            ["a", "b"],
            "fail-open"
        );
        assert!(active_endpoints(&eps, &all, true).is_empty(), "fail-closed");
    }
}
