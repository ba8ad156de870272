//! What the prober observed, per endpoint: the `Health` snapshot and its parts.
//!
//! The prober publishes a fresh snapshot a few times per second, each one a
//! copy, so copying must be cheap at 10,000 endpoints. A snapshot is therefore
//! split into what rarely changes and what always does:
//! - the endpoint ids and their positions (`ids`, `index`) change only when the
//!   set of probed endpoints changes, and are shared between snapshots behind
//!   an `Arc` (copy-on-write);
//! - the per-endpoint states (`slots`) are one flat `Vec` of small values,
//!   copied per snapshot without touching a single id.
//!
//! A plain `HashMap<Arc<str>, EndpointHealth>` copy touched two separately
//! allocated reference counts per endpoint (id and detail); at 10,000
//! endpoints and two copies a second that was the prober's largest user-space
//! cost (docs/BENCHMARKS.md, "Health probes").

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::model::{Endpoint, MonitorState};

/// What the prober observed, per endpoint id. Endpoints absent from it are
/// `CheckingEndpoint` (or `Unmonitored` when always-serve).
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// Endpoint ids by slot; shared between snapshots.
    ids: Arc<Vec<Arc<str>>>,
    /// Slot of each id; shared between snapshots.
    index: Arc<HashMap<Arc<str>, usize>>,
    /// States, by slot.
    slots: Vec<EndpointHealth>,
    /// This snapshot's number, when it is one its publisher published
    /// unchanged (0: not a published snapshot; any change resets it).
    number: u64,
    /// The publisher's count of snapshots published.
    published: u64,
    /// Slots whose availability may have changed since the snapshot numbered
    /// `number - 1` (same layout): lets the zone recompile only their profiles
    /// without comparing every slot.
    moved: Vec<u32>,
}

/// One endpoint's probe state and its latest observation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointHealth {
    /// The monitor state, per Traffic Manager's rules.
    pub state: MonitorState,
    /// Failures in a row since the last success.
    pub consecutive_failures: u32,
    /// The most recent probe result, if any.
    pub last: Option<Observation>,
}

/// One probe result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// Whether the probe counted as a success (an expected HTTP status, or a TCP connect).
    pub healthy: bool,
    /// Short, human-readable: `HTTP 200`, `HTTP 302 (redirect)`, `timeout after 5s`,
    /// `connect: Connection refused`, `TCP connected`. The prober shares one
    /// `Arc` among all endpoints with the same text.
    pub detail: Arc<str>,
    /// Wall-clock time the probe finished.
    pub at: SystemTime,
    /// How long the probe took.
    pub duration: Duration,
}

impl Health {
    /// The entry of `endpoint` (an endpoint id), if it is probed.
    pub fn get(&self, endpoint: &str) -> Option<&EndpointHealth> {
        self.index.get(endpoint).map(|&slot| &self.slots[slot])
    }

    /// The entry of `endpoint`, to update in place.
    pub fn get_mut(&mut self, endpoint: &str) -> Option<&mut EndpointHealth> {
        self.number = 0;
        self.index.get(endpoint).map(|&slot| &mut self.slots[slot])
    }

    /// Sets the entry of `endpoint`; returns the one it replaces. Adding an id
    /// copies the id tables once if a published snapshot still shares them.
    pub fn insert(&mut self, endpoint: Arc<str>, health: EndpointHealth) -> Option<EndpointHealth> {
        self.number = 0;
        if let Some(&slot) = self.index.get(&endpoint) {
            if self.slots[slot].state.is_available() != health.state.is_available() {
                self.moved.push(slot as u32);
            }
            return Some(std::mem::replace(&mut self.slots[slot], health));
        }
        Arc::make_mut(&mut self.index).insert(endpoint.clone(), self.slots.len());
        Arc::make_mut(&mut self.ids).push(endpoint);
        self.slots.push(health);
        None
    }

    /// Drops the entry of `endpoint`; the last entry takes its slot.
    pub fn remove(&mut self, endpoint: &str) -> Option<EndpointHealth> {
        self.number = 0;
        let slot = *self.index.get(endpoint)?;
        Arc::make_mut(&mut self.index).remove(endpoint);
        let ids = Arc::make_mut(&mut self.ids);
        ids.swap_remove(slot);
        if let Some(moved) = ids.get(slot) {
            Arc::make_mut(&mut self.index).insert(moved.clone(), slot);
        }
        Some(self.slots.swap_remove(slot))
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &EndpointHealth)> {
        self.ids.iter().zip(&self.slots)
    }

    /// Number of probed endpoints in the snapshot.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no endpoint is probed.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The state of `endpoint`, applying always-serve and the default.
    pub fn state_of(&self, endpoint: &Endpoint) -> MonitorState {
        if endpoint.always_serve {
            return MonitorState::Unmonitored;
        }
        self.get(&endpoint.id)
            .map(|h| h.state)
            .unwrap_or(MonitorState::CheckingEndpoint)
    }

    /// Notes that the availability of `endpoint` may have changed (for a
    /// publisher that changes states through [`Health::get_mut`]).
    pub fn record_move(&mut self, endpoint: &str) {
        if let Some(&slot) = self.index.get(endpoint) {
            self.moved.push(slot as u32);
        }
    }

    /// The snapshot to publish, numbered one more than the last: it carries
    /// the moves recorded since then, and the record starts again empty.
    pub fn publish(&mut self) -> Health {
        self.published += 1;
        self.number = self.published;
        let out = self.clone();
        self.moved.clear();
        out
    }

    /// The slots whose availability may differ from `before`'s, when this
    /// snapshot was published right after `before` with the same layout;
    /// `None` when that is not known (then compare, see
    /// [`Health::availability_changes`]).
    pub fn moves_since(&self, before: &Health) -> Option<&[u32]> {
        (before.number != 0
            && before.number + 1 == self.number
            && Arc::ptr_eq(&self.ids, &before.ids))
        .then_some(&self.moved[..])
    }

    /// Which slot holds which endpoint: the same for snapshots of one prober
    /// until its set of endpoints changes.
    pub fn slots(&self) -> HealthSlots {
        HealthSlots(self.ids.clone())
    }

    /// Number of slots (= [`Health::len`]).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The slot of `endpoint`, if it is probed.
    pub fn slot_of(&self, endpoint: &str) -> Option<usize> {
        self.index.get(endpoint).copied()
    }

    /// The slots whose availability differs from `other`'s, when both have the
    /// same layout (see [`Health::slots`]); `None` when they do not.
    pub fn availability_changes(&self, other: &Health) -> Option<Vec<usize>> {
        if !Arc::ptr_eq(&self.ids, &other.ids) {
            return None;
        }
        let available = |h: &EndpointHealth| h.state.is_available();
        Some(
            self.slots
                .iter()
                .zip(&other.slots)
                .enumerate()
                .filter(|(_, (a, b))| available(a) != available(b))
                .map(|(i, _)| i)
                .collect(),
        )
    }

    /// Whether two snapshots route the same way (the same endpoints available),
    /// ignoring observations and CheckingEndpoint→Online. Used to skip
    /// recompiling the zone when answers would not change.
    pub fn same_routing(&self, other: &Health) -> bool {
        let available = |h: &EndpointHealth| h.state.is_available();
        if Arc::ptr_eq(&self.ids, &other.ids) {
            // Same ids in the same slots: compare slot by slot.
            return self
                .slots
                .iter()
                .zip(&other.slots)
                .all(|(a, b)| available(a) == available(b));
        }
        self.len() == other.len()
            && self
                .iter()
                .all(|(id, a)| other.get(id).is_some_and(|b| available(a) == available(b)))
    }
}

/// The layout of a [`Health`]'s slots, held to tell whether a later snapshot
/// has the same one.
#[derive(Clone, Debug)]
pub struct HealthSlots(Arc<Vec<Arc<str>>>);

impl HealthSlots {
    /// Whether both are the same layout.
    pub fn same(&self, other: &HealthSlots) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Equal when they hold the same entries, whatever their slots.
impl PartialEq for Health {
    fn eq(&self, other: &Health) -> bool {
        self.len() == other.len() && self.iter().all(|(id, a)| other.get(id) == Some(a))
    }
}

impl Eq for Health {}

impl FromIterator<(Arc<str>, EndpointHealth)> for Health {
    fn from_iter<I: IntoIterator<Item = (Arc<str>, EndpointHealth)>>(entries: I) -> Health {
        let mut health = Health::default();
        for (id, h) in entries {
            health.insert(id, h);
        }
        health
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: MonitorState, failures: u32) -> EndpointHealth {
        EndpointHealth {
            state,
            consecutive_failures: failures,
            last: None,
        }
    }

    #[test]
    fn insert_get_remove_keep_every_other_entry_in_place() {
        let mut h: Health = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, id)| (Arc::from(*id), entry(MonitorState::Online, i as u32)))
            .collect();
        let published = h.clone();
        // Removing "b" moves "d" into its slot; every id still finds its own entry.
        assert_eq!(h.remove("b").map(|e| e.consecutive_failures), Some(1));
        assert_eq!(h.remove("b"), None);
        assert_eq!(h.len(), 3);
        for (id, n) in [("a", 0), ("c", 2), ("d", 3)] {
            assert_eq!(h.get(id).map(|e| e.consecutive_failures), Some(n), "{id}");
        }
        // Replacing returns the old entry; a new id is appended.
        assert_eq!(
            h.insert("c".into(), entry(MonitorState::Degraded, 9)),
            Some(entry(MonitorState::Online, 2))
        );
        assert_eq!(h.insert("e".into(), entry(MonitorState::Online, 4)), None);
        h.get_mut("a").unwrap().consecutive_failures = 7;
        let mut ids: Vec<_> = h.iter().map(|(id, _)| &**id).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["a", "c", "d", "e"]);
        // The earlier copy saw none of it.
        assert_eq!(published.len(), 4);
        assert_eq!(published.get("b").map(|e| e.consecutive_failures), Some(1));
        assert_eq!(published.get("a").map(|e| e.consecutive_failures), Some(0));
        assert!(published.get("e").is_none());
    }

    #[test]
    fn a_published_snapshot_carries_the_moves_since_the_one_before() {
        use MonitorState::*;
        let mut table: Health = [("x", Online), ("y", Online), ("z", Online)]
            .iter()
            .map(|(id, s)| (Arc::from(*id), entry(*s, 0)))
            .collect();
        let first = table.publish();
        table.get_mut("y").unwrap().state = Degraded;
        table.record_move("y");
        table.get_mut("x").unwrap().consecutive_failures = 1;
        let second = table.publish();
        assert_eq!(second.moves_since(&first), Some(&[1u32][..]));
        let third = table.publish();
        assert_eq!(third.moves_since(&second), Some(&[][..]), "nothing moved");
        assert_eq!(third.moves_since(&first), None, "a snapshot was skipped");
        let mut copy = third.clone();
        copy.get_mut("z").unwrap().state = Degraded;
        assert_eq!(
            copy.moves_since(&third),
            None,
            "a changed copy is not published"
        );
        table.insert(Arc::from("w"), entry(Online, 0));
        assert_eq!(table.publish().moves_since(&third), None, "another layout");
    }

    #[test]
    fn same_routing_compares_availability_by_id() {
        let make = |states: &[(&str, MonitorState)]| -> Health {
            states
                .iter()
                .map(|(id, s)| (Arc::from(*id), entry(*s, 0)))
                .collect()
        };
        use MonitorState::*;
        let a = make(&[("x", Online), ("y", Degraded)]);
        // Shared ids (a later snapshot of the same prober).
        let mut b = a.clone();
        b.get_mut("x").unwrap().consecutive_failures = 3;
        assert!(a.same_routing(&b));
        b.get_mut("x").unwrap().state = CheckingEndpoint;
        assert!(a.same_routing(&b), "CheckingEndpoint routes like Online");
        b.get_mut("y").unwrap().state = Online;
        assert!(!a.same_routing(&b));
        // Separately built, other slot order.
        assert!(a.same_routing(&make(&[("y", Degraded), ("x", Online)])));
        assert!(!a.same_routing(&make(&[("y", Degraded), ("z", Online)])));
        assert!(!a.same_routing(&make(&[("x", Online)])));
        assert_eq!(a, make(&[("y", Degraded), ("x", Online)]));
    }
}
