//! HTTPS with a generated CA, and bearer tokens from an exec plugin that expire: what a
//! hub reached through kubelogin looks like to kube-rs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fleetdns_kubefake::{kubeconfig_yaml_for, ExecPlugin, FakeCluster, TokenAuthority, User};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Client;

fn start_tls(last_octet: u8, name: &str) -> FakeCluster {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addr = format!("127.0.120.{last_octet}:0").parse().expect("addr");
    FakeCluster::start_tls(addr, name).expect("fake cluster starts")
}

async fn client_from(yaml: &str, context: &str) -> Client {
    let kc = Kubeconfig::from_yaml(yaml).expect("kubeconfig parses");
    let opts = KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .expect("config");
    Client::try_from(cfg).expect("client")
}

/// The fake exec plugin, with the authority's secret and a token lifetime.
pub fn plugin(authority: &TokenAuthority, lifetime_secs: u64) -> ExecPlugin {
    ExecPlugin {
        command: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fake-exec-plugin.sh"),
        args: Vec::new(),
        env: vec![
            ("KUBEFAKE_TOKEN_SECRET".into(), authority.secret().into()),
            ("KUBEFAKE_TOKEN_LIFETIME".into(), lifetime_secs.to_string()),
        ],
    }
}

#[tokio::test]
async fn hub_auth_https_kubeconfig_carries_the_generated_ca() {
    let hub = start_tls(200, "hub");
    let other = start_tls(201, "other");
    assert!(hub.url().starts_with("https://"));
    let yaml = kubeconfig_yaml_for(&[&hub], &User::DefaultToken);
    assert!(yaml.contains("certificate-authority-data"));
    let ns: Api<Namespace> = Api::all(client_from(&yaml, "hub").await);
    ns.list(&ListParams::default())
        .await
        .expect("list over HTTPS");
    // The other cluster's CA does not vouch for this server: the handshake fails.
    let wrong = yaml.replace(
        &hub.url(),
        &other
            .url()
            .replace(&other.addr().to_string(), &hub.addr().to_string()),
    );
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&wrong).expect("yaml");
    let other_yaml = kubeconfig_yaml_for(&[&other], &User::DefaultToken);
    let other_doc: serde_yaml::Value = serde_yaml::from_str(&other_yaml).expect("yaml");
    doc["clusters"][0]["cluster"]["certificate-authority-data"] =
        other_doc["clusters"][0]["cluster"]["certificate-authority-data"].clone();
    let wrong = serde_yaml::to_string(&doc).expect("yaml");
    let ns: Api<Namespace> = Api::all(client_from(&wrong, "hub").await);
    let err = ns
        .list(&ListParams::default())
        .await
        .expect_err("untrusted CA");
    assert!(
        format!("{err:?}").to_lowercase().contains("certificate"),
        "{err:?}"
    );
}

#[tokio::test]
async fn hub_auth_exec_plugin_tokens_expire_and_are_refreshed() {
    let hub = start_tls(202, "hub");
    let authority = Arc::new(TokenAuthority::new());
    hub.authenticate_with(Some(authority.clone()));
    // Without a token, or with a forged or expired one: 401, as from kube-apiserver.
    for user in [
        User::Anonymous,
        User::Token("kfa.1.2.3".into()),
        User::Token(
            authority
                .mint(Duration::from_secs(1))
                .replace("kfa.", "kfa.9"),
        ),
    ] {
        let yaml = kubeconfig_yaml_for(&[&hub], &user);
        let ns: Api<Namespace> = Api::all(client_from(&yaml, "hub").await);
        let err = ns.list(&ListParams::default()).await.expect_err("refused");
        assert!(
            matches!(&err, kube::Error::Api(s) if s.code == 401),
            "{err:?}"
        );
    }
    let yaml = kubeconfig_yaml_for(&[&hub], &User::Exec(plugin(&authority, 2)));
    let ns: Api<Namespace> = Api::all(client_from(&yaml, "hub").await);
    ns.list(&ListParams::default())
        .await
        .expect("list with an exec token");
    let first = authority.distinct_accepted();
    assert!(first >= 1);
    // Requests keep succeeding across several token lifetimes: kube-rs runs the plugin
    // again once a token is near its expiry.
    let mut failures = 0;
    let start = tokio::time::Instant::now();
    while start.elapsed() < Duration::from_secs(6) {
        if ns.list(&ListParams::default()).await.is_err() {
            failures += 1;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(failures, 0, "every request carries a live token");
    assert!(
        authority.distinct_accepted() > first,
        "tokens were refreshed: {} distinct",
        authority.distinct_accepted()
    );
}
