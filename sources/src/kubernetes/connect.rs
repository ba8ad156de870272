//! One `kube::Client` per cluster, from a kubeconfig context or the in-cluster
//! service account.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::error::SourceError;

/// Connects to the cluster of `context` in `kubeconfig` (or `$KUBECONFIG` /
/// `~/.kube/config`); without a context, the current context, or the in-cluster
/// config when running in a pod without a kubeconfig.
pub async fn client(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Client, SourceError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        cluster: None,
        user: None,
    };
    let config = match kubeconfig {
        Some(path) => match Kubeconfig::read_from(path) {
            Ok(file) => kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        None if context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| e.to_string()),
        None => kube::Config::infer().await.map_err(|e| e.to_string()),
    }
    .map_err(|message| SourceError::Kubeconfig {
        path: kubeconfig.map_or_else(
            || "$KUBECONFIG or ~/.kube/config".to_string(),
            |p| p.display().to_string(),
        ),
        context: context.unwrap_or("<current>").to_string(),
        message,
    })?;
    kube::Client::try_from(config).map_err(|e| SourceError::Client(e.to_string()))
}
