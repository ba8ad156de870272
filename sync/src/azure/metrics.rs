//! Prometheus series of the Azure mirror. The request, token and rate-limit series
//! belong to the ARM client (`fleetdns_arm::ArmMetrics`) and are carried here as `arm`.

use fleetdns_arm::ArmMetrics;
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// The mirror's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    /// Request and token counters of the ARM client.
    pub arm: ArmMetrics,
    /// `fleetdns_azure_profile_programmed{profile,reason}`: 1 for the current reason.
    pub programmed: IntGaugeVec,
    /// `fleetdns_azure_backend_accepted{backend,reason}`: 1 for the current reason.
    pub accepted: IntGaugeVec,
    /// `fleetdns_azure_endpoint_errors_total{backend,blame}`: endpoint writes that failed
    /// or endpoints left out; blame `caller` (4xx, skipped), `azure` or `credential`.
    pub endpoint_errors: IntCounterVec,
    /// `fleetdns_azure_endpoint_monitor_status{profile,endpoint,status}`: 1 for the status ARM reports.
    pub monitor: IntGaugeVec,
    /// `fleetdns_azure_reconciles_total{result}`.
    pub reconciles: IntCounterVec,
    /// `fleetdns_azure_writer`: 1 when this replica writes to ARM, 0 when it only plans.
    pub writer: IntGauge,
    /// `fleetdns_azure_planned_writes{method}`: writes the last pass wanted but did not
    /// send because this replica is not the writer (the dry-run plan).
    pub planned: IntGaugeVec,
    /// `fleetdns_azure_gc_pending`: fleetdns-managed profiles whose object is gone,
    /// waiting out the grace period.
    pub gc_pending: IntGauge,
    /// `fleetdns_azure_gc_deleted_total`: profiles the garbage collector deleted.
    pub gc_deleted: IntCounter,
}

impl Metrics {
    /// Registers the mirror's series and the ARM client's in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        Self::register_with(registry, ArmMetrics::register(registry)?)
    }

    /// Registers the mirror's series, sharing ARM client counters registered elsewhere.
    pub fn register_with(registry: &Registry, arm: ArmMetrics) -> Result<Self, prometheus::Error> {
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            IntGaugeVec::new(Opts::new(name, help), labels)
        };
        let m = Self {
            arm,
            programmed: gauge(
                "fleetdns_azure_profile_programmed",
                "Programmed condition reason of each mirrored profile (1 = current)",
                &["profile", "reason"],
            )?,
            accepted: gauge(
                "fleetdns_azure_backend_accepted",
                "Accepted reason of each mirrored backend's endpoints (1 = current)",
                &["backend", "reason"],
            )?,
            endpoint_errors: IntCounterVec::new(
                Opts::new(
                    "fleetdns_azure_endpoint_errors_total",
                    "Endpoints not written to Traffic Manager, by backend and whose fault",
                ),
                &["backend", "blame"],
            )?,
            monitor: gauge(
                "fleetdns_azure_endpoint_monitor_status",
                "endpointMonitorStatus ARM reports for each mirrored endpoint (1 = current)",
                &["profile", "endpoint", "status"],
            )?,
            reconciles: IntCounterVec::new(
                Opts::new(
                    "fleetdns_azure_reconciles_total",
                    "Reconcile passes, by result (converged or retry)",
                ),
                &["result"],
            )?,
            writer: IntGauge::new(
                "fleetdns_azure_writer",
                "1 when this replica writes to ARM (holds the Lease, or is the only writer)",
            )?,
            planned: gauge(
                "fleetdns_azure_planned_writes",
                "ARM writes the last pass planned but did not send (not the writer)",
                &["method"],
            )?,
            gc_pending: IntGauge::new(
                "fleetdns_azure_gc_pending",
                "fleetdns-managed profiles whose object is gone, waiting out the grace period",
            )?,
            gc_deleted: IntCounter::new(
                "fleetdns_azure_gc_deleted_total",
                "Profiles deleted by the garbage collector",
            )?,
        };
        registry.register(Box::new(m.programmed.clone()))?;
        registry.register(Box::new(m.accepted.clone()))?;
        registry.register(Box::new(m.endpoint_errors.clone()))?;
        registry.register(Box::new(m.monitor.clone()))?;
        registry.register(Box::new(m.reconciles.clone()))?;
        registry.register(Box::new(m.writer.clone()))?;
        registry.register(Box::new(m.planned.clone()))?;
        registry.register(Box::new(m.gc_pending.clone()))?;
        registry.register(Box::new(m.gc_deleted.clone()))?;
        Ok(m)
    }

    /// Metrics that go nowhere (dry run, unit tests).
    pub fn unregistered() -> Self {
        Self::register(&Registry::new()).expect("fresh registry")
    }
}

/// Removes the series of `vec` whose label values (in `names` order) are not in
/// `keep`, leaving the others as they are.
pub(crate) fn remove_absent<const N: usize>(
    vec: &IntGaugeVec,
    names: &[&str; N],
    keep: &std::collections::HashSet<[&str; N]>,
) {
    use prometheus::core::Collector;
    let mut gone = Vec::new();
    for family in vec.collect() {
        for m in family.get_metric() {
            let pairs = m.get_label();
            let values: [&str; N] = std::array::from_fn(|i| {
                pairs
                    .iter()
                    .find(|p| p.name() == names[i])
                    .map_or("", |p| p.value())
            });
            if !keep.contains(&values) {
                gone.push(values.map(str::to_owned));
            }
        }
    }
    for values in gone {
        let refs: [&str; N] = std::array::from_fn(|i| values[i].as_str());
        // Absent already is fine: nothing to remove.
        let _ = vec.remove_label_values(&refs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_absent_drops_only_the_series_that_went_away() {
        let g = IntGaugeVec::new(Opts::new("t", "t"), &["a", "b"]).unwrap();
        g.with_label_values(&["p", "old"]).set(1);
        g.with_label_values(&["p", "new"]).set(1);
        let keep = std::collections::HashSet::from([["p", "new"]]);
        remove_absent(&g, &["a", "b"], &keep);
        assert!(g.get_metric_with_label_values(&["p", "new"]).is_ok());
        let families = prometheus::core::Collector::collect(&g);
        let left: Vec<_> = families[0]
            .get_metric()
            .iter()
            .map(|m| m.get_label()[1].value().to_owned())
            .collect();
        assert_eq!(left, ["new"]);
    }
}
