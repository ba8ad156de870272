//! Discovery documents (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/<group>[/<version>]`),
//! enough for kube-rs `Discovery` and `kubectl api-resources`; `authorization.k8s.io/v1`
//! lists `selfsubjectaccessreviews` (see [`crate::authz`]).

use serde_json::{json, Value};

use crate::authz;
use crate::registry::{api_resources, Registry, ResourceType};

/// `authorization.k8s.io`, served for `SelfSubjectAccessReview` only.
fn authz_group() -> Value {
    let v = json!({"groupVersion": format!("{}/v1", authz::GROUP), "version": "v1"});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": authz::GROUP,
           "versions": [v.clone()], "preferredVersion": v})
}

/// Answers a discovery path, or None if `path` is not one.
pub fn answer(reg: &Registry, path: &str, server: &str) -> Option<Value> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => Some(json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-kubefake",
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc",
            "platform": "linux/amd64",
        })),
        ["api"] => Some(json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
        })),
        ["api", "v1"] => Some(resource_list(reg, "", "v1")),
        ["apis"] => {
            let mut groups: Vec<Value> = groups(reg).iter().map(|g| group_doc(reg, g)).collect();
            groups.push(authz_group());
            Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        ["apis", authz::GROUP] => Some(authz_group()),
        ["apis", authz::GROUP, "v1"] => Some(authz::resource_list()),
        ["apis", g] if groups(reg).iter().any(|x| x == g) => Some(group_doc(reg, g)),
        ["apis", g, v] => {
            let doc = resource_list(reg, g, v);
            (!doc["resources"].as_array().is_some_and(Vec::is_empty)).then_some(doc)
        }
        _ => None,
    }
}

fn groups(reg: &Registry) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in &reg.types {
        if !t.group.is_empty() && !out.contains(&t.group) {
            out.push(t.group.clone());
        }
    }
    out
}

fn versions_of(reg: &Registry, group: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in reg.types.iter().filter(|t| t.group == group) {
        for v in t.versions.iter().filter(|v| v.served) {
            if !out.contains(&v.name) {
                out.push(v.name.clone());
            }
        }
    }
    out.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
    out
}

/// Kubernetes version priority: GA > beta > alpha, then by major and minor number
/// (`v1` > `v1beta2` > `v1beta1` > `v1alpha1`); other names sort last.
pub fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<u32>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    let (class, num) = if tail.is_empty() {
        (3, "0")
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n)
    } else {
        return (0, 0, 0);
    };
    let minor = if class == 3 {
        0
    } else {
        num.parse().unwrap_or(0)
    };
    (class, major, minor)
}

fn group_doc(reg: &Registry, group: &str) -> Value {
    let versions: Vec<Value> = versions_of(reg, group)
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "kind": "APIGroup", "apiVersion": "v1", "name": group,
        "versions": versions, "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

fn resource_list(reg: &Registry, group: &str, version: &str) -> Value {
    let types: Vec<&ResourceType> = reg
        .types
        .iter()
        .filter(|t| t.group == group && t.version(version).is_some())
        .collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
        "resources": api_resources(&types),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_order() {
        let mut v = vec!["v1alpha1", "v1", "v1beta1", "v2beta1", "v1beta2"];
        v.sort_by_key(|x| std::cmp::Reverse(super::version_priority(x)));
        assert_eq!(v, ["v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1"]);
    }
}
