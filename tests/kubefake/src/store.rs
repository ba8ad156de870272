//! The object store of one fake cluster: objects, the global resourceVersion, the bounded
//! event history watches replay from, and every write with the apiserver's strategy rules
//! (status subresource, generation, optimistic concurrency, finalizers, no-op writes).
//!
//! Objects are kept in the storage version of their type; requests in another served version
//! see the same object relabelled (the fleet CRD versions have the same fields).

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use serde_json::{json, Value};
use tokio::sync::watch;

mod apply;
mod events;

use apply::{manager_of, update_ownership};

use crate::admission::{admit, FieldValidation};
use crate::meta::{self, finalizers, meta_mut, meta_str};
use crate::ownership;
use crate::patch;
use crate::registry::{Registry, ResourceType};
use crate::select::Selector;
use crate::status::ApiError;

/// (resource id, namespace or "", name).
pub type ObjKey = (usize, String, String);

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

impl EventKind {
    /// The watch event `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// One entry of the history.
#[derive(Clone, Debug)]
pub struct Event {
    /// resourceVersion of the change.
    pub rv: u64,
    /// Resource id.
    pub resource: usize,
    /// Namespace ("" for cluster-scoped).
    pub namespace: String,
    /// What happened.
    pub kind: EventKind,
    /// The object after the change (for Deleted: its last state with the delete's rv).
    pub object: Value,
    /// The object before the change (for selector transitions).
    pub prev: Option<Value>,
}

/// Per-request write options.
#[derive(Clone, Debug, Default)]
pub struct WriteOpts {
    /// The version the request used.
    pub version: String,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `dryRun=All`: validate, do not store.
    pub dry_run: bool,
}

/// The result of a successful write.
#[derive(Clone, Debug)]
pub struct Written {
    /// The stored object (storage version).
    pub object: Value,
    /// Warnings for the `Warning` header (pruned unknown fields).
    pub warnings: Vec<String>,
    /// Whether anything changed (no-op writes do not bump the resourceVersion).
    pub changed: bool,
}

/// Outcome of a delete.
#[derive(Clone, Debug)]
pub enum Deleted {
    /// Finalizers pending: the object now has a deletionTimestamp.
    Pending(Value),
    /// Gone.
    Gone(Value),
}

/// Delete preconditions and options.
#[derive(Clone, Debug, Default)]
pub struct DeleteOpts {
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// One page of a list.
#[derive(Clone, Debug)]
pub struct Page {
    /// Matching objects (storage version).
    pub items: Vec<Value>,
    /// List resourceVersion.
    pub rv: u64,
    /// Continue token if more remain.
    pub continue_token: Option<String>,
    /// Items left after this page.
    pub remaining: usize,
}

/// How a patch body is to be applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json` (built-ins only; handled as merge patch).
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply, simplified).
    Apply {
        /// `force=true`.
        force: bool,
    },
}

/// Objects, history and resourceVersion of one cluster.
pub struct Store {
    rv: u64,
    objects: BTreeMap<ObjKey, Value>,
    history: VecDeque<Event>,
    /// A watch from a resourceVersion older than this gets 410 Expired.
    compacted_rv: u64,
    history_limit: usize,
    notify: watch::Sender<u64>,
    auto_namespaces: bool,
}

/// Sets `apiVersion` for `version` of `rt`.
pub fn present(obj: &Value, rt: &ResourceType, version: &str) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.insert("apiVersion".into(), json!(rt.api_version(version)));
        m.insert("kind".into(), json!(rt.kind));
    }
    o
}

/// The `PartialObjectMetadata` form of an object (for `Accept: …;as=PartialObjectMetadata`).
pub fn metadata_only(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

fn rv_of(obj: &Value) -> &str {
    meta_str(obj, "resourceVersion")
}

impl Store {
    /// An empty store with namespaces `default`, `kube-system`, `kube-public`.
    pub fn new(reg: &Registry, history_limit: usize, auto_namespaces: bool) -> Store {
        let (notify, _) = watch::channel(0);
        let mut store = Store {
            rv: 0,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted_rv: 0,
            history_limit: history_limit.max(1),
            notify,
            auto_namespaces,
        };
        for ns in ["default", "kube-system", "kube-public"] {
            store.ensure_namespace(reg, ns);
        }
        store
    }

    /// Subscribes to "the resourceVersion moved".
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }

    /// The current global resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// Oldest resourceVersion a watch may start from.
    pub fn compacted_rv(&self) -> u64 {
        self.compacted_rv
    }

    /// Drops the whole history: every watch from an older resourceVersion gets 410.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted_rv = self.rv;
    }

    /// Moves the resourceVersion on by one without a change (as other writers would in a real
    /// cluster) and compacts, so that even a watcher that had seen everything gets 410.
    pub fn compact_past(&mut self) {
        self.rv += 1;
        self.compact();
    }

    /// Events after `from`, or Err(oldest allowed) if history no longer reaches back.
    pub fn events_after(&self, from: u64) -> Result<Vec<Event>, u64> {
        if from < self.compacted_rv {
            return Err(self.compacted_rv);
        }
        let start = self.history.partition_point(|e| e.rv <= from);
        Ok(self.history.range(start..).cloned().collect())
    }

    fn record(&mut self, kind: EventKind, key: &ObjKey, object: Value, prev: Option<Value>) {
        self.history.push_back(Event {
            rv: self.rv,
            resource: key.0,
            namespace: key.1.clone(),
            kind,
            object,
            prev,
        });
        while self.history.len() > self.history_limit {
            if let Some(e) = self.history.pop_front() {
                self.compacted_rv = e.rv;
            }
        }
        self.notify.send_replace(self.rv);
    }

    fn bump(&mut self, obj: &mut Value) -> u64 {
        self.rv += 1;
        meta_mut(obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        self.rv
    }

    fn namespace_id(reg: &Registry) -> Option<usize> {
        reg.types
            .iter()
            .position(|t| t.group.is_empty() && t.plural == "namespaces")
    }

    fn ensure_namespace(&mut self, reg: &Registry, ns: &str) {
        let Some(nid) = Self::namespace_id(reg) else {
            return;
        };
        let key = (nid, String::new(), ns.to_string());
        if self.objects.contains_key(&key) {
            return;
        }
        let mut obj = json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "uid": meta::uid(), "creationTimestamp": meta::now(),
                         "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        self.bump(&mut obj);
        self.objects.insert(key.clone(), obj.clone());
        self.record(EventKind::Added, &key, obj, None);
    }

    /// One object (storage version).
    pub fn get(&self, rid: usize, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(rid, ns.to_string(), name.to_string()))
    }

    /// Lists `rid` in `ns` (None: all namespaces), filtered, paged by `limit`/`continue`.
    pub fn list(
        &self,
        rid: usize,
        ns: Option<&str>,
        sel: &Selector,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<Page, ApiError> {
        let mut list_rv = self.rv;
        let mut after: Option<(String, String)> = None;
        if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
            let mut parts = token.splitn(3, '|');
            let (Some(rv), Some(tns), Some(tname)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(ApiError::bad_request("continue key is not valid"));
            };
            let rv: u64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request("continue key is not valid"))?;
            if rv < self.compacted_rv {
                return Err(ApiError::new(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ));
            }
            list_rv = rv;
            after = Some((tns.to_string(), tname.to_string()));
        }
        // Each page starts where the last ended (a B-tree range, not a scan from the
        // first object: 100k objects in pages of 500 made listing quadratic).
        let first_of_ns = (rid, ns.unwrap_or_default().to_string(), String::new());
        let lower = match after {
            Some((an, am)) if (an.as_str(), am.as_str()) >= (first_of_ns.1.as_str(), "") => {
                Bound::Excluded((rid, an, am))
            }
            _ => Bound::Included(first_of_ns),
        };
        let mut matching = self
            .objects
            .range((lower, Bound::Unbounded))
            .take_while(|(k, _)| k.0 == rid && ns.is_none_or(|n| k.1 == n))
            .filter(|(_, v)| sel.matches(v));
        let take = limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let mut items: Vec<Value> = Vec::new();
        let mut last: Option<&ObjKey> = None;
        for (k, v) in matching.by_ref().take(take) {
            items.push(v.clone());
            last = Some(k);
        }
        let remaining = matching.count();
        let continue_token = (remaining > 0)
            .then(|| last.map(|k| format!("{list_rv}|{}|{}", k.1, k.2)))
            .flatten();
        Ok(Page {
            items,
            rv: list_rv,
            continue_token,
            remaining,
        })
    }

    /// Every object of `rid` matching (for watch initial events).
    pub fn snapshot(&self, rid: usize, ns: Option<&str>, sel: &Selector) -> Vec<Value> {
        self.objects
            .range((rid, String::new(), String::new())..)
            .take_while(|(k, _)| k.0 == rid)
            .filter(|(k, _)| ns.is_none_or(|n| k.1 == n))
            .filter(|(_, v)| sel.matches(v))
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn check_type(rt: &ResourceType, opts: &WriteOpts, obj: &Value) -> Result<(), ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was not a JSON object",
            ));
        }
        let want = rt.api_version(&opts.version);
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Object 'Kind' is missing in '{obj}'"
            )));
        }
        if api_version != want || kind != rt.kind {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({api_version}) does not match the expected API version ({want}), or the kind ({kind}) is not {}",
                rt.kind
            )));
        }
        Ok(())
    }

    /// POST: creates. `ns` is the namespace of the URL.
    pub fn create(
        &mut self,
        reg: &Registry,
        rid: usize,
        ns: &str,
        obj: Value,
        opts: &WriteOpts,
    ) -> Result<Written, ApiError> {
        self.create_as(reg, rid, ns, obj, opts, "Update")
    }

    fn create_as(
        &mut self,
        reg: &Registry,
        rid: usize,
        ns: &str,
        mut obj: Value,
        opts: &WriteOpts,
        operation: &str,
    ) -> Result<Written, ApiError> {
        let rt = &reg.types[rid];
        Self::check_type(rt, opts, &obj)?;
        let m = meta_mut(&mut obj);
        if rt.namespaced {
            match m.get("namespace").and_then(Value::as_str) {
                None | Some("") => {
                    m.insert("namespace".into(), json!(ns));
                }
                Some(n) if n != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                Some(_) => {}
            }
        } else {
            m.remove("namespace");
        }
        let name_empty = m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty();
        if name_empty {
            if let Some(prefix) = m.get("generateName").and_then(Value::as_str) {
                let name = format!("{prefix}{}", meta::name_suffix());
                m.insert("name".into(), json!(name));
            }
        }
        for f in [
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            m.remove(f);
        }
        m.insert("uid".into(), json!(meta::uid()));
        m.insert("creationTimestamp".into(), json!(meta::now()));
        if rt.tracks_generation {
            m.insert("generation".into(), json!(1));
        }
        m.remove("managedFields");
        if rt.status_subresource {
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
            if rt.plural == "namespaces" && rt.group.is_empty() {
                obj["status"] = json!({"phase": "Active"});
            }
        }
        let warnings = admit(rt, &opts.version, &mut obj, None, opts.field_validation)?;
        let part = rt.status_subresource.then_some(false);
        let fields = ownership::field_set(&obj, rt.schema(&opts.version), part);
        let entry = ownership::Entry {
            manager: manager_of(opts),
            operation: operation.to_string(),
            subresource: None,
            api_version: rt.api_version(&opts.version),
            time: meta::now(),
            fields,
        };
        meta_mut(&mut obj).insert("managedFields".into(), ownership::encode(&[entry]));
        let name = meta_str(&obj, "name").to_string();
        let key_ns = if rt.namespaced {
            ns.to_string()
        } else {
            String::new()
        };
        let key = (rid, key_ns, name.clone());
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(&rt.qualified(), &name));
        }
        obj["apiVersion"] = json!(rt.api_version(&rt.storage_version));
        if rt.namespaced && !self.auto_namespaces {
            let exists = Self::namespace_id(reg).is_some_and(|nid| {
                self.objects
                    .contains_key(&(nid, String::new(), ns.to_string()))
            });
            if !exists {
                let q = crate::status::Qualified {
                    group: "",
                    plural: "namespaces",
                };
                return Err(ApiError::not_found(&q, ns));
            }
        }
        if opts.dry_run {
            return Ok(Written {
                object: obj,
                warnings,
                changed: false,
            });
        }
        if rt.namespaced && self.auto_namespaces {
            self.ensure_namespace(reg, ns);
        }
        self.bump(&mut obj);
        self.objects.insert(key.clone(), obj.clone());
        self.record(EventKind::Added, &key, obj.clone(), None);
        self.mirror_event(reg, rid, ns, &obj);
        Ok(Written {
            object: obj,
            warnings,
            changed: true,
        })
    }

    fn existing(
        &self,
        rt: &ResourceType,
        rid: usize,
        ns: &str,
        name: &str,
    ) -> Result<(ObjKey, Value), ApiError> {
        let key = (
            rid,
            if rt.namespaced {
                ns.to_string()
            } else {
                String::new()
            },
            name.to_string(),
        );
        match self.objects.get(&key) {
            Some(v) => Ok((key, v.clone())),
            None => Err(ApiError::not_found(&rt.qualified(), name)),
        }
    }

    /// PUT of the main resource (`status_only` false) or of `/status`.
    #[allow(clippy::too_many_arguments)]
    pub fn replace(
        &mut self,
        reg: &Registry,
        rid: usize,
        ns: &str,
        name: &str,
        obj: Value,
        status_only: bool,
        opts: &WriteOpts,
    ) -> Result<Written, ApiError> {
        let rt = &reg.types[rid];
        Self::check_type(rt, opts, &obj)?;
        let (key, old) = self.existing(rt, rid, ns, name)?;
        let body_name = meta_str(&obj, "name");
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let body_ns = meta_str(&obj, "namespace");
        if rt.namespaced && !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let rv = rv_of(&obj);
        if rv.is_empty() {
            if !rt.allow_unconditional_update {
                return Err(ApiError::invalid(
                    &rt.kind,
                    &rt.group,
                    name,
                    vec![crate::status::Cause {
                        reason: "FieldValueInvalid".into(),
                        field: "metadata.resourceVersion".into(),
                        message: "Invalid value: 0x0: must be specified for an update".into(),
                    }],
                ));
            }
        } else if rv != rv_of(&old) {
            return Err(ApiError::conflict(&rt.qualified(), name));
        }
        self.finish_update(reg, rid, key, old, obj, status_only, opts, None)
    }

    /// PATCH of the main resource or of `/status`.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        reg: &Registry,
        rid: usize,
        ns: &str,
        name: &str,
        kind: PatchKind,
        body: &Value,
        status_only: bool,
        opts: &WriteOpts,
    ) -> Result<Written, ApiError> {
        let rt = &reg.types[rid];
        if let PatchKind::Apply { force } = kind {
            return self.apply(reg, rid, ns, name, body, status_only, force, opts);
        }
        if kind == PatchKind::Strategic && rt.custom {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let (key, old) = self.existing(rt, rid, ns, name)?;
        let mut doc = present(&old, rt, &opts.version);
        match kind {
            PatchKind::Json => patch::json_patch(&mut doc, body)?,
            _ => {
                if !body.is_object() {
                    return Err(ApiError::bad_request("the patch is not a JSON object"));
                }
                patch::merge_patch(&mut doc, body)
            }
        }
        let rv = rv_of(&doc);
        if !rv.is_empty() && rv != rv_of(&old) {
            return Err(ApiError::conflict(&rt.qualified(), name));
        }
        if meta_str(&doc, "name") != name {
            return Err(ApiError::bad_request(
                "metadata.name cannot be changed by a patch",
            ));
        }
        self.finish_update(reg, rid, key, old, doc, status_only, opts, None)
    }

    /// The common tail of every update: strategy, admission, no-op detection, generation,
    /// commit, and removal once the last finalizer of a deleted object is gone.
    #[allow(clippy::too_many_arguments)]
    fn finish_update(
        &mut self,
        reg: &Registry,
        rid: usize,
        key: ObjKey,
        old: Value,
        mut new: Value,
        status_only: bool,
        opts: &WriteOpts,
        applied: Option<(ownership::FieldSet, bool)>,
    ) -> Result<Written, ApiError> {
        let rt = &reg.types[rid];
        let new_managed = new.pointer("/metadata/managedFields").cloned();
        if status_only {
            let status = new.get("status").cloned();
            new = old.clone();
            let o = new.as_object_mut().expect("stored objects are objects");
            match status {
                Some(s) => o.insert("status".into(), s),
                None => o.remove("status"),
            };
        } else if rt.status_subresource {
            let o = new.as_object_mut().expect("checked object");
            match old.get("status") {
                Some(s) => o.insert("status".into(), s.clone()),
                None => o.remove("status"),
            };
        }
        {
            let old_meta = old
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let m = meta_mut(&mut new);
            for f in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "generation",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ] {
                match old_meta.get(f) {
                    Some(v) => m.insert(f.into(), v.clone()),
                    None => m.remove(f),
                };
            }
            m.remove("resourceVersion");
            m.remove("selfLink");
            match new_managed.or_else(|| old_meta.get("managedFields").cloned()) {
                Some(v) => m.insert("managedFields".into(), v),
                None => m.remove("managedFields"),
            };
        }
        new["apiVersion"] = json!(rt.api_version(&opts.version));
        new["kind"] = json!(rt.kind);
        let old_req = present(&old, rt, &opts.version);
        let warnings = admit(
            rt,
            &opts.version,
            &mut new,
            Some(&old_req),
            opts.field_validation,
        )?;
        let deleting = old.pointer("/metadata/deletionTimestamp").is_some();
        if deleting {
            let before = finalizers(&old);
            let added: Vec<String> = finalizers(&new)
                .into_iter()
                .filter(|f| !before.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(ApiError::invalid(&rt.kind, &rt.group, &key.2, vec![crate::status::Cause {
                    reason: "FieldValueForbidden".into(),
                    field: "metadata.finalizers".into(),
                    message: format!("Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"),
                }]));
            }
        }
        let managed = update_ownership(rt, opts, &old, &new, status_only, applied);
        meta_mut(&mut new).insert("managedFields".into(), managed);
        new["apiVersion"] = json!(rt.api_version(&rt.storage_version));
        meta_mut(&mut new).insert("resourceVersion".into(), json!(rv_of(&old)));
        if new == old {
            return Ok(Written {
                object: old,
                warnings,
                changed: false,
            });
        }
        if rt.tracks_generation && spec_changed(&old, &new, rt.status_subresource) {
            let g = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        if opts.dry_run {
            return Ok(Written {
                object: new,
                warnings,
                changed: false,
            });
        }
        self.bump(&mut new);
        if deleting && finalizers(&new).is_empty() {
            self.objects.remove(&key);
            self.record(EventKind::Deleted, &key, new.clone(), Some(old));
        } else {
            self.objects.insert(key.clone(), new.clone());
            self.record(EventKind::Modified, &key, new.clone(), Some(old));
        }
        Ok(Written {
            object: new,
            warnings,
            changed: true,
        })
    }

    /// DELETE of one object.
    pub fn delete(
        &mut self,
        reg: &Registry,
        rid: usize,
        ns: &str,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<Deleted, ApiError> {
        let rt = &reg.types[rid];
        let (key, old) = self.existing(rt, rid, ns, name)?;
        if let Some(uid) = opts.uid.as_deref().filter(|u| !u.is_empty()) {
            if uid != meta_str(&old, "uid") {
                return Err(ApiError::conflict_because(
                    &rt.qualified(),
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta_str(&old, "uid")
                    ),
                ));
            }
        }
        if let Some(rv) = opts.resource_version.as_deref().filter(|r| !r.is_empty()) {
            if rv != rv_of(&old) {
                return Err(ApiError::conflict_because(&rt.qualified(), name, &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    rv_of(&old)
                )));
            }
        }
        if !finalizers(&old).is_empty() {
            if old.pointer("/metadata/deletionTimestamp").is_some() || opts.dry_run {
                return Ok(Deleted::Pending(old));
            }
            let mut new = old.clone();
            let m = meta_mut(&mut new);
            m.insert("deletionTimestamp".into(), json!(meta::now()));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
            self.bump(&mut new);
            self.objects.insert(key.clone(), new.clone());
            self.record(EventKind::Modified, &key, new.clone(), Some(old));
            return Ok(Deleted::Pending(new));
        }
        if opts.dry_run {
            return Ok(Deleted::Gone(old));
        }
        let mut gone = old.clone();
        self.bump(&mut gone);
        self.objects.remove(&key);
        self.record(EventKind::Deleted, &key, gone.clone(), Some(old));
        Ok(Deleted::Gone(gone))
    }
}

/// Whether anything outside metadata (and status, with a status subresource) changed.
fn spec_changed(old: &Value, new: &Value, status_sub: bool) -> bool {
    let strip = |v: &Value| {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.remove("metadata");
        m.remove("apiVersion");
        if status_sub {
            m.remove("status");
        }
        m
    };
    strip(old) != strip(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
    }

    #[test]
    fn pages_continue_where_the_last_ended_in_one_namespace_and_across_all() {
        let reg = Registry::embedded().unwrap();
        let rid = reg.by_plural("", "v1", "configmaps").unwrap();
        let opts = WriteOpts {
            version: "v1".into(),
            ..Default::default()
        };
        let mut store = Store::new(&reg, 100, true);
        for ns in ["a", "b", "c"] {
            for n in ["x", "y", "z"] {
                store.create(&reg, rid, ns, cm(n), &opts).unwrap();
            }
        }
        let all = Selector::parse(None, None).unwrap();
        let names = |p: &Page| -> Vec<String> {
            p.items
                .iter()
                .map(|o| format!("{}/{}", meta_str(o, "namespace"), meta_str(o, "name")))
                .collect()
        };
        // Every namespace, two a page: the pages join up, each counting what is left.
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = store
                .list(rid, None, &all, Some(2), token.as_deref())
                .unwrap();
            seen.extend(names(&page));
            assert_eq!(page.remaining, 9 - seen.len());
            match page.continue_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let want: Vec<String> = ["a", "b", "c"]
            .iter()
            .flat_map(|ns| ["x", "y", "z"].map(|n| format!("{ns}/{n}")))
            .collect();
        assert_eq!(seen, want);
        // One namespace: only its objects, from the token on.
        let page = store.list(rid, Some("b"), &all, Some(1), None).unwrap();
        assert_eq!(names(&page), ["b/x"]);
        assert_eq!(page.remaining, 2);
        let rest = store
            .list(rid, Some("b"), &all, None, page.continue_token.as_deref())
            .unwrap();
        assert_eq!(names(&rest), ["b/y", "b/z"]);
        assert_eq!(rest.continue_token, None);
        // A token from an earlier namespace starts at this one's first object.
        let early = format!("{}|a|z", store.rv());
        let page = store
            .list(rid, Some("b"), &all, None, Some(&early))
            .unwrap();
        assert_eq!(names(&page), ["b/x", "b/y", "b/z"]);
    }

    #[test]
    fn bounded_history_expires_old_resource_versions() {
        let reg = Registry::embedded().unwrap();
        let rid = reg.by_plural("", "v1", "configmaps").unwrap();
        let opts = WriteOpts {
            version: "v1".into(),
            ..Default::default()
        };
        let mut store = Store::new(&reg, 2, true);
        let start = store.rv();
        for n in ["a", "b", "c"] {
            store.create(&reg, rid, "default", cm(n), &opts).unwrap();
        }
        assert_eq!(
            store.events_after(start).err(),
            Some(start + 1),
            "first event fell out"
        );
        let kept = store.events_after(start + 1).unwrap();
        assert_eq!(kept.len(), 2);
        // A no-op update keeps the resourceVersion; a real change bumps it.
        let rv = store.rv();
        let mut same = store.get(rid, "default", "a").unwrap().clone();
        store
            .replace(&reg, rid, "default", "a", same.clone(), false, &opts)
            .unwrap();
        assert_eq!(store.rv(), rv);
        same["data"]["k"] = json!("w");
        let w = store
            .replace(&reg, rid, "default", "a", same, false, &opts)
            .unwrap();
        assert!(w.changed);
        assert_eq!(store.rv(), rv + 1);
    }
}
