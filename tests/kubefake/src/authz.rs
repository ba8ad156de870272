//! Authorization: everything is allowed except what a test denies, and
//! `authorization.k8s.io/v1` `SelfSubjectAccessReview` answers from the same rules, so a
//! client's permission check and its real requests agree.
//!
//! A denied request gets the apiserver's 403 `Forbidden` Status (`<resource>.<group> is
//! forbidden: User "<u>" cannot <verb> resource "<resource>" in API group "<group>" …`).
//! The user is the bearer token (there are no identities here), `system:anonymous` without one.

use serde_json::{json, Value};

use crate::status::ApiError;

/// The group and version of access reviews.
pub const GROUP: &str = "authorization.k8s.io";
/// The resource clients create to ask "may I?".
pub const SSAR: &str = "selfsubjectaccessreviews";

/// One denied (verb, group, resource) triple; `*` matches anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deny {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: String,
    /// API group, `""` for core.
    pub group: String,
    /// Resource plural, with `/status` for the subresource.
    pub resource: String,
}

impl Deny {
    fn matches(&self, verb: &str, group: &str, resource: &str) -> bool {
        let m = |rule: &str, v: &str| rule == "*" || rule == v;
        m(&self.verb, verb) && m(&self.group, group) && m(&self.resource, resource)
    }
}

/// What one request asks to do.
pub struct Attributes<'a> {
    /// Kubernetes verb.
    pub verb: &'a str,
    /// API group.
    pub group: &'a str,
    /// Resource (plural, `/status` for the subresource).
    pub resource: &'a str,
    /// Namespace, if namespaced.
    pub namespace: Option<&'a str>,
}

/// Whether `rules` allow `a`.
pub fn allowed(rules: &[Deny], a: &Attributes<'_>) -> bool {
    !rules.iter().any(|d| d.matches(a.verb, a.group, a.resource))
}

/// The 403 a denied request gets.
pub fn forbidden(user: &str, a: &Attributes<'_>) -> ApiError {
    let (plural, sub) = a.resource.split_once('/').unwrap_or((a.resource, ""));
    let qualified = if a.group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{}", a.group)
    };
    let what = if sub.is_empty() {
        format!("resource \"{plural}\"")
    } else {
        format!("resource \"{plural}/{sub}\"")
    };
    let scope = match a.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let mut e = ApiError::new(
        403,
        "Forbidden",
        format!(
            "{qualified} is forbidden: User \"{user}\" cannot {} {what} in API group \"{}\" {scope}",
            a.verb, a.group
        ),
    );
    e.details.group = Some(a.group.to_string());
    e.details.kind = Some(plural.to_string());
    e
}

/// The answer to a `SelfSubjectAccessReview` create: the review with `status.allowed`.
pub fn review(rules: &[Deny], body: &Value) -> Result<Value, ApiError> {
    let attrs = body
        .pointer("/spec/resourceAttributes")
        .ok_or_else(|| {
            ApiError::new(
                422,
                "Invalid",
                "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        })?;
    let s = |k: &str| attrs.get(k).and_then(Value::as_str).unwrap_or("");
    let resource = if s("subresource").is_empty() {
        s("resource").to_string()
    } else {
        format!("{}/{}", s("resource"), s("subresource"))
    };
    let ok = allowed(
        rules,
        &Attributes {
            verb: s("verb"),
            group: s("group"),
            resource: &resource,
            namespace: None,
        },
    );
    let mut out = json!({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": format!("{GROUP}/v1"),
        "metadata": {"creationTimestamp": null},
        "spec": body.get("spec").cloned().unwrap_or_else(|| json!({})),
        "status": {"allowed": ok},
    });
    if !ok {
        out["status"]["reason"] = json!("denied by kubefake (FakeCluster::deny)");
    }
    Ok(out)
}

/// The discovery entry of the group version (`/apis/authorization.k8s.io/v1`).
pub fn resource_list() -> Value {
    json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{GROUP}/v1"),
        "resources": [{"name": SSAR, "singularName": "selfsubjectaccessreview", "namespaced": false,
                       "kind": "SelfSubjectAccessReview", "verbs": ["create"]}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_verbs_are_forbidden_and_reviewed_as_such() {
        let rules = vec![Deny {
            verb: "watch".into(),
            group: "".into(),
            resource: "services".into(),
        }];
        let a = Attributes {
            verb: "watch",
            group: "",
            resource: "services",
            namespace: None,
        };
        assert!(!allowed(&rules, &a));
        assert_eq!(
            forbidden("me", &a).message,
            "services is forbidden: User \"me\" cannot watch resource \"services\" in API group \"\" at the cluster scope"
        );
        let body =
            json!({"spec": {"resourceAttributes": {"verb": "list", "resource": "services"}}});
        assert_eq!(review(&rules, &body).unwrap()["status"]["allowed"], true);
        let body =
            json!({"spec": {"resourceAttributes": {"verb": "watch", "resource": "services"}}});
        assert_eq!(review(&rules, &body).unwrap()["status"]["allowed"], false);
    }
}
