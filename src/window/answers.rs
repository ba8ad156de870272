//! Each endpoint's answers over the last minute, for the status page's "share of
//! answers" column.
//!
//! The query path only increments per-endpoint counters (lock-free atomics). A
//! task of the admin side reads those counters every [`SAMPLE_EVERY`] by their
//! slot (a small integer an endpoint keeps while it is in the zone) and keeps,
//! per slot, the last reading and the answers within [`WINDOW`], plus for each
//! interval between two readings only the slots that were answered in it (so
//! the sum can be taken back when the interval leaves the window). At 300,000
//! endpoints this is ~8 MiB, where a map of every counter per reading was ~90.
//! No clock, lock or allocation is added to answering.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the answer counters are read.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// The span the shares cover.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Answers per endpoint over the window, as the page shows them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnswerWindow {
    /// Seconds between the oldest and the newest reading (less than [`WINDOW`]
    /// during the first minute; 0 before the second reading).
    pub seconds: f64,
    /// Answers that returned each endpoint (by endpoint id) within those seconds.
    pub answers: HashMap<Arc<str>, u64>,
}

/// One reading of the counters: calls its argument with each counter's slot,
/// endpoint id and answers so far (`DnsMetrics::visit_answer_totals`).
pub trait Reading: FnOnce(&mut dyn FnMut(u32, &Arc<str>, u64)) {}
impl<F: FnOnce(&mut dyn FnMut(u32, &Arc<str>, u64))> Reading for F {}

/// The readings of the last minute, per slot.
#[derive(Default)]
pub struct AnswerRing {
    /// When each reading still inside the window was taken, oldest first.
    times: VecDeque<Instant>,
    /// Between consecutive readings (`intervals[k]` follows `times[k]`): the
    /// slots answered in it and how often.
    intervals: VecDeque<Vec<(u32, u32)>>,
    /// Per slot: the endpoint that holds it (`None`: free).
    ids: Vec<Option<Arc<str>>>,
    /// Per slot: answers so far at the last reading.
    last: Vec<u64>,
    /// Per slot: answers within the window (the sum of its interval entries).
    sum: Vec<u32>,
    /// Per slot: read in the current reading (scratch).
    present: Vec<bool>,
}

impl AnswerRing {
    /// Adds a reading of the counters taken at `at`, and lets readings older
    /// than [`WINDOW`] before it go.
    pub fn push(&mut self, at: Instant, reading: impl Reading) {
        let first = self.times.is_empty();
        let mut answered: Vec<(u32, u32)> = Vec::new();
        // Slots whose earlier interval entries no longer belong to their counter.
        let mut restarted: Vec<u32> = Vec::new();
        self.present.iter_mut().for_each(|p| *p = false);
        reading(&mut |slot, id, now| {
            let i = slot as usize;
            if i >= self.ids.len() {
                let n = i + 1;
                self.ids.resize(n, None);
                self.last.resize(n, 0);
                self.sum.resize(n, 0);
                self.present.resize(n, false);
            }
            self.present[i] = true;
            let same = match &self.ids[i] {
                Some(old) if Arc::ptr_eq(old, id) => true,
                Some(old) if **old == **id => {
                    // A recompile's copy of the id: hold the newer one, so the
                    // old zone's strings can go.
                    self.ids[i] = Some(id.clone());
                    true
                }
                Some(_) => {
                    restarted.push(slot);
                    self.ids[i] = Some(id.clone());
                    false
                }
                None => {
                    self.ids[i] = Some(id.clone());
                    false
                }
            };
            let n = if !same {
                // A counter new since the last reading started at 0 inside
                // the window (the very first reading is only the baseline).
                self.sum[i] = 0;
                if first {
                    0
                } else {
                    now
                }
            } else if now >= self.last[i] {
                now - self.last[i]
            } else {
                // Went down: dropped and created again since the last reading.
                restarted.push(slot);
                self.sum[i] = 0;
                now
            };
            self.last[i] = now;
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            if n > 0 {
                self.sum[i] = self.sum[i].saturating_add(n);
                answered.push((slot, n));
            }
        });
        // Counters no longer exported: their slots are free.
        for (i, present) in self.present.iter().enumerate() {
            if !present && self.ids[i].is_some() {
                self.ids[i] = None;
                self.last[i] = 0;
                self.sum[i] = 0;
                restarted.push(i as u32);
            }
        }
        if !restarted.is_empty() {
            let mut gone = vec![false; self.ids.len()];
            for s in restarted {
                gone[s as usize] = true;
            }
            for interval in &mut self.intervals {
                interval.retain(|(s, _)| !gone[*s as usize]);
            }
        }
        if !first {
            self.intervals.push_back(answered);
        }
        self.times.push_back(at);
        while self
            .times
            .front()
            .is_some_and(|t| at.saturating_duration_since(*t) > WINDOW)
        {
            self.times.pop_front();
            for (slot, n) in self.intervals.pop_front().unwrap_or_default() {
                let sum = &mut self.sum[slot as usize];
                *sum = sum.saturating_sub(n);
            }
        }
    }

    /// The answers per endpoint since the oldest reading still inside the window.
    pub fn window(&self) -> AnswerWindow {
        let seconds = match (self.times.front(), self.times.back()) {
            (Some(o), Some(n)) => n.saturating_duration_since(*o).as_secs_f64(),
            _ => 0.0,
        };
        let answers = self
            .ids
            .iter()
            .zip(&self.sum)
            .filter_map(|(id, &n)| Some((id.clone()?, u64::from(n))))
            .collect();
        AnswerWindow { seconds, answers }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reading of `(slot, id, answers so far)`.
    fn reading<'a>(rows: &'a [(u32, &'a str, u64)]) -> impl Reading + 'a {
        move |f: &mut dyn FnMut(u32, &Arc<str>, u64)| {
            for &(slot, id, n) in rows {
                f(slot, &Arc::from(id), n);
            }
        }
    }

    #[test]
    fn answers_are_the_difference_over_the_last_minute() {
        let t0 = Instant::now();
        let mut ring = AnswerRing::default();
        ring.push(t0, reading(&[(0, "a", 100), (1, "b", 0)]));
        let w = ring.window();
        assert_eq!(w.seconds, 0.0);
        assert_eq!(w.answers[&Arc::from("a")], 0);
        // Every 5 s for 90 s: a gets 10 per reading, b 30.
        for i in 1..=18u64 {
            let at = t0 + SAMPLE_EVERY * i as u32;
            ring.push(at, reading(&[(0, "a", 100 + 10 * i), (1, "b", 30 * i)]));
        }
        let w = ring.window();
        assert_eq!(w.seconds, 60.0, "only the last minute counts");
        assert_eq!(w.answers[&Arc::from("a")], 120);
        assert_eq!(w.answers[&Arc::from("b")], 360);
    }

    #[test]
    fn new_and_recreated_counters_count_from_zero() {
        let t0 = Instant::now();
        let mut ring = AnswerRing::default();
        ring.push(t0, reading(&[(0, "a", 500)]));
        ring.push(t0 + SAMPLE_EVERY, reading(&[(0, "a", 7), (1, "c", 4)]));
        let w = ring.window();
        assert_eq!(
            w.answers[&Arc::from("a")],
            7,
            "a was dropped and created again"
        );
        assert_eq!(w.answers[&Arc::from("c")], 4, "c is new");
        assert!(!w.answers.contains_key("gone"));
    }

    #[test]
    fn a_slot_handed_to_another_endpoint_does_not_keep_the_old_ones_answers() {
        let t0 = Instant::now();
        let at = |i: u32| t0 + SAMPLE_EVERY * i;
        let mut ring = AnswerRing::default();
        ring.push(at(0), reading(&[(0, "a", 0), (1, "b", 0)]));
        ring.push(at(1), reading(&[(0, "a", 50), (1, "b", 5)]));
        // a leaves; its slot is zeroed and, a reading later, given to d.
        ring.push(at(2), reading(&[(1, "b", 6)]));
        assert!(!ring.window().answers.contains_key("a"), "a is gone");
        ring.push(at(3), reading(&[(0, "d", 3), (1, "b", 7)]));
        // And in the same reading: a slot whose holder changed.
        ring.push(at(4), reading(&[(0, "e", 2), (1, "b", 9)]));
        let w = ring.window();
        assert_eq!(w.answers[&Arc::from("e")], 2, "only e's own answers");
        assert_eq!(w.answers[&Arc::from("b")], 9);
        assert!(!w.answers.contains_key("d"));
        // When the intervals with a's and d's answers leave the window, nothing
        // is taken from e or b twice.
        for i in 5..=20 {
            ring.push(at(i), reading(&[(0, "e", u64::from(i) - 2), (1, "b", 9)]));
        }
        let w = ring.window();
        assert_eq!(
            w.answers[&Arc::from("e")],
            12,
            "one per reading for 12 readings"
        );
        assert_eq!(w.answers[&Arc::from("b")], 0);
    }

    #[test]
    fn quiet_counters_keep_no_interval_entries() {
        let t0 = Instant::now();
        let rows: Vec<(u32, String, u64)> = (0..1000).map(|i| (i, format!("e{i}"), 7)).collect();
        let mut ring = AnswerRing::default();
        for k in 0..13u32 {
            ring.push(
                t0 + SAMPLE_EVERY * k,
                |f: &mut dyn FnMut(u32, &Arc<str>, u64)| {
                    for (slot, id, n) in &rows {
                        f(*slot, &Arc::from(id.as_str()), *n);
                    }
                },
            );
        }
        assert!(ring.intervals.iter().all(Vec::is_empty));
        assert_eq!(ring.window().answers.len(), 1000);
    }
}
