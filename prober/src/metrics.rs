//! Prober metrics, in Prometheus conventions.
//!
//! - `fleetdns_probe_duration_seconds{protocol}`: histogram of probe durations.
//! - `fleetdns_probe_results_total{protocol,outcome}`: probes by [`Outcome`].
//! - `fleetdns_endpoint_state_transitions_total{from,to}`: monitor-state changes.
//!
//! `protocol`, `outcome`, `from` and `to` come from closed lists and their
//! per-protocol children are resolved up front. The per-endpoint series
//! (`fleetdns_endpoint_up`, `fleetdns_endpoint_monitor_state`) are rendered by
//! the binary at scrape time from the published `Health` (`src/window/gauges.rs`):
//! a gauge child per endpoint and state cost hundreds of MiB at 100,000 profiles.

use fleetdns_config::{MonitorState, Protocol};
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
};

use crate::outcome::{Outcome, ProbeResult};
use crate::state::state_name;

const PROTOCOLS: [Protocol; 3] = [Protocol::Http, Protocol::Https, Protocol::Tcp];
/// Probe durations: 1 ms .. 30 s (timeouts are at most 30 s).
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The `protocol` label.
fn protocol_label(p: Protocol) -> &'static str {
    match p {
        Protocol::Http => "http",
        Protocol::Https => "https",
        Protocol::Tcp => "tcp",
    }
}

fn protocol_index(p: Protocol) -> usize {
    match p {
        Protocol::Http => 0,
        Protocol::Https => 1,
        Protocol::Tcp => 2,
    }
}

fn outcome_index(o: Outcome) -> usize {
    Outcome::ALL
        .iter()
        .position(|&x| x == o)
        .expect("Outcome::ALL lists every outcome")
}

/// The prober's metrics. Cheap to clone (handles to shared series).
#[derive(Clone)]
pub struct Metrics {
    duration_vec: HistogramVec,
    /// Children of `duration_vec`, by protocol index.
    duration: [Histogram; 3],
    results_vec: IntCounterVec,
    /// Children of `results_vec`, by protocol index × outcome index.
    results: Vec<IntCounter>,
    transitions: IntCounterVec,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Metrics, prometheus::Error> {
        let m = Metrics::unregistered()?;
        registry.register(Box::new(m.duration_vec.clone()))?;
        registry.register(Box::new(m.results_vec.clone()))?;
        registry.register(Box::new(m.transitions.clone()))?;
        Ok(m)
    }

    /// Creates the metrics without registering them (tools, benchmarks).
    pub fn unregistered() -> Result<Metrics, prometheus::Error> {
        let duration_vec = HistogramVec::new(
            HistogramOpts::new(
                "fleetdns_probe_duration_seconds",
                "Time from the start of a health probe to its verdict",
            )
            .buckets(BUCKETS.to_vec()),
            &["protocol"],
        )?;
        let results_vec = IntCounterVec::new(
            Opts::new(
                "fleetdns_probe_results_total",
                "Health probes completed, by protocol and outcome",
            ),
            &["protocol", "outcome"],
        )?;
        let transitions = IntCounterVec::new(
            Opts::new(
                "fleetdns_endpoint_state_transitions_total",
                "Endpoint monitor-state changes, by old and new state",
            ),
            &["from", "to"],
        )?;
        let duration = PROTOCOLS.map(|p| duration_vec.with_label_values(&[protocol_label(p)]));
        let results = PROTOCOLS
            .iter()
            .flat_map(|&p| Outcome::ALL.iter().map(move |&o| (p, o)))
            .map(|(p, o)| results_vec.with_label_values(&[protocol_label(p), o.as_str()]))
            .collect();
        Ok(Metrics {
            duration_vec,
            duration,
            results_vec,
            results,
            transitions,
        })
    }

    /// Records one probe result.
    pub(crate) fn observed(&self, protocol: Protocol, r: &ProbeResult) {
        let p = protocol_index(protocol);
        self.duration[p].observe(r.duration.as_secs_f64());
        self.results[p * Outcome::ALL.len() + outcome_index(r.outcome)].inc();
    }

    /// Counts a state change.
    pub(crate) fn transition(&self, from: MonitorState, to: MonitorState) {
        self.transitions
            .with_label_values(&[state_name(from), state_name(to)])
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{Encoder, TextEncoder};
    use std::time::Duration;

    /// The registry in the text format a scrape returns.
    fn scrape(registry: &Registry) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn probe_series_count_results_and_transitions() {
        let registry = Registry::new();
        let m = Metrics::register(&registry).unwrap();
        let r = ProbeResult::new(
            Outcome::Redirect,
            "HTTP 302 (redirect)".into(),
            Duration::from_millis(3),
        );
        m.observed(Protocol::Https, &r);
        m.transition(MonitorState::Online, MonitorState::Degraded);

        let text = scrape(&registry);
        for line in [
            r#"fleetdns_probe_results_total{outcome="redirect",protocol="https"} 1"#,
            r#"fleetdns_probe_results_total{outcome="success",protocol="tcp"} 0"#,
            r#"fleetdns_probe_duration_seconds_bucket{protocol="https",le="0.005"} 1"#,
            r#"fleetdns_endpoint_state_transitions_total{from="Online",to="Degraded"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }
        assert!(
            !text.contains("endpoint=\""),
            "no per-endpoint series here (the binary renders them):\n{text}"
        );
    }
}
