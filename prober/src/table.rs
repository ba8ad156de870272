//! The prober's memory: per endpoint, its plan, probe generation and state.
//!
//! Pure bookkeeping, no I/O, so the rules "unchanged endpoints keep their state",
//! "a changed probe restarts from CheckingEndpoint" and "results of a stopped
//! probe are ignored" are testable without sockets or timers. The async loop
//! in [`crate::run`] schedules and stops probes as [`Table::apply_fleet`] says.
//!
//! The entries are one `Vec` in the slot order of the `Health` map (which has
//! the id index), so an endpoint costs no second map: `Health::remove` moves
//! the last slot into the freed one, and `Table` mirrors that move.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use fleetdns_config::{EndpointHealth, Health, MonitorState};

use crate::outcome::ProbeResult;
use crate::plan::Plan;
use crate::state::Tracker;

/// Probe generation: identifies one run of one endpoint's probe schedule, so
/// results from a schedule that was replaced or stopped can be told apart and dropped.
pub(crate) type Generation = u64;

/// What applying a fleet snapshot changed, for the async loop to act on.
#[derive(Debug, PartialEq)]
pub(crate) enum Change {
    /// A new endpoint: start probing it.
    Added(Plan, Generation),
    /// An endpoint left the fleet: stop probing it.
    Removed(Plan),
    /// An endpoint's probe settings, target or labels changed: restart it from
    /// CheckingEndpoint. `was` is its state before.
    Replaced {
        was: MonitorState,
        new: Plan,
        generation: Generation,
    },
}

/// What one probe result did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    /// From a stopped or replaced probe schedule: ignored.
    Stale,
    /// Recorded; the state did not change.
    Observed,
    /// Recorded; the state changed.
    Transition {
        from: MonitorState,
        to: MonitorState,
    },
}

/// How an endpoint is probed; its state lives in `Table::health`, same slot.
#[derive(Debug)]
struct Entry {
    plan: Plan,
    generation: Generation,
}

/// All probed endpoints, by id.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// By `health` slot.
    entries: Vec<Entry>,
    /// The state of every entry, kept in the published form so a snapshot is
    /// one map clone (no rebuild): it is taken up to a few times per second.
    health: Health,
    /// Last generation handed out.
    generation: Generation,
    /// One shared `Arc` per observation detail text (`HTTP 200`, `TCP
    /// connected`, ...), so 10,000 healthy endpoints share one, and copying
    /// a snapshot touches one reference count instead of one per endpoint.
    details: HashMap<Box<str>, Arc<str>>,
}

/// Distinct detail texts kept for sharing; past this the cache starts over
/// (error texts can vary, e.g. with a resolver's message).
const MAX_DETAILS: usize = 256;

impl Table {
    /// Makes the table match `desired` (from [`crate::plan::desired`]) and says what changed.
    /// Endpoints whose plan is unchanged keep their state and schedule.
    pub(crate) fn apply_fleet(&mut self, desired: BTreeMap<Arc<str>, Plan>) -> Vec<Change> {
        let mut changes = Vec::new();
        let removed: Vec<Arc<str>> = self
            .health
            .iter()
            .map(|(id, _)| id)
            .filter(|id| !desired.contains_key(*id))
            .cloned()
            .collect();
        for id in removed {
            if let Some(slot) = self.health.slot_of(&id) {
                self.health.remove(&id);
                // The same move as `Health::remove`: the last takes the slot.
                changes.push(Change::Removed(self.entries.swap_remove(slot).plan));
            }
        }
        for (id, plan) in desired {
            let slot = self.health.slot_of(&id);
            if let Some(entry) = slot.map(|s| &mut self.entries[s]) {
                if entry.plan.same_probe(&plan) {
                    // Keep the newest snapshot's profile, so the old one can go.
                    entry.plan = plan;
                    continue;
                }
            }
            self.generation += 1;
            let fresh = Entry {
                plan: plan.clone(),
                generation: self.generation,
            };
            let was = self.health.insert(id, fresh_health()).map(|h| h.state);
            match (slot, was) {
                (Some(slot), Some(was)) => {
                    self.entries[slot] = fresh;
                    changes.push(Change::Replaced {
                        was,
                        new: plan,
                        generation: self.generation,
                    });
                }
                _ => {
                    // `Health::insert` appends a new id's slot.
                    self.entries.push(fresh);
                    changes.push(Change::Added(plan, self.generation));
                }
            }
        }
        debug_assert_eq!(self.entries.len(), self.health.len());
        if self.entries.capacity() > self.entries.len() * 2 {
            self.entries.shrink_to_fit();
        }
        changes
    }

    /// The plan of `endpoint` if `generation` is its current probe schedule.
    pub(crate) fn current(&self, endpoint: &str, generation: Generation) -> Option<&Plan> {
        let entry = &self.entries[self.health.slot_of(endpoint)?];
        (entry.generation == generation).then_some(&entry.plan)
    }

    /// Records a result of `generation`'s probe of `endpoint`.
    pub(crate) fn apply_result(
        &mut self,
        endpoint: &str,
        generation: Generation,
        result: &ProbeResult,
    ) -> Applied {
        let Some(slot) = self.health.slot_of(endpoint) else {
            return Applied::Stale;
        };
        let entry = &self.entries[slot];
        if entry.generation != generation {
            return Applied::Stale;
        }
        let tolerated = entry.plan.monitor().tolerated_failures;
        let Some(health) = self.health.get_mut(endpoint) else {
            return Applied::Stale;
        };
        let from = health.state;
        let next = Tracker {
            state: from,
            consecutive_failures: health.consecutive_failures,
        }
        .observe(result.outcome.is_healthy(), tolerated);
        health.state = next.state;
        health.consecutive_failures = next.consecutive_failures;
        health.last = Some(result.observation_with(shared(&mut self.details, &result.detail)));
        if from.is_available() != next.state.is_available() {
            self.health.record_move(endpoint);
        }
        if from == next.state {
            Applied::Observed
        } else {
            Applied::Transition {
                from,
                to: next.state,
            }
        }
    }

    /// The snapshot to publish (numbered, with the availability moves since the last).
    pub(crate) fn publish(&mut self) -> Health {
        self.health.publish()
    }

    /// The current states, unpublished.
    #[cfg(test)]
    pub(crate) fn health(&self) -> Health {
        self.health.clone()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The shared `Arc` of `detail`.
fn shared(details: &mut HashMap<Box<str>, Arc<str>>, detail: &str) -> Arc<str> {
    if let Some(d) = details.get(detail) {
        return d.clone();
    }
    if details.len() >= MAX_DETAILS {
        details.clear();
    }
    let d: Arc<str> = Arc::from(detail);
    details.insert(detail.into(), d.clone());
    d
}

fn fresh_health() -> EndpointHealth {
    EndpointHealth {
        state: Tracker::NEW.state,
        consecutive_failures: Tracker::NEW.consecutive_failures,
        last: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use crate::plan::desired;
    use crate::plan::fixtures::*;
    use std::time::Duration;
    use MonitorState::*;

    fn ok() -> ProbeResult {
        ProbeResult::new(
            Outcome::Success,
            "HTTP 200".into(),
            Duration::from_millis(1),
        )
    }
    fn refused() -> ProbeResult {
        ProbeResult::new(
            Outcome::ConnectError,
            "connect: refused".into(),
            Duration::from_millis(1),
        )
    }
    fn generation_of(changes: &[Change], id: &str) -> Generation {
        changes
            .iter()
            .find_map(|c| match c {
                Change::Added(p, g) if &**p.endpoint() == id => Some(*g),
                Change::Replaced {
                    new, generation, ..
                } if &**new.endpoint() == id => Some(*generation),
                _ => None,
            })
            .expect("endpoint started")
    }

    /// Profile `web` with endpoints `a` and `b`.
    fn web_a_and_b() -> fleetdns_config::Fleet {
        fleet(vec![profile(
            "web",
            monitor(),
            vec![endpoint("a", 1), endpoint("b", 2)],
        )])
    }

    #[test]
    fn new_endpoints_start_checking_and_results_drive_state() {
        let mut t = Table::default();
        let f = web_a_and_b();
        let changes = t.apply_fleet(desired(&f));
        assert_eq!(changes.len(), 2);
        let health = t.health();
        assert_eq!(health.len(), 2);
        assert!(health
            .iter()
            .all(|(_, h)| h.state == CheckingEndpoint && h.last.is_none()));

        let g = generation_of(&changes, "a");
        assert_eq!(
            t.apply_result("a", g, &ok()),
            Applied::Transition {
                from: CheckingEndpoint,
                to: Online
            }
        );
        // tolerated 1: the second failure in a row degrades.
        assert_eq!(t.apply_result("a", g, &refused()), Applied::Observed);
        assert_eq!(
            t.apply_result("a", g, &refused()),
            Applied::Transition {
                from: Online,
                to: Degraded
            }
        );
        let a = t.health().get("a").cloned().expect("probed");
        assert_eq!(a.consecutive_failures, 2);
        assert_eq!(
            a.last.as_ref().map(|o| &*o.detail),
            Some("connect: refused")
        );
    }

    #[test]
    fn endpoints_with_the_same_detail_share_it() {
        let mut t = Table::default();
        let f = web_a_and_b();
        let changes = t.apply_fleet(desired(&f));
        for id in ["a", "b"] {
            t.apply_result(id, generation_of(&changes, id), &ok());
        }
        let health = t.health();
        let detail = |id| health.get(id).and_then(|h| h.last.clone()).unwrap().detail;
        assert!(Arc::ptr_eq(&detail("a"), &detail("b")));
        assert_eq!(&*detail("a"), "HTTP 200");
    }

    #[test]
    fn unchanged_endpoints_keep_state_across_fleet_updates() {
        let mut t = Table::default();
        let f = fleet(vec![profile("web", monitor(), vec![endpoint("a", 1)])]);
        let g = generation_of(&t.apply_fleet(desired(&f)), "a");
        t.apply_result("a", g, &ok());

        let mut reweighted = f.clone();
        reweighted.profile_mut(0).endpoints[0].weight = 900;
        assert_eq!(t.apply_fleet(desired(&reweighted)), []);
        assert_eq!(t.health().get("a").expect("probed").state, Online);
        // The running probe's results still count.
        assert_eq!(t.apply_result("a", g, &ok()), Applied::Observed);
    }

    #[test]
    fn changed_monitor_restarts_from_checking_and_ignores_old_results() {
        let mut t = Table::default();
        let f = fleet(vec![profile("web", monitor(), vec![endpoint("a", 1)])]);
        let g1 = generation_of(&t.apply_fleet(desired(&f)), "a");
        t.apply_result("a", g1, &refused());
        t.apply_result("a", g1, &refused());
        assert_eq!(t.health().get("a").expect("probed").state, Degraded);

        let mut changed = f.clone();
        Arc::make_mut(&mut changed.profile_mut(0).monitor).path = "/ready".into();
        let changes = t.apply_fleet(desired(&changed));
        assert!(matches!(
            changes.as_slice(),
            [Change::Replaced { was: Degraded, new, .. }] if new.monitor().path == "/ready"
        ));
        let g2 = generation_of(&changes, "a");
        assert_ne!(g1, g2);
        let a = t.health().get("a").cloned().expect("probed");
        assert_eq!(
            (a.state, a.consecutive_failures, a.last.is_none()),
            (CheckingEndpoint, 0, true)
        );

        assert_eq!(t.apply_result("a", g1, &ok()), Applied::Stale);
        assert_eq!(t.health().get("a").expect("probed").state, CheckingEndpoint);
        assert_eq!(
            t.apply_result("a", g2, &ok()),
            Applied::Transition {
                from: CheckingEndpoint,
                to: Online
            }
        );
    }

    #[test]
    fn removed_endpoints_leave_health_and_their_results_are_ignored() {
        let mut t = Table::default();
        let f = web_a_and_b();
        let gb = generation_of(&t.apply_fleet(desired(&f)), "b");
        let mut fewer = f.clone();
        fewer.profile_mut(0).endpoints.retain(|e| &*e.id == "a");
        let changes = t.apply_fleet(desired(&fewer));
        assert!(matches!(changes.as_slice(), [Change::Removed(p)] if &**p.endpoint() == "b"));
        assert_eq!(
            t.health().iter().map(|(k, _)| &**k).collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(t.apply_result("b", gb, &ok()), Applied::Stale);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn endpoint_becoming_always_serve_stops_being_probed() {
        let mut t = Table::default();
        let f = fleet(vec![profile("web", monitor(), vec![endpoint("a", 1)])]);
        t.apply_fleet(desired(&f));
        let mut pinned = f.clone();
        pinned.profile_mut(0).endpoints[0].always_serve = true;
        assert!(matches!(
            t.apply_fleet(desired(&pinned)).as_slice(),
            [Change::Removed(_)]
        ));
        assert!(t.health().is_empty());
    }
}
