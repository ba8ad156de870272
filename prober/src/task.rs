//! One due probe: take a permit, probe, report, end.
//!
//! The supervisor's [`crate::queue::Queue`] says when an endpoint is due; only
//! then does it get a task, so an endpoint between two probes costs a queue
//! entry, not a sleeping task. Concurrency is bounded by one semaphore shared
//! by all probes, held only while a probe is in flight. A [`ProbeTask`] handle
//! aborts its task when dropped, which is how removal, replacement and
//! shutdown stop a probe at once (even mid-flight, closing its connection).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::outcome::{Outcome, ProbeResult};
use crate::plan::Plan;
use crate::probe::Probe;
use crate::spec::ProbeSpec;
use crate::table::Generation;

/// A probe result on its way to the table.
#[derive(Debug)]
pub(crate) struct Report {
    pub plan: Plan,
    pub generation: Generation,
    /// When the probe started (it had its permit): the next one is timed from here.
    pub started: Instant,
    pub result: ProbeResult,
}

/// Owns a running probe; dropping it aborts the probe.
#[derive(Debug)]
pub(crate) struct ProbeTask(JoinHandle<()>);

impl Drop for ProbeTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Probes `plan` once on the current runtime, as soon as `limit` has a permit,
/// and sends the result to `reports`.
pub(crate) fn spawn<P: Probe>(
    probe: Arc<P>,
    limit: Arc<Semaphore>,
    plan: Plan,
    generation: Generation,
    reports: mpsc::Sender<Report>,
) -> ProbeTask {
    ProbeTask(tokio::spawn(async move {
        // A closed semaphore means the prober is going away.
        let Ok(permit) = limit.acquire().await else {
            return;
        };
        let started = Instant::now();
        // Built per probe rather than kept per endpoint: a few small
        // allocations next to a connection, and nothing held between probes.
        let result = match ProbeSpec::new(plan.monitor(), plan.target()) {
            // Boxed: a probe's future (a connection, TLS, an HTTP exchange)
            // is several KiB, and inline it would size every task still
            // waiting for a permit; boxed it exists only while a probe runs.
            Ok(spec) => Box::pin(probe.probe(&spec)).await,
            Err(e) => ProbeResult::new(Outcome::Error, e.to_string(), Duration::ZERO),
        };
        drop(permit);
        let report = Report {
            plan,
            generation,
            started,
            result,
        };
        // A closed queue means the prober is going away.
        let _ = reports.send(report).await;
    }))
}
