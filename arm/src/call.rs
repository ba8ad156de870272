//! One ARM request as plain data, so plans can be printed (`--dry-run`), compared in
//! tests and sent by [`crate::ArmClient`] alike.

use std::fmt;

/// HTTP verb of an ARM call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// `GET`: read a resource.
    Get,
    /// `PUT`: create or replace a resource.
    Put,
    /// `DELETE`: remove a resource.
    Delete,
}

impl Method {
    /// The verb as sent (`GET`, `PUT`, `DELETE`); also the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One ARM request.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// HTTP method.
    pub method: Method,
    /// Path without host and without query, percent-encoded by the caller.
    pub path: String,
    /// The `api-version` query parameter (each resource provider has its own).
    pub api_version: &'static str,
    /// JSON body (PUT).
    pub body: Option<serde_json::Value>,
    /// A whole query string to send instead of `api-version=…` (a list's `nextLink`).
    pub query: Option<String>,
}

impl Call {
    /// A GET of `path` at `api_version`.
    pub fn get(path: String, api_version: &'static str) -> Self {
        Self {
            method: Method::Get,
            path,
            api_version,
            body: None,
            query: None,
        }
    }

    /// The GET of a list page's `nextLink`, if it points under `arm_endpoint`
    /// (a link elsewhere is refused: the bearer token must not leave ARM).
    pub fn next_link(link: &str, arm_endpoint: &str, api_version: &'static str) -> Option<Self> {
        let rest = link.strip_prefix(arm_endpoint.trim_end_matches('/'))?;
        if !rest.starts_with('/') {
            return None;
        }
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        Some(Self {
            method: Method::Get,
            path: path.to_string(),
            api_version,
            body: None,
            query: (!query.is_empty()).then(|| query.to_string()),
        })
    }

    /// A DELETE of `path` at `api_version`.
    pub fn delete(path: String, api_version: &'static str) -> Self {
        Self {
            method: Method::Delete,
            path,
            api_version,
            body: None,
            query: None,
        }
    }

    /// A PUT of `body` to `path` at `api_version`.
    pub fn put(path: String, api_version: &'static str, body: serde_json::Value) -> Self {
        Self {
            method: Method::Put,
            path,
            api_version,
            body: Some(body),
            query: None,
        }
    }

    /// The full URL under `arm_endpoint`, with the api-version.
    pub fn url(&self, arm_endpoint: &str) -> String {
        match &self.query {
            Some(q) => format!("{arm_endpoint}{}?{q}", self.path),
            None => format!(
                "{arm_endpoint}{}?api-version={}",
                self.path, self.api_version
            ),
        }
    }

    /// `PUT https://…?api-version=…` and the body, pretty-printed (dry run).
    pub fn render(&self, arm_endpoint: &str) -> String {
        let mut s = format!("{} {}", self.method.as_str(), self.url(arm_endpoint));
        if let Some(b) = &self.body {
            s.push('\n');
            s.push_str(&serde_json::to_string_pretty(b).unwrap_or_default());
        }
        s
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_stay_on_the_arm_endpoint() {
        let c = Call::next_link(
            "https://arm.test/subscriptions/s/x?api-version=2022-04-01&$skiptoken=2",
            "https://arm.test",
            "2022-04-01",
        )
        .unwrap();
        assert_eq!(
            c.url("https://arm.test"),
            "https://arm.test/subscriptions/s/x?api-version=2022-04-01&$skiptoken=2"
        );
        assert!(
            Call::next_link("https://evil.test/subscriptions/s", "https://arm.test", "v").is_none()
        );
        assert!(Call::next_link("https://arm.test.evil/x", "https://arm.test", "v").is_none());
    }
}
