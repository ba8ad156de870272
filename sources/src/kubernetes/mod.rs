//! The Kubernetes source: the fleet, live from a hub and member clusters.
//!
//! ```text
//! hub:     TrafficManagerProfile, TrafficManagerBackend ─┐
//! members: Service, ServiceExport                        ├─ watchers ─► Update ─► composer ─► watch<Arc<Fleet>>
//! file:    FleetDNSConfig (zone, clusters, lease)       ─┘
//! ```
//! Each watcher owns nothing but its stream; the composer alone owns the
//! [`compose::Snapshot`] (no locks), batches updates for a few milliseconds, and
//! publishes a new `Fleet` when the result differs. A cluster that stops answering
//! keeps its last known objects; its state is in the snapshot, the metrics and,
//! through [`fleetdns_config::Observed`], in the status the writer reports. The
//! source only reads: status write-back lives in the `sync` crate.

pub mod compose;
pub mod connect;
mod entra;
mod error;
pub mod hub;
pub mod incremental;
pub mod metrics;
pub mod observed;
pub mod preflight;
pub mod public_ip;
pub mod roster;
pub mod slim;
pub mod snapshot;
mod updates;
pub mod watch;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn, Instrument};

use compose::{Resource, Snapshot, Topology};
pub use error::SourceError;
use fleetdns_config::document::Doc;
use fleetdns_config::settings::SettingsDocument;
use fleetdns_config::{Diagnostics, Fleet, KubernetesSettings};
pub use metrics::SourceMetrics;
use updates::{apply, reachable};
use watch::Update;

/// At most how long a burst of updates is gathered before the fleet is recomposed.
const BATCH: Duration = Duration::from_millis(25);
/// A burst ends when no update follows for this long: a single event waits no more.
const QUIET: Duration = Duration::from_millis(2);
/// How long the first fleet waits for every collection's first list, counted from the
/// start or from the last part of a list that arrived (a list of 100k objects takes
/// longer than this; a fleet started half-listed answers wrongly until it is complete).
const INITIAL_SYNC: Duration = Duration::from_secs(10);

/// A started source: clients made, ready to [`Source::run`].
pub struct Source {
    path: PathBuf,
    settings: (Doc, SettingsDocument),
    topology: Topology,
    watches: Vec<(kube::Client, String, Resource, Option<String>)>,
    /// Hub mode: how public IPs are read.
    public_ips: Option<fleetdns_config::hub::PublicIpLookup>,
}

impl Source {
    /// Reads the settings of `path` and makes one client per cluster (no network yet).
    pub async fn connect(path: PathBuf, k: &KubernetesSettings) -> Result<Self, SourceError> {
        let settings = read_settings(&path)?;
        let hub = connect::hub_client(
            k.kubeconfig.as_deref(),
            k.hub.context.as_deref(),
            &k.hub.name,
            k.hub_auth.as_ref(),
        )
        .await?;
        let mut watches = Vec::new();
        let scopes = |namespaces: &[String]| -> Vec<Option<String>> {
            if namespaces.is_empty() {
                vec![None]
            } else {
                namespaces.iter().cloned().map(Some).collect()
            }
        };
        for ns in scopes(&k.hub.namespaces) {
            for r in [Resource::Profiles, Resource::Backends] {
                watches.push((hub.clone(), k.hub.name.clone(), r, ns.clone()));
            }
            if k.hub_mode.is_some() {
                // A TrafficManagerBackend names a ServiceImport of its own namespace.
                watches.push((
                    hub.clone(),
                    k.hub.name.clone(),
                    Resource::ServiceImports,
                    ns.clone(),
                ));
            }
        }
        if k.hub_mode.is_some() {
            // The members' exports live in their fleet-member-<cluster> namespaces.
            watches.push((
                hub.clone(),
                k.hub.name.clone(),
                Resource::InternalExports,
                None,
            ));
            // Fleet's MemberClusters, where the hub serves them (Azure Fleet Manager and
            // KubeFleet do): members without exports yet, and which have joined. A hub
            // without the CRD answers 404 once, logged, and the rest works.
            watches.push((
                hub.clone(),
                k.hub.name.clone(),
                Resource::MemberClusters,
                None,
            ));
        }
        for m in &k.members {
            let client = if m.context == k.hub.context {
                hub.clone()
            } else {
                connect::client(k.kubeconfig.as_deref(), m.context.as_deref()).await?
            };
            for ns in scopes(&m.namespaces) {
                for r in [Resource::Services, Resource::Exports] {
                    watches.push((client.clone(), m.name.clone(), r, ns.clone()));
                }
            }
        }
        Ok(Self {
            path,
            settings,
            topology: Topology {
                hub: k.hub.name.clone(),
                members: k.members.iter().map(|m| m.name.clone()).collect(),
            },
            watches,
            public_ips: k.hub_mode.as_ref().map(|h| h.public_ips.clone()),
        })
    }

    /// Watches every cluster and publishes each new fleet on `tx` until `shutdown`.
    /// `on_compose` hears the diagnostics of each composition (for logs and
    /// metrics); `reload` (SIGHUP) and file changes re-read the settings.
    pub async fn run(
        self,
        tx: tokio::sync::watch::Sender<Arc<Fleet>>,
        metrics: SourceMetrics,
        reload: Arc<Notify>,
        mut on_compose: impl FnMut(&Diagnostics) + Send,
        shutdown: CancellationToken,
    ) {
        let Source {
            path,
            mut settings,
            topology,
            watches,
            public_ips,
        } = self;
        let (utx, mut urx) = mpsc::channel::<Update>(1024);
        let (wanted_tx, wanted_rx) = tokio::sync::watch::channel(Default::default());
        let mut pending: BTreeSet<(String, Resource, Option<String>)> = BTreeSet::new();
        let mut tasks = tokio::task::JoinSet::new();
        let mut probed = BTreeSet::new();
        for (client, cluster, resource, ns) in watches {
            pending.insert((cluster.clone(), resource, ns.clone()));
            // Every series exists from the start, so dashboards and alerts see zeros.
            metrics.init(&cluster, resource);
            // The kube client's own lines (and ours) name the cluster they are about.
            let span = tracing::info_span!("kube", cluster = %cluster);
            if probed.insert(cluster.clone()) {
                let probe = watch::probe(client.clone(), cluster.clone(), utx.clone());
                tasks.spawn(probe.instrument(span.clone()));
            }
            let run = watch::run(client, cluster, resource, ns, utx.clone());
            tasks.spawn(run.instrument(span));
        }
        // Hub mode: the first fleet also waits for the first public IP reads.
        let mut ips_read = public_ips.is_none();
        if let Some(lookup) = public_ips {
            tasks.spawn(public_ip::run(
                lookup,
                wanted_rx,
                utx.clone(),
                metrics.public_ips.clone(),
                shutdown.clone(),
            ));
        }
        drop(utx);
        let mut snapshot = Snapshot::default();
        for name in std::iter::once(&topology.hub).chain(&topology.members) {
            snapshot.clusters.insert(name.clone(), reachable(name));
        }
        let mut stamp = crate::file::stamp(&path);
        // Start-up: since when the first fleet has waited (moved on by list progress).
        let mut started = tokio::time::Instant::now();
        let mut synced = false;
        let mut composer = incremental::Composer::default();
        let mut failing = BTreeSet::new();
        loop {
            let mut dirty;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                u = urx.recv() => {
                    let Some(u) = u else { break };
                    ips_read |= matches!(u, Update::PublicIps(_));
                    listing(&u, synced, &mut started);
                    dirty = apply(&mut snapshot, &mut pending, &mut failing, &metrics, &mut composer, u);
                    // Gather what arrives in the next moment into one composition.
                    let deadline = tokio::time::Instant::now() + BATCH;
                    let quiet = || deadline.min(tokio::time::Instant::now() + QUIET);
                    while let Ok(Some(u)) = tokio::time::timeout_at(quiet(), urx.recv()).await {
                        ips_read |= matches!(u, Update::PublicIps(_));
                        listing(&u, synced, &mut started);
                        dirty |= apply(&mut snapshot, &mut pending, &mut failing, &metrics, &mut composer, u);
                    }
                }
                _ = reload.notified() => {
                    dirty = reread(&path, &mut settings, &mut stamp, true);
                    if dirty {
                        composer.touch_all();
                    }
                }
                _ = tokio::time::sleep(crate::file::POLL_INTERVAL) => {
                    dirty = reread(&path, &mut settings, &mut stamp, false);
                    if dirty {
                        composer.touch_all();
                    }
                }
            }
            if !synced {
                // The first fleet waits for every first list (or a failure, or the deadline),
                // so that answers never start from a half-listed fleet.
                if !pending.is_empty() && started.elapsed() < INITIAL_SYNC {
                    continue;
                }
                // Hub mode: with every list in, the exports name their public IPs; the
                // first fleet waits for their first reads too (or the same deadline), so
                // that it starts with the members' addresses rather than without them.
                if !ips_read && started.elapsed() < INITIAL_SYNC {
                    let now = hub::wanted(&snapshot, &topology.hub);
                    if !now.is_empty() {
                        wanted_tx.send_if_modified(|w| {
                            let changed = *w != now;
                            *w = now;
                            changed
                        });
                        continue;
                    }
                }
                synced = true;
                dirty = true;
                if pending.is_empty() {
                    info!(
                        clusters = snapshot.clusters.len(),
                        "kubernetes source synced"
                    );
                } else {
                    let missing: BTreeSet<&str> =
                        pending.iter().map(|(c, _, _)| c.as_str()).collect();
                    warn!(
                        clusters = snapshot.clusters.len(),
                        waited = ?INITIAL_SYNC,
                        unlisted = ?missing,
                        "kubernetes source starting without every first list; those clusters' endpoints join when they answer"
                    );
                }
            }
            if !dirty {
                continue;
            }
            // Hub mode: the public IPs the exports name now (a no-op otherwise).
            wanted_tx.send_if_modified(|w| {
                let now = hub::wanted(&snapshot, &topology.hub);
                let changed = *w != now;
                *w = now;
                changed
            });
            for (name, state) in &snapshot.clusters {
                metrics
                    .reachable
                    .with_label_values(&[name])
                    .set(i64::from(state.reachable));
            }
            let composing = tokio::time::Instant::now();
            let (fleet, diags, how) = composer.compose(&settings, &topology, &snapshot);
            let composed = composing.elapsed();
            on_compose(&diags);
            metrics.compositions.inc();
            metrics
                .excluded
                .with_label_values(&["internal_load_balancer"])
                .set(
                    diags
                        .iter()
                        .filter(|d| d.message.starts_with("InternalLoadBalancer:"))
                        .count() as i64,
                );
            if let Some(mut fleet) = fleet {
                // A whole composition rebuilt every profile: keep the served
                // fleet's objects for the unchanged ones.
                let changed = {
                    let served = tx.borrow();
                    fleet.share_unchanged(&served);
                    **served != fleet
                };
                if changed {
                    tx.send_replace(Arc::new(fleet));
                }
            }
            debug!(
                compose_ms = composed.as_secs_f64() * 1e3,
                path = ?how,
                merge_ms = composer.merge_time().as_secs_f64() * 1e3,
                total_ms = composing.elapsed().as_secs_f64() * 1e3,
                "fleet composed"
            );
        }
        tasks.abort_all();
    }
}

/// A list in progress: logged, and before the first fleet it moves the start-up
/// deadline on (the API server answers; the list is just large).
fn listing(u: &Update, synced: bool, started: &mut tokio::time::Instant) {
    if let Update::Listing {
        cluster,
        resource,
        listed,
    } = u
    {
        info!(cluster = %cluster, resource = resource.label(), listed, "listing");
        if !synced {
            *started = tokio::time::Instant::now();
        }
    }
}

/// Re-reads the settings when the file changed (or `forced`). Returns whether they changed.
fn reread(
    path: &std::path::Path,
    settings: &mut (Doc, SettingsDocument),
    stamp: &mut Option<crate::file::Stamp>,
    forced: bool,
) -> bool {
    let now = crate::file::stamp(path);
    if !forced && now == *stamp {
        return false;
    }
    *stamp = now;
    match read_settings(path) {
        Ok(new) if new.1 != settings.1 => {
            if new.1.spec.kubernetes != settings.1.spec.kubernetes {
                warn!(file = %path.display(), "spec.kubernetes changed; cluster connections change only on restart");
            }
            info!(file = %path.display(), "settings reloaded");
            *settings = new;
            true
        }
        Ok(_) => false,
        Err(e) => {
            warn!(error = %e, "settings rejected; the last good settings stay");
            false
        }
    }
}

/// The settings document of `path`, checked as the file source checks it.
fn read_settings(path: &std::path::Path) -> Result<(Doc, SettingsDocument), SourceError> {
    let fail = |message: String| SourceError::Settings {
        path: path.display().to_string(),
        message,
    };
    let (_, _) = crate::file::load(path).map_err(|d| fail(d.to_string()))?;
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let mut diags = Diagnostics::default();
    let inputs = fleetdns_config::file::parse(path, &text, &mut diags);
    inputs
        .settings
        .into_iter()
        .next()
        .ok_or_else(|| fail("no FleetDNSConfig document".into()))
}
