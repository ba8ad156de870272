//! A fake Kubernetes API server for fleetdns end-to-end tests.
//!
//! No real kube-apiserver can run here, so the tests run the real fleetdns binary (and real
//! kube-rs clients) against this one. It speaks the same HTTP API closely enough that kube's
//! `Api` and kube-runtime's `watcher` behave as against a real cluster: list with
//! `resourceVersion` and `limit`/`continue`, watch streams of `WatchEvent` lines with
//! bookmarks and the 410 Expired `ERROR` event that makes watchers relist, optimistic
//! concurrency (409 Conflict), status subresources, merge/JSON patch, a simplified
//! server-side apply, and validation of the fleet networking CRDs against the upstream
//! schemas (422 Invalid with field causes). Faults (dropped connections, 5xx, latency,
//! restarts, unreachability, forced 410) are injected from the test through
//! [`FakeCluster`], which also records every write ([`WriteRecord`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use fleetdns_kubefake::{write_kubeconfig, FakeCluster};
//! let hub = FakeCluster::start("127.0.120.1:0".parse().unwrap(), "hub").unwrap();
//! write_kubeconfig("/tmp/kubeconfig", &[&hub]).unwrap();
//! hub.create(&serde_json::json!({
//!     "apiVersion": "networking.fleet.azure.com/v1beta1", "kind": "TrafficManagerProfile",
//!     "metadata": {"name": "web", "namespace": "team-a"},
//!     "spec": {"resourceGroup": "rg"},
//! })).unwrap();
//! hub.restart(Duration::from_millis(500), true);
//! let status_writes = hub.write_log().into_iter().filter(|w| w.is_status()).count();
//! # let _ = status_writes;
//! ```

pub mod admission;
pub mod auth;
pub mod authz;
pub mod body;
mod cluster;
pub mod discovery;
mod error;
pub mod faults;
mod handlers;
pub mod kubeconfig;
pub mod meta;
pub mod openapi;
pub mod ownership;
pub mod patch;
pub mod protobuf;
pub mod registry;
mod route;
pub mod select;
mod server;
mod shared;
pub mod status;
pub mod store;
pub mod table;
mod tls;
pub mod watch;
pub mod writelog;

pub use auth::{Authenticator, TokenAuthority};
pub use cluster::{FakeCluster, HANDLE_MANAGER};
pub use error::Error;
pub use kubeconfig::{
    kubeconfig_yaml, kubeconfig_yaml_for, write_kubeconfig, write_kubeconfig_exec,
    write_kubeconfig_with_token, ExecPlugin, User,
};
pub use shared::Options;
pub use status::{ApiError, Cause, Details};
pub use writelog::WriteRecord;
