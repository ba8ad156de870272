//! The status writer's loop: recompute the desired statuses from each new
//! `Fleet` and `Health` snapshot while this replica leads, [`reconcile`] each
//! object, retry failures with backoff, and keep the mode metric current.

use std::sync::Arc;
use std::time::Duration;

use fleetdns_config::backoff::Backoff;
use fleetdns_config::{Fleet, Health};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::desired::{self, Mode};
use super::finalizer;
use super::writer::{key, kind_label, reconcile, Action, Context, Key};
use crate::azure::MirrorStatus;

/// Everything is re-checked this often.
const RESYNC: Duration = Duration::from_secs(600);
/// Failed writes are retried after about this long (jittered, see [`Backoff`]).
const RETRY: Duration = Duration::from_secs(5);

/// The snapshots the writer follows.
pub struct Inputs {
    /// The fleet, with each object's observed status.
    pub fleet: watch::Receiver<Arc<Fleet>>,
    /// The probes' results (for `fleetdns.io/Serving`).
    pub health: watch::Receiver<Arc<Health>>,
    /// The Azure mirror's results.
    pub mirror: watch::Receiver<Arc<MirrorStatus>>,
    /// Whether this replica holds the Lease.
    pub leader: watch::Receiver<bool>,
}

/// Writes status while `leader` says so, until `shutdown` is cancelled.
pub async fn run(
    mut ctx: Context,
    manage_exports: bool,
    mut inputs: Inputs,
    shutdown: CancellationToken,
) {
    let mut resync = tokio::time::interval(RESYNC);
    let mut backoff = Backoff::new(RETRY, RETRY).expect("a 5 s retry is a valid backoff");
    // Set while some write failed: when to try again.
    let mut retry: Option<tokio::time::Instant> = None;
    let (mut mirror_open, mut health_open) = (true, true);
    // The health the last pass read, while only health has changed since.
    let mut last_health: Option<Arc<Health>> = None;
    loop {
        let mut health_only = false;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = inputs.fleet.changed() => if r.is_err() { return },
            r = inputs.leader.changed() => if r.is_err() { return },
            // The mirror or the prober going away must not stop status writing.
            r = inputs.mirror.changed(), if mirror_open => if r.is_err() { mirror_open = false; continue },
            r = inputs.health.changed(), if health_open => if r.is_err() { health_open = false; continue } else { health_only = true },
            _ = resync.tick() => ctx.forget(),
            _ = async { tokio::time::sleep_until(retry.unwrap_or_else(tokio::time::Instant::now)).await }, if retry.is_some() => {}
        }
        let leading = *inputs.leader.borrow_and_update();
        ctx.metrics.leader.set(i64::from(leading));
        if !leading {
            ctx.forget();
            last_health = None;
            continue;
        }
        let h = inputs.health.borrow_and_update().clone();
        // A probe result that changes no status (the usual one) costs no pass:
        // a pass is linear in the fleet (seconds at 100k profiles).
        if health_only
            && last_health
                .as_ref()
                .is_some_and(|l| desired::reads_same(l, &h))
        {
            continue;
        }
        last_health = Some(Arc::clone(&h));
        let f = inputs.fleet.borrow_and_update().clone();
        let m = inputs.mirror.borrow_and_update().clone();
        // Linear in the fleet but seconds at 100k profiles: off the async workers.
        let want = {
            let (f, m) = (Arc::clone(&f), Arc::clone(&m));
            let computed = tokio::task::spawn_blocking(move || {
                let mirrored = f.azure.is_some().then_some(m.as_ref());
                desired::desired_with_health(&f, Some(&h), manage_exports, mirrored)
            });
            match computed.await {
                Ok(want) => want,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // Cancelled: the runtime is shutting down.
                Err(_) => return,
            }
        };
        let mut again = false;
        for d in &want {
            if !*inputs.leader.borrow() {
                break;
            }
            let kind = kind_label(d.kind);
            match reconcile(d, &mut ctx).await {
                Ok(Action::Written) => {
                    ctx.metrics
                        .writes
                        .with_label_values(&[kind, "written"])
                        .inc();
                    debug!(kind, namespace = %d.namespace, name = %d.name, "status written");
                }
                Ok(_) => {}
                Err(e) => {
                    ctx.metrics.writes.with_label_values(&[kind, "error"]).inc();
                    warn!(kind, namespace = %d.namespace, name = %d.name, retry = e.retry(), error = %e, "status not written");
                    again |= e.retry();
                }
            }
        }
        // fleetdns's finalizer, after the statuses (see `finalizer`).
        for c in finalizer::plan(&f, &m, ctx.setting) {
            if !*inputs.leader.borrow() {
                break;
            }
            if let Err(e) = finalizer::apply(&ctx.clients.hub, &c).await {
                warn!(kind = kind_label(c.kind), namespace = %c.namespace, name = %c.name, add = c.add, error = %e, "finalizer not written");
                again = true;
            }
        }
        for m in [Mode::Owner, Mode::Observer] {
            let n = ctx.modes.values().filter(|x| **x == m).count();
            ctx.metrics
                .mode
                .with_label_values(&[m.as_str()])
                .set(n as i64);
        }
        retry = if again {
            Some(tokio::time::Instant::now() + backoff.next_delay())
        } else {
            backoff.reset();
            None
        };
        // Forget objects that are gone.
        let keys: std::collections::HashSet<Key> = want.iter().map(key).collect();
        ctx.applied.retain(|k, _| keys.contains(k));
        ctx.conflicts.retain(|k, _| keys.contains(k));
        ctx.modes.retain(|k, _| keys.contains(k));
    }
}
