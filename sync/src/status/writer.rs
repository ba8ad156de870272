//! Writes the desired status of every object, as leader, through the status
//! subresource.
//!
//! Shaped like a kube-rs controller: [`reconcile`] takes one object's desired
//! status and a [`Context`] (its own clients, what it last wrote) and returns an
//! [`Action`], or a [`WriteError`] that says whether trying again can help. [`run`]
//! is the loop around it: it recomputes the desired statuses from each new `Fleet`
//! snapshot, and retries failed objects with the shared backoff.
//!
//! Merge patches of `{"status": …}` to `/status`, so spec and metadata are never
//! touched. An object is written only when its status would change: the context
//! remembers what it last wrote per object (by uid) and reads the current status
//! once for objects it has not seen. Conditions carry `observedGeneration`, and
//! `lastTransitionTime` moves only when a condition's status changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use fleetdns_config::backoff::Backoff;
use fleetdns_config::crd::api_resource;
use fleetdns_config::{Fleet, ObjectKind};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::desired::{self, Desired};
use super::StatusMetrics;
use crate::azure::MirrorStatus;

/// Field manager named in every write.
pub const FIELD_MANAGER: &str = "fleetdns";
/// Everything is re-read and re-checked this often, to repair status edited by others.
const RESYNC: Duration = Duration::from_secs(600);
/// Failed writes are retried after about this long (jittered, see [`Backoff`]).
const RETRY: Duration = Duration::from_secs(5);

type Key = (String, ObjectKind, String, String);

/// The writer's clients: its own, one per cluster it writes to.
#[derive(Clone)]
pub struct Clients {
    /// Profiles and backends live on the hub.
    pub hub: kube::Client,
    /// ServiceExports live on the members, by cluster name.
    pub members: BTreeMap<String, kube::Client>,
}

impl Clients {
    fn for_object(&self, d: &Desired) -> Option<&kube::Client> {
        match d.kind {
            ObjectKind::ServiceExport => self.members.get(&d.cluster),
            _ => Some(&self.hub),
        }
    }
}

/// What [`reconcile`] works with besides the desired status.
pub struct Context {
    /// Clients of the clusters written to.
    pub clients: Clients,
    /// Series the writer updates.
    pub metrics: StatusMetrics,
    /// What we believe each object's status is: (uid, status).
    known: HashMap<Key, (String, Value)>,
}

impl Context {
    /// A context that has written nothing yet: every object's status is read before it is written.
    pub fn new(clients: Clients, metrics: StatusMetrics) -> Self {
        Self {
            clients,
            metrics,
            known: HashMap::new(),
        }
    }

    /// Forgets what was written, so every object is read and checked again.
    pub fn forget(&mut self) {
        self.known.clear();
    }
}

/// What [`reconcile`] did with one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The status already says what it should.
    Unchanged,
    /// The status was written.
    Written,
    /// The object is gone (deleted since the fleet was composed): nothing to write.
    Gone,
    /// No client for the object's cluster (a member not configured to be written).
    Skipped,
}

/// Why one object's status could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The current status could not be read.
    #[error("cannot read the status of {kind} {namespace}/{name}: {source}")]
    Read {
        /// Kind of the object.
        kind: &'static str,
        /// Namespace of the object.
        namespace: String,
        /// Name of the object.
        name: String,
        /// The API server's or the client's error.
        #[source]
        source: kube::Error,
    },
    /// The status patch failed.
    #[error("cannot write the status of {kind} {namespace}/{name}: {source}")]
    Write {
        /// Kind of the object.
        kind: &'static str,
        /// Namespace of the object.
        namespace: String,
        /// Name of the object.
        name: String,
        /// The API server's or the client's error.
        #[source]
        source: kube::Error,
    },
}

impl WriteError {
    /// Whether trying again later can help: not for a request the API server
    /// refuses as such (forbidden, invalid), which fails the same way until the
    /// fleet or the cluster's RBAC changes (the next fleet change or the resync
    /// tries again).
    pub fn retry(&self) -> bool {
        let (Self::Read { source, .. } | Self::Write { source, .. }) = self;
        match source {
            kube::Error::Api(s) => {
                !matches!(s.code, 400..=499) || matches!(s.code, 408 | 409 | 429)
            }
            _ => true,
        }
    }
}

/// Brings one object's status to `d`: reads it once if unknown, writes it if it
/// differs.
pub async fn reconcile(d: &Desired, ctx: &mut Context) -> Result<Action, WriteError> {
    let Some(client) = ctx.clients.for_object(d) else {
        return Ok(Action::Skipped);
    };
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &d.namespace, &api_resource(d.kind));
    let k = key(d);
    let kind = kind_label(d.kind);
    let current = match ctx.known.get(&k) {
        Some((uid, status)) if *uid == d.uid => Some(status.clone()),
        _ => match api.get_status(&d.name).await {
            Ok(o) => {
                let status = o.data.get("status").cloned().unwrap_or(Value::Null);
                ctx.known.insert(k.clone(), (d.uid.clone(), status.clone()));
                Some(status)
            }
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Action::Gone),
            Err(source) => {
                return Err(WriteError::Read {
                    kind,
                    namespace: d.namespace.clone(),
                    name: d.name.clone(),
                    source,
                })
            }
        },
    };
    let now = Timestamp::from_second(Timestamp::now().as_second())
        .unwrap_or_else(|_| Timestamp::now())
        .to_string();
    let rendered = desired::render(d, current.as_ref(), &now);
    if !desired::differs(&rendered, current.as_ref()) {
        return Ok(Action::Unchanged);
    }
    let patch = json!({ "status": rendered });
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    match api
        .patch_status(&d.name, &params, &Patch::Merge(&patch))
        .await
    {
        Ok(o) => {
            let status = o.data.get("status").cloned().unwrap_or(Value::Null);
            ctx.known.insert(k, (d.uid.clone(), status));
            Ok(Action::Written)
        }
        Err(kube::Error::Api(s)) if s.code == 404 => {
            ctx.known.remove(&k);
            Ok(Action::Gone)
        }
        Err(source) => {
            ctx.known.remove(&k);
            Err(WriteError::Write {
                kind,
                namespace: d.namespace.clone(),
                name: d.name.clone(),
                source,
            })
        }
    }
}

/// Writes status while `leader` says so, until `shutdown` is cancelled.
pub async fn run(
    mut ctx: Context,
    manage_exports: bool,
    mut fleet: watch::Receiver<Arc<Fleet>>,
    mut mirror: watch::Receiver<Arc<MirrorStatus>>,
    mut leader: watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    let mut resync = tokio::time::interval(RESYNC);
    let mut backoff = Backoff::new(RETRY, RETRY).expect("a 5 s retry is a valid backoff");
    // Set while some write failed: when to try again.
    let mut retry: Option<tokio::time::Instant> = None;
    let mut mirror_open = true;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = fleet.changed() => if r.is_err() { return },
            r = leader.changed() => if r.is_err() { return },
            // The mirror going away must not stop status writing.
            r = mirror.changed(), if mirror_open => if r.is_err() { mirror_open = false; continue },
            _ = resync.tick() => ctx.forget(),
            _ = async { tokio::time::sleep_until(retry.unwrap_or_else(tokio::time::Instant::now)).await }, if retry.is_some() => {}
        }
        let leading = *leader.borrow_and_update();
        ctx.metrics.leader.set(i64::from(leading));
        if !leading {
            ctx.forget();
            continue;
        }
        let f = fleet.borrow_and_update().clone();
        let m = mirror.borrow_and_update().clone();
        let mirrored = f.azure.is_some().then_some(m.as_ref());
        let want = desired::desired(&f, manage_exports, mirrored);
        let mut again = false;
        for d in &want {
            if !*leader.borrow() {
                break;
            }
            let kind = kind_label(d.kind);
            match reconcile(d, &mut ctx).await {
                Ok(Action::Written) => {
                    ctx.metrics
                        .writes
                        .with_label_values(&[kind, "written"])
                        .inc();
                    debug!(kind, namespace = %d.namespace, name = %d.name, "status written");
                }
                Ok(Action::Unchanged | Action::Gone | Action::Skipped) => {}
                Err(e) => {
                    ctx.metrics.writes.with_label_values(&[kind, "error"]).inc();
                    warn!(kind, namespace = %d.namespace, name = %d.name, retry = e.retry(), error = %e, "status not written");
                    again |= e.retry();
                }
            }
        }
        retry = if again {
            Some(tokio::time::Instant::now() + backoff.next_delay())
        } else {
            backoff.reset();
            None
        };
        // Forget objects that are gone.
        ctx.known.retain(|k, _| want.iter().any(|d| key(d) == *k));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("test", "Test")
                .with_code(code)
                .boxed(),
        )
    }

    fn write_error(code: u16) -> WriteError {
        WriteError::Write {
            kind: "TrafficManagerProfile",
            namespace: "ns".into(),
            name: "web".into(),
            source: api_error(code),
        }
    }

    #[test]
    fn retries_what_can_pass_later_and_not_what_the_server_refuses() {
        for code in [408, 409, 429, 500, 503] {
            assert!(write_error(code).retry(), "{code} is retried");
        }
        for code in [400, 403, 422] {
            assert!(!write_error(code).retry(), "{code} is not retried");
        }
    }
}
