//! Prometheus series of the Azure mirror.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

/// The mirror's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    /// `fleetdns_azure_requests_total{method,code}`; code `error` for transport failures.
    pub requests: IntCounterVec,
    /// `fleetdns_azure_profile_programmed{profile,reason}`: 1 for the current reason.
    pub programmed: IntGaugeVec,
    /// `fleetdns_azure_endpoint_monitor_status{profile,endpoint,status}`: 1 for the status ARM reports.
    pub monitor: IntGaugeVec,
    /// `fleetdns_azure_token_requests_total{method,result}`.
    pub tokens: IntCounterVec,
    /// `fleetdns_azure_reconciles_total{result}`.
    pub reconciles: IntCounterVec,
}

impl Metrics {
    /// Creates the series and registers them in `registry` (an error if they are already there).
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self {
            requests: IntCounterVec::new(
                Opts::new(
                    "fleetdns_azure_requests_total",
                    "ARM requests sent, by method and HTTP status",
                ),
                &["method", "code"],
            )?,
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
            tokens: IntCounterVec::new(
                Opts::new(
                    "fleetdns_azure_token_requests_total",
                    "Token requests, by auth method and result",
                ),
                &["method", "result"],
            )?,
            reconciles: IntCounterVec::new(
                Opts::new(
                    "fleetdns_azure_reconciles_total",
                    "Reconcile passes, by result (converged or retry)",
                ),
                &["result"],
            )?,
        };
        registry.register(Box::new(m.requests.clone()))?;
        registry.register(Box::new(m.programmed.clone()))?;
        registry.register(Box::new(m.monitor.clone()))?;
        registry.register(Box::new(m.tokens.clone()))?;
        registry.register(Box::new(m.reconciles.clone()))?;
        Ok(m)
    }

    /// Metrics that go nowhere (dry run, unit tests).
    pub fn unregistered() -> Self {
        Self::register(&Registry::new()).expect("fresh registry")
    }
}
