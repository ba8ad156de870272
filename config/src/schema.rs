//! A structural-schema checker: does an object fit a CRD version's `openAPIV3Schema`?
//!
//! The apiserver would reject (or silently prune) what does not fit the schema of a custom
//! resource; fleetdns reads the same objects from files, so it checks them the same way and says
//! precisely where an object is wrong and what would be allowed there.
//!
//! [`check`] covers the structural keywords Kubernetes uses: `type` (an `integer` must be an
//! integral JSON number), `properties` with unknown fields reported (unless
//! `x-kubernetes-preserve-unknown-fields`, or for the free-form root `metadata`),
//! `additionalProperties`, `required`, `enum`, `minimum`/`maximum` (also exclusive),
//! `minLength`/`maxLength` (in characters), `pattern`, `minItems`/`maxItems`, `items`,
//! `x-kubernetes-list-type` `map` (unique keys) and `set` (unique items),
//! `x-kubernetes-int-or-string`, `format: date-time` (loosely, RFC 3339) and the range of
//! `format: int32`/`int64`.
//!
//! Not evaluated: CEL rules (`x-kubernetes-validations`): callers check the few upstream rules
//! they care about themselves; `anyOf`/`allOf`/`oneOf`/`not` (structural schemas only use them
//! for extra value validation, and the fleet CRDs have none); other `format`s.
//!
//! `null` follows the apiserver: a `null` property of a non-`nullable` field is dropped before
//! validation, so it counts as absent (a required field set to `null` is missing).
//!
//! [`apply_defaults`] is Kubernetes' structural defaulting: `default`s fill absent properties of
//! objects that are present; it runs after a successful [`check`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::Value;

/// One place where a value does not fit its schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Where, as a field path from the object root, e.g. `spec.monitorConfig.intervalInSeconds`
    /// or `spec.monitorConfig.customHeaders[2].name`; empty for the root itself.
    pub path: String,
    /// What is wrong and what is allowed, e.g. `20 is not allowed; allowed values: 10, 30`.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The `openAPIV3Schema` of `version` (e.g. `"v1beta1"`) of `crd`, if the CRD has that version
/// with a schema.
pub fn version_schema<'a>(
    crd: &'a CustomResourceDefinition,
    version: &str,
) -> Option<&'a JSONSchemaProps> {
    crd.spec
        .versions
        .iter()
        .find(|v| v.name == version)
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
}

/// Checks `value` (a whole object: `apiVersion`, `kind`, `metadata`, …) against `schema`, a
/// CRD version's root schema. Returns every violation found, in document order of the schema's
/// fields; empty means the object fits. CEL rules are not evaluated (see the module doc).
pub fn check(schema: &JSONSchemaProps, value: &Value) -> Vec<Violation> {
    let mut checker = Checker {
        out: Vec::new(),
        regexes: HashMap::new(),
    };
    checker.value(schema, value, "", true);
    checker.out
}

/// Fills in schema `default`s for absent properties of every object present in `value`,
/// recursing into objects, arrays and defaulted values (Kubernetes structural defaulting).
/// A `null` property of a non-`nullable` field is dropped first, and then defaulted if it has a
/// default, as the apiserver does.
pub fn apply_defaults(schema: &JSONSchemaProps, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = &schema.properties {
                for (name, prop) in props {
                    let is_null = matches!(map.get(name), Some(Value::Null));
                    if is_null && prop.nullable != Some(true) {
                        map.remove(name);
                    }
                    if !map.contains_key(name) {
                        if let Some(default) = &prop.default {
                            map.insert(name.clone(), default.0.clone());
                        }
                    }
                }
                for (name, prop) in props {
                    if let Some(v) = map.get_mut(name) {
                        apply_defaults(prop, v);
                    }
                }
            } else if let Some(JSONSchemaPropsOrBool::Schema(additional)) =
                &schema.additional_properties
            {
                for v in map.values_mut() {
                    apply_defaults(additional, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(JSONSchemaPropsOrArray::Schema(item)) = &schema.items {
                for v in items {
                    apply_defaults(item, v);
                }
            }
        }
        _ => {}
    }
}

struct Checker {
    out: Vec<Violation>,
    /// Compiled `pattern`s, so a pattern used for every list item is compiled once.
    regexes: HashMap<String, Result<regex::Regex, regex::Error>>,
}

impl Checker {
    fn report(&mut self, path: &str, message: impl Into<String>) {
        self.out.push(Violation {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn value(&mut self, schema: &JSONSchemaProps, value: &Value, path: &str, root: bool) {
        if value.is_null() {
            if schema.nullable != Some(true) {
                self.report(path, format!("null is not allowed; {}", expected(schema)));
            }
            return;
        }
        if !self.check_type(schema, value, path) {
            return;
        }
        self.check_enum(schema, value, path);
        match value {
            Value::Object(map) => self.object(schema, map, path, root),
            Value::Array(items) => self.array(schema, items, path),
            Value::String(s) => self.string(schema, s, path),
            Value::Number(n) => self.number(schema, n, path),
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// Reports a type mismatch and returns whether the value has the schema's type.
    fn check_type(&mut self, schema: &JSONSchemaProps, value: &Value, path: &str) -> bool {
        let ok = match schema.type_.as_deref() {
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("boolean") => value.is_boolean(),
            Some("number") => value.is_number(),
            Some("integer") => is_integer(value),
            Some(_) => true,
            None if schema.x_kubernetes_int_or_string == Some(true) => {
                is_integer(value) || value.is_string()
            }
            None => true,
        };
        if !ok {
            self.report(
                path,
                format!("{}; found {}", expected(schema), describe(value)),
            );
        }
        ok
    }

    fn check_enum(&mut self, schema: &JSONSchemaProps, value: &Value, path: &str) {
        let Some(allowed) = &schema.enum_ else { return };
        if allowed.iter().any(|a| json_eq(&a.0, value)) {
            return;
        }
        let list: Vec<String> = allowed.iter().map(|a| a.0.to_string()).collect();
        self.report(
            path,
            format!(
                "{value} is not allowed; allowed values: {}",
                list.join(", ")
            ),
        );
    }

    fn object(
        &mut self,
        schema: &JSONSchemaProps,
        map: &serde_json::Map<String, Value>,
        path: &str,
        root: bool,
    ) {
        let preserve = schema.x_kubernetes_preserve_unknown_fields == Some(true);
        let empty = BTreeMap::new();
        let props = schema.properties.as_ref().unwrap_or(&empty);
        for (name, v) in map {
            let child = join(path, name);
            if let Some(prop) = props.get(name) {
                let is_free_metadata = root && name == "metadata" && prop.properties.is_none();
                if v.is_null() && prop.nullable != Some(true) {
                    continue; // pruned by the apiserver; `required` is checked below
                }
                if is_free_metadata {
                    // ObjectMeta is validated by the apiserver itself, not by the CRD schema.
                    self.check_type(prop, v, &child);
                } else {
                    self.value(prop, v, &child, false);
                }
            } else if let Some(additional) = &schema.additional_properties {
                match additional {
                    JSONSchemaPropsOrBool::Schema(s) => self.value(s, v, &child, false),
                    JSONSchemaPropsOrBool::Bool(true) => {}
                    JSONSchemaPropsOrBool::Bool(false) => self.unknown(props, name, &child),
                }
            } else if !preserve {
                self.unknown(props, name, &child);
            }
        }
        for name in schema.required.iter().flatten() {
            if map.get(name).is_none_or(Value::is_null) {
                let what = match props.get(name) {
                    Some(p) => format!("required field is missing; {}", expected(p)),
                    None => "required field is missing".to_string(),
                };
                self.report(&join(path, name), what);
            }
        }
        if let Some(max) = schema.max_properties {
            if map.len() as i64 > max {
                self.report(
                    path,
                    format!("must have at most {max} fields; found {}", map.len()),
                );
            }
        }
        if let Some(min) = schema.min_properties {
            if (map.len() as i64) < min {
                self.report(
                    path,
                    format!("must have at least {min} fields; found {}", map.len()),
                );
            }
        }
    }

    fn unknown(&mut self, props: &BTreeMap<String, JSONSchemaProps>, name: &str, path: &str) {
        if props.is_empty() {
            self.report(path, "unknown field; this object takes no fields");
            return;
        }
        let names: Vec<&str> = props.keys().map(String::as_str).collect();
        let hint = closest(name, &names)
            .map(|n| format!("did you mean {n:?}? "))
            .unwrap_or_default();
        self.report(
            path,
            format!("unknown field; {hint}allowed fields: {}", names.join(", ")),
        );
    }

    fn array(&mut self, schema: &JSONSchemaProps, items: &[Value], path: &str) {
        if let Some(max) = schema.max_items {
            if items.len() as i64 > max {
                self.report(
                    path,
                    format!(
                        "must have at most {max} {}; found {}",
                        plural(max, "item"),
                        items.len()
                    ),
                );
            }
        }
        if let Some(min) = schema.min_items {
            if (items.len() as i64) < min {
                self.report(
                    path,
                    format!(
                        "must have at least {min} {}; found {}",
                        plural(min, "item"),
                        items.len()
                    ),
                );
            }
        }
        if let Some(JSONSchemaPropsOrArray::Schema(item_schema)) = &schema.items {
            for (i, item) in items.iter().enumerate() {
                self.value(item_schema, item, &format!("{path}[{i}]"), false);
            }
        }
        match schema.x_kubernetes_list_type.as_deref() {
            Some("map") => {
                let keys = schema
                    .x_kubernetes_list_map_keys
                    .clone()
                    .unwrap_or_default();
                self.unique(items, path, |item| {
                    let obj = item.as_object()?;
                    let parts: Vec<String> = keys
                        .iter()
                        .map(|k| format!("{k} {}", obj.get(k).unwrap_or(&Value::Null)))
                        .collect();
                    Some(parts.join(", "))
                });
            }
            Some("set") => self.unique(items, path, |item| Some(item.to_string())),
            _ => {}
        }
    }

    /// Reports every item whose key (from `key_of`) an earlier item already has.
    fn unique(&mut self, items: &[Value], path: &str, key_of: impl Fn(&Value) -> Option<String>) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let Some(key) = key_of(item) else { continue };
            if let Some(first) = seen.get(&key) {
                self.report(
                    &format!("{path}[{i}]"),
                    format!("duplicate entry with {key} (first at {path}[{first}]); entries must be unique"),
                );
            } else {
                seen.insert(key, i);
            }
        }
    }

    fn string(&mut self, schema: &JSONSchemaProps, s: &str, path: &str) {
        let len = s.chars().count() as i64;
        if let Some(max) = schema.max_length {
            if len > max {
                self.report(
                    path,
                    format!(
                        "must be at most {max} {} long; found {len}",
                        plural(max, "character")
                    ),
                );
            }
        }
        if let Some(min) = schema.min_length {
            if len < min {
                let message = if min == 1 {
                    "must not be empty".to_string()
                } else {
                    format!(
                        "must be at least {min} {} long; found {len}",
                        plural(min, "character")
                    )
                };
                self.report(path, message);
            }
        }
        if let Some(pattern) = &schema.pattern {
            let re = self
                .regexes
                .entry(pattern.clone())
                .or_insert_with(|| regex::Regex::new(pattern));
            match re {
                Ok(re) if re.is_match(s) => {}
                Ok(_) => {
                    let message = format!("{s:?} does not match the pattern {pattern}");
                    self.report(path, message);
                }
                Err(e) => {
                    let message = format!("cannot check the schema pattern {pattern}: {e}");
                    self.report(path, message);
                }
            }
        }
        if schema.format.as_deref() == Some("date-time") && !looks_like_date_time(s) {
            self.report(
                path,
                format!("{s:?} is not a date-time; expected RFC 3339, e.g. 2024-01-02T15:04:05Z"),
            );
        }
    }

    fn number(&mut self, schema: &JSONSchemaProps, n: &serde_json::Number, path: &str) {
        let range = match (schema.type_.as_deref(), schema.format.as_deref()) {
            (Some("integer"), Some("int64")) => Some((i64::MIN as f64, i64::MAX as f64)),
            (Some("integer"), Some("int32")) => Some((f64::from(i32::MIN), f64::from(i32::MAX))),
            _ => None,
        };
        let x = n.as_f64().unwrap_or(f64::NAN);
        if let Some((lo, hi)) = range {
            if n.as_i64().is_none() || (x < lo || x > hi) {
                let fmt = schema.format.as_deref().unwrap_or_default();
                self.report(path, format!("{n} is out of the {fmt} range"));
                return;
            }
        }
        if let Some(min) = schema.minimum {
            let exclusive = schema.exclusive_minimum == Some(true);
            if x < min || (exclusive && x == min) {
                let bound = if exclusive {
                    "greater than"
                } else {
                    "at least"
                };
                self.report(
                    path,
                    format!("{n} is not allowed; must be {bound} {}", num(min)),
                );
            }
        }
        if let Some(max) = schema.maximum {
            let exclusive = schema.exclusive_maximum == Some(true);
            if x > max || (exclusive && x == max) {
                let bound = if exclusive { "less than" } else { "at most" };
                self.report(
                    path,
                    format!("{n} is not allowed; must be {bound} {}", num(max)),
                );
            }
        }
        if let Some(m) = schema.multiple_of {
            if m != 0.0 && (x / m).fract() != 0.0 {
                self.report(
                    path,
                    format!("{n} is not allowed; must be a multiple of {}", num(m)),
                );
            }
        }
    }
}

/// `a.b` path join; the root path is empty.
fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn is_integer(v: &Value) -> bool {
    matches!(v, Value::Number(n) if n.is_i64() || n.is_u64())
}

/// Equality of JSON values where numbers compare by value (`30` equals `30.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// "must be an integer" etc., from the schema's type.
fn expected(schema: &JSONSchemaProps) -> String {
    match schema.type_.as_deref() {
        Some("object") => "must be an object".into(),
        Some("array") => "must be a list".into(),
        Some("integer") => "must be an integer".into(),
        Some(t @ ("string" | "number" | "boolean")) => format!("must be a {t}"),
        Some(t) => format!("must be of type {t}"),
        None if schema.x_kubernetes_int_or_string == Some(true) => {
            "must be an integer or a string".into()
        }
        None => "must be a value".into(),
    }
}

/// A value's kind plus, for scalars, the value itself: `a string ("abc")`, `the number 1.5`.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) if n.is_f64() => format!("the non-integer number {n}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A bound without a spurious `.0`.
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn plural(n: i64, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// RFC 3339 `date-time`, checked loosely: `YYYY-MM-DD[Tt ]hh:mm:ss[.frac](Z|±hh:mm)`.
fn looks_like_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't' | b' ')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

/// The allowed name closest to `name` (case-insensitive equal, or at most two edits away).
fn closest<'a>(name: &str, names: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    if let Some(n) = names.iter().find(|n| n.to_ascii_lowercase() == lower) {
        return Some(n);
    }
    names
        .iter()
        .map(|n| (edit_distance(&lower, &n.to_ascii_lowercase()), *n))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The v1beta1 TrafficManagerProfile schema, the richest of the three.
    fn tmp_schema() -> JSONSchemaProps {
        let crds = crate::crd::crds();
        version_schema(&crds[0], "v1beta1")
            .expect("v1beta1 schema")
            .clone()
    }

    fn tmp(spec: Value) -> Value {
        json!({
            "apiVersion": "networking.fleet.azure.com/v1beta1",
            "kind": "TrafficManagerProfile",
            "metadata": {"name": "p", "namespace": "ns", "annotations": {"a/b": "c"}},
            "spec": spec,
        })
    }

    fn paths(v: &[Violation]) -> Vec<&str> {
        v.iter().map(|v| v.path.as_str()).collect()
    }

    #[test]
    fn valid_object_has_no_violations() {
        let v = check(
            &tmp_schema(),
            &tmp(json!({
                "resourceGroup": "rg",
                "monitorConfig": {"intervalInSeconds": 10, "timeoutInSeconds": 9, "protocol": "HTTPS",
                                  "customHeaders": [{"name": "Host", "value": "x"}]},
            })),
        );
        assert_eq!(v, vec![]);
    }

    #[test]
    fn unknown_field_lists_allowed_fields() {
        let v = check(
            &tmp_schema(),
            &tmp(json!({
                "resourceGroup": "rg",
                "monitorConfig": {"customHeaders": [{"name": "Host", "value": "x", "valeu": "y"}], "prot": "TCP"},
            })),
        );
        assert_eq!(
            paths(&v),
            [
                "spec.monitorConfig.customHeaders[0].valeu",
                "spec.monitorConfig.prot"
            ]
        );
        assert_eq!(
            v[0].message,
            r#"unknown field; did you mean "value"? allowed fields: name, value"#
        );
        assert!(
            v[1].message
                .contains("allowed fields: customHeaders, intervalInSeconds, path, port, protocol"),
            "{}",
            v[1]
        );
    }

    #[test]
    fn unknown_top_level_field_but_free_metadata() {
        let mut obj = tmp(json!({"resourceGroup": "rg"}));
        obj["metadata"]["labels"] = json!({"x": "y"});
        obj["extra"] = json!(1);
        let v = check(&tmp_schema(), &obj);
        assert_eq!(paths(&v), ["extra"]);
    }

    #[test]
    fn bad_enum_lists_allowed_values() {
        let v = check(
            &tmp_schema(),
            &tmp(json!({
                "resourceGroup": "rg", "monitorConfig": {"intervalInSeconds": 20, "protocol": "FTP"},
            })),
        );
        assert_eq!(
            paths(&v),
            [
                "spec.monitorConfig.intervalInSeconds",
                "spec.monitorConfig.protocol"
            ]
        );
        assert_eq!(v[0].message, "20 is not allowed; allowed values: 10, 30");
        assert_eq!(
            v[1].message,
            r#""FTP" is not allowed; allowed values: "HTTP", "HTTPS", "TCP""#
        );
    }

    #[test]
    fn minimum_maximum_and_lengths() {
        let v = check(
            &tmp_schema(),
            &tmp(json!({
                "resourceGroup": "r".repeat(91),
                "monitorConfig": {"timeoutInSeconds": 4, "toleratedNumberOfFailures": 10,
                                  "customHeaders": [{"name": "", "value": "v"}]},
            })),
        );
        let got: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(got, [
            "spec.monitorConfig.customHeaders[0].name: must not be empty",
            "spec.monitorConfig.timeoutInSeconds: 4 is not allowed; must be at least 5",
            "spec.monitorConfig.toleratedNumberOfFailures: 10 is not allowed; must be at most 9",
            "spec.resourceGroup: must be at most 90 characters long; found 91",
        ]);
    }

    #[test]
    fn exclusive_bounds() {
        let schema = JSONSchemaProps {
            type_: Some("number".into()),
            minimum: Some(0.0),
            exclusive_minimum: Some(true),
            maximum: Some(1.0),
            exclusive_maximum: Some(true),
            ..Default::default()
        };
        assert_eq!(check(&schema, &json!(0.5)), vec![]);
        assert_eq!(
            check(&schema, &json!(0))[0].message,
            "0 is not allowed; must be greater than 0"
        );
        assert_eq!(
            check(&schema, &json!(1))[0].message,
            "1 is not allowed; must be less than 1"
        );
    }

    #[test]
    fn required_fields() {
        let v = check(
            &tmp_schema(),
            &json!({"apiVersion": "x", "kind": "y", "metadata": {"name": "p"}}),
        );
        assert_eq!(paths(&v), ["spec"]);
        assert!(v[0].message.starts_with("required field is missing"));
        let v = check(&tmp_schema(), &tmp(json!({"monitorConfig": {}})));
        assert_eq!(
            v,
            vec![Violation {
                path: "spec.resourceGroup".into(),
                message: "required field is missing; must be a string".into(),
            }]
        );
        // null counts as absent
        let v = check(&tmp_schema(), &tmp(json!({"resourceGroup": null})));
        assert_eq!(paths(&v), ["spec.resourceGroup"]);
    }

    #[test]
    fn wrong_types() {
        let v = check(
            &tmp_schema(),
            &tmp(json!({
                "resourceGroup": 5,
                "monitorConfig": {"port": "80", "intervalInSeconds": 30.5, "customHeaders": {"name": "a"}},
            })),
        );
        let got: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(got, [
            "spec.monitorConfig.customHeaders: must be a list; found an object",
            "spec.monitorConfig.intervalInSeconds: must be an integer; found the non-integer number 30.5",
            r#"spec.monitorConfig.port: must be an integer; found the string "80""#,
            "spec.resourceGroup: must be a string; found the number 5",
        ]);
        let v = check(&tmp_schema(), &tmp(json!("rg")));
        assert_eq!(
            v[0].to_string(),
            r#"spec: must be an object; found the string "rg""#
        );
    }

    #[test]
    fn list_map_duplicate_key() {
        let v = check(
            &tmp_schema(),
            &tmp(json!({
                "resourceGroup": "rg",
                "monitorConfig": {"customHeaders": [
                    {"name": "Host", "value": "a"}, {"name": "X", "value": "b"}, {"name": "Host", "value": "c"},
                ]},
            })),
        );
        assert_eq!(v, vec![Violation {
            path: "spec.monitorConfig.customHeaders[2]".into(),
            message: r#"duplicate entry with name "Host" (first at spec.monitorConfig.customHeaders[0]); entries must be unique"#.into(),
        }]);
    }

    #[test]
    fn max_items() {
        let headers: Vec<Value> = (0..9)
            .map(|i| json!({"name": format!("h{i}"), "value": "v"}))
            .collect();
        let v = check(
            &tmp_schema(),
            &tmp(json!({"resourceGroup": "rg", "monitorConfig": {"customHeaders": headers}})),
        );
        assert_eq!(
            v[0].to_string(),
            "spec.monitorConfig.customHeaders: must have at most 8 items; found 9"
        );
    }

    #[test]
    fn pattern_and_date_time_in_conditions() {
        let crds = crate::crd::crds();
        let schema = version_schema(&crds[2], "v1alpha1").unwrap();
        let export = |cond: Value| {
            json!({
                "apiVersion": "networking.fleet.azure.com/v1alpha1", "kind": "ServiceExport",
                "metadata": {"name": "e"}, "status": {"conditions": [cond]},
            })
        };
        let good = json!({"type": "Valid", "status": "True", "reason": "ServiceIsValid", "message": "",
                          "lastTransitionTime": "2024-05-01T10:00:00Z", "observedGeneration": 1});
        assert_eq!(check(schema, &export(good.clone())), vec![]);
        let mut bad = good;
        bad["reason"] = json!("not valid!");
        bad["lastTransitionTime"] = json!("yesterday");
        let got: Vec<String> = check(schema, &export(bad))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                r#"status.conditions[0].lastTransitionTime: "yesterday" is not a date-time; expected RFC 3339, e.g. 2024-01-02T15:04:05Z"#,
                r#"status.conditions[0].reason: "not valid!" does not match the pattern ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"#,
            ]
        );
        assert!(looks_like_date_time("2024-05-01T10:00:00.123+02:00"));
        assert!(!looks_like_date_time("2024-05-01"));
    }

    #[test]
    fn preserve_unknown_fields_and_additional_properties() {
        let schema: JSONSchemaProps = serde_json::from_value(json!({
            "type": "object",
            "properties": {
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }))
        .unwrap();
        let v = check(
            &schema,
            &json!({"free": {"a": 1}, "labels": {"a": "b", "c": 1}}),
        );
        assert_eq!(paths(&v), ["labels.c"]);
    }

    #[test]
    fn defaults_applied_to_present_objects_only() {
        let schema = tmp_schema();
        let mut absent = tmp(json!({"resourceGroup": "rg"}));
        apply_defaults(&schema, &mut absent);
        assert_eq!(absent["spec"], json!({"resourceGroup": "rg"}));

        let mut present =
            tmp(json!({"resourceGroup": "rg", "monitorConfig": {"port": 8080, "path": null}}));
        apply_defaults(&schema, &mut present);
        assert_eq!(
            present["spec"]["monitorConfig"],
            json!({
                "intervalInSeconds": 30, "path": "/", "port": 8080, "protocol": "HTTP",
                "toleratedNumberOfFailures": 3,
            })
        );
        assert_eq!(check(&schema, &present), vec![]);
    }

    #[test]
    fn backend_weight_default() {
        let crds = crate::crd::crds();
        let schema = version_schema(&crds[1], "v1beta1").unwrap();
        let mut tmb = json!({"apiVersion": "networking.fleet.azure.com/v1beta1", "kind": "TrafficManagerBackend",
                             "metadata": {"name": "b"}, "spec": {"profile": {"name": "p"}, "backend": {"name": "s"}}});
        apply_defaults(schema, &mut tmb);
        assert_eq!(tmb["spec"]["weight"], json!(1));
        tmb["spec"]["weight"] = json!(1001);
        assert_eq!(
            check(schema, &tmb)[0].to_string(),
            "spec.weight: 1001 is not allowed; must be at most 1000"
        );
    }

    #[test]
    fn version_schema_picks_by_name() {
        let crds = crate::crd::crds();
        assert!(version_schema(&crds[0], "v1alpha1").is_some());
        assert!(version_schema(&crds[0], "v1").is_none());
    }
}
