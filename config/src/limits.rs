//! Bounds on input, and the validation of the `rrl` and `tcp` settings.
//!
//! An authoritative server reads its config from whoever controls the file or
//! the Kubernetes API; every count that sizes work on the query path or at
//! compile time is capped here, and hitting a cap is an error that names the
//! file, the document, the object and the field, and what is allowed.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::model::{Rrl, TcpLimits};
use crate::settings::SettingsDocument;

// The object caps leave room for the 100,000-name benchmark (docs/BENCHMARKS.md),
// which needs about 2 GiB of memory and 25 s to load; beyond that, loads get
// slower than operators would accept, so the caps stop them with a clear error.

/// YAML documents in one config file.
pub const MAX_DOCUMENTS: usize = 1_000_000;
/// TrafficManagerProfile objects.
pub const MAX_PROFILES: usize = 200_000;
/// TrafficManagerBackend objects.
pub const MAX_BACKENDS: usize = 400_000;
/// ServiceExport objects.
pub const MAX_EXPORTS: usize = 400_000;
/// Member clusters in the settings document.
pub const MAX_CLUSTERS: usize = 1_000;
/// Endpoints of one profile (Azure Traffic Manager's limit per profile).
pub const MAX_ENDPOINTS_PER_PROFILE: usize = 200;

/// The label of a profile's health-view name, `_health.<owner>` (the DNS side
/// defines the name; the limit below must leave room for it).
pub const HEALTH_LABEL: &str = "_health";
/// Longest profile owner name: a DNS name is at most 253 characters, and
/// `_health.<owner>` must be one too.
pub const MAX_OWNER_NAME: usize = 253 - HEALTH_LABEL.len() - 1;

/// RRL default: responses per second per client prefix and response class.
pub const DEFAULT_RRL_RATE: u32 = 20;
/// RRL default slip: every second limited response is sent truncated.
pub const DEFAULT_RRL_SLIP: u32 = 2;
/// Largest `rrl.responsesPerSecond`.
pub const MAX_RRL_RATE: u32 = 100_000;
/// Largest `rrl.slip`.
pub const MAX_RRL_SLIP: u32 = 10;
/// Largest `tcp.maxConnections`.
pub const MAX_TCP_CONNECTIONS: u32 = 65_536;
/// Largest TCP timeout (seconds).
pub const MAX_TCP_TIMEOUT: u32 = 3_600;

/// Validates `spec.rrl`; `trusted` (the health view's networks) is the default exemption.
pub(crate) fn rrl(
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
                match crate::validate::network(raw) {
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
pub(crate) fn tcp(doc: &Doc, s: &SettingsDocument, diags: &mut Diagnostics) -> TcpLimits {
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
pub(crate) fn count(
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
