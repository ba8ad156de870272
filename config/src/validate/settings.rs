//! The settings document's own sections: listen addresses, the health view's
//! trusted networks and `spec.kubernetes` (clusters to watch, the status Lease).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::model::{ClusterConnection, KubernetesSettings, StatusMode};
use crate::settings::{KubernetesSpec, SettingsDocument};

use super::zone::dns_name;

/// Default DNS listen address: unprivileged, loopback.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5353";
/// Default admin HTTP listen address.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9353";
/// Client networks that may see the health view unless configured: loopback and private ranges.
pub const DEFAULT_TRUSTED_NETWORKS: &[&str] = &[
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
];

/// Default name of the status writers' Lease.
pub const DEFAULT_LEASE_NAME: &str = "fleetdns-status-writer";
/// Default lease duration.
pub const DEFAULT_LEASE_SECONDS: u32 = 15;

pub(super) fn kubernetes(
    doc: &Doc,
    k: &KubernetesSpec,
    diags: &mut Diagnostics,
) -> KubernetesSettings {
    let err = |diags: &mut Diagnostics, path: &[&str], field: String, msg: String| {
        diags.push(
            Diagnostic::error(doc.location_of(path), msg)
                .object("FleetDNSConfig")
                .field(field),
        );
    };
    if k.members.is_empty() && k.source.as_deref() != Some("hub") {
        err(
            diags,
            &["spec", "kubernetes"],
            "spec.kubernetes.members".into(),
            "no member clusters; allowed: a list of {name, context} for the clusters that run the Services (the hub's context may be listed as a member too)".into(),
        );
    }
    let mut names = BTreeSet::new();
    let mut members = Vec::new();
    for (i, m) in k.members.iter().enumerate() {
        let field = format!("spec.kubernetes.members[{i}].name");
        match dns_name(&m.name) {
            Ok(_) if m.name.contains('.') || m.name != m.name.to_ascii_lowercase() => err(
                diags,
                &["spec", "kubernetes", "members", "name"],
                field,
                format!(
                    "cluster name {:?}: allowed: one lower-case DNS label (letters, digits, '-')",
                    m.name
                ),
            ),
            Ok(_) if !names.insert(m.name.clone()) => err(
                diags,
                &["spec", "kubernetes", "members", "name"],
                field,
                format!(
                    "cluster {:?} is listed twice; allowed: unique member names",
                    m.name
                ),
            ),
            Ok(_) => members.push(ClusterConnection {
                name: m.name.clone(),
                context: m.context.clone(),
                namespaces: m.namespaces.clone(),
            }),
            Err(e) => err(
                diags,
                &["spec", "kubernetes", "members", "name"],
                field,
                format!("cluster name {e}"),
            ),
        }
    }
    let lease_duration = k
        .status
        .lease_duration_seconds
        .unwrap_or(DEFAULT_LEASE_SECONDS);
    if !(2..=300).contains(&lease_duration) {
        err(
            diags,
            &["spec", "kubernetes", "status", "leaseDurationSeconds"],
            "spec.kubernetes.status.leaseDurationSeconds".into(),
            format!("{lease_duration} is not allowed; allowed: 2 to 300 seconds"),
        );
    }
    let status_mode = match k.status.mode.as_deref() {
        None | Some("auto") => StatusMode::Auto,
        Some("observer") => StatusMode::Observer,
        Some("owner") => StatusMode::Owner,
        Some(other) => {
            err(
                diags,
                &["spec", "kubernetes", "status", "mode"],
                "spec.kubernetes.status.mode".into(),
                format!("{other:?} is not a status mode; allowed: \"observer\" (write only fleetdns's own condition, beside Fleet's controllers), \"owner\" (write fleet-networking's fields), \"auto\" (observer where another field manager owns them; the default)"),
            );
            StatusMode::Auto
        }
    };
    let lease_namespace = k
        .status
        .lease_namespace
        .clone()
        .or_else(|| {
            std::env::var("POD_NAMESPACE")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "default".to_string());
    KubernetesSettings {
        kubeconfig: k.kubeconfig.clone(),
        hub: ClusterConnection {
            name: "hub".to_string(),
            context: k.hub.context.clone(),
            namespaces: k.hub.namespaces.clone(),
        },
        members,
        write_status: k.status.enabled.unwrap_or(true),
        manage_service_exports: k.status.manage_service_exports.unwrap_or(false),
        lease_namespace,
        lease_name: k
            .status
            .lease_name
            .clone()
            .unwrap_or_else(|| DEFAULT_LEASE_NAME.to_string()),
        lease_duration: std::time::Duration::from_secs(u64::from(lease_duration.clamp(2, 300))),
        // Filled in by `super::hub`, which needs the whole settings document.
        hub_mode: None,
        hub_auth: None,
        status_mode,
    }
}

pub(super) fn listen(s: &SettingsDocument) -> Vec<SocketAddr> {
    if s.spec.listen.is_empty() {
        vec![DEFAULT_LISTEN
            .parse()
            .expect("DEFAULT_LISTEN is a socket address")]
    } else {
        s.spec.listen.clone()
    }
}

pub(super) fn trusted_networks(
    doc: &Doc,
    s: &SettingsDocument,
    diags: &mut Diagnostics,
) -> Vec<ipnet::IpNet> {
    let given: Vec<String> = match &s.spec.health_view.trusted_networks {
        Some(list) => list.clone(),
        None => DEFAULT_TRUSTED_NETWORKS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let mut out = Vec::new();
    for (i, raw) in given.iter().enumerate() {
        match network(raw) {
            Some(net) => out.push(net),
            None => diags.push(
                Diagnostic::error(
                    doc.location_of(&["spec", "healthView", "trustedNetworks"]),
                    format!("{raw:?} is not a network; allowed: CIDR networks like 10.0.0.0/8 or fd00::/8, or single addresses"),
                )
                .object("FleetDNSConfig")
                .field(format!("spec.healthView.trustedNetworks[{i}]")),
            ),
        }
    }
    out
}

/// A CIDR network, or a bare address meaning that one host; host bits cleared.
pub(super) fn network(raw: &str) -> Option<ipnet::IpNet> {
    raw.parse::<ipnet::IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(ipnet::IpNet::from))
        .ok()
        .map(|n| n.trunc())
}
