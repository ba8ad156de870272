//! Outputs of fleetdns.
//!
//! Everything that leaves the process to tell someone else about the fleet lives here: status written back
//! to Kubernetes objects, and the mirror of the fleet into Azure Traffic Manager. Both read only the
//! `Fleet` and `Health` snapshots (DESIGN.md §2); neither reads a source directly.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
#![deny(clippy::print_stdout)]

pub mod azure;
pub mod status;
