//! `fleetdns serve`: wire the file source, the prober, the compiler, the DNS server
//! and the admin server.
//!
//! ```text
//! file ──watch<Arc<Fleet>>──┬──────────────────────┐
//!                            ▼                      ▼
//!                         prober ─watch<Arc<Health>>─► compile ─► ArcSwap<Snapshot> ─► DNS (UDP/TCP)
//! ```
//! The Azure Traffic Manager mirror (`src/azure.rs`) runs as one more task on the
//! fleet channel; it never sits on the answer path.
//! The config is validated before any socket is bound. Reloads come from file
//! changes and SIGHUP; a broken file keeps the last good zone serving. The zone is
//! recompiled (`src/recompile.rs`: only the profiles that changed, when it can)
//! when the fleet changes or an endpoint's availability changes; any other health
//! update only publishes a new snapshot of the same zone (the health view shows it).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use fleetdns_config::{Diagnostics, Fleet, Health};
use fleetdns_dns::udp::UdpService;
use fleetdns_dns::{server, DnsMetrics, Snapshot};
use fleetdns_sources::file;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::admin::{self, Admin};
use crate::cli::ServeArgs;
use crate::window::{self, ReloadStatus};

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let stamp = file::stamp(&args.config);
    // The loader keeps each document's parse for the reloads (see sources::file).
    let mut loader = file::Loader::default();
    let (fleet, diags) = match file::load_kept(&mut loader, &args.config) {
        Ok(ok) => ok,
        Err(diags) => {
            eprint!("{diags}");
            eprintln!(
                "fleetdns: {} is not valid; not starting",
                args.config.display()
            );
            return Ok(ExitCode::from(2));
        }
    };
    log_diagnostics(&diags);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(serve(args, fleet, stamp, loader))?;
    Ok(ExitCode::SUCCESS)
}

/// Metrics the binary itself owns.
#[derive(Clone)]
pub(crate) struct ServeMetrics {
    reloads: IntCounterVec,
    /// 1 when the last load of the config file succeeded (file source).
    last_reload_ok: IntGauge,
    /// When the config file last loaded successfully (file source).
    last_reload_success: IntGauge,
    serial: IntGauge,
    profiles: IntGauge,
    endpoints: IntGauge,
    /// Zone compiles by kind: `full` (every name) or `patch` (changed profiles only).
    compile_seconds: HistogramVec,
}

impl ServeMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self {
            reloads: IntCounterVec::new(
                Opts::new(
                    "fleetdns_config_reloads_total",
                    "Config reloads, by result (success or error)",
                ),
                &["result"],
            )?,
            last_reload_ok: IntGauge::new(
                "fleetdns_config_last_reload_successful",
                "1 when the last load of the config file succeeded, 0 when it was rejected (the last good config keeps serving)",
            )?,
            last_reload_success: IntGauge::new(
                "fleetdns_config_last_reload_success_timestamp_seconds",
                "Unix time of the last successful load of the config file",
            )?,
            serial: IntGauge::new(
                "fleetdns_zone_serial",
                "SOA serial of the zone being served",
            )?,
            profiles: IntGauge::new(
                "fleetdns_zone_profiles",
                "Profiles in the zone being served",
            )?,
            endpoints: IntGauge::new(
                "fleetdns_zone_endpoints",
                "Endpoints of all profiles in the zone being served",
            )?,
            compile_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "fleetdns_zone_compile_duration_seconds",
                    "Time to compile the zone after a fleet or health change, by kind: full (every name) or patch (only the profiles that changed)",
                )
                .buckets(vec![0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0]),
                &["kind"],
            )?,
        };
        registry.register(Box::new(m.compile_seconds.clone()))?;
        registry.register(Box::new(m.reloads.clone()))?;
        registry.register(Box::new(m.last_reload_ok.clone()))?;
        registry.register(Box::new(m.last_reload_success.clone()))?;
        registry.register(Box::new(m.serial.clone()))?;
        registry.register(Box::new(m.profiles.clone()))?;
        registry.register(Box::new(m.endpoints.clone()))?;
        // Both series exist from the start, so rate() works before the first reload.
        m.reloads.with_label_values(&["success"]);
        m.reloads.with_label_values(&["error"]);
        Ok(m)
    }

    /// Records one load of the config file (the first one at start-up included).
    fn reloaded(&self, status: &ReloadStatus) {
        self.last_reload_ok.set(i64::from(status.ok));
        if status.ok {
            self.last_reload_success
                .set(crate::window::unix_seconds(status.at) as i64);
        }
    }

    /// Records one zone compile.
    pub(crate) fn compiled(&self, kind: &str, took: std::time::Duration) {
        self.compile_seconds
            .with_label_values(&[kind])
            .observe(took.as_secs_f64());
    }

    /// The zone gauges of `fleet`.
    pub(crate) fn zone(&self, fleet: &Fleet) {
        self.serial.set(i64::from(fleet.zone.soa.serial));
        self.profiles.set(fleet.profiles.len() as i64);
        self.endpoints.set(
            fleet
                .profiles
                .iter()
                .map(|p| p.endpoints.len() as i64)
                .sum(),
        );
    }
}

async fn serve(
    args: ServeArgs,
    fleet: Fleet,
    stamp: Option<file::Stamp>,
    loader: file::Loader,
) -> anyhow::Result<()> {
    // Signals first: a SIGHUP or SIGTERM that arrives while we start must not kill us.
    let shutdown = CancellationToken::new();
    let reload = Arc::new(Notify::new());
    spawn_signals(shutdown.clone(), reload.clone())?;
    let registry = Registry::new();
    let dns_metrics = Arc::new(DnsMetrics::register(&registry).context("registering DNS metrics")?);
    let probe_metrics =
        fleetdns_prober::Metrics::register(&registry).context("registering probe metrics")?;
    let serve_metrics = ServeMetrics::register(&registry).context("registering metrics")?;

    // DNSSEC keys are read before any socket is bound: a bad key file means no start.
    let mut signer = crate::dnssec::ZoneSigner::load(&fleet)?;
    let listen: Vec<SocketAddr> = if args.listen.is_empty() {
        fleet.listen.clone()
    } else {
        args.listen.clone()
    };
    let listeners = server::bind(
        &listen,
        args.udp_workers.unwrap_or_else(default_udp_workers),
    )
    .await?;
    let admin_addr = args.admin.unwrap_or(fleet.admin_listen);
    let admin_listener = tokio::net::TcpListener::bind(admin_addr)
        .await
        .with_context(|| format!("cannot bind the admin HTTP server on {admin_addr}"))?;
    for addr in listeners.local_addrs() {
        info!(%addr, protocols = "udp,tcp", "dns listening");
    }
    if let Ok(addr) = admin_listener.local_addr() {
        info!(%addr, "admin listening");
    }

    let health = Arc::new(Health::default());
    let started = std::time::Instant::now();
    let snapshot = Arc::new(ArcSwap::from_pointee(Snapshot::compile_signed(
        &fleet,
        health.clone(),
        &dns_metrics,
        signer.as_mut().map(|s| s.signing()),
    )));
    serve_metrics.zone(&fleet);
    serve_metrics.compiled("full", started.elapsed());
    let ms = started.elapsed().as_millis() as u64;
    info!(zone = %fleet.zone.apex, serial = fleet.zone.soa.serial, profiles = fleet.profiles.len(), compile_ms = ms, "zone loaded");
    let (fleet_tx, fleet_rx) = watch::channel(Arc::new(fleet));
    let (health_tx, health_rx) = watch::channel(health);

    let kubernetes = fleet_rx.borrow().kubernetes.clone();
    // File source: the start-up load succeeded (an invalid file does not start the
    // server). Kubernetes mode has no reload to show.
    let loaded = kubernetes.is_none().then(|| ReloadStatus {
        at: std::time::SystemTime::now(),
        ok: true,
        errors: 0,
        first_error: None,
    });
    if let Some(loaded) = &loaded {
        serve_metrics.reloaded(loaded);
    }
    let (reload_tx, reload_rx) = watch::channel(loaded);
    // In Kubernetes mode, ready once the first fleet has been composed from the clusters.
    let ready = Arc::new(AtomicBool::new(kubernetes.is_none()));
    let mut tasks = tokio::task::JoinSet::new();
    let prober = fleetdns_prober::spawn(
        fleetdns_prober::Settings::default(),
        fleet_rx.clone(),
        health_tx,
        probe_metrics,
        shutdown.clone(),
    )
    .context("starting the prober thread")?;
    tasks.spawn_blocking(move || {
        if prober.join().is_err() {
            tracing::error!("the prober thread panicked");
        }
    });
    tasks.spawn(crate::recompile::run(
        fleet_rx.clone(),
        health_rx.clone(),
        snapshot.clone(),
        dns_metrics.clone(),
        serve_metrics.clone(),
        signer,
        shutdown.clone(),
    ));
    // The mirror writes only as the Lease holder in Kubernetes mode (and only GCs once
    // the first fleet is composed); in file mode this process is the single writer.
    let (leader_tx, leader_rx) = watch::channel(kubernetes.is_none());
    let (synced_tx, synced_rx) = watch::channel(kubernetes.is_none());
    let gates = fleetdns_sync::azure::Gates {
        leader: leader_rx,
        synced: synced_rx,
    };
    let azure = crate::azure::spawn(
        &mut tasks,
        fleet_rx.clone(),
        &registry,
        gates,
        shutdown.clone(),
    )?;
    if let Some(settings) = kubernetes {
        let wiring = crate::kubernetes::Wiring {
            leader: leader_tx,
            synced: synced_tx,
            mirror: azure.clone(),
            health: health_rx.clone(),
            config: args.config.clone(),
            settings,
            identity: args.identity.clone(),
            fleet_tx,
            fleet_rx: fleet_rx.clone(),
            reload,
            ready: ready.clone(),
            registry: registry.clone(),
            shutdown: shutdown.clone(),
        };
        if let Err(e) = crate::kubernetes::spawn(wiring, &mut tasks).await {
            shutdown.cancel();
            while tasks.join_next().await.is_some() {}
            return Err(e);
        }
    } else {
        drop((leader_tx, synced_tx));
        let path = args.config.clone();
        let shutdown = shutdown.clone();
        let metrics = serve_metrics.clone();
        tasks.spawn(async move {
            let report = move |result: Result<&Diagnostics, &Diagnostics>| {
                metrics
                    .reloads
                    .with_label_values(&[if result.is_ok() { "success" } else { "error" }])
                    .inc();
                let status = reload_status(result);
                metrics.reloaded(&status);
                reload_tx.send_replace(Some(status));
                report_reload(&path, result);
            };
            file::watch(
                args.config.clone(),
                stamp,
                loader,
                fleet_tx,
                reload,
                report,
                shutdown,
            )
            .await;
        });
    }
    let answers = window::spawn(
        &mut tasks,
        &registry,
        dns_metrics.clone(),
        fleet_rx.clone(),
        health_rx.clone(),
        shutdown.clone(),
    )
    .context("registering status page metrics")?;
    let admin = Admin {
        registry,
        ready: ready.clone(),
        fleet: fleet_rx,
        health: health_rx,
        azure,
        answers,
        reload: reload_rx,
    };
    tasks.spawn(admin::serve(admin_listener, admin, shutdown.clone()));

    let service = UdpService {
        snapshot,
        metrics: dns_metrics,
    };
    let result = server::serve(listeners, service, shutdown.clone().cancelled_owned()).await;
    ready.store(false, Ordering::Release);
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    info!("stopped");
    result.map_err(Into::into)
}

/// One UDP worker per core.
fn default_udp_workers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// What the status page shows of one load of the config file.
fn reload_status(result: Result<&Diagnostics, &Diagnostics>) -> ReloadStatus {
    let diags = match result {
        Ok(d) | Err(d) => d,
    };
    ReloadStatus {
        at: std::time::SystemTime::now(),
        ok: result.is_ok(),
        errors: diags.errors().count(),
        first_error: diags.errors().next().map(ToString::to_string),
    }
}

fn report_reload(path: &std::path::Path, result: Result<&Diagnostics, &Diagnostics>) {
    match result {
        Ok(diags) => {
            log_diagnostics(diags);
            info!(file = %path.display(), "config reloaded");
        }
        Err(diags) => {
            log_diagnostics(diags);
            error!(file = %path.display(), errors = diags.errors().count(), "config rejected; the last good config keeps serving");
        }
    }
}

fn log_diagnostics(diags: &Diagnostics) {
    use fleetdns_config::Severity;
    for d in diags.iter() {
        match d.severity {
            Severity::Error => error!("{d}"),
            Severity::Warning => warn!("{d}"),
            Severity::Note => info!("{d}"),
        }
    }
}

fn spawn_signals(shutdown: CancellationToken, reload: Arc<Notify>) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { info!(signal = "SIGTERM", "shutting down"); break; }
                _ = int.recv() => { info!(signal = "SIGINT", "shutting down"); break; }
                _ = hup.recv() => { info!(signal = "SIGHUP", "reloading"); reload.notify_one(); }
            }
        }
        shutdown.cancel();
    });
    Ok(())
}
