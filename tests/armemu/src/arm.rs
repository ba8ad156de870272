//! ARM semantics of the Traffic Manager operations: what is stored, what is
//! echoed, what is refused.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::routing;
use crate::swagger;
use crate::{World, ATM_DOMAIN};

fn p<'a>(m: &'a swagger::Matched, k: &str) -> &'a str {
    m.params.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// ARM semantics for the matched operation.
pub(crate) fn arm(
    w: &mut World,
    m: &swagger::Matched,
    body: Value,
    base: &str,
    page: usize,
) -> (u16, Value) {
    let pips = w.pips.all().clone();
    let echo = w.echo_defaults;
    let key = (
        p(m, "subscriptionId").to_ascii_lowercase(),
        p(m, "resourceGroupName").to_ascii_lowercase(),
        p(m, "profileName").to_ascii_lowercase(),
    );
    let id = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/trafficManagerProfiles/{}",
        p(m, "subscriptionId"),
        p(m, "resourceGroupName"),
        p(m, "profileName")
    );
    let not_found = || {
        (
            404,
            json!({"error": {"code": "NotFound", "message": "The resource was not found."}}),
        )
    };
    match m.operation_id.as_str() {
        "Profiles_ListByResourceGroup" => {
            let all: Vec<Value> = w
                .profiles
                .iter()
                .filter(|((s, g, _), _)| *s == key.0 && *g == key.1)
                .map(|(_, v)| v.clone())
                .collect();
            let size = w.page_size;
            let value: Vec<Value> = all.iter().skip(page * size).take(size).cloned().collect();
            let mut out = json!({ "value": value });
            if (page + 1) * size < all.len() {
                out["nextLink"] = format!(
                    "{base}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/trafficmanagerprofiles?api-version=2022-04-01&$skiptoken={}",
                    p(m, "subscriptionId"),
                    p(m, "resourceGroupName"),
                    page + 1
                )
                .into();
            }
            (200, out)
        }
        "Profiles_Get" => w
            .profiles
            .get(&key)
            .map_or_else(not_found, |v| (200, v.clone())),
        "Profiles_Delete" => match w.profiles.remove(&key) {
            Some(_) => (200, json!({})),
            None => (204, Value::Null),
        },
        "Profiles_CreateOrUpdate" => {
            let relative = body["properties"]["dnsConfig"]["relativeName"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let clash = w.taken.contains(&relative)
                || w.profiles.iter().any(|(k, v)| {
                    *k != key
                        && v["properties"]["dnsConfig"]["relativeName"]
                            .as_str()
                            .is_some_and(|r| r.eq_ignore_ascii_case(&relative))
                });
            if relative.is_empty() {
                return (
                    400,
                    json!({"error": {"code": "BadRequest", "message": "dnsConfig.relativeName is required."}}),
                );
            }
            if clash {
                return (
                    409,
                    json!({"error": {"code": "Conflict", "message": format!("Domain name {relative}.{ATM_DOMAIN} is not available. Please choose a different DNS prefix")}}),
                );
            }
            if let Err(msg) =
                profile_ranges(&body).and_then(|_| routing::max_return(&body["properties"]))
            {
                return (
                    400,
                    json!({"error": {"code": "BadRequest", "message": msg}}),
                );
            }
            let old = w.profiles.get(&key).cloned();
            let mut v = body;
            v["id"] = id.clone().into();
            v["name"] = p(m, "profileName").into();
            v["type"] = "Microsoft.Network/trafficManagerProfiles".into();
            let props = &mut v["properties"];
            props["dnsConfig"]["fqdn"] = format!("{relative}.{ATM_DOMAIN}").into();
            let mc = &mut props["monitorConfig"];
            for (k, d) in [
                ("intervalInSeconds", 30),
                ("timeoutInSeconds", 10),
                ("toleratedNumberOfFailures", 3),
            ] {
                if mc.get(k).is_none() {
                    mc[k] = d.into();
                }
            }
            if echo {
                for (k, d) in [
                    (
                        "expectedStatusCodeRanges",
                        json!([{"min": 200, "max": 200}]),
                    ),
                    ("customHeaders", json!([])),
                ] {
                    if mc.get(k).is_none() {
                        mc[k] = d;
                    }
                }
                if props.get("trafficViewEnrollmentStatus").is_none() {
                    props["trafficViewEnrollmentStatus"] = "Disabled".into();
                }
            }
            let mut eps = Vec::new();
            for e in props["endpoints"].as_array().cloned().unwrap_or_default() {
                let name = e["name"].as_str().unwrap_or_default().to_string();
                let kind = e["type"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let prev = old.as_ref().and_then(|o| find_endpoint(o, &name)).cloned();
                let method = props["trafficRoutingMethod"].clone();
                let checked =
                    endpoint(&id, &kind, &name, e, prev.as_ref(), &pips, echo).and_then(|mut e| {
                        routing::endpoint_priority(&mut e, eps.iter())?;
                        routing::multivalue_endpoint(&method, &e)?;
                        Ok(e)
                    });
                match checked {
                    Ok(e) => eps.push(e),
                    Err(msg) => {
                        return (
                            400,
                            json!({"error": {"code": "BadRequest", "message": msg}}),
                        )
                    }
                }
            }
            props["endpoints"] = eps.into();
            monitor_status(&mut v);
            let created = old.is_none();
            w.profiles.insert(key, v.clone());
            (if created { 201 } else { 200 }, v)
        }
        "Endpoints_Get" | "Endpoints_CreateOrUpdate" | "Endpoints_Delete" => {
            let name_l = p(m, "endpointName").to_ascii_lowercase();
            if m.operation_id == "Endpoints_CreateOrUpdate" {
                if let Some((_, status, code)) = w
                    .endpoint_faults
                    .iter()
                    .find(|(part, _, _)| name_l.contains(part.as_str()))
                {
                    return (
                        *status,
                        json!({"error": {"code": code, "message": format!("injected failure for endpoint {name_l}"), "details": [{"code": code, "message": "injected detail"}]}}),
                    );
                }
            }
            let Some(profile) = w.profiles.get_mut(&key) else {
                return not_found();
            };
            let method = profile["properties"]["trafficRoutingMethod"].clone();
            let name = p(m, "endpointName").to_string();
            let kind = p(m, "endpointType").to_string();
            let list = profile["properties"]["endpoints"]
                .as_array_mut()
                .expect("normalized profile has endpoints");
            let pos = list.iter().position(|e| {
                e["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&name))
                    && e["type"].as_str().is_some_and(|t| {
                        t.to_ascii_lowercase().ends_with(&kind.to_ascii_lowercase())
                    })
            });
            match m.operation_id.as_str() {
                "Endpoints_Get" => pos.map_or_else(not_found, |i| (200, list[i].clone())),
                "Endpoints_Delete" => match pos {
                    Some(i) => {
                        list.remove(i);
                        monitor_status(profile);
                        (200, json!({}))
                    }
                    None => (204, Value::Null),
                },
                _ => {
                    let body_type = body["type"].as_str().unwrap_or_default();
                    if !body_type.is_empty()
                        && !body_type
                            .to_ascii_lowercase()
                            .ends_with(&format!("/{}", kind.to_ascii_lowercase()))
                    {
                        return (
                            400,
                            json!({"error": {"code": "BadRequest", "message": format!("endpoint type {body_type} does not match the URL's {kind}")}}),
                        );
                    }
                    let prev = pos.map(|i| list[i].clone());
                    let others = list
                        .iter()
                        .enumerate()
                        .filter(move |(i, _)| Some(*i) != pos)
                        .map(|(_, x)| x);
                    let e = match endpoint(&id, &kind, &name, body, prev.as_ref(), &pips, echo)
                        .and_then(|mut e| {
                            routing::endpoint_priority(&mut e, others)?;
                            routing::multivalue_endpoint(&method, &e)?;
                            Ok(e)
                        }) {
                        Ok(e) => e,
                        Err(msg) => {
                            return (
                                400,
                                json!({"error": {"code": "BadRequest", "message": msg}}),
                            )
                        }
                    };
                    let target = e["properties"]["target"]
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    let dup = list.iter().enumerate().any(|(i, x)| {
                        Some(i) != pos
                            && x["properties"]["target"]
                                .as_str()
                                .is_some_and(|t| t.eq_ignore_ascii_case(&target))
                    });
                    if dup {
                        return (
                            400,
                            json!({"error": {"code": "BadRequest", "message": "Endpoint target must be unique in the profile."}}),
                        );
                    }
                    match pos {
                        Some(i) => list[i] = e.clone(),
                        None => list.push(e.clone()),
                    }
                    monitor_status(profile);
                    (if pos.is_some() { 200 } else { 201 }, e)
                }
            }
        }
        other => (
            400,
            json!({"error": {"code": "NotEmulated", "message": format!("operation {other} is not emulated")}}),
        ),
    }
}

fn find_endpoint<'a>(profile: &'a Value, name: &str) -> Option<&'a Value> {
    profile["properties"]["endpoints"]
        .as_array()?
        .iter()
        .find(|e| {
            e["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
}

/// Normalizes an endpoint as ARM stores it: id, echoed type, defaults, computed status.
fn endpoint(
    profile_id: &str,
    kind: &str,
    name: &str,
    mut e: Value,
    prev: Option<&Value>,
    pips: &BTreeMap<String, Value>,
    echo: bool,
) -> Result<Value, String> {
    let lower = match kind.to_ascii_lowercase().as_str() {
        "azureendpoints" => "azureEndpoints",
        "externalendpoints" => "externalEndpoints",
        "nestedendpoints" => "nestedEndpoints",
        _ => return Err(format!("unknown endpoint type {kind}")),
    };
    let props = &mut e["properties"];
    if !props.is_object() {
        return Err("endpoint properties are required".into());
    }
    let has_rid = props.get("targetResourceId").is_some();
    match lower {
        "externalEndpoints" if has_rid => {
            return Err("targetResourceId is not allowed for ExternalEndpoints.".into())
        }
        "externalEndpoints" if props.get("target").is_none() => {
            return Err("target is required for ExternalEndpoints.".into())
        }
        "azureEndpoints" if !has_rid => {
            return Err("targetResourceId is required for AzureEndpoints.".into())
        }
        "azureEndpoints" => {
            let rid = props["targetResourceId"].as_str().unwrap_or_default();
            let Some(pip) = pips.get(&rid.to_ascii_lowercase()) else {
                return Err(format!("The target resource {rid} was not found."));
            };
            let Some(fqdn) = pip
                .pointer("/properties/dnsSettings/fqdn")
                .and_then(Value::as_str)
            else {
                return Err(format!("The public IP {rid} must have a DNS name to be used as a Traffic Manager endpoint."));
            };
            props["target"] = fqdn.into();
        }
        _ => {}
    }
    if let Some(w) = props.get("weight").and_then(Value::as_i64) {
        if !(1..=1000).contains(&w) {
            return Err(format!("weight {w} is not allowed; allowed: 1 to 1000."));
        }
    }
    if props
        .get("customHeaders")
        .and_then(Value::as_array)
        .is_some_and(|h| h.len() > 8)
    {
        return Err("at most 8 custom headers are allowed.".into());
    }
    if props.get("weight").is_none() {
        props["weight"] = 1.into();
    }
    if echo {
        if props.get("alwaysServe").is_none() {
            props["alwaysServe"] = "Disabled".into();
        }
        if props.get("customHeaders").is_none() {
            props["customHeaders"] = json!([]);
        }
    }
    if props.get("endpointStatus").is_none() {
        props["endpointStatus"] = "Enabled".into();
    }
    let computed = if props["endpointStatus"] == "Disabled" {
        "Disabled".to_string()
    } else if props["alwaysServe"] == "Enabled" {
        "Unmonitored".to_string()
    } else {
        prev.and_then(|p| p["properties"]["endpointMonitorStatus"].as_str())
            .filter(|s| *s != "Disabled" && *s != "Unmonitored")
            .unwrap_or("CheckingEndpoint")
            .to_string()
    };
    props["endpointMonitorStatus"] = computed.into();
    e["name"] = name.into();
    e["type"] = format!("Microsoft.Network/trafficManagerProfiles/{lower}").into();
    e["id"] = format!("{profile_id}/{lower}/{name}").into();
    Ok(e)
}

/// Profile monitor status from its endpoints (Traffic Manager's table).
fn monitor_status(profile: &mut Value) {
    let statuses: Vec<String> = profile["properties"]["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            e["properties"]["endpointMonitorStatus"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let has = |s: &str| statuses.iter().any(|x| x == s);
    let status = if profile["properties"]["profileStatus"] == "Disabled" {
        "Disabled"
    } else if has("Degraded") {
        "Degraded"
    } else if has("Online") {
        "Online"
    } else if has("CheckingEndpoint") {
        "CheckingEndpoints"
    } else {
        "Inactive"
    };
    profile["properties"]["monitorConfig"]["profileMonitorStatus"] = status.into();
}

/// The range rules the swagger states only in prose.
fn profile_ranges(body: &Value) -> Result<(), String> {
    let props = &body["properties"];
    if let Some(ttl) = props.pointer("/dnsConfig/ttl").and_then(Value::as_i64) {
        if !(0..=2_147_483_647).contains(&ttl) {
            return Err(format!(
                "dnsConfig.ttl {ttl} is not allowed; allowed: 0 to 2147483647."
            ));
        }
    }
    let mc = &props["monitorConfig"];
    let n = |k: &str| mc.get(k).and_then(Value::as_i64);
    let interval = n("intervalInSeconds").unwrap_or(30);
    let max_timeout = match interval {
        30 => 10,
        10 => 9,
        i => {
            return Err(format!(
                "intervalInSeconds {i} is not allowed; allowed: 10 or 30."
            ))
        }
    };
    if let Some(t) = n("timeoutInSeconds") {
        if !(5..=max_timeout).contains(&t) {
            return Err(format!("timeoutInSeconds {t} is not allowed with intervalInSeconds {interval}; allowed: 5 to {max_timeout}."));
        }
    }
    if let Some(t) = n("toleratedNumberOfFailures") {
        if !(0..=9).contains(&t) {
            return Err(format!(
                "toleratedNumberOfFailures {t} is not allowed; allowed: 0 to 9."
            ));
        }
    }
    for k in ["customHeaders", "expectedStatusCodeRanges"] {
        if mc
            .get(k)
            .and_then(Value::as_array)
            .is_some_and(|l| l.len() > 8)
        {
            return Err(format!("monitorConfig.{k}: at most 8 are allowed."));
        }
    }
    for e in props["endpoints"].as_array().into_iter().flatten() {
        if let Some(w) = e.pointer("/properties/weight").and_then(Value::as_i64) {
            if !(1..=1000).contains(&w) {
                return Err(format!("weight {w} is not allowed; allowed: 1 to 1000."));
            }
        }
    }
    Ok(())
}
