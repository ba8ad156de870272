//! The recompile loop: follows the fleet and the health and publishes the
//! snapshot the answers read.
//!
//! A change compiles again only the profiles it touches (`fleetdns_dns::patch`)
//! when the zone is unsigned and nothing zone-wide changed, and the whole zone
//! otherwise; a health update that moves no endpoint's availability shares the
//! zone. A signed zone is also compiled again every re-sign interval.

use std::sync::Arc;

use arc_swap::ArcSwap;
use fleetdns_config::{Fleet, Health};
use fleetdns_dns::{patch, DnsMetrics, Snapshot};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::serve::ServeMetrics;

/// Recompiles the zone when the fleet changes or an endpoint's availability
/// changes; otherwise publishes the same zone with the new health.
pub(crate) async fn run(
    mut fleet: watch::Receiver<Arc<Fleet>>,
    mut health: watch::Receiver<Arc<Health>>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    metrics: Arc<DnsMetrics>,
    serve_metrics: ServeMetrics,
    mut signer: Option<crate::dnssec::ZoneSigner>,
    shutdown: CancellationToken,
) {
    // DNSSEC: a re-sign pass every interval renews signatures nearing expiry.
    let period = signer
        .as_ref()
        .map_or(std::time::Duration::from_secs(3600), |s| {
            s.resign_interval()
        });
    let mut resign = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    // The fleet the current zone was compiled from. Both inputs are compared
    // after every wake-up: either channel may have changed, whichever woke us.
    let mut compiled_fleet = fleet.borrow().clone();
    let mut compiled_serial = compiled_fleet.zone.soa.serial;
    // Which profile each health slot belongs to, for the current fleet.
    let mut slot_index: Option<patch::SlotIndex> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = fleet.changed() => if r.is_err() { return },
            r = health.changed() => if r.is_err() { return },
            _ = resign.tick(), if signer.is_some() => {
                let (f, h) = (fleet.borrow().clone(), health.borrow().clone());
                let (made, _, _) = signer.as_ref().map_or((0, 0, 0), |s| s.counts());
                let zone = tokio::task::block_in_place(|| {
                    Snapshot::compile_signed(&f, h, &metrics, signer.as_mut().map(|s| s.signing()))
                });
                snapshot.store(Arc::new(zone));
                let (now_made, _, held) = signer.as_ref().map_or((0, 0, 0), |s| s.counts());
                debug!(zone = %f.zone.apex, renewed = now_made - made, signatures = held, "dnssec re-sign pass");
                continue;
            }
        }
        let f = fleet.borrow_and_update().clone();
        let h = health.borrow_and_update().clone();
        let fleet_changed = !Arc::ptr_eq(&f, &compiled_fleet);
        let previous = snapshot.load_full();
        // Health alone: the profiles whose endpoints' availability moved (one pass
        // over the slots); none moved, the same zone shows the new health.
        let moved = match fleet_changed {
            false => patch::health_changes(&f, previous.health(), &h, &mut slot_index),
            true => Default::default(),
        };
        if !fleet_changed && moved.is_empty() {
            if let Some(same_zone) = previous.with_health(h.clone()) {
                snapshot.store(Arc::new(same_zone));
                continue;
            }
        }
        if fleet_changed {
            crate::dnssec::ZoneSigner::follow(&mut signer, &f);
            slot_index = None;
        }
        let started = std::time::Instant::now();
        // Only the profiles that changed are compiled again, when the zone is
        // unsigned and nothing zone-wide changed; otherwise the whole zone.
        let patched = signer.is_none().then(|| {
            let mut changes = match fleet_changed {
                true => patch::diff(&compiled_fleet, &f)?,
                false => patch::Changes::default(),
            };
            changes.compile.extend(match fleet_changed {
                true => patch::health_changes(&f, previous.health(), &h, &mut slot_index),
                false => moved,
            });
            let n = changes.len();
            if !changes.worth_patching(f.profiles.len()) {
                return None;
            }
            previous
                .patch(&f, h.clone(), &changes, &metrics)
                .map(|s| (s, n))
        });
        let (zone, kind, changed) = match patched.flatten() {
            Some((zone, n)) => (zone, "patch", n),
            None => {
                let signing = signer.as_mut().map(|s| s.signing());
                // Compiling (and signing) a large fleet takes seconds of CPU: this worker
                // thread hands its other tasks over meanwhile (serve's runtime is multi-threaded).
                let zone = tokio::task::block_in_place(|| {
                    Snapshot::compile_signed(&f, h, &metrics, signing)
                });
                (zone, "full", f.profiles.len())
            }
        };
        snapshot.store(Arc::new(zone));
        let elapsed = started.elapsed();
        serve_metrics.compiled(kind, elapsed);
        let compile_ms = elapsed.as_millis() as u64;
        compiled_fleet = f.clone();
        if fleet_changed {
            serve_metrics.zone(&f);
            // A new fleet with the same serial changed nothing a secondary would see (a
            // cluster's reachability, say): not worth an info line.
            if f.zone.soa.serial != compiled_serial {
                info!(zone = %f.zone.apex, serial = f.zone.soa.serial, profiles = f.profiles.len(), compile = kind, changed, compile_ms, "zone updated");
            } else {
                debug!(zone = %f.zone.apex, serial = f.zone.soa.serial, compile = kind, changed, compile_ms, "fleet changed; zone serial unchanged");
            }
            compiled_serial = f.zone.soa.serial;
        } else {
            debug!(zone = %f.zone.apex, compile = kind, changed, compile_ms, "health changed routing; zone updated");
        }
    }
}
