//! What the status writer needs to know about each upstream object, read from the
//! objects the watchers hold: fleet-networking's verdicts on ServiceExports (with
//! its wording), port conflicts, the status as last seen and who owns which
//! condition (`metadata.managedFields`).
//!
//! Carrying the observed status in the `Fleet` is what lets the writer apply
//! without reading first, keep `lastTransitionTime`, emit Events on transitions
//! and, in `auto` mode, see whether another controller owns a condition.

use std::collections::BTreeMap;

use serde_json::Value;

use fleetdns_config::{crd, weight, ObjectKind, ObservedObject};

use super::compose::{Resource, Snapshot, Topology};

/// (cluster, namespace, name) of a ServiceExport.
pub(super) type ExportKey = (String, String, String);

/// An observed object with identity, observed status and condition owners.
pub(super) fn observed(kind: ObjectKind, cluster: &str, o: &Value) -> ObservedObject {
    let mut x = ObservedObject::new(
        kind,
        cluster,
        &meta_str(o, "namespace"),
        &meta_str(o, "name"),
    );
    x.uid = meta_str(o, "uid");
    x.generation = o
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    x.created = meta_str(o, "creationTimestamp");
    x.resource_version = meta_str(o, "resourceVersion");
    if let Some(status) = o.get("status").and_then(Value::as_object) {
        for (k, v) in status {
            if k == "conditions" {
                x.conditions = v.as_array().cloned().unwrap_or_default();
            } else {
                x.status_fields.insert(k.clone(), v.clone());
            }
        }
    }
    x.condition_managers = condition_managers(o);
    x.deletion_timestamp = o
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .map(str::to_string);
    x.finalizers = o
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    x.resource_group = o
        .pointer("/spec/resourceGroup")
        .and_then(Value::as_str)
        .map(str::to_string);
    x
}

/// Per condition type, the managers whose `managedFields` entry owns it.
pub fn condition_managers(o: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in o
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(manager) = e.get("manager").and_then(Value::as_str) else {
            continue;
        };
        let Some(items) = e
            .pointer("/fieldsV1/f:status/f:conditions")
            .and_then(Value::as_object)
        else {
            continue;
        };
        for key in items.keys() {
            let Some(json) = key.strip_prefix("k:") else {
                continue;
            };
            let Some(ty) = serde_json::from_str::<Value>(json)
                .ok()
                .and_then(|k| k.get("type").and_then(Value::as_str).map(str::to_string))
            else {
                continue;
            };
            let list = out.entry(ty).or_default();
            if !list.iter().any(|m| m == manager) {
                list.push(manager.to_string());
            }
        }
    }
    out
}

/// fleet-networking's `Valid` condition of a ServiceExport: reason and message
/// (pkg/controllers/member/serviceexport/controller.go:176-240, 478-533).
pub(super) fn export_validity(export: &Value, service: Option<&Value>) -> (String, String) {
    let ns = meta_str(export, "namespace");
    let name = meta_str(export, "name");
    let annotation = weight_annotation(export);
    let Some(svc) = service else {
        return (
            "ServiceNotFound".into(),
            format!("service {ns}/{name} is not found"),
        );
    };
    let ty = svc
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let headless = svc.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None");
    if ty == "ExternalName" || headless {
        return (
            "ServiceIneligible".into(),
            format!("service {ns}/{name} is not eligible for export"),
        );
    }
    if let Err(e) = upstream_weight(annotation) {
        return (
            "ServiceExportInvalidWeightAnnotation".into(),
            format!("serviceExport {ns}/{name} has an invalid weight annotation, err = {e}"),
        );
    }
    if weight::parse_export_weight(annotation) == Ok(0) {
        return (
            "ServiceIsValid".into(),
            format!("exported service {ns}/{name} with 0 weight"),
        );
    }
    (
        "ServiceIsValid".into(),
        format!("service {ns}/{name} is valid for export"),
    )
}

/// The weight annotation's raw value.
pub(super) fn weight_annotation(export: &Value) -> Option<&str> {
    export
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(crd::WEIGHT_ANNOTATION))
        .and_then(Value::as_str)
}

/// fleet-networking's `ExtractWeightFromServiceExport` with its error texts
/// (pkg/common/objectmeta/objectmeta.go:84-105).
fn upstream_weight(annotation: Option<&str>) -> Result<u32, String> {
    let Some(raw) = annotation else {
        return Ok(1);
    };
    match raw.parse::<i64>() {
        Err(_) => Err(format!(
            "the weight annotation is not a valid integer: {raw}"
        )),
        Ok(w) if !(0..=1000).contains(&w) => Err(format!(
            "the weight annotation is not in the range [0, 1000]: {raw}"
        )),
        Ok(w) => Ok(w as u32),
    }
}

/// Why an exported Service still cannot be an endpoint: fleet-networking's
/// `isValidTrafficManagerEndpoint` (trafficmanagerbackend/controller.go:588-601),
/// where a load-balancer address stands in for the public IP.
pub(super) fn endpoint_problem(svc: &Value) -> Option<String> {
    let ty = svc
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if ty != "LoadBalancer" {
        return Some(format!("unsupported service type {ty:?}"));
    }
    if load_balancer_ingress(svc).is_empty() {
        return Some("in the processing of configuring public IP".into());
    }
    None
}

/// `status.loadBalancer.ingress[]` as addresses and host names.
pub(super) fn load_balancer_ingress(svc: &Value) -> Vec<String> {
    svc.pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| {
            i.get("ip")
                .and_then(Value::as_str)
                .or_else(|| i.get("hostname").and_then(Value::as_str))
                .map(str::to_string)
        })
        .collect()
}

/// Exports of one Service whose ports differ from those of the earliest export
/// (fleet-networking keeps the first and marks the others `Conflict=True`).
pub(super) fn port_conflicts(
    topology: &Topology,
    snapshot: &Snapshot,
) -> BTreeMap<ExportKey, String> {
    // (ns, name) → [(created, cluster, ports)]
    type Exporters = Vec<(String, String, Value)>;
    let mut by_service: BTreeMap<(String, String), Exporters> = BTreeMap::new();
    for member in &topology.members {
        for export in snapshot.objects(member, Resource::Exports) {
            let key = (meta_str(export, "namespace"), meta_str(export, "name"));
            let Some(svc) = snapshot
                .collections
                .get(&(member.clone(), Resource::Services))
                .and_then(|m| m.get(&key))
            else {
                continue;
            };
            let ports = svc.pointer("/spec/ports").cloned().unwrap_or(Value::Null);
            let ports = normalize_ports(&ports);
            by_service.entry(key).or_default().push((
                meta_str(export, "creationTimestamp"),
                member.clone(),
                ports,
            ));
        }
    }
    let mut out = BTreeMap::new();
    for ((ns, name), mut list) in by_service {
        list.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let Some((_, first_cluster, first_ports)) = list.first().cloned() else {
            continue;
        };
        for (_, cluster, ports) in list.into_iter().skip(1) {
            if ports != first_ports {
                out.insert(
                    (cluster.clone(), ns.clone(), name.clone()),
                    format!("service {ns}/{name} in cluster {cluster} has ports that differ from the export in cluster {first_cluster}, which was exported first"),
                );
            }
        }
    }
    out
}

/// Ports as compared for conflicts: name, protocol (default TCP), port.
fn normalize_ports(ports: &Value) -> Value {
    let mut list: Vec<Value> = ports
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            serde_json::json!({
                "name": p.get("name").cloned().unwrap_or(Value::String(String::new())),
                "protocol": p.get("protocol").cloned().unwrap_or(Value::String("TCP".into())),
                "port": p.get("port").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    list.sort_by_key(|v| v.to_string());
    Value::Array(list)
}

pub(super) fn meta_str(o: &Value, field: &str) -> String {
    o.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}
