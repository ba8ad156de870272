//! `labelSelector` and `fieldSelector` query parameters, as list and watch filter objects.
//!
//! Labels: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma-joined.
//! Fields: `metadata.name` and `metadata.namespace` with `=`, `==`, `!=` (other field paths
//! are rejected with 400, as the apiserver does for fields a type does not index).

use serde_json::Value;

use crate::status::ApiError;

#[derive(Clone, Debug, PartialEq)]
enum LabelReq {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
enum FieldReq {
    Eq(String, String),
    Ne(String, String),
}

/// A parsed pair of selectors; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector {
    labels: Vec<LabelReq>,
    fields: Vec<FieldReq>,
}

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn set_values(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).collect())
}

impl Selector {
    /// Parses both query values.
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Selector, ApiError> {
        let mut sel = Selector::default();
        for part in split_top(labels.unwrap_or("")) {
            let bad = || {
                ApiError::bad_request(format!(
                    "unable to parse requirement: invalid label selector {part:?}"
                ))
            };
            let req = if let Some((k, v)) = part.split_once("!=") {
                LabelReq::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                LabelReq::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                LabelReq::Eq(k.trim().into(), v.trim().into())
            } else if let Some(k) = part.strip_prefix('!') {
                LabelReq::NotExists(k.trim().into())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                LabelReq::NotIn(k.trim().into(), set_values(rest).ok_or_else(bad)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                LabelReq::In(k.trim().into(), set_values(rest).ok_or_else(bad)?)
            } else if part.contains(char::is_whitespace) || part.contains('(') {
                return Err(bad());
            } else {
                LabelReq::Exists(part.into())
            };
            sel.labels.push(req);
        }
        for part in split_top(fields.unwrap_or("")) {
            let (k, v, eq) = if let Some((k, v)) = part.split_once("!=") {
                (k, v, false)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, v, true)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, v, true)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector {part:?}"
                )));
            };
            let k = k.trim();
            if !FIELD_LABELS.contains(&k) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {k}"
                )));
            }
            sel.fields.push(if eq {
                FieldReq::Eq(k.into(), v.trim().into())
            } else {
                FieldReq::Ne(k.into(), v.trim().into())
            });
        }
        Ok(sel)
    }

    /// Whether the object matches.
    pub fn matches(&self, obj: &Value) -> bool {
        let label = |k: &str| {
            obj.pointer("/metadata/labels")
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
        };
        let labels_ok = self.labels.iter().all(|r| match r {
            LabelReq::Eq(k, v) => label(k) == Some(v.as_str()),
            LabelReq::Ne(k, v) => label(k) != Some(v.as_str()),
            LabelReq::Exists(k) => label(k).is_some(),
            LabelReq::NotExists(k) => label(k).is_none(),
            LabelReq::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::NotIn(k, vs) => label(k).is_none_or(|l| vs.iter().all(|v| v != l)),
        });
        let field = |k: &str| {
            let p = format!("/{}", k.replace('.', "/"));
            obj.pointer(&p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        labels_ok
            && self.fields.iter().all(|r| match r {
                FieldReq::Eq(k, v) => field(k) == *v,
                FieldReq::Ne(k, v) => field(k) != *v,
            })
    }
}

/// Field labels a `fieldSelector` may use: every type's `metadata.name` and
/// `metadata.namespace`, and the ones the apiserver allows on core v1 Events
/// (what `kubectl describe` selects by).
const FIELD_LABELS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "type",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_and_field_selectors() {
        let o = json!({"metadata": {"name": "a", "namespace": "ns", "labels": {"app": "web", "tier": "x"}}});
        let m = |l: &str, f: &str| Selector::parse(Some(l), Some(f)).unwrap().matches(&o);
        assert!(m("", ""));
        assert!(m("app=web", ""));
        assert!(m("app==web,tier", ""));
        assert!(!m("app!=web", ""));
        assert!(m("app in (web, db),!missing", ""));
        assert!(!m("app notin (web)", ""));
        assert!(m("", "metadata.name=a,metadata.namespace==ns"));
        assert!(!m("", "metadata.name!=a"));
        assert!(Selector::parse(None, Some("spec.x=1")).is_err());
    }
}
