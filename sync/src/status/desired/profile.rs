//! A TrafficManagerProfile's `dnsName` and `Programmed`, as fleet-networking's
//! profile controller writes them (trafficmanagerprofile/controller.go:339-400),
//! and fleetdns's `Serving`.

use std::sync::Arc;

use fleetdns_config::{Health, ObservedObject};
use serde_json::Value;

use super::index::Index;
use super::{base, problems_text, serving, Condition, Desired};
use crate::azure::status::ConditionStatus;
use crate::azure::MirrorStatus;

/// Upstream's message for a name taken (controller.go:374).
pub(super) const NAME_TAKEN: &str =
    "Domain name is not available. Please choose a different profile name or namespace";

pub(super) fn profile(
    ix: &Index<'_>,
    health: Option<&Health>,
    o: &Arc<ObservedObject>,
    mirror: Option<&MirrorStatus>,
) -> Desired {
    let mut d = base(o);
    let served = ix.profile(&o.namespace, &o.name);
    match served {
        Some(p) if o.problems.is_empty() => {
            d.fields
                .insert("dnsName".into(), Value::String(p.owner.clone()));
            d.conditions.push(Condition::new(
                "Programmed",
                "True",
                "Programmed",
                format!(
                    "Successfully configured the DNS name {} in the fleetdns zone {}",
                    p.owner, ix.fleet.zone.apex
                ),
            ));
            if let Some(m) = mirror {
                fold_mirror(&mut d, m);
            }
        }
        _ => {
            // dnsName is reset on error, as upstream does (controller.go:358).
            let taken = o
                .problems
                .iter()
                .any(|p| p.contains("maps to the owner name"));
            d.conditions.push(if taken {
                Condition::new(
                    "Programmed",
                    "False",
                    "DNSNameNotAvailable",
                    NAME_TAKEN.into(),
                )
            } else {
                Condition::new(
                    "Programmed",
                    "False",
                    "Invalid",
                    format!("Invalid profile: {}", problems_text(&o.problems)),
                )
            });
        }
    }
    d.own = Some(serving::profile(ix, health, o, served));
    d
}

/// Folds the mirror's result for this profile into `d`: ARM decides, with ARM's
/// FQDN as `dnsName` and its id as `resourceID` (absent = the mirror has not got
/// to it yet: Pending).
fn fold_mirror(d: &mut Desired, mirror: &MirrorStatus) {
    let key = format!("{}/{}", d.namespace, d.name);
    let c = &mut d.conditions[0];
    match mirror.profiles.get(&key) {
        Some(p) => {
            let arm = &p.programmed;
            c.status = arm.status.as_str();
            c.reason = arm.reason.as_str().to_string();
            c.message = arm.message.clone();
            if arm.status == ConditionStatus::True {
                d.fields
                    .insert("resourceID".into(), Value::String(p.resource_id.clone()));
                if let Some(fqdn) = &p.dns_name {
                    d.fields
                        .insert("dnsName".into(), Value::String(fqdn.clone()));
                }
            } else {
                d.fields.remove("dnsName");
            }
        }
        None => {
            d.fields.remove("dnsName");
            c.status = "Unknown";
            c.reason = "Pending".into();
            c.message = "In the processing of configuring the Azure Traffic Manager profile".into();
        }
    }
}
