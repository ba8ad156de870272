//! Kubernetes status write-back, the way fleet-networking writes it.
//!
//! [`desired`] computes each object's status from the `Fleet` (pure); [`writer`]
//! patches it through the status subresource while this replica holds the
//! [`lease`].

pub mod desired;
pub mod lease;
pub mod writer;

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

/// Prometheus series of the status writer.
#[derive(Clone)]
pub struct StatusMetrics {
    /// `fleetdns_status_leader`: 1 while this replica holds the status writers' Lease.
    pub leader: IntGauge,
    /// `fleetdns_status_writes_total{kind,result}`: status subresource writes, by kind and result
    /// (`written` or `error`).
    pub writes: IntCounterVec,
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
        };
        registry.register(Box::new(m.leader.clone()))?;
        registry.register(Box::new(m.writes.clone()))?;
        Ok(m)
    }
}
