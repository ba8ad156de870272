//! Routing methods in Traffic Manager's terms: where it cannot follow what
//! fleetdns answers (`fleetdns.io/routing-method`), and how the mirror says so.
//!
//! Traffic Manager (api-version 2022-04-01, swagger `EndpointProperties.priority`
//! and the MultiValue rules of its documentation) takes MultiValue only with
//! ExternalEndpoints whose targets are IPv4/IPv6 addresses, and Priority only
//! with a distinct priority on every endpoint. fleetdns answers more (equal
//! priorities share by weight); the mirror refuses those cases clearly instead
//! of writing something that routes differently.

use std::collections::BTreeMap;

use fleetdns_config::{Profile, RoutingMethod, Target};

use serde_json::Value;

use super::desired::{DesiredEndpoint, DesiredProfile};
use super::diff::{keep, owns_endpoint};
use super::model::prop;

/// Why a MultiValue profile's endpoint cannot be mirrored: Traffic Manager's
/// MultiValue takes ExternalEndpoints with IPv4/IPv6 addresses only.
pub(super) fn multivalue_refuses(p: &Profile, t: &Target, azure_resource: bool) -> Option<String> {
    if !matches!(p.routing, RoutingMethod::MultiValue { .. }) {
        return None;
    }
    let why = if azure_resource {
        "an AzureEndpoints endpoint (the Service's public IP resource)"
    } else if let Target::Host(h) = t {
        return Some(format!(
            "host name {h} is not supported by MultiValue routing (Traffic Manager takes ExternalEndpoints with IPv4/IPv6 addresses only; fleetdns does not answer it either)"
        ));
    } else {
        return None;
    };
    Some(format!(
        "{why} is not supported by MultiValue routing (Traffic Manager takes ExternalEndpoints with IPv4/IPv6 addresses only); fleetdns still answers it"
    ))
}

/// Traffic Manager's Priority routing needs a distinct priority on every
/// endpoint (swagger 2022-04-01, `EndpointProperties.priority`: "no two
/// endpoints can share the same priority value"); fleetdns shares an equal
/// priority by weight. The first pair that shares one, said as a refusal.
pub(super) fn shared_priority(endpoints: &[DesiredEndpoint]) -> Option<String> {
    let mut seen: BTreeMap<i64, &str> = BTreeMap::new();
    for e in endpoints {
        let Some(priority) = e.body.properties.priority else {
            continue;
        };
        if let Some(first) = seen.insert(priority, &e.name) {
            return Some(format!(
                "Traffic Manager's Priority routing needs a distinct priority per endpoint, but endpoints {first} and {} share priority {priority} (fleetdns answers them by weight); give each backend its own fleetdns.io/priority and export its Service from one cluster, or use Weighted routing",
                e.name
            ));
        }
    }
    None
}

/// Whether a Priority profile's endpoints need other priorities than they have:
/// then the profile PUT sets them all at once (one endpoint PUT at a time could
/// pass through two endpoints with one priority, which Traffic Manager refuses).
pub(super) fn priorities_differ(desired: &DesiredProfile, observed: &[&Value]) -> bool {
    desired.endpoints.iter().any(|d| {
        d.body.properties.priority.is_some_and(|p| {
            observed.iter().any(|o| {
                o.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(&d.name))
                    && prop(o, "priority").and_then(Value::as_i64) != Some(p)
            })
        })
    })
}

/// The endpoints a profile PUT keeps: every observed one, as `diff::keep` writes
/// it, except the ones fleetdns owns and no longer wants (they would be deleted
/// next, and may be what the new routing method cannot take, e.g. AzureEndpoints
/// under MultiValue); desired endpoints carry their desired priority.
pub(super) fn routing_kept(desired: &DesiredProfile, observed: &[&Value]) -> Vec<Value> {
    observed
        .iter()
        .filter_map(|o| {
            let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
            let want = desired
                .endpoints
                .iter()
                .find(|d| d.name.eq_ignore_ascii_case(name));
            if want.is_none() && owns_endpoint(name) {
                return None;
            }
            let mut k = keep(o);
            if let Some(p) = want.and_then(|d| d.body.properties.priority) {
                k["properties"]["priority"] = p.into();
            }
            Some(k)
        })
        .collect()
}

#[cfg(test)]
mod routing_method {
    use crate::azure::desired::desired;
    use crate::azure::diff::plan;

    fn fleet(profile_annotations: &str, b2_priority: &str) -> fleetdns_config::Fleet {
        let yaml = format!("apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers: [{{name: ns1.tm.test, addresses: [127.0.0.1]}}]
  azure:
    subscriptionId: 00000000-0000-0000-0000-000000000001
    auth: {{method: managedIdentity}}
  clusters:
    - name: c1
      services: [{{namespace: ns, name: svc, loadBalancer: ['192.0.2.1']}}, {{namespace: ns, name: host, loadBalancer: ['lb.example.net']}}]
    - name: c2
      services: [{{namespace: ns, name: other, loadBalancer: ['192.0.2.2'], publicIPResourceID: /subscriptions/x/resourceGroups/r/providers/Microsoft.Network/publicIPAddresses/p2}}]
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {{name: web, namespace: ns, annotations: {{{profile_annotations}}}}}
spec: {{resourceGroup: rg}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: b1, namespace: ns, annotations: {{fleetdns.io/priority: '1'}}}}
spec: {{profile: {{name: web}}, backend: {{name: svc}}, weight: 10}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: b2, namespace: ns, annotations: {{fleetdns.io/priority: '{b2_priority}'}}}}
spec: {{profile: {{name: web}}, backend: {{name: other}}, weight: 10}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: b3, namespace: ns, annotations: {{fleetdns.io/priority: '3'}}}}
spec: {{profile: {{name: web}}, backend: {{name: host}}, weight: 10}}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {{name: svc, namespace: ns}}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {{name: other, namespace: ns}}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {{name: host, namespace: ns}}
");
        fleetdns_config::file::load_str(std::path::Path::new("t.yaml"), &yaml)
            .unwrap_or_else(|d| panic!("{d}"))
            .0
    }

    #[test]
    fn routing_method_weighted_writes_what_fleet_networking_writes() {
        let d = &desired(&fleet("x: y", "2"))[0];
        let body = serde_json::to_value(&d.body).unwrap();
        assert_eq!(body["properties"]["trafficRoutingMethod"], "Weighted");
        assert!(body["properties"].get("maxReturn").is_none());
        assert_eq!(d.endpoints.len(), 3);
        for e in &d.endpoints {
            let v = serde_json::to_value(&e.body).unwrap();
            assert!(v["properties"].get("priority").is_none(), "{v}");
        }
        assert!(d.refused.is_none() && d.skipped.is_empty());
    }

    #[test]
    fn routing_method_priority_maps_each_endpoint_priority() {
        let d = &desired(&fleet("fleetdns.io/routing-method: Priority", "2"))[0];
        let body = serde_json::to_value(&d.body).unwrap();
        assert_eq!(body["properties"]["trafficRoutingMethod"], "Priority");
        let prio: Vec<(String, i64)> = d
            .endpoints
            .iter()
            .map(|e| (e.backend.clone(), e.body.properties.priority.unwrap()))
            .collect();
        let mut prio = prio;
        prio.sort();
        assert_eq!(
            prio,
            [
                ("ns/b1".to_string(), 1),
                ("ns/b2".to_string(), 2),
                ("ns/b3".to_string(), 3)
            ]
        );
        assert!(d.refused.is_none());
        // A priority drift is one endpoint PUT.
        let mut obs = serde_json::to_value(&d.body).unwrap();
        obs["properties"]["endpoints"] = d
            .endpoints
            .iter()
            .map(|e| serde_json::to_value(&e.body).unwrap())
            .collect::<Vec<_>>()
            .into();
        assert!(plan(d, Some(&obs), false).unwrap().is_empty());
        obs["properties"]["endpoints"][0]["properties"]["priority"] = 7.into();
        assert_eq!(plan(d, Some(&obs), false).unwrap().calls().count(), 1);
    }

    #[test]
    fn routing_method_priority_shared_by_two_endpoints_is_refused() {
        let d = &desired(&fleet("fleetdns.io/routing-method: Priority", "1"))[0];
        let why = d.refused.as_deref().expect("refused");
        assert!(why.contains("share priority 1"), "{why}");
        assert!(
            why.contains("needs a distinct priority per endpoint"),
            "{why}"
        );
    }

    #[test]
    fn routing_method_multivalue_sets_max_return_and_leaves_out_what_traffic_manager_refuses() {
        let d = &desired(&fleet(
            "fleetdns.io/routing-method: MultiValue, fleetdns.io/max-return: '5'",
            "2",
        ))[0];
        let body = serde_json::to_value(&d.body).unwrap();
        assert_eq!(body["properties"]["trafficRoutingMethod"], "MultiValue");
        assert_eq!(body["properties"]["maxReturn"], 5);
        let names: Vec<&str> = d.endpoints.iter().map(|e| e.backend.as_str()).collect();
        assert_eq!(names, ["ns/b1"], "only the external IPv4 endpoint");
        let mut why: Vec<(String, String)> = d
            .skipped
            .iter()
            .map(|s| (s.backend.clone(), s.reason.clone()))
            .collect();
        why.sort();
        assert_eq!(why.len(), 2);
        assert!(
            why[0].0 == "ns/b2"
                && why[0].1.contains("AzureEndpoints endpoint")
                && why[0].1.contains("fleetdns still answers it"),
            "{why:?}"
        );
        assert!(
            why[1].0 == "ns/b3"
                && why[1]
                    .1
                    .contains("host name lb.example.net is not supported by MultiValue"),
            "{why:?}"
        );
        assert!(d.refused.is_none());
    }
}
