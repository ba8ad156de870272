//! One kube-runtime watcher per (cluster, resource, namespace), turned into plain
//! [`Update`]s for the composer.
//!
//! The watcher lists, then watches; on 410 Gone it relists, on any error it
//! reconnects with exponential backoff and jitter. A relist only replaces the
//! collection when it completes (`InitDone`), so while a cluster is unreachable the
//! last known objects stay. An API server behind the resourceVersion held (504 "Too large
//! resource version") gets a fresh watcher, that is a relist from scratch, and a log line.

use std::time::Duration;

use fleetdns_config::backoff::Backoff;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::warn;

use super::compose::Resource;

/// What a watcher saw.
#[derive(Debug)]
pub enum Update {
    /// A complete (re)list of the watched scope.
    Replace {
        /// The cluster watched.
        cluster: String,
        /// The resource watched.
        resource: Resource,
        /// The namespace watched, or `None` for all namespaces.
        scope: Option<String>,
        /// Every object of the scope, with `apiVersion` and `kind` set.
        objects: Vec<Value>,
    },
    /// An object was added or changed.
    Apply {
        /// The cluster watched.
        cluster: String,
        /// The resource watched.
        resource: Resource,
        /// The object as it is now, with `apiVersion` and `kind` set.
        object: Value,
    },
    /// An object was deleted.
    Delete {
        /// The cluster watched.
        cluster: String,
        /// The resource watched.
        resource: Resource,
        /// The object as last seen, with `apiVersion` and `kind` set.
        object: Value,
    },
    /// The watch failed; it retries with backoff. `unreachable` when no answer came
    /// from the API server at all (connection refused, reset, timeout).
    Failed {
        /// The cluster watched.
        cluster: String,
        /// The resource watched.
        resource: Resource,
        /// The watcher's error.
        error: String,
        /// No answer came from the API server (rather than an error status).
        unreachable: bool,
    },
    /// A first list (or relist) is under way: this many objects so far. Sent every
    /// [`LIST_PROGRESS_EVERY`] objects, so that the first fleet keeps waiting for a
    /// large list that is still arriving (and the log shows it), rather than starting
    /// half-listed at the deadline.
    Listing {
        /// The cluster watched.
        cluster: String,
        /// The resource watched.
        resource: Resource,
        /// Objects received so far in this list.
        listed: usize,
    },
    /// Hub mode: what ARM said of every public IP the exports name.
    PublicIps(std::collections::BTreeMap<String, super::public_ip::PublicIp>),
    /// The result of a reachability check of a cluster's API server (`GET /version`).
    Probed {
        /// The cluster checked.
        cluster: String,
        /// `None` when the API server answered (even with an error status), else why not.
        error: Option<String>,
    },
}

/// How many objects of a list arrive between two [`Update::Listing`]s.
pub const LIST_PROGRESS_EVERY: usize = 10_000;

/// The API resource watched for each [`Resource`], and its `apiVersion`/`kind`.
pub fn api_resource(resource: Resource) -> ApiResource {
    use fleetdns_config::crd;
    use fleetdns_config::ObjectKind;
    match resource {
        Resource::Profiles => crd::api_resource(ObjectKind::TrafficManagerProfile),
        Resource::Backends => crd::api_resource(ObjectKind::TrafficManagerBackend),
        Resource::Exports => crd::api_resource(ObjectKind::ServiceExport),
        Resource::Services => ApiResource::erase::<k8s_openapi::api::core::v1::Service>(&()),
        Resource::ServiceImports => fleet_v1alpha1("ServiceImport", "serviceimports"),
        Resource::InternalExports => {
            fleet_v1alpha1("InternalServiceExport", "internalserviceexports")
        }
        Resource::MemberClusters => ApiResource {
            group: "cluster.kubernetes-fleet.io".into(),
            version: "v1beta1".into(),
            api_version: "cluster.kubernetes-fleet.io/v1beta1".into(),
            kind: "MemberCluster".into(),
            plural: "memberclusters".into(),
        },
    }
}

/// A `networking.fleet.azure.com/v1alpha1` resource (ServiceImport and
/// InternalServiceExport exist in v1alpha1 only).
fn fleet_v1alpha1(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: fleetdns_config::crd::GROUP.into(),
        version: "v1alpha1".into(),
        api_version: format!("{}/v1alpha1", fleetdns_config::crd::GROUP),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Watches `resource` in `namespace` (or everywhere) of `client`'s cluster until
/// `tx` closes.
pub async fn run(
    client: kube::Client,
    cluster: String,
    resource: Resource,
    namespace: Option<String>,
    tx: mpsc::Sender<Update>,
) {
    let ar = api_resource(resource);
    let api: Api<DynamicObject> = match &namespace {
        Some(ns) => Api::namespaced_with(client, ns, &ar),
        None => Api::all_with(client, &ar),
    };
    let typed = |o: DynamicObject| -> Value {
        let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
        if let Some(map) = v.as_object_mut() {
            // List items may omit these; the composer relies on them.
            map.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
            map.insert("kind".into(), Value::String(ar.kind.clone()));
        }
        // Kept only as far as it is read: at 100k objects the rest was most of the memory.
        super::slim::slim(resource, &mut v);
        v
    };
    // kube-runtime relists on 410 Gone only. An API server that has not reached the
    // resourceVersion we hold (restarted with an empty store, restored from a backup)
    // answers 504 "Too large resource version" instead, which the watcher would retry at
    // the same resourceVersion forever; client-go relists from scratch on it, and so
    // does this loop, by starting a new watcher.
    loop {
        let stream =
            watcher::watcher(api.clone(), watcher::Config::default()).backoff(Jittered::default());
        futures::pin_mut!(stream);
        let mut buffer: Vec<Value> = Vec::new();
        let relist = loop {
            let Some(item) = stream.next().await else {
                return;
            };
            let update = match item {
                Ok(Event::Init) => {
                    buffer.clear();
                    continue;
                }
                Ok(Event::InitApply(o)) => {
                    buffer.push(typed(o));
                    if !buffer.len().is_multiple_of(LIST_PROGRESS_EVERY) {
                        continue;
                    }
                    Update::Listing {
                        cluster: cluster.clone(),
                        resource,
                        listed: buffer.len(),
                    }
                }
                Ok(Event::InitDone) => Update::Replace {
                    cluster: cluster.clone(),
                    resource,
                    scope: namespace.clone(),
                    objects: std::mem::take(&mut buffer),
                },
                Ok(Event::Apply(o)) => Update::Apply {
                    cluster: cluster.clone(),
                    resource,
                    object: typed(o),
                },
                Ok(Event::Delete(o)) => Update::Delete {
                    cluster: cluster.clone(),
                    resource,
                    object: typed(o),
                },
                // 410 Gone: the watcher relists at once; the cluster is fine.
                Err(watcher::Error::WatchError(status)) if status.code == 410 => continue,
                Err(e) if too_large_resource_version(&e) => break e.to_string(),
                Err(e) => Update::Failed {
                    cluster: cluster.clone(),
                    resource,
                    unreachable: !answered(&e),
                    error: e.to_string(),
                },
            };
            if tx.send(update).await.is_err() {
                return;
            }
        };
        warn!(
            cluster = %cluster,
            resource = resource.label(),
            error = %relist,
            "the API server has not reached the resourceVersion held (restarted with an empty store or restored from a backup); relisting"
        );
        tokio::time::sleep(BACKOFF_START).await;
    }
}

/// Whether `e` is the apiserver's 504 "Too large resource version" (cause
/// `ResourceVersionTooLarge`), on a watch event or on starting a watch or list.
pub fn too_large_resource_version(e: &watcher::Error) -> bool {
    let status = match e {
        watcher::Error::WatchError(s) => &**s,
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => &**s,
        _ => return false,
    };
    status.code == 504
        && (status.message.contains("Too large resource version")
            || status.details.as_ref().is_some_and(|d| {
                d.causes
                    .iter()
                    .any(|c| c.reason == "ResourceVersionTooLarge")
            }))
}

/// Whether the API server answered (with an error status) rather than not at all.
fn answered(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::WatchError(_) => true,
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => matches!(e, kube::Error::Api(_)),
        _ => false,
    }
}

/// How often each cluster's API server is checked, and how long a check may take.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// Checks `GET /version` of `client`'s cluster every [`PROBE_INTERVAL`]: a watch
/// that resumes quietly after an outage yields no event, so reachability cannot
/// come from the watches alone.
pub async fn probe(client: kube::Client, cluster: String, tx: mpsc::Sender<Update>) {
    loop {
        tokio::time::sleep(PROBE_INTERVAL).await;
        let error = match tokio::time::timeout(PROBE_INTERVAL, client.apiserver_version()).await {
            Ok(Ok(_)) | Ok(Err(kube::Error::Api(_))) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {PROBE_INTERVAL:?}")),
        };
        let update = Update::Probed {
            cluster: cluster.clone(),
            error,
        };
        if tx.send(update).await.is_err() {
            return;
        }
    }
}

/// Reconnect delays: 250 ms doubling to 10 s (jittered, see
/// [`fleetdns_config::backoff`]), as kube-runtime's watcher expects them.
#[derive(Clone, Debug)]
pub struct Jittered(Backoff);

const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

impl Default for Jittered {
    fn default() -> Self {
        Self(Backoff::new(BACKOFF_START, BACKOFF_MAX).expect("250 ms to 10 s is a valid backoff"))
    }
}

impl Iterator for Jittered {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.0.next_delay())
    }
}

impl kube::runtime::utils::Backoff for Jittered {
    fn reset(&mut self) {
        self.0.reset();
    }
}
