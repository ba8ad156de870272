//! Kubernetes status write-back, the way fleet-networking writes it.
//!
//! [`desired`] computes each object's status from the `Fleet` (pure); [`mode`]
//! decides per object whether fleetdns writes fleet-networking's fields (owner)
//! or only its own condition (observer); [`writer`] applies it (server-side
//! apply) while this replica holds the [`lease`], and [`events`] tells
//! `kubectl describe` about transitions and conflicts. [`finalizer`] keeps
//! fleetdns's finalizer on profiles and backends while the Azure mirror owns
//! their Azure side.

mod clients;
pub mod desired;
pub mod events;
pub mod finalizer;
pub mod lease;
pub mod mode;
mod run;
pub mod writer;

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// Prometheus series of the status writer.
#[derive(Clone)]
pub struct StatusMetrics {
    /// `fleetdns_status_leader`: 1 while this replica holds the status writers' Lease.
    pub leader: IntGauge,
    /// `fleetdns_status_writes_total{kind,result}`: status subresource writes, by kind and result
    /// (`written` or `error`).
    pub writes: IntCounterVec,
    /// Objects per effective mode (owner/observer), as `auto` resolved them.
    pub mode: IntGaugeVec,
    /// Owner-mode writes refused because another manager owns the fields.
    pub conflicts: IntCounterVec,
    /// Events sent, by kind and reason.
    pub events: IntCounterVec,
}

impl StatusMetrics {
    /// Creates the series and registers them in `registry` (an error if they are already there).
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self {
            leader: IntGauge::new(
                "fleetdns_status_leader",
                "1 while this replica holds the status writers' Lease",
            )?,
            writes: IntCounterVec::new(
                Opts::new(
                    "fleetdns_status_writes_total",
                    "Status subresource writes, by kind and result (written or error)",
                ),
                &["kind", "result"],
            )?,
            mode: IntGaugeVec::new(
                Opts::new(
                    "fleetdns_status_mode_objects",
                    "Objects whose status fleetdns writes in each mode (owner: fleet-networking's fields; observer: only fleetdns.io/Serving)",
                ),
                &["mode"],
            )?,
            conflicts: IntCounterVec::new(
                Opts::new(
                    "fleetdns_status_conflicts_total",
                    "Owner-mode status writes refused (409) because another field manager owns the fields; reported once per situation",
                ),
                &["kind"],
            )?,
            events: IntCounterVec::new(
                Opts::new("fleetdns_status_events_total", "Events sent, by kind and reason"),
                &["kind", "reason"],
            )?,
        };
        registry.register(Box::new(m.leader.clone()))?;
        registry.register(Box::new(m.writes.clone()))?;
        registry.register(Box::new(m.mode.clone()))?;
        registry.register(Box::new(m.conflicts.clone()))?;
        registry.register(Box::new(m.events.clone()))?;
        Ok(m)
    }
}
