//! Writes the desired status of every object, as leader, through the status
//! subresource.
//!
//! Merge patches of `{"status": …}` to `/status`, so spec and metadata are never
//! touched. An object is written only when its status would change: the writer
//! remembers what it last wrote per object (by uid) and reads the current status
//! once for objects it has not seen. Conditions carry `observedGeneration`, and
//! `lastTransitionTime` moves only when a condition's status changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use fleetdns_config::crd::api_resource;
use fleetdns_config::{Fleet, ObjectKind};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{json, Value};
use tokio::sync::watch;
use tracing::{debug, warn};

use super::desired::{self, Desired};
use super::StatusMetrics;
use crate::azure::MirrorStatus;

/// Field manager named in every write.
pub const FIELD_MANAGER: &str = "fleetdns";
/// Everything is re-read and re-checked this often, to repair status edited by others.
const RESYNC: Duration = Duration::from_secs(600);
/// Failed writes are retried after this long (plus up to 50 % jitter).
const RETRY: Duration = Duration::from_secs(5);

type Key = (String, ObjectKind, String, String);

/// Writes status while `leader` says so, until `shutdown`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    hub: kube::Client,
    members: BTreeMap<String, kube::Client>,
    manage_exports: bool,
    mut fleet: watch::Receiver<Arc<Fleet>>,
    mut mirror: watch::Receiver<Arc<MirrorStatus>>,
    mut leader: watch::Receiver<bool>,
    metrics: StatusMetrics,
    shutdown: impl std::future::Future<Output = ()>,
) {
    // What we believe each object's status is: (uid, status).
    let mut known: HashMap<Key, (String, Value)> = HashMap::new();
    let mut resync = tokio::time::interval(RESYNC);
    // Set while some write failed: when to try again.
    let mut retry: Option<tokio::time::Instant> = None;
    let mut mirror_open = true;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            r = fleet.changed() => if r.is_err() { return },
            r = leader.changed() => if r.is_err() { return },
            // The mirror going away must not stop status writing.
            r = mirror.changed(), if mirror_open => if r.is_err() { mirror_open = false; continue },
            _ = resync.tick() => known.clear(),
            _ = async { tokio::time::sleep_until(retry.unwrap_or_else(tokio::time::Instant::now)).await }, if retry.is_some() => {}
        }
        let leading = *leader.borrow_and_update();
        metrics.leader.set(i64::from(leading));
        if !leading {
            known.clear();
            continue;
        }
        let f = fleet.borrow_and_update().clone();
        let m = mirror.borrow_and_update().clone();
        let mirrored = f.azure.is_some().then_some(m.as_ref());
        let want = desired::desired(&f, manage_exports, mirrored);
        retry = None;
        for d in &want {
            if !*leader.borrow() {
                break;
            }
            let client = if d.kind == ObjectKind::ServiceExport {
                match members.get(&d.cluster) {
                    Some(c) => c.clone(),
                    None => continue,
                }
            } else {
                hub.clone()
            };
            if !write_one(client, d, &mut known, &metrics).await {
                retry =
                    Some(tokio::time::Instant::now() + RETRY.mul_f64(1.0 + fastrand::f64() * 0.5));
            }
        }
        // Forget objects that are gone.
        known.retain(|k, _| want.iter().any(|d| key(d) == *k));
    }
}

fn key(d: &Desired) -> Key {
    (
        d.cluster.clone(),
        d.kind,
        d.namespace.clone(),
        d.name.clone(),
    )
}

fn kind_label(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::TrafficManagerProfile => "TrafficManagerProfile",
        ObjectKind::TrafficManagerBackend => "TrafficManagerBackend",
        ObjectKind::ServiceExport => "ServiceExport",
    }
}

/// Writes one object's status if it changed; `false` when it must be tried again.
async fn write_one(
    client: kube::Client,
    d: &Desired,
    known: &mut HashMap<Key, (String, Value)>,
    metrics: &StatusMetrics,
) -> bool {
    let api: Api<DynamicObject> = Api::namespaced_with(client, &d.namespace, &api_resource(d.kind));
    let k = key(d);
    let kind = kind_label(d.kind);
    let current = match known.get(&k) {
        Some((uid, status)) if *uid == d.uid => Some(status.clone()),
        _ => match api.get_status(&d.name).await {
            Ok(o) => {
                let status = o.data.get("status").cloned().unwrap_or(Value::Null);
                known.insert(k.clone(), (d.uid.clone(), status.clone()));
                Some(status)
            }
            // Deleted since the fleet was composed: nothing to write.
            Err(kube::Error::Api(s)) if s.code == 404 => return true,
            Err(e) => {
                metrics.writes.with_label_values(&[kind, "error"]).inc();
                warn!(kind, namespace = %d.namespace, name = %d.name, error = %e, "cannot read status");
                return false;
            }
        },
    };
    let now = Timestamp::from_second(Timestamp::now().as_second())
        .unwrap_or_else(|_| Timestamp::now())
        .to_string();
    let rendered = desired::render(d, current.as_ref(), &now);
    if !desired::differs(&rendered, current.as_ref()) {
        return true;
    }
    let patch = json!({ "status": rendered });
    match api
        .patch_status(
            &d.name,
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..Default::default()
            },
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(o) => {
            metrics.writes.with_label_values(&[kind, "written"]).inc();
            debug!(kind, namespace = %d.namespace, name = %d.name, "status written");
            let status = o.data.get("status").cloned().unwrap_or(Value::Null);
            known.insert(k, (d.uid.clone(), status));
            true
        }
        Err(kube::Error::Api(s)) if s.code == 404 => {
            known.remove(&k);
            true
        }
        Err(e) => {
            metrics.writes.with_label_values(&[kind, "error"]).inc();
            known.remove(&k);
            warn!(kind, namespace = %d.namespace, name = %d.name, error = %e, "status write failed");
            false
        }
    }
}
