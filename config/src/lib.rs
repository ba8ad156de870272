//! fleetdns configuration: the validated fleet model and where it comes from.
//!
//! Data flow: YAML documents (upstream Fleet CRD objects plus fleetdns settings) →
//! [`schema`] checks each object against the CRD schema generated from [`crd`] →
//! [`file`] turns documents into typed inputs → [`validate`] builds a [`Fleet`] or a
//! list of precise [`Diagnostic`]s. The [`weight`] formula is fleet-networking's.
//!
//! Modules:
//! - [`crd`]: Rust types of TrafficManagerProfile, TrafficManagerBackend, ServiceExport.
//! - [`schema`]: a structural-schema checker for objects against a CRD's openAPIV3Schema.
//! - [`weight`]: the endpoint weight formula.
//! - [`model`]: `Fleet`, `Profile`, `Endpoint`, … — plain data, shared by every crate.
//! - [`settings`]: fleetdns' own settings document (zone, name servers, clusters).
//! - [`diagnostic`]: where an error is (file, document, line, object, field) and what is allowed.
//! - [`validate`]: inputs → `Fleet` or diagnostics.
//! - [`file`]: the file source (parse, validate, watch).
//! - [`kubernetes`]: the live source (hub and member clusters, watched).
//! - [`azure`]: the optional Azure Traffic Manager mirror settings, validated.
//! - `testing` (feature `test-support`): builders for the model in other crates' tests.
#![forbid(unsafe_code)]

pub mod azure;
pub mod crd;
pub mod diagnostic;
pub mod document;
pub mod file;
pub mod health;
pub mod kubernetes;
pub mod limits;
pub mod model;
pub mod schema;
pub mod settings;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod validate;
pub mod weight;

pub use diagnostic::{Diagnostic, Diagnostics, Location, Severity};
pub use health::{EndpointHealth, Health, Observation};
pub use model::*;
