//! `Fleet` → the Traffic Manager profiles and endpoints fleet-networking would create.
//!
//! Naming follows fleet-networking: profile `fleet-<profile uid>`, relative DNS name
//! `<namespace>-<name>`, routing Weighted, location `global`, tag
//! `networking.fleet.azure.com.trafficManagerProfile: <namespace>/<name>`; one
//! endpoint per (backend, member cluster) named `fleet-<backend uid>#<service>#<cluster>`.
//! A cluster Service with a known public IP resource id becomes an AzureEndpoints
//! endpoint (`targetResourceId`), every other one an ExternalEndpoints endpoint
//! (`target` = the IPv4 address, else the IPv6 address, else the host name).

use std::collections::BTreeMap;

use fleetdns_config::azure::AzureMirror;
use fleetdns_config::{Fleet, Profile, Protocol, Target};

use super::model::{
    DnsConfig, EndpointBody, EndpointProperties, EndpointType, Header, MonitorConfig, ProfileBody,
    ProfileProperties, ProfileRef, StatusRange, MANAGED_BY, MANAGED_BY_TAG, PROFILE_TAG,
};

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
}

/// One endpoint as it should be in Azure.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredEndpoint {
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
            traffic_routing_method: "Weighted",
            dns_config: DnsConfig {
                relative_name: format!("{}-{}", p.namespace, p.name).to_ascii_lowercase(),
                ttl: i64::from(p.ttl),
            },
            monitor_config: monitor(p),
            endpoints: None,
        },
    };
    let mut endpoints: Vec<DesiredEndpoint> = p
        .endpoints
        .iter()
        .filter_map(|e| {
            let uid = azure
                .backend_uids
                .get(&format!("{}/{}", p.namespace, e.backend))?;
            let name = format!("fleet-{uid}#{}#{}", e.service, e.cluster);
            let pip = azure
                .public_ips
                .get(&format!("{}/{}/{}", e.cluster, p.namespace, e.service));
            let (kind, target, target_resource_id) = match pip {
                Some(id) => (EndpointType::AzureEndpoints, None, Some(id.clone())),
                None => (
                    EndpointType::ExternalEndpoints,
                    Some(target(&e.target)),
                    None,
                ),
            };
            Some(DesiredEndpoint {
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
                    },
                },
            })
        })
        .collect();
    endpoints.sort_by(|a, b| a.name.cmp(&b.name));
    Some(DesiredProfile {
        key,
        at,
        body,
        endpoints,
    })
}

fn target(t: &Target) -> String {
    match t {
        Target::Addresses { v4: Some(a), .. } => a.to_string(),
        Target::Addresses { v6: Some(a), .. } => a.to_string(),
        Target::Addresses { .. } => String::new(),
        Target::Host(h) => h.clone(),
    }
}

/// The profile's monitorConfig in Traffic Manager's terms. fleetdns allows faster
/// probes (annotations) than Traffic Manager: intervals below 30 s map to 10 s,
/// and the timeout is clamped into what the interval allows (5-9 or 5-10).
fn monitor(p: &Profile) -> MonitorConfig {
    let m = &p.monitor;
    let interval: i64 = if m.interval_seconds <= 10 { 10 } else { 30 };
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
