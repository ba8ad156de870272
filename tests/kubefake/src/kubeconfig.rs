//! Kubeconfig files pointing kube clients (and the fleetdns binary) at fake clusters: one
//! context per cluster, named like the cluster, each with a bearer-token user.

use std::path::Path;

use serde_json::{json, Value};

use crate::cluster::FakeCluster;

/// The kubeconfig YAML for `clusters`; every user gets `token` if given, else the
/// cluster's default token ([`FakeCluster::default_token`]). The first cluster is the
/// current context.
pub fn kubeconfig_yaml(clusters: &[&FakeCluster], token: Option<&str>) -> String {
    let mut cs = Vec::new();
    let mut users = Vec::new();
    let mut contexts = Vec::new();
    for c in clusters {
        let name = c.name();
        let user = format!("{name}-user");
        cs.push(json!({"name": name, "cluster": {"server": c.url()}}));
        let tok = token.map(String::from).unwrap_or_else(|| c.default_token());
        users.push(json!({"name": user, "user": {"token": tok}}));
        contexts.push(json!({"name": name, "context": {"cluster": name, "user": user, "namespace": "default"}}));
    }
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": cs,
        "users": users,
        "contexts": contexts,
        "current-context": clusters.first().map(|c| Value::String(c.name().to_string())).unwrap_or(Value::Null),
    });
    serde_yaml::to_string(&doc).unwrap_or_default()
}

/// Writes a kubeconfig with one context per cluster (see [`kubeconfig_yaml`]).
pub fn write_kubeconfig(path: impl AsRef<Path>, clusters: &[&FakeCluster]) -> std::io::Result<()> {
    std::fs::write(path, kubeconfig_yaml(clusters, None))
}

/// Like [`write_kubeconfig`], every user authenticating with `token` (give each fleetdns
/// replica its own token to tell their writes apart in the write log).
pub fn write_kubeconfig_with_token(
    path: impl AsRef<Path>,
    clusters: &[&FakeCluster],
    token: &str,
) -> std::io::Result<()> {
    std::fs::write(path, kubeconfig_yaml(clusters, Some(token)))
}
