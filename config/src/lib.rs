//! The fleetdns model: what users write, and what it means. Pure data and
//! functions: no sockets, no Kubernetes client, no metrics registry (the sources
//! crate reads files and clusters; `dns`, `prober` and `sync` consume a [`Fleet`]).
//!
//! Data flow: YAML documents (upstream Fleet CRD objects plus fleetdns settings) →
//! [`schema`] checks each object against the CRD schema generated from [`crd`] →
//! [`file`](mod@file) (or the Kubernetes source) turns them into typed [`inputs`] →
//! [`validate`] builds a [`Fleet`] or a list of precise [`Diagnostic`]s. The
//! [`weight`] formula is fleet-networking's.
//!
//! Modules:
//! - [`crd`]: Rust types of TrafficManagerProfile, TrafficManagerBackend, ServiceExport.
//! - [`schema`]: a structural-schema checker for objects against a CRD's openAPIV3Schema.
//! - [`weight`]: the endpoint weight formula.
//! - [`model`]: `Fleet`, `Profile`, `Endpoint`, … — plain data, shared by every crate.
//! - [`settings`]: fleetdns' own settings document (zone, name servers, clusters).
//! - [`diagnostic`]: where an error is (file, document, line, object, field) and what is allowed.
//! - [`validate`]: inputs → `Fleet` or diagnostics.
//! - [`inputs`]: upstream objects as read, schema-checked, with their document.
//! - [`file`](mod@file): the file format (text → inputs → `Fleet`).
//! - [`azure`]: the Azure Traffic Manager mirror as the model carries it.
//! - [`health`]: what the prober observed, per endpoint.
//! - [`limits`]: caps on input.
//! - [`routing`]: routing methods (Weighted, MultiValue, Priority) and their annotations.
//! - [`secret`]: values that print as `<redacted>` (tokens, probe header values).
//! - [`backoff`]: the one retry schedule of every loop that talks to a remote API.
//! - `testing` (feature `test-support`): builders for the model in other crates' tests.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
#![deny(clippy::print_stdout)]

pub mod azure;
pub mod backoff;
pub mod crd;
mod delta;
pub mod diagnostic;
mod doc_cache;
mod doc_keys;
mod doc_record;
pub mod document;
pub mod file;
pub mod health;
pub mod hub;
pub mod inputs;
pub mod limits;
pub mod model;
mod parse_doc;
mod parse_many;
pub mod routing;
pub mod schema;
pub mod secret;
pub mod settings;
mod settings_split;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod validate;
pub mod weight;

pub use diagnostic::{Diagnostic, Diagnostics, Location, Severity};
pub use health::{EndpointHealth, Health, HealthSlots, Observation};
pub use model::*;
pub use routing::RoutingMethod;
