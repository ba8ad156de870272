//! Which endpoints to probe and how, extracted from a `Fleet` snapshot.
//!
//! A fleet update changes many things the prober does not care about (weights,
//! TTLs, other profiles). Comparing just the fields that decide an endpoint's
//! probe and its labels ([`Plan::same_probe`]) tells whether its probe changed,
//! so unchanged endpoints keep their state.
//!
//! A [`Plan`] is a reference into the fleet (the endpoint's profile, shared
//! with the fleet snapshot, and the endpoint's index in it), not a copy: the
//! prober keeps one per probed endpoint for as long as it probes it, and at
//! 300,000 endpoints a copy of the fields (three ids, the monitor, the target)
//! was 110 bytes each, all of them already held by the fleet.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use fleetdns_config::{Endpoint, Fleet, MonitorConfig, Profile, Target};

/// One endpoint to probe: its profile (the fleet's own `Arc`) and its index there.
#[derive(Clone)]
pub(crate) struct Plan {
    profile: Arc<Profile>,
    index: u32,
}

impl Plan {
    fn endpoint_ref(&self) -> &Endpoint {
        &self.profile.endpoints[self.index as usize]
    }

    /// The endpoint id, the key of `Health` (the fleet's own, shared).
    pub(crate) fn endpoint(&self) -> &Arc<str> {
        &self.endpoint_ref().id
    }

    pub(crate) fn cluster(&self) -> &Arc<str> {
        &self.endpoint_ref().cluster
    }

    pub(crate) fn monitor(&self) -> &MonitorConfig {
        &self.profile.monitor
    }

    pub(crate) fn target(&self) -> &Target {
        &self.endpoint_ref().target
    }

    /// `<namespace>/<name>` of the profile (metrics and log label).
    pub(crate) fn profile(&self) -> ProfileLabel<'_> {
        ProfileLabel(&self.profile)
    }

    /// Whether `self` and `other` probe alike and carry the same labels: the
    /// same id, profile name, cluster, monitor settings and target.
    pub(crate) fn same_probe(&self, other: &Plan) -> bool {
        let (a, b) = (self.endpoint_ref(), other.endpoint_ref());
        a.id == b.id
            && a.cluster == b.cluster
            && a.target == b.target
            && (Arc::ptr_eq(&self.profile.monitor, &other.profile.monitor)
                || self.profile.monitor == other.profile.monitor)
            && self.profile.namespace == other.profile.namespace
            && self.profile.name == other.profile.name
    }
}

impl PartialEq for Plan {
    fn eq(&self, other: &Plan) -> bool {
        self.same_probe(other)
    }
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan")
            .field("profile", &self.profile())
            .field("endpoint", self.endpoint())
            .field("cluster", self.cluster())
            .field("target", self.target())
            .finish_non_exhaustive()
    }
}

/// Displays `<namespace>/<name>` of a profile.
#[derive(Clone, Copy)]
pub(crate) struct ProfileLabel<'a>(&'a Profile);

impl fmt::Display for ProfileLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.namespace, self.0.name)
    }
}

impl fmt::Debug for ProfileLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Every endpoint of `fleet` that is probed (not always-serve), by id. Should
/// an id appear twice, the first occurrence wins: `Health` has one entry per id.
pub(crate) fn desired(fleet: &Fleet) -> BTreeMap<Arc<str>, Plan> {
    let mut plans = BTreeMap::new();
    for profile in &fleet.profiles {
        for (index, endpoint) in profile.endpoints.iter().enumerate() {
            if endpoint.always_serve {
                continue;
            }
            let Ok(index) = u32::try_from(index) else {
                break;
            };
            plans.entry(endpoint.id.clone()).or_insert_with(|| Plan {
                profile: profile.clone(),
                index,
            });
        }
    }
    plans
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! A small fleet builder for the crate's unit tests.
    use super::*;
    use fleetdns_config::{Endpoint, Profile, Protocol};
    use std::net::Ipv4Addr;
    use std::path::Path;
    use std::sync::OnceLock;

    pub(crate) fn monitor() -> MonitorConfig {
        MonitorConfig {
            protocol: Protocol::Http,
            port: 80,
            path: "/".into(),
            interval_seconds: 10,
            timeout_seconds: 5,
            tolerated_failures: 1,
            custom_headers: vec![],
            expected_status: vec![(200, 200)],
            verify_tls: false,
        }
    }

    pub(crate) fn endpoint(id: &str, last_octet: u8) -> Endpoint {
        Endpoint {
            id: id.into(),
            backend: "web".into(),
            service: "svc".into(),
            cluster: format!("c{last_octet}").into(),
            target: Target::Addresses {
                v4: Some(Ipv4Addr::new(192, 0, 2, last_octet)),
                v6: None,
            },
            weight: 1,
            export_weight: 1,
            always_serve: false,
            priority: fleetdns_config::routing::DEFAULT_PRIORITY,
        }
    }

    pub(crate) fn profile(name: &str, monitor: MonitorConfig, endpoints: Vec<Endpoint>) -> Profile {
        Profile {
            namespace: "ns".into(),
            name: name.into(),
            owner: format!("ns-{name}.fleet.example.com"),
            ttl: 60,
            monitor: monitor.into(),
            fail_closed: false,
            routing: fleetdns_config::RoutingMethod::Weighted,
            endpoints,
        }
    }

    /// A valid fleet with exactly `profiles`. The zone and server settings come
    /// from a minimal config file, so this keeps compiling when `Fleet` grows fields.
    pub(crate) fn fleet(profiles: Vec<Profile>) -> Fleet {
        static BASE: OnceLock<Fleet> = OnceLock::new();
        let mut fleet = BASE
            .get_or_init(|| {
                let (fleet, _) =
                    fleetdns_config::file::load_str(Path::new("prober-test.yaml"), BASE_YAML)
                        .unwrap_or_else(|d| panic!("base test config is invalid: {d:?}"));
                fleet
            })
            .clone();
        fleet.profiles = profiles.into_iter().map(std::sync::Arc::new).collect();
        fleet
    }

    const BASE_YAML: &str = "\
apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
metadata:
  name: fleetdns
spec:
  zone: fleet.example.com
  nameServers:
    - name: ns1.fleet.example.com
      addresses: [127.0.0.1]
";
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn always_serve_endpoints_are_not_probed() {
        let mut pinned = endpoint("ns/web#svc#c2", 2);
        pinned.always_serve = true;
        let f = fleet(vec![profile(
            "web",
            monitor(),
            vec![endpoint("ns/web#svc#c1", 1), pinned],
        )]);
        let plans = desired(&f);
        assert_eq!(
            plans.keys().map(|k| &**k).collect::<Vec<_>>(),
            ["ns/web#svc#c1"]
        );
        let p = &plans["ns/web#svc#c1"];
        assert_eq!(
            [&*p.profile().to_string(), &**p.endpoint(), &**p.cluster()],
            ["ns/web", "ns/web#svc#c1", "c1"]
        );
    }

    #[test]
    fn weights_do_not_change_a_plan_but_monitor_and_target_do() {
        let base = fleet(vec![profile("web", monitor(), vec![endpoint("e", 1)])]);
        let mut reweighted = base.clone();
        reweighted.profile_mut(0).endpoints[0].weight = 500;
        reweighted.profile_mut(0).ttl = 5;
        assert_eq!(desired(&base), desired(&reweighted));

        let mut moved = base.clone();
        moved.profile_mut(0).endpoints[0].target = Target::Host("elsewhere.example".into());
        assert_ne!(desired(&base)["e"], desired(&moved)["e"]);

        let mut repathed = base.clone();
        Arc::make_mut(&mut repathed.profile_mut(0).monitor).path = "/healthz".into();
        assert_ne!(desired(&base)["e"], desired(&repathed)["e"]);
    }

    #[test]
    fn duplicate_ids_keep_the_first() {
        let f = fleet(vec![
            profile("a", monitor(), vec![endpoint("dup", 1)]),
            profile("b", monitor(), vec![endpoint("dup", 2)]),
        ]);
        let plans = desired(&f);
        assert_eq!(plans.len(), 1);
        assert_eq!(plans["dup"].profile().to_string(), "ns/a");
    }
}
