//! Validation of requests against the Traffic Manager swagger itself.
//!
//! A small walker over the swagger's `paths` and `definitions`: it matches a
//! request to an operation (path template, method), checks the path and query
//! parameters, and checks the body against the operation's body schema:
//! `type` (and integer `format`), `enum`, `required`, `readOnly` (not allowed in a
//! request), `$ref`, `allOf`, `items`, `additionalProperties`, and unknown
//! properties (an object schema with `properties` is closed unless it has
//! `additionalProperties`). Nothing here is written per field.
//!
//! The swagger's three parameters from the ARM common types (an external file
//! not in `../shared/specs`) are checked as the common types define them:
//! `api-version` (required; must be this file's `info.version`), `subscriptionId`
//! (a UUID) and `resourceGroupName` (1-90 characters of `-\w._()`).

use serde_json::{Map, Value};

/// The loaded swagger.
pub struct Swagger {
    doc: Value,
    /// (template segments, path item) in file order.
    paths: Vec<(Vec<String>, Value)>,
}

/// A request matched to an operation.
#[derive(Debug)]
pub struct Matched {
    pub operation_id: String,
    /// Path parameters by name, percent-decoded.
    pub params: Map<String, Value>,
}

/// Which side of the wire a body is on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

/// Where the swagger lives: `../shared/specs/` next to the workspace.
pub const SWAGGER_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/specs/trafficmanager-2022-04-01.json"
);

impl Swagger {
    pub fn load() -> Result<Self, String> {
        let text = std::fs::read_to_string(SWAGGER_PATH)
            .map_err(|e| format!("reading {SWAGGER_PATH}: {e}"))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{SWAGGER_PATH}: {e}"))?;
        let paths = doc["paths"]
            .as_object()
            .ok_or("swagger has no paths")?
            .iter()
            .map(|(k, v)| (segments(k), v.clone()))
            .collect();
        Ok(Self { doc, paths })
    }

    pub fn api_version(&self) -> &str {
        self.doc["info"]["version"].as_str().unwrap_or_default()
    }

    /// Matches method + path and checks parameters and body. Errors are
    /// human-readable, one per problem.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Matched, Vec<String>> {
        let segs = segments(path);
        let mut errors = Vec::new();
        let Some((template, item, params)) = self
            .paths
            .iter()
            .find_map(|(t, item)| match_path(t, &segs).map(|p| (t, item, p)))
        else {
            return Err(vec![format!(
                "no operation in the swagger has the path {path}"
            )]);
        };
        let Some(op) = item.get(method.to_ascii_lowercase()) else {
            return Err(vec![format!(
                "{method} is not an operation of /{}",
                template.join("/")
            )]);
        };
        let mut body_seen = false;
        for p in op["parameters"].as_array().into_iter().flatten() {
            let p = self.param(p);
            let name = p["name"].as_str().unwrap_or_default();
            let required = p["required"].as_bool().unwrap_or(false);
            match p["in"].as_str() {
                Some("path") => {
                    let v = params.get(name).and_then(Value::as_str).unwrap_or_default();
                    self.check_scalar(
                        &p,
                        &Value::String(v.to_string()),
                        &format!("path parameter {name}"),
                        &mut errors,
                    );
                }
                Some("query") => match query.iter().find(|(k, _)| k == name) {
                    Some((_, v)) => self.check_scalar(
                        &p,
                        &Value::String(v.clone()),
                        &format!("query parameter {name}"),
                        &mut errors,
                    ),
                    None if required => errors.push(format!("query parameter {name} is required")),
                    None => {}
                },
                Some("body") => {
                    body_seen = true;
                    match body {
                        Some(b) => self.check(b, &p["schema"], "body", Side::Request, &mut errors),
                        None if required => errors.push("a JSON body is required".into()),
                        None => {}
                    }
                }
                _ => {}
            }
        }
        if !body_seen && body.is_some() {
            errors.push(format!("{method} takes no body"));
        }
        for (k, _) in query {
            let known = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| self.param(p))
                .any(|p| p["in"] == "query" && p["name"] == k.as_str());
            if !known {
                errors.push(format!("unknown query parameter {k}"));
            }
        }
        if errors.is_empty() {
            Ok(Matched {
                operation_id: op["operationId"].as_str().unwrap_or_default().to_string(),
                params,
            })
        } else {
            Err(errors)
        }
    }

    /// Checks a response body against the operation's schema for `status`.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Vec<String> {
        let segs = segments(path);
        let Some(op) = self
            .paths
            .iter()
            .find(|(t, _)| match_path(t, &segs).is_some())
            .and_then(|(_, item)| item.get(method.to_ascii_lowercase()))
        else {
            return vec![];
        };
        let responses = &op["responses"];
        let r = responses
            .get(status.to_string())
            .unwrap_or(&responses["default"]);
        let mut errors = Vec::new();
        if let Some(schema) = r.get("schema") {
            self.check(body, schema, "response", Side::Response, &mut errors);
        }
        errors
    }

    /// Resolves a parameter `$ref`: local ones from the file, the three common types built in.
    fn param(&self, p: &Value) -> Value {
        let Some(r) = p.get("$ref").and_then(Value::as_str) else {
            return p.clone();
        };
        if let Some(local) = r.strip_prefix("#/parameters/") {
            return self.doc["parameters"][local].clone();
        }
        match r.rsplit('/').next().unwrap_or_default() {
            "ApiVersionParameter" => {
                serde_json::json!({"name": "api-version", "in": "query", "required": true, "type": "string", "enum": [self.api_version()]})
            }
            "SubscriptionIdParameter" => {
                serde_json::json!({"name": "subscriptionId", "in": "path", "required": true, "type": "string", "format": "uuid"})
            }
            "ResourceGroupNameParameter" => {
                serde_json::json!({"name": "resourceGroupName", "in": "path", "required": true, "type": "string", "minLength": 1, "maxLength": 90, "x-pattern": "resource-group"})
            }
            other => serde_json::json!({"name": other, "in": "unknown"}),
        }
    }

    fn check_scalar(&self, p: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let s = v.as_str().unwrap_or_default();
        if p["required"].as_bool() == Some(true) && s.is_empty() {
            errors.push(format!("{at} is required"));
            return;
        }
        if let Some(e) = p["enum"].as_array() {
            if !e.iter().any(|x| x.as_str() == Some(s)) {
                errors.push(format!("{at} is {s:?}; allowed: {}", list(e)));
            }
        }
        if p["format"] == "uuid" && !is_uuid(s) {
            errors.push(format!("{at} is {s:?}; allowed: a UUID"));
        }
        if let Some(max) = p["maxLength"].as_u64() {
            if s.chars().count() as u64 > max {
                errors.push(format!("{at} is longer than {max} characters"));
            }
        }
        if p["x-pattern"] == "resource-group"
            && !s
                .chars()
                .all(|c| c.is_alphanumeric() || "-_.()".contains(c))
        {
            errors.push(format!("{at} is {s:?}; allowed: ^[-\\w\\._\\(\\)]+$"));
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut s = schema;
        for _ in 0..16 {
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) => match r.strip_prefix("#/definitions/") {
                    Some(name) => s = &self.doc["definitions"][name],
                    None => return s,
                },
                None => return s,
            }
        }
        s
    }

    /// All properties of a schema, its `allOf` parents included.
    fn properties(&self, schema: &Value, out: &mut Map<String, Value>, required: &mut Vec<String>) {
        let s = self.resolve(schema);
        for parent in s["allOf"].as_array().into_iter().flatten() {
            self.properties(parent, out, required);
        }
        if let Some(p) = s["properties"].as_object() {
            for (k, v) in p {
                out.insert(k.clone(), v.clone());
            }
        }
        for r in s["required"].as_array().into_iter().flatten() {
            if let Some(r) = r.as_str() {
                required.push(r.to_string());
            }
        }
    }

    /// Checks `v` against `schema` at `at`, pushing one message per problem.
    pub fn check(&self, v: &Value, schema: &Value, at: &str, side: Side, errors: &mut Vec<String>) {
        let s = self.resolve(schema);
        let ty = s["type"].as_str().or_else(|| {
            (s.get("properties").is_some() || s.get("allOf").is_some()).then_some("object")
        });
        match ty {
            Some("object") => {
                let Some(obj) = v.as_object() else {
                    errors.push(format!("{at}: expected an object, got {}", kind(v)));
                    return;
                };
                let mut props = Map::new();
                let mut required = Vec::new();
                self.properties(s, &mut props, &mut required);
                for r in &required {
                    if !obj.contains_key(r) {
                        errors.push(format!("{at}.{r} is required"));
                    }
                }
                for (k, val) in obj {
                    let here = format!("{at}.{k}");
                    match props.get(k) {
                        Some(ps) => {
                            let readonly = ps["readOnly"].as_bool() == Some(true)
                                || self.resolve(ps)["readOnly"].as_bool() == Some(true);
                            if readonly && side == Side::Request {
                                errors.push(format!("{here} is read-only; it must not be sent"));
                            }
                            self.check(val, ps, &here, side, errors);
                        }
                        None => match s.get("additionalProperties") {
                            Some(ap) if ap.is_object() => self.check(val, ap, &here, side, errors),
                            Some(Value::Bool(true)) => {}
                            _ => errors.push(format!(
                                "{here} is not a property of this object; allowed: {}",
                                props.keys().cloned().collect::<Vec<_>>().join(", ")
                            )),
                        },
                    }
                }
            }
            Some("array") => match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item, &s["items"], &format!("{at}[{i}]"), side, errors);
                    }
                }
                None => errors.push(format!("{at}: expected an array, got {}", kind(v))),
            },
            Some("string") => match v.as_str() {
                Some(x) => {
                    if let Some(e) = s["enum"].as_array() {
                        if !e.iter().any(|y| y.as_str() == Some(x)) {
                            errors.push(format!("{at} is {x:?}; allowed: {}", list(e)));
                        }
                    }
                }
                None => errors.push(format!("{at}: expected a string, got {}", kind(v))),
            },
            Some("integer") => {
                let ok = match s["format"].as_str() {
                    Some("int32") => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                    _ => v.as_i64().is_some(),
                };
                if !ok {
                    errors.push(format!(
                        "{at}: expected an integer ({}), got {v}",
                        s["format"].as_str().unwrap_or("int64")
                    ));
                }
            }
            Some("number") if !v.is_number() => {
                errors.push(format!("{at}: expected a number, got {}", kind(v)))
            }
            Some("boolean") if !v.is_boolean() => {
                errors.push(format!("{at}: expected a boolean, got {}", kind(v)))
            }
            _ => {}
        }
    }
}

fn list(e: &[Value]) -> String {
    e.iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Matches raw (still percent-encoded) segments to a template; literals compare
/// case-insensitively, as ARM does.
fn match_path(template: &[String], segs: &[String]) -> Option<Map<String, Value>> {
    if template.len() != segs.len() {
        return None;
    }
    let mut params = Map::new();
    for (t, s) in template.iter().zip(segs) {
        if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            let decoded = percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned();
            params.insert(name.to_string(), Value::String(decoded));
        } else if !t.eq_ignore_ascii_case(s) {
            return None;
        }
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sw() -> Swagger {
        Swagger::load().expect("swagger loads")
    }

    const P: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/trafficmanagerprofiles/fleet-x";

    fn q() -> Vec<(String, String)> {
        vec![("api-version".into(), "2022-04-01".into())]
    }

    #[test]
    fn a_good_profile_body_passes() {
        let body = serde_json::json!({"location": "global", "tags": {"a": "b"}, "properties": {"profileStatus": "Enabled", "trafficRoutingMethod": "Weighted", "dnsConfig": {"relativeName": "ns-web", "ttl": 60}, "monitorConfig": {"protocol": "HTTP", "port": 80, "path": "/"}}});
        let m = sw().check_request("PUT", P, &q(), Some(&body)).unwrap();
        assert_eq!(m.operation_id, "Profiles_CreateOrUpdate");
    }

    #[test]
    fn unknown_properties_enums_types_readonly_and_api_version_are_rejected() {
        let body = serde_json::json!({"location": "global", "properties": {"trafficRoutingMethod": "Random", "dnsConfig": {"relativeName": "x", "ttl": "60", "fqdn": "x.trafficmanager.net"}, "bogus": 1}});
        let e = sw().check_request("PUT", P, &q(), Some(&body)).unwrap_err();
        let all = e.join("\n");
        assert!(all.contains("trafficRoutingMethod is \"Random\""), "{all}");
        assert!(all.contains("ttl: expected an integer"), "{all}");
        assert!(all.contains("fqdn is read-only"), "{all}");
        assert!(all.contains("bogus is not a property"), "{all}");
        let e = sw()
            .check_request(
                "GET",
                P,
                &[("api-version".into(), "2018-08-01".into())],
                None,
            )
            .unwrap_err();
        assert!(e[0].contains("api-version"), "{e:?}");
        let e = sw()
            .check_request(
                "PUT",
                &format!("{P}/FooEndpoints/e"),
                &q(),
                Some(&serde_json::json!({})),
            )
            .unwrap_err();
        assert!(e.join(" ").contains("endpointType"), "{e:?}");
    }
}
