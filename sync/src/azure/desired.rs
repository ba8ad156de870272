//! `Fleet` → the Traffic Manager profiles and endpoints fleet-networking would create.
//!
//! Naming follows fleet-networking: profile `fleet-<profile uid>`, relative DNS name
//! `<namespace>-<name>`, routing Weighted (or the profile's
//! `fleetdns.io/routing-method`: Priority with each endpoint's `priority`,
//! MultiValue with `maxReturn`), location `global`, tag
//! `networking.fleet.azure.com.trafficManagerProfile: <namespace>/<name>`; one
//! endpoint per (backend, member cluster) named `fleet-<backend uid>#<service>#<cluster>`.
//!
//! Endpoints as upstream (TMBc:588-615): a Service with a public IP resource id
//! becomes an AzureEndpoints endpoint on that resource (`targetResourceId`; Traffic
//! Manager resolves the address; the reconciler checks the public IP has a DNS
//! label first). A Service whose address is private (RFC 1918, CGNAT, ULA,
//! loopback, link-local) and has no public IP resource is an internal load
//! balancer: never mirrored, reported on its backend. Only what is left — public
//! addresses and host names with no Azure resource behind them, i.e. members
//! outside Azure — becomes an ExternalEndpoints endpoint (`target` = the IPv4
//! address, else the IPv6 address, else the host name).
//!
//! Where Traffic Manager cannot follow fleetdns the mirror refuses, and DNS
//! answers go on: a MultiValue profile's AzureEndpoints and host-name endpoints
//! are left out (reported on their backend); a Priority profile whose endpoints
//! share a priority is not written at all (its `Programmed` says why).

use std::collections::BTreeMap;
use std::net::IpAddr;

use fleetdns_config::azure::AzureMirror;
use fleetdns_config::{Fleet, Profile, Protocol, RoutingMethod, Target};

use super::model::{
    DnsConfig, EndpointBody, EndpointProperties, EndpointType, Header, MonitorConfig, ProfileBody,
    ProfileProperties, ProfileRef, StatusRange, MANAGED_BY, MANAGED_BY_TAG, PROFILE_TAG,
};
use super::routing::{multivalue_refuses, shared_priority};

/// One profile as it should be in Azure.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredProfile {
    /// `namespace/name` of the TrafficManagerProfile.
    pub key: String,
    /// Where the profile lives in Azure (ARM name `fleet-<profile uid>`).
    pub at: ProfileRef,
    /// The profile as fleetdns PUTs it (without endpoints).
    pub body: ProfileBody,
    /// Its endpoints, sorted by name.
    pub endpoints: Vec<DesiredEndpoint>,
    /// Endpoints of the fleet that are not mirrored, and why.
    pub skipped: Vec<Skipped>,
    /// Backend uid → backend key (`namespace/name`), for every backend of the profile.
    pub backends: BTreeMap<String, String>,
    /// Why Traffic Manager cannot follow this profile at all (its `Programmed`
    /// says so and nothing is written); DNS answers are not affected.
    pub refused: Option<String>,
}

/// An endpoint the mirror leaves out, reported on its backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// `namespace/name` of the TrafficManagerBackend.
    pub backend: String,
    /// The endpoint's ARM name, `fleet-<backend uid>#<service>#<cluster>`.
    pub name: String,
    /// Why it is left out (as the backend's condition message says it).
    pub reason: String,
}

/// One endpoint as it should be in Azure.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredEndpoint {
    /// `namespace/name` of the TrafficManagerBackend it comes from.
    pub backend: String,
    /// ARM name, `fleet-<backend uid>#<service>#<cluster>`.
    pub name: String,
    /// AzureEndpoints when the Service's public IP resource id is known, else ExternalEndpoints.
    pub kind: EndpointType,
    /// The endpoint as fleetdns PUTs it.
    pub body: EndpointBody,
}

/// Everything the fleet wants in Azure, in profile order. Profiles without Azure
/// data (no `azure` section) give an empty list.
pub fn desired(fleet: &Fleet) -> Vec<DesiredProfile> {
    let Some(azure) = &fleet.azure else {
        return Vec::new();
    };
    fleet
        .profiles
        .iter()
        .filter_map(|p| profile(azure, p))
        .collect()
}

fn profile(azure: &AzureMirror, p: &Profile) -> Option<DesiredProfile> {
    let key = format!("{}/{}", p.namespace, p.name);
    let ap = azure.profiles.get(&key)?;
    let at = ProfileRef {
        subscription: azure.subscription_id.clone(),
        resource_group: ap.resource_group.clone(),
        name: format!("fleet-{}", ap.uid),
    };
    let tags = BTreeMap::from([
        (PROFILE_TAG.to_string(), key.clone()),
        (MANAGED_BY_TAG.to_string(), MANAGED_BY.to_string()),
    ]);
    let body = ProfileBody {
        location: azure.location.clone(),
        tags,
        properties: ProfileProperties {
            profile_status: "Enabled",
            traffic_routing_method: p.routing.name(),
            max_return: match p.routing {
                RoutingMethod::MultiValue { max_return } => Some(i64::from(max_return)),
                _ => None,
            },
            dns_config: DnsConfig {
                relative_name: format!("{}-{}", p.namespace, p.name).to_ascii_lowercase(),
                ttl: i64::from(p.ttl),
            },
            monitor_config: monitor(p),
            endpoints: None,
        },
    };
    let mut skipped = Vec::new();
    let mut backends = BTreeMap::new();
    let mut endpoints: Vec<DesiredEndpoint> = p
        .endpoints
        .iter()
        .filter_map(|e| {
            let backend = format!("{}/{}", p.namespace, e.backend);
            let uid = azure.backend_uids.get(&backend)?;
            backends.insert(uid.to_ascii_lowercase(), backend.clone());
            let name = format!("fleet-{uid}#{}#{}", e.service, e.cluster);
            let pip = azure
                .public_ips
                .get(&format!("{}/{}/{}", e.cluster, p.namespace, e.service));
            if let Some(reason) = multivalue_refuses(p, &e.target, pip.is_some()) {
                skipped.push(Skipped {
                    backend,
                    name,
                    reason: format!("cluster {}: {reason}", e.cluster),
                });
                return None;
            }
            let (kind, target, target_resource_id) = match pip {
                Some(id) => (EndpointType::AzureEndpoints, None, Some(id.clone())),
                None if internal(&e.target) => {
                    skipped.push(Skipped {
                        backend,
                        name,
                        reason: format!(
                            "cluster {}: internal load balancer is not supported (private address {}, no public IP resource)",
                            e.cluster,
                            target(&e.target)
                        ),
                    });
                    return None;
                }
                None => (
                    EndpointType::ExternalEndpoints,
                    Some(target(&e.target)),
                    None,
                ),
            };
            Some(DesiredEndpoint {
                backend,
                name: name.clone(),
                kind,
                body: EndpointBody {
                    name,
                    kind: kind.resource_type(),
                    properties: EndpointProperties {
                        target_resource_id,
                        target,
                        endpoint_status: "Enabled",
                        weight: i64::from(e.weight.clamp(1, 1000)),
                        always_serve: e.always_serve.then_some("Enabled"),
                        priority: (p.routing == RoutingMethod::Priority)
                            .then_some(i64::from(e.priority)),
                    },
                },
            })
        })
        .collect();
    endpoints.sort_by(|a, b| a.name.cmp(&b.name));
    let refused = shared_priority(&endpoints);
    Some(DesiredProfile {
        key,
        at,
        body,
        endpoints,
        skipped,
        backends,
        refused,
    })
}

/// Whether a target is an internal load balancer's: only private-use addresses.
fn internal(t: &Target) -> bool {
    let private = |a: IpAddr| match a {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(a) => {
            let s = a.segments()[0];
            a.is_loopback() || (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    };
    match t {
        Target::Addresses { v4: Some(a), .. } => private(IpAddr::V4(*a)),
        Target::Addresses { v6: Some(a), .. } => private(IpAddr::V6(*a)),
        _ => false,
    }
}

fn target(t: &Target) -> String {
    match t {
        Target::Addresses { v4: Some(a), .. } => a.to_string(),
        Target::Addresses { v6: Some(a), .. } => a.to_string(),
        Target::Addresses { .. } => String::new(),
        Target::Host(h) => h.clone(),
    }
}

/// The profile's monitorConfig in Traffic Manager's terms. fleetdns allows other
/// intervals (1-30 s, by annotation) than Traffic Manager's 10 or 30: anything
/// below 30 s maps to 10 s, so Traffic Manager detects a failure at least as soon
/// as fleetdns is configured to, and the timeout is clamped into what the interval
/// allows (5-9 or 5-10).
fn monitor(p: &Profile) -> MonitorConfig {
    let m = &p.monitor;
    let interval: i64 = if m.interval_seconds < 30 { 10 } else { 30 };
    let max_timeout = if interval == 10 { 9 } else { 10 };
    let timeout = i64::from(m.timeout_seconds).clamp(5, max_timeout);
    let tcp = m.protocol == Protocol::Tcp;
    let mut custom_headers: Vec<Header> = m
        .custom_headers
        .iter()
        .map(|(n, v)| Header {
            name: n.clone(),
            value: v.expose().clone(),
        })
        .collect();
    custom_headers.sort();
    let expected_status_code_ranges = if tcp || m.expected_status == [(200, 200)] {
        Vec::new()
    } else {
        m.expected_status
            .iter()
            .map(|&(lo, hi)| StatusRange {
                min: i32::from(lo),
                max: i32::from(hi),
            })
            .collect()
    };
    MonitorConfig {
        protocol: match m.protocol {
            Protocol::Http => "HTTP",
            Protocol::Https => "HTTPS",
            Protocol::Tcp => "TCP",
        },
        port: i64::from(m.port),
        path: (!tcp).then(|| m.path.clone()),
        interval_in_seconds: interval,
        timeout_in_seconds: timeout,
        tolerated_number_of_failures: i64::from(m.tolerated_failures),
        custom_headers,
        expected_status_code_ranges,
    }
}

#[cfg(test)]
mod tests {
    use fleetdns_config::testing::{monitor as monitor_config, profile};
    use fleetdns_config::Protocol;

    use super::monitor;

    #[test]
    fn intervals_map_to_traffic_managers_never_slower() {
        for (fleetdns, tm, timeout) in [
            (1, 10, 5),
            (10, 10, 9),
            (20, 10, 9),
            (29, 10, 9),
            (30, 30, 10),
        ] {
            let p = profile("ns", "web")
                .monitor(
                    monitor_config(Protocol::Http)
                        .interval(fleetdns)
                        .timeout(fleetdns.min(10)),
                )
                .build();
            let m = monitor(&p);
            assert_eq!(m.interval_in_seconds, tm, "interval {fleetdns} s");
            assert!(
                m.timeout_in_seconds <= timeout && m.timeout_in_seconds >= 5,
                "interval {fleetdns} s: {m:?}"
            );
        }
    }
}
