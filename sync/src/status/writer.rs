//! Writes the desired status of every object, as leader, with server-side apply.
//!
//! Shaped like a kube-rs controller: [`reconcile`] takes one object's desired
//! status and a [`Context`] (its own clients, what it last applied) and returns
//! an [`Action`], or a [`WriteError`] that says whether trying again can help.
//! [`run`] is the loop around it: it recomputes the desired statuses from each
//! new `Fleet` and `Health` snapshot, and retries failed objects with backoff.
//!
//! Every write is an apply of `status` to `/status` with field manager
//! [`FIELD_MANAGER`], without `force` and without reading first: the observed
//! status travels in the `Fleet` (the source watches these objects), so an
//! object is written only when what it shows differs from what fleetdns wants.
//! The upstream CRDs key `conditions` by `type` (`listType: map`), so fleetdns
//! owns its entries beside another controller's. In owner mode, a field another
//! manager holds with another value is a 409: reported once per situation (log,
//! Event, metric) and not retried until the situation changes.

use std::collections::HashMap;

use fleetdns_config::crd::api_resource;
use fleetdns_config::{ObjectKind, StatusMode};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{json, Value};
use tracing::{info, warn};

use super::desired::{self, Desired, Mode};
use super::events::{self, Note, Recorder};
use super::{mode, StatusMetrics};

pub use super::clients::Clients;
pub use super::run::{run, Inputs};

/// Field manager named in every write.
pub const FIELD_MANAGER: &str = "fleetdns";

pub(super) type Key = (String, ObjectKind, String, String);

/// What fleetdns last applied to one object.
#[derive(Clone, Debug)]
pub(super) struct Applied {
    uid: String,
    /// resourceVersion the apply returned.
    resource_version: u64,
    /// The applied status without `lastTransitionTime`s.
    body: Value,
    /// Condition type → (status, reason) as applied.
    conditions: HashMap<String, (String, String)>,
}

/// What [`reconcile`] works with besides the desired status.
pub struct Context {
    /// Clients of the clusters written to.
    pub clients: Clients,
    /// Series the writer updates.
    pub metrics: StatusMetrics,
    /// `spec.kubernetes.status.mode`.
    pub setting: StatusMode,
    /// Sends the Events.
    pub recorder: Recorder,
    pub(super) applied: HashMap<Key, Applied>,
    /// Conflicts reported: the body that met them (not retried while it is the same).
    pub(super) conflicts: HashMap<Key, Value>,
    /// The mode each object was last written in (logged when it changes).
    pub(super) modes: HashMap<Key, Mode>,
}

impl Context {
    /// A context that has applied nothing yet.
    pub fn new(
        clients: Clients,
        metrics: StatusMetrics,
        setting: StatusMode,
        identity: String,
    ) -> Self {
        Self {
            clients,
            metrics,
            setting,
            recorder: Recorder::new(identity),
            applied: HashMap::new(),
            conflicts: HashMap::new(),
            modes: HashMap::new(),
        }
    }

    /// Forgets what was applied, so every object is checked against what is observed.
    pub fn forget(&mut self) {
        self.applied.clear();
    }
}

/// What [`reconcile`] did with one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The status already says what it should.
    Unchanged,
    /// The status was written.
    Written,
    /// The object is gone (deleted since the fleet was composed): nothing to write.
    Gone,
    /// No client for the object's cluster (a member not configured to be written).
    Skipped,
    /// Owner mode met fields another manager owns: reported, not written.
    Conflict {
        /// The other field managers named in the 409.
        managers: Vec<String>,
    },
}

/// Why one object's status could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The apply failed.
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
    /// fleet or the cluster's RBAC changes.
    pub fn retry(&self) -> bool {
        let Self::Write { source, .. } = self;
        match source {
            kube::Error::Api(s) => !matches!(s.code, 400..=499) || matches!(s.code, 408 | 429),
            _ => true,
        }
    }
}

/// Brings one object's status to `d`: applies it if what is observed differs.
pub async fn reconcile(d: &Desired, ctx: &mut Context) -> Result<Action, WriteError> {
    let Some(client) = ctx.clients.for_object(d).cloned() else {
        return Ok(Action::Skipped);
    };
    let k = key(d);
    let kind = kind_label(d.kind);
    let mode = mode::resolve(ctx.setting, d);
    if ctx.modes.insert(k.clone(), mode) != Some(mode) {
        info!(kind, namespace = %d.namespace, name = %d.name, mode = mode.as_str(), setting = ctx.setting.as_str(), other_managers = ?mode::other_owners(d), "status mode");
    }
    let now = Timestamp::from_second(Timestamp::now().as_second())
        .unwrap_or_else(|_| Timestamp::now())
        .to_string();
    let rendered = desired::render(d, mode, &now);
    let body = strip_times(&rendered);
    let observed_rv = d
        .observed
        .resource_version
        .parse::<u64>()
        .unwrap_or(u64::MAX);
    let last = ctx.applied.get(&k).filter(|a| a.uid == d.uid);
    // The observation may predate our last write: then trust what we applied.
    if let Some(a) = last.filter(|a| observed_rv <= a.resource_version) {
        if a.body == body {
            return Ok(Action::Unchanged);
        }
    } else if desired::satisfied(d, &rendered) {
        return Ok(Action::Unchanged);
    }
    if ctx.conflicts.get(&k) == Some(&body) {
        return Ok(Action::Conflict {
            managers: mode::other_owners(d),
        });
    }
    let before: HashMap<String, (String, String)> = match last {
        Some(a) => a.conditions.clone(),
        None => d
            .observed
            .conditions
            .iter()
            .filter_map(|c| {
                let s = |f: &str| c.get(f).and_then(Value::as_str).map(str::to_string);
                Some((s("type")?, (s("status")?, s("reason")?)))
            })
            .collect(),
    };
    let ar = api_resource(d.kind);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &d.namespace, &ar);
    let patch = json!({
        "apiVersion": ar.api_version,
        "kind": ar.kind,
        "metadata": {"name": d.name, "namespace": d.namespace},
        "status": rendered,
    });
    match api
        .patch_status(
            &d.name,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&patch),
        )
        .await
    {
        Ok(o) => {
            let rv = o
                .metadata
                .resource_version
                .as_deref()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let conditions = conditions_of(&rendered);
            ctx.applied.insert(
                k.clone(),
                Applied {
                    uid: d.uid.clone(),
                    resource_version: rv,
                    body,
                    conditions,
                },
            );
            ctx.conflicts.remove(&k);
            if mode == Mode::Owner {
                for n in events::transitions(d, &before) {
                    if ctx.recorder.send(&client, d, &n).await {
                        ctx.metrics
                            .events
                            .with_label_values(&[kind, &n.reason])
                            .inc();
                    }
                }
            }
            Ok(Action::Written)
        }
        Err(kube::Error::Api(s)) if s.code == 404 => {
            ctx.applied.remove(&k);
            Ok(Action::Gone)
        }
        Err(kube::Error::Api(s))
            if s.code == 409 && s.reason == "Conflict" && s.message.starts_with("Apply failed") =>
        {
            let managers = conflict_managers(&s.message);
            warn!(kind, namespace = %d.namespace, name = %d.name, managers = ?managers, mode = mode.as_str(), "another field manager owns these status fields; not overwriting them (set spec.kubernetes.status.mode to observer or auto to write beside it)");
            ctx.metrics.conflicts.with_label_values(&[kind]).inc();
            let note = Note {
                type_: "Warning",
                reason: "StatusConflict".into(),
                note: format!(
                    "fleetdns (owner mode) did not overwrite status fields owned by {}: {}",
                    managers.join(", "),
                    s.message.lines().skip(1).collect::<Vec<_>>().join("; ")
                ),
            };
            ctx.recorder.send(&client, d, &note).await;
            ctx.conflicts.insert(k, body);
            Ok(Action::Conflict { managers })
        }
        Err(source) => {
            ctx.applied.remove(&k);
            Err(WriteError::Write {
                kind,
                namespace: d.namespace.clone(),
                name: d.name.clone(),
                source,
            })
        }
    }
}

/// The managers named in an apply conflict's message (`- <manager>: <field>` lines).
pub fn conflict_managers(message: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in message.lines().filter_map(|l| l.trim().strip_prefix("- ")) {
        let m = line.split(':').next().unwrap_or("").trim().to_string();
        if !m.is_empty() && !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

fn strip_times(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(cs) = v.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in cs {
            if let Some(c) = c.as_object_mut() {
                c.remove("lastTransitionTime");
            }
        }
    }
    v
}

fn conditions_of(status: &Value) -> HashMap<String, (String, String)> {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some((
                c["type"].as_str()?.to_string(),
                (
                    c["status"].as_str()?.to_string(),
                    c["reason"].as_str()?.to_string(),
                ),
            ))
        })
        .collect()
}

pub(super) fn key(d: &Desired) -> Key {
    (
        d.cluster.clone(),
        d.kind,
        d.namespace.clone(),
        d.name.clone(),
    )
}

pub(super) fn kind_label(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::TrafficManagerProfile => "TrafficManagerProfile",
        ObjectKind::TrafficManagerBackend => "TrafficManagerBackend",
        ObjectKind::ServiceExport => "ServiceExport",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_error(code: u16) -> WriteError {
        WriteError::Write {
            kind: "TrafficManagerProfile",
            namespace: "ns".into(),
            name: "web".into(),
            source: kube::Error::Api(
                kube::core::Status::failure("test", "Test")
                    .with_code(code)
                    .boxed(),
            ),
        }
    }

    #[test]
    fn retries_what_can_pass_later_and_not_what_the_server_refuses() {
        for code in [408, 429, 500, 503] {
            assert!(write_error(code).retry(), "{code} is retried");
        }
        for code in [400, 403, 409, 422] {
            assert!(!write_error(code).retry(), "{code} is not retried");
        }
    }

    #[test]
    fn owner_mode_conflicts_name_the_other_managers() {
        let m = "Apply failed with 2 conflicts: conflicts with other field managers:\n- hub-net-controller-manager: .status.conditions[type=\"Programmed\"].message\n- hub-net-controller-manager: .status.dnsName";
        assert_eq!(conflict_managers(m), vec!["hub-net-controller-manager"]);
    }
}
