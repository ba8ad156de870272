//! One endpoint's probe loop: wait, take a permit, probe, report, repeat.
//!
//! Each probed endpoint gets its own task so a slow or hanging endpoint never
//! delays another one's schedule. Concurrency is bounded by one semaphore
//! shared by all tasks, held only while a probe is in flight. The task never
//! ends on its own: its [`ProbeTask`] handle aborts it when dropped, which is
//! how removal, replacement and shutdown stop a probe at once (even mid-flight,
//! closing its connection).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::outcome::{Outcome, ProbeResult};
use crate::plan::Plan;
use crate::probe::Probe;
use crate::schedule;
use crate::spec::ProbeSpec;
use crate::table::Generation;

/// A probe result on its way to the table.
#[derive(Debug)]
pub(crate) struct Report {
    pub plan: Arc<Plan>,
    pub generation: Generation,
    pub result: ProbeResult,
}

/// Owns a running probe loop; dropping it aborts the loop.
#[derive(Debug)]
pub(crate) struct ProbeTask(JoinHandle<()>);

impl Drop for ProbeTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts probing `plan` on the current runtime; probe start times are
/// aligned to the grid of [`schedule::tick`] that starts at `epoch`.
pub(crate) fn spawn<P: Probe>(
    epoch: Instant,
    probe: Arc<P>,
    limit: Arc<Semaphore>,
    plan: Arc<Plan>,
    generation: Generation,
    reports: mpsc::Sender<Report>,
) -> ProbeTask {
    ProbeTask(tokio::spawn(probe_loop(
        epoch, probe, limit, plan, generation, reports,
    )))
}

async fn probe_loop<P: Probe>(
    epoch: Instant,
    probe: Arc<P>,
    limit: Arc<Semaphore>,
    plan: Arc<Plan>,
    generation: Generation,
    reports: mpsc::Sender<Report>,
) {
    let spec = ProbeSpec::new(&plan.monitor, &plan.target);
    let interval = schedule::interval(plan.monitor.interval_seconds);
    let tick = schedule::tick(interval);
    let mut rng = fastrand::Rng::new();
    let mut next = Instant::now() + schedule::first_delay(interval, &mut rng);
    loop {
        tokio::time::sleep_until(
            epoch + schedule::align(next.saturating_duration_since(epoch), tick),
        )
        .await;
        // A closed semaphore means the prober is going away.
        let Ok(permit) = limit.acquire().await else {
            return;
        };
        let started = Instant::now();
        let result = match &spec {
            // Boxed: a probe's future (a connection, TLS, an HTTP exchange)
            // is several KiB, and inline it would size every sleeping loop
            // (one per endpoint); boxed it exists only while a probe runs.
            Ok(spec) => Box::pin(probe.probe(spec)).await,
            Err(e) => ProbeResult::new(Outcome::Error, e.to_string(), Duration::ZERO),
        };
        drop(permit);
        let report = Report {
            plan: plan.clone(),
            generation,
            result,
        };
        if reports.send(report).await.is_err() {
            return;
        }
        next = started + schedule::next_delay(interval, &mut rng);
    }
}
