//! Wiring of the Azure Traffic Manager mirror: a background task of `serve`, and
//! the `azure-sync` subcommand (`--dry-run`, `--once`). The logic is in
//! `fleetdns_sync::azure`; this only connects channels, metrics and output.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use fleetdns_config::Fleet;
use fleetdns_sources::file;
use fleetdns_sync::azure::{self, metrics::Metrics, Gates, MirrorStatus, Options, Reason};
use prometheus::Registry;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cli::AzureSyncArgs;

/// Spawns the mirror next to the DNS server. It idles while the fleet has no
/// `azure` section; it writes to ARM only while `gates.leader` is true (the Lease
/// holder in Kubernetes mode; always in file mode); its status is published on the
/// returned channel.
pub fn spawn(
    tasks: &mut tokio::task::JoinSet<()>,
    fleet: watch::Receiver<Arc<Fleet>>,
    registry: &Registry,
    gates: Gates,
    shutdown: CancellationToken,
) -> anyhow::Result<watch::Receiver<Arc<MirrorStatus>>> {
    let metrics = Metrics::register(registry).context("registering Azure metrics")?;
    let (tx, rx) = watch::channel(Arc::new(MirrorStatus::default()));
    tasks.spawn(async move {
        azure::run(fleet, tx, metrics, Options::default(), gates, shutdown).await;
    });
    Ok(rx)
}

/// `/status` JSON of the mirror.
pub fn status_json(status: &MirrorStatus) -> serde_json::Value {
    serde_json::to_value(status).unwrap_or_default()
}

pub fn run(args: AzureSyncArgs) -> anyhow::Result<ExitCode> {
    let (fleet, _diags) = match file::load(&args.config) {
        Ok(ok) => ok,
        Err(diags) => {
            eprint!("{diags}");
            eprintln!("fleetdns: {} is not valid", args.config.display());
            return Ok(ExitCode::from(2));
        }
    };
    let Some(settings) = fleet.azure.clone() else {
        eprintln!(
            "fleetdns: {} has no spec.azure section; nothing to mirror",
            args.config.display()
        );
        return Ok(ExitCode::from(2));
    };
    if args.dry_run {
        let calls = azure::reconcile::dry_run(&fleet);
        for c in &calls {
            println!("{}\n", c.render(&settings.arm_endpoint));
        }
        eprintln!(
            "fleetdns: dry run: {} ARM call(s) printed, none made",
            calls.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        {
            let shutdown = shutdown.clone();
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .context("installing the SIGTERM handler")?;
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                shutdown.cancel();
            });
        }
        let (_fleet_tx, fleet_rx) = watch::channel(Arc::new(fleet));
        let (tx, _rx) = watch::channel(Arc::new(MirrorStatus::default()));
        let metrics = Metrics::register(&Registry::new()).context("metrics")?;
        let options = Options { once: args.once };
        let status = azure::run(
            fleet_rx,
            tx,
            metrics,
            options,
            Gates::single_writer(),
            shutdown,
        )
        .await;
        println!("{}", serde_json::to_string_pretty(&status_json(&status))?);
        let all_ok = status
            .profiles
            .values()
            .all(|p| p.programmed.reason == Reason::Programmed);
        Ok(if all_ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
