//! What one answer reads: the compiled zone, the health its view shows, and the
//! endpoints' answer counters — published together with one `ArcSwap` store.
//!
//! The health view (`_health.<profile>` TXT) shows, per endpoint, whether the
//! zone serves it and the state the prober last published. Both come from one
//! [`Snapshot`], so no answer mixes a zone compiled before a health change with
//! states observed after it. A health update that routes the same way (only
//! observations, failure counts or CheckingEndpoint→Online changed) costs a new
//! `Snapshot` sharing the zone ([`Snapshot::with_health`]), not a recompile.

use std::sync::Arc;

use fleetdns_config::{Fleet, Health};

use crate::answer_counters::AnswerCounters;
use crate::compile::compile;
use crate::metrics::DnsMetrics;
use crate::zone::Zone;

/// What signs a compile: the zone's keys, signature lifetimes, the time (unix
/// seconds) and the signatures kept from earlier compiles.
pub struct Signing<'a> {
    /// The zone's keys (CSK, or KSKs and ZSKs).
    pub keys: &'a [crate::dnssec::SigningKey],
    /// Signature lifetimes.
    pub validity: crate::dnssec::Validity,
    /// Unix seconds.
    pub now: u32,
    /// Signatures kept between compiles.
    pub cache: &'a mut crate::dnssec::SigCache,
}

/// A zone with the health snapshot its view shows and its answer counters.
pub struct Snapshot {
    zone: Arc<Zone>,
    /// Routes exactly like the health `zone` was compiled from.
    health: Arc<Health>,
    /// Per endpoint position of the zone, its answer counter (none for endpoints
    /// without a series).
    counters: Arc<AnswerCounters>,
}

impl Snapshot {
    /// Compiles `fleet` with `health` and resolves the answer counters in
    /// `metrics` (dropping the series of endpoints that are gone).
    pub fn compile(fleet: &Fleet, health: Arc<Health>, metrics: &DnsMetrics) -> Self {
        Self::compile_signed(fleet, health, metrics, None)
    }

    /// As [`Snapshot::compile`], and signs the zone when `signing` is given.
    pub fn compile_signed(
        fleet: &Fleet,
        health: Arc<Health>,
        metrics: &DnsMetrics,
        signing: Option<Signing<'_>>,
    ) -> Self {
        let mut zone = compile(fleet, &health);
        if let Some(s) = signing {
            if !s.keys.is_empty() {
                crate::dnssec::sign_zone(&mut zone, s.keys, s.validity, s.now, s.cache);
            }
        }
        let counters = metrics.answer_counters(zone.nodes.clone(), zone.positions);
        Self {
            zone: Arc::new(zone),
            health,
            counters,
        }
    }

    /// This snapshot turned into the one of `fleet` and `health` by compiling
    /// again only the profiles in `changes` (see [`crate::patch`]): the rest of
    /// the zone and the answer counters of endpoints that stay are shared.
    /// `None` when only a whole compile will do (a signed zone, say).
    pub fn patch(
        &self,
        fleet: &Fleet,
        health: Arc<Health>,
        changes: &crate::patch::Changes,
        metrics: &DnsMetrics,
    ) -> Option<Self> {
        let (zone, touched) = crate::patch::patch(&self.zone, fleet, &health, changes)?;
        let counters = metrics.patch_answer_counters(
            &self.counters,
            zone.nodes.clone(),
            zone.positions,
            &touched,
        );
        Some(Self {
            zone: Arc::new(zone),
            health,
            counters,
        })
    }

    /// The same zone showing `health`, if `health` routes as this snapshot's
    /// does; `None` when the zone must be compiled again.
    pub fn with_health(&self, health: Arc<Health>) -> Option<Self> {
        let same = match health.moves_since(&self.health) {
            Some(moved) => moved.is_empty(),
            None => self.health.same_routing(&health),
        };
        same.then(|| Self {
            zone: self.zone.clone(),
            health,
            counters: self.counters.clone(),
        })
    }

    /// The compiled zone.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The health the view shows.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Counts one answer that returned endpoint `index` of the zone.
    pub(crate) fn count_answer(&self, index: u32) {
        self.counters.count(index);
    }
}
