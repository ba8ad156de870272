//! API errors as the apiserver reports them: a `metav1.Status` object with an HTTP code.
//!
//! kube-rs turns any 4xx/5xx body that parses as a `Status` into `kube::Error::Api`, and the
//! watcher looks at `code` (410) of `ERROR` watch events, so these objects must have the real
//! shape: `kind: Status`, `apiVersion: v1`, `status: Failure`, `reason`, `message`, `code`,
//! `details`.

use serde_json::{json, Value};
use std::fmt;

/// One field-level cause of a 422 Invalid (`details.causes[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, `FieldValueForbidden`…
    pub reason: String,
    /// Field path, e.g. `spec.monitorConfig.timeoutInSeconds` (empty for the object itself).
    pub field: String,
    /// Human message as the apiserver writes it, without the field prefix.
    pub message: String,
}

/// A failed API request: what the fake answers with as a `Status` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code (also `Status.code`).
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `Expired`.
    pub reason: String,
    /// `Status.message`.
    pub message: String,
    /// `Status.details` (boxed: errors travel in `Result`s everywhere).
    pub details: Box<Details>,
}

/// `Status.details`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    /// `details.name`.
    pub name: Option<String>,
    /// `details.group`.
    pub group: Option<String>,
    /// `details.kind` (the resource plural for most errors, the Kind for Invalid).
    pub kind: Option<String>,
    /// `details.causes`.
    pub causes: Vec<Cause>,
    /// `details.retryAfterSeconds` (Timeout errors).
    pub retry_after_seconds: Option<u64>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// A bare error without details.
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason.into(),
            message: message.into(),
            details: Box::default(),
        }
    }

    fn with_details(mut self, qualified: &Qualified<'_>, name: &str) -> Self {
        self.details.name = Some(name.to_string());
        self.details.group = Some(qualified.group.to_string());
        self.details.kind = Some(qualified.plural.to_string());
        self
    }

    /// 404 `<plural>.<group> "<name>" not found`.
    pub fn not_found(q: &Qualified<'_>, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{q} \"{name}\" not found")).with_details(q, name)
    }

    /// 409 `<plural>.<group> "<name>" already exists`.
    pub fn already_exists(q: &Qualified<'_>, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{q} \"{name}\" already exists"),
        )
        .with_details(q, name)
    }

    /// 409 Conflict, the optimistic-concurrency failure (stale `resourceVersion`).
    pub fn conflict(q: &Qualified<'_>, name: &str) -> Self {
        Self::conflict_because(
            q,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409 Conflict with a specific explanation.
    pub fn conflict_because(q: &Qualified<'_>, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {q} \"{name}\": {why}"),
        )
        .with_details(q, name)
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 422 Invalid: `<Kind>.<group> "<name>" is invalid: <causes>`, with the causes listed.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let qualified_kind = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let parts: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    format!("<nil>: {}", c.message)
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let joined = if parts.len() == 1 {
            parts[0].clone()
        } else {
            format!("[{}]", parts.join(", "))
        };
        ApiError {
            code: 422,
            reason: "Invalid".into(),
            message: format!("{qualified_kind} \"{name}\" is invalid: {joined}"),
            details: Box::new(Details {
                name: Some(name.to_string()),
                group: Some(group.to_string()),
                kind: Some(kind.to_string()),
                causes,
                retry_after_seconds: None,
            }),
        }
    }

    /// 410 Expired: the requested resourceVersion is older than the kept history.
    pub fn expired(requested: u64, oldest: u64) -> Self {
        Self::new(
            410,
            "Expired",
            format!("too old resource version: {requested} ({oldest})"),
        )
    }

    /// 504 Timeout "Too large resource version" with a `ResourceVersionTooLarge` cause: what
    /// the apiserver answers a list or watch at a resourceVersion it has not reached (after an
    /// etcd restore, or against a store that started again from 1). client-go relists from
    /// scratch on it (`reflector.go`, `isTooLargeResourceVersionError`).
    pub fn too_large_rv(requested: u64, current: u64) -> Self {
        let mut e = Self::new(
            504,
            "Timeout",
            format!("Too large resource version: {requested}, current: {current}"),
        );
        e.details.causes.push(Cause {
            reason: "ResourceVersionTooLarge".into(),
            field: String::new(),
            message: "Too large resource version".into(),
        });
        e.details.retry_after_seconds = Some(1);
        e
    }

    /// 500 InternalError (used by fault injection).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        let mut details = serde_json::Map::new();
        let d = &self.details;
        if let Some(n) = &d.name {
            details.insert("name".into(), json!(n));
        }
        if let Some(g) = &d.group {
            details.insert("group".into(), json!(g));
        }
        if let Some(k) = &d.kind {
            details.insert("kind".into(), json!(k));
        }
        if !d.causes.is_empty() {
            let causes: Vec<Value> = d
                .causes
                .iter()
                .map(|c| {
                    let mut v = json!({"reason": c.reason, "message": c.message});
                    if !c.field.is_empty() {
                        v["field"] = json!(c.field);
                    }
                    v
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(s) = d.retry_after_seconds {
            details.insert("retryAfterSeconds".into(), json!(s));
        }
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// A resource's qualified name for messages: `trafficmanagerprofiles.networking.fleet.azure.com`,
/// or just `services` for the core group.
#[derive(Clone, Copy, Debug)]
pub struct Qualified<'a> {
    /// API group ("" for core).
    pub group: &'a str,
    /// Resource plural.
    pub plural: &'a str,
}

impl fmt::Display for Qualified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.plural)
        } else {
            write!(f, "{}.{}", self.plural, self.group)
        }
    }
}

/// The `Status` a successful immediate delete returns.
pub fn delete_success(group: &str, plural: &str, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": group, "kind": plural, "uid": uid},
    })
}
