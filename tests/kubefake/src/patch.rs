//! The patch flavours: JSON merge patch (RFC 7386), JSON patch (RFC 6902, via `json-patch`),
//! and the merge step of the simplified server-side apply.
//!
//! Apply here merges the applied configuration into the live object: maps merge recursively,
//! `x-kubernetes-list-type: map` lists merge item by item on their keys (`conditions` by
//! `type`, `customHeaders` by `name`), `set` lists take the union, other lists are replaced,
//! and an explicit `null` removes a field. Field removal by ownership (fields the same
//! manager applied before and now omits) is handled by the caller with the owned-field sets
//! of [`crate::ownership`].

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::{Map, Value};

use crate::status::ApiError;

/// RFC 7386.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// RFC 6902; a failed operation is 422 as on the apiserver... except a bad document (400).
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
    json_patch::patch(target, &ops).map_err(|e| {
        ApiError::new(
            422,
            "Invalid",
            format!("the server rejected our request due to an error in our request: {e}"),
        )
    })
}

/// How a list is merged on apply.
#[derive(Clone, Debug, PartialEq)]
pub enum ListType {
    /// Replace the whole list.
    Atomic,
    /// Union of scalar items.
    Set,
    /// Merge items with equal key fields.
    Map(Vec<String>),
}

/// The list type of `schema` (a list node), or a guess for schema-less built-ins:
/// `conditions` merge by `type`.
pub fn list_type(schema: Option<&JSONSchemaProps>, field: &str) -> ListType {
    match schema {
        Some(s) => match s.x_kubernetes_list_type.as_deref() {
            Some("map") => ListType::Map(s.x_kubernetes_list_map_keys.clone().unwrap_or_default()),
            Some("set") => ListType::Set,
            _ => ListType::Atomic,
        },
        None if field == "conditions" => ListType::Map(vec!["type".into()]),
        None => ListType::Atomic,
    }
}

/// The child schema of property `k`.
pub fn prop<'a>(schema: Option<&'a JSONSchemaProps>, k: &str) -> Option<&'a JSONSchemaProps> {
    let s = schema?;
    if let Some(p) = s.properties.as_ref().and_then(|p| p.get(k)) {
        return Some(p);
    }
    match &s.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(a)) => Some(a),
        _ => None,
    }
}

/// The item schema of a list.
pub fn items(schema: Option<&JSONSchemaProps>) -> Option<&JSONSchemaProps> {
    match schema?.items.as_ref()? {
        JSONSchemaPropsOrArray::Schema(s) => Some(s),
        JSONSchemaPropsOrArray::Schemas(v) => v.first(),
    }
}

/// The key of a list-map item, as comparable JSON.
pub fn item_key(item: &Value, keys: &[String]) -> Vec<Value> {
    keys.iter()
        .map(|k| item.get(k).cloned().unwrap_or(Value::Null))
        .collect()
}

/// Merges `applied` into `live` (see the module doc).
pub fn apply_merge(
    live: &mut Value,
    applied: &Value,
    schema: Option<&JSONSchemaProps>,
    field: &str,
) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, av) in a {
                if av.is_null() {
                    l.remove(k);
                    continue;
                }
                let child = prop(schema, k);
                match l.get_mut(k) {
                    Some(lv) => apply_merge(lv, av, child, k),
                    None => {
                        l.insert(k.clone(), av.clone());
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(a)) => match list_type(schema, field) {
            ListType::Atomic => *l = a.clone(),
            ListType::Set => {
                for item in a {
                    if !l.contains(item) {
                        l.push(item.clone());
                    }
                }
            }
            ListType::Map(keys) => {
                let item_schema = items(schema);
                for item in a {
                    let key = item_key(item, &keys);
                    match l.iter_mut().find(|x| item_key(x, &keys) == key) {
                        Some(existing) => apply_merge(existing, item, item_schema, ""),
                        None => l.push(item.clone()),
                    }
                }
            }
        },
        (live, applied) => *live = applied.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn apply_merges_conditions_by_type() {
        let mut live = json!({"status": {"conditions": [
            {"type": "A", "status": "True"}, {"type": "B", "status": "False"}]}});
        apply_merge(
            &mut live,
            &json!({"status": {"conditions": [{"type": "B", "status": "True"}]}}),
            None,
            "",
        );
        assert_eq!(
            live["status"]["conditions"],
            json!([
            {"type": "A", "status": "True"}, {"type": "B", "status": "True"}])
        );
    }
}
