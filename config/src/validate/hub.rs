//! `spec.kubernetes.source: hub`, `spec.kubernetes.publicIPs` and
//! `spec.kubernetes.hub.auth`: hub mode and Entra ID sign-in to the hub.
//!
//! Both carry an Azure credential written as `spec.azure.auth` is. It is judged by
//! the very rules of `spec.azure` ([`super::azure::validate`], run on a copy of the
//! settings whose `spec.azure` holds this credential), so a credential method
//! added there is accepted here too; the findings are reported at this field.

use std::time::Duration;

use crate::azure::{AzureAuth, DEFAULT_MAX_REQUESTS_PER_SECOND};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::hub::{
    HubAuth, HubMode, PublicIpLookup, AKS_AAD_SERVER_APP_ID, DEFAULT_PUBLIC_IP_REFRESH_SECONDS,
};
use crate::inputs::Inputs;
use crate::settings::{AzureAuthSpec, AzureSpec, SettingsDocument};

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
    let (arm_endpoint, authority_host, auth) = credential(
        doc,
        s,
        &p.auth,
        p.arm_endpoint.clone(),
        p.authority_host.clone(),
        &["spec", "kubernetes", "publicIPs"],
        (
            "spec.kubernetes.publicIPs",
            "spec.kubernetes.publicIPs.auth",
        ),
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
    let (_, authority_host, auth) = credential(
        doc,
        s,
        &a.azure,
        None,
        a.authority_host.clone(),
        &["spec", "kubernetes", "hub", "auth", "azure"],
        ("spec.kubernetes.hub.auth", "spec.kubernetes.hub.auth.azure"),
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

/// Judges `auth` (with its endpoints) as `spec.azure` would; findings are
/// reported at `path`, their fields renamed from `spec.azure` to `field` and from
/// `spec.azure.auth` to `auth_field`. Returns (ARM endpoint, authority, credential).
#[allow(clippy::too_many_arguments)]
fn credential(
    doc: &Doc,
    s: &SettingsDocument,
    auth: &AzureAuthSpec,
    arm_endpoint: Option<String>,
    authority_host: Option<String>,
    path: &[&str],
    (field, auth_field): (&str, &str),
    diags: &mut Diagnostics,
) -> Option<(String, String, AzureAuth)> {
    let mut copy = s.clone();
    copy.spec.clusters.clear();
    copy.spec.azure = Some(AzureSpec {
        // Any valid subscription: only the credential and endpoints are judged.
        subscription_id: "00000000-0000-0000-0000-000000000000".into(),
        arm_endpoint,
        authority_host,
        location: None,
        auth: auth.clone(),
        max_requests_per_second: None,
        resync_interval_seconds: None,
        request_timeout_seconds: None,
        gc_grace_seconds: None,
        adopt: None,
    });
    let mut found = Diagnostics::default();
    let judged = super::azure::validate(doc, &copy, &Inputs::default(), &mut found);
    for mut d in found.0 {
        d.field = d.field.map(|f| match f.strip_prefix("spec.azure.auth") {
            Some(rest) => format!("{auth_field}{rest}"),
            None => f.replacen("spec.azure", field, 1),
        });
        d.location = doc.location_of(path);
        diags.push(d);
    }
    judged.map(|m| (m.arm_endpoint, m.authority_host, m.auth))
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
    fn unknown_source_is_rejected() {
        let (_, d) = fleet("  kubernetes:\n    source: both\n    members: [{name: m1}]\n");
        assert!(
            d.iter()
                .any(|d| d.field.as_deref() == Some("spec.kubernetes.source")),
            "{d}"
        );
    }
}
