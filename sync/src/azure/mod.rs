//! The Azure Traffic Manager mirror: the fleet, as real Traffic Manager profiles.
//!
//! Shape (plain data and pure functions in the middle, I/O at the edges):
//! ```text
//! Fleet ─desired()─► [DesiredProfile] ─┐
//!                                        ├─ plan() ─► [ArmCall] ─ client ─► ARM
//! ARM GET ─────────► observed profile ──┘                    │
//!                                            status (Programmed) + metrics ◄┘
//! ```
//! - [`model`]: ARM paths, calls and the JSON bodies fleetdns writes.
//! - [`desired`](mod@desired): `Fleet` → the profiles and endpoints fleet-networking would create.
//! - `routing`: where Traffic Manager cannot follow a routing method (MultiValue, Priority).
//! - [`diff`]: (desired, observed) → the minimal list of PUTs and DELETEs.
//! - ARM access (client, tokens, request and token metrics) is the `fleetdns-arm` crate,
//!   shared with the Kubernetes source's public IP lookups.
//! - [`status`]: ARM outcomes → the profile's `Programmed` and the backend's `Accepted` (plain data).
//! - [`profile`]: one profile's pass; endpoint failures stay on their backend.
//! - [`finalize`]: objects being deleted (fleetdns's finalizer): their Azure side deleted at once.
//! - [`gc`]: garbage collection by tag, after a grace period.
//! - [`metrics`]: Prometheus series.
//! - [`reconcile`]: the loop that ties them together, gated on the writer Lease; never blocks DNS serving.

pub mod desired;
pub mod diff;
pub mod finalize;
pub mod gc;
pub mod metrics;
pub mod model;
pub mod profile;
pub mod reconcile;
mod routing;
pub mod status;

pub use desired::{desired, DesiredEndpoint, DesiredProfile};
pub use diff::{plan, Plan};
pub use model::{ArmCall, Method, API_VERSION};
pub use reconcile::{run, BackendStatus, Gates, MirrorStatus, Options};
pub use status::{Accepted, ConditionStatus, Programmed, Reason};
