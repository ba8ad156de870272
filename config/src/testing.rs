//! Builders for the fleet model in tests: the one place that knows how to make a
//! valid [`Fleet`], [`Profile`], [`Endpoint`] and [`MonitorConfig`].
//!
//! Tests of the prober, the DNS compiler and the mirrors need fleets with a given
//! shape, not a YAML round trip. Each builder starts from the defaults validation
//! applies (fleet-networking's monitorConfig defaults, a TTL of 60, the default
//! listen addresses, trusted networks, RRL and TCP limits), so a test names only
//! what it is about, and a new model field is added here once instead of in every
//! test's hand-written struct literal.
//!
//! ```
//! use fleetdns_config::testing::{endpoint, fleet, monitor, profile};
//! use fleetdns_config::Protocol;
//!
//! let f = fleet()
//!     .profile(
//!         profile("team", "web")
//!             .monitor(monitor(Protocol::Tcp).port(8443).interval(10).timeout(5))
//!             .endpoint(endpoint("a").ipv4([192, 0, 2, 1]).weight(3))
//!             .endpoint(endpoint("b").host("lb.example.net")),
//!     )
//!     .build();
//! assert_eq!(f.profiles[0].owner, "team-web.fleet.example.com");
//! assert_eq!(f.profiles[0].endpoints[1].target.to_string(), "lb.example.net.");
//! ```
//!
//! Only with the `test-support` feature, which crates enable from their
//! `[dev-dependencies]`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::limits::{DEFAULT_RRL_RATE, DEFAULT_RRL_SLIP};
use crate::validate::{
    DEFAULT_ADMIN_LISTEN, DEFAULT_LISTEN, DEFAULT_TRUSTED_NETWORKS, DEFAULT_TTL,
};
use crate::{
    Endpoint, Fleet, MonitorConfig, NameServer, Observed, Profile, Protocol, Rrl, Soa, Target,
    TcpLimits, ZoneSettings,
};

/// The zone every builder uses unless told otherwise.
pub const ZONE: &str = "fleet.example.com";

/// A fleet for [`ZONE`] with one name server (`ns1.<zone>`, 127.0.0.1), no profiles,
/// and the settings a minimal config file validates to (SOA serial 1).
pub fn fleet() -> FleetBuilder {
    FleetBuilder::new(ZONE)
}

/// Profile `namespace/name` in [`ZONE`]: owner `<namespace>-<name>.<zone>`, TTL 60,
/// the default monitor, fail-open, no endpoints.
pub fn profile(namespace: &str, name: &str) -> ProfileBuilder {
    ProfileBuilder::new(namespace, name)
}

/// Endpoint `id` of backend `web` (service `web`) in cluster `cluster-<id>`, target
/// 192.0.2.1, weight 1, export weight 1, probed.
pub fn endpoint(id: &str) -> EndpointBuilder {
    EndpointBuilder::new(id)
}

/// fleet-networking's monitorConfig defaults with `protocol`: port 80, path `/`,
/// every 30 s, 10 s timeout, 3 tolerated failures, 200 expected, no TLS verification.
pub fn monitor(protocol: Protocol) -> MonitorBuilder {
    MonitorBuilder::new(protocol)
}

/// The target of an endpoint at one IP address (A for IPv4, AAAA for IPv6).
pub fn target(ip: impl Into<IpAddr>) -> Target {
    match ip.into() {
        IpAddr::V4(v4) => Target::Addresses {
            v4: Some(v4),
            v6: None,
        },
        IpAddr::V6(v6) => Target::Addresses {
            v4: None,
            v6: Some(v6),
        },
    }
}

/// Builds a [`Fleet`]; see [`fleet`].
#[derive(Clone, Debug)]
#[must_use]
pub struct FleetBuilder {
    fleet: Fleet,
}

impl FleetBuilder {
    /// A fleet for zone `apex` (lower case, no trailing dot); see [`fleet`].
    pub fn new(apex: &str) -> Self {
        let trusted: Vec<ipnet::IpNet> = DEFAULT_TRUSTED_NETWORKS
            .iter()
            .map(|n| n.parse().expect("DEFAULT_TRUSTED_NETWORKS are networks"))
            .collect();
        let ns1 = format!("ns1.{apex}");
        Self {
            fleet: Fleet {
                zone: ZoneSettings {
                    apex: apex.to_string(),
                    soa: Soa {
                        mname: ns1.clone(),
                        rname: format!("hostmaster.{apex}"),
                        serial: 1,
                        refresh: 14_400,
                        retry: 3_600,
                        expire: 1_209_600,
                        minimum: 60,
                        ttl: 3_600,
                    },
                    name_servers: vec![NameServer {
                        name: ns1,
                        addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
                    }],
                    default_ttl: DEFAULT_TTL,
                },
                listen: vec![DEFAULT_LISTEN
                    .parse()
                    .expect("DEFAULT_LISTEN is a socket address")],
                profiles: Vec::new(),
                trusted_networks: trusted.clone(),
                admin_listen: DEFAULT_ADMIN_LISTEN
                    .parse()
                    .expect("DEFAULT_ADMIN_LISTEN is a socket address"),
                rrl: Rrl {
                    enabled: true,
                    responses_per_second: DEFAULT_RRL_RATE,
                    slip: DEFAULT_RRL_SLIP,
                    exempt_networks: trusted,
                },
                tcp: TcpLimits::default(),
                azure: None,
                kubernetes: None,
                dnssec: None,
                observed: Observed::default(),
            },
        }
    }

    /// Adds a profile (a [`ProfileBuilder`] or a finished [`Profile`]).
    pub fn profile(mut self, profile: impl Into<Profile>) -> Self {
        self.fleet
            .profiles
            .push(std::sync::Arc::new(profile.into()));
        self
    }

    /// Adds profiles.
    pub fn profiles<P: Into<Profile>>(mut self, profiles: impl IntoIterator<Item = P>) -> Self {
        self.fleet
            .profiles
            .extend(profiles.into_iter().map(|p| std::sync::Arc::new(p.into())));
        self
    }

    /// The SOA serial (validation derives one from the content when the file has none).
    pub fn serial(mut self, serial: u32) -> Self {
        self.fleet.zone.soa.serial = serial;
        self
    }

    /// The DNS listen addresses.
    pub fn listen(mut self, listen: Vec<SocketAddr>) -> Self {
        self.fleet.listen = listen;
        self
    }

    /// The networks that may see the health view (and are exempt from RRL, as by default).
    pub fn trusted_networks(mut self, networks: Vec<ipnet::IpNet>) -> Self {
        self.fleet.rrl.exempt_networks = networks.clone();
        self.fleet.trusted_networks = networks;
        self
    }

    /// Response rate limiting.
    pub fn rrl(mut self, rrl: Rrl) -> Self {
        self.fleet.rrl = rrl;
        self
    }

    /// Limits on DNS over TCP.
    pub fn tcp(mut self, tcp: TcpLimits) -> Self {
        self.fleet.tcp = tcp;
        self
    }

    /// The fleet, with profiles sorted by owner name as validation leaves them.
    pub fn build(mut self) -> Fleet {
        self.fleet.profiles.sort_by(|a, b| a.owner.cmp(&b.owner));
        self.fleet
    }
}

impl From<FleetBuilder> for Fleet {
    fn from(b: FleetBuilder) -> Fleet {
        b.build()
    }
}

/// Builds a [`Profile`]; see [`profile`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ProfileBuilder {
    profile: Profile,
}

impl ProfileBuilder {
    /// See [`profile`].
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            profile: Profile {
                namespace: namespace.to_string(),
                name: name.to_string(),
                owner: owner(namespace, name, ZONE),
                ttl: DEFAULT_TTL,
                monitor: MonitorBuilder::new(Protocol::Http).build().into(),
                fail_closed: false,
                routing: crate::routing::RoutingMethod::Weighted,
                endpoints: Vec::new(),
            },
        }
    }

    /// Places the profile in zone `apex`: owner `<namespace>-<name>.<apex>`.
    pub fn zone(mut self, apex: &str) -> Self {
        self.profile.owner = owner(&self.profile.namespace, &self.profile.name, apex);
        self
    }

    /// Answer TTL in seconds.
    pub fn ttl(mut self, ttl: u32) -> Self {
        self.profile.ttl = ttl;
        self
    }

    /// The probe settings (a [`MonitorBuilder`] or a finished [`MonitorConfig`]).
    pub fn monitor(mut self, monitor: impl Into<MonitorConfig>) -> Self {
        self.profile.monitor = monitor.into().into();
        self
    }

    /// Serve nothing when every endpoint is Degraded.
    pub fn fail_closed(mut self, fail_closed: bool) -> Self {
        self.profile.fail_closed = fail_closed;
        self
    }

    /// The routing method.
    pub fn routing(mut self, routing: crate::routing::RoutingMethod) -> Self {
        self.profile.routing = routing;
        self
    }

    /// Adds an endpoint (an [`EndpointBuilder`] or a finished [`Endpoint`]).
    pub fn endpoint(mut self, endpoint: impl Into<Endpoint>) -> Self {
        self.profile.endpoints.push(endpoint.into());
        self
    }

    /// Adds endpoints.
    pub fn endpoints<E: Into<Endpoint>>(mut self, endpoints: impl IntoIterator<Item = E>) -> Self {
        self.profile
            .endpoints
            .extend(endpoints.into_iter().map(Into::into));
        self
    }

    /// The profile, with endpoints sorted by id as validation leaves them.
    pub fn build(mut self) -> Profile {
        self.profile.endpoints.sort_by(|a, b| a.id.cmp(&b.id));
        self.profile
    }
}

impl From<ProfileBuilder> for Profile {
    fn from(b: ProfileBuilder) -> Profile {
        b.build()
    }
}

fn owner(namespace: &str, name: &str, apex: &str) -> String {
    format!("{namespace}-{name}.{apex}").to_ascii_lowercase()
}

/// Builds an [`Endpoint`]; see [`endpoint`].
#[derive(Clone, Debug)]
#[must_use]
pub struct EndpointBuilder {
    endpoint: Endpoint,
}

impl EndpointBuilder {
    /// See [`endpoint`].
    pub fn new(id: &str) -> Self {
        Self {
            endpoint: Endpoint {
                id: id.into(),
                backend: "web".into(),
                service: "web".into(),
                cluster: format!("cluster-{id}").into(),
                target: Target::Addresses {
                    v4: Some(Ipv4Addr::new(192, 0, 2, 1)),
                    v6: None,
                },
                weight: 1,
                export_weight: 1,
                always_serve: false,
                priority: crate::routing::DEFAULT_PRIORITY,
            },
        }
    }

    /// The TrafficManagerBackend name.
    pub fn backend(mut self, backend: &str) -> Self {
        self.endpoint.backend = backend.to_string().into();
        self
    }

    /// The Service (ServiceImport) name.
    pub fn service(mut self, service: &str) -> Self {
        self.endpoint.service = service.to_string().into();
        self
    }

    /// The member cluster name.
    pub fn cluster(mut self, cluster: &str) -> Self {
        self.endpoint.cluster = cluster.to_string().into();
        self
    }

    /// Any target.
    pub fn target(mut self, target: Target) -> Self {
        self.endpoint.target = target;
        self
    }

    /// One IP address (A for IPv4, AAAA for IPv6).
    pub fn address(self, ip: impl Into<IpAddr>) -> Self {
        self.target(target(ip))
    }

    /// One IPv4 address.
    pub fn ipv4(self, ip: impl Into<Ipv4Addr>) -> Self {
        self.address(IpAddr::V4(ip.into()))
    }

    /// One IPv6 address.
    pub fn ipv6(self, ip: impl Into<Ipv6Addr>) -> Self {
        self.address(IpAddr::V6(ip.into()))
    }

    /// A host name (answered as CNAME; lower case, no trailing dot).
    pub fn host(self, host: &str) -> Self {
        self.target(Target::Host(host.to_string()))
    }

    /// The effective weight.
    pub fn weight(mut self, weight: u32) -> Self {
        self.endpoint.weight = weight;
        self
    }

    /// The ServiceExport's own weight.
    pub fn export_weight(mut self, export_weight: u32) -> Self {
        self.endpoint.export_weight = export_weight;
        self
    }

    /// Never probed, always routable.
    pub fn always_serve(mut self, always_serve: bool) -> Self {
        self.endpoint.always_serve = always_serve;
        self
    }

    /// Priority in a Priority profile (lower first).
    pub fn priority(mut self, priority: u32) -> Self {
        self.endpoint.priority = priority;
        self
    }

    /// The endpoint.
    pub fn build(self) -> Endpoint {
        self.endpoint
    }
}

impl From<EndpointBuilder> for Endpoint {
    fn from(b: EndpointBuilder) -> Endpoint {
        b.build()
    }
}

/// Builds a [`MonitorConfig`]; see [`monitor`]. Also changes a finished one:
/// `MonitorBuilder::from(m).path("/ready")`.
#[derive(Clone, Debug)]
#[must_use]
pub struct MonitorBuilder {
    monitor: MonitorConfig,
}

impl MonitorBuilder {
    /// See [`monitor`].
    pub fn new(protocol: Protocol) -> Self {
        Self {
            monitor: MonitorConfig {
                protocol,
                port: 80,
                path: "/".to_string(),
                interval_seconds: 30,
                timeout_seconds: 10,
                tolerated_failures: 3,
                custom_headers: Vec::new(),
                expected_status: vec![(200, 200)],
                verify_tls: false,
            },
        }
    }

    /// The probe protocol.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.monitor.protocol = protocol;
        self
    }

    /// The probed port.
    pub fn port(mut self, port: u16) -> Self {
        self.monitor.port = port;
        self
    }

    /// The HTTP(S) path.
    pub fn path(mut self, path: &str) -> Self {
        self.monitor.path = path.to_string();
        self
    }

    /// Seconds between probes.
    pub fn interval(mut self, seconds: u32) -> Self {
        self.monitor.interval_seconds = seconds;
        self
    }

    /// Seconds a probe may take.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.monitor.timeout_seconds = seconds;
        self
    }

    /// Failures tolerated before Degraded (Degraded after `n + 1` in a row).
    pub fn tolerated(mut self, n: u32) -> Self {
        self.monitor.tolerated_failures = n;
        self
    }

    /// Adds a custom probe header (a `Host` header replaces the default Host).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.monitor
            .custom_headers
            .push((name.to_string(), crate::secret::Secret::new(value)));
        self
    }

    /// The HTTP(S) status codes counted as healthy, as inclusive ranges.
    pub fn expected_status(mut self, ranges: &[(u16, u16)]) -> Self {
        self.monitor.expected_status = ranges.to_vec();
        self
    }

    /// Validate HTTPS certificates.
    pub fn verify_tls(mut self, verify: bool) -> Self {
        self.monitor.verify_tls = verify;
        self
    }

    /// The monitor settings.
    pub fn build(self) -> MonitorConfig {
        self.monitor
    }
}

impl From<MonitorBuilder> for MonitorConfig {
    fn from(b: MonitorBuilder) -> MonitorConfig {
        b.build()
    }
}

impl From<MonitorConfig> for MonitorBuilder {
    fn from(monitor: MonitorConfig) -> Self {
        Self { monitor }
    }
}
