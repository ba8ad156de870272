//! The mirror loop: on every fleet change, every change of the writer gate and
//! every resync interval, reconcile each desired profile ([`super::profile`]) and,
//! as the writer, collect garbage ([`super::gc`]).
//!
//! It runs in its own task and only reads watch channels, so a slow, throttled or
//! failing ARM never delays DNS answers. Each request is retried by the ARM client;
//! a pass that still ends with something `Pending` is retried with the shared
//! jittered [`Backoff`] (1 s doubling to 60 s), never earlier than a `Retry-After`.
//!
//! One writer: only the replica whose `leader` gate is true writes to ARM (in
//! Kubernetes mode the status Lease holder; in file mode the process itself, see
//! [`Gates::single_writer`]). The others read, plan, and publish the plan as
//! `planned` in [`MirrorStatus`] and as `fleetdns_azure_planned_writes`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fleetdns_arm::{ArmClient, ClientOptions, Resource, TokenSource};
use fleetdns_config::azure::AzureMirror;
use fleetdns_config::backoff::Backoff;
use fleetdns_config::Fleet;
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::desired::desired;
use super::diff::plan;
use super::finalize;
use super::gc::Collector;
use super::metrics::Metrics;
use super::model::{ArmCall, Method};
use super::profile;
use super::status::{Accepted, Programmed, Reason};

/// What the mirror last saw and did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorStatus {
    /// Per profile (`namespace/name`): what the last pass saw and did.
    pub profiles: BTreeMap<String, ProfileStatus>,
    /// Per backend (`namespace/name`): whether its endpoints are in Traffic Manager.
    pub backends: BTreeMap<String, BackendStatus>,
    /// This replica writes to ARM.
    pub writer: bool,
    /// Writes the last pass wanted but did not send (not the writer), as `METHOD path`.
    pub planned: Vec<String>,
    /// fleetdns-managed profiles whose object is gone, waiting out the grace period (ARM ids).
    pub orphans: Vec<String>,
    /// uids of objects being deleted whose Azure side is gone (their finalizer may go).
    pub finalized: Vec<String>,
    /// Objects being deleted whose Azure side could not be deleted yet (`namespace/name` → error).
    pub deleting: BTreeMap<String, String>,
    /// End of the last pass.
    pub last_pass: Option<SystemTime>,
    /// Passes completed since start.
    pub passes: u64,
}

/// One mirrored profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileStatus {
    /// ARM name, `fleet-<uid>`.
    pub name: String,
    /// ARM resource id (fleet-networking's `status.resourceID`).
    pub resource_id: String,
    /// `properties.dnsConfig.fqdn` as ARM reports it.
    pub dns_name: Option<String>,
    /// The `Programmed` condition the last pass arrived at.
    pub programmed: Programmed,
    /// `endpointMonitorStatus` per endpoint name, as ARM reports it.
    pub endpoints: BTreeMap<String, String>,
}

/// One backend's endpoints in Traffic Manager (its `Accepted` condition).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendStatus {
    /// `namespace/name` of its profile.
    pub profile: String,
    /// Whether all its endpoints are in Traffic Manager.
    pub accepted: Accepted,
    /// One line per endpoint not written or left out, with ARM's ids.
    pub errors: Vec<String>,
}

/// How to run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// One pass, then return.
    pub once: bool,
}

/// Who may write, and whether the fleet is complete enough to garbage-collect.
pub struct Gates {
    /// True while this replica is the writer.
    pub leader: watch::Receiver<bool>,
    /// True once the source has published a complete fleet.
    pub synced: watch::Receiver<bool>,
}

impl Gates {
    /// Both gates open for good: file mode and `azure-sync`, where the process is
    /// the only writer (run one replica with `spec.azure`, or use Kubernetes mode,
    /// where the Lease picks the writer).
    pub fn single_writer() -> Self {
        Self {
            leader: watch::channel(true).1,
            synced: watch::channel(true).1,
        }
    }
}

/// The calls a first sync into an empty subscription would make (`--dry-run`).
pub fn dry_run(fleet: &Fleet) -> Vec<ArmCall> {
    desired(fleet)
        .iter()
        .flat_map(|d| {
            plan(d, None, false)
                .map(|p| p.calls().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .collect()
}

struct Mirror {
    settings: AzureMirror,
    client: ArmClient,
}

fn same_client(a: &AzureMirror, b: &AzureMirror) -> bool {
    a.arm_endpoint == b.arm_endpoint
        && a.authority_host == b.authority_host
        && a.auth == b.auth
        && a.max_requests_per_second == b.max_requests_per_second
        && a.request_timeout_seconds == b.request_timeout_seconds
}

fn mirror(a: &AzureMirror, metrics: &Metrics) -> Result<Mirror, reqwest::Error> {
    let http = ArmClient::http(Duration::from_secs(a.request_timeout_seconds))?;
    let tokens = Arc::new(TokenSource::new(
        a.auth.clone(),
        a.authority_host.clone(),
        Resource::arm(&a.arm_endpoint),
        http.clone(),
        metrics.arm.clone(),
    ));
    TokenSource::spawn_refresher(&tokens);
    let options = ClientOptions {
        max_requests_per_second: a.max_requests_per_second,
        ..ClientOptions::default()
    };
    Ok(Mirror {
        settings: a.clone(),
        client: ArmClient::new(
            http,
            a.arm_endpoint.clone(),
            tokens,
            metrics.arm.clone(),
            options,
        ),
    })
}

/// Waits for a gate to change; forever if its sender is gone (a fixed gate).
async fn changed(rx: &mut watch::Receiver<bool>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Runs until `shutdown` (or after one pass with `once`). Returns the last status.
pub async fn run(
    mut fleet: watch::Receiver<Arc<Fleet>>,
    status: watch::Sender<Arc<MirrorStatus>>,
    metrics: Metrics,
    options: Options,
    mut gates: Gates,
    shutdown: CancellationToken,
) -> Arc<MirrorStatus> {
    let mut current: Option<Mirror> = None;
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
        .expect("1 s to 60 s is a valid backoff");
    let mut gc = Collector::default();
    let mut passes = 0u64;
    loop {
        let f = fleet.borrow_and_update().clone();
        let leader = *gates.leader.borrow_and_update();
        let synced = *gates.synced.borrow_and_update();
        metrics.writer.set(i64::from(leader));
        let wait = match &f.azure {
            None => None,
            Some(a) => {
                if !current
                    .as_ref()
                    .is_some_and(|m| same_client(&m.settings, a))
                {
                    match mirror(a, &metrics) {
                        Ok(m) => current = Some(m),
                        Err(e) => warn!(error = %e, "cannot build the ARM HTTP client"),
                    }
                }
                match &mut current {
                    None => Some(backoff.next_delay()),
                    Some(m) => {
                        m.settings = a.clone();
                        let tick = tokio::select! {
                            _ = shutdown.cancelled() => return status.borrow().clone(),
                            r = pass(&m.client, &f, a, &metrics, leader, synced, &mut gc) => r,
                        };
                        passes += 1;
                        let (mut next, retry) = tick;
                        next.passes = passes;
                        status.send_replace(Arc::new(next));
                        if retry {
                            metrics.reconciles.with_label_values(&["retry"]).inc();
                            Some(backoff.next_delay())
                        } else {
                            metrics.reconciles.with_label_values(&["converged"]).inc();
                            backoff.reset();
                            Some(Duration::from_secs(a.resync_seconds))
                        }
                    }
                }
            }
        };
        if options.once {
            return status.borrow().clone();
        }
        let sleep = async {
            match wait {
                Some(w) => tokio::time::sleep(w).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return status.borrow().clone(),
            r = fleet.changed() => if r.is_err() { return status.borrow().clone() },
            _ = changed(&mut gates.leader) => {
                info!(writer = *gates.leader.borrow(), "Azure mirror writer gate changed");
            }
            _ = changed(&mut gates.synced) => {}
            _ = sleep => {}
        }
    }
}

/// One pass over every desired profile. Returns the status and whether to retry soon.
async fn pass(
    client: &ArmClient,
    fleet: &Fleet,
    settings: &AzureMirror,
    metrics: &Metrics,
    leader: bool,
    synced: bool,
    gc: &mut Collector,
) -> (MirrorStatus, bool) {
    let mut out = MirrorStatus {
        writer: leader,
        ..MirrorStatus::default()
    };
    let mut retry = false;
    let mut planned: BTreeMap<&'static str, i64> = BTreeMap::new();
    let all = desired(fleet);
    for d in &all {
        gc.groups.insert((
            d.at.subscription.to_ascii_lowercase(),
            d.at.resource_group.to_ascii_lowercase(),
        ));
        let o = profile::reconcile(client, d, settings.adopt, leader).await;
        retry |= o.retry;
        for r in Reason::ALL {
            metrics
                .programmed
                .with_label_values(&[&d.key, r.as_str()])
                .set(i64::from(r == o.status.programmed.reason));
        }
        for c in &o.planned {
            *planned.entry(c.method.as_str()).or_default() += 1;
            out.planned.push(c.to_string());
        }
        for (key, b) in o.backends {
            for r in ["Accepted", "Invalid", "Pending"] {
                metrics
                    .accepted
                    .with_label_values(&[&key, r])
                    .set(i64::from(r == b.accepted.reason));
            }
            if b.accepted.reason != "Accepted" {
                let blame = if b.accepted.reason == "Invalid" {
                    "caller"
                } else {
                    "azure"
                };
                metrics
                    .endpoint_errors
                    .with_label_values(&[&key, blame])
                    .inc_by(b.errors.len() as u64);
            }
            out.backends.insert(key, b);
        }
        out.profiles.insert(d.key.clone(), o.status);
    }
    for m in [Method::Get, Method::Put, Method::Delete] {
        metrics
            .planned
            .with_label_values(&[m.as_str()])
            .set(planned.get(m.as_str()).copied().unwrap_or_default());
    }
    // Set this pass's series first, then drop the ones that went away: a scrape
    // in between never sees the gauge empty (a reset() first would allow that).
    let mut current = std::collections::HashSet::new();
    for (key, s) in &out.profiles {
        for (ep, st) in &s.endpoints {
            metrics.monitor.with_label_values(&[key, ep, st]).set(1);
            current.insert([key.as_str(), ep.as_str(), st.as_str()]);
        }
    }
    super::metrics::remove_absent(
        &metrics.monitor,
        &["profile", "endpoint", "status"],
        &current,
    );
    // Objects being deleted: their Azure side goes now, not after the grace period.
    if leader {
        for d in finalize::deletions(fleet) {
            match finalize::delete(client, &d).await {
                Ok(()) => out.finalized.push(d.uid().to_string()),
                Err(e) => {
                    let key = match &d {
                        finalize::Deletion::Profile { key, .. }
                        | finalize::Deletion::Endpoints { key, .. } => key.clone(),
                    };
                    warn!(object = %key, error = %e, "deleting the Azure side of an object being deleted failed");
                    out.deleting.insert(key, e);
                    retry = true;
                }
            }
        }
    }
    if leader && synced {
        let ids: BTreeSet<String> = all
            .iter()
            .map(|d| d.at.resource_id().to_ascii_lowercase())
            .collect();
        let grace = Duration::from_secs(settings.gc_grace_seconds);
        let report = gc
            .collect(client, &settings.arm_endpoint, &ids, grace)
            .await;
        metrics.gc_deleted.inc_by(report.deleted.len() as u64);
        metrics.gc_pending.set(report.pending.len() as i64);
        // Orphans waiting out the grace period need another pass when it ends.
        retry |=
            !report.pending.is_empty() && grace <= Duration::from_secs(settings.resync_seconds);
        out.orphans = report.pending;
    }
    out.last_pass = Some(SystemTime::now());
    (out, retry)
}
