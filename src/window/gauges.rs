//! Per-endpoint and per-profile series, rendered at scrape time from the
//! fleet and the health being served (never on the query path), so series of
//! endpoints and profiles that left the fleet disappear with them:
//!
//! - `fleetdns_endpoint_weight{profile,endpoint,cluster}`: the effective weight.
//! - `fleetdns_profile_failing_open{profile}`: 1 while every endpoint of a
//!   fail-open profile is Degraded, else 0.
//! - `fleetdns_endpoint_up{profile,endpoint,cluster}`: 1 if the latest probe
//!   succeeded, else 0 (absent until the first result).
//! - `fleetdns_endpoint_monitor_state{profile,endpoint,cluster,state}`: 1 for
//!   the current state, 0 for the other states a probed endpoint can be in.
//!
//! At 100,000 profiles (300,000 endpoints) a gauge child per endpoint and
//! state, plus the label sets kept to remove the gone ones, cost hundreds of
//! MiB and seconds per update; here nothing per endpoint is kept.

use std::sync::Arc;

use fleetdns_config::{Fleet, Health, MonitorState, Profile};
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::Registry;
use tokio::sync::watch;

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
const UP: &str = "fleetdns_endpoint_up";
const UP_HELP: &str = "Whether the latest health probe of the endpoint succeeded (1) or not (0)";
const STATE: &str = "fleetdns_endpoint_monitor_state";
const STATE_HELP: &str = "Monitor state of the endpoint: 1 for the current state, 0 for the others";
/// States a probed endpoint can be in (Unmonitored endpoints are never probed).
const PROBED_STATES: [(MonitorState, &str); 3] = [
    (MonitorState::CheckingEndpoint, "CheckingEndpoint"),
    (MonitorState::Online, "Online"),
    (MonitorState::Degraded, "Degraded"),
];

/// Registers the series in `registry`, showing what `fleet` and `health` hold
/// at each scrape.
pub fn register(
    registry: &Registry,
    fleet: watch::Receiver<Arc<Fleet>>,
    health: watch::Receiver<Arc<Health>>,
) -> Result<(), prometheus::Error> {
    let desc = |name: &str, help: &str, labels: &[&str]| {
        Desc::new(
            name.into(),
            help.into(),
            labels.iter().map(|l| l.to_string()).collect(),
            Default::default(),
        )
    };
    let endpoint = ["profile", "endpoint", "cluster"];
    registry.register(Box::new(GaugesCollector {
        fleet,
        health,
        weight: desc(WEIGHT, WEIGHT_HELP, &endpoint)?,
        failing_open: desc(FAILING_OPEN, FAILING_OPEN_HELP, &["profile"])?,
        up: desc(UP, UP_HELP, &endpoint)?,
        state: desc(
            STATE,
            STATE_HELP,
            &["profile", "endpoint", "cluster", "state"],
        )?,
    }))?;
    Ok(())
}

/// Renders the gauges of the current fleet and health at scrape time, as the
/// `IntGaugeVec`s they replace printed them.
struct GaugesCollector {
    fleet: watch::Receiver<Arc<Fleet>>,
    health: watch::Receiver<Arc<Health>>,
    weight: Desc,
    failing_open: Desc,
    up: Desc,
    state: Desc,
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
        vec![&self.weight, &self.failing_open, &self.up, &self.state]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let fleet = self.fleet.borrow().clone();
        let health = self.health.borrow().clone();
        let (mut ups, mut states) = (Vec::new(), Vec::new());
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
                // Probed endpoints only: the prober keeps no entry for always-serve ones.
                let Some(h) = health.get(&e.id).filter(|_| !e.always_serve) else {
                    continue;
                };
                let labels = || {
                    vec![
                        label("cluster", &e.cluster),
                        label("endpoint", &e.id),
                        label("profile", &key),
                    ]
                };
                if let Some(last) = &h.last {
                    ups.push(gauge(labels(), i64::from(last.healthy)));
                }
                for (state, name) in PROBED_STATES {
                    let mut l = labels();
                    l.push(label("state", name));
                    states.push(gauge(l, i64::from(h.state == state)));
                }
            }
        }
        [
            family(WEIGHT, WEIGHT_HELP, weights),
            family(FAILING_OPEN, FAILING_OPEN_HELP, failing),
            family(UP, UP_HELP, ups),
            family(STATE, STATE_HELP, states),
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
    fn series_follow_the_fleet_and_the_health() {
        use MonitorState::*;
        let registry = Registry::new();
        let two = fleet()
            .profile(
                profile("ns", "web")
                    .endpoint(endpoint("a").cluster("c1").weight(3))
                    .endpoint(endpoint("b").cluster("c2").weight(1))
                    .endpoint(endpoint("p").cluster("c3").always_serve(true)),
            )
            .build();
        let mut states = health(&[("a", Degraded), ("b", Degraded)]);
        states.get_mut("a").unwrap().last = Some(fleetdns_config::Observation {
            healthy: false,
            detail: "timeout after 5s".into(),
            at: std::time::SystemTime::now(),
            duration: std::time::Duration::from_secs(5),
        });
        let (fleet_tx, fleet_rx) = tokio::sync::watch::channel(Arc::new(two));
        let (health_tx, health_rx) = tokio::sync::watch::channel(Arc::new(states));
        register(&registry, fleet_rx, health_rx).unwrap();
        let text = scrape(&registry);
        for line in [
            r#"fleetdns_endpoint_weight{cluster="c1",endpoint="a",profile="ns/web"} 3"#,
            r#"fleetdns_endpoint_weight{cluster="c2",endpoint="b",profile="ns/web"} 1"#,
            r#"fleetdns_profile_failing_open{profile="ns/web"} 0"#,
            r#"fleetdns_endpoint_up{cluster="c1",endpoint="a",profile="ns/web"} 0"#,
            r#"fleetdns_endpoint_monitor_state{cluster="c1",endpoint="a",profile="ns/web",state="Degraded"} 1"#,
            r#"fleetdns_endpoint_monitor_state{cluster="c1",endpoint="a",profile="ns/web",state="Online"} 0"#,
            r#"fleetdns_endpoint_monitor_state{cluster="c2",endpoint="b",profile="ns/web",state="CheckingEndpoint"} 0"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }
        assert!(
            !text.contains(r#"fleetdns_endpoint_up{cluster="c2""#),
            "no up series before a first result:\n{text}"
        );
        assert!(
            !text.contains(r#"endpoint="p",profile="ns/web",state"#),
            "always-serve endpoints are not probed:\n{text}"
        );
        let one = fleet()
            .profile(profile("ns", "api").endpoint(endpoint("c").cluster("c1").weight(5)))
            .build();
        fleet_tx.send_replace(Arc::new(one));
        health_tx.send_replace(Arc::new(Health::default()));
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
