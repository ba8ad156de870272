//! The prober's main loop: follow the fleet, collect results, publish `Health`.
//!
//! One task owns all mutable state (the [`Table`], the [`Queue`] of next probe
//! times and the probes in flight), so no lock is needed anywhere. It waits on
//! five things at once: shutdown, a new fleet snapshot, the coalescing timer,
//! the next due probe, and probe results. A due probe gets a task of its own
//! (see [`crate::task`]) that ends with its result; the result schedules the
//! endpoint's next probe.
//!
//! Publishing policy: a state transition publishes a new `Arc<Health>` at
//! once, because the DNS answers are recompiled from it and failover speed
//! depends on it — unless another publication went out less than
//! [`Settings::transition_gap`] ago, in which case it goes out when that gap
//! has passed. So a lone failure is published in the same instant its probe
//! ends, while a burst (a whole cluster failing, or the first round of probes
//! of 10,000 endpoints moving CheckingEndpoint → Online) costs at most one
//! snapshot and one zone recompilation per gap instead of one per endpoint.
//! Results that only refresh the latest observation are coalesced into at
//! most one publication per [`Settings::coalesce`]. Fleet updates that add,
//! remove or restart endpoints publish at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fleetdns_config::{Fleet, Health, MonitorState};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::plan::{self, Plan};
use crate::probe::Probe;
use crate::queue::Queue;
use crate::settings::Settings;
use crate::state::state_name;
use crate::table::Generation;
use crate::table::{Applied, Change, Table};
use crate::task::{self, ProbeTask, Report};

/// Capacity of the results queue; probe tasks wait when it is full.
const REPORT_QUEUE: usize = 1024;
/// Most results folded into one publication decision, and most due probes
/// started in one wake-up (the rest follow at once, after the other events).
const BATCH: usize = 1024;

/// Runs until `shutdown`; see the module docs. Probe tasks are aborted on return.
pub(crate) async fn supervise<P: Probe>(
    probe: Arc<P>,
    settings: Settings,
    mut fleet: watch::Receiver<Arc<Fleet>>,
    health: watch::Sender<Arc<Health>>,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let (report_tx, mut reports) = mpsc::channel(REPORT_QUEUE);
    let mut s = Supervisor {
        queue: Queue::new(Instant::now(), fastrand::Rng::new()),
        probe,
        limit: Arc::new(Semaphore::new(settings.max_in_flight.max(1))),
        reports: report_tx,
        table: Table::default(),
        in_flight: HashMap::new(),
        health,
        metrics,
        last_publish: Instant::now(),
        pending: Pending::Nothing,
        transition_gap: settings.transition_gap,
        coalesce: settings.coalesce,
    };
    let first = fleet.borrow_and_update().clone();
    s.apply_fleet(&first);
    s.publish();

    let mut fleet_open = true;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            changed = fleet.changed(), if fleet_open => {
                if changed.is_err() {
                    // The source is gone; keep probing the last fleet until shutdown.
                    tracing::debug!("fleet channel closed; probing the last snapshot");
                    fleet_open = false;
                    continue;
                }
                let snapshot = fleet.borrow_and_update().clone();
                if s.apply_fleet(&snapshot) {
                    s.publish();
                }
            }
            // Before results, so a steady stream of results cannot starve it.
            _ = tokio::time::sleep_until(s.deadline()), if s.pending != Pending::Nothing => {
                s.publish();
            }
            // Before results too: probes start on time under a flood of results.
            _ = sleep_until_some(s.queue.deadline()) => s.launch_due(),
            Some(report) = reports.recv() => {
                let mut transition = s.apply_report(report);
                for _ in 0..BATCH {
                    match reports.try_recv() {
                        Ok(report) => transition |= s.apply_report(report),
                        Err(_) => break,
                    }
                }
                if transition {
                    s.transition();
                }
            }
        }
    }
    s.limit.close();
}

/// Sleeps until `deadline`, or forever if there is none.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The loop's state.
struct Supervisor<P> {
    /// Every endpoint's next probe.
    queue: Queue,
    probe: Arc<P>,
    /// Probes in flight at once, over all endpoints.
    limit: Arc<Semaphore>,
    /// Cloned into every probe task.
    reports: mpsc::Sender<Report>,
    table: Table,
    /// The probe running (or waiting for a permit) per endpoint, with its
    /// schedule's generation; dropping one aborts it.
    in_flight: HashMap<Arc<str>, (Generation, ProbeTask)>,
    health: watch::Sender<Arc<Health>>,
    metrics: Metrics,
    last_publish: Instant,
    /// What changed since the last publication.
    pending: Pending,
    transition_gap: Duration,
    coalesce: Duration,
}

/// Unpublished changes, by urgency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    Nothing,
    /// Only new observations: publish within `coalesce`.
    Observations,
    /// A state changed: publish once `transition_gap` has passed since the last one.
    Transitions,
}

impl<P: Probe> Supervisor<P> {
    /// Schedules, stops and restarts probes to match `fleet`. Returns whether
    /// the set of endpoints or any state changed.
    fn apply_fleet(&mut self, fleet: &Fleet) -> bool {
        let changes = self.table.apply_fleet(plan::desired(fleet));
        let changed = !changes.is_empty();
        let (mut added, mut removed, mut replaced) = (0usize, 0usize, 0usize);
        let now = Instant::now();
        for change in changes {
            match change {
                Change::Added(plan, generation) => {
                    added += 1;
                    self.start(&plan, generation, now);
                }
                Change::Removed(plan) => {
                    removed += 1;
                    // Aborts a probe in flight; its queue entry is now stale.
                    self.in_flight.remove(plan.endpoint());
                }
                Change::Replaced {
                    was,
                    new,
                    generation,
                } => {
                    replaced += 1;
                    if was != MonitorState::CheckingEndpoint {
                        self.metrics.transition(was, MonitorState::CheckingEndpoint);
                        log_transition(
                            &new,
                            was,
                            MonitorState::CheckingEndpoint,
                            "probe settings or target changed",
                        );
                    }
                    // A probe of the old settings in flight is aborted.
                    self.in_flight.remove(new.endpoint());
                    self.start(&new, generation, now);
                }
            }
        }
        // Stale entries of removed or restarted endpoints would go when due;
        // after a large change, drop them now.
        if self.queue.len() > 2 * self.table.len() + 1024 {
            let table = &self.table;
            self.queue.retain(|id, g| table.current(id, g).is_some());
        }
        if changed {
            tracing::debug!(
                added,
                removed,
                replaced,
                probed = self.table.len(),
                "prober followed a fleet update"
            );
        }
        changed
    }

    /// Schedules the first probe of a new schedule.
    fn start(&mut self, plan: &Plan, generation: Generation, now: Instant) {
        let interval = plan.monitor().interval_seconds;
        self.queue
            .first(plan.endpoint().clone(), generation, interval, now);
    }

    /// Starts a probe task for every entry of the queue that is due (at most
    /// [`BATCH`]), skipping those of removed or restarted schedules.
    fn launch_due(&mut self) {
        let now = Instant::now();
        for _ in 0..BATCH {
            let Some((endpoint, generation)) = self.queue.pop_due(now) else {
                break;
            };
            let Some(plan) = self.table.current(&endpoint, generation) else {
                continue;
            };
            let task = task::spawn(
                self.probe.clone(),
                self.limit.clone(),
                plan.clone(),
                generation,
                self.reports.clone(),
            );
            self.in_flight.insert(endpoint, (generation, task));
        }
    }

    /// Records one result and schedules the next probe; returns whether it
    /// changed a state.
    fn apply_report(&mut self, report: Report) -> bool {
        let Report {
            plan,
            generation,
            started,
            result,
        } = report;
        let endpoint = plan.endpoint();
        if self
            .in_flight
            .get(endpoint)
            .is_some_and(|(g, _)| *g == generation)
        {
            // Its task is ending by itself.
            self.in_flight.remove(endpoint);
        }
        let applied = self.table.apply_result(endpoint, generation, &result);
        if applied == Applied::Stale {
            return false;
        }
        let monitor = plan.monitor();
        self.queue.next(
            endpoint.clone(),
            generation,
            monitor.interval_seconds,
            started,
        );
        self.metrics.observed(monitor.protocol, &result);
        match applied {
            Applied::Stale => false,
            Applied::Observed => {
                self.pending = self.pending.max(Pending::Observations);
                false
            }
            Applied::Transition { from, to } => {
                self.metrics.transition(from, to);
                log_transition(&plan, from, to, &result.detail);
                true
            }
        }
    }

    /// A state changed: publish now, or as soon as the gap allows.
    fn transition(&mut self) {
        if Instant::now() >= self.last_publish + self.transition_gap {
            self.publish();
        } else {
            self.pending = Pending::Transitions;
        }
    }

    /// When the pending changes are due.
    fn deadline(&self) -> Instant {
        match self.pending {
            Pending::Transitions => self.last_publish + self.transition_gap,
            Pending::Observations | Pending::Nothing => self.last_publish + self.coalesce,
        }
    }

    fn publish(&mut self) {
        self.health.send_replace(Arc::new(self.table.publish()));
        self.last_publish = Instant::now();
        self.pending = Pending::Nothing;
    }
}

fn log_transition(plan: &Plan, from: MonitorState, to: MonitorState, detail: &str) {
    let (from, to_name) = (state_name(from), state_name(to));
    if to == MonitorState::Degraded {
        tracing::warn!(
            profile = %plan.profile(),
            endpoint = %plan.endpoint(),
            cluster = %plan.cluster(),
            from,
            to = to_name,
            detail,
            "endpoint health changed"
        );
    } else {
        tracing::info!(
            profile = %plan.profile(),
            endpoint = %plan.endpoint(),
            cluster = %plan.cluster(),
            from,
            to = to_name,
            detail,
            "endpoint health changed"
        );
    }
}

#[cfg(test)]
mod tests;
