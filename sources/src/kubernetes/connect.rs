//! One `kube::Client` per cluster, from a kubeconfig context or the in-cluster
//! service account; the hub's client can instead sign in with Entra ID natively
//! (`super::entra`).

use std::path::Path;

use fleetdns_config::hub::HubAuth;
use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};

use super::entra::EntraLayer;
use super::error::SourceError;

/// Connects to the cluster of `context` in `kubeconfig` (or `$KUBECONFIG` /
/// `~/.kube/config`); without a context, the current context, or the in-cluster
/// config when running in a pod without a kubeconfig.
pub async fn client(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Client, SourceError> {
    let config = config(kubeconfig, context).await?;
    kube::Client::try_from(config).map_err(|e| SourceError::Client(e.to_string()))
}

/// Like [`client`], for the hub `hub`: with `auth`, every request carries an Entra ID
/// token from that credential instead of the kubeconfig user's credentials (the
/// kubeconfig still gives the server and its CA).
pub async fn hub_client(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    hub: &str,
    auth: Option<&HubAuth>,
) -> Result<kube::Client, SourceError> {
    let Some(auth) = auth else {
        return client(kubeconfig, context).await;
    };
    let mut config = config(kubeconfig, context).await?;
    // Only the Entra ID token signs the requests in.
    config.auth_info = AuthInfo::default();
    let layer = EntraLayer::new(hub, auth)?;
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| SourceError::Client(e.to_string()))?;
    Ok(builder.with_layer(&layer).build())
}

async fn config(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Config, SourceError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        cluster: None,
        user: None,
    };
    match kubeconfig {
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
    })
}
