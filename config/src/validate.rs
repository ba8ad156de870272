//! Inputs → `Fleet`, or precise diagnostics.
//!
//! This is the only place input is judged. It applies fleet-networking's defaults
//! and rules (monitorConfig, the weight annotation, the weight formula, the
//! one-namespace rule between backend, profile and service) plus what a DNS zone
//! needs (valid names, unique owner names, glue). Everything found is reported at
//! once; any error means no `Fleet`, and the caller keeps its last good one.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::crd::v1beta1::{MonitorProtocol, TrafficManagerBackendSpec, TrafficManagerProfileSpec};
use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::document::Doc;
use crate::file::{Inputs, Object};
use crate::limits;
use crate::model::{
    ClusterConnection, Endpoint, Fleet, KubernetesSettings, MonitorConfig, NameServer, Profile,
    Protocol, Soa, Target, ZoneSettings,
};
use crate::settings::{KubernetesSpec, SettingsDocument};
use crate::weight;

/// Answer TTL when neither the settings nor the profile give one (fleet-networking's).
pub const DEFAULT_TTL: u32 = 60;
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
/// Largest TTL allowed by RFC 2181 §8.
pub const MAX_TTL: u32 = 2_147_483_647;

/// Annotation on a TrafficManagerProfile: answer TTL in seconds.
pub const TTL_ANNOTATION: &str = "fleetdns.io/ttl";
/// Annotation on a TrafficManagerProfile: `"true"` serves nothing when all endpoints are Degraded.
pub const FAIL_CLOSED_ANNOTATION: &str = "fleetdns.io/fail-closed";
/// Annotation on a TrafficManagerProfile: probe interval in seconds, 1-30, overriding
/// `intervalInSeconds` (which only allows 10 or 30) for failover in a few seconds.
pub const PROBE_INTERVAL_ANNOTATION: &str = "fleetdns.io/probe-interval-seconds";
/// Annotation on a TrafficManagerProfile: probe timeout in seconds, 1 to the interval.
pub const PROBE_TIMEOUT_ANNOTATION: &str = "fleetdns.io/probe-timeout-seconds";
/// Annotation on a TrafficManagerProfile: HTTP status codes counted as healthy, as
/// Traffic Manager's expectedStatusCodeRanges: `"200-299,301"` (at most 8 ranges).
pub const EXPECTED_STATUS_ANNOTATION: &str = "fleetdns.io/expected-status-codes";
/// Annotation on a TrafficManagerProfile: `"true"` validates HTTPS certificates.
pub const VERIFY_TLS_ANNOTATION: &str = "fleetdns.io/verify-tls";
/// Annotation on a ServiceExport: `"true"` never probes its endpoints and always serves them.
pub const ALWAYS_SERVE_ANNOTATION: &str = "fleetdns.io/always-serve";
/// Annotation on a ServiceExport: comma-separated member clusters it applies to
/// (default: every cluster that runs the Service), standing in for per-cluster placement.
pub const CLUSTERS_ANNOTATION: &str = "fleetdns.io/clusters";

/// Builds the `Fleet`, pushing every finding into `diags`. Returns `None` when
/// nothing usable could be built; the caller must still check `diags.has_errors()`.
pub fn fleet(inputs: &Inputs, diags: &mut Diagnostics) -> Option<Fleet> {
    let (settings_doc, settings) = match inputs.settings.as_slice() {
        [one] => one,
        [] => {
            let file = inputs
                .profiles
                .first()
                .map(|p| p.doc.file.to_path_buf())
                .unwrap_or_default();
            diags.push(Diagnostic::error(
                crate::diagnostic::Location { file, ..Default::default() },
                "no FleetDNSConfig document: add one with apiVersion: fleetdns.io/v1alpha1, kind: FleetDNSConfig and spec.zone (see examples/fleet.yaml)",
            ));
            return None;
        }
        [first, rest @ ..] => {
            for (doc, _) in rest {
                diags.push(Diagnostic::error(
                    doc.location(),
                    format!(
                        "a second FleetDNSConfig document; allowed: exactly one (the first is document {})",
                        first.0.index
                    ),
                ));
            }
            return None;
        }
    };
    let counts = [
        (
            "TrafficManagerProfile",
            inputs.profiles.len(),
            limits::MAX_PROFILES,
            inputs.profiles.get(limits::MAX_PROFILES).map(|o| &o.doc),
        ),
        (
            "TrafficManagerBackend",
            inputs.backends.len(),
            limits::MAX_BACKENDS,
            inputs.backends.get(limits::MAX_BACKENDS).map(|o| &o.doc),
        ),
        (
            "ServiceExport",
            inputs.exports.len(),
            limits::MAX_EXPORTS,
            inputs.exports.get(limits::MAX_EXPORTS).map(|o| &o.doc),
        ),
    ];
    let mut within = true;
    for (kind, found, max, first_over) in counts {
        within &= limits::count(kind, found, max, first_over, diags);
    }
    if settings.spec.clusters.len() > limits::MAX_CLUSTERS {
        diags.push(
            Diagnostic::error(
                settings_doc.location_of(&["spec", "clusters"]),
                format!(
                    "{} member clusters; allowed: at most {}",
                    settings.spec.clusters.len(),
                    limits::MAX_CLUSTERS
                ),
            )
            .object("FleetDNSConfig")
            .field("spec.clusters"),
        );
        within = false;
    }
    if !within {
        return None;
    }
    let zone = zone_settings(settings_doc, settings, diags)?;
    let listen = listen(settings);
    let clusters = clusters(settings_doc, settings, diags);
    let exports = exports(inputs, &clusters, diags);
    let mut profiles = profiles(inputs, &zone, diags);
    backends(inputs, &mut profiles, &exports, diags);
    endpoint_limit(inputs, &profiles, diags);

    let mut profiles: Vec<Profile> = profiles.into_values().map(|(_, p)| p).collect();
    for p in &mut profiles {
        p.endpoints.sort_by(|a, b| a.id.cmp(&b.id));
    }
    profiles.sort_by(|a, b| a.owner.cmp(&b.owner));
    let trusted_networks = trusted_networks(settings_doc, settings, diags);
    let admin_listen = settings.spec.admin.listen.unwrap_or_else(|| {
        DEFAULT_ADMIN_LISTEN
            .parse()
            .expect("DEFAULT_ADMIN_LISTEN is a socket address")
    });
    let rrl = limits::rrl(settings_doc, settings, &trusted_networks, diags);
    let tcp = limits::tcp(settings_doc, settings, diags);
    let kubernetes = settings
        .spec
        .kubernetes
        .as_ref()
        .map(|k| kubernetes(settings_doc, k, diags));
    let azure = crate::azure::validate(settings_doc, settings, inputs, diags);
    let mut fleet = Fleet {
        zone,
        listen,
        profiles,
        trusted_networks,
        admin_listen,
        rrl,
        tcp,
        kubernetes,
        observed: Default::default(),
        azure,
    };
    if settings.spec.soa.serial.is_none() {
        fleet.zone.soa.serial = content_serial(&fleet);
    }
    Some(fleet)
}

// === kubernetes ===

/// Default name of the status writers' Lease.
pub const DEFAULT_LEASE_NAME: &str = "fleetdns-status-writer";
/// Default lease duration.
pub const DEFAULT_LEASE_SECONDS: u32 = 15;

fn kubernetes(doc: &Doc, k: &KubernetesSpec, diags: &mut Diagnostics) -> KubernetesSettings {
    let err = |diags: &mut Diagnostics, path: &[&str], field: String, msg: String| {
        diags.push(
            Diagnostic::error(doc.location_of(path), msg)
                .object("FleetDNSConfig")
                .field(field),
        );
    };
    if k.members.is_empty() {
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
    }
}

// === names ===

/// Checks a DNS name and returns it in lower case without the trailing dot.
pub fn dns_name(raw: &str) -> Result<String, String> {
    const ALLOWED: &str = "allowed: a domain name of dot-separated labels of 1-63 letters, digits, hyphens or underscores (no leading or trailing hyphen), at most 253 characters";
    let name = raw.strip_suffix('.').unwrap_or(raw);
    if name.is_empty() {
        return Err(format!("{raw:?} is empty; {ALLOWED}"));
    }
    if name.len() > 253 {
        return Err(format!(
            "{raw:?} is {} characters long; {ALLOWED}",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("{raw:?} has an empty label; {ALLOWED}"));
        }
        if label.len() > 63 {
            return Err(format!(
                "{raw:?} has the label {label:?} of {} characters; {ALLOWED}",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("{raw:?} contains {c:?}; {ALLOWED}"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "{raw:?} has the label {label:?} starting or ending with a hyphen; {ALLOWED}"
            ));
        }
    }
    Ok(name.to_ascii_lowercase())
}

fn is_in_zone(name: &str, apex: &str) -> bool {
    name == apex || name.strip_suffix(apex).is_some_and(|p| p.ends_with('.'))
}

// === settings ===

fn zone_settings(doc: &Doc, s: &SettingsDocument, diags: &mut Diagnostics) -> Option<ZoneSettings> {
    let object = "FleetDNSConfig";
    let err = |diags: &mut Diagnostics, path: &[&str], field: &str, msg: String| {
        diags.push(
            Diagnostic::error(doc.location_of(path), msg)
                .object(object)
                .field(field),
        );
    };
    let apex = match dns_name(&s.spec.zone) {
        Ok(a) => a,
        Err(e) => {
            err(
                diags,
                &["spec", "zone"],
                "spec.zone",
                format!("the zone apex {e}"),
            );
            return None;
        }
    };
    let default_ttl = s.spec.ttl.unwrap_or(DEFAULT_TTL);
    if default_ttl > MAX_TTL {
        err(
            diags,
            &["spec", "ttl"],
            "spec.ttl",
            format!("{default_ttl} is too large; allowed: 0 to {MAX_TTL}"),
        );
    }
    let mut name_servers = Vec::new();
    if s.spec.name_servers.is_empty() {
        err(
            diags,
            &["spec"],
            "spec.nameServers",
            format!("no name servers; allowed: a list of at least one {{name, addresses}}, e.g. [{{name: ns1.{apex}, addresses: [127.0.0.1]}}]"),
        );
    }
    for (i, ns) in s.spec.name_servers.iter().enumerate() {
        let field = format!("spec.nameServers[{i}]");
        let path = ["spec", "nameServers", "name"];
        let name = match dns_name(&ns.name) {
            Ok(n) => n,
            Err(e) => {
                err(diags, &path, &format!("{field}.name"), e);
                continue;
            }
        };
        let mut addresses = Vec::new();
        for a in &ns.addresses {
            match a.parse::<IpAddr>() {
                Ok(ip) => addresses.push(ip),
                Err(_) => err(
                    diags,
                    &["spec", "nameServers", "addresses"],
                    &format!("{field}.addresses"),
                    format!("{a:?} is not an IP address; allowed: IPv4 or IPv6 addresses"),
                ),
            }
        }
        if is_in_zone(&name, &apex) && addresses.is_empty() {
            err(
                diags,
                &path,
                &format!("{field}.addresses"),
                format!("{name} is inside the zone {apex}, so it needs glue; allowed: one or more IP addresses in addresses"),
            );
        }
        if name_servers.iter().any(|n: &NameServer| n.name == name) {
            err(
                diags,
                &path,
                &format!("{field}.name"),
                format!("{name} is listed twice; allowed: each name server once"),
            );
            continue;
        }
        name_servers.push(NameServer { name, addresses });
    }
    let soa_spec = &s.spec.soa;
    let mname = match &soa_spec.mname {
        Some(m) => dns_name(m)
            .map_err(|e| err(diags, &["spec", "soa", "mname"], "spec.soa.mname", e))
            .ok()?,
        None => name_servers
            .first()
            .map(|n| n.name.clone())
            .unwrap_or_else(|| format!("ns1.{apex}")),
    };
    let rname = match &soa_spec.rname {
        Some(r) => {
            let r = match r.split_once('@') {
                Some((local, domain)) if !local.contains('.') => format!("{local}.{domain}"),
                Some(_) => {
                    err(diags, &["spec", "soa", "rname"], "spec.soa.rname", format!("{r:?}: a mailbox with a dot before @ cannot be written as a plain domain name; allowed: hostmaster@{apex} or hostmaster.{apex}"));
                    return None;
                }
                None => r.clone(),
            };
            dns_name(&r)
                .map_err(|e| err(diags, &["spec", "soa", "rname"], "spec.soa.rname", e))
                .ok()?
        }
        None => format!("hostmaster.{apex}"),
    };
    let soa = Soa {
        mname,
        rname,
        serial: soa_spec.serial.unwrap_or(0),
        refresh: soa_spec.refresh.unwrap_or(14_400),
        retry: soa_spec.retry.unwrap_or(3_600),
        expire: soa_spec.expire.unwrap_or(1_209_600),
        minimum: soa_spec.minimum.unwrap_or(60),
        ttl: soa_spec.ttl.unwrap_or(3_600),
    };
    for (field, value) in [("ttl", soa.ttl), ("minimum", soa.minimum)] {
        if value > MAX_TTL {
            err(
                diags,
                &["spec", "soa", field],
                &format!("spec.soa.{field}"),
                format!("{value} is too large; allowed: 0 to {MAX_TTL}"),
            );
        }
    }
    Some(ZoneSettings {
        apex,
        soa,
        name_servers,
        default_ttl,
    })
}

fn listen(s: &SettingsDocument) -> Vec<SocketAddr> {
    if s.spec.listen.is_empty() {
        vec![DEFAULT_LISTEN
            .parse()
            .expect("DEFAULT_LISTEN is a socket address")]
    } else {
        s.spec.listen.clone()
    }
}

fn trusted_networks(doc: &Doc, s: &SettingsDocument, diags: &mut Diagnostics) -> Vec<ipnet::IpNet> {
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
pub(crate) fn network(raw: &str) -> Option<ipnet::IpNet> {
    raw.parse::<ipnet::IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(ipnet::IpNet::from))
        .ok()
        .map(|n| n.trunc())
}

/// Per cluster: its services' targets, keyed by (namespace, name).
type Clusters = BTreeMap<String, BTreeMap<(String, String), Target>>;

fn clusters(doc: &Doc, s: &SettingsDocument, diags: &mut Diagnostics) -> Clusters {
    let mut out = Clusters::new();
    for (i, c) in s.spec.clusters.iter().enumerate() {
        let field = format!("spec.clusters[{i}]");
        let err = |diags: &mut Diagnostics, path: &[&str], f: String, msg: String| {
            diags.push(
                Diagnostic::error(doc.location_of(path), msg)
                    .object("FleetDNSConfig")
                    .field(f),
            );
        };
        if let Err(e) = dns_name(&c.name) {
            err(
                diags,
                &["spec", "clusters", "name"],
                format!("{field}.name"),
                format!("cluster name {e}"),
            );
            continue;
        }
        if out.contains_key(&c.name) {
            err(
                diags,
                &["spec", "clusters", "name"],
                format!("{field}.name"),
                format!(
                    "cluster {:?} is listed twice; allowed: unique cluster names",
                    c.name
                ),
            );
            continue;
        }
        let mut services = BTreeMap::new();
        for (j, svc) in c.services.iter().enumerate() {
            let sfield = format!("{field}.services[{j}]");
            let key = (svc.namespace.clone(), svc.name.clone());
            if services.contains_key(&key) {
                err(
                    diags,
                    &["spec", "clusters", "services", "name"],
                    format!("{sfield}.name"),
                    format!(
                        "Service {}/{} is listed twice in cluster {}",
                        svc.namespace, svc.name, c.name
                    ),
                );
                continue;
            }
            match target(&svc.load_balancer) {
                Ok(t) => {
                    services.insert(key, t);
                }
                Err(e) => err(
                    diags,
                    &["spec", "clusters", "services", "loadBalancer"],
                    format!("{sfield}.loadBalancer"),
                    format!(
                        "Service {}/{} in cluster {}: {e}",
                        svc.namespace, svc.name, c.name
                    ),
                ),
            }
        }
        out.insert(c.name.clone(), services);
    }
    out
}

/// Turns load-balancer ingress entries into a target.
fn target(entries: &[String]) -> Result<Target, String> {
    const ALLOWED: &str = "allowed: one IPv4 address, one IPv6 address, both, or one host name";
    let mut v4: Option<Ipv4Addr> = None;
    let mut v6: Option<Ipv6Addr> = None;
    let mut host: Option<String> = None;
    for e in entries {
        match e.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) if v4.is_none() => v4 = Some(a),
            Ok(IpAddr::V6(a)) if v6.is_none() => v6 = Some(a),
            Ok(_) => {
                return Err(format!(
                    "more than one address of the same family ({e}); {ALLOWED}"
                ))
            }
            Err(_) => {
                let h = dns_name(e)
                    .map_err(|m| format!("{e:?} is neither an IP address nor a host name: {m}"))?;
                if host.is_some() {
                    return Err(format!("more than one host name; {ALLOWED}"));
                }
                host = Some(h);
            }
        }
    }
    match (v4, v6, host) {
        (None, None, None) => Err(format!("no load-balancer address; {ALLOWED}")),
        (None, None, Some(h)) => Ok(Target::Host(h)),
        (_, _, Some(_)) => Err(format!("a host name mixed with addresses; {ALLOWED}")),
        (v4, v6, None) => Ok(Target::Addresses { v4, v6 }),
    }
}

// === exports ===

/// One exporting cluster of a Service.
#[derive(Clone, Debug)]
struct Export {
    cluster: String,
    target: Target,
    weight: u32,
    always_serve: bool,
    /// Restricted to named clusters (wins over an export for all clusters).
    scoped: bool,
}

/// Exports per (namespace, service): the clusters that export it.
type Exports = BTreeMap<(String, String), Vec<Export>>;

fn exports(inputs: &Inputs, clusters: &Clusters, diags: &mut Diagnostics) -> Exports {
    let mut out = Exports::new();
    let mut seen = BTreeMap::new();
    for e in &inputs.exports {
        let ns = e.namespace().to_string();
        let name = e.name().to_string();
        let object = format!("ServiceExport {ns}/{name}");
        let weight_path = ["metadata", "annotations", crate::crd::WEIGHT_ANNOTATION];
        let weight_field = format!("metadata.annotations[{:?}]", crate::crd::WEIGHT_ANNOTATION);
        if let Some(prev) = seen.insert(
            (
                ns.clone(),
                name.clone(),
                e.annotation(CLUSTERS_ANNOTATION).map(str::to_string),
            ),
            e.doc.index,
        ) {
            diags.push(Diagnostic::error(e.doc.location_of(&["metadata", "name"]), format!("defined twice (first in document {prev}); allowed: one ServiceExport per Service (per cluster set)")).object(object).field("metadata.name"));
            continue;
        }
        let weight = match weight::parse_export_weight(e.annotation(crate::crd::WEIGHT_ANNOTATION))
        {
            Ok(w) => w,
            Err(msg) => {
                diags.push(
                    Diagnostic::error(e.doc.location_of(&weight_path), msg)
                        .object(object)
                        .field(weight_field),
                );
                continue;
            }
        };
        let always_serve = match bool_annotation(e, ALWAYS_SERVE_ANNOTATION, &object, diags) {
            Some(b) => b,
            None => continue,
        };
        let scope: Option<Vec<String>> = e.annotation(CLUSTERS_ANNOTATION).map(|v| {
            v.split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect()
        });
        if let Some(scope) = &scope {
            let unknown: Vec<&String> = scope
                .iter()
                .filter(|c| !clusters.contains_key(*c))
                .collect();
            if !unknown.is_empty() || scope.is_empty() {
                let known: Vec<&String> = clusters.keys().collect();
                diags.push(
                    Diagnostic::error(e.doc.location_of(&["metadata", "annotations", CLUSTERS_ANNOTATION]), format!("unknown cluster(s) {unknown:?}; allowed: a comma-separated list of clusters from spec.clusters: {known:?}"))
                        .object(object)
                        .field(format!("metadata.annotations[{CLUSTERS_ANNOTATION:?}]")),
                );
                continue;
            }
        }
        let in_scope = |c: &String| scope.as_ref().is_none_or(|s| s.contains(c));
        let key = (ns.clone(), name.clone());
        let running: Vec<(&String, &Target)> = clusters
            .iter()
            .filter(|(c, _)| in_scope(c))
            .filter_map(|(c, svcs)| svcs.get(&key).map(|t| (c, t)))
            .collect();
        if running.is_empty() {
            let there: BTreeSet<&String> = clusters
                .values()
                .flat_map(|svcs| svcs.keys())
                .filter(|(sns, _)| *sns == ns)
                .map(|(_, n)| n)
                .collect();
            let hint = if there.is_empty() {
                format!("no member cluster runs any Service in namespace {ns}")
            } else {
                format!(
                    "Services in namespace {ns}: {}",
                    there
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            diags.push(
                Diagnostic::error(
                    e.doc.location_of(&["metadata", "name"]),
                    format!("in fleet a ServiceExport must carry its Service's name, and no member cluster has a Service named {name:?} in namespace {ns} ({hint}); rename the ServiceExport to the Service it exports, or add the Service with its loadBalancer addresses under spec.clusters[].services of the FleetDNSConfig"),
                )
                .object(object)
                .field("metadata.name"),
            );
            continue;
        }
        if weight == 0 {
            // Weight 0 unexports the service (fleet-networking §1.4).
            continue;
        }
        let list = out.entry(key).or_default();
        for (cluster, target) in running {
            let export = Export {
                cluster: cluster.clone(),
                target: target.clone(),
                weight,
                always_serve,
                scoped: scope.is_some(),
            };
            match list.iter_mut().find(|x| x.cluster == *cluster) {
                Some(existing) if existing.scoped && export.scoped => {
                    diags.push(Diagnostic::error(e.doc.location_of(&["metadata", "annotations", CLUSTERS_ANNOTATION]), format!("cluster {cluster} is already named by another ServiceExport {ns}/{name}; allowed: each cluster in at most one cluster-scoped ServiceExport per Service")).object(object.clone()).field(format!("metadata.annotations[{CLUSTERS_ANNOTATION:?}]")));
                }
                Some(existing) if export.scoped => *existing = export,
                Some(_) => {}
                None => list.push(export),
            }
        }
    }
    out
}

fn bool_annotation<S>(
    o: &Object<S>,
    key: &str,
    object: &str,
    diags: &mut Diagnostics,
) -> Option<bool> {
    match o.annotation(key) {
        None | Some("false") => Some(false),
        Some("true") => Some(true),
        Some(other) => {
            diags.push(
                Diagnostic::error(
                    o.doc.location_of(&["metadata", "annotations", key]),
                    format!("{other:?} is not allowed; allowed: \"true\" or \"false\""),
                )
                .object(object.to_string())
                .field(format!("metadata.annotations[{key:?}]")),
            );
            None
        }
    }
}

// === profiles ===

/// Profiles keyed by (namespace, name), with the document they came from.
type Profiles = BTreeMap<(String, String), (usize, Profile)>;

fn profiles(inputs: &Inputs, zone: &ZoneSettings, diags: &mut Diagnostics) -> Profiles {
    let mut out = Profiles::new();
    let mut owners: BTreeMap<String, (String, usize)> = BTreeMap::new();
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
        if let Some((other, line)) = owners.get(&owner) {
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
        owners.insert(
            owner.clone(),
            (object.clone(), p.doc.line_of(&["metadata", "name"])),
        );
        let Some(monitor) = monitor_config(p, &object, diags) else {
            continue;
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
                    endpoints: Vec::new(),
                },
            ),
        );
    }
    out
}

/// Applies fleet-networking's defaulter and the v1beta1 CEL rules, then the
/// fleetdns annotations (fast intervals, expected status codes, TLS verification).
fn monitor_config(
    p: &Object<TrafficManagerProfileSpec>,
    object: &str,
    diags: &mut Diagnostics,
) -> Option<MonitorConfig> {
    let m = p.spec.monitor_config.clone().unwrap_or_default();
    let path = |f: &'static str| ["spec", "monitorConfig", f];
    let fail = |diags: &mut Diagnostics, at: &[&str], field: String, msg: String| {
        diags.push(
            Diagnostic::error(p.doc.location_of(at), msg)
                .object(object.to_string())
                .field(field),
        );
    };
    let interval = m.interval_in_seconds.unwrap_or(30);
    let max_timeout = if interval == 10 { 9 } else { 10 };
    let timeout = m.timeout_in_seconds.unwrap_or(max_timeout);
    if !(5..=max_timeout).contains(&timeout) {
        fail(diags, &path("timeoutInSeconds"), "spec.monitorConfig.timeoutInSeconds".into(), format!("{timeout} is not allowed with intervalInSeconds {interval}; allowed: 5 to {max_timeout} (interval 30 allows 5-10, interval 10 allows 5-9)"));
        return None;
    }
    let port = m.port.unwrap_or(80);
    let Ok(port) =
        u16::try_from(port)
            .map_err(|_| ())
            .and_then(|p| if p == 0 { Err(()) } else { Ok(p) })
    else {
        fail(
            diags,
            &path("port"),
            "spec.monitorConfig.port".into(),
            format!("{port} is not a port; allowed: 1 to 65535"),
        );
        return None;
    };
    let protocol = match m.protocol.unwrap_or(MonitorProtocol::HTTP) {
        MonitorProtocol::HTTP => Protocol::Http,
        MonitorProtocol::HTTPS => Protocol::Https,
        MonitorProtocol::TCP => Protocol::Tcp,
    };

    let ann_path = |key: &'static str| ["metadata", "annotations", key];
    let ann_field = |key: &str| format!("metadata.annotations[{key:?}]");
    let seconds = |diags: &mut Diagnostics,
                   key: &'static str,
                   max: u32|
     -> Result<Option<u32>, ()> {
        match p.annotation(key) {
            None => Ok(None),
            Some(raw) => match raw.parse::<u32>() {
                Ok(v) if (1..=max).contains(&v) => Ok(Some(v)),
                _ => {
                    fail(diags, &ann_path(key), ann_field(key), format!("{raw:?} is not allowed; allowed: an integer number of seconds from 1 to {max}"));
                    Err(())
                }
            },
        }
    };
    let (mut interval, mut timeout) = (interval as u32, timeout as u32);
    if let Some(fast) = seconds(diags, PROBE_INTERVAL_ANNOTATION, 30).ok()? {
        interval = fast;
        timeout = timeout.min(fast);
    }
    if let Some(t) = seconds(diags, PROBE_TIMEOUT_ANNOTATION, interval).ok()? {
        timeout = t;
    }
    let expected_status = match p.annotation(EXPECTED_STATUS_ANNOTATION) {
        None => vec![(200, 200)],
        Some(raw) => match status_ranges(raw) {
            Ok(r) if protocol != Protocol::Tcp => r,
            Ok(_) => {
                fail(diags, &ann_path(EXPECTED_STATUS_ANNOTATION), ann_field(EXPECTED_STATUS_ANNOTATION), "expected status codes apply to HTTP and HTTPS probes only; remove the annotation or use protocol HTTP/HTTPS".into());
                return None;
            }
            Err(e) => {
                fail(
                    diags,
                    &ann_path(EXPECTED_STATUS_ANNOTATION),
                    ann_field(EXPECTED_STATUS_ANNOTATION),
                    e,
                );
                return None;
            }
        },
    };
    let verify_tls = bool_annotation(p, VERIFY_TLS_ANNOTATION, object, diags)?;
    let custom_headers = m
        .custom_headers
        .unwrap_or_default()
        .into_iter()
        .map(|h| (h.name, h.value))
        .collect();
    Some(MonitorConfig {
        protocol,
        port,
        path: m.path.unwrap_or_else(|| "/".to_string()),
        interval_seconds: interval,
        timeout_seconds: timeout,
        tolerated_failures: m.tolerated_number_of_failures.unwrap_or(3) as u32,
        custom_headers,
        expected_status,
        verify_tls,
    })
}

/// Parses `"200-299,301"` into inclusive ranges (Traffic Manager: at most 8, codes 100-599).
pub fn status_ranges(raw: &str) -> Result<Vec<(u16, u16)>, String> {
    const ALLOWED: &str = "allowed: up to 8 comma-separated codes or ranges of codes from 100 to 599, like \"200-299,301\"";
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let parse = |s: &str| {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
        };
        match (parse(lo), parse(hi)) {
            (Some(lo), Some(hi)) if lo <= hi => out.push((lo, hi)),
            _ => {
                return Err(format!(
                    "{part:?} in {raw:?} is not a status code or range; {ALLOWED}"
                ))
            }
        }
    }
    if out.len() > 8 {
        return Err(format!("{} ranges given; {ALLOWED}", out.len()));
    }
    Ok(out)
}

// === backends ===

fn backends(inputs: &Inputs, profiles: &mut Profiles, exports: &Exports, diags: &mut Diagnostics) {
    let mut seen = BTreeMap::new();
    for b in &inputs.backends {
        let ns = b.namespace().to_string();
        let name = b.name().to_string();
        let object = format!("TrafficManagerBackend {ns}/{name}");
        if let Some(prev) = seen.insert((ns.clone(), name.clone()), b.doc.index) {
            diags.push(Diagnostic::error(b.doc.location_of(&["metadata", "name"]), format!("defined twice (first in document {prev}); allowed: one object per namespace and name")).object(object).field("metadata.name"));
            continue;
        }
        let TrafficManagerBackendSpec {
            profile,
            backend,
            weight,
        } = &b.spec;
        let Some((_, target_profile)) = profiles.get_mut(&(ns.clone(), profile.name.clone()))
        else {
            let known: Vec<String> = inputs
                .profiles
                .iter()
                .filter(|p| p.namespace() == ns)
                .map(|p| p.name().to_string())
                .collect();
            let known = if known.is_empty() {
                format!("none in namespace {ns}")
            } else {
                format!("profiles in namespace {ns}: {}", known.join(", "))
            };
            diags.push(
                Diagnostic::error(b.doc.location_of(&["spec", "profile", "name"]), format!("no TrafficManagerProfile named {:?} in namespace {ns} (a backend must be in its profile's namespace); {known}", profile.name))
                    .object(object)
                    .field("spec.profile.name"),
            );
            continue;
        };
        let backend_weight = weight.unwrap_or(i64::from(weight::DEFAULT_BACKEND_WEIGHT)) as u32;
        let service_key = (ns.clone(), backend.name.clone());
        let Some(list) = exports.get(&service_key) else {
            let any_export = inputs
                .exports
                .iter()
                .any(|e| e.namespace() == ns && e.name() == backend.name);
            if any_export {
                diags.push(
                    Diagnostic::error(b.doc.location_of(&["spec", "backend", "name"]), format!("every ServiceExport of Service {ns}/{} has weight 0, so the backend has no endpoints", backend.name))
                        .severity(Severity::Warning)
                        .object(object)
                        .field("spec.backend.name"),
                );
            } else {
                diags.push(
                    Diagnostic::error(b.doc.location_of(&["spec", "backend", "name"]), format!("no member cluster exports Service {ns}/{}; needed: a ServiceExport named {:?} in namespace {ns} and a cluster listing that Service under spec.clusters[].services", backend.name, backend.name))
                        .object(object)
                        .field("spec.backend.name"),
                );
            }
            continue;
        };
        if backend_weight == 0 {
            diags.push(
                Diagnostic::error(
                    b.doc.location_of(&["spec", "weight"]),
                    "weight 0: the backend contributes no endpoints",
                )
                .severity(Severity::Note)
                .object(object)
                .field("spec.weight"),
            );
            continue;
        }
        let total: u64 = list.iter().map(|e| u64::from(e.weight)).sum();
        for e in list {
            target_profile.endpoints.push(Endpoint {
                id: format!("{ns}/{name}#{}#{}", backend.name, e.cluster),
                backend: name.clone(),
                service: backend.name.clone(),
                cluster: e.cluster.clone(),
                target: e.target.clone(),
                weight: weight::endpoint_weight(backend_weight, e.weight, total),
                export_weight: e.weight,
                always_serve: e.always_serve,
            });
        }
    }
}

/// Reports profiles with more endpoints than [`limits::MAX_ENDPOINTS_PER_PROFILE`].
fn endpoint_limit(inputs: &Inputs, profiles: &Profiles, diags: &mut Diagnostics) {
    for ((ns, name), (_, p)) in profiles {
        if p.endpoints.len() <= limits::MAX_ENDPOINTS_PER_PROFILE {
            continue;
        }
        let Some(obj) = inputs
            .profiles
            .iter()
            .find(|o| o.namespace() == ns && o.name() == name)
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

// === serial ===

/// A SOA serial that depends only on the content, so every replica fed the same
/// input reports the same serial (FNV-1a over the canonical JSON).
fn content_serial(fleet: &Fleet) -> u32 {
    let json = serde_json::to_vec(fleet).expect("Fleet serializes to JSON");
    let mut h: u32 = 0x811c_9dc5;
    for b in json {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.max(1)
}
