//! The ARM client: one request at a time, at most `maxRequestsPerSecond`, never
//! before a `Retry-After` has passed, with a bearer token from [`TokenSource`].
//!
//! Errors carry method, path and ARM's error code and message, never a token.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::auth::{AuthError, TokenSource};
use crate::call::{Call, Method};
use crate::metrics::ArmMetrics;

/// Per-request time limit.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Wait after a 429 that carries no usable Retry-After.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Why an ARM call failed.
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// No ARM token could be had.
    #[error("no ARM token: {0}")]
    Auth(#[from] AuthError),
    /// No HTTP response came (connect, TLS, timeout).
    #[error("{method} {path}: {error}")]
    Transport {
        /// HTTP method (`GET`, `PUT` or `DELETE`).
        method: &'static str,
        /// ARM path of the call, without host and api-version.
        path: String,
        /// The transport error and its causes.
        error: String,
    },
    /// ARM answered with an error status (anything but 2xx, or 404 to a GET or DELETE).
    #[error("{method} {path}: HTTP {status} {code}: {message}")]
    Status {
        /// HTTP method (`GET`, `PUT` or `DELETE`).
        method: &'static str,
        /// ARM path of the call, without host and api-version.
        path: String,
        /// The HTTP status.
        status: u16,
        /// ARM's `error.code` (empty when absent).
        code: String,
        /// ARM's `error.message` (empty when absent).
        message: String,
        /// The `Retry-After` header (whole seconds), when ARM sent one.
        retry_after: Option<Duration>,
    },
}

impl ArmError {
    /// The HTTP status, when ARM answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ArmError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// `Retry-After` of a 429 (or 503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ArmError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What a successful call returned.
#[derive(Debug)]
pub struct ArmResponse {
    /// The HTTP status: 2xx, or 404 for a GET or DELETE of something absent.
    pub status: u16,
    /// The JSON body (Null when empty or on 404).
    pub body: Value,
}

/// Sends [`Call`]s to one ARM endpoint.
pub struct ArmClient {
    http: reqwest::Client,
    base: String,
    tokens: Arc<TokenSource>,
    metrics: ArmMetrics,
    spacing: Duration,
    /// Earliest time of the next request: rate bound and Retry-After in one place.
    next: Mutex<Instant>,
}

impl ArmClient {
    /// A client for the ARM endpoint `base` (no trailing slash) that sends at most
    /// `max_requests_per_second` requests a second (at least 1).
    pub fn new(
        http: reqwest::Client,
        base: String,
        tokens: Arc<TokenSource>,
        metrics: ArmMetrics,
        max_requests_per_second: u32,
    ) -> Self {
        Self {
            http,
            base,
            tokens,
            metrics,
            spacing: Duration::from_secs(1) / max_requests_per_second.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// A reqwest client suitable for ARM and the token endpoints.
    pub fn http() -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .user_agent(concat!("fleetdns/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .build()
    }

    /// Sends one call. A 404 answers `Ok` with status 404 (GET: no such profile;
    /// DELETE: already gone); any other non-2xx is an [`ArmError::Status`].
    pub async fn send(&self, call: &Call) -> Result<ArmResponse, ArmError> {
        let token = self.tokens.token().await?;
        let method = call.method.as_str();
        let mut next = self.next.lock().await;
        tokio::time::sleep_until(*next).await;
        let url = call.url(&self.base);
        let mut req = match call.method {
            Method::Get => self.http.get(&url),
            Method::Put => self.http.put(&url),
            Method::Delete => self.http.delete(&url),
        }
        .bearer_auth(token.expose());
        if let Some(body) = &call.body {
            req = req
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(body).expect("JSON encodes"));
        }
        let sent = Instant::now();
        let result = req.send().await;
        *next = Instant::now().max(sent + self.spacing);
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                self.metrics
                    .requests
                    .with_label_values(&[method, "error"])
                    .inc();
                return Err(ArmError::Transport {
                    method,
                    path: call.path.clone(),
                    error: error_chain(&e.without_url()),
                });
            }
        };
        let status = resp.status().as_u16();
        self.metrics
            .requests
            .with_label_values(&[method, &status.to_string()])
            .inc();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp.bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        debug!(method, path = %call.path, status, "ARM call");
        if (200..300).contains(&status) || status == 404 && call.method != Method::Put {
            return Ok(ArmResponse { status, body });
        }
        if status == 429 {
            let wait = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
            *next = (*next).max(Instant::now() + wait);
            warn!(method, path = %call.path, retry_after_s = wait.as_secs(), "ARM throttled; no request before Retry-After");
        }
        if status == 401 {
            self.tokens.invalidate().await;
        }
        let err = body.get("error");
        let text = |k: &str| {
            err.and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Err(ArmError::Status {
            method,
            path: call.path.clone(),
            status,
            code: text("code"),
            message: text("message"),
            retry_after,
        })
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    for _ in 0..8 {
        let Some(c) = next else { break };
        s.push_str(": ");
        s.push_str(&c.to_string());
        next = c.source();
    }
    s
}
