//! Why the Kubernetes source cannot start (its own module so that `connect`
//! and the source share it without importing each other).

/// Why the Kubernetes source cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The kubeconfig could not be read, or gives no usable cluster for the context.
    #[error("kubeconfig {path}, context {context}: {message}")]
    Kubeconfig {
        /// The kubeconfig file (`$KUBECONFIG or ~/.kube/config` when none is configured).
        path: String,
        /// The context asked for (`<current>` for the current one).
        context: String,
        /// What went wrong.
        message: String,
    },
    /// A client could not be built from the kubeconfig.
    #[error("cannot build a Kubernetes client: {0}")]
    Client(String),
    /// The settings document of the config file is unreadable or invalid.
    #[error("{path}: {message}")]
    Settings {
        /// The config file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}
