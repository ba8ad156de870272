//! Prober metrics, in Prometheus conventions.
//!
//! - `fleetdns_endpoint_up{profile,endpoint,cluster}`: 1 if the latest probe succeeded, else 0
//!   (absent until the first result).
//! - `fleetdns_endpoint_monitor_state{profile,endpoint,cluster,state}`: 1 for the current state,
//!   0 for the other states a probed endpoint can be in.
//! - `fleetdns_probe_duration_seconds{protocol}`: histogram of probe durations.
//! - `fleetdns_probe_results_total{protocol,outcome}`: probes by [`Outcome`].
//! - `fleetdns_endpoint_state_transitions_total{from,to}`: monitor-state changes.
//!
//! `protocol`, `outcome`, `state`, `from` and `to` come from closed lists and
//! their per-protocol children are resolved up front; `profile` (`<namespace>/<name>`),
//! `endpoint` (the endpoint id) and `cluster` are bounded by the config, and an
//! endpoint's series are removed when it leaves the fleet.

use fleetdns_config::{MonitorState, Protocol};
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};

use crate::outcome::{Outcome, ProbeResult};
use crate::state::state_name;

/// States a probed endpoint can be in (Unmonitored endpoints are never probed).
const PROBED_STATES: [MonitorState; 3] = [
    MonitorState::CheckingEndpoint,
    MonitorState::Online,
    MonitorState::Degraded,
];
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

/// Endpoint labels: `[profile, endpoint, cluster]`.
pub(crate) type EndpointLabels<'a> = [&'a str; 3];

/// The prober's metrics. Cheap to clone (handles to shared series).
#[derive(Clone)]
pub struct Metrics {
    up: IntGaugeVec,
    state: IntGaugeVec,
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
        registry.register(Box::new(m.up.clone()))?;
        registry.register(Box::new(m.state.clone()))?;
        registry.register(Box::new(m.duration_vec.clone()))?;
        registry.register(Box::new(m.results_vec.clone()))?;
        registry.register(Box::new(m.transitions.clone()))?;
        Ok(m)
    }

    /// Creates the metrics without registering them (tools, benchmarks).
    pub fn unregistered() -> Result<Metrics, prometheus::Error> {
        let endpoint = ["profile", "endpoint", "cluster"];
        let up = IntGaugeVec::new(
            Opts::new(
                "fleetdns_endpoint_up",
                "Whether the latest health probe of the endpoint succeeded (1) or not (0)",
            ),
            &endpoint,
        )?;
        let state = IntGaugeVec::new(
            Opts::new(
                "fleetdns_endpoint_monitor_state",
                "Monitor state of the endpoint: 1 for the current state, 0 for the others",
            ),
            &["profile", "endpoint", "cluster", "state"],
        )?;
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
            up,
            state,
            duration_vec,
            duration,
            results_vec,
            results,
            transitions,
        })
    }

    /// Records one probe result.
    pub(crate) fn observed(&self, labels: EndpointLabels<'_>, protocol: Protocol, r: &ProbeResult) {
        self.up
            .with_label_values(&labels)
            .set(i64::from(r.outcome.is_healthy()));
        let p = protocol_index(protocol);
        self.duration[p].observe(r.duration.as_secs_f64());
        self.results[p * Outcome::ALL.len() + outcome_index(r.outcome)].inc();
    }

    /// Sets the one-hot state series of an endpoint.
    pub(crate) fn set_state(&self, labels: EndpointLabels<'_>, current: MonitorState) {
        let [profile, endpoint, cluster] = labels;
        for s in PROBED_STATES {
            self.state
                .with_label_values(&[profile, endpoint, cluster, state_name(s)])
                .set(i64::from(s == current));
        }
    }

    /// Counts a state change.
    pub(crate) fn transition(&self, from: MonitorState, to: MonitorState) {
        self.transitions
            .with_label_values(&[state_name(from), state_name(to)])
            .inc();
    }

    /// Drops every series of an endpoint that stopped being probed (or whose
    /// labels changed), including the `up` series until its next result.
    pub(crate) fn remove(&self, labels: EndpointLabels<'_>) {
        let [profile, endpoint, cluster] = labels;
        // Absent series (no result yet) are not an error here.
        let _ = self.up.remove_label_values(&labels);
        for s in PROBED_STATES {
            let _ = self
                .state
                .remove_label_values(&[profile, endpoint, cluster, state_name(s)]);
        }
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
    fn endpoint_series_appear_and_are_removed() {
        let registry = Registry::new();
        let m = Metrics::register(&registry).unwrap();
        let labels = ["ns/web", "ns/web#svc#east", "east"];
        m.set_state(labels, MonitorState::Online);
        let r = ProbeResult::new(
            Outcome::Redirect,
            "HTTP 302 (redirect)".into(),
            Duration::from_millis(3),
        );
        m.observed(labels, Protocol::Https, &r);
        m.transition(MonitorState::Online, MonitorState::Degraded);

        let text = scrape(&registry);
        let ep = r#"cluster="east",endpoint="ns/web#svc#east",profile="ns/web""#;
        for line in [
            format!("fleetdns_endpoint_up{{{ep}}} 0"),
            format!(r#"fleetdns_endpoint_monitor_state{{{ep},state="Online"}} 1"#),
            format!(r#"fleetdns_endpoint_monitor_state{{{ep},state="Degraded"}} 0"#),
            r#"fleetdns_probe_results_total{outcome="redirect",protocol="https"} 1"#.into(),
            r#"fleetdns_probe_results_total{outcome="success",protocol="tcp"} 0"#.into(),
            r#"fleetdns_probe_duration_seconds_bucket{protocol="https",le="0.005"} 1"#.into(),
            r#"fleetdns_endpoint_state_transitions_total{from="Online",to="Degraded"} 1"#.into(),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }

        m.remove(labels);
        let text = scrape(&registry);
        assert!(
            !text.contains("endpoint=\""),
            "endpoint series left behind:\n{text}"
        );
    }
}
