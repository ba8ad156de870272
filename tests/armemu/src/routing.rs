//! Traffic Manager's rules for the routing methods that the swagger states only
//! in prose (api-version 2022-04-01):
//! - `EndpointProperties.priority`: "Possible values are from 1 to 1000 … If
//!   specified, it must be specified on all endpoints, and no two endpoints can
//!   share the same priority value." Unset, Traffic Manager gives the next
//!   priority after the highest in the profile.
//! - `ProfileProperties.maxReturn` ("Maximum number of endpoints to be returned
//!   for MultiValue routing type"): required for MultiValue, 1 to 8.
//! - MultiValue takes ExternalEndpoints whose targets are IPv4/IPv6 addresses only.

use std::net::IpAddr;

use serde_json::Value;

/// `maxReturn` of a profile body against its routing method.
pub(crate) fn max_return(props: &Value) -> Result<(), String> {
    let multi = props["trafficRoutingMethod"] == "MultiValue";
    match props.get("maxReturn").and_then(Value::as_i64) {
        None if multi => Err("maxReturn is required for the MultiValue routing method.".into()),
        Some(n) if multi && !(1..=8).contains(&n) => {
            Err(format!("maxReturn {n} is not allowed; allowed: 1 to 8."))
        }
        _ => Ok(()),
    }
}

/// What MultiValue allows of one (normalized) endpoint.
pub(crate) fn multivalue_endpoint(method: &Value, e: &Value) -> Result<(), String> {
    if method != "MultiValue" {
        return Ok(());
    }
    let kind = e["type"]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let target = e.pointer("/properties/target").and_then(Value::as_str);
    let ip = target.is_some_and(|t| t.parse::<IpAddr>().is_ok());
    if kind != "externalEndpoints" || !ip {
        return Err(format!(
            "The MultiValue routing method only supports ExternalEndpoints with IPv4 or IPv6 address targets; endpoint {} is {kind} with target {}.",
            e["name"].as_str().unwrap_or_default(),
            target.unwrap_or("(none)")
        ));
    }
    Ok(())
}

/// Gives `e` a priority when it has none (after the highest of `others`), and
/// checks its range and that no other endpoint of the profile has it.
pub(crate) fn endpoint_priority<'a>(
    e: &mut Value,
    others: impl Iterator<Item = &'a Value> + Clone,
) -> Result<(), String> {
    let of = |x: &Value| x.pointer("/properties/priority").and_then(Value::as_i64);
    let priority = match of(e) {
        Some(p) => p,
        None => {
            let p = others.clone().filter_map(of).max().unwrap_or(0) + 1;
            e["properties"]["priority"] = p.into();
            p
        }
    };
    if !(1..=1000).contains(&priority) {
        return Err(format!(
            "priority {priority} is not allowed; allowed: 1 to 1000."
        ));
    }
    if let Some(other) = others.into_iter().find(|x| of(x) == Some(priority)) {
        return Err(format!(
            "Endpoint priority {priority} is already used by endpoint {} in the profile; no two endpoints can share the same priority value.",
            other["name"].as_str().unwrap_or_default()
        ));
    }
    Ok(())
}
