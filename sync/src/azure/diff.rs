//! (desired, observed) → the ARM writes that make Azure match, and nothing more.
//!
//! Rules (fleet-networking's, plus drift correction):
//! - No profile → PUT it, then PUT every endpoint.
//! - A profile is fleetdns's when tagged `fleetdns.io.managedBy: fleetdns` and with
//!   fleet-networking's tag equal to its `namespace/name`. One with only the
//!   fleet-networking tag belongs to another manager (fleet-networking itself) and
//!   is never written unless `adopt` is set; anything else is never written: [`NotOwned`].
//! - Only what fleetdns sets is compared (fleet-networking compares a subset too,
//!   TMPc:248-337), so defaults Traffic Manager echoes back never cause a write:
//!   routing, status, relative name, TTL, location, the desired tags (a subset),
//!   monitor protocol/port/interval/timeout/tolerated, the path when fleetdns sets
//!   one, customHeaders (absent = empty, names case-insensitive) and
//!   expectedStatusCodeRanges (absent, empty and the default `200-200` are one).
//!   A profile that differs is PUT again, keeping its endpoints and foreign tags
//!   (but not the endpoints fleetdns owns and no longer wants, and with the
//!   desired priorities of a Priority profile, which also trigger that PUT when
//!   they alone differ); the endpoint calls then start from what that PUT keeps.
//! - An endpoint is PUT when it is missing or differs in type, target,
//!   targetResourceId (case-insensitive), weight, endpointStatus, alwaysServe or
//!   (Priority profiles) priority.
//!   An endpoint whose type changed is deleted first.
//! - Endpoints fleetdns owns (name `fleet-<uid>#<service>#<cluster>`) that are not
//!   desired are DELETEd. Every other endpoint is left alone.

use std::collections::BTreeMap;

use serde_json::Value;

use super::desired::{DesiredEndpoint, DesiredProfile};
use super::model::{
    prop, ArmCall, EndpointType, API_VERSION, MANAGED_BY, MANAGED_BY_TAG, PROFILE_TAG,
};
use super::routing::{priorities_differ, routing_kept};

/// The profile exists in Azure but is not tagged as this fleet profile's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("profile {name} exists in Azure but is not fleetdns's (tag {PROFILE_TAG} is {found:?}, want {want:?}, and tag {MANAGED_BY_TAG} must be {MANAGED_BY:?} unless adopt is set); fleetdns does not touch profiles it does not own")]
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

/// The writes one profile needs: the profile's own PUT first, then endpoint calls,
/// each with the backend (`namespace/name`) whose endpoint it writes, so a failure
/// lands on that backend alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The profile's own PUT, when it differs.
    pub profile: Option<ArmCall>,
    /// (backend key, or "" for an owned endpoint whose backend is unknown; call).
    pub endpoints: Vec<(String, ArmCall)>,
}

impl Plan {
    /// All calls in order.
    pub fn calls(&self) -> impl Iterator<Item = &ArmCall> {
        self.profile
            .iter()
            .chain(self.endpoints.iter().map(|(_, c)| c))
    }

    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.profile.is_none() && self.endpoints.is_empty()
    }
}

/// Whether fleetdns may write an observed profile that should hold `key`.
pub fn owned(obs: &Value, key: &str, adopt: bool) -> bool {
    let tag = |k: &str| {
        obs.get("tags")
            .and_then(|t| t.get(k))
            .and_then(Value::as_str)
    };
    tag(PROFILE_TAG) == Some(key) && (adopt || tag(MANAGED_BY_TAG) == Some(MANAGED_BY))
}

/// The calls that turn `observed` (the profile GET body, `None` for 404) into `desired`.
pub fn plan(
    desired: &DesiredProfile,
    observed: Option<&Value>,
    adopt: bool,
) -> Result<Plan, NotOwned> {
    let path = desired.at.path();
    let Some(obs) = observed else {
        return Ok(Plan {
            profile: Some(put(path, &desired.body)),
            endpoints: desired
                .endpoints
                .iter()
                .map(|e| (e.backend.clone(), put_endpoint(desired, e)))
                .collect(),
        });
    };
    let tags = obs.get("tags").and_then(Value::as_object);
    let tag = tags
        .and_then(|t| t.get(PROFILE_TAG))
        .and_then(Value::as_str);
    if !owned(obs, &desired.key, adopt) {
        return Err(NotOwned {
            name: desired.at.name.clone(),
            found: tag.map(str::to_string),
            want: desired.key.clone(),
        });
    }
    let mut calls = Plan::default();
    let mut observed_eps: Vec<&Value> = prop(obs, "endpoints")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let kept: Vec<Value>;
    if !profile_equal(desired, obs) || priorities_differ(desired, &observed_eps) {
        let mut body = desired.body.clone();
        if let Some(t) = tags {
            for (k, v) in t {
                if let Some(v) = v.as_str() {
                    body.tags.entry(k.clone()).or_insert_with(|| v.to_string());
                }
            }
        }
        kept = routing_kept(desired, &observed_eps);
        body.properties.endpoints = Some(kept.clone());
        calls.profile = Some(put(path, &body));
        // What the PUT leaves is what the endpoint calls start from.
        observed_eps = kept.iter().collect();
    }
    let backend_of = |name: &str| {
        let uid = name.get(6..)?.split('#').next()?.to_ascii_lowercase();
        desired.backends.get(&uid).cloned()
    };
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
                let backend = backend_of(name).unwrap_or_default();
                calls.endpoints.push((backend, delete(desired, kind, e)));
            }
        }
    }
    for d in &desired.endpoints {
        let b = || d.backend.clone();
        match by_name.get(&d.name.to_ascii_lowercase()) {
            None => calls.endpoints.push((b(), put_endpoint(desired, d))),
            Some(o) if endpoint_type(o) != Some(d.kind) => {
                if let Some(kind) = endpoint_type(o) {
                    calls.endpoints.push((b(), delete(desired, kind, o)));
                }
                calls.endpoints.push((b(), put_endpoint(desired, d)));
            }
            Some(o) if !endpoint_equal(d, o) => {
                calls.endpoints.push((b(), put_endpoint(desired, d)))
            }
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
pub(super) fn keep(e: &Value) -> Value {
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
    let m = |k: &'static str| ["properties", "monitorConfig", k];
    let tags_ok = d.body.tags.iter().all(|(k, v)| {
        o.get("tags").and_then(|t| t.get(k)).and_then(Value::as_str) == Some(v.as_str())
    });
    tags_ok
        && same_ci(&["location"])
        && same(&["properties", "profileStatus"])
        && same(&["properties", "trafficRoutingMethod"])
        && (w(&["properties", "maxReturn"]).is_none() || same(&["properties", "maxReturn"]))
        && same_ci(&["properties", "dnsConfig", "relativeName"])
        && same(&["properties", "dnsConfig", "ttl"])
        && same(&m("protocol"))
        && same(&m("port"))
        && (w(&m("path")).is_none() || same(&m("path")))
        && same(&m("intervalInSeconds"))
        && same(&m("timeoutInSeconds"))
        && same(&m("toleratedNumberOfFailures"))
        && headers(w(&m("customHeaders"))) == headers(g(&m("customHeaders")))
        && ranges(w(&m("expectedStatusCodeRanges"))) == ranges(g(&m("expectedStatusCodeRanges")))
}

/// Custom headers as a comparable set: absent = empty, names case-insensitive.
fn headers(v: Option<&Value>) -> Vec<(String, String)> {
    let mut l: Vec<(String, String)> = v
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|h| {
            (
                s(h.get("name")).unwrap_or_default().to_ascii_lowercase(),
                s(h.get("value")).unwrap_or_default().to_string(),
            )
        })
        .collect();
    l.sort();
    l
}

/// Expected status ranges as a comparable set: absent, empty and `200-200` (what
/// Traffic Manager does without any) are the same.
fn ranges(v: Option<&Value>) -> Vec<(i64, i64)> {
    let mut l: Vec<(i64, i64)> = v
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r.get("min").and_then(Value::as_i64).unwrap_or_default(),
                r.get("max").and_then(Value::as_i64).unwrap_or_default(),
            )
        })
        .collect();
    l.sort();
    l.dedup();
    if l == [(200, 200)] {
        l.clear();
    }
    l
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
        && (p.priority.is_none() || prop(o, "priority").and_then(Value::as_i64) == p.priority)
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
        let calls: Vec<ArmCall> = plan(d, None, false).unwrap().calls().cloned().collect();
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
        assert!(plan(d, Some(&obs), false).unwrap().is_empty());
        obs["properties"]["endpoints"][0]["properties"]["weight"] = 999.into();
        let calls: Vec<ArmCall> = plan(d, Some(&obs), false)
            .unwrap()
            .calls()
            .cloned()
            .collect();
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
        let calls: Vec<ArmCall> = plan(d, Some(&obs), false)
            .unwrap()
            .calls()
            .cloned()
            .collect();
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
        assert!(plan(d, Some(&obs), false).is_err());
    }

    #[test]
    fn profiles_of_another_manager_are_written_only_when_adopting() {
        let d = &desired(&fleet())[0];
        let mut obs = applied(d);
        obs["tags"].as_object_mut().unwrap().remove(MANAGED_BY_TAG);
        assert!(
            plan(d, Some(&obs), false).is_err(),
            "fleet-networking's profile is not ours"
        );
        assert!(plan(d, Some(&obs), true).is_ok(), "unless adopting");
    }

    #[test]
    fn echoed_defaults_cause_no_write() {
        let d = &desired(&fleet())[0];
        let mut obs = applied(d);
        let m = &mut obs["properties"]["monitorConfig"];
        m["expectedStatusCodeRanges"] = serde_json::json!([{"min": 200, "max": 200}]);
        m["customHeaders"] = serde_json::json!([]);
        m["profileMonitorStatus"] = "CheckingEndpoints".into();
        obs["properties"]["trafficViewEnrollmentStatus"] = "Disabled".into();
        obs["properties"]["maxReturn"] = 0.into();
        for e in obs["properties"]["endpoints"].as_array_mut().unwrap() {
            e["properties"]["priority"] = 1.into();
            e["properties"]["alwaysServe"] = "Disabled".into();
            e["properties"]["customHeaders"] = serde_json::json!([]);
        }
        assert!(plan(d, Some(&obs), false).unwrap().is_empty());
        obs["properties"]["monitorConfig"]["expectedStatusCodeRanges"] =
            serde_json::json!([{"min": 500, "max": 599}]);
        assert!(
            plan(d, Some(&obs), false).unwrap().profile.is_some(),
            "a real difference is still written"
        );
    }

    #[test]
    fn profile_drift_puts_profile_keeping_endpoints_and_foreign_tags() {
        let d = &desired(&fleet())[0];
        let mut obs = applied(d);
        obs["properties"]["monitorConfig"]["path"] = "/hand-edited".into();
        obs["tags"]["owner"] = "team-a".into();
        let calls: Vec<ArmCall> = plan(d, Some(&obs), false)
            .unwrap()
            .calls()
            .cloned()
            .collect();
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
