//! fleetdns health probes: Traffic Manager's endpoint monitoring, then better.
//!
//! In: `watch<Arc<Fleet>>` (the validated desired state). Out: `watch<Arc<Health>>`
//! (per probed endpoint: monitor state, failures in a row, latest observation),
//! from which the DNS answers are compiled, plus Prometheus metrics and one log
//! line per state transition. Always-serve endpoints are never probed and never
//! appear in `Health`.
//!
//! Modules, from pure to I/O:
//! - `state`: the monitor state machine (CheckingEndpoint → Online / Degraded).
//! - `schedule`: jittered probe timing, so endpoints never probe in lock-step.
//! - `plan`: the part of a `Fleet` that decides each endpoint's probe.
//! - `spec`: a plan turned into a ready request (URL, Host and custom headers, socket address).
//! - `outcome`: the closed set of probe outcomes and the HTTP status rule.
//! - `table`: per-endpoint state across fleet updates; stale results dropped.
//! - `metrics`: `fleetdns_endpoint_*` and `fleetdns_probe_*` series.
//! - `http`: the HTTP/1.1 exchange of a probe: one request out, the response head's status in.
//! - `tls`: the HTTPS client configurations (certificates accepted, or verified with `verify_tls`).
//! - `probe`: one HTTP(S) GET or TCP connect on a fresh connection ([`Probes`]).
//! - `queue`: every endpoint's next probe time, in one heap.
//! - `task`: one due probe under a shared concurrency limit.
//! - `run`: the loop that follows the fleet and publishes `Health`.
//!
//! Entry points: [`spawn`] (a thread of its own, what the server uses), or
//! [`run`] / [`run_with`] on the caller's runtime.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
#![deny(clippy::print_stdout)]

use std::sync::Arc;

use fleetdns_config::{Fleet, Health};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

mod http;
mod metrics;
mod outcome;
mod plan;
mod probe;
mod queue;
mod run;
mod schedule;
mod settings;
mod spec;
mod state;
mod table;
mod task;
mod tls;

pub use metrics::Metrics;
pub use outcome::{Outcome, ProbeResult};
pub use probe::Probes;
pub use settings::{Error, Settings};

/// Probes every endpoint of the latest `fleet` per its profile's monitor config
/// and publishes what it sees to `health`, until `shutdown` is cancelled.
///
/// Follows fleet updates live: new endpoints start in CheckingEndpoint,
/// removed ones stop being probed at once and leave `Health`, endpoints whose
/// monitor config or target changed restart from CheckingEndpoint, and all
/// others keep their state.
///
/// If the TLS configurations cannot be built (see [`Probes::new`]; a caller that wants
/// to fail fast can call it first), this logs the error and probes nothing
/// until shutdown: endpoints stay CheckingEndpoint, which is routable, rather
/// than being failed by a prober that cannot probe.
pub async fn run(
    fleet: watch::Receiver<Arc<Fleet>>,
    health: watch::Sender<Arc<Health>>,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    run_with(Settings::default(), fleet, health, metrics, shutdown).await
}

/// [`run_with`] on a thread of its own (`fleetdns-prober`) with a
/// single-threaded runtime; the thread ends after `shutdown` is cancelled.
///
/// Why a thread of its own: probing is I/O-bound, and one thread keeps up
/// with 10,000 endpoints every 10 s at about a tenth of a core
/// (docs/BENCHMARKS.md). On a multi-threaded runtime the same work costs more
/// (tasks migrate between workers, which wake each other), and probes would
/// share workers with the DNS TCP listener and the admin server.
pub fn spawn(
    settings: Settings,
    fleet: watch::Receiver<Arc<Fleet>>,
    health: watch::Sender<Arc<Health>>,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("fleetdns-prober".into())
        .spawn(move || runtime.block_on(run_with(settings, fleet, health, metrics, shutdown)))
}

/// [`run`] with explicit [`Settings`].
pub async fn run_with(
    settings: Settings,
    fleet: watch::Receiver<Arc<Fleet>>,
    health: watch::Sender<Arc<Health>>,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    match Probes::new(&settings) {
        Ok(probes) => {
            run::supervise(Arc::new(probes), settings, fleet, health, metrics, shutdown).await
        }
        Err(e) => {
            tracing::error!(error = %e, "health probes disabled: every endpoint stays CheckingEndpoint");
            shutdown.cancelled().await;
        }
    }
}
