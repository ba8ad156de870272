//! What is kept of each watched object, cut down once as it arrives.
//!
//! At 100k profiles the watchers' objects were most of fleetdns's memory in Kubernetes
//! mode (docs/BENCHMARKS.md, "Kubernetes mode at 100k"): `metadata.managedFields` holds
//! a field set per manager, as large as the rest of an object, and a Service carries
//! defaults nobody here reads. Of `managedFields` only who owns which status condition
//! is read ([`super::observed::condition_managers`]), so each entry keeps its `manager`
//! and the keys of `f:status.f:conditions`, and entries owning no condition go. Of a
//! Service only what composition reads stays (its `metadata`, `spec.type`,
//! `spec.clusterIP`, `spec.ports`, `status.loadBalancer`). Every other kind keeps all
//! its fields: they are parsed and schema-checked as the file source checks them.

use serde_json::{Map, Value};

use super::compose::Resource;

/// Cuts `object` (of `resource`) down to what is read of it.
pub fn slim(resource: Resource, object: &mut Value) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        slim_managed_fields(meta);
    }
    if resource == Resource::Services {
        keep(map.get_mut("spec"), &["type", "clusterIP", "ports"]);
        keep(map.get_mut("status"), &["loadBalancer"]);
    }
}

/// Keeps only `fields` of the object `v` (if it is one).
fn keep(v: Option<&mut Value>, fields: &[&str]) {
    if let Some(m) = v.and_then(Value::as_object_mut) {
        m.retain(|k, _| fields.contains(&k.as_str()));
    }
}

/// `managedFields` reduced to each entry's `manager` and the condition keys it owns.
fn slim_managed_fields(meta: &mut Map<String, Value>) {
    let Some(entries) = meta.get_mut("managedFields").and_then(Value::as_array_mut) else {
        return;
    };
    let slimmed: Vec<Value> = entries
        .iter_mut()
        .filter_map(|e| {
            let manager = e.get("manager").filter(|m| m.is_string())?.clone();
            let conditions = e
                .pointer_mut("/fieldsV1/f:status/f:conditions")
                .and_then(Value::as_object_mut)?;
            let owned: Map<String, Value> = std::mem::take(conditions)
                .into_iter()
                .map(|(k, _)| (k, Value::Object(Map::new())))
                .collect();
            let mut out = Map::new();
            out.insert("manager".into(), manager);
            let mut status = Map::new();
            status.insert("f:conditions".into(), Value::Object(owned));
            let mut fields = Map::new();
            fields.insert("f:status".into(), Value::Object(status));
            out.insert("fieldsV1".into(), Value::Object(fields));
            Some(Value::Object(out))
        })
        .collect();
    if slimmed.is_empty() {
        meta.remove("managedFields");
    } else {
        *entries = slimmed;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kubernetes::observed::condition_managers;

    #[test]
    fn condition_owners_survive_and_the_rest_of_managed_fields_goes() {
        let mut o = json!({"metadata": {"name": "p", "managedFields": [
            {"manager": "kubectl", "operation": "Update", "time": "2026-01-01T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:resourceGroup": {}}}},
            {"manager": "fleetdns", "operation": "Apply", "subresource": "status",
             "fieldsV1": {"f:status": {"f:dnsName": {}, "f:conditions": {
                 "k:{\"type\":\"Programmed\"}": {".": {}, "f:status": {}, "f:reason": {}}}}}},
            {"manager": "other", "operation": "Update",
             "fieldsV1": {"f:status": {"f:conditions": {
                 "k:{\"type\":\"Accepted\"}": {"f:status": {}},
                 "k:{\"type\":\"Programmed\"}": {"f:message": {}}}}}}
        ]}, "spec": {"resourceGroup": "rg"}});
        let before = condition_managers(&o);
        slim(Resource::Profiles, &mut o);
        assert_eq!(condition_managers(&o), before);
        assert_eq!(before["Programmed"], vec!["fleetdns", "other"]);
        let entries = o["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "the entry owning no condition is gone");
        assert_eq!(
            entries[0],
            json!({"manager": "fleetdns", "fieldsV1": {"f:status": {"f:conditions": {
                "k:{\"type\":\"Programmed\"}": {}}}}})
        );
        assert_eq!(
            o["spec"],
            json!({"resourceGroup": "rg"}),
            "other kinds keep their spec"
        );
        // The slimmed metadata is still a valid ObjectMeta.
        serde_json::from_value::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>(
            o["metadata"].clone(),
        )
        .unwrap();
    }

    #[test]
    fn a_service_keeps_what_composition_reads() {
        let mut s = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "s", "namespace": "n", "annotations": {"a": "b"},
                         "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
                     "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30000}],
                     "sessionAffinity": "None", "ipFamilies": ["IPv4"]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}, "conditions": []}
        });
        slim(Resource::Services, &mut s);
        assert_eq!(
            s,
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "s", "namespace": "n", "annotations": {"a": "b"}},
                "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1",
                         "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30000}]},
                "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
            })
        );
    }
}
