//! fleetdns' own settings document (`kind: FleetDNSConfig`).
//!
//! The upstream CRDs say nothing about the DNS zone or about where member
//! clusters' load balancers are, so one extra document in the config file carries
//! them: the zone apex, SOA values, name servers with glue, listen addresses, the
//! default TTL, and per member cluster its labels and the load-balancer ingress of
//! each Service it runs. Unknown fields are rejected so typos do not go unnoticed.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// `apiVersion` of the settings document.
pub const API_VERSION: &str = "fleetdns.io/v1alpha1";
/// `kind` of the settings document.
pub const KIND: &str = "FleetDNSConfig";

/// The settings document as written.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsDocument {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    pub spec: SettingsSpec,
}

/// `spec` of the settings document.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsSpec {
    /// Zone apex, e.g. `fleet.example.com`.
    pub zone: String,
    /// Default answer TTL of profile names (seconds). Default 60, as fleet-networking.
    #[serde(default)]
    pub ttl: Option<u32>,
    #[serde(default)]
    pub soa: SoaSpec,
    /// NS records of the apex. At least one.
    #[serde(default)]
    pub name_servers: Vec<NameServerSpec>,
    /// DNS listen addresses (`ip:port`). Default `127.0.0.1:5353`.
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// Member clusters and the load-balancer addresses of their Services.
    #[serde(default)]
    pub clusters: Vec<ClusterSpec>,
    /// Who may see the health view (`_health.` TXT and per-cluster names).
    #[serde(default)]
    pub health_view: HealthViewSpec,
    /// The admin HTTP server (/metrics, /healthz, /readyz, /status).
    #[serde(default)]
    pub admin: AdminSpec,
    /// Mirror the fleet to Azure Traffic Manager over ARM (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<crate::azure::AzureSpec>,
}

/// Access to the health view.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthViewSpec {
    /// Client networks (CIDR) that may query the health view. Default: loopback and
    /// private ranges (127.0.0.0/8, ::1/128, 10.0.0.0/8, 172.16.0.0/12,
    /// 192.168.0.0/16, fc00::/7). An empty list hides the view from everyone.
    pub trusted_networks: Option<Vec<String>>,
}

/// Admin HTTP server settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminSpec {
    /// Listen address; default `127.0.0.1:9353`.
    pub listen: Option<SocketAddr>,
}

/// SOA values; every field is optional.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SoaSpec {
    /// Primary name server; default: the first of `nameServers`.
    pub mname: Option<String>,
    /// Responsible mailbox as a domain name; default `hostmaster.<zone>`.
    pub rname: Option<String>,
    /// Default: derived from the content, so replicas fed the same input agree.
    pub serial: Option<u32>,
    pub refresh: Option<u32>,
    pub retry: Option<u32>,
    pub expire: Option<u32>,
    /// Negative-caching TTL (RFC 2308). Default 60.
    pub minimum: Option<u32>,
    /// TTL of SOA and NS records. Default 3600.
    pub ttl: Option<u32>,
}

/// One name server of the zone.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameServerSpec {
    pub name: String,
    /// Glue addresses (needed when the name is inside the zone).
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// One member cluster.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSpec {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Services of this cluster that may be exported.
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
}

/// A Service in a member cluster and its load-balancer ingress.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    pub namespace: String,
    pub name: String,
    /// `status.loadBalancer.ingress` of the Service: at most one IPv4 and one IPv6
    /// address, or one host name.
    pub load_balancer: Vec<String>,
    /// ARM id of the public IP behind the load balancer (fleet-networking's
    /// `publicIPResourceID`); when set, the Azure mirror makes an AzureEndpoints
    /// endpoint with `targetResourceId` instead of an ExternalEndpoints one.
    #[serde(
        default,
        rename = "publicIPResourceID",
        skip_serializing_if = "Option::is_none"
    )]
    pub public_ip_resource_id: Option<String>,
}
