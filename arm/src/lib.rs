//! Azure Resource Manager access shared by every part of fleetdns that talks to ARM:
//! the Traffic Manager mirror (`fleetdns-sync`) and, in hub mode, the public IP
//! lookups of the Kubernetes source. Nothing here knows about Traffic Manager.
//!
//! - [`call`]: one ARM request as plain data: method, path, api-version, body.
//! - [`client`]: sends calls: rate bound, `Retry-After` gate, per-request retries, request ids.
//! - [`error`]: [`ArmError`] with ids, code, details, blame and retryability.
//! - [`headers`]: every `Retry-After` form, the remaining-quota headers.
//! - [`auth`]: Entra ID tokens for a resource (ARM, or the AKS AAD server app),
//!   from a client secret, workload identity or managed identity, refreshed early.
//! - [`metrics`]: the request and token counters (`fleetdns_azure_*`).
//!
//! Data flow: a caller builds a [`Call`], [`ArmClient::send`] gets a token from its
//! [`TokenSource`], waits for its turn, sends, and answers an [`ArmResponse`] or an
//! [`ArmError`] that says whose fault it was and whether a retry may help.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
#![deny(clippy::print_stdout)]

pub mod auth;
pub mod call;
pub mod client;
pub mod error;
pub mod headers;
pub mod metrics;

pub use auth::{AuthError, Resource, TokenSource};
pub use call::{Call, Method};
pub use client::{ArmClient, ArmResponse, ClientOptions};
pub use error::{ArmError, Blame, RequestIds};
pub use metrics::ArmMetrics;
