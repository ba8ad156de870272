//! Entra ID access tokens for one [`Resource`] (ARM, or the AKS AAD server app):
//! client secret, workload identity (federated token file), managed identity
//! (IMDS) and the Azure CLI's login, cached and refreshed before they expire.
//! The authority host comes from the config, else `AZURE_AUTHORITY_HOST` (set by
//! the workload identity webhook), else public Azure's.
//!
//! Why not the `azure_identity` crate (checked against the released crates,
//! azure_identity 1.0.0 / azure_core 1.0.0 / typespec_client_core 1.1.0): the TLS
//! argument no longer holds. With its default features it pulls aws-lc-rs
//! (azure_core's default `reqwest_rustls` turns on reqwest's `rustls`), but with
//! `default-features = false` plus azure_core's `reqwest` and `tokio` features
//! `cargo tree -i aws-lc-rs` finds nothing, and `Transport::new(Arc<dyn HttpClient>)`
//! takes our ring-based reqwest client. (1.1.0-beta.1 adds an azure_identity
//! `reqwest` feature that turns `reqwest/rustls` back on; it must stay off.)
//! It is still not adopted, for what it would change: it reads the IMDS address
//! and authority from the environment only (our tests and sovereign clouds set
//! them in the config), its cache refreshes on its own schedule (the refresh
//! tests pin ours), and it brings azure_core's pipeline, ~30 crates, for four
//! form posts and one subprocess. Revisit when the mirror needs a flow we lack
//! (client certificates, App Service/Arc identity).
//!
//! A token is refreshed after 80% of its lifetime (at most 5 minutes before
//! expiry for long-lived tokens), by a background task or by the first request
//! after that, whichever comes first. The federated token file is
//! re-read on every refresh, because the projected token rotates. If a refresh
//! fails while the old token is still valid, the old one is used and the failure
//! counted. Tokens and secrets are [`Secret`]s: no log line or error shows them.

use std::time::Duration;

use fleetdns_config::azure::{AzureAuth, SecretSource};
use fleetdns_config::secret::Secret;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::metrics::ArmMetrics;

/// Why no token could be had. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The client secret could not be read.
    #[error("reading the client secret from {source_name}: {error}")]
    Secret {
        /// Where it was looked for: `environment variable <name>` or `file <path>`.
        source_name: String,
        /// Why reading failed.
        error: String,
    },
    /// The federated token file (workload identity) could not be read.
    #[error("reading the federated token file {path}: {error}")]
    TokenFile {
        /// The file.
        path: String,
        /// Why reading failed.
        error: String,
    },
    /// No HTTP response came from the token endpoint.
    #[error("token request to {url} failed: {error}")]
    Transport {
        /// The token endpoint.
        url: String,
        /// The transport error (without the URL).
        error: String,
    },
    /// The token endpoint answered with a status other than 200.
    #[error("token endpoint {url} answered HTTP {status} ({error})")]
    Status {
        /// The token endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code only (`no error code` when absent); descriptions may echo request
        /// details.
        error: String,
    },
    /// A 200 response without a usable `access_token` and `expires_in`.
    #[error("token endpoint {url} sent a response without access_token and expires_in")]
    Malformed {
        /// The token endpoint.
        url: String,
    },
    /// The Azure CLI credential failed (not logged in, not installed, bad output).
    #[error("`az account get-access-token` failed: {error}")]
    AzureCli {
        /// What went wrong: the exit status and az's first error line, never a token.
        error: String,
    },
}

/// What a token is for: an Entra ID resource such as `https://management.azure.com/`
/// (ARM) or `6dae42f8-4368-4678-94ff-3960e28e3630` (the AKS AAD server app).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource(pub String);

impl Resource {
    /// ARM at `arm_endpoint` (no trailing slash): resource `<endpoint>/`.
    pub fn arm(arm_endpoint: &str) -> Self {
        Self(format!("{}/", arm_endpoint.trim_end_matches('/')))
    }

    /// The v2 scope: `<resource without trailing slash>/.default`.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.0.trim_end_matches('/'))
    }

    /// The v1 `resource` parameter (IMDS), as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

struct Cached {
    token: Secret,
    refresh_at: Instant,
    expires_at: Instant,
}

/// Hands out a valid token for one resource; fetches a new one when due.
pub struct TokenSource {
    auth: AzureAuth,
    authority: String,
    resource: Resource,
    http: reqwest::Client,
    metrics: ArmMetrics,
    cache: Mutex<Option<Cached>>,
}

impl TokenSource {
    /// A token source for `resource`, with `authority` (no trailing slash) as the
    /// Entra ID host of the client-secret and workload-identity flows.
    pub fn new(
        auth: AzureAuth,
        authority: String,
        resource: Resource,
        http: reqwest::Client,
        metrics: ArmMetrics,
    ) -> Self {
        Self {
            auth,
            authority,
            resource,
            http,
            metrics,
            cache: Mutex::new(None),
        }
    }

    fn method(&self) -> &'static str {
        match self.auth {
            AzureAuth::ClientSecret { .. } => "clientSecret",
            AzureAuth::WorkloadIdentity { .. } => "workloadIdentity",
            AzureAuth::ManagedIdentity { .. } => "managedIdentity",
            AzureAuth::AzureCli => "azureCli",
        }
    }

    /// When the cached token is due for refresh (`None`: no token yet).
    pub async fn refresh_at(&self) -> Option<Instant> {
        self.cache.lock().await.as_ref().map(|c| c.refresh_at)
    }

    /// Keeps the token fresh in the background: refreshes it when due even if no
    /// ARM request needs it then, so a token never expires unused and the next
    /// request does not wait for a token round trip. Ends when `source` is dropped.
    pub fn spawn_refresher(source: &std::sync::Arc<TokenSource>) {
        let weak = std::sync::Arc::downgrade(source);
        tokio::spawn(async move {
            loop {
                let Some(ts) = weak.upgrade() else { return };
                let now = Instant::now();
                let due = ts
                    .refresh_at()
                    .await
                    .unwrap_or(now + Duration::from_secs(1));
                drop(ts);
                // Never spin: at least 200 ms between checks, 1 s after a failed refresh.
                tokio::time::sleep_until(due.max(now + Duration::from_millis(200))).await;
                let Some(ts) = weak.upgrade() else { return };
                if ts.refresh_at().await.is_some_and(|r| Instant::now() >= r)
                    && ts.token().await.is_err()
                {
                    drop(ts);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
    }

    /// Forgets the cached token (ARM answered 401).
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    /// A token valid now, refreshed first when due.
    pub async fn token(&self) -> Result<Secret, AuthError> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        if let Some(c) = cache.as_ref().filter(|c| now < c.refresh_at) {
            return Ok(c.token.clone());
        }
        match self.fetch().await {
            Ok((token, lifetime)) => {
                self.metrics
                    .tokens
                    .with_label_values(&[self.method(), "success"])
                    .inc();
                let margin = if lifetime >= Duration::from_secs(1500) {
                    Duration::from_secs(300)
                } else {
                    lifetime / 5
                };
                let now = Instant::now();
                debug!(
                    method = self.method(),
                    lifetime_s = lifetime.as_secs_f64(),
                    "ARM token acquired"
                );
                *cache = Some(Cached {
                    token: token.clone(),
                    refresh_at: now + lifetime - margin,
                    expires_at: now + lifetime,
                });
                Ok(token)
            }
            Err(e) => {
                self.metrics
                    .tokens
                    .with_label_values(&[self.method(), "error"])
                    .inc();
                match cache.as_ref().filter(|c| Instant::now() < c.expires_at) {
                    Some(c) => {
                        warn!(method = self.method(), error = %e, "token refresh failed; using the current token until it expires");
                        Ok(c.token.clone())
                    }
                    None => Err(e),
                }
            }
        }
    }

    async fn fetch(&self) -> Result<(Secret, Duration), AuthError> {
        let scope = self.resource.scope();
        match &self.auth {
            AzureAuth::ClientSecret {
                tenant_id,
                client_id,
                secret,
            } => {
                let secret = read_secret(secret)?;
                self.post_form(
                    tenant_id,
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", client_id),
                        ("scope", &scope),
                        ("client_secret", secret.expose()),
                    ],
                )
                .await
            }
            AzureAuth::WorkloadIdentity {
                tenant_id,
                client_id,
                token_file,
            } => {
                let assertion =
                    std::fs::read_to_string(token_file).map_err(|e| AuthError::TokenFile {
                        path: token_file.display().to_string(),
                        error: e.to_string(),
                    })?;
                let assertion = Secret::new(assertion.trim());
                self.post_form(
                    tenant_id,
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", client_id),
                        ("scope", &scope),
                        (
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        ),
                        ("client_assertion", assertion.expose()),
                    ],
                )
                .await
            }
            AzureAuth::ManagedIdentity {
                client_id,
                endpoint,
            } => {
                let mut query = vec![
                    ("api-version", "2018-02-01"),
                    ("resource", self.resource.as_str()),
                ];
                if let Some(id) = client_id {
                    query.push(("client_id", id));
                }
                let q = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&query)
                    .finish();
                let req = self
                    .http
                    .get(format!("{endpoint}?{q}"))
                    .header("Metadata", "true");
                self.send(endpoint, req).await
            }
            AzureAuth::AzureCli => azure_cli(&self.resource).await,
        }
    }

    async fn post_form(
        &self,
        tenant: &str,
        form: &[(&str, &str)],
    ) -> Result<(Secret, Duration), AuthError> {
        let url = format!("{}/{tenant}/oauth2/v2.0/token", self.authority);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = self
            .http
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(&url, req).await
    }

    async fn send(
        &self,
        url: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<(Secret, Duration), AuthError> {
        let transport = |e: reqwest::Error| AuthError::Transport {
            url: url.to_string(),
            error: e.without_url().to_string(),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status != 200 {
            // Only the error code: descriptions may echo request details.
            let error = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no error code")
                .to_string();
            return Err(AuthError::Status {
                url: url.to_string(),
                status,
                error,
            });
        }
        let token = body.get("access_token").and_then(Value::as_str);
        // AAD sends a number, IMDS a string.
        let expires_in = body.get("expires_in").and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        });
        match (token, expires_in) {
            (Some(t), Some(s)) if !t.is_empty() && s > 0 => {
                Ok((Secret::new(t), Duration::from_secs(s)))
            }
            _ => Err(AuthError::Malformed {
                url: url.to_string(),
            }),
        }
    }
}

/// The Azure CLI credential: `az account get-access-token --resource <resource> -o json`,
/// bounded to 30 s. The token's end comes from `expires_on` (epoch seconds, az ≥ 2.54);
/// without it the token is treated as valid for 5 minutes, so it is asked for again early.
async fn azure_cli(resource: &Resource) -> Result<(Secret, Duration), AuthError> {
    let fail = |error: String| AuthError::AzureCli { error };
    let mut cmd = tokio::process::Command::new("az");
    cmd.args([
        "account",
        "get-access-token",
        "--resource",
        resource.as_str(),
        "-o",
        "json",
    ])
    .stdin(std::process::Stdio::null())
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .map_err(|_| fail("no answer within 30 s".into()))?
        .map_err(|e| fail(format!("cannot run az: {e}")))?;
    if !out.status.success() {
        // az prints its own error (e.g. "Please run 'az login'"); never a token.
        let first = String::from_utf8_lossy(&out.stderr)
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .trim()
            .chars()
            .take(300)
            .collect::<String>();
        return Err(fail(format!("{}: {first}", out.status)));
    }
    let body: Value =
        serde_json::from_slice(&out.stdout).map_err(|_| fail("its output is not JSON".into()))?;
    let token = body
        .get("accessToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| fail("its output has no accessToken".into()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let lifetime = body
        .get("expires_on")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .map_or(300, |end: u64| end.saturating_sub(now));
    if lifetime == 0 {
        return Err(fail("it returned an expired token".into()));
    }
    Ok((Secret::new(token), Duration::from_secs(lifetime)))
}

fn read_secret(src: &SecretSource) -> Result<Secret, AuthError> {
    match src {
        SecretSource::Env(var) => std::env::var(var)
            .map(|v| Secret::new(v.trim()))
            .map_err(|e| AuthError::Secret {
                source_name: format!("environment variable {var}"),
                error: e.to_string(),
            }),
        SecretSource::File(path) => std::fs::read_to_string(path)
            .map(|v| Secret::new(v.trim()))
            .map_err(|e| AuthError::Secret {
                source_name: format!("file {}", path.display()),
                error: e.to_string(),
            }),
    }
}
