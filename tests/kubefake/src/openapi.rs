//! OpenAPI v3 documents (`/openapi/v3` and `/openapi/v3/<api|apis/g>/<v>`), so that kubectl
//! validates without `--validate=false`.
//!
//! kubectl 1.37 (`kubectl apply|create -v=8`) first reads the index, then the document of the
//! object's group version, and looks there for a PATCH operation tagged with the object's
//! `x-kubernetes-group-version-kind` that takes a `fieldValidation` query parameter
//! (cli-runtime `query_param_verifier_v3.go`). When it finds one it leaves validation to the
//! server (`fieldValidation=Strict`), which the fake does for CRDs with the upstream schemas.
//! So each document lists, per type, the collection and item paths with their verbs and
//! parameters, and `components.schemas` holds the CRD schemas (built-in types get an open
//! object schema: the fake does not validate them).

use serde_json::{json, Map, Value};

use crate::registry::{Registry, ResourceType};

/// Answers an OpenAPI v3 path, or None if `path` is not one (or names no served group version).
pub fn answer(reg: &Registry, path: &str) -> Option<Value> {
    let rest = path.trim_end_matches('/').strip_prefix("/openapi/v3")?;
    if rest.is_empty() {
        return Some(index(reg));
    }
    let gv = rest.strip_prefix('/')?;
    group_versions(reg)
        .into_iter()
        .find(|(_, _, p)| p == gv)
        .map(|(g, v, _)| document(reg, &g, &v))
}

/// (group, version, index key) of every served group version: `api/v1`, `apis/<g>/<v>`.
fn group_versions(reg: &Registry) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for t in &reg.types {
        for v in t.versions.iter().filter(|v| v.served) {
            let key = if t.group.is_empty() {
                format!("api/{}", v.name)
            } else {
                format!("apis/{}/{}", t.group, v.name)
            };
            if !out.iter().any(|(_, _, k)| *k == key) {
                out.push((t.group.clone(), v.name.clone(), key));
            }
        }
    }
    out
}

fn index(reg: &Registry) -> Value {
    let mut paths = Map::new();
    for (_, _, key) in group_versions(reg) {
        // A real server puts a content hash here; clients only pass it back.
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", hash(&key))}),
        );
    }
    json!({ "paths": paths })
}

/// A stable stand-in for the document hash (documents change only with the binary).
fn hash(key: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain(env!("CARGO_PKG_VERSION").bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

/// The schema name of a type: reversed group, version, kind (`io.k8s.api.core.v1.Service` for
/// core types, `com.azure.fleet.networking.v1beta1.TrafficManagerProfile` for CRDs).
fn schema_name(t: &ResourceType, version: &str) -> String {
    if t.custom {
        let reversed: Vec<&str> = t.group.split('.').rev().collect();
        format!("{}.{version}.{}", reversed.join("."), t.kind)
    } else {
        let group = match t.group.as_str() {
            "" => "core",
            g => g.split('.').next().unwrap_or(g),
        };
        format!("io.k8s.api.{group}.{version}.{}", t.kind)
    }
}

fn document(reg: &Registry, group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    for t in reg
        .types
        .iter()
        .filter(|t| t.group == group && t.version(version).is_some())
    {
        let gvk = json!([{"group": group, "version": version, "kind": t.kind}]);
        let name = schema_name(t, version);
        let mut schema = t
            .schema(version)
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or_else(
                || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
            );
        schema["x-kubernetes-group-version-kind"] = gvk.clone();
        schemas.insert(name.clone(), schema);
        let reference = json!({"$ref": format!("#/components/schemas/{name}")});
        let ns = if t.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let collection = format!("{prefix}{ns}/{}", t.plural);
        let item = format!("{collection}/{{name}}");
        paths.insert(
            collection,
            json!({
                "get": operation(t, "list", &gvk, &reference, &[]),
                "post": operation(t, "post", &gvk, &reference, WRITE_PARAMS),
                "delete": operation(t, "deletecollection", &gvk, &reference, &[]),
                "parameters": path_params(t.namespaced, false),
            }),
        );
        let item_ops = json!({
            "get": operation(t, "get", &gvk, &reference, &[]),
            "put": operation(t, "put", &gvk, &reference, WRITE_PARAMS),
            "patch": operation(t, "patch", &gvk, &reference, PATCH_PARAMS),
            "delete": operation(t, "delete", &gvk, &reference, &["dryRun"]),
            "parameters": path_params(t.namespaced, true),
        });
        if t.status_subresource {
            paths.insert(format!("{item}/status"), item_ops.clone());
        }
        paths.insert(item, item_ops);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0-kubefake"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];

fn operation(
    t: &ResourceType,
    action: &str,
    gvk: &Value,
    reference: &Value,
    params: &[&str],
) -> Value {
    let parameters: Vec<Value> = params
        .iter()
        .map(|p| {
            let ty = if *p == "force" { "boolean" } else { "string" };
            json!({"name": p, "in": "query", "schema": {"type": ty, "uniqueItems": true}})
        })
        .collect();
    let mut op = json!({
        "operationId": format!("{action}{}", t.kind),
        "parameters": parameters,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk[0],
    });
    if matches!(action, "post" | "put" | "patch") {
        let types: &[&str] = if action == "patch" {
            &[
                "application/apply-patch+yaml",
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ]
        } else {
            &["*/*"]
        };
        let content: Map<String, Value> = types
            .iter()
            .map(|ct| (ct.to_string(), json!({"schema": reference})))
            .collect();
        op["requestBody"] = json!({"content": content, "required": true});
    }
    op
}

fn path_params(namespaced: bool, item: bool) -> Value {
    let mut out = Vec::new();
    if item {
        out.push(json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string", "uniqueItems": true}}));
    }
    if namespaced {
        out.push(json!({"name": "namespace", "in": "path", "required": true, "schema": {"type": "string", "uniqueItems": true}}));
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What kubectl's verifier looks for: a PATCH of the GVK taking `fieldValidation`.
    #[test]
    fn every_type_has_a_patch_with_field_validation() {
        let reg = Registry::embedded().unwrap();
        let idx = answer(&reg, "/openapi/v3").unwrap();
        let url = idx["paths"]["apis/networking.fleet.azure.com/v1beta1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        let doc = answer(&reg, url.split('?').next().unwrap()).unwrap();
        let patch = &doc["paths"]
            ["/apis/networking.fleet.azure.com/v1beta1/namespaces/{namespace}/trafficmanagerprofiles/{name}"]
            ["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "TrafficManagerProfile"
        );
        assert!(patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query"));
        assert!(answer(&reg, "/openapi/v3/api/v1").unwrap()["paths"]
            .get("/api/v1/namespaces/{name}")
            .is_some());
        assert!(answer(&reg, "/openapi/v3/apis/nope/v1").is_none());
    }
}
