//! Series a dashboard and alerts need that no other part exports: each
//! endpoint's configured weight (to set answers against) and whether a profile
//! is failing open (every endpoint Degraded, all served anyway).
//!
//! - `fleetdns_endpoint_weight{profile,endpoint,cluster}`: the effective weight.
//! - `fleetdns_profile_failing_open{profile}`: 1 while every endpoint of a
//!   fail-open profile is Degraded, else 0.
//!
//! Updated by the status page's sampling task when the fleet or the health
//! changed, never on the query path; series of endpoints and profiles that left
//! the fleet are removed.

use std::collections::BTreeSet;

use fleetdns_config::{Fleet, Health, Profile};
use prometheus::{IntGaugeVec, Opts, Registry};

/// The profile and endpoint gauges.
pub struct ProfileGauges {
    weight: IntGaugeVec,
    failing_open: IntGaugeVec,
    /// (profile, endpoint, cluster) of the weight series exported now.
    endpoints: BTreeSet<[String; 3]>,
    /// Profiles whose failing-open series is exported now.
    profiles: BTreeSet<String>,
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

impl ProfileGauges {
    /// Creates the series and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let weight = IntGaugeVec::new(
            Opts::new(
                "fleetdns_endpoint_weight",
                "Effective weight of the endpoint in its profile (answers are drawn in proportion to it)",
            ),
            &["profile", "endpoint", "cluster"],
        )?;
        let failing_open = IntGaugeVec::new(
            Opts::new(
                "fleetdns_profile_failing_open",
                "1 while every endpoint of a fail-open profile is Degraded and all are served anyway",
            ),
            &["profile"],
        )?;
        registry.register(Box::new(weight.clone()))?;
        registry.register(Box::new(failing_open.clone()))?;
        Ok(Self {
            weight,
            failing_open,
            endpoints: BTreeSet::new(),
            profiles: BTreeSet::new(),
        })
    }

    /// Sets every series from `fleet` and `health`; drops the series of what is gone.
    pub fn update(&mut self, fleet: &Fleet, health: &Health) {
        let mut endpoints = BTreeSet::new();
        let mut profiles = BTreeSet::new();
        for p in &fleet.profiles {
            let key = profile_key(p);
            self.failing_open
                .with_label_values(&[&key])
                .set(i64::from(failing_open(p, health)));
            for e in &p.endpoints {
                self.weight
                    .with_label_values(&[&key, &e.id, &e.cluster])
                    .set(i64::from(e.weight));
                endpoints.insert([key.clone(), e.id.clone(), e.cluster.clone()]);
            }
            profiles.insert(key);
        }
        for gone in self.endpoints.difference(&endpoints) {
            let [p, e, c] = gone;
            let _ = self.weight.remove_label_values(&[p, e, c]);
        }
        for gone in self.profiles.difference(&profiles) {
            let _ = self.failing_open.remove_label_values(&[gone]);
        }
        self.endpoints = endpoints;
        self.profiles = profiles;
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
        g.update(&two, &health(&[("a", Degraded), ("b", Degraded)]));
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
        g.update(&one, &Health::default());
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
