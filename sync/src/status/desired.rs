//! What each object's status should say: a pure function of the `Fleet`.
//!
//! The wording and reasons are fleet-networking's (fleet-atm-spec §1.2–1.4), so
//! dashboards and runbooks written for Fleet keep working: a profile is
//! `Programmed` when its name is in the zone, a backend is `Accepted` when its
//! exports became endpoints, and a ServiceExport is `Valid` / `Conflict` as the
//! member agent would say.

use std::collections::BTreeMap;

use fleetdns_config::{Fleet, ObjectKind, ObservedObject, Target};

use crate::azure::status::ConditionStatus;
use crate::azure::MirrorStatus;
use serde_json::{json, Map, Value};

/// One condition as desired (times and generation are added when written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// Condition type: `Programmed`, `Accepted`, `Valid` or `Conflict`.
    pub type_: &'static str,
    /// `True`, `False` or `Unknown`.
    pub status: &'static str,
    /// CamelCase reason, fleet-networking's.
    pub reason: String,
    /// Human-readable message, in fleet-networking's wording.
    pub message: String,
}

/// The status one object should have.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// Which kind of object.
    pub kind: ObjectKind,
    /// The cluster the object lives in (status is written there).
    pub cluster: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// `metadata.uid` of the observed object; a new uid makes the writer read the status afresh.
    pub uid: String,
    /// `metadata.generation`, written as each condition's `observedGeneration`.
    pub generation: i64,
    /// Status fields other than conditions; `Value::Null` removes a field.
    pub fields: Map<String, Value>,
    /// Conditions to set.
    pub conditions: Vec<Condition>,
}

/// Desired status of every observed object (ServiceExports only when
/// `manage_exports`). With the Azure mirror on, a profile is `Programmed` only
/// when both its DNS name and its Traffic Manager profile are, and carries the
/// ARM `resourceID`.
pub fn desired(fleet: &Fleet, manage_exports: bool, mirror: Option<&MirrorStatus>) -> Vec<Desired> {
    let unreachable = unreachable_note(fleet);
    let mut out = Vec::new();
    for o in &fleet.observed.objects {
        let d = match o.kind {
            ObjectKind::TrafficManagerProfile => {
                let mut d = profile(fleet, o);
                if let Some(m) = mirror {
                    fold_mirror(&mut d, m);
                }
                d
            }
            ObjectKind::TrafficManagerBackend => backend(fleet, o, &unreachable),
            ObjectKind::ServiceExport if manage_exports => export(o),
            ObjectKind::ServiceExport => continue,
        };
        out.push(d);
    }
    out
}

fn base(o: &ObservedObject) -> Desired {
    Desired {
        kind: o.kind,
        cluster: o.cluster.clone(),
        namespace: o.namespace.clone(),
        name: o.name.clone(),
        uid: o.uid.clone(),
        generation: o.generation,
        fields: Map::new(),
        conditions: Vec::new(),
    }
}

fn profile(fleet: &Fleet, o: &ObservedObject) -> Desired {
    let mut d = base(o);
    let served = fleet
        .profiles
        .iter()
        .find(|p| p.namespace == o.namespace && p.name == o.name);
    match served {
        Some(p) if o.problems.is_empty() => {
            d.fields
                .insert("dnsName".into(), Value::String(p.owner.clone()));
            d.conditions.push(Condition {
                type_: "Programmed",
                status: "True",
                reason: "Programmed".into(),
                message: format!(
                    "Successfully configured the DNS name {} in the fleetdns zone {}",
                    p.owner, fleet.zone.apex
                ),
            });
        }
        _ => {
            // Reset on error, as fleet-networking does.
            d.fields.insert("dnsName".into(), Value::Null);
            let (reason, prefix) = if o
                .problems
                .iter()
                .any(|p| p.contains("maps to the owner name"))
            {
                ("DNSNameNotAvailable", "Domain name is not available")
            } else {
                ("Invalid", "Invalid profile")
            };
            d.conditions.push(Condition {
                type_: "Programmed",
                status: "False",
                reason: reason.into(),
                message: format!("{prefix}: {}", problems_text(&o.problems)),
            });
        }
    }
    d
}

/// Folds the mirror's result for this profile into `d`: a DNS-side failure stays;
/// otherwise the ARM outcome decides (absent = the mirror has not got to it yet).
fn fold_mirror(d: &mut Desired, mirror: &MirrorStatus) {
    let key = format!("{}/{}", d.namespace, d.name);
    let Some(c) = d.conditions.first_mut() else {
        return;
    };
    if c.status != "True" {
        return;
    }
    match mirror.profiles.get(&key) {
        Some(p) => {
            d.fields
                .insert("resourceID".into(), Value::String(p.resource_id.clone()));
            let arm = &p.programmed;
            match arm.status {
                ConditionStatus::True => c.message = format!("{}; {}", c.message, arm.message),
                other => {
                    c.status = if other == ConditionStatus::False {
                        "False"
                    } else {
                        "Unknown"
                    };
                    c.reason = arm.reason.as_str().to_string();
                    c.message = arm.message.clone();
                }
            }
        }
        None => {
            c.status = "Unknown";
            c.reason = "Pending".into();
            c.message = "In the processing of configuring the Azure Traffic Manager profile".into();
        }
    }
}

fn backend(fleet: &Fleet, o: &ObservedObject, unreachable: &str) -> Desired {
    let mut d = base(o);
    let endpoints: Vec<Value> = fleet
        .profiles
        .iter()
        .filter(|p| p.namespace == o.namespace)
        .flat_map(|p| &p.endpoints)
        .filter(|e| e.backend == o.name)
        .map(|e| {
            json!({
                "name": format!("fleet-{}#{}#{}", o.uid, e.service, e.cluster).to_ascii_lowercase(),
                "target": target_text(&e.target),
                "weight": e.weight,
                "from": {"cluster": e.cluster, "weight": e.export_weight},
            })
        })
        .collect();
    let accepted = endpoints.len();
    d.fields.insert("endpoints".into(), Value::Array(endpoints));
    // Exports of this backend's Service that could not become endpoints.
    let service = o.backend_service.clone();
    let bad_exports: Vec<&ObservedObject> = fleet
        .observed
        .objects
        .iter()
        .filter(|x| {
            x.kind == ObjectKind::ServiceExport
                && x.namespace == o.namespace
                && Some(&x.name) == service.as_ref()
                && !x.problems.is_empty()
        })
        .collect();
    // The backend's own problems (its profile, its weight) come first, as in
    // fleet-networking; "no export" problems are better told by the exports' reasons.
    let own_problem = o
        .problems
        .iter()
        .any(|p| !p.contains("no member cluster exports"));
    let invalid = |problems: &[String]| Condition {
        type_: "Accepted",
        status: "False",
        reason: "Invalid".into(),
        message: format!("Invalid trafficManagerBackend: {}", problems_text(problems)),
    };
    let condition = if own_problem {
        invalid(&o.problems)
    } else if let Some(first) = bad_exports.first() {
        Condition {
            type_: "Accepted",
            status: "False",
            reason: "Invalid".into(),
            message: format!(
                "{} service(s) exported from clusters cannot be exposed as Traffic Manager endpoints, for example, cluster {}: {}; {accepted} service(s) exported from clusters have been accepted as Traffic Manager endpoints{unreachable}",
                bad_exports.len(),
                first.cluster,
                problems_text(&first.problems)
            ),
        }
    } else if !o.problems.is_empty() {
        invalid(&o.problems)
    } else {
        Condition {
            type_: "Accepted",
            status: "True",
            reason: "Accepted".into(),
            message: format!("{accepted} service(s) exported from clusters have been accepted as Traffic Manager endpoints{unreachable}"),
        }
    };
    d.conditions.push(condition);
    d
}

fn export(o: &ObservedObject) -> Desired {
    let mut d = base(o);
    let (reason, message) = o
        .export_validity
        .clone()
        .unwrap_or_else(|| ("ServiceIsValid".into(), String::new()));
    d.conditions.push(Condition {
        type_: "Valid",
        status: if reason == "ServiceIsValid" {
            "True"
        } else {
            "False"
        },
        reason,
        message,
    });
    d.conditions.push(match &o.export_conflict {
        Some(m) => Condition {
            type_: "Conflict",
            status: "True",
            reason: "ConflictFound".into(),
            message: m.clone(),
        },
        None => Condition {
            type_: "Conflict",
            status: "False",
            reason: "NoConflictFound".into(),
            message: format!(
                "service {}/{} is exported without conflict",
                o.namespace, o.name
            ),
        },
    });
    d
}

/// `" (cluster x is unreachable since …; its last known state is served)"`, or "".
fn unreachable_note(fleet: &Fleet) -> String {
    let down: Vec<String> = fleet
        .observed
        .clusters
        .iter()
        .filter(|c| !c.reachable)
        .map(|c| {
            let since = c
                .unreachable_since
                .and_then(|t| k8s_openapi::jiff::Timestamp::try_from(t).ok())
                .map(|t| {
                    format!(
                        " since {}",
                        k8s_openapi::jiff::Timestamp::from_second(t.as_second()).unwrap_or(t)
                    )
                })
                .unwrap_or_default();
            format!("cluster {} is unreachable{since}", c.name)
        })
        .collect();
    if down.is_empty() {
        String::new()
    } else {
        format!(" ({}; its last known state is served)", down.join(", "))
    }
}

fn target_text(t: &Target) -> String {
    match t {
        Target::Host(h) => h.clone(),
        other => other.to_string(),
    }
}

/// Messages are bounded (metav1.Condition allows 32768 bytes).
fn problems_text(problems: &[String]) -> String {
    let mut s = problems.join("; ");
    if s.len() > 4000 {
        let mut cut = 4000;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// The status document to write: `fields` plus conditions carrying
/// `observedGeneration`, keeping `lastTransitionTime` from `current` when a
/// condition's status did not change.
pub fn render(d: &Desired, current: Option<&Value>, now: &str) -> Value {
    let mut status = d.fields.clone();
    let old: BTreeMap<&str, &Value> = current
        .and_then(|c| c.get("conditions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c.get("type")?.as_str()?, c)))
        .collect();
    let conditions: Vec<Value> = d
        .conditions
        .iter()
        .map(|c| {
            let since = old
                .get(c.type_)
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
        })
        .collect();
    status.insert("conditions".into(), Value::Array(conditions));
    Value::Object(status)
}

/// Whether writing `rendered` would change `current` (fields set to null must be absent).
pub fn differs(rendered: &Value, current: Option<&Value>) -> bool {
    let Some(Value::Object(new)) = Some(rendered) else {
        return true;
    };
    let empty = Map::new();
    let old = current.and_then(Value::as_object).unwrap_or(&empty);
    new.iter().any(|(k, v)| match (v, old.get(k)) {
        (Value::Null, None | Some(Value::Null)) => false,
        (v, Some(o)) => v != o,
        (_, None) => true,
    })
}
