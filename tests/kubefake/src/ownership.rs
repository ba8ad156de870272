//! Field ownership for server-side apply, kept where the apiserver keeps it: in
//! `metadata.managedFields` (one entry per manager, operation and subresource, `fieldsV1`
//! in the real trie format: `f:<field>`, `k:<key json>` with `.` for list-map items,
//! `v:<value json>` for set items).
//!
//! What this buys over a plain merge: a manager that stops applying a field it owned alone
//! removes it (status written by apply and later omitted disappears, as on a real cluster),
//! applying a field another manager owns with a different value is a 409 conflict unless
//! `force=true` (which takes the field over), and updates (PUT/patch) take ownership of the
//! fields they change.
//!
//! Simplified: ownership is computed from the JSON shape of the objects; fields set by
//! defaulting belong to the writer whose request caused them; `metadata` ownership covers
//! labels, annotations and finalizers only.

use std::collections::BTreeSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::{json, Map, Value};

use crate::patch::{item_key, items, list_type, prop, ListType};

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// A map field.
    Field(String),
    /// A list-map item, by its key fields (canonical JSON object).
    Key(String),
    /// A set item, by value (JSON).
    Value(String),
}

/// A field path from the object root.
pub type Path = Vec<Step>;

/// The fields a manager owns.
pub type FieldSet = BTreeSet<Path>;

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// `manager`.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// `status` or None.
    pub subresource: Option<String>,
    /// `apiVersion` the manager used.
    pub api_version: String,
    /// `time`.
    pub time: String,
    /// Owned fields.
    pub fields: FieldSet,
}

impl Entry {
    /// Same manager, operation and subresource.
    pub fn same_slot(&self, manager: &str, operation: &str, sub: Option<&str>) -> bool {
        self.manager == manager && self.operation == operation && self.subresource.as_deref() == sub
    }
}

fn key_json(item: &Value, keys: &[String]) -> String {
    let mut m = Map::new();
    for (k, v) in keys.iter().zip(item_key(item, keys)) {
        m.insert(k.clone(), v);
    }
    Value::Object(m).to_string()
}

/// The fields present in `v` (a whole object). With `status_part` Some(true) only `status`,
/// Some(false) everything but `status`, None everything.
pub fn field_set(
    v: &Value,
    schema: Option<&JSONSchemaProps>,
    status_part: Option<bool>,
) -> FieldSet {
    let mut out = FieldSet::new();
    let Some(map) = v.as_object() else { return out };
    for (k, child) in map {
        match k.as_str() {
            "apiVersion" | "kind" => continue,
            "metadata" => {
                if status_part == Some(true) {
                    continue;
                }
                for f in ["labels", "annotations", "finalizers"] {
                    if let Some(c) = child.get(f) {
                        let path = vec![Step::Field("metadata".into()), Step::Field(f.into())];
                        let list = if f == "finalizers" {
                            ListType::Set
                        } else {
                            ListType::Atomic
                        };
                        walk(c, None, &list, path, &mut out);
                    }
                }
            }
            "status" if status_part == Some(false) => continue,
            other if status_part == Some(true) && other != "status" => continue,
            other => {
                let s = prop(schema, other);
                walk(
                    child,
                    s,
                    &list_type(s, other),
                    vec![Step::Field(other.into())],
                    &mut out,
                );
            }
        }
    }
    out
}

fn walk(
    v: &Value,
    schema: Option<&JSONSchemaProps>,
    list: &ListType,
    path: Path,
    out: &mut FieldSet,
) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                let s = prop(schema, k);
                let mut p = path.clone();
                p.push(Step::Field(k.clone()));
                walk(c, s, &list_type(s, k), p, out);
            }
        }
        Value::Array(a) if !a.is_empty() => match list {
            ListType::Atomic => {
                out.insert(path);
            }
            ListType::Set => {
                for item in a {
                    let mut p = path.clone();
                    p.push(Step::Value(item.to_string()));
                    out.insert(p);
                }
            }
            ListType::Map(keys) => {
                let item_schema = items(schema);
                for item in a {
                    let mut p = path.clone();
                    p.push(Step::Key(key_json(item, keys)));
                    out.insert(p.clone());
                    walk(item, item_schema, &ListType::Atomic, p, out);
                }
            }
        },
        _ => {
            out.insert(path);
        }
    }
}

/// The value at `path`, if present.
pub fn value_at<'a>(v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    let mut cur = v;
    for step in path {
        cur = match step {
            Step::Field(f) => cur.get(f)?,
            Step::Key(k) => {
                let key: Map<String, Value> = serde_json::from_str(k).ok()?;
                cur.as_array()?.iter().find(|i| {
                    key.iter()
                        .all(|(kk, kv)| i.get(kk).unwrap_or(&Value::Null) == kv)
                })?
            }
            Step::Value(x) => {
                let want: Value = serde_json::from_str(x).ok()?;
                cur.as_array()?.iter().find(|i| **i == want)?
            }
        };
    }
    Some(cur)
}

/// Removes the field (or list item) at `path`.
pub fn remove_at(v: &mut Value, path: &[Step]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for step in parent {
        let next = match step {
            Step::Field(f) => cur.get_mut(f),
            Step::Key(k) => {
                let Ok(key) = serde_json::from_str::<Map<String, Value>>(k) else {
                    return;
                };
                cur.as_array_mut().and_then(|a| {
                    a.iter_mut().find(|i| {
                        key.iter()
                            .all(|(kk, kv)| i.get(kk).unwrap_or(&Value::Null) == kv)
                    })
                })
            }
            Step::Value(_) => return,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match last {
        Step::Field(f) => {
            if let Some(m) = cur.as_object_mut() {
                m.remove(f);
            }
        }
        Step::Key(k) => {
            if let (Ok(key), Some(a)) = (
                serde_json::from_str::<Map<String, Value>>(k),
                cur.as_array_mut(),
            ) {
                a.retain(|i| {
                    !key.iter()
                        .all(|(kk, kv)| i.get(kk).unwrap_or(&Value::Null) == kv)
                });
            }
        }
        Step::Value(x) => {
            if let (Ok(want), Some(a)) = (serde_json::from_str::<Value>(x), cur.as_array_mut()) {
                a.retain(|i| *i != want);
            }
        }
    }
}

/// Fields whose value differs between `old` and `new` (present in either).
pub fn changed(old: &Value, new: &Value, schema: Option<&JSONSchemaProps>) -> FieldSet {
    let a = field_set(old, schema, None);
    let b = field_set(new, schema, None);
    a.union(&b)
        .filter(|p| value_at(old, p) != value_at(new, p))
        .cloned()
        .collect()
}

/// `.spec.monitorConfig.port`, `.status.conditions[type="Ready"].status`, `.metadata.finalizers[="x"]`.
pub fn path_string(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            Step::Key(k) => {
                let parts: Vec<String> = serde_json::from_str::<Map<String, Value>>(k)
                    .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                    .unwrap_or_default();
                s.push_str(&format!("[{}]", parts.join(",")));
            }
            Step::Value(v) => s.push_str(&format!("[={v}]")),
        }
    }
    s
}

/// Decodes `metadata.managedFields`.
pub fn decode(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let mut fields = FieldSet::new();
            if let Some(trie) = e.get("fieldsV1") {
                decode_trie(trie, Vec::new(), &mut fields);
            }
            Entry {
                manager: s("manager"),
                operation: s("operation"),
                subresource: e
                    .get("subresource")
                    .and_then(Value::as_str)
                    .map(String::from),
                api_version: s("apiVersion"),
                time: s("time"),
                fields,
            }
        })
        .collect()
}

fn decode_trie(node: &Value, path: Path, out: &mut FieldSet) {
    let Some(m) = node.as_object() else { return };
    if m.is_empty() {
        if !path.is_empty() {
            out.insert(path);
        }
        return;
    }
    for (k, child) in m {
        if k == "." {
            out.insert(path.clone());
            continue;
        }
        let step = if let Some(f) = k.strip_prefix("f:") {
            Step::Field(f.to_string())
        } else if let Some(j) = k.strip_prefix("k:") {
            Step::Key(j.to_string())
        } else if let Some(j) = k.strip_prefix("v:") {
            Step::Value(j.to_string())
        } else {
            continue;
        };
        let mut p = path.clone();
        p.push(step);
        decode_trie(child, p, out);
    }
}

/// Encodes entries as `metadata.managedFields` (entries owning nothing are dropped).
pub fn encode(entries: &[Entry]) -> Value {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut trie = Map::new();
            for path in &e.fields {
                insert_trie(&mut trie, path, true);
            }
            let mut v = json!({
                "manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                "time": e.time, "fieldsType": "FieldsV1", "fieldsV1": Value::Object(trie),
            });
            if let Some(s) = &e.subresource {
                v["subresource"] = json!(s);
            }
            v
        })
        .collect();
    Value::Array(list)
}

fn insert_trie(node: &mut Map<String, Value>, path: &[Step], _top: bool) {
    let Some((first, rest)) = path.split_first() else {
        node.insert(".".into(), json!({}));
        return;
    };
    let key = match first {
        Step::Field(f) => format!("f:{f}"),
        Step::Key(k) => format!("k:{k}"),
        Step::Value(v) => format!("v:{v}"),
    };
    let child = node.entry(key).or_insert_with(|| json!({}));
    if let Some(m) = child.as_object_mut() {
        if rest.is_empty() {
            // A leaf is `{}`; an item marker inside a list-map item is `.`.
            if matches!(first, Step::Key(_)) {
                m.insert(".".into(), json!({}));
            }
        } else {
            insert_trie(m, rest, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conds_schema() -> JSONSchemaProps {
        serde_json::from_value(json!({"type": "object", "properties": {"status": {"type": "object", "properties": {
            "dnsName": {"type": "string"},
            "conditions": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                           "items": {"type": "object", "properties": {"type": {"type": "string"}, "status": {"type": "string"}}}}}}}}))
        .unwrap()
    }

    #[test]
    fn field_sets_round_trip_through_fields_v1() {
        let s = conds_schema();
        let obj = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n", "labels": {"a": "b"}, "finalizers": ["f"]},
                         "status": {"dnsName": "d", "conditions": [{"type": "Ready", "status": "True"}]}});
        let set = field_set(&obj, Some(&s), None);
        let strings: Vec<String> = set.iter().map(|p| path_string(p)).collect();
        assert_eq!(
            strings,
            [
                ".metadata.finalizers[=\"f\"]",
                ".metadata.labels.a",
                ".status.conditions[type=\"Ready\"]",
                ".status.conditions[type=\"Ready\"].status",
                ".status.conditions[type=\"Ready\"].type",
                ".status.dnsName",
            ]
        );
        let entry = Entry {
            manager: "m".into(),
            operation: "Apply".into(),
            subresource: None,
            api_version: "x/v1".into(),
            time: "t".into(),
            fields: set.clone(),
        };
        let encoded = encode(&[entry]);
        assert_eq!(
            encoded[0]["fieldsV1"]["f:status"]["f:conditions"]["k:{\"type\":\"Ready\"}"]["."],
            json!({})
        );
        let decoded = decode(&json!({"metadata": {"managedFields": encoded}}));
        assert_eq!(decoded[0].fields, set);
    }

    #[test]
    fn value_at_and_remove_at_follow_keys() {
        let mut obj =
            json!({"status": {"conditions": [{"type": "A", "status": "True"}, {"type": "B"}]}});
        let p = vec![
            Step::Field("status".into()),
            Step::Field("conditions".into()),
            Step::Key("{\"type\":\"B\"}".into()),
        ];
        assert_eq!(value_at(&obj, &p), Some(&json!({"type": "B"})));
        remove_at(&mut obj, &p);
        assert_eq!(
            obj["status"]["conditions"],
            json!([{"type": "A", "status": "True"}])
        );
    }
}
