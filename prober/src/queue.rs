//! The probe schedule of every endpoint: due probes bucketed by grid time.
//!
//! An endpoint waiting for its next probe is one entry here (its schedule's
//! generation and its id, 24 bytes, in the bucket of its due time), instead of
//! a sleeping task of its own (about 860 bytes with its timer, permit request
//! and report sender). Due times lie on the grid of [`schedule::tick`], so many
//! endpoints share a bucket (at 10,000 endpoints every 10 s, about 100 per
//! 100 ms slot): taking the due probes costs one map step per slot, not one
//! heap step per probe.
//! The supervisor sleeps until the earliest entry and starts a short-lived
//! probe task for each entry that is due; the result schedules the next one.
//!
//! Entries are never removed in place: an endpoint that was removed or whose
//! schedule restarted leaves an entry whose generation is no longer current,
//! which the supervisor skips when it comes due (or [`Queue::retain`] drops).
//! The times follow [`crate::schedule`] exactly: a random first delay within
//! the interval, then `interval × (1 ± JITTER)` from each probe's start, every
//! start rounded up to the shared grid.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::schedule;
use crate::table::Generation;

/// Every endpoint's next probe, earliest first.
#[derive(Debug)]
pub(crate) struct Queue {
    /// Origin of the grid probe start times are aligned to.
    epoch: Instant,
    /// By due time in nanoseconds since `epoch` (on the grid): the
    /// endpoints due then, with their schedules' generations.
    buckets: BTreeMap<u64, Vec<(Generation, Arc<str>)>>,
    /// Entries in all buckets.
    len: usize,
    rng: fastrand::Rng,
}

impl Queue {
    pub(crate) fn new(epoch: Instant, rng: fastrand::Rng) -> Queue {
        Queue {
            epoch,
            buckets: BTreeMap::new(),
            len: 0,
            rng,
        }
    }

    /// Schedules the first probe of a new (or restarted) schedule, at a random
    /// point of the interval from `now`.
    pub(crate) fn first(
        &mut self,
        endpoint: Arc<str>,
        generation: Generation,
        interval_seconds: u32,
        now: Instant,
    ) {
        let interval = schedule::interval(interval_seconds);
        let delay = schedule::first_delay(interval, &mut self.rng);
        self.push(endpoint, generation, interval, now + delay);
    }

    /// Schedules the probe after the one that started at `started`.
    pub(crate) fn next(
        &mut self,
        endpoint: Arc<str>,
        generation: Generation,
        interval_seconds: u32,
        started: Instant,
    ) {
        let interval = schedule::interval(interval_seconds);
        let delay = schedule::next_delay(interval, &mut self.rng);
        self.push(endpoint, generation, interval, started + delay);
    }

    fn push(
        &mut self,
        endpoint: Arc<str>,
        generation: Generation,
        interval: Duration,
        at: Instant,
    ) {
        let since = schedule::align(
            at.saturating_duration_since(self.epoch),
            schedule::tick(interval),
        );
        let at = u64::try_from(since.as_nanos()).unwrap_or(u64::MAX);
        self.buckets
            .entry(at)
            .or_default()
            .push((generation, endpoint));
        self.len += 1;
    }

    /// When the earliest entry is due, if any.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let (&at, _) = self.buckets.first_key_value()?;
        Some(self.epoch + Duration::from_nanos(at))
    }

    /// An entry of the earliest bucket if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Arc<str>, Generation)> {
        let mut bucket = self.buckets.first_entry()?;
        if self.epoch + Duration::from_nanos(*bucket.key()) > now {
            return None;
        }
        let (generation, endpoint) = bucket.get_mut().pop()?;
        if bucket.get().is_empty() {
            bucket.remove();
        }
        self.len -= 1;
        Some((endpoint, generation))
    }

    /// Keeps only the entries `current` accepts (drops stale ones at once).
    pub(crate) fn retain(&mut self, mut current: impl FnMut(&str, Generation) -> bool) {
        self.buckets.retain(|_, bucket| {
            bucket.retain(|(g, id)| current(id, *g));
            if bucket.capacity() > bucket.len() * 2 {
                bucket.shrink_to_fit();
            }
            !bucket.is_empty()
        });
        self.len = self.buckets.values().map(Vec::len).sum();
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn entries_come_due_in_time_order_on_the_grid() {
        let epoch = Instant::now();
        let mut q = Queue::new(epoch, fastrand::Rng::with_seed(5));
        for i in 0..1000u64 {
            q.first(format!("e{i}").into(), i, 10, epoch);
        }
        let tick = schedule::tick(Duration::from_secs(10));
        let mut last = epoch;
        let mut seen = 0;
        while let Some(at) = q.deadline() {
            assert!(at >= last, "earliest first");
            assert_eq!((at - epoch).as_nanos() % tick.as_nanos(), 0, "on the grid");
            assert!(at - epoch <= Duration::from_secs(10));
            assert!(
                q.pop_due(at - Duration::from_nanos(1)).is_none(),
                "not early"
            );
            let (_, _) = q.pop_due(at).expect("due at its time");
            last = at;
            seen += 1;
        }
        assert_eq!(seen, 1000);
    }

    #[tokio::test(start_paused = true)]
    async fn next_probe_is_an_interval_from_the_start_within_jitter() {
        let epoch = Instant::now();
        let mut q = Queue::new(epoch, fastrand::Rng::with_seed(9));
        let started = epoch + Duration::from_millis(1234);
        for g in 0..100 {
            q.next("e".into(), g, 10, started);
        }
        let tick = schedule::tick(Duration::from_secs(10));
        let lo = started + Duration::from_secs(10).mul_f64(1.0 - schedule::JITTER);
        let hi = started + Duration::from_secs(10).mul_f64(1.0 + schedule::JITTER) + tick;
        while let Some(at) = q.deadline() {
            assert!(lo <= at && at <= hi, "{:?}", at - started);
            q.pop_due(at);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retain_drops_stale_entries() {
        let epoch = Instant::now();
        let mut q = Queue::new(epoch, fastrand::Rng::with_seed(1));
        for g in 0..10 {
            q.first(format!("e{g}").into(), g, 1, epoch);
        }
        q.retain(|id, g| id != "e3" && g != 7);
        assert_eq!(q.len(), 8);
        let mut left = Vec::new();
        while let Some(at) = q.deadline() {
            left.push(q.pop_due(at).unwrap().1);
        }
        left.sort();
        assert_eq!(left, [0, 1, 2, 4, 5, 6, 8, 9]);
    }
}
