//! TrafficManagerProfiles: one owner name per profile in the zone, its TTL and
//! fail-closed and routing-method annotations, and (through [`super::monitor`]) its probe settings.

use std::collections::{BTreeMap, HashMap};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::inputs::Inputs;
use crate::limits;
use crate::model::{Profile, ZoneSettings};

use super::annotations::bool_annotation;

use super::monitor::monitor_config;
use super::zone::{dns_name, MAX_TTL};

/// Annotation on a TrafficManagerProfile: answer TTL in seconds.
pub const TTL_ANNOTATION: &str = "fleetdns.io/ttl";
/// Annotation on a TrafficManagerProfile: `"true"` serves nothing when all endpoints are Degraded.
pub const FAIL_CLOSED_ANNOTATION: &str = "fleetdns.io/fail-closed";

/// Profiles keyed by (namespace, name), with the document they came from.
pub(super) type Profiles = BTreeMap<(String, String), (usize, Profile)>;

pub(super) fn profiles(inputs: &Inputs, zone: &ZoneSettings, diags: &mut Diagnostics) -> Profiles {
    let mut out = Profiles::new();
    // Owner name → the profile that has it (its label and line are written only
    // for a diagnostic).
    let mut owners: HashMap<String, &crate::inputs::Object<_>> = HashMap::new();
    // Equal monitor settings, kept once.
    let mut monitors: HashMap<
        crate::model::MonitorConfig,
        std::sync::Arc<crate::model::MonitorConfig>,
    > = HashMap::new();
    for p in &inputs.profiles {
        let ns = p.namespace().to_string();
        let name = p.name().to_string();
        let object = format!("TrafficManagerProfile {ns}/{name}");
        if let Some((prev, _)) = out.get(&(ns.clone(), name.clone())) {
            diags.push(Diagnostic::error(p.doc.location_of(&["metadata", "name"]), format!("defined twice (first in document {prev}); allowed: one object per namespace and name")).object(object).field("metadata.name"));
            continue;
        }
        let relative = format!("{ns}-{name}").to_ascii_lowercase();
        let owner = format!("{relative}.{}", zone.apex);
        if let Err(e) = dns_name(&owner) {
            diags.push(
                Diagnostic::error(
                    p.doc.location_of(&["metadata", "name"]),
                    format!("the profile's DNS name <namespace>-<name>.<zone> is not valid: {e}"),
                )
                .object(object)
                .field("metadata.name"),
            );
            continue;
        }
        if owner.len() > limits::MAX_OWNER_NAME {
            diags.push(
                Diagnostic::error(
                    p.doc.location_of(&["metadata", "name"]),
                    format!(
                        "the profile's DNS name {owner} is {} characters long; allowed: at most {} (253 minus the \"{}.\" label of its health-view name)",
                        owner.len(),
                        limits::MAX_OWNER_NAME,
                        limits::HEALTH_LABEL
                    ),
                )
                .object(object)
                .field("metadata.name"),
            );
            continue;
        }
        if let Some(first) = owners.get(&owner) {
            let other = format!(
                "TrafficManagerProfile {}/{}",
                first.namespace(),
                first.name()
            );
            let line = first.doc.line_of(&["metadata", "name"]);
            diags.push(
                Diagnostic::error(p.doc.location_of(&["metadata", "name"]), format!("maps to the owner name {owner}, which {other} (line {line}) already uses; allowed: profiles whose <namespace>-<name> differ — rename one"))
                    .object(object)
                    .field("metadata.name"),
            );
            continue;
        }
        if zone.name_servers.iter().any(|n| n.name == owner) {
            diags.push(Diagnostic::error(p.doc.location_of(&["metadata", "name"]), format!("maps to the owner name {owner}, which is a name server of the zone; rename the profile or the name server")).object(object).field("metadata.name"));
            continue;
        }
        owners.insert(owner.clone(), p);
        let Some(monitor) = monitor_config(p, &object, diags) else {
            continue;
        };
        let monitor = match monitors.get(&monitor) {
            Some(shared) => shared.clone(),
            None => {
                let shared = std::sync::Arc::new(monitor.clone());
                monitors.insert(monitor, shared.clone());
                shared
            }
        };
        let ttl = match p.annotation(TTL_ANNOTATION) {
            None => zone.default_ttl,
            Some(raw) => match raw.parse::<u32>() {
                Ok(t) if t <= MAX_TTL => t,
                _ => {
                    diags.push(Diagnostic::error(p.doc.location_of(&["metadata", "annotations", TTL_ANNOTATION]), format!("{raw:?} is not allowed; allowed: an integer number of seconds from 0 to {MAX_TTL}")).object(object).field(format!("metadata.annotations[{TTL_ANNOTATION:?}]")));
                    continue;
                }
            },
        };
        let Some(fail_closed) = bool_annotation(p, FAIL_CLOSED_ANNOTATION, &object, diags) else {
            continue;
        };
        let Some(routing) = super::routing::routing_method(p, &object, diags) else {
            continue;
        };
        out.insert(
            (ns.clone(), name.clone()),
            (
                p.doc.index,
                Profile {
                    namespace: ns,
                    name,
                    owner,
                    ttl,
                    monitor,
                    fail_closed,
                    routing,
                    endpoints: Vec::new(),
                },
            ),
        );
    }
    out
}
