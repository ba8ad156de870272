//! A TrafficManagerBackend's `endpoints[]` and `Accepted`, as fleet-networking's
//! backend controller writes them (trafficmanagerbackend/controller.go:269-620),
//! and fleetdns's `Serving`.
//!
//! Upstream reads the ServiceImport of `spec.backend.name`: it exists while some
//! cluster exports the Service (valid, weight above 0), and lists the clusters
//! whose export is not in conflict. Exports that never reach it (not found,
//! ineligible, weight 0, conflict) do not make `Accepted` False; exports that
//! reach it but cannot be endpoints (not a LoadBalancer, no address yet) do.

use std::sync::Arc;

use fleetdns_config::{Health, ObservedObject, Target};
use serde_json::{json, Value};

use super::index::Index;
use super::{base, bounded, problems_text, serving, Condition, Desired};
use crate::azure::{ConditionStatus, MirrorStatus};

pub(super) fn backend(
    ix: &Index<'_>,
    health: Option<&Health>,
    o: &Arc<ObservedObject>,
    profile_programmed: Option<&'static str>,
    mirror: Option<&MirrorStatus>,
) -> Desired {
    let mut d = base(o);
    let accepted = accepted(ix, o, profile_programmed, mirror, &mut d);
    d.conditions.push(accepted);
    d.own = Some(serving::backend(ix, health, o));
    d
}

fn accepted(
    ix: &Index<'_>,
    o: &ObservedObject,
    profile_programmed: Option<&'static str>,
    mirror: Option<&MirrorStatus>,
    d: &mut Desired,
) -> Condition {
    let profile = o.backend_profile.clone().unwrap_or_default();
    let service = o.backend_service.clone().unwrap_or_default();
    let false_ = |m: String| Condition::new("Accepted", "False", "Invalid", m);
    let pending = |m: String| Condition::new("Accepted", "Unknown", "Pending", m);
    match profile_programmed {
        None => return false_(format!("TrafficManagerProfile {profile:?} is not found")),
        Some("False") => {
            return false_(format!(
                "Invalid trafficManagerProfile {profile:?}, please check the trafficManagerProfile status"
            ))
        }
        Some("True") => {}
        Some(_) => return pending(format!("In the processing of trafficManagerProfile {profile:?}")),
    }
    let exports: Vec<&ObservedObject> = ix
        .exports_of(&o.namespace, &service)
        .iter()
        .copied()
        .filter(|x| x.exported)
        .collect();
    if exports.is_empty() {
        return false_(format!("ServiceImport {service:?} is not found"));
    }
    if o.backend_weight == Some(0) {
        return Condition::new(
            "Accepted",
            "True",
            "Accepted",
            "0 service(s) exported from clusters have been accepted as Traffic Manager endpoints"
                .into(),
        );
    }
    // fleetdns's own validation of the backend (beyond upstream's CRD rules).
    let own: Vec<String> = o
        .problems
        .iter()
        .filter(|p| !p.contains("no member cluster exports"))
        .cloned()
        .collect();
    if !own.is_empty() {
        return false_(format!(
            "Invalid trafficManagerBackend: {}",
            problems_text(&own)
        ));
    }
    let endpoints = endpoints(ix, o, mirror);
    let n = endpoints.len();
    if n > 0 {
        d.fields.insert("endpoints".into(), Value::Array(endpoints));
    }
    // The mirror's endpoint failures stay on this backend (upstream: controller.go
    // 335-351 and 701-728 at 4fcffcf): Invalid for a refused request, Pending while retried.
    let key = format!("{}/{}", o.namespace, o.name);
    if let Some(b) = mirror.and_then(|m| m.backends.get(&key)) {
        if b.accepted.status != ConditionStatus::True {
            return Condition::new(
                "Accepted",
                b.accepted.status.as_str(),
                b.accepted.reason,
                bounded(b.accepted.message.clone()),
            );
        }
    }
    // Clusters in the ServiceImport (exported, no conflict) that cannot be endpoints.
    let invalid: Vec<(&str, &str)> = exports
        .iter()
        .filter(|x| x.export_conflict.is_none())
        .filter_map(|x| Some((x.cluster.as_str(), x.endpoint_problem.as_deref()?)))
        .collect();
    match invalid.first() {
        None => Condition::new(
            "Accepted",
            "True",
            "Accepted",
            format!("{n} service(s) exported from clusters have been accepted as Traffic Manager endpoints"),
        ),
        Some((cluster, why)) => false_(bounded(format!(
            "{} service(s) exported from clusters cannot be exposed as the Azure Traffic Manager, for example, service exported from {cluster} is invalid: {why}",
            invalid.len()
        ))),
    }
}

/// `status.endpoints[]`: name, target, weight and from, as upstream's
/// `buildAcceptedEndpointStatus` (controller.go:622-638); `resourceID` when the
/// Azure mirror holds the endpoint.
fn endpoints(ix: &Index<'_>, o: &ObservedObject, mirror: Option<&MirrorStatus>) -> Vec<Value> {
    ix.endpoints_of(&o.namespace, &o.name)
        .iter()
        .map(|&(p, e)| {
            let name = format!("fleet-{}#{}#{}", o.uid, e.service, e.cluster).to_ascii_lowercase();
            let mut v = json!({
                "name": name,
                "target": target_text(&e.target),
                "weight": e.weight,
                "from": {"cluster": e.cluster, "weight": e.export_weight},
            });
            let arm = mirror.and_then(|m| m.profiles.get(&format!("{}/{}", p.namespace, p.name)));
            if let Some(arm) = arm.filter(|a| a.endpoints.contains_key(&name)) {
                v["resourceID"] = json!(format!("{}/azureEndpoints/{name}", arm.resource_id));
            }
            v
        })
        .collect()
}

fn target_text(t: &Target) -> String {
    match t {
        Target::Host(h) => h.clone(),
        other => other.to_string(),
    }
}
