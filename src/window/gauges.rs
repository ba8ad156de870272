//! Series a dashboard and alerts need that no other part exports: each
//! endpoint's configured weight (to set answers against) and whether a profile
//! is failing open (every endpoint Degraded, all served anyway).
//!
//! - `fleetdns_endpoint_weight{profile,endpoint,cluster}`: the effective weight.
//! - `fleetdns_profile_failing_open{profile}`: 1 while every endpoint of a
//!   fail-open profile is Degraded, else 0.
//!
//! Rendered at scrape time from the fleet and the health last handed to
//! [`ProfileGauges::update`] (by the status page's sampling task, when either
//! changed; never on the query path), so series of endpoints and profiles that
//! left the fleet disappear with it. At 100,000 profiles a gauge child per
//! endpoint and a set of label triples to remove the gone ones cost ~150 MiB
//! and seconds per update; here an update stores two `Arc`s.

use std::sync::{Arc, Mutex};

use fleetdns_config::{Fleet, Health, Profile};
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::Registry;

/// The fleet and health the gauges show.
type Current = Arc<Mutex<Option<(Arc<Fleet>, Arc<Health>)>>>;

/// The profile and endpoint gauges.
pub struct ProfileGauges {
    current: Current,
}

/// A profile's `namespace/name`, as every profile label spells it.
pub fn profile_key(p: &Profile) -> String {
    format!("{}/{}", p.namespace, p.name)
}

/// Whether `p` serves all its endpoints only because every one is Degraded
/// (fail-open): it has endpoints, none is available and it is not fail-closed.
pub fn failing_open(p: &Profile, health: &Health) -> bool {
    !p.fail_closed
        && !p.endpoints.is_empty()
        && p.endpoints
            .iter()
            .all(|e| !health.state_of(e).is_available())
}

const WEIGHT: &str = "fleetdns_endpoint_weight";
const WEIGHT_HELP: &str =
    "Effective weight of the endpoint in its profile (answers are drawn in proportion to it)";
const FAILING_OPEN: &str = "fleetdns_profile_failing_open";
const FAILING_OPEN_HELP: &str =
    "1 while every endpoint of a fail-open profile is Degraded and all are served anyway";

impl ProfileGauges {
    /// Creates the series and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let current = Current::default();
        let desc = |name: &str, help: &str, labels: &[&str]| {
            Desc::new(
                name.into(),
                help.into(),
                labels.iter().map(|l| l.to_string()).collect(),
                Default::default(),
            )
        };
        registry.register(Box::new(GaugesCollector {
            current: current.clone(),
            weight: desc(WEIGHT, WEIGHT_HELP, &["profile", "endpoint", "cluster"])?,
            failing_open: desc(FAILING_OPEN, FAILING_OPEN_HELP, &["profile"])?,
        }))?;
        Ok(Self { current })
    }

    /// Shows `fleet` and `health` from the next scrape on.
    pub fn update(&mut self, fleet: &Arc<Fleet>, health: &Arc<Health>) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((fleet.clone(), health.clone()));
    }
}

/// Renders the gauges of the current fleet and health at scrape time, as the
/// `IntGaugeVec`s they replace printed them.
struct GaugesCollector {
    current: Current,
    weight: Desc,
    failing_open: Desc,
}

fn label(name: &str, value: &str) -> LabelPair {
    let mut l = LabelPair::default();
    l.set_name(name.into());
    l.set_value(value.into());
    l
}

fn gauge(labels: Vec<LabelPair>, value: i64) -> Metric {
    // Sorted by label name, as prometheus' own label pairs are.
    let mut m = Metric::from_label(labels);
    let mut g = Gauge::default();
    g.set_value(value as f64);
    m.set_gauge(g);
    m
}

fn family(name: &str, help: &str, metrics: Vec<Metric>) -> Option<MetricFamily> {
    // As a vector without children: no family at all.
    (!metrics.is_empty()).then(|| {
        let mut f = MetricFamily::default();
        f.set_name(name.into());
        f.set_help(help.into());
        f.set_field_type(MetricType::GAUGE);
        f.set_metric(metrics);
        f
    })
}

impl Collector for GaugesCollector {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.weight, &self.failing_open]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some((fleet, health)) = current else {
            return Vec::new();
        };
        let mut weights = Vec::new();
        let mut failing = Vec::with_capacity(fleet.profiles.len());
        for p in &fleet.profiles {
            let key = profile_key(p);
            failing.push(gauge(
                vec![label("profile", &key)],
                i64::from(failing_open(p, &health)),
            ));
            for e in &p.endpoints {
                weights.push(gauge(
                    vec![
                        label("cluster", &e.cluster),
                        label("endpoint", &e.id),
                        label("profile", &key),
                    ],
                    i64::from(e.weight),
                ));
            }
        }
        [
            family(WEIGHT, WEIGHT_HELP, weights),
            family(FAILING_OPEN, FAILING_OPEN_HELP, failing),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetdns_config::testing::{endpoint, fleet, profile};
    use fleetdns_config::{EndpointHealth, MonitorState};
    use prometheus::{Encoder, TextEncoder};

    fn health(states: &[(&str, MonitorState)]) -> Health {
        states
            .iter()
            .map(|(id, s)| {
                let h = EndpointHealth {
                    state: *s,
                    consecutive_failures: 0,
                    last: None,
                };
                (std::sync::Arc::from(*id), h)
            })
            .collect()
    }

    fn scrape(registry: &Registry) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn failing_open_needs_every_endpoint_degraded_and_fail_open() {
        use MonitorState::*;
        let p = profile("ns", "web")
            .endpoint(endpoint("a"))
            .endpoint(endpoint("b"))
            .build();
        assert!(
            !failing_open(&p, &health(&[("a", Degraded)])),
            "b is CheckingEndpoint"
        );
        assert!(!failing_open(
            &p,
            &health(&[("a", Degraded), ("b", Online)])
        ));
        assert!(failing_open(
            &p,
            &health(&[("a", Degraded), ("b", Degraded)])
        ));
        let closed = profile("ns", "web")
            .fail_closed(true)
            .endpoint(endpoint("a"))
            .build();
        assert!(
            !failing_open(&closed, &health(&[("a", Degraded)])),
            "fail-closed serves nothing"
        );
        let always = profile("ns", "web")
            .endpoint(endpoint("a").always_serve(true))
            .build();
        assert!(
            !failing_open(&always, &health(&[("a", Degraded)])),
            "always-serve is available"
        );
        assert!(!failing_open(
            &profile("ns", "empty").build(),
            &Health::default()
        ));
    }

    #[test]
    fn series_follow_the_fleet() {
        use MonitorState::*;
        let registry = Registry::new();
        let mut g = ProfileGauges::register(&registry).unwrap();
        let two = fleet()
            .profile(
                profile("ns", "web")
                    .endpoint(endpoint("a").cluster("c1").weight(3))
                    .endpoint(endpoint("b").cluster("c2").weight(1)),
            )
            .build();
        g.update(
            &Arc::new(two),
            &Arc::new(health(&[("a", Degraded), ("b", Degraded)])),
        );
        let text = scrape(&registry);
        for line in [
            r#"fleetdns_endpoint_weight{cluster="c1",endpoint="a",profile="ns/web"} 3"#,
            r#"fleetdns_endpoint_weight{cluster="c2",endpoint="b",profile="ns/web"} 1"#,
            r#"fleetdns_profile_failing_open{profile="ns/web"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }
        let one = fleet()
            .profile(profile("ns", "api").endpoint(endpoint("c").cluster("c1").weight(5)))
            .build();
        g.update(&Arc::new(one), &Arc::new(Health::default()));
        let text = scrape(&registry);
        assert!(
            !text.contains("ns/web"),
            "series of a gone profile left:\n{text}"
        );
        assert!(
            text.contains(r#"fleetdns_profile_failing_open{profile="ns/api"} 0"#),
            "{text}"
        );
    }
}
