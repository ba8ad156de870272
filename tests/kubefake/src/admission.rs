//! What the apiserver does to an object before storing it: prune unknown fields (or reject
//! them with `fieldValidation=Strict`), apply schema defaults, validate metadata, validate
//! against the CRD version's structural schema (`fleetdns_config::schema::check`), and
//! evaluate the CEL rules (`x-kubernetes-validations`) the fleet CRDs carry.
//!
//! CEL: there is no CEL interpreter here. The rule shapes the upstream fleet CRDs use are
//! recognised and evaluated natively: `size(self.<path>) < N`, the transition rule
//! `self == oldSelf` (only on update, where the old value exists), and
//! `has(self.A) && self.A == X ? (!has(self.B) || (self.B >= L && self.B <= H)) : true`.
//! Any other rule text is skipped and reported by [`unevaluated_rules`].

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

use fleetdns_config::schema;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use regex::Regex;
use serde_json::Value;

use crate::registry::ResourceType;
use crate::status::{ApiError, Cause};

/// How unknown fields are handled (`fieldValidation` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop silently.
    Ignore,
    /// Drop and return a `Warning` header per field (the server default).
    #[default]
    Warn,
    /// Reject with 400 BadRequest `strict decoding error: unknown field "…"`.
    Strict,
}

impl FieldValidation {
    /// Parses the query value (unknown values are the default, as the server would 400; we
    /// stay lenient here).
    pub fn parse(s: Option<&str>) -> FieldValidation {
        match s {
            Some("Ignore") => FieldValidation::Ignore,
            Some("Strict") => FieldValidation::Strict,
            _ => FieldValidation::Warn,
        }
    }
}

const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Admits `obj` (a whole object in the request `version`) for storage: returns the warnings to
/// send, or the error. `old` is the stored object on update (for transition rules).
pub fn admit(
    rt: &ResourceType,
    version: &str,
    obj: &mut Value,
    old: Option<&Value>,
    fv: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    let mut unknown = Vec::new();
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        meta.retain(|k, _| {
            let known = OBJECT_META_FIELDS.contains(&k.as_str());
            if !known {
                unknown.push(format!("metadata.{k}"));
            }
            known
        });
    }
    let schema = rt.schema(version);
    if let Some(schema) = schema {
        prune(schema, obj, "", true, &mut unknown);
    }
    if fv == FieldValidation::Strict && !unknown.is_empty() {
        let list: Vec<String> = unknown
            .iter()
            .map(|p| format!("unknown field \"{p}\""))
            .collect();
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            list.join(", ")
        )));
    }
    let warnings = if fv == FieldValidation::Warn {
        unknown
            .iter()
            .map(|p| format!("unknown field \"{p}\""))
            .collect()
    } else {
        Vec::new()
    };
    let mut causes = metadata_causes(rt, obj);
    if let Some(schema) = schema {
        schema::apply_defaults(schema, obj);
        for v in schema::check(schema, obj) {
            causes.push(violation_cause(obj, v));
        }
        let mut cel = Cel {
            causes: &mut causes,
        };
        cel.walk(schema, Some(obj), old, "");
    }
    if causes.is_empty() {
        Ok(warnings)
    } else {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Err(ApiError::invalid(&rt.kind, &rt.group, &name, causes))
    }
}

/// Removes fields the schema does not know, recording their paths.
fn prune(
    schema: &JSONSchemaProps,
    value: &mut Value,
    path: &str,
    root: bool,
    out: &mut Vec<String>,
) {
    if schema.x_kubernetes_preserve_unknown_fields == Some(true) {
        return;
    }
    match value {
        Value::Object(map) => {
            if let Some(props) = &schema.properties {
                map.retain(|k, _| {
                    let keep = props.contains_key(k)
                        || (root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
                    if !keep {
                        out.push(join(path, k));
                    }
                    keep
                });
                for (k, v) in map.iter_mut() {
                    if root && k == "metadata" {
                        continue;
                    }
                    if let Some(p) = props.get(k) {
                        prune(p, v, &join(path, k), false, out);
                    }
                }
            } else if let Some(JSONSchemaPropsOrBool::Schema(add)) = &schema.additional_properties {
                for (k, v) in map.iter_mut() {
                    prune(add, v, &join(path, k), false, out);
                }
            } else if schema.type_.as_deref() == Some("object")
                && schema.additional_properties.is_none()
            {
                // A structural object without properties keeps nothing.
                for k in map.keys() {
                    out.push(join(path, k));
                }
                map.clear();
            }
        }
        Value::Array(items) => {
            if let Some(JSONSchemaPropsOrArray::Schema(item)) = &schema.items {
                for (i, v) in items.iter_mut().enumerate() {
                    prune(item, v, &format!("{path}[{i}]"), false, out);
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn subdomain_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .expect("valid regex")
    })
}

fn label_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("valid regex"))
}

fn dns1035_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[a-z]([-a-z0-9]*[a-z0-9])?$").expect("valid regex"))
}

/// `metadata` checks every resource gets: name syntax, string maps, finalizer list.
fn metadata_causes(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let invalid = |field: &str, value: &Value, msg: &str| Cause {
        reason: "FieldValueInvalid".into(),
        field: field.into(),
        message: format!("Invalid value: {value}: {msg}"),
    };
    let name = obj
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or(Value::Null);
    match name.as_str() {
        None | Some("") => causes.push(Cause {
            reason: "FieldValueRequired".into(),
            field: "metadata.name".into(),
            message: "Required value: name or generateName is required".into(),
        }),
        Some(n) => {
            let (ok, rule) = match rt.plural.as_str() {
                "services" => (
                    n.len() <= 63 && dns1035_re().is_match(n),
                    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
                ),
                "namespaces" => (
                    n.len() <= 63 && label_re().is_match(n),
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                ),
                _ => (
                    n.len() <= 253 && subdomain_re().is_match(n),
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                ),
            };
            if !ok {
                causes.push(invalid("metadata.name", &name, rule));
            }
        }
    }
    for field in ["labels", "annotations"] {
        if let Some(v) = obj.pointer(&format!("/metadata/{field}")) {
            match v {
                Value::Null => {}
                Value::Object(m) => {
                    for (k, val) in m {
                        if !val.is_string() {
                            causes.push(invalid(
                                &format!("metadata.{field}.{k}"),
                                val,
                                "must be a string",
                            ));
                        }
                    }
                }
                other => causes.push(invalid(
                    &format!("metadata.{field}"),
                    other,
                    "must be a map of strings",
                )),
            }
        }
    }
    if let Some(f) = obj.pointer("/metadata/finalizers") {
        let ok = f.is_null() || f.as_array().is_some_and(|a| a.iter().all(Value::is_string));
        if !ok {
            causes.push(invalid(
                "metadata.finalizers",
                f,
                "must be a list of strings",
            ));
        }
    }
    causes
}

/// The value at a checker path like `spec.a[2].b`.
fn value_at<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    if path.is_empty() {
        return Some(cur);
    }
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped.find(']')?;
            let idx: usize = stripped[..end].parse().ok()?;
            cur = cur.get(idx)?;
            rest = &stripped[end + 1..];
        }
    }
    Some(cur)
}

fn violation_cause(obj: &Value, v: schema::Violation) -> Cause {
    if v.message.starts_with("required field is missing") {
        return Cause {
            reason: "FieldValueRequired".into(),
            field: v.path,
            message: "Required value".into(),
        };
    }
    let value = value_at(obj, &v.path)
        .map(|x| x.to_string())
        .unwrap_or_else(|| "null".into());
    let reason = if v.message.contains("allowed values") {
        "FieldValueNotSupported"
    } else if v.message.contains("must have at most") {
        "FieldValueTooMany"
    } else if v.message.starts_with("duplicate entry") {
        "FieldValueDuplicate"
    } else {
        "FieldValueInvalid"
    };
    Cause {
        reason: reason.into(),
        field: v.path,
        message: format!("Invalid value: {value}: {}", v.message),
    }
}

/// Rule texts seen that the native evaluator does not understand (they are skipped).
pub fn unevaluated_rules() -> Vec<String> {
    skipped()
        .lock()
        .map(|s| s.iter().cloned().collect())
        .unwrap_or_default()
}

fn skipped() -> &'static Mutex<BTreeSet<String>> {
    static S: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(BTreeSet::new()))
}

struct Cel<'a> {
    causes: &'a mut Vec<Cause>,
}

/// What a recognised rule says.
enum Rule {
    /// `size(self.<path>) < max`
    SizeLess(Vec<String>, usize),
    /// `self == oldSelf`
    Immutable,
    /// `has(self.A) && self.A == x ? (!has(self.B) || (self.B >= lo && self.B <= hi)) : true`
    Conditional {
        a: String,
        x: i64,
        b: String,
        lo: i64,
        hi: i64,
    },
}

fn parse_rule(text: &str) -> Option<Rule> {
    static SIZE: OnceLock<Regex> = OnceLock::new();
    static COND: OnceLock<Regex> = OnceLock::new();
    let t: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if t == "self == oldSelf" {
        return Some(Rule::Immutable);
    }
    let size = SIZE.get_or_init(|| {
        Regex::new(r"^size\(self\.([A-Za-z0-9_.]+)\) < (\d+)$").expect("valid regex")
    });
    if let Some(c) = size.captures(&t) {
        return Some(Rule::SizeLess(
            c[1].split('.').map(String::from).collect(),
            c[2].parse().ok()?,
        ));
    }
    let cond = COND.get_or_init(|| {
        Regex::new(r"^has\(self\.(\w+)\) && self\.(\w+) == (-?\d+) \? \(!has\(self\.(\w+)\) \|\| \(self\.(\w+) >= (-?\d+) && self\.(\w+) <= (-?\d+)\)\) : true$")
            .expect("valid regex")
    });
    let c = cond.captures(&t)?;
    if c[1] != c[2] || c[4] != c[5] || c[4] != c[7] {
        return None;
    }
    Some(Rule::Conditional {
        a: c[1].to_string(),
        x: c[3].parse().ok()?,
        b: c[4].to_string(),
        lo: c[6].parse().ok()?,
        hi: c[8].parse().ok()?,
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
    }
}

impl Cel<'_> {
    fn walk(
        &mut self,
        schema: &JSONSchemaProps,
        new: Option<&Value>,
        old: Option<&Value>,
        path: &str,
    ) {
        let Some(new) = new else { return };
        if new.is_null() {
            return;
        }
        for rule in schema.x_kubernetes_validations.iter().flatten() {
            let ok = match parse_rule(&rule.rule) {
                None => {
                    if let Ok(mut s) = skipped().lock() {
                        s.insert(rule.rule.clone());
                    }
                    true
                }
                Some(Rule::Immutable) => old.is_none_or(|o| o == new),
                Some(Rule::SizeLess(p, max)) => {
                    let mut cur = Some(new);
                    for seg in &p {
                        cur = cur.and_then(|c| c.get(seg));
                    }
                    match cur {
                        Some(Value::String(s)) => s.chars().count() < max,
                        Some(Value::Array(a)) => a.len() < max,
                        Some(Value::Object(m)) => m.len() < max,
                        _ => true,
                    }
                }
                Some(Rule::Conditional { a, x, b, lo, hi }) => {
                    let av = new.get(&a).and_then(Value::as_i64);
                    if av == Some(x) {
                        match new.get(&b) {
                            None | Some(Value::Null) => true,
                            Some(v) => v.as_i64().is_some_and(|v| v >= lo && v <= hi),
                        }
                    } else {
                        true
                    }
                }
            };
            if !ok {
                let message = rule
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("failed rule: {}", rule.rule));
                self.causes.push(Cause {
                    reason: "FieldValueInvalid".into(),
                    field: path.to_string(),
                    message: format!("Invalid value: \"{}\": {message}", type_name(new)),
                });
            }
        }
        match new {
            Value::Object(map) => {
                if let Some(props) = &schema.properties {
                    for (k, v) in map {
                        if let Some(p) = props.get(k) {
                            let o = old.and_then(|o| o.get(k));
                            self.walk(p, Some(v), o, &join(path, k));
                        }
                    }
                }
            }
            Value::Array(items) => {
                // Transition rules inside lists would need list-map correlation; the fleet CRDs
                // have none, so list items are checked without an old value.
                if let Some(JSONSchemaPropsOrArray::Schema(item)) = &schema.items {
                    for (i, v) in items.iter().enumerate() {
                        self.walk(item, Some(v), None, &format!("{path}[{i}]"));
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_upstream_rule_shapes() {
        assert!(matches!(
            parse_rule("self == oldSelf"),
            Some(Rule::Immutable)
        ));
        assert!(matches!(
            parse_rule("size(self.metadata.name) < 64"),
            Some(Rule::SizeLess(p, 64)) if p == ["metadata", "name"]
        ));
        let r = parse_rule("has(self.intervalInSeconds) && self.intervalInSeconds ==\n  10 ? (!has(self.timeoutInSeconds) || (self.timeoutInSeconds >=\n 5 && self.timeoutInSeconds <= 9)) : true");
        assert!(matches!(
            r,
            Some(Rule::Conditional {
                x: 10,
                lo: 5,
                hi: 9,
                ..
            })
        ));
        assert!(parse_rule("self.x.startsWith('a')").is_none());
    }

    #[test]
    fn value_at_paths() {
        let v = serde_json::json!({"a": {"b": [1, {"c": 2}]}});
        assert_eq!(value_at(&v, "a.b[1].c"), Some(&serde_json::json!(2)));
        assert_eq!(value_at(&v, "a.x"), None);
    }
}
