//! The fleet model: the whole desired state after validation.
//!
//! Plain data, built once per input change by [`crate::validate`] and shared as
//! `Arc<Fleet>` through a `tokio::sync::watch`. Everything downstream (DNS
//! compilation, probing, status, Azure mirroring) reads only this.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use serde::Serialize;

use crate::secret::Secret;

mod observed;
mod share;
pub use observed::{ClusterState, ObjectKind, Observed, ObservedObject};
pub(crate) use share::share_profiles;

/// Validated desired state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fleet {
    /// The zone's apex, SOA values, name servers and default TTL.
    pub zone: ZoneSettings,
    /// DNS listen addresses from the file (the CLI may override them).
    pub listen: Vec<SocketAddr>,
    /// Profiles, sorted by owner name. Shared, so a fleet built from the last one
    /// by changing a few profiles copies pointers, not profiles.
    pub profiles: Vec<Arc<Profile>>,
    /// Client networks allowed to see the health view.
    pub trusted_networks: Vec<ipnet::IpNet>,
    /// Admin HTTP listen address.
    pub admin_listen: SocketAddr,
    /// Response rate limiting of UDP answers.
    pub rrl: Rrl,
    /// Limits on DNS over TCP.
    pub tcp: TcpLimits,
    /// The Azure Traffic Manager mirror, when the settings have an `azure` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure: Option<crate::azure::AzureMirror>,
    /// Where the fleet comes from when it is read live from Kubernetes.
    pub kubernetes: Option<KubernetesSettings>,
    /// DNSSEC signing, when the settings have a `dnssec` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<DnssecSettings>,
    /// The upstream objects behind this fleet and what became of each (status
    /// write-back reads this). Empty for the file source. Not part of the zone's
    /// content (the SOA serial ignores it).
    #[serde(skip)]
    pub observed: Observed,
}

impl Fleet {
    /// The profile at `index` to change: a copy of it when another fleet shares it.
    pub fn profile_mut(&mut self, index: usize) -> &mut Profile {
        Arc::make_mut(&mut self.profiles[index])
    }
}

/// DNSSEC signing settings (validated; see `settings::DnssecSpec`). Which keys
/// exist is judged when they are read (by the binary: this crate does no I/O).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DnssecSettings {
    /// Directory of BIND-format key pairs for the zone.
    pub key_directory: Option<std::path::PathBuf>,
    /// `.key` files of the key pairs.
    pub key_files: Vec<std::path::PathBuf>,
    /// DNSSEC algorithm number every key must have: 13 or 15.
    pub algorithm: u8,
    /// Signature lifetime, seconds.
    pub signature_validity_seconds: u32,
    /// Seconds between re-sign passes.
    pub resign_interval_seconds: u32,
}

/// Response rate limiting settings (validated; see `settings::RrlSpec`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rrl {
    /// Whether UDP answers are rate limited at all (`spec.rrl.enabled`; default true).
    pub enabled: bool,
    /// Responses per second per (client prefix, response class); 1..=100,000.
    pub responses_per_second: u32,
    /// Every `slip`th limited response is sent truncated (TC); 0 = drop all.
    pub slip: u32,
    /// Clients never limited.
    pub exempt_networks: Vec<ipnet::IpNet>,
}

/// Limits on DNS over TCP (validated; see `settings::TcpSpec`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TcpLimits {
    /// Open DNS-over-TCP connections in total, 1..=65,536 (default 1,500).
    pub max_connections: u32,
    /// Open DNS-over-TCP connections per client address, 1..=65,536 (default 64).
    pub max_connections_per_client: u32,
    /// Seconds a TCP connection may wait for its next query, 1..=3,600 (default 10).
    pub idle_timeout_seconds: u32,
    /// Seconds a started TCP message may take to arrive in full, 1..=3,600 (default 5).
    pub read_timeout_seconds: u32,
}

impl Default for TcpLimits {
    fn default() -> Self {
        Self {
            max_connections: 1500,
            max_connections_per_client: 64,
            idle_timeout_seconds: 10,
            read_timeout_seconds: 5,
        }
    }
}

/// The validated `spec.kubernetes` of the settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KubernetesSettings {
    /// kubeconfig file; `None` = `$KUBECONFIG`, then `~/.kube/config`, then the in-cluster service
    /// account.
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The hub cluster (named `hub`), which holds the TrafficManagerProfiles and
    /// TrafficManagerBackends.
    pub hub: ClusterConnection,
    /// Member clusters, which hold the Services and ServiceExports; at least one, names unique.
    pub members: Vec<ClusterConnection>,
    /// Write status back (as leader).
    pub write_status: bool,
    /// Also write ServiceExport `Valid`/`Conflict`.
    pub manage_service_exports: bool,
    /// Namespace of the status writers' Lease on the hub (default `$POD_NAMESPACE`, else
    /// `default`).
    pub lease_namespace: String,
    /// Name of the status writers' Lease (default `fleetdns-status-writer`).
    pub lease_name: String,
    /// How long the leader holds the Lease without renewing it, 2..=300 s (default 15 s).
    pub lease_duration: std::time::Duration,
    /// Hub mode (`spec.kubernetes.source: hub`): exports come from the hub's
    /// InternalServiceExports, addresses from ARM; `None` = members mode.
    pub hub_mode: Option<crate::hub::HubMode>,
    /// Entra ID sign-in to the hub (`spec.kubernetes.hub.auth`), else the kubeconfig's user.
    pub hub_auth: Option<crate::hub::HubAuth>,
    /// Whose fields fleetdns writes: fleet-networking's (owner), only its own
    /// condition (observer), or decided per object by who owns them (auto).
    pub status_mode: StatusMode,
}

/// `spec.kubernetes.status.mode` (DESIGN §6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StatusMode {
    /// Beside Fleet's own controllers: write only fleetdns's own condition types.
    Observer,
    /// The only controller: write fleet-networking's fields the way it writes them.
    Owner,
    /// Observer where another field manager owns `Programmed`/`Accepted`/`Valid`,
    /// owner elsewhere; re-decided whenever ownership changes.
    #[default]
    Auto,
}

impl StatusMode {
    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusMode::Observer => "observer",
            StatusMode::Owner => "owner",
            StatusMode::Auto => "auto",
        }
    }
}

/// How to reach one cluster and what to watch there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterConnection {
    /// Cluster name (`hub` for the hub unless it is also a member).
    pub name: String,
    /// kubeconfig context; `None` = current context or in-cluster.
    pub context: Option<String>,
    /// Namespaces to watch; empty = all.
    pub namespaces: Vec<String>,
}

/// The authoritative zone's own data: apex, SOA values, name servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ZoneSettings {
    /// Zone apex, lower case, fully qualified without the trailing dot (`fleet.example.com`).
    pub apex: String,
    /// Values of the apex SOA record.
    pub soa: Soa,
    /// NS records of the apex, with glue addresses for names inside the zone.
    pub name_servers: Vec<NameServer>,
    /// Answer TTL for profile names unless a profile sets its own.
    pub default_ttl: u32,
}

/// SOA values (RFC 1035 §3.3.13). Names are fully qualified, without trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Soa {
    /// Primary name server (default: the first of `nameServers`).
    pub mname: String,
    /// Responsible mailbox as a domain name (default `hostmaster.<apex>`).
    pub rname: String,
    /// Zone serial: as configured, else a hash of the fleet's content (never 0), so replicas fed
    /// the same input agree.
    pub serial: u32,
    /// Seconds secondaries wait between refreshes (default 14,400).
    pub refresh: u32,
    /// Seconds before a failed refresh is retried (default 3,600).
    pub retry: u32,
    /// Seconds after which secondaries stop answering without a refresh (default 1,209,600).
    pub expire: u32,
    /// Negative-caching TTL field (RFC 2308).
    pub minimum: u32,
    /// TTL of the SOA record itself (and of the apex NS records).
    pub ttl: u32,
}

impl Soa {
    /// TTL of negative answers: `min(SOA TTL, SOA minimum)` (RFC 2308 §5).
    pub fn negative_ttl(&self) -> u32 {
        self.ttl.min(self.minimum)
    }
}

/// One NS record of the apex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NameServer {
    /// Fully qualified, lower case, without trailing dot.
    pub name: String,
    /// Glue addresses; required when `name` is inside the zone.
    pub addresses: Vec<IpAddr>,
}

/// A TrafficManagerProfile compiled to one DNS owner name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Namespace of the TrafficManagerProfile.
    pub namespace: String,
    /// Name of the TrafficManagerProfile.
    pub name: String,
    /// `<namespace>-<name>.<zone>`, lower case, without trailing dot.
    pub owner: String,
    /// Answer TTL in seconds.
    pub ttl: u32,
    /// How its endpoints are probed. Shared: most profiles of a fleet probe
    /// alike, so equal settings are kept once.
    pub monitor: Arc<MonitorConfig>,
    /// Serve nothing (instead of everything) when every endpoint is Degraded.
    pub fail_closed: bool,
    /// How answers choose among the endpoints (`fleetdns.io/routing-method`).
    #[serde(skip_serializing_if = "crate::routing::RoutingMethod::is_weighted")]
    pub routing: crate::routing::RoutingMethod,
    /// Endpoints of all backends of this profile, sorted by id.
    pub endpoints: Vec<Endpoint>,
}

/// One (backend, member cluster) pair: what a Traffic Manager endpoint is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Stable identity: `<namespace>/<backend>#<service>#<cluster>`. Shared (with
    /// the zone's answer counters, the health map), so it is kept once.
    pub id: Arc<str>,
    /// TrafficManagerBackend name (one allocation per backend, not per endpoint).
    pub backend: Arc<str>,
    /// Service (= ServiceImport) name (one allocation per Service name).
    pub service: Arc<str>,
    /// Member cluster name (one allocation per cluster in the fleet).
    pub cluster: Arc<str>,
    /// Where the endpoint points (the Service's load-balancer ingress).
    pub target: Target,
    /// Effective weight (fleet formula), 1..=1000.
    pub weight: u32,
    /// The ServiceExport's own weight (annotation; 1 when absent).
    pub export_weight: u32,
    /// Never probed, always routable (Traffic Manager's "Always Serve").
    pub always_serve: bool,
    /// Priority in a Priority profile, 1..=1000, lower first (its backend's
    /// `fleetdns.io/priority`; 1000 when absent).
    #[serde(skip_serializing_if = "crate::routing::is_default_priority")]
    pub priority: u32,
}

/// Where an endpoint points: the Service's load-balancer ingress.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Target {
    /// IP addresses: answered as A and/or AAAA.
    Addresses {
        /// The IPv4 address, answered as A.
        v4: Option<Ipv4Addr>,
        /// The IPv6 address, answered as AAAA.
        v6: Option<Ipv6Addr>,
    },
    /// A host name (lower case, no trailing dot): answered as CNAME.
    Host(String),
}

impl Target {
    /// The address or name probes connect to and the default Host header.
    pub fn probe_host(&self) -> String {
        match self {
            Target::Addresses { v4: Some(a), .. } => a.to_string(),
            Target::Addresses { v6: Some(a), .. } => a.to_string(),
            Target::Addresses { .. } => String::new(),
            Target::Host(h) => h.clone(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Addresses { v4, v6 } => match (v4, v6) {
                (Some(a), Some(b)) => write!(f, "{a},{b}"),
                (Some(a), None) => write!(f, "{a}"),
                (None, Some(b)) => write!(f, "{b}"),
                (None, None) => Ok(()),
            },
            Target::Host(h) => write!(f, "{h}."),
        }
    }
}

/// Probe protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Protocol {
    /// An HTTP GET of the monitor path; healthy when the status is expected.
    #[serde(rename = "HTTP")]
    Http,
    /// An HTTPS GET of the monitor path; certificates are checked only with `verify_tls`.
    #[serde(rename = "HTTPS")]
    Https,
    /// A TCP connect to the monitor port; healthy when the connection opens.
    #[serde(rename = "TCP")]
    Tcp,
}

/// A profile's monitorConfig with fleet-networking's defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct MonitorConfig {
    /// Probe protocol (default HTTP).
    pub protocol: Protocol,
    /// Port probed, 1..=65535 (default 80).
    pub port: u16,
    /// Path of HTTP(S) probes (default `/`).
    pub path: String,
    /// Seconds between probes: `intervalInSeconds` (10 or 30, default 30), or 1..=30 from the
    /// probe-interval annotation.
    pub interval_seconds: u32,
    /// Seconds before a probe counts as failed; at most the interval (default 10, or 9 with a 10 s
    /// interval).
    pub timeout_seconds: u32,
    /// Failures in a row tolerated; the next one makes the endpoint Degraded. 0..=9, default 3.
    pub tolerated_failures: u32,
    /// Custom probe headers, in the order given (names unique). A `Host` header here
    /// replaces the default Host (the endpoint target). Values often carry a key,
    /// so they print as `<redacted>`.
    pub custom_headers: Vec<(String, Secret)>,
    /// HTTP(S) status codes counted as healthy, as inclusive ranges. Default `[(200, 200)]`.
    pub expected_status: Vec<(u16, u16)>,
    /// Validate HTTPS certificates (Traffic Manager never does; default false).
    pub verify_tls: bool,
}

/// Whether an HTTP status counts as healthy under `expected` (a profile's
/// `MonitorConfig::expected_status`): inside one of the inclusive ranges.
pub fn is_expected_status(expected: &[(u16, u16)], status: u16) -> bool {
    expected.iter().any(|&(lo, hi)| (lo..=hi).contains(&status))
}

/// Probe state of one endpoint, Traffic Manager's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum MonitorState {
    /// No probe result yet; routable.
    CheckingEndpoint,
    /// The latest probe succeeded; routable.
    Online,
    /// More than `tolerated_failures` probes in a row failed; routable only when every endpoint is
    /// Degraded and the profile is not fail-closed.
    Degraded,
    /// Always-serve endpoint; never probed, routable.
    Unmonitored,
}

impl MonitorState {
    /// Whether the endpoint is in the answer set before the all-degraded fallback.
    pub fn is_available(self) -> bool {
        !matches!(self, MonitorState::Degraded)
    }
}
