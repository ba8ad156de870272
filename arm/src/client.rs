//! The ARM client: at most `maxRequestsPerSecond`, never before a `Retry-After`
//! has passed, each request retried on its own (429, 5xx, 408, timeouts, resets,
//! one 401 after a token refresh) with the shared jittered [`Backoff`], with a
//! bearer token from [`TokenSource`].
//!
//! Every request carries a fresh `x-ms-client-request-id`; every failed attempt is
//! logged with it and with ARM's `x-ms-request-id` and `x-ms-correlation-request-id`
//! (what Azure support asks for), and errors carry them too. The
//! `x-ms-ratelimit-remaining-*` headers are exported as a gauge. Errors carry
//! method, path, ARM's error code, message and details, never a token.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fleetdns_config::backoff::Backoff;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::auth::TokenSource;
use crate::call::{Call, Method};
pub use crate::error::{ArmError, Blame, RequestIds};
use crate::headers::{retry_after, RATE_LIMIT_HEADERS};
use crate::metrics::ArmMetrics;

/// Default per-request time limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Wait after a 429 or 503 that carries no usable Retry-After.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);

/// How a client paces and retries.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Upper bound on requests per second (at least 1).
    pub max_requests_per_second: u32,
    /// Attempts per call, the first included (at least 1).
    pub attempts: u32,
    /// Delay between attempts (a `Retry-After` wins when longer).
    pub backoff: Backoff,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            max_requests_per_second: 10,
            attempts: 4,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(8))
                .expect("500 ms to 8 s is a valid backoff"),
        }
    }
}

/// What a successful call returned.
#[derive(Debug)]
pub struct ArmResponse {
    /// The HTTP status (2xx, or 404 to a GET or DELETE).
    pub status: u16,
    /// The JSON body (Null when empty or on 404).
    pub body: Value,
    /// Ours and ARM's request ids.
    pub ids: RequestIds,
}

/// Sends [`Call`]s to one ARM endpoint.
pub struct ArmClient {
    http: reqwest::Client,
    base: String,
    tokens: Arc<TokenSource>,
    metrics: ArmMetrics,
    spacing: Duration,
    options: ClientOptions,
    /// Earliest time of the next request: rate bound and Retry-After in one place.
    next: Mutex<Instant>,
}

impl ArmClient {
    /// A client for the ARM endpoint `base` (no trailing slash).
    pub fn new(
        http: reqwest::Client,
        base: String,
        tokens: Arc<TokenSource>,
        metrics: ArmMetrics,
        options: ClientOptions,
    ) -> Self {
        Self {
            http,
            base,
            tokens,
            metrics,
            spacing: Duration::from_secs(1) / options.max_requests_per_second.max(1),
            options,
            next: Mutex::new(Instant::now()),
        }
    }

    /// A reqwest client suitable for ARM and the token endpoints; `timeout` bounds
    /// each request from connect to the last body byte.
    pub fn http(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .user_agent(concat!("fleetdns/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .build()
    }

    /// Sends one call, retrying what may succeed on a second try. A 404 answers
    /// `Ok` with status 404 (GET: no such resource; DELETE: already gone); any
    /// other non-2xx is an [`ArmError::Status`].
    pub async fn send(&self, call: &Call) -> Result<ArmResponse, ArmError> {
        let mut backoff = self.options.backoff.clone();
        let attempts = self.options.attempts.max(1);
        let mut attempt = 1;
        loop {
            let err = match self.send_once(call).await {
                Ok(r) => return Ok(r),
                Err(e) => e,
            };
            let ids = err.ids().map(ToString::to_string).unwrap_or_default();
            if !err.retryable() || attempt >= attempts {
                warn!(method = call.method.as_str(), path = %call.path, attempt, status = err.status(), code = err.code(), ids = %ids, error = %err, "ARM call failed");
                return Err(err);
            }
            let wait = backoff
                .next_delay()
                .max(err.retry_after().unwrap_or_default());
            warn!(method = call.method.as_str(), path = %call.path, attempt, status = err.status(), code = err.code(), ids = %ids, retry_in_ms = wait.as_millis() as u64, error = %err, "ARM call failed; retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One attempt.
    async fn send_once(&self, call: &Call) -> Result<ArmResponse, ArmError> {
        let token = self.tokens.token().await?;
        let method = call.method.as_str();
        let mut ids = RequestIds {
            client: client_request_id(),
            ..RequestIds::default()
        };
        let mut next = self.next.lock().await;
        tokio::time::sleep_until(*next).await;
        let url = call.url(&self.base);
        let mut req = match call.method {
            Method::Get => self.http.get(&url),
            Method::Put => self.http.put(&url),
            Method::Delete => self.http.delete(&url),
        }
        .bearer_auth(token.expose())
        .header("x-ms-client-request-id", &ids.client);
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
                    timeout: e.is_timeout(),
                    error: error_chain(&e.without_url()),
                    ids,
                });
            }
        };
        let status = resp.status().as_u16();
        self.metrics
            .requests
            .with_label_values(&[method, &status.to_string()])
            .inc();
        let headers = resp.headers().clone();
        let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
        ids.request = header("x-ms-request-id").map(str::to_string);
        ids.correlation = header("x-ms-correlation-request-id").map(str::to_string);
        for suffix in RATE_LIMIT_HEADERS {
            let name = format!("x-ms-ratelimit-remaining-{suffix}");
            if let Some(n) = header(&name).and_then(|v| v.trim().parse::<i64>().ok()) {
                self.metrics.rate_limit.with_label_values(&[suffix]).set(n);
            }
        }
        let retry_after = retry_after(header, SystemTime::now());
        let bytes = resp.bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        debug!(method, path = %call.path, status, client_request_id = %ids.client, request_id = ids.request.as_deref(), "ARM call");
        if (200..300).contains(&status) || status == 404 && call.method != Method::Put {
            return Ok(ArmResponse { status, body, ids });
        }
        if status == 429 || status == 503 {
            let wait = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
            *next = (*next).max(Instant::now() + wait);
            warn!(method, path = %call.path, status, retry_after_ms = wait.as_millis() as u64, "ARM asked to slow down; no request before Retry-After");
        }
        if status == 401 {
            self.tokens.invalidate().await;
        }
        let err = body.get("error");
        let text = |v: Option<&Value>, k: &str| {
            v.and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let details = err
            .and_then(|e| e.get("details"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|d| format!("{}: {}", text(Some(d), "code"), text(Some(d), "message")))
            .collect();
        Err(ArmError::Status {
            method,
            path: call.path.clone(),
            status,
            code: text(err, "code"),
            message: text(err, "message"),
            details,
            retry_after,
            ids,
        })
    }
}

/// A random UUID-shaped id (version 4 layout) for `x-ms-client-request-id`.
fn client_request_id() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
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
