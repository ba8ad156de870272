//! Errors of starting and controlling a fake cluster (API-level failures are
//! [`crate::ApiError`]).

use std::net::SocketAddr;

/// Failure to start, rebind or configure a fake cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The CRD YAML could not be read or parsed.
    #[error("loading CRDs: {0}")]
    Crd(String),
    /// The address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Other I/O (kubeconfig writing, thread spawn).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The server runtime thread is gone.
    #[error("kubefake runtime: {0}")]
    Runtime(String),
    /// An object passed to the test handle has no known apiVersion/kind.
    #[error("unknown resource type {api_version}, kind {kind}")]
    UnknownType {
        /// `apiVersion`.
        api_version: String,
        /// `kind`.
        kind: String,
    },
}
