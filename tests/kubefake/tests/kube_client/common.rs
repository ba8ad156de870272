//! Shared setup for the kube-client tests: starting a fake cluster, kube clients for it,
//! object fixtures, and a watcher whose events a test can wait for.

use std::time::Duration;

use fleetdns_config::crd::v1beta1;
use fleetdns_kubefake::{kubeconfig_yaml, FakeCluster};
use futures::StreamExt;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;
use serde_json::{json, Value};
use tokio::sync::mpsc;

pub const TMP: &str = "networking.fleet.azure.com/v1beta1";

/// How long a test waits for one watcher event: kube's watcher backs off up to seconds
/// after errors, and CI machines are busy.
const WATCH_EVENT_TIMEOUT: Duration = Duration::from_secs(30);

pub fn start(last_octet: u8, name: &str) -> FakeCluster {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addr = format!("127.0.120.{last_octet}:0").parse().expect("addr");
    FakeCluster::start(addr, name).expect("fake cluster starts")
}

pub async fn client_with(c: &FakeCluster, token: &str) -> Client {
    let kc = Kubeconfig::from_yaml(&kubeconfig_yaml(&[c], Some(token))).expect("kubeconfig parses");
    let opts = KubeConfigOptions {
        context: Some(c.name().to_string()),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .expect("config");
    Client::try_from(cfg).expect("client")
}

pub async fn client(c: &FakeCluster) -> Client {
    client_with(c, &c.default_token()).await
}

pub fn profile(ns: &str, name: &str) -> v1beta1::TrafficManagerProfile {
    serde_json::from_value(json!({
        "apiVersion": TMP, "kind": "TrafficManagerProfile",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"resourceGroup": "rg", "monitorConfig": {"port": 8080}},
    }))
    .expect("profile")
}

pub fn condition(ty: &str, status: &str, reason: &str) -> Value {
    json!({"type": ty, "status": status, "reason": reason, "message": "m",
           "lastTransitionTime": "2026-01-02T15:04:05Z", "observedGeneration": 1})
}

/// What a spawned watcher forwards: its events, errors as strings.
pub type Events<K> = mpsc::UnboundedReceiver<Result<Event<K>, String>>;

/// Runs a watcher (with kube's default backoff) and forwards its events, errors as strings.
pub fn spawn_watcher<K>(api: Api<K>, cfg: watcher::Config) -> Events<K>
where
    K: kube::Resource
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut s = watcher::watcher(api, cfg).default_backoff().boxed();
        while let Some(ev) = s.next().await {
            if tx.send(ev.map_err(|e| e.to_string())).is_err() {
                return;
            }
        }
    });
    rx
}

/// Receives events until `pred` matches one (returning everything seen), or panics after
/// [`WATCH_EVENT_TIMEOUT`] naming `what` and listing what was seen.
pub async fn until<K: std::fmt::Debug>(
    rx: &mut Events<K>,
    what: &str,
    mut pred: impl FnMut(&Result<Event<K>, String>) -> bool,
) -> Vec<Result<Event<K>, String>> {
    let mut seen = Vec::new();
    let matched = tokio::time::timeout(WATCH_EVENT_TIMEOUT, async {
        while let Some(ev) = rx.recv().await {
            let hit = pred(&ev);
            seen.push(ev);
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    match matched {
        Ok(true) => seen,
        Ok(false) => panic!("watcher ended while waiting for {what}; seen {seen:?}"),
        Err(_) => {
            panic!("timed out after {WATCH_EVENT_TIMEOUT:?} waiting for {what}; seen {seen:?}")
        }
    }
}

pub fn name_of<K: kube::Resource>(k: &K) -> String {
    k.meta().name.clone().unwrap_or_default()
}

pub fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}
