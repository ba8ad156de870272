//! Native Entra ID sign-in to the hub (`spec.kubernetes.hub.auth`): a tower layer on the
//! hub's kube client that puts `Authorization: Bearer <token>` on every request, the token
//! coming from [`TokenSource`] for the AKS AAD server application (scope
//! `<serverAppId>/.default`) and refreshed before it expires. No kubelogin is needed.
//!
//! A 401 from the hub drops the cached token (the next request, such as the watch's
//! retry, signs in afresh) and logs, at most every 30 s, which hub refused the token and
//! what to check. Tokens are never logged.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use fleetdns_arm::{ArmClient, ArmMetrics, Resource, TokenSource};
use fleetdns_config::azure::AzureAuth;
use fleetdns_config::hub::HubAuth;
use http::header::{HeaderValue, AUTHORIZATION};
use http::{Request, Response, StatusCode};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tower::{Layer, Service};
use tracing::warn;

use super::error::SourceError;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a token request may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);
/// At most one "token refused" / "no token" line per hub this often.
const LOG_EVERY: Duration = Duration::from_secs(30);

struct Shared {
    tokens: Arc<TokenSource>,
    hub: String,
    audience: String,
    method: &'static str,
    logged: std::sync::Mutex<Option<Instant>>,
}

impl Shared {
    fn should_log(&self) -> bool {
        let mut last = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// The token series of every hub client in the process: the clients are made before
/// (and apart from) the registry, which [`super::SourceMetrics`] registers them in.
pub(crate) fn hub_token_metrics() -> ArmMetrics {
    static METRICS: std::sync::OnceLock<ArmMetrics> = std::sync::OnceLock::new();
    METRICS
        .get_or_init(|| {
            let unused = ArmMetrics::unregistered();
            ArmMetrics {
                tokens: prometheus::IntCounterVec::new(
                    prometheus::Opts::new(
                        "fleetdns_hub_token_requests_total",
                        "Entra ID token requests for the hub (spec.kubernetes.hub.auth), by auth method and result",
                    ),
                    &["method", "result"],
                )
                .expect("valid metric"),
                ..unused
            }
        })
        .clone()
}

/// `fleetdns_hub_token_refused_total{hub}`: 401s from the hub to a request carrying
/// fleetdns's Entra ID token, of every hub client in the process.
pub(crate) fn hub_refused_metric() -> prometheus::IntCounterVec {
    static METRIC: std::sync::OnceLock<prometheus::IntCounterVec> = std::sync::OnceLock::new();
    METRIC
        .get_or_init(|| {
            prometheus::IntCounterVec::new(
                prometheus::Opts::new(
                    "fleetdns_hub_token_refused_total",
                    "Requests the hub answered 401 although they carried fleetdns's Entra ID token (spec.kubernetes.hub.auth)",
                ),
                &["hub"],
            )
            .expect("valid metric")
        })
        .clone()
}

/// Signs every request of one hub client in with an Entra ID token.
#[derive(Clone)]
pub(crate) struct EntraLayer {
    shared: Arc<Shared>,
}

impl EntraLayer {
    /// A layer for hub `hub` with the credential of `auth`; starts refreshing tokens in
    /// the background (needs a tokio runtime).
    pub(crate) fn new(hub: &str, auth: &HubAuth) -> Result<EntraLayer, SourceError> {
        let http =
            ArmClient::http(TOKEN_TIMEOUT).map_err(|e| SourceError::Client(e.to_string()))?;
        let tokens = Arc::new(TokenSource::new(
            auth.auth.clone(),
            auth.authority_host.clone(),
            Resource(auth.server_app_id.clone()),
            http,
            hub_token_metrics(),
        ));
        TokenSource::spawn_refresher(&tokens);
        Ok(EntraLayer {
            shared: Arc::new(Shared {
                tokens,
                hub: hub.to_string(),
                audience: auth.server_app_id.clone(),
                method: method_name(&auth.auth),
                logged: std::sync::Mutex::new(None),
            }),
        })
    }
}

fn method_name(auth: &AzureAuth) -> &'static str {
    match auth {
        AzureAuth::ClientSecret { .. } => "clientSecret",
        AzureAuth::WorkloadIdentity { .. } => "workloadIdentity",
        AzureAuth::ManagedIdentity { .. } => "managedIdentity",
        AzureAuth::AzureCli => "azureCli",
    }
}

impl<S> Layer<S> for EntraLayer {
    type Service = EntraService<S>;

    fn layer(&self, inner: S) -> EntraService<S> {
        EntraService {
            inner: Arc::new(Mutex::new(inner)),
            shared: self.shared.clone(),
        }
    }
}

/// The service of [`EntraLayer`].
pub(crate) struct EntraService<S> {
    inner: Arc<Mutex<S>>,
    shared: Arc<Shared>,
}

impl<S, B, R> Service<Request<B>> for EntraService<S>
where
    S: Service<Request<B>, Response = Response<R>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The inner service is made ready inside the call, after the token is had.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        let shared = self.shared.clone();
        Box::pin(async move {
            let token = match shared.tokens.token().await {
                Ok(t) => t,
                Err(e) => {
                    if shared.should_log() {
                        warn!(hub = %shared.hub, method = shared.method, audience = %shared.audience, error = %e,
                            "no Entra ID token for the hub; check spec.kubernetes.hub.auth (the credential, its tenant and client id, the authority host)");
                    }
                    return Err(Box::new(e) as BoxError);
                }
            };
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(
                |_| -> BoxError { "the Entra ID token is not a valid header value".into() },
            )?;
            value.set_sensitive(true);
            req.headers_mut().insert(AUTHORIZATION, value);
            let fut = {
                let mut svc = inner.lock().await;
                std::future::poll_fn(|cx| svc.poll_ready(cx))
                    .await
                    .map_err(Into::into)?;
                svc.call(req)
            };
            let resp = fut.await.map_err(Into::into)?;
            if resp.status() == StatusCode::UNAUTHORIZED {
                hub_refused_metric().with_label_values(&[&shared.hub]).inc();
                shared.tokens.invalidate().await;
                if shared.should_log() {
                    warn!(hub = %shared.hub, method = shared.method, audience = %shared.audience,
                        "the hub refused the Entra ID token (401 Unauthorized); check that the hub uses AKS-managed Azure AD with this server app id (spec.kubernetes.hub.auth.serverAppId), that the identity is in the hub's tenant, and that its object id is bound to a ClusterRole on the hub");
                }
            }
            Ok(resp)
        })
    }
}
