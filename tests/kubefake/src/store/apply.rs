//! Server-side apply: the request checks, conflict detection and removal of fields a
//! manager stopped applying (ownership from [`crate::ownership`]), then the merge
//! ([`crate::patch::apply_merge`]); and the `managedFields` bookkeeping every write does.

use serde_json::{json, Value};

use super::{present, rv_of, Store, WriteOpts, Written};
use crate::meta::{self, meta_mut, meta_str};
use crate::ownership;
use crate::patch;
use crate::registry::{Registry, ResourceType};
use crate::status::ApiError;

impl Store {
    /// Server-side apply: creates if absent; see the module doc.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn apply(
        &mut self,
        reg: &Registry,
        rid: usize,
        ns: &str,
        name: &str,
        applied: &Value,
        status_only: bool,
        force: bool,
        opts: &WriteOpts,
    ) -> Result<Written, ApiError> {
        let rt = &reg.types[rid];
        if opts.field_manager.as_deref().unwrap_or("").is_empty() {
            return Err(ApiError::new(
                422,
                "Invalid",
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        let api_version = applied
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = applied.get("kind").and_then(Value::as_str).unwrap_or("");
        if !applied.is_object() || api_version.is_empty() || kind.is_empty() {
            return Err(ApiError::bad_request(format!(
                "invalid object type: {api_version}, Kind={kind}"
            )));
        }
        Self::check_type(rt, opts, applied)?;
        let body_name = meta_str(applied, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let mut applied = applied.clone();
        meta_mut(&mut applied).insert("name".into(), json!(name));
        let key = (
            rid,
            if rt.namespaced {
                ns.to_string()
            } else {
                String::new()
            },
            name.to_string(),
        );
        let Some(old) = self.objects.get(&key).cloned() else {
            if status_only {
                return Err(ApiError::not_found(&rt.qualified(), name));
            }
            return self.create_as(reg, rid, ns, applied, opts, "Apply");
        };
        let rv = rv_of(&applied);
        if !rv.is_empty() && rv != rv_of(&old) {
            return Err(ApiError::conflict(&rt.qualified(), name));
        }
        let mut doc = present(&old, rt, &opts.version);
        if let Some(m) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
            m.remove("managedFields");
        }
        let schema = rt.schema(&opts.version);
        let part = if status_only {
            Some(true)
        } else if rt.status_subresource {
            Some(false)
        } else {
            None
        };
        let set = ownership::field_set(&applied, schema, part);
        let manager = manager_of(opts);
        let sub = status_only.then_some("status");
        let entries = ownership::decode(&old);
        let (mine, others): (Vec<_>, Vec<_>) = entries
            .iter()
            .partition(|e| e.same_slot(&manager, "Apply", sub));
        if !force {
            let mut conflicts = Vec::new();
            for e in &others {
                for p in set.intersection(&e.fields) {
                    let leaf = !matches!(p.last(), Some(ownership::Step::Key(_)));
                    if leaf && ownership::value_at(&doc, p) != ownership::value_at(&applied, p) {
                        conflicts.push((
                            e.manager.clone(),
                            e.api_version.clone(),
                            ownership::path_string(p),
                        ));
                    }
                }
            }
            if !conflicts.is_empty() {
                return Err(apply_conflict(&rt.qualified(), name, conflicts));
            }
        }
        if let Some(mine) = mine.first() {
            let mut gone: Vec<&ownership::Path> = mine.fields.difference(&set).collect();
            gone.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for p in gone {
                let shared = others
                    .iter()
                    .any(|e| e.fields.iter().any(|q| q.starts_with(p)));
                if !shared {
                    ownership::remove_at(&mut doc, p);
                }
            }
        }
        patch::apply_merge(&mut doc, &applied, schema, "");
        self.finish_update(
            reg,
            rid,
            key,
            old,
            doc,
            status_only,
            opts,
            Some((set, force)),
        )
    }
}

/// The field manager of a request (the apiserver falls back to the user agent, then to
/// "unknown").
pub(super) fn manager_of(opts: &WriteOpts) -> String {
    opts.field_manager
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// 409 for an apply that would change fields other managers own.
fn apply_conflict(
    q: &crate::status::Qualified<'_>,
    name: &str,
    conflicts: Vec<(String, String, String)>,
) -> ApiError {
    let n = conflicts.len();
    let mut lines = Vec::new();
    let mut causes = Vec::new();
    for (manager, api_version, field) in conflicts {
        lines.push(format!("- {manager}: {field}"));
        causes.push(crate::status::Cause {
            reason: "FieldManagerConflict".into(),
            field: field.clone(),
            message: format!("conflict with \"{manager}\" using {api_version}"),
        });
    }
    let plural = if n == 1 { "conflict" } else { "conflicts" };
    let mut e = ApiError::new(
        409,
        "Conflict",
        format!(
            "Apply failed with {n} {plural}: conflicts with other field managers:\n{}",
            lines.join("\n")
        ),
    );
    e.details.name = Some(name.to_string());
    e.details.group = Some(q.group.to_string());
    e.details.kind = Some(q.plural.to_string());
    e.details.causes = causes;
    e
}

/// The new `managedFields` after a write: an apply makes its set the manager's Apply entry
/// (taking the fields from others when forced); an update gives its manager the fields it
/// changed and takes them from everyone else. Unchanged entries keep their timestamps, so a
/// no-op write stays a no-op.
pub(super) fn update_ownership(
    rt: &ResourceType,
    opts: &WriteOpts,
    old: &Value,
    new: &Value,
    status_only: bool,
    applied: Option<(ownership::FieldSet, bool)>,
) -> Value {
    let schema = rt.schema(&opts.version);
    let manager = manager_of(opts);
    let sub = status_only.then_some("status");
    let mut entries = ownership::decode(new);
    let operation = if applied.is_some() { "Apply" } else { "Update" };
    let (mine_set, take): (ownership::FieldSet, ownership::FieldSet) = match applied {
        Some((set, force)) => {
            let take = if force {
                set.clone()
            } else {
                Default::default()
            };
            (set, take)
        }
        None => {
            let changed = ownership::changed(old, new, schema);
            let present: ownership::FieldSet = changed
                .iter()
                .filter(|p| ownership::value_at(new, p).is_some())
                .cloned()
                .collect();
            let mut mine = entries
                .iter()
                .find(|e| e.same_slot(&manager, operation, sub))
                .map(|e| e.fields.clone())
                .unwrap_or_default();
            if present.is_empty() && changed.is_empty() {
                return ownership::encode(&entries);
            }
            mine.extend(present);
            (mine, changed)
        }
    };
    for e in entries.iter_mut() {
        let before = e.fields.len();
        if !e.same_slot(&manager, operation, sub) {
            e.fields.retain(|p| !take.contains(p));
        }
        // Fields that no longer exist are owned by nobody.
        e.fields.retain(|p| ownership::value_at(new, p).is_some());
        if e.fields.len() != before {
            e.time = meta::now();
        }
    }
    let mine_set: ownership::FieldSet = mine_set
        .into_iter()
        .filter(|p| ownership::value_at(new, p).is_some())
        .collect();
    match entries
        .iter_mut()
        .find(|e| e.same_slot(&manager, operation, sub))
    {
        Some(e) => {
            if e.fields != mine_set {
                e.fields = mine_set;
                e.time = meta::now();
            }
            e.api_version = rt.api_version(&opts.version);
        }
        None => entries.push(ownership::Entry {
            manager,
            operation: operation.into(),
            subresource: sub.map(String::from),
            api_version: rt.api_version(&opts.version),
            time: meta::now(),
            fields: mine_set,
        }),
    }
    ownership::encode(&entries)
}
