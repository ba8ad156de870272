//! `fleetdns_dns_answers_total{endpoint,profile}` without one Prometheus series
//! object per endpoint.
//!
//! At 100k profiles an `IntCounterVec` child per endpoint (label strings, a hash
//! entry, a boxed atomic) cost ~177 MiB. Here a counter is one `AtomicU64` in
//! shared fixed-size segments; a compile gives each endpoint of the zone a slot
//! (its old one when the endpoint already had one, so counts survive recompiles),
//! and the label strings are the fleet's own, read at scrape time by
//! [`AnswersCollector`] from the profiles of the zone's names (`Nodes`, shared
//! with the zone). Slots are shared, never copied, so an answer
//! counted through a snapshot that was just replaced is not lost; a slot freed
//! by an endpoint that left is reused only once no snapshot that could count
//! into it is alive.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Counter, LabelPair, Metric, MetricFamily, MetricType};

use crate::chunked::Chunked;
use crate::nodes::Nodes;
use crate::zone::EndpointKey;

/// The metric's name.
pub(crate) const NAME: &str = "fleetdns_dns_answers_total";
/// The metric's help text (unchanged from the `IntCounterVec` it replaces).
const HELP: &str =
    "Answers that returned each endpoint (Traffic Manager's queries by endpoint returned)";

const SEGMENT_BITS: u32 = 12;
const SEGMENT: usize = 1 << SEGMENT_BITS;
/// The slot of an endpoint without a series.
const NONE: u32 = u32::MAX;

type Segment = Arc<[AtomicU64]>;

fn segment() -> Segment {
    (0..SEGMENT).map(|_| AtomicU64::new(0)).collect()
}

/// One compile's answer counters: for each endpoint of the zone, its slot.
pub(crate) struct AnswerCounters {
    segments: Box<[Segment]>,
    /// Per [`crate::Zone`] endpoint position, its slot or [`NONE`].
    slots: Chunked<u32>,
    /// The zone's names: its profiles say which endpoint holds each position
    /// (the label values).
    nodes: Nodes,
}

impl AnswerCounters {
    fn cell(&self, slot: u32) -> &AtomicU64 {
        &self.segments[(slot >> SEGMENT_BITS) as usize][slot as usize & (SEGMENT - 1)]
    }

    /// Counts one answer that returned endpoint `index`: one relaxed atomic add.
    pub(crate) fn count(&self, index: u32) {
        match self.slots.get(index as usize) {
            Some(&slot) if slot != NONE => {
                self.cell(slot).fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Each endpoint of the zone with its slot (or [`NONE`]).
    fn slots(&self) -> impl Iterator<Item = (EndpointKey<'_>, u32)> {
        self.nodes.endpoint_keys().map(|(pos, k)| {
            let slot = self.slots.get(pos as usize).copied().unwrap_or(NONE);
            (k, slot)
        })
    }

    /// The exported series: (endpoint key, answers so far).
    fn series(&self) -> impl Iterator<Item = (EndpointKey<'_>, u64)> {
        self.slots()
            .filter(|(_, slot)| *slot != NONE)
            .map(|(k, slot)| (k, self.cell(slot).load(Ordering::Relaxed)))
    }
}

/// The slot allocator and the current counters; locked by compiles and
/// scrapes only, never by the query path.
#[derive(Default)]
struct Pool {
    segments: Vec<Segment>,
    /// Slots handed out so far (free or not).
    next: u32,
    free: Vec<u32>,
    /// Slots given up at a generation, waiting until no older counters live.
    pending: VecDeque<(u64, Vec<u32>)>,
    /// Every counters object made, oldest first, until it is dropped.
    made: VecDeque<(u64, Weak<AnswerCounters>)>,
    generation: u64,
    current: Option<Arc<AnswerCounters>>,
}

impl Pool {
    /// Makes the counters of one compile the current ones.
    fn publish(
        &mut self,
        generation: u64,
        slots: Chunked<u32>,
        nodes: Nodes,
    ) -> Arc<AnswerCounters> {
        let counters = Arc::new(AnswerCounters {
            segments: self.segments.clone().into_boxed_slice(),
            slots,
            nodes,
        });
        self.made.push_back((generation, Arc::downgrade(&counters)));
        self.current = Some(counters.clone());
        counters
    }

    fn alloc(&mut self) -> u32 {
        if let Some(slot) = self.free.pop() {
            return slot;
        }
        let slot = self.next;
        self.next += 1;
        if slot as usize >= self.segments.len() * SEGMENT {
            self.segments.push(segment());
        }
        slot
    }

    /// Frees the slots no live counters object can count into any more.
    fn reclaim(&mut self) {
        while self
            .made
            .front()
            .is_some_and(|(_, w)| w.strong_count() == 0)
        {
            self.made.pop_front();
        }
        let oldest_live = self.made.front().map_or(u64::MAX, |(g, _)| *g);
        while self.pending.front().is_some_and(|(g, _)| *g <= oldest_live) {
            let (_, slots) = self.pending.pop_front().expect("checked");
            for slot in slots {
                let cell =
                    &self.segments[(slot >> SEGMENT_BITS) as usize][slot as usize & (SEGMENT - 1)];
                cell.store(0, Ordering::Relaxed);
                self.free.push(slot);
            }
        }
    }
}

/// The answer counters of every compile, and the collector's view of them.
pub(crate) struct AnswerStore {
    pool: Mutex<Pool>,
    desc: Desc,
}

impl AnswerStore {
    pub(crate) fn new() -> Result<Self, prometheus::Error> {
        Ok(Self {
            pool: Mutex::default(),
            desc: Desc::new(
                NAME.into(),
                HELP.into(),
                vec!["profile".into(), "endpoint".into()],
                HashMap::new(),
            )?,
        })
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counters of a compiled zone's endpoints: an endpoint keeps the slot
    /// (and count) it had in the previous compile, an answerable endpoint
    /// without one gets a zeroed slot, and the slots of endpoints that are gone
    /// are freed (their series disappear).
    pub(crate) fn compile(&self, nodes: Nodes, positions: u32) -> Arc<AnswerCounters> {
        let mut pool = self.pool();
        pool.generation += 1;
        let generation = pool.generation;
        pool.reclaim();
        let previous = pool.current.take();
        let mut old: HashMap<(&str, &str, &str), u32> =
            previous.as_ref().map_or_else(HashMap::new, |p| {
                p.slots()
                    .filter(|(_, s)| *s != NONE)
                    .map(|(k, s)| (ident(&k), s))
                    .collect()
            });
        let mut kept = vec![false; pool.next as usize];
        let mut slots = vec![NONE; positions as usize];
        for (pos, k) in nodes.endpoint_keys() {
            let slot = match old.get(&ident(&k)) {
                Some(&s) => s,
                None if k.answerable => {
                    let s = pool.alloc();
                    old.insert(ident(&k), s);
                    s
                }
                None => NONE,
            };
            if let Some(seen) = kept.get_mut(slot as usize) {
                *seen = true;
            }
            if let Some(at) = slots.get_mut(pos as usize) {
                *at = slot;
            }
        }
        if let Some(p) = &previous {
            let gone: Vec<u32> = p
                .slots
                .iter()
                .copied()
                .filter(|&s| s != NONE && !kept[s as usize])
                .collect();
            if !gone.is_empty() {
                pool.pending.push_back((generation, gone));
            }
        }
        drop(old);
        pool.publish(generation, slots.into_iter().collect(), nodes)
    }

    /// The counters of a patched zone, from `previous` (the counters of the
    /// zone it was patched from): only the positions in `touched` are looked
    /// at, each with whether an endpoint holds it and if so whether it is
    /// answerable. An endpoint that stays keeps its position and slot; a
    /// position left empty frees its slot. Falls back to
    /// [`AnswerStore::compile`] when `previous` is not the current counters.
    pub(crate) fn patch(
        &self,
        previous: &Arc<AnswerCounters>,
        nodes: Nodes,
        positions: u32,
        touched: &[(u32, Option<bool>)],
    ) -> Arc<AnswerCounters> {
        let mut pool = self.pool();
        if !pool
            .current
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, previous))
        {
            drop(pool);
            return self.compile(nodes, positions);
        }
        pool.generation += 1;
        let generation = pool.generation;
        pool.reclaim();
        let mut slots = previous.slots.clone();
        while slots.len() < positions as usize {
            slots.push(NONE);
        }
        let mut gone = Vec::new();
        for &(pos, now) in touched {
            let pos = pos as usize;
            let Some(slot) = slots.get(pos).copied() else {
                continue;
            };
            let new = match now {
                Some(_) if slot != NONE => slot,
                Some(true) => pool.alloc(),
                Some(false) => NONE,
                None => {
                    if slot != NONE {
                        gone.push(slot);
                    }
                    NONE
                }
            };
            if new != slot {
                *slots.get_mut(pos).expect("checked") = new;
            }
        }
        if !gone.is_empty() {
            pool.pending.push_back((generation, gone));
        }
        pool.publish(generation, slots, nodes)
    }

    /// Calls `f` with each current series' slot, endpoint id and answers so
    /// far. A slot stays an endpoint's while it is in the zone, and is handed to
    /// another (zeroed) only after it left.
    pub(crate) fn visit(&self, mut f: impl FnMut(u32, &std::sync::Arc<str>, u64)) {
        let Some(current) = self.pool().current.clone() else {
            return;
        };
        for (k, slot) in current.slots() {
            if slot != NONE {
                f(
                    slot,
                    k.shared_id(),
                    current.cell(slot).load(Ordering::Relaxed),
                );
            }
        }
    }

    /// The current series as (endpoint id, answers so far).
    pub(crate) fn totals(&self) -> Vec<(String, u64)> {
        let current = self.pool().current.clone();
        current.map_or_else(Vec::new, |c| {
            c.series().map(|(k, n)| (k.id().to_string(), n)).collect()
        })
    }
}

/// What identifies an endpoint's series: its profile's namespace and name,
/// and its id.
fn ident<'z>(k: &EndpointKey<'z>) -> (&'z str, &'z str, &'z str) {
    let (namespace, name) = k.profile_name();
    (namespace, name, k.id())
}

fn label(name: &str, value: &str) -> LabelPair {
    let mut l = LabelPair::default();
    l.set_name(name.into());
    l.set_value(value.into());
    l
}

/// Renders the current counters at scrape time, in the exposition an
/// `IntCounterVec` with labels `profile` and `endpoint` gives.
pub(crate) struct AnswersCollector(pub(crate) Arc<AnswerStore>);

impl Collector for AnswersCollector {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let current = self.0.pool().current.clone();
        let metrics: Vec<Metric> = current.as_deref().map_or_else(Vec::new, |c| {
            c.series()
                .map(|(k, n)| {
                    let (namespace, name) = k.profile_name();
                    // Sorted by label name, as prometheus' own label pairs are.
                    let mut m = Metric::from_label(vec![
                        label("endpoint", k.id()),
                        label("profile", &format!("{namespace}/{name}")),
                    ]);
                    let mut counter = Counter::default();
                    counter.set_value(n as f64);
                    m.set_counter(counter);
                    m
                })
                .collect()
        });
        if metrics.is_empty() {
            // As a vector without children: no family at all.
            return Vec::new();
        }
        let mut family = MetricFamily::default();
        family.set_name(NAME.into());
        family.set_help(HELP.into());
        family.set_field_type(MetricType::COUNTER);
        family.set_metric(metrics);
        vec![family]
    }
}

#[cfg(test)]
#[path = "answer_counters_tests.rs"]
mod tests;
