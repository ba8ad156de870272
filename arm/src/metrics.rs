//! Prometheus series of ARM access: requests and tokens. Registered once per
//! registry and shared (cheap clones) by every client that talks to ARM.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

/// Request and token counters; cheap to clone.
#[derive(Clone)]
pub struct ArmMetrics {
    /// `fleetdns_azure_requests_total{method,code}`; code `error` for transport failures.
    pub requests: IntCounterVec,
    /// `fleetdns_azure_token_requests_total{method,result}`.
    pub tokens: IntCounterVec,
    /// `fleetdns_azure_ratelimit_remaining{header}`: the last `x-ms-ratelimit-remaining-<header>` ARM sent.
    pub rate_limit: IntGaugeVec,
}

impl ArmMetrics {
    /// Creates the series and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self {
            requests: IntCounterVec::new(
                Opts::new(
                    "fleetdns_azure_requests_total",
                    "ARM requests sent, by method and HTTP status",
                ),
                &["method", "code"],
            )?,
            tokens: IntCounterVec::new(
                Opts::new(
                    "fleetdns_azure_token_requests_total",
                    "Token requests, by auth method and result",
                ),
                &["method", "result"],
            )?,
            rate_limit: IntGaugeVec::new(
                Opts::new(
                    "fleetdns_azure_ratelimit_remaining",
                    "Remaining ARM quota as the last x-ms-ratelimit-remaining-<header> said",
                ),
                &["header"],
            )?,
        };
        registry.register(Box::new(m.rate_limit.clone()))?;
        registry.register(Box::new(m.requests.clone()))?;
        registry.register(Box::new(m.tokens.clone()))?;
        Ok(m)
    }

    /// Metrics that go nowhere (dry run, unit tests).
    pub fn unregistered() -> Self {
        Self::register(&Registry::new()).expect("fresh registry")
    }
}
