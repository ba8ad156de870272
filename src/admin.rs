//! The admin HTTP server: `/metrics` (Prometheus text), `/healthz` (the process is
//! up), `/readyz` (the first zone is loaded and DNS is listening), `/status`
//! (the fleet and the health each endpoint is in, as JSON) and `/` (the status
//! page, for trusted networks only; see `crate::window`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use fleetdns_config::{Fleet, Health};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::http::{self, text, Peer};
use crate::window::answers::AnswerWindow;
use crate::window::{self, unix_seconds, ReloadStatus};

/// What the admin endpoints read.
#[derive(Clone)]
pub struct Admin {
    pub registry: Registry,
    pub ready: Arc<AtomicBool>,
    pub fleet: watch::Receiver<Arc<Fleet>>,
    pub health: watch::Receiver<Arc<Health>>,
    /// The Azure mirror's last pass (empty when the fleet has no `azure` section).
    pub azure: watch::Receiver<Arc<fleetdns_sync::azure::MirrorStatus>>,
    /// Each endpoint's answers over the last minute.
    pub answers: window::SharedRing,
    /// The last config file load (`None` in Kubernetes mode).
    pub reload: watch::Receiver<Option<ReloadStatus>>,
}

pub async fn serve(listener: TcpListener, admin: Admin, shutdown: CancellationToken) {
    http::serve(listener, move |req| route(req, admin.clone()), shutdown).await;
}

async fn route(req: Request<Incoming>, admin: Admin) -> Response<Full<Bytes>> {
    match req.uri().path() {
        "/metrics" => {
            let mut buf = Vec::new();
            match TextEncoder::new().encode(&admin.registry.gather(), &mut buf) {
                Ok(()) => text(200, "text/plain; version=0.0.4", buf),
                Err(e) => text(500, "text/plain", format!("encoding metrics failed: {e}\n")),
            }
        }
        "/healthz" => text(200, "text/plain", "ok\n"),
        "/readyz" if admin.ready.load(Ordering::Acquire) => text(200, "text/plain", "ready\n"),
        "/readyz" => text(503, "text/plain", "not ready: no zone loaded yet\n"),
        "/status" => {
            let fleet = admin.fleet.borrow().clone();
            let health = admin.health.borrow().clone();
            let answers = window::answer_window(&admin.answers);
            let mut json = status_json(&fleet, &health, &answers);
            json["reload"] = window::reload_json(admin.reload.borrow().as_ref());
            if fleet.azure.is_some() {
                json["azure"] = crate::azure::status_json(&admin.azure.borrow());
            }
            let mut r = text(200, "application/json", json.to_string());
            r.headers_mut().insert(
                "cache-control",
                hyper::header::HeaderValue::from_static("no-store"),
            );
            r
        }
        "/" => {
            let peer = req.extensions().get::<Peer>().map(|p| p.0.ip());
            window::page(&admin.fleet.borrow(), peer)
        }
        _ => text(
            404,
            "text/plain",
            "not found; try /, /metrics, /healthz, /readyz, /status\n",
        ),
    }
}

/// Profiles with their endpoints and each endpoint's monitor state, last probe,
/// weight share and share of the last minute's answers.
fn status_json(fleet: &Fleet, health: &Health, answers: &AnswerWindow) -> serde_json::Value {
    let now = std::time::SystemTime::now();
    let profiles: Vec<serde_json::Value> = fleet
        .profiles
        .iter()
        .map(|p| {
            let weights: u64 = p.endpoints.iter().map(|e| u64::from(e.weight)).sum();
            let answered = |id: &str| answers.answers.get(id).copied();
            let profile_answers: u64 = p.endpoints.iter().filter_map(|e| answered(&e.id)).sum();
            let endpoints: Vec<serde_json::Value> = p
                .endpoints
                .iter()
                .map(|e| {
                    let h = health.get(&e.id);
                    let n = answered(&e.id);
                    serde_json::json!({
                        "id": e.id,
                        "cluster": e.cluster,
                        "target": e.target.to_string(),
                        "weight": e.weight,
                        "state": format!("{:?}", health.state_of(e)),
                        "consecutiveFailures": h.map_or(0, |h| h.consecutive_failures),
                        "last": h.and_then(|h| h.last.as_ref()).map(|l| serde_json::json!({
                            "healthy": l.healthy,
                            "detail": &*l.detail,
                            "durationSeconds": l.duration.as_secs_f64(),
                            "at": unix_seconds(l.at),
                            "ageSeconds": now.duration_since(l.at).map_or(0, |d| d.as_secs()),
                        })),
                        "weightShare": share(u64::from(e.weight), weights),
                        "answersLastMinute": n,
                        "answerShare": n.and_then(|n| share(n, profile_answers)),
                    })
                })
                .collect();
            serde_json::json!({
                "profile": format!("{}/{}", p.namespace, p.name),
                "dnsName": p.owner,
                "ttl": p.ttl,
                "failClosed": p.fail_closed,
                "failingOpen": window::gauges::failing_open(p, health),
                "routing": p.routing,
                "activeEndpoints": (p.routing == fleetdns_config::RoutingMethod::Priority).then(|| {
                    fleetdns_config::routing::active_endpoints(&p.endpoints, health, p.fail_closed)
                        .iter()
                        .map(|e| e.id.clone())
                        .collect::<Vec<_>>()
                }),
                "endpoints": endpoints,
            })
        })
        .collect();
    let clusters: Vec<serde_json::Value> = fleet
        .observed
        .clusters
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name,
                "reachable": c.reachable,
                "unreachableSince": c.unreachable_since.map(unix_seconds),
                "error": c.error,
            })
        })
        .collect();
    let problems: Vec<serde_json::Value> = fleet
        .observed
        .objects
        .iter()
        .filter(|o| !o.problems.is_empty())
        .map(|o| {
            serde_json::json!({
                "kind": o.kind, "cluster": o.cluster, "namespace": o.namespace, "name": o.name,
                "problems": o.problems,
            })
        })
        .collect();
    serde_json::json!({
        "zone": fleet.zone.apex,
        "serial": fleet.zone.soa.serial,
        "source": if fleet.kubernetes.is_some() { "kubernetes" } else { "file" },
        "answersWindowSeconds": answers.seconds,
        "clusters": clusters,
        "objectProblems": problems,
        "publicIPs": fleet.observed.public_ips,
        "members": fleet.observed.members,
        "profiles": profiles,
    })
}

/// `part / whole`, or `None` when `whole` is 0.
fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}
