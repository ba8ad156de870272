//! A [`Desired`] as the status document fleetdns applies (server-side apply,
//! field manager `fleetdns`): in owner mode fleet-networking's fields and
//! conditions plus fleetdns's own condition, in observer mode only the latter.
//! Every condition carries `observedGeneration`; `lastTransitionTime` is kept
//! from the observed condition while its status stays the same, as
//! `meta.SetStatusCondition` keeps it.

use serde_json::{json, Map, Value};

use super::{Condition, Desired};

/// Which fields one write covers for one object (the setting `auto` is resolved
/// per object into one of these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// fleet-networking's fields and conditions, and fleetdns's own condition.
    Owner,
    /// Only fleetdns's own condition.
    Observer,
}

impl Mode {
    /// The mode's name, as in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Owner => "owner",
            Mode::Observer => "observer",
        }
    }
}

/// The `status` to apply for `d` in `mode`; `now` stamps conditions whose status changes.
pub fn render(d: &Desired, mode: Mode, now: &str) -> Value {
    let mut status = Map::new();
    let mut conditions = Vec::new();
    if mode == Mode::Owner {
        status.extend(d.fields.clone());
        conditions.extend(d.conditions.iter().map(|c| condition(d, c, now)));
    }
    if let Some(c) = &d.own {
        conditions.push(condition(d, c, now));
    }
    if !conditions.is_empty() {
        status.insert("conditions".into(), Value::Array(conditions));
    }
    Value::Object(status)
}

fn condition(d: &Desired, c: &Condition, now: &str) -> Value {
    let since = d
        .observed
        .condition(c.type_)
        .filter(|o| o.get("status").and_then(Value::as_str) == Some(c.status))
        .and_then(|o| o.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| Value::String(now.to_string()));
    json!({
        "type": c.type_,
        "status": c.status,
        "reason": c.reason,
        "message": c.message,
        "observedGeneration": d.generation,
        "lastTransitionTime": since,
    })
}

/// Whether the object as observed already says everything in `rendered` (then
/// nothing is written), and nothing fleetdns wrote before and no longer wants
/// is still there under its name (fields it owns alone that it now omits).
pub fn satisfied(d: &Desired, rendered: &Value) -> bool {
    let Some(new) = rendered.as_object() else {
        return false;
    };
    let fields_ok = new.iter().all(|(k, v)| {
        if k == "conditions" {
            return true;
        }
        d.observed.status_fields.get(k) == Some(v)
    });
    let conditions_ok = new
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .all(|c| {
            let ty = c.get("type").and_then(Value::as_str).unwrap_or("");
            d.observed.condition(ty) == Some(c)
        });
    // Fields fleetdns no longer applies but still owns would be removed by an
    // apply: `endpoints` that should be omitted, conditions it stopped writing.
    let stale_field = ["dnsName", "resourceID", "endpoints"].iter().any(|k| {
        !new.contains_key(*k) && d.observed.status_fields.contains_key(*k) && owned_alone(d, k)
    });
    let stale_condition = d.observed.condition_managers.iter().any(|(ty, managers)| {
        managers.len() == 1
            && managers[0] == crate::status::writer::FIELD_MANAGER
            && !new
                .get("conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == ty.as_str()))
    });
    fields_ok && conditions_ok && !stale_field && !stale_condition
}

/// Whether fleetdns alone wrote status field `k` (judged by the conditions it owns:
/// fleetdns owns upstream's fields exactly when it owns upstream's conditions).
fn owned_alone(d: &Desired, _k: &str) -> bool {
    d.conditions.iter().any(|c| {
        d.observed
            .condition_managers
            .get(c.type_)
            .is_some_and(|m| m.len() == 1 && m[0] == crate::status::writer::FIELD_MANAGER)
    })
}
