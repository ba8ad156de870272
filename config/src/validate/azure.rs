//! `spec.azure`: the optional mirror to Azure Traffic Manager, checked and turned
//! into an [`AzureMirror`] with what it needs per profile and cluster.

use std::collections::BTreeMap;

use super::credential::{Credential, Place};
use crate::azure::{
    resource_group_ok, stable_uid, AzureMirror, AzureProfile, DEFAULT_ARM_ENDPOINT,
    DEFAULT_GC_GRACE_SECONDS, DEFAULT_MAX_REQUESTS_PER_SECOND, DEFAULT_REQUEST_TIMEOUT_SECONDS,
    DEFAULT_RESYNC_SECONDS,
};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::inputs::Inputs;
use crate::settings::SettingsDocument;

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Validates `spec.azure` (if any) and collects per-profile and per-cluster data.
pub(super) fn validate(
    doc: &Doc,
    s: &SettingsDocument,
    inputs: &Inputs,
    diags: &mut Diagnostics,
) -> Option<AzureMirror> {
    let spec = s.spec.azure.as_ref()?;
    let before = diags.errors().count();
    let err = |diags: &mut Diagnostics, path: &[&str], field: &str, msg: String| {
        diags.push(
            Diagnostic::error(doc.location_of(path), msg)
                .object("FleetDNSConfig")
                .field(format!("spec.azure.{field}")),
        );
    };
    if !is_uuid(&spec.subscription_id) {
        err(diags, &["spec", "azure", "subscriptionId"], "subscriptionId", format!("{:?} is not allowed; allowed: a subscription id (UUID, like 00000000-0000-0000-0000-000000000000)", spec.subscription_id));
    }
    let credential = super::credential::auth(
        doc,
        Place {
            path: &["spec", "azure"],
            field: "spec.azure",
        },
        Place {
            path: &["spec", "azure", "auth"],
            field: "spec.azure.auth",
        },
        &spec.auth,
        (spec.arm_endpoint.as_ref(), DEFAULT_ARM_ENDPOINT),
        spec.authority_host.as_ref(),
        diags,
    );
    let max_requests_per_second = spec
        .max_requests_per_second
        .unwrap_or(DEFAULT_MAX_REQUESTS_PER_SECOND);
    if !(1..=1000).contains(&max_requests_per_second) {
        err(
            diags,
            &["spec", "azure", "maxRequestsPerSecond"],
            "maxRequestsPerSecond",
            format!("{max_requests_per_second} is not allowed; allowed: 1 to 1000"),
        );
    }
    let resync_seconds = spec
        .resync_interval_seconds
        .unwrap_or(DEFAULT_RESYNC_SECONDS);
    if !(1..=86_400).contains(&resync_seconds) {
        err(
            diags,
            &["spec", "azure", "resyncIntervalSeconds"],
            "resyncIntervalSeconds",
            format!("{resync_seconds} is not allowed; allowed: 1 to 86400 seconds"),
        );
    }
    let request_timeout_seconds = spec
        .request_timeout_seconds
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECONDS);
    if !(1..=300).contains(&request_timeout_seconds) {
        err(
            diags,
            &["spec", "azure", "requestTimeoutSeconds"],
            "requestTimeoutSeconds",
            format!("{request_timeout_seconds} is not allowed; allowed: 1 to 300 seconds"),
        );
    }
    let gc_grace_seconds = spec.gc_grace_seconds.unwrap_or(DEFAULT_GC_GRACE_SECONDS);
    if gc_grace_seconds > 30 * 86_400 {
        err(
            diags,
            &["spec", "azure", "gcGraceSeconds"],
            "gcGraceSeconds",
            format!("{gc_grace_seconds} is not allowed; allowed: 0 to 2592000 seconds (30 days)"),
        );
    }

    let mut profiles = BTreeMap::new();
    for p in &inputs.profiles {
        let rg = &p.spec.resource_group;
        if !resource_group_ok(rg) {
            diags.push(
                Diagnostic::error(p.doc.location_of(&["spec", "resourceGroup"]), format!("{rg:?} is not allowed as an Azure resource group; allowed: 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'"))
                    .object(format!("TrafficManagerProfile {}/{}", p.namespace(), p.name()))
                    .field("spec.resourceGroup"),
            );
            continue;
        }
        let uid = p
            .metadata
            .uid
            .clone()
            .unwrap_or_else(|| stable_uid("TrafficManagerProfile", p.namespace(), p.name()));
        profiles.insert(
            format!("{}/{}", p.namespace(), p.name()),
            AzureProfile {
                resource_group: rg.clone(),
                uid,
            },
        );
    }
    let backend_uids = inputs
        .backends
        .iter()
        .map(|b| {
            let uid =
                b.metadata.uid.clone().unwrap_or_else(|| {
                    stable_uid("TrafficManagerBackend", b.namespace(), b.name())
                });
            (format!("{}/{}", b.namespace(), b.name()), uid)
        })
        .collect();
    let mut public_ips = BTreeMap::new();
    for (i, c) in s.spec.clusters.iter().enumerate() {
        for (j, svc) in c.services.iter().enumerate() {
            let Some(id) = &svc.public_ip_resource_id else {
                continue;
            };
            let lower = id.to_ascii_lowercase();
            if !(lower.starts_with("/subscriptions/")
                && lower.contains("/providers/microsoft.network/publicipaddresses/"))
            {
                diags.push(
                    Diagnostic::error(doc.location_of(&["spec", "clusters", "services", "publicIPResourceID"]), format!("{id:?} is not allowed; allowed: a public IP resource id like /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/publicIPAddresses/<name>"))
                        .object("FleetDNSConfig")
                        .field(format!("spec.clusters[{i}].services[{j}].publicIPResourceID")),
                );
                continue;
            }
            public_ips.insert(
                format!("{}/{}/{}", c.name, svc.namespace, svc.name),
                id.clone(),
            );
        }
    }
    let Credential {
        arm_endpoint,
        authority_host,
        auth,
    } = credential?;
    if diags.errors().count() > before {
        return None;
    }
    Some(AzureMirror {
        subscription_id: spec.subscription_id.to_ascii_lowercase(),
        arm_endpoint,
        authority_host,
        location: spec.location.clone().unwrap_or_else(|| "global".into()),
        auth,
        max_requests_per_second,
        resync_seconds,
        request_timeout_seconds,
        gc_grace_seconds,
        adopt: spec.adopt.unwrap_or(false),
        profiles,
        backend_uids,
        public_ips,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_uid_is_uuid_shaped_and_stable() {
        let a = stable_uid("TrafficManagerProfile", "ns", "web");
        assert!(is_uuid(&a), "{a}");
        assert_eq!(a, stable_uid("TrafficManagerProfile", "ns", "web"));
        assert_ne!(a, stable_uid("TrafficManagerProfile", "ns", "web2"));
    }
}
