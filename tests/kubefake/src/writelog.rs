//! The write log: one record per mutating request (and per test-handle write), so tests can
//! assert who wrote what ("only the leader writes status", "every status write was
//! validated") by the bearer token and user agent each replica used.

use std::time::SystemTime;

/// One mutating request.
#[derive(Clone, Debug)]
pub struct WriteRecord {
    /// When the request arrived.
    pub time: SystemTime,
    /// `create`, `update`, `patch`, `apply`, `delete`, `deletecollection`.
    pub verb: String,
    /// HTTP method (`TEST` for writes through the Rust handle).
    pub method: String,
    /// Request path without the query.
    pub path: String,
    /// The query string.
    pub query: String,
    /// Resource plural (`trafficmanagerprofiles`).
    pub resource: String,
    /// Namespace of the URL, if any.
    pub namespace: Option<String>,
    /// Object name of the URL (for create: the stored name), if any.
    pub name: Option<String>,
    /// `status` for writes to the status subresource.
    pub subresource: Option<String>,
    /// Content-Type header.
    pub content_type: Option<String>,
    /// `fieldManager` query parameter.
    pub field_manager: Option<String>,
    /// User-Agent header.
    pub user_agent: Option<String>,
    /// The bearer token (`Authorization: Bearer …`), None for the Rust handle.
    pub token: Option<String>,
    /// The request body as JSON (YAML converted; None if empty or unparseable), e.g. the
    /// status a replica wrote.
    pub body: Option<serde_json::Value>,
    /// HTTP status answered.
    pub code: u16,
    /// `Status.reason` when rejected.
    pub reason: Option<String>,
    /// Whether the write changed the stored object (false for rejected, no-op and dry-run).
    pub changed: bool,
    /// Whether the request body was validated (admission ran). Always true for accepted
    /// creates/updates; false for deletes and requests refused before admission (faults, 404).
    pub validated: bool,
}

impl WriteRecord {
    /// Accepted (2xx)?
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// A write to the status subresource?
    pub fn is_status(&self) -> bool {
        self.subresource.as_deref() == Some("status")
    }

    /// The record as one JSON object (the `kubefake` binary's write log), time in RFC 3339.
    pub fn to_json(&self) -> serde_json::Value {
        let time = jiff::Timestamp::try_from(self.time)
            .map(|t| t.to_string())
            .unwrap_or_default();
        serde_json::json!({
            "time": time, "verb": self.verb, "method": self.method, "path": self.path,
            "query": self.query, "resource": self.resource, "namespace": self.namespace,
            "name": self.name, "subresource": self.subresource, "contentType": self.content_type,
            "fieldManager": self.field_manager, "userAgent": self.user_agent, "code": self.code,
            "reason": self.reason, "changed": self.changed, "validated": self.validated,
            "body": self.body,
        })
    }
}
