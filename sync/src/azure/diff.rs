//! (desired, observed) → the ARM writes that make Azure match, and nothing more.
//!
//! Rules (fleet-networking's, plus drift correction):
//! - No profile → PUT it, then PUT every endpoint.
//! - A profile without fleetdns' ownership tag is never written: [`NotOwned`].
//! - A profile whose routing, status, DNS config, monitorConfig, location or tags
//!   differ is PUT again, keeping the endpoints and foreign tags it has.
//! - An endpoint is PUT when it is missing or differs in type, target,
//!   targetResourceId (case-insensitive), weight, endpointStatus or alwaysServe.
//!   An endpoint whose type changed is deleted first.
//! - Endpoints fleetdns owns (name `fleet-<uid>#<service>#<cluster>`) that are not
//!   desired are DELETEd. Every other endpoint is left alone.

use std::collections::BTreeMap;

use serde_json::Value;

use super::desired::{DesiredEndpoint, DesiredProfile};
use super::model::{prop, ArmCall, EndpointType, API_VERSION, PROFILE_TAG};

/// The profile exists in Azure but is not tagged as this fleet profile's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("profile {name} exists in Azure but its tag {PROFILE_TAG} is {found:?}, not {want:?}; fleetdns does not touch profiles it does not own")]
pub struct NotOwned {
    /// ARM name of the profile (`fleet-<uid>`).
    pub name: String,
    /// The profile's [`PROFILE_TAG`] value, if it has the tag.
    pub found: Option<String>,
    /// The value this fleet profile needs: its `<namespace>/<name>`.
    pub want: String,
}

/// Whether fleetdns owns an endpoint, judged by its name alone:
/// `fleet-<uid>#<service>#<cluster>`.
pub fn owns_endpoint(name: &str) -> bool {
    name.len() > 6 && name[..6].eq_ignore_ascii_case("fleet-") && name.matches('#').count() == 2
}

/// The calls that turn `observed` (the profile GET body, `None` for 404) into `desired`.
pub fn plan(desired: &DesiredProfile, observed: Option<&Value>) -> Result<Vec<ArmCall>, NotOwned> {
    let path = desired.at.path();
    let Some(obs) = observed else {
        let mut calls = vec![put(path, &desired.body)];
        calls.extend(desired.endpoints.iter().map(|e| put_endpoint(desired, e)));
        return Ok(calls);
    };
    let tags = obs.get("tags").and_then(Value::as_object);
    let tag = tags
        .and_then(|t| t.get(PROFILE_TAG))
        .and_then(Value::as_str);
    if tag != Some(desired.key.as_str()) {
        return Err(NotOwned {
            name: desired.at.name.clone(),
            found: tag.map(str::to_string),
            want: desired.key.clone(),
        });
    }
    let mut calls = Vec::new();
    let observed_eps: Vec<&Value> = prop(obs, "endpoints")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if !profile_equal(desired, obs) {
        let mut body = desired.body.clone();
        if let Some(t) = tags {
            for (k, v) in t {
                if let Some(v) = v.as_str() {
                    body.tags.entry(k.clone()).or_insert_with(|| v.to_string());
                }
            }
        }
        body.properties.endpoints = Some(observed_eps.iter().map(|e| keep(e)).collect());
        calls.push(put(path, &body));
    }
    let by_name: BTreeMap<String, &Value> = observed_eps
        .iter()
        .filter_map(|e| Some((e.get("name")?.as_str()?.to_ascii_lowercase(), *e)))
        .collect();
    // Deletes first: a stale endpoint may hold a target a new one needs.
    for (name, e) in &by_name {
        let wanted = desired
            .endpoints
            .iter()
            .any(|d| d.name.eq_ignore_ascii_case(name));
        if !wanted && owns_endpoint(name) {
            if let Some(kind) = endpoint_type(e) {
                calls.push(delete(desired, kind, e));
            }
        }
    }
    for d in &desired.endpoints {
        match by_name.get(&d.name.to_ascii_lowercase()) {
            None => calls.push(put_endpoint(desired, d)),
            Some(o) if endpoint_type(o) != Some(d.kind) => {
                if let Some(kind) = endpoint_type(o) {
                    calls.push(delete(desired, kind, o));
                }
                calls.push(put_endpoint(desired, d));
            }
            Some(o) if !endpoint_equal(d, o) => calls.push(put_endpoint(desired, d)),
            Some(_) => {}
        }
    }
    Ok(calls)
}

fn put<T: serde::Serialize>(path: String, body: &T) -> ArmCall {
    ArmCall::put(
        path,
        API_VERSION,
        serde_json::to_value(body).expect("ARM bodies serialize"),
    )
}

fn put_endpoint(p: &DesiredProfile, e: &DesiredEndpoint) -> ArmCall {
    put(p.at.endpoint_path(e.kind, &e.name), &e.body)
}

fn delete(p: &DesiredProfile, kind: EndpointType, e: &Value) -> ArmCall {
    let name = e.get("name").and_then(Value::as_str).unwrap_or_default();
    ArmCall::delete(p.at.endpoint_path(kind, name), API_VERSION)
}

fn endpoint_type(e: &Value) -> Option<EndpointType> {
    EndpointType::from_resource_type(e.get("type")?.as_str()?)
}

/// An observed endpoint as it goes back into a profile PUT: everything it has
/// except the server-computed monitor status.
fn keep(e: &Value) -> Value {
    let mut e = e.clone();
    if let Some(p) = e.get_mut("properties").and_then(Value::as_object_mut) {
        p.remove("endpointMonitorStatus");
    }
    e
}

fn s(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

fn eq_ci(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}

fn profile_equal(d: &DesiredProfile, o: &Value) -> bool {
    let want = serde_json::to_value(&d.body).expect("ARM bodies serialize");
    let w = |path: &[&str]| path.iter().try_fold(&want, |v, k| v.get(k));
    let g = |path: &[&str]| path.iter().try_fold(o, |v, k| v.get(k));
    let same = |path: &[&str]| w(path) == g(path);
    let same_ci = |path: &[&str]| eq_ci(s(w(path)), s(g(path)));
    let list = |path: &[&str]| -> Vec<Value> {
        let mut l = g(path)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        l.sort_by_key(|v| v.to_string());
        l
    };
    let want_list = |path: &[&str]| -> Vec<Value> {
        let mut l = w(path)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        l.sort_by_key(|v| v.to_string());
        l
    };
    let m = |k: &'static str| ["properties", "monitorConfig", k];
    let tags_ok = d.body.tags.iter().all(|(k, v)| {
        o.get("tags").and_then(|t| t.get(k)).and_then(Value::as_str) == Some(v.as_str())
    });
    tags_ok
        && same_ci(&["location"])
        && same(&["properties", "profileStatus"])
        && same(&["properties", "trafficRoutingMethod"])
        && same_ci(&["properties", "dnsConfig", "relativeName"])
        && same(&["properties", "dnsConfig", "ttl"])
        && same(&m("protocol"))
        && same(&m("port"))
        && (w(&m("path")).is_none() || same(&m("path")))
        && same(&m("intervalInSeconds"))
        && same(&m("timeoutInSeconds"))
        && same(&m("toleratedNumberOfFailures"))
        && list(&m("customHeaders")) == want_list(&m("customHeaders"))
        && list(&m("expectedStatusCodeRanges")) == want_list(&m("expectedStatusCodeRanges"))
}

fn endpoint_equal(d: &DesiredEndpoint, o: &Value) -> bool {
    let p = &d.body.properties;
    let always = s(prop(o, "alwaysServe")).unwrap_or("Disabled");
    eq_ci(
        p.target.as_deref(),
        s(prop(o, "target")).filter(|_| p.target.is_some()),
    ) && eq_ci(
        p.target_resource_id.as_deref(),
        s(prop(o, "targetResourceId")),
    ) && prop(o, "weight").and_then(Value::as_i64) == Some(p.weight)
        && s(prop(o, "endpointStatus")) == Some(p.endpoint_status)
        && always == p.always_serve.unwrap_or("Disabled")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::desired::desired;
    use crate::azure::model::Method;

    fn fleet() -> fleetdns_config::Fleet {
        let yaml = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers: [{name: ns1.tm.test, addresses: [127.0.0.1]}]
  azure:
    subscriptionId: 00000000-0000-0000-0000-000000000001
    auth: {method: managedIdentity}
  clusters:
    - name: c1
      services: [{namespace: ns, name: svc, loadBalancer: ['192.0.2.1']}]
    - name: c2
      services: [{namespace: ns, name: svc, loadBalancer: ['192.0.2.2'], publicIPResourceID: /subscriptions/x/resourceGroups/r/providers/Microsoft.Network/publicIPAddresses/p2}]
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {name: web, namespace: ns}
spec: {resourceGroup: rg}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: web-b, namespace: ns}
spec: {profile: {name: web}, backend: {name: svc}, weight: 10}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {name: svc, namespace: ns}
";
        fleetdns_config::file::load_str(std::path::Path::new("t.yaml"), yaml)
            .expect("valid")
            .0
    }

    /// What ARM would hold after applying `calls` to nothing (enough for the diff).
    fn applied(d: &DesiredProfile) -> Value {
        let mut p = serde_json::to_value(&d.body).unwrap();
        let eps: Vec<Value> = d
            .endpoints
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(&e.body).unwrap();
                v["properties"]["endpointMonitorStatus"] = "CheckingEndpoint".into();
                v
            })
            .collect();
        p["properties"]["endpoints"] = eps.into();
        p
    }

    #[test]
    fn creates_profile_then_one_endpoint_per_cluster() {
        let d = &desired(&fleet())[0];
        let calls = plan(d, None).unwrap();
        assert_eq!(calls.len(), 3);
        assert!(calls[0].path.contains("/trafficmanagerprofiles/fleet-"));
        assert!(calls[1].path.contains("/ExternalEndpoints/fleet-"));
        assert!(
            calls[2].path.contains("/AzureEndpoints/fleet-"),
            "{}",
            calls[2].path
        );
        assert_eq!(
            calls[0].body.as_ref().unwrap()["properties"]["dnsConfig"]["relativeName"],
            "ns-web"
        );
    }

    #[test]
    fn converged_state_needs_no_calls_and_weight_drift_one_put() {
        let d = &desired(&fleet())[0];
        let mut obs = applied(d);
        assert_eq!(plan(d, Some(&obs)).unwrap(), vec![]);
        obs["properties"]["endpoints"][0]["properties"]["weight"] = 999.into();
        let calls = plan(d, Some(&obs)).unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].method, Method::Put);
    }

    #[test]
    fn foreign_endpoints_are_kept_and_stale_owned_ones_deleted() {
        let d = &desired(&fleet())[0];
        let mut obs = applied(d);
        let eps = obs["properties"]["endpoints"].as_array_mut().unwrap();
        eps.push(serde_json::json!({"name": "manual", "type": "Microsoft.Network/trafficManagerProfiles/externalEndpoints", "properties": {"target": "203.0.113.9", "weight": 1, "endpointStatus": "Enabled"}}));
        eps.push(serde_json::json!({"name": "fleet-abc#svc#gone", "type": "Microsoft.Network/trafficManagerProfiles/externalEndpoints", "properties": {"target": "203.0.113.8", "weight": 1, "endpointStatus": "Enabled"}}));
        let calls = plan(d, Some(&obs)).unwrap();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0].method, Method::Delete);
        assert!(calls[0]
            .path
            .ends_with("/ExternalEndpoints/fleet-abc%23svc%23gone"));
    }

    #[test]
    fn unowned_profile_is_not_touched() {
        let d = &desired(&fleet())[0];
        let mut obs = applied(d);
        obs["tags"] = serde_json::json!({});
        assert!(plan(d, Some(&obs)).is_err());
    }

    #[test]
    fn profile_drift_puts_profile_keeping_endpoints_and_foreign_tags() {
        let d = &desired(&fleet())[0];
        let mut obs = applied(d);
        obs["properties"]["monitorConfig"]["path"] = "/hand-edited".into();
        obs["tags"]["owner"] = "team-a".into();
        let calls = plan(d, Some(&obs)).unwrap();
        assert_eq!(calls.len(), 1);
        let b = calls[0].body.as_ref().unwrap();
        assert_eq!(b["properties"]["monitorConfig"]["path"], "/");
        assert_eq!(b["tags"]["owner"], "team-a");
        assert_eq!(b["properties"]["endpoints"].as_array().unwrap().len(), 2);
        assert!(b["properties"]["endpoints"][0]["properties"]
            .get("endpointMonitorStatus")
            .is_none());
    }
}
