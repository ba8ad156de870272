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
