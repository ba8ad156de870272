//! The caps of [`crate::limits`] applied to input, and the `rrl` and `tcp` settings.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::inputs::Inputs;
use crate::limits::{self, *};
use crate::model::{Rrl, TcpLimits};
use crate::settings::SettingsDocument;

/// Validates `spec.rrl`; `trusted` (the health view's networks) is the default exemption.
pub(super) fn rrl(
    doc: &Doc,
    s: &SettingsDocument,
    trusted: &[ipnet::IpNet],
    diags: &mut Diagnostics,
) -> Rrl {
    let spec = &s.spec.rrl;
    let err = |diags: &mut Diagnostics, field: &str, msg: String| {
        diags.push(
            Diagnostic::error(doc.location_of(&["spec", "rrl", field]), msg)
                .object("FleetDNSConfig")
                .field(format!("spec.rrl.{field}")),
        );
    };
    let rate = spec.responses_per_second.unwrap_or(DEFAULT_RRL_RATE);
    if !(1..=MAX_RRL_RATE).contains(&rate) {
        err(
            diags,
            "responsesPerSecond",
            format!("{rate} is not allowed; allowed: 1 to {MAX_RRL_RATE} (set enabled: false to turn limiting off)"),
        );
    }
    let slip = spec.slip.unwrap_or(DEFAULT_RRL_SLIP);
    if slip > MAX_RRL_SLIP {
        err(
            diags,
            "slip",
            format!("{slip} is not allowed; allowed: 0 (drop every limited response) to {MAX_RRL_SLIP} (send every 10th truncated)"),
        );
    }
    let exempt_networks = match &spec.exempt_networks {
        None => trusted.to_vec(),
        Some(list) => {
            let mut out = Vec::new();
            for (i, raw) in list.iter().enumerate() {
                match super::settings::network(raw) {
                    Some(net) => out.push(net),
                    None => diags.push(
                        Diagnostic::error(
                            doc.location_of(&["spec", "rrl", "exemptNetworks"]),
                            format!("{raw:?} is not a network; allowed: CIDR networks like 10.0.0.0/8 or fd00::/8, or single addresses"),
                        )
                        .object("FleetDNSConfig")
                        .field(format!("spec.rrl.exemptNetworks[{i}]")),
                    ),
                }
            }
            out
        }
    };
    Rrl {
        enabled: spec.enabled.unwrap_or(true),
        responses_per_second: rate,
        slip,
        exempt_networks,
    }
}

/// Validates `spec.tcp`.
pub(super) fn tcp(doc: &Doc, s: &SettingsDocument, diags: &mut Diagnostics) -> TcpLimits {
    let spec = &s.spec.tcp;
    let d = TcpLimits::default();
    let mut check = |field: &str, value: Option<u32>, default: u32, max: u32, unit: &str| {
        let v = value.unwrap_or(default);
        if !(1..=max).contains(&v) {
            diags.push(
                Diagnostic::error(
                    doc.location_of(&["spec", "tcp", field]),
                    format!("{v} is not allowed; allowed: 1 to {max} {unit}"),
                )
                .object("FleetDNSConfig")
                .field(format!("spec.tcp.{field}")),
            );
        }
        v
    };
    let max_connections = check(
        "maxConnections",
        spec.max_connections,
        d.max_connections,
        MAX_TCP_CONNECTIONS,
        "connections",
    );
    let max_connections_per_client = check(
        "maxConnectionsPerClient",
        spec.max_connections_per_client,
        d.max_connections_per_client,
        MAX_TCP_CONNECTIONS,
        "connections",
    );
    let idle_timeout_seconds = check(
        "idleTimeoutSeconds",
        spec.idle_timeout_seconds,
        d.idle_timeout_seconds,
        MAX_TCP_TIMEOUT,
        "seconds",
    );
    let read_timeout_seconds = check(
        "readTimeoutSeconds",
        spec.read_timeout_seconds,
        d.read_timeout_seconds,
        MAX_TCP_TIMEOUT,
        "seconds",
    );
    TcpLimits {
        max_connections,
        max_connections_per_client,
        idle_timeout_seconds,
        read_timeout_seconds,
    }
}

/// Reports an object count over its cap. `kind` is the object kind, `first_over`
/// the document of the first object beyond the cap.
pub(super) fn count(
    kind: &str,
    found: usize,
    max: usize,
    first_over: Option<&Doc>,
    diags: &mut Diagnostics,
) -> bool {
    if found <= max {
        return true;
    }
    let location = first_over.map(Doc::location).unwrap_or_default();
    diags.push(
        Diagnostic::error(
            location,
            format!("{found} {kind} objects; allowed: at most {max} per config (this is the first one over the limit)"),
        )
        .object(kind.to_string()),
    );
    false
}

/// Reports profiles with more endpoints than [`limits::MAX_ENDPOINTS_PER_PROFILE`].
pub(super) fn endpoint_limit(
    inputs: &Inputs,
    profiles: &super::profiles::Profiles<'_>,
    diags: &mut Diagnostics,
) {
    for ((ns, name), (_, p)) in profiles {
        if p.endpoints.len() <= limits::MAX_ENDPOINTS_PER_PROFILE {
            continue;
        }
        let Some(obj) = inputs
            .profiles
            .iter()
            .find(|o| o.namespace() == *ns && o.name() == *name)
        else {
            continue;
        };
        diags.push(
            Diagnostic::error(
                obj.doc.location_of(&["metadata", "name"]),
                format!(
                    "the profile has {} endpoints (backends × member clusters exporting them); allowed: at most {} per profile, as Azure Traffic Manager",
                    p.endpoints.len(),
                    limits::MAX_ENDPOINTS_PER_PROFILE
                ),
            )
            .object(format!("TrafficManagerProfile {ns}/{name}"))
            .field("spec"),
        );
    }
}
