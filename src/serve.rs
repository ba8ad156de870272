//! `fleetdns serve`: wire the file source, the compiler and the DNS server.
//!
//! ```text
//! file ──watch<Arc<Fleet>>──┐
//!                            ├─► compile ─► ArcSwap<Zone> ─► DNS handler (UDP/TCP)
//! (prober) ─watch<Health>───┘
//! ```
//! The config is validated before any socket is bound. Reloads come from file
//! changes and SIGHUP; a broken file keeps the last good zone serving.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use fleetdns_config::{file, Diagnostics, Fleet, Health};
use fleetdns_dns::{compile, server, Handler};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::cli::ServeArgs;

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (fleet, diags) = match file::load(&args.config) {
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
    runtime.block_on(serve(args, fleet))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: ServeArgs, fleet: Fleet) -> anyhow::Result<()> {
    let listen: Vec<SocketAddr> = if args.listen.is_empty() {
        fleet.listen.clone()
    } else {
        args.listen.clone()
    };
    let listeners = server::bind(&listen).await?;
    for addr in listeners.local_addrs() {
        info!(%addr, protocols = "udp,tcp", "dns listening");
    }

    let shutdown = CancellationToken::new();
    let reload = Arc::new(Notify::new());
    spawn_signals(shutdown.clone(), reload.clone())?;

    let health = Health::default();
    let zone = Arc::new(ArcSwap::from_pointee(compile(&fleet, &health)));
    info!(zone = %fleet.zone.apex, serial = fleet.zone.soa.serial, profiles = fleet.profiles.len(), "zone loaded");
    let (fleet_tx, fleet_rx) = watch::channel(Arc::new(fleet));
    // The prober (health-probe issue) will own the sender; until then health is static.
    let (_health_tx, health_rx) = watch::channel(Arc::new(health));

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(recompile(
        fleet_rx,
        health_rx,
        zone.clone(),
        shutdown.clone(),
    ));
    {
        let path = args.config.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            file::watch(
                path.clone(),
                fleet_tx,
                reload,
                move |result| report_reload(&path, result),
                shutdown.cancelled_owned(),
            )
            .await;
        });
    }

    let result = server::serve(
        listeners,
        Handler::new(zone),
        shutdown.clone().cancelled_owned(),
    )
    .await;
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    info!("stopped");
    result.map_err(Into::into)
}

/// Recompiles the zone whenever the fleet or the health changes.
async fn recompile(
    mut fleet: watch::Receiver<Arc<Fleet>>,
    mut health: watch::Receiver<Arc<Health>>,
    zone: Arc<ArcSwap<fleetdns_dns::Zone>>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = fleet.changed() => if r.is_err() { return },
            r = health.changed() => if r.is_err() { return },
        }
        let f = fleet.borrow_and_update().clone();
        let h = health.borrow_and_update().clone();
        zone.store(Arc::new(compile(&f, &h)));
        info!(zone = %f.zone.apex, serial = f.zone.soa.serial, profiles = f.profiles.len(), "zone updated");
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
