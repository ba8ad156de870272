//! Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` answers a
//! `meta.k8s.io` `Table`, which is what `kubectl get` prints.
//!
//! For CRDs the columns are `Name` plus the version's `additionalPrinterColumns`, cells
//! computed as the apiextensions-apiserver's table convertor does (`tableconvertor.go`):
//! string columns print the JSONPath result, `date` columns print the age as
//! `HumanDuration`, a missing value is `null`. Namespace and Service get their built-in printers' columns; other built-in
//! types the default convertor's `Name` and `Created At`. Rows carry the object as
//! `includeObject` asks (default `Metadata`: a `PartialObjectMetadata`).

use serde_json::{json, Value};

use crate::registry::{PrinterColumn, ResourceType};
use crate::store::{metadata_only, present};

/// The Table version an `Accept` header asks for (`v1` or `v1beta1`), if it asks for one.
pub fn requested(accept: &str) -> Option<&'static str> {
    accept.split(',').find_map(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        let has = |p: &str| params.contains(&p);
        if !has("as=Table") || !has("g=meta.k8s.io") {
            return None;
        }
        if has("v=v1") {
            Some("v1")
        } else if has("v=v1beta1") {
            Some("v1beta1")
        } else {
            None
        }
    })
}

/// A Table of `objects` of type `rt` as served in `version`.
pub fn table(
    rt: &ResourceType,
    version: &str,
    table_version: &str,
    objects: &[&Value],
    include_object: Option<&str>,
    list_meta: Value,
) -> Value {
    let columns = columns(rt, version);
    let now = jiff::Timestamp::now();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = columns.iter().map(|c| cell(c, o, now)).collect();
            let mut row = json!({ "cells": cells });
            match include_object.unwrap_or("Metadata") {
                "None" => {}
                "Object" => row["object"] = present(o, rt, version),
                _ => row["object"] = metadata_only(o),
            }
            row
        })
        .collect();
    let defs: Vec<Value> = columns
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description,
                   "priority": c.priority})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{table_version}"),
        "metadata": list_meta,
        "columnDefinitions": defs,
        "rows": rows,
    })
}

fn col(name: &str, type_: &str, json_path: &str, priority: i32) -> PrinterColumn {
    PrinterColumn {
        name: name.into(),
        type_: type_.into(),
        format: String::new(),
        description: String::new(),
        priority,
        json_path: json_path.into(),
    }
}

fn columns(rt: &ResourceType, version: &str) -> Vec<PrinterColumn> {
    let mut name = col("Name", "string", ".metadata.name", 0);
    name.format = "name".into();
    name.description = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names".into();
    let mut out = vec![name];
    let age = col("Age", "string", ".metadata.creationTimestamp", 0);
    if rt.custom {
        let declared = rt
            .versions
            .iter()
            .find(|v| v.name == version)
            .map(|v| v.printer_columns.clone())
            .unwrap_or_default();
        if declared.is_empty() {
            // The CRD default when none are declared.
            out.push(col("Age", "date", ".metadata.creationTimestamp", 0));
        } else {
            out.extend(declared);
        }
        return out;
    }
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => {
            out.push(col("Status", "string", ".status.phase", 0));
            out.push(age);
        }
        ("", "Service") => {
            out.push(col("Type", "string", ".spec.type", 0));
            out.push(col("Cluster-IP", "string", ".spec.clusterIP", 0));
            out.push(col("External-IP", "string", "#external-ip", 0));
            out.push(col("Port(s)", "string", "#ports", 0));
            out.push(age);
            out.push(col("Selector", "string", "#selector", 1));
        }
        _ => out.push(col("Created At", "date", "#created-at", 0)),
    }
    out
}

fn cell(c: &PrinterColumn, obj: &Value, now: jiff::Timestamp) -> Value {
    match c.json_path.as_str() {
        ".metadata.creationTimestamp" if c.name == "Age" || c.type_ == "date" => {
            match obj
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            {
                Some(t) => json!(human_duration((now - t).get_seconds())),
                None => json!("<unknown>"),
            }
        }
        "#created-at" => obj
            .pointer("/metadata/creationTimestamp")
            .cloned()
            .unwrap_or(Value::Null),
        "#external-ip" => json!(service_external_ip(obj)),
        "#ports" => json!(service_ports(obj)),
        "#selector" => json!(
            match obj.pointer("/spec/selector").and_then(Value::as_object) {
                Some(m) if !m.is_empty() => m
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(","),
                _ => "<none>".to_string(),
            }
        ),
        path => match jsonpath(obj, path) {
            None | Some(Value::Null) => Value::Null,
            Some(v) if c.type_ == "string" => match v {
                Value::String(s) => json!(s),
                other => json!(other.to_string()),
            },
            Some(v @ (Value::Number(_) | Value::Bool(_))) => v.clone(),
            Some(Value::String(s)) if c.type_ == "date" => match s.parse::<jiff::Timestamp>() {
                Ok(t) => json!(human_duration((now - t).get_seconds())),
                Err(_) => json!("<invalid>"),
            },
            Some(_) => Value::Null,
        },
    }
}

/// The JSONPath forms CRD printer columns use: `.a.b.c` and `.a.b[?(@.k=='v')].c`.
fn jsonpath<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    let mut rest = path.strip_prefix('.')?;
    while !rest.is_empty() {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let (key, tail) = rest.split_at(end);
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        rest = tail;
        if let Some(filter) = rest.strip_prefix("[?(@.") {
            let close = filter.find(")]")?;
            let (cond, after) = (&filter[..close], &filter[close + 2..]);
            let (field, value) = cond.split_once("==")?;
            let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
            cur = cur
                .as_array()?
                .iter()
                .find(|e| e.get(field.trim()).and_then(Value::as_str) == Some(value))?;
            rest = after;
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    Some(cur)
}

fn service_external_ip(obj: &Value) -> String {
    let ty = obj
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let ingress: Vec<String> = obj
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| i.get("ip").or_else(|| i.get("hostname")))
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    match ty {
        "LoadBalancer" if ingress.is_empty() => "<pending>".into(),
        "LoadBalancer" => ingress.join(","),
        "ExternalName" => obj
            .pointer("/spec/externalName")
            .and_then(Value::as_str)
            .unwrap_or("<none>")
            .into(),
        _ => "<none>".into(),
    }
}

fn service_ports(obj: &Value) -> String {
    let ports = obj
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if ports.is_empty() {
        return "<none>".into();
    }
    ports
        .iter()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(n) => format!("{port}:{n}/{proto}"),
                None => format!("{port}/{proto}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// apimachinery's `duration.HumanDuration` (what the AGE column shows).
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let d = (hours / 24) % 365;
        return if d == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{d}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(requested(kubectl), Some("v1"));
        assert_eq!(requested("application/json"), None);
        assert_eq!(
            requested("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"),
            None
        );
    }

    #[test]
    fn jsonpath_filters() {
        let o = json!({"status": {"dnsName": "x.example", "conditions": [
            {"type": "Accepted", "status": "False"}, {"type": "Programmed", "status": "True"}]}});
        assert_eq!(jsonpath(&o, ".status.dnsName"), Some(&json!("x.example")));
        assert_eq!(
            jsonpath(&o, ".status.conditions[?(@.type=='Programmed')].status"),
            Some(&json!("True"))
        );
        assert_eq!(
            jsonpath(&o, ".status.conditions[?(@.type=='Nope')].status"),
            None
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3600 * 5 + 60), "5h1m");
        assert_eq!(human_duration(86400 * 3), "3d");
    }
}
