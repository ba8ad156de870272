//! Why the Kubernetes source cannot start (its own module so that `connect`
//! and the source share it without importing each other).

/// Why the Kubernetes source cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("kubeconfig {path}, context {context}: {message}")]
    Kubeconfig {
        path: String,
        context: String,
        message: String,
    },
    #[error("cannot build a Kubernetes client: {0}")]
    Client(String),
    #[error("{path}: {message}")]
    Settings { path: String, message: String },
}
