//! Kubernetes mode of `serve`: the live source instead of the file watcher, and
//! the status writer behind its Lease; plus `fleetdns crds`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context as _;
use fleetdns_config::{Diagnostics, Fleet, KubernetesSettings, Severity};
use fleetdns_sources::kubernetes::{connect, Source, SourceMetrics};
use fleetdns_sync::status::{lease, writer, StatusMetrics};
use prometheus::Registry;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// `fleetdns crds`: the CRDs as a multi-document YAML stream.
pub fn print_crds() -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let mut text = String::new();
    for crd in fleetdns_config::crd::crds() {
        text.push_str("---\n");
        text.push_str(&serde_yaml::to_string(&crd).context("serializing a CRD")?);
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Everything Kubernetes mode needs from `serve`.
pub struct Wiring {
    pub config: std::path::PathBuf,
    pub settings: KubernetesSettings,
    pub identity: Option<String>,
    pub fleet_tx: watch::Sender<Arc<Fleet>>,
    pub fleet_rx: watch::Receiver<Arc<Fleet>>,
    pub reload: Arc<Notify>,
    pub ready: Arc<AtomicBool>,
    pub registry: Registry,
    pub shutdown: CancellationToken,
    /// The Azure mirror's results, folded into profiles' `Programmed`.
    pub mirror: watch::Receiver<Arc<fleetdns_sync::azure::MirrorStatus>>,
    /// The probes' results, told in `fleetdns.io/Serving`.
    pub health: watch::Receiver<Arc<fleetdns_config::Health>>,
    /// Whether this replica holds the Lease: gates status writes and ARM writes.
    pub leader: watch::Sender<bool>,
    /// Set once the first fleet is composed (the mirror's garbage collection waits for it).
    pub synced: watch::Sender<bool>,
}

/// Connects to the clusters and spawns the source and, when status is written
/// back or the fleet mirrors to Azure, the Lease that elects the one writer (and
/// the status writer). Fails only on local problems (kubeconfig, settings).
pub async fn spawn(w: Wiring, tasks: &mut JoinSet<()>) -> anyhow::Result<()> {
    let source = Source::connect(w.config.clone(), &w.settings)
        .await
        .context("starting the Kubernetes source")?;
    let source_metrics =
        SourceMetrics::register(&w.registry).context("registering source metrics")?;
    // One Lease elects the replica that writes: status (when enabled) and ARM (when
    // the fleet mirrors to Azure).
    let mirror_on = w.fleet_rx.borrow().azure.is_some();
    if w.settings.write_status || mirror_on {
        let identity = w.identity.clone().unwrap_or_else(default_identity);
        info!(identity = %identity, lease = %w.settings.lease_name, namespace = %w.settings.lease_namespace, status = w.settings.write_status, mode = w.settings.status_mode.as_str(), azure = mirror_on, "leader election enabled");
        let clients = writer_clients(&w.settings)
            .await
            .context("connecting the status writer")?;
        let leader_rx = w.leader.subscribe();
        let cfg = lease::LeaseConfig {
            namespace: w.settings.lease_namespace.clone(),
            name: w.settings.lease_name.clone(),
            identity: identity.clone(),
            duration: w.settings.lease_duration,
        };
        // The writer stops first, then the lease is released.
        let lease_stop = CancellationToken::new();
        tasks.spawn(lease::run(
            clients.hub.clone(),
            cfg,
            w.leader,
            lease_stop.clone(),
        ));
        if w.settings.write_status {
            let status_metrics =
                StatusMetrics::register(&w.registry).context("registering status metrics")?;
            // Every (kind, result) series from the start, so dashboards and alerts see zeros
            // (the writer labels by these kinds and results).
            for kind in [
                "TrafficManagerProfile",
                "TrafficManagerBackend",
                "ServiceExport",
            ] {
                for result in ["written", "error"] {
                    status_metrics.writes.with_label_values(&[kind, result]);
                }
            }
            let writer_stop = w.shutdown.clone();
            let ctx =
                writer::Context::new(clients, status_metrics, w.settings.status_mode, identity);
            tasks.spawn({
                let manage = w.settings.manage_service_exports;
                let inputs = writer::Inputs {
                    fleet: w.fleet_rx.clone(),
                    health: w.health.clone(),
                    mirror: w.mirror.clone(),
                    leader: leader_rx,
                };
                async move {
                    writer::run(ctx, manage, inputs, writer_stop).await;
                    lease_stop.cancel();
                }
            });
        } else {
            let shutdown = w.shutdown.clone();
            tasks.spawn(async move {
                shutdown.cancelled().await;
                lease_stop.cancel();
            });
        }
    }
    let ready = w.ready.clone();
    let synced = w.synced;
    let shutdown = w.shutdown.clone();
    let mut log_problems = problem_logger();
    tasks.spawn(source.run(
        w.fleet_tx,
        source_metrics,
        w.reload,
        move |diags: &Diagnostics| {
            if !ready.swap(true, Ordering::AcqRel) {
                info!("first fleet composed from the clusters; ready");
            }
            synced.send_replace(true);
            log_problems(diags);
        },
        shutdown,
    ));
    Ok(())
}

fn default_identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME") {
        if !pod.is_empty() {
            return pod;
        }
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "fleetdns".into());
    format!("{host}-{}", std::process::id())
}

/// Logs a composition's problems when they differ from the previous ones (they
/// are the users' to fix, and each object's status shows them too).
fn problem_logger() -> impl FnMut(&Diagnostics) + Send {
    let mut last: Option<Diagnostics> = None;
    move |diags: &Diagnostics| {
        if last.as_ref() == Some(diags) {
            return;
        }
        for d in diags.iter() {
            match d.severity {
                Severity::Error => error!("{d}"),
                Severity::Warning => warn!("{d}"),
                Severity::Note => {}
            }
        }
        last = Some(diags.clone());
    }
}

/// The status writer's own clients (its own connection pools, apart from the
/// source's watch streams), one per cluster it writes to.
async fn writer_clients(k: &KubernetesSettings) -> anyhow::Result<writer::Clients> {
    let hub = connect::hub_client(
        k.kubeconfig.as_deref(),
        k.hub.context.as_deref(),
        &k.hub.name,
        k.hub_auth.as_ref(),
    )
    .await?;
    let mut members = BTreeMap::new();
    for m in &k.members {
        let client = if m.context == k.hub.context {
            hub.clone()
        } else {
            connect::client(k.kubeconfig.as_deref(), m.context.as_deref()).await?
        };
        members.insert(m.name.clone(), client);
    }
    Ok(writer::Clients { hub, members })
}
