//! `spec.kubernetes.source: hub`, `spec.kubernetes.publicIPs` and
//! `spec.kubernetes.hub.auth`: hub mode and Entra ID sign-in to the hub.
//!
//! Both carry an Azure credential written as `spec.azure.auth` is, judged by the
//! same function as `spec.azure`'s (`credential::auth`), with every finding
//! reported at the field where it was written here.

use std::time::Duration;

use super::credential::{self, Credential, Place};
use crate::azure::{DEFAULT_ARM_ENDPOINT, DEFAULT_MAX_REQUESTS_PER_SECOND};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::hub::{
    HubAuth, HubMode, PublicIpLookup, AKS_AAD_SERVER_APP_ID, DEFAULT_PUBLIC_IP_REFRESH_SECONDS,
};
use crate::settings::SettingsDocument;

/// Hub mode, when `spec.kubernetes.source` is `hub`.
pub(super) fn hub_mode(
    doc: &Doc,
    s: &SettingsDocument,
    diags: &mut Diagnostics,
) -> Option<HubMode> {
    let k = s.spec.kubernetes.as_ref()?;
    let err = |diags: &mut Diagnostics, path: &[&str], field: &str, msg: String| {
        diags.push(
            Diagnostic::error(doc.location_of(path), msg)
                .object("FleetDNSConfig")
                .field(field.to_string()),
        );
    };
    match k.source.as_deref() {
        None | Some("members") => {
            if k.public_ips.is_some() {
                err(diags, &["spec", "kubernetes", "publicIPs"], "spec.kubernetes.publicIPs", "only used with source: hub; allowed: set spec.kubernetes.source: hub, or remove publicIPs".into());
            }
            return None;
        }
        Some("hub") => {}
        Some(other) => {
            err(
                diags,
                &["spec", "kubernetes", "source"],
                "spec.kubernetes.source",
                format!("{other:?} is not allowed; allowed: members (each member's Services and ServiceExports) or hub (the hub's InternalServiceExports, addresses from ARM)"),
            );
            return None;
        }
    }
    if !k.members.is_empty() {
        err(diags, &["spec", "kubernetes", "members"], "spec.kubernetes.members", "not used with source: hub (members are discovered from the hub's fleet-member-* namespaces); allowed: remove members, or use source: members".into());
    }
    let Some(p) = &k.public_ips else {
        err(diags, &["spec", "kubernetes", "source"], "spec.kubernetes.publicIPs", "source: hub needs spec.kubernetes.publicIPs (ARM access with the Reader role on the members' public IP resource groups) to read each export's publicIPResourceID".into());
        return None;
    };
    let Credential {
        arm_endpoint,
        authority_host,
        auth,
    } = credential::auth(
        doc,
        Place {
            path: &["spec", "kubernetes", "publicIPs"],
            field: "spec.kubernetes.publicIPs",
        },
        Place {
            path: &["spec", "kubernetes", "publicIPs", "auth"],
            field: "spec.kubernetes.publicIPs.auth",
        },
        &p.auth,
        (p.arm_endpoint.as_ref(), DEFAULT_ARM_ENDPOINT),
        p.authority_host.as_ref(),
        diags,
    )?;
    let max_requests_per_second = p
        .max_requests_per_second
        .unwrap_or(DEFAULT_MAX_REQUESTS_PER_SECOND);
    if !(1..=1000).contains(&max_requests_per_second) {
        err(
            diags,
            &["spec", "kubernetes", "publicIPs", "maxRequestsPerSecond"],
            "spec.kubernetes.publicIPs.maxRequestsPerSecond",
            format!("{max_requests_per_second} is not allowed; allowed: 1 to 1000"),
        );
        return None;
    }
    let refresh = p
        .refresh_interval_seconds
        .unwrap_or(DEFAULT_PUBLIC_IP_REFRESH_SECONDS);
    if !(1..=86_400).contains(&refresh) {
        err(
            diags,
            &["spec", "kubernetes", "publicIPs", "refreshIntervalSeconds"],
            "spec.kubernetes.publicIPs.refreshIntervalSeconds",
            format!("{refresh} is not allowed; allowed: 1 to 86400 seconds"),
        );
        return None;
    }
    Some(HubMode {
        public_ips: PublicIpLookup {
            arm_endpoint,
            authority_host,
            auth,
            max_requests_per_second,
            refresh: Duration::from_secs(refresh),
        },
    })
}

/// Entra ID sign-in to the hub, when `spec.kubernetes.hub.auth` is set.
pub(super) fn hub_auth(
    doc: &Doc,
    s: &SettingsDocument,
    diags: &mut Diagnostics,
) -> Option<HubAuth> {
    let a = s.spec.kubernetes.as_ref()?.hub.auth.as_ref()?;
    // No ARM here: the token is for the hub's AKS AAD server application.
    let Credential {
        authority_host,
        auth,
        ..
    } = credential::auth(
        doc,
        Place {
            path: &["spec", "kubernetes", "hub", "auth"],
            field: "spec.kubernetes.hub.auth",
        },
        Place {
            path: &["spec", "kubernetes", "hub", "auth", "azure"],
            field: "spec.kubernetes.hub.auth.azure",
        },
        &a.azure,
        (None, DEFAULT_ARM_ENDPOINT),
        a.authority_host.as_ref(),
        diags,
    )?;
    Some(HubAuth {
        authority_host,
        auth,
        server_app_id: a
            .server_app_id
            .clone()
            .unwrap_or_else(|| AKS_AAD_SERVER_APP_ID.to_string()),
    })
}

#[cfg(test)]
mod tests {
    fn fleet(kubernetes: &str) -> (Option<crate::Fleet>, crate::Diagnostics) {
        let text = format!("apiVersion: fleetdns.io/v1alpha1\nkind: FleetDNSConfig\nspec:\n  zone: fleet.test\n  nameServers: [{{name: ns1.fleet.test, addresses: [127.0.0.1]}}]\n{kubernetes}");
        let mut diags = crate::Diagnostics::default();
        let inputs = crate::file::parse(std::path::Path::new("t.yaml"), &text, &mut diags);
        let f = super::super::fleet(&inputs, &mut diags);
        (f, diags)
    }

    #[test]
    fn hub_mode_needs_public_ip_access_and_no_members() {
        let (_, d) = fleet("  kubernetes:\n    source: hub\n");
        assert!(
            d.iter()
                .any(|d| d.field.as_deref() == Some("spec.kubernetes.publicIPs")),
            "{d}"
        );
        let (_, d) = fleet("  kubernetes:\n    source: hub\n    members: [{name: m1}]\n    publicIPs: {auth: {method: managedIdentity}}\n");
        assert!(
            d.iter()
                .any(|d| d.field.as_deref() == Some("spec.kubernetes.members")),
            "{d}"
        );
    }

    #[test]
    fn hub_mode_credential_is_judged_like_spec_azure() {
        let (f, d) = fleet("  kubernetes:\n    source: hub\n    publicIPs:\n      armEndpoint: http://127.0.0.1:1\n      refreshIntervalSeconds: 5\n      auth: {method: managedIdentity, imdsEndpoint: http://127.0.0.1:2/token}\n");
        assert!(!d.has_errors(), "{d}");
        let hub = f.unwrap().kubernetes.unwrap().hub_mode.unwrap();
        assert_eq!(hub.public_ips.arm_endpoint, "http://127.0.0.1:1");
        assert_eq!(hub.public_ips.refresh.as_secs(), 5);
        let (_, d) = fleet(
            "  kubernetes:\n    source: hub\n    publicIPs:\n      auth: {method: password}\n",
        );
        assert!(
            d.iter()
                .any(|d| d.field.as_deref() == Some("spec.kubernetes.publicIPs.auth.method")),
            "{d}"
        );
    }

    #[test]
    fn hub_auth_is_accepted_and_its_credential_is_judged_with_its_own_field_names() {
        let (f, d) = fleet("  kubernetes:\n    members: [{name: m1}]\n    hub:\n      auth:\n        azure: {method: managedIdentity}\n");
        assert!(!d.has_errors(), "{d}");
        let auth = f
            .and_then(|f| f.kubernetes)
            .and_then(|k| k.hub_auth)
            .expect("hub auth in the model");
        assert_eq!(auth.server_app_id, crate::hub::AKS_AAD_SERVER_APP_ID);
        let (_, d) = fleet("  kubernetes:\n    members: [{name: m1}]\n    hub:\n      auth:\n        azure: {method: magic}\n");
        assert!(
            d.iter()
                .any(|d| d.field.as_deref() == Some("spec.kubernetes.hub.auth.azure.method")),
            "{d}"
        );
        assert!(
            !d.iter().any(|d| d
                .field
                .as_deref()
                .is_some_and(|f| f.starts_with("spec.azure"))),
            "{d}"
        );
    }

    #[test]
    fn hub_auth_public_ips_and_spec_azure_share_one_credential_judgement() {
        // The same broken credential (workload identity without tenant and client, a
        // secret written inline) in the three places: the same findings, each at its field.
        let cred = "{method: workloadIdentity, clientSecret: x}";
        let (_, azure) = fleet(&format!(
            "  azure: {{subscriptionId: 00000000-0000-0000-0000-000000000000, auth: {cred}}}\n"
        ));
        let (_, hub) = fleet(&format!("  kubernetes:\n    members: [{{name: m1}}]\n    hub:\n      auth:\n        azure: {cred}\n"));
        let (_, pips) = fleet(&format!(
            "  kubernetes:\n    source: hub\n    publicIPs:\n      auth: {cred}\n"
        ));
        let fields = |d: &crate::Diagnostics, prefix: &str| -> Vec<(String, String)> {
            let mut v: Vec<(String, String)> = d
                .iter()
                .filter_map(|d| {
                    Some((
                        d.field.clone()?.strip_prefix(prefix)?.to_string(),
                        d.message.clone(),
                    ))
                })
                .collect();
            v.sort();
            v
        };
        let want = fields(&azure, "spec.azure.auth");
        if std::env::var_os("AZURE_TENANT_ID").is_none() {
            assert!(want.iter().any(|(f, _)| f == ".tenantId"), "{azure}");
        }
        assert!(want.iter().any(|(f, _)| f == ".clientSecret"), "{azure}");
        assert_eq!(
            fields(&hub, "spec.kubernetes.hub.auth.azure"),
            want,
            "{hub}"
        );
        assert_eq!(
            fields(&pips, "spec.kubernetes.publicIPs.auth"),
            want,
            "{pips}"
        );
        // Located at the line where each was written, not at the section.
        let line = |d: &crate::Diagnostics, f: &str| {
            d.iter()
                .find(|d| d.field.as_deref() == Some(f))
                .and_then(|d| d.location.line)
        };
        assert!(
            line(&hub, "spec.kubernetes.hub.auth.azure.clientSecret") == Some(10),
            "{hub}"
        );
    }

    #[test]
    fn unknown_source_is_rejected() {
        let (_, d) = fleet("  kubernetes:\n    source: both\n    members: [{name: m1}]\n");
        assert!(
            d.iter()
                .any(|d| d.field.as_deref() == Some("spec.kubernetes.source")),
            "{d}"
        );
    }
}
