//! The operator's window: the status page at `/` on the admin server, and what
//! it needs that the rest of the admin server did not have — each endpoint's
//! answers over the last minute ([`answers`]), the result of the last config
//! reload ([`ReloadStatus`]), and the weight and failing-open series a dashboard
//! and alerts read ([`gauges`]).
//!
//! The page is one static HTML document compiled into the binary (no external
//! asset); its script polls `/status` and renders it. Only clients in the health
//! view's trusted networks (`spec.healthView.trustedNetworks`) get it; everyone
//! else gets 403.

pub mod answers;
pub mod gauges;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use fleetdns_config::{Fleet, Health};
use fleetdns_dns::DnsMetrics;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::Response;
use prometheus::Registry;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::http::text;
use answers::{AnswerRing, AnswerWindow, SAMPLE_EVERY};

/// The page: HTML, CSS and script in one document.
const PAGE: &str = include_str!("page.html");

/// The result of the last config file load (file source only).
#[derive(Clone, Debug)]
pub struct ReloadStatus {
    /// When it was loaded.
    pub at: SystemTime,
    /// Whether the file was valid (and is being served).
    pub ok: bool,
    /// Errors found (0 when `ok`).
    pub errors: usize,
    /// The first error, as `fleetdns check` prints it.
    pub first_error: Option<String>,
}

/// Whether `peer` is in one of the trusted networks (IPv4-mapped IPv6 counts as IPv4).
pub fn trusted(fleet: &Fleet, peer: IpAddr) -> bool {
    let peer = peer.to_canonical();
    fleet.trusted_networks.iter().any(|n| n.contains(&peer))
}

/// `GET /`: the page for trusted clients, 403 for the rest.
pub fn page(fleet: &Fleet, peer: Option<IpAddr>) -> Response<Full<Bytes>> {
    match peer {
        Some(ip) if trusted(fleet, ip) => {
            let mut r = text(200, "text/html; charset=utf-8", PAGE);
            let h = r.headers_mut();
            // Nothing but itself: no external script, style, frame or image.
            h.insert(
                "content-security-policy",
                hyper::header::HeaderValue::from_static(
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                ),
            );
            h.insert(
                "cache-control",
                hyper::header::HeaderValue::from_static("no-store"),
            );
            r
        }
        _ => text(
            403,
            "text/plain",
            "forbidden: the status page is shown only to spec.healthView.trustedNetworks\n",
        ),
    }
}

/// The answer readings, shared by the task that takes them and `/status`.
pub type SharedRing = Arc<std::sync::Mutex<AnswerRing>>;

/// The answers per endpoint over the last minute (for `/status`).
pub fn answer_window(ring: &SharedRing) -> AnswerWindow {
    ring.lock().unwrap_or_else(|p| p.into_inner()).window()
}

/// Spawns the task that reads the answer counters every [`SAMPLE_EVERY`]
/// (into the returned ring), and registers the profile and endpoint gauges
/// (rendered at scrape time).
pub fn spawn(
    tasks: &mut tokio::task::JoinSet<()>,
    registry: &Registry,
    dns: Arc<DnsMetrics>,
    fleet: watch::Receiver<Arc<Fleet>>,
    health: watch::Receiver<Arc<Health>>,
    shutdown: CancellationToken,
) -> Result<SharedRing, prometheus::Error> {
    gauges::register(registry, fleet.clone(), health.clone())?;
    let ring = SharedRing::default();
    let shared = ring.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let mut ring = shared.lock().unwrap_or_else(|p| p.into_inner());
            ring.push(
                std::time::Instant::now(),
                |f: &mut dyn FnMut(u32, &Arc<str>, u64)| dns.visit_answer_totals(f),
            );
        }
    });
    Ok(ring)
}

/// `/status` fields of the last reload (`null` in Kubernetes mode).
pub fn reload_json(reload: Option<&ReloadStatus>) -> serde_json::Value {
    match reload {
        None => serde_json::Value::Null,
        Some(r) => serde_json::json!({
            "result": if r.ok { "success" } else { "error" },
            "at": unix_seconds(r.at),
            "errors": r.errors,
            "firstError": r.first_error,
        }),
    }
}

/// Seconds since the Unix epoch, as the JSON number operators can feed to `date -d @`.
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trusted_networks_get_the_page() {
        let f = fleetdns_config::testing::fleet()
            .trusted_networks(vec![
                "127.0.0.1/32".parse().unwrap(),
                "fd00::/8".parse().unwrap(),
            ])
            .build();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(page(&f, ip("127.0.0.1")).status(), 200);
        assert_eq!(
            page(&f, ip("::ffff:127.0.0.1")).status(),
            200,
            "IPv4-mapped"
        );
        assert_eq!(page(&f, ip("fd00::5")).status(), 200);
        assert_eq!(page(&f, ip("127.0.0.2")).status(), 403);
        assert_eq!(page(&f, ip("::1")).status(), 403);
        assert_eq!(page(&f, None).status(), 403);
    }
}
