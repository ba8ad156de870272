//! Kubeconfig files pointing kube clients (and the fleetdns binary) at fake clusters: one
//! context per cluster, named like the cluster. Users authenticate with a bearer token or a
//! client-go `exec` credential plugin (as kubelogin is used); an HTTPS cluster's entry
//! carries its CA as `certificate-authority-data`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::cluster::FakeCluster;

/// A client-go credential plugin (`users[].user.exec`), `client.authentication.k8s.io/v1`.
#[derive(Clone, Debug)]
pub struct ExecPlugin {
    /// The program run for each credential.
    pub command: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment variables set for it.
    pub env: Vec<(String, String)>,
}

/// How the users of a kubeconfig authenticate.
#[derive(Clone, Debug)]
pub enum User {
    /// Each cluster's [`FakeCluster::default_token`].
    DefaultToken,
    /// This bearer token for every cluster.
    Token(String),
    /// This exec plugin for every cluster.
    Exec(ExecPlugin),
    /// No credentials at all (something else signs the requests in).
    Anonymous,
}

fn cluster_entry(c: &FakeCluster) -> Value {
    let mut cluster = json!({"server": c.url()});
    if let Some(pem) = c.ca_pem() {
        cluster["certificate-authority-data"] =
            json!(base64::engine::general_purpose::STANDARD.encode(pem));
    }
    json!({"name": c.name(), "cluster": cluster})
}

fn user_entry(c: &FakeCluster, user: &User) -> Value {
    match user {
        User::DefaultToken => json!({"token": c.default_token()}),
        User::Token(t) => json!({"token": t}),
        User::Exec(p) => json!({"exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": p.command.display().to_string(),
            "args": p.args,
            "env": p.env.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
            "interactiveMode": "Never",
            "provideClusterInfo": false,
        }}),
        User::Anonymous => json!({}),
    }
}

/// The kubeconfig YAML for `clusters`, every user authenticating as `user`. The first
/// cluster is the current context.
pub fn kubeconfig_yaml_for(clusters: &[&FakeCluster], user: &User) -> String {
    let mut cs = Vec::new();
    let mut users = Vec::new();
    let mut contexts = Vec::new();
    for c in clusters {
        let name = c.name();
        let user_name = format!("{name}-user");
        cs.push(cluster_entry(c));
        users.push(json!({"name": user_name, "user": user_entry(c, user)}));
        contexts.push(json!({"name": name, "context": {"cluster": name, "user": user_name, "namespace": "default"}}));
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

/// The kubeconfig YAML for `clusters`; every user gets `token` if given, else the
/// cluster's default token ([`FakeCluster::default_token`]). The first cluster is the
/// current context.
pub fn kubeconfig_yaml(clusters: &[&FakeCluster], token: Option<&str>) -> String {
    let user = token.map_or(User::DefaultToken, |t| User::Token(t.to_string()));
    kubeconfig_yaml_for(clusters, &user)
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

/// Like [`write_kubeconfig`], every user getting its token from `plugin`.
pub fn write_kubeconfig_exec(
    path: impl AsRef<Path>,
    clusters: &[&FakeCluster],
    plugin: &ExecPlugin,
) -> std::io::Result<()> {
    std::fs::write(
        path,
        kubeconfig_yaml_for(clusters, &User::Exec(plugin.clone())),
    )
}
