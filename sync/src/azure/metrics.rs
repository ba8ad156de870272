//! Prometheus series of the Azure mirror. The request and token counters belong
//! to the ARM client (`fleetdns_arm::ArmMetrics`) and are carried here as `arm`.

use fleetdns_arm::ArmMetrics;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

/// The mirror's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    /// Request and token counters of the ARM client.
    pub arm: ArmMetrics,
    /// `fleetdns_azure_profile_programmed{profile,reason}`: 1 for the current reason.
    pub programmed: IntGaugeVec,
    /// `fleetdns_azure_endpoint_monitor_status{profile,endpoint,status}`: 1 for the status ARM reports.
    pub monitor: IntGaugeVec,
    /// `fleetdns_azure_reconciles_total{result}`.
    pub reconciles: IntCounterVec,
}

impl Metrics {
    /// Registers the mirror's series and the ARM client's in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        Self::register_with(registry, ArmMetrics::register(registry)?)
    }

    /// Registers the mirror's series, sharing ARM client counters registered elsewhere.
    pub fn register_with(registry: &Registry, arm: ArmMetrics) -> Result<Self, prometheus::Error> {
        let m = Self {
            arm,
            programmed: IntGaugeVec::new(
                Opts::new(
                    "fleetdns_azure_profile_programmed",
                    "Programmed condition reason of each mirrored profile (1 = current)",
                ),
                &["profile", "reason"],
            )?,
            monitor: IntGaugeVec::new(
                Opts::new(
                    "fleetdns_azure_endpoint_monitor_status",
                    "endpointMonitorStatus ARM reports for each mirrored endpoint (1 = current)",
                ),
                &["profile", "endpoint", "status"],
            )?,
            reconciles: IntCounterVec::new(
                Opts::new(
                    "fleetdns_azure_reconciles_total",
                    "Reconcile passes, by result (converged or retry)",
                ),
                &["result"],
            )?,
        };
        registry.register(Box::new(m.programmed.clone()))?;
        registry.register(Box::new(m.monitor.clone()))?;
        registry.register(Box::new(m.reconciles.clone()))?;
        Ok(m)
    }

    /// Metrics that go nowhere (dry run, unit tests).
    pub fn unregistered() -> Self {
        Self::register(&Registry::new()).expect("fresh registry")
    }
}
