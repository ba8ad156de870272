//! fleetdns' own settings document (`kind: FleetDNSConfig`).
//!
//! The upstream CRDs say nothing about the DNS zone or about where member
//! clusters' load balancers are, so one extra document in the config file carries
//! them: the zone apex, SOA values, name servers with glue, listen addresses, the
//! default TTL, and per member cluster its labels and the load-balancer ingress of
//! each Service it runs. Unknown fields are rejected so typos do not go unnoticed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `apiVersion` of the settings document.
pub const API_VERSION: &str = "fleetdns.io/v1alpha1";
/// `kind` of the settings document.
pub const KIND: &str = "FleetDNSConfig";

/// The settings document as written.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsDocument {
    /// Must be [`API_VERSION`].
    pub api_version: String,
    /// Must be [`KIND`].
    pub kind: String,
    /// Kubernetes-style metadata; accepted and ignored.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    /// The settings themselves.
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
    /// SOA values of the apex; each has a default.
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
    /// Response rate limiting of UDP answers (on by default).
    #[serde(default)]
    pub rrl: RrlSpec,
    /// Limits on DNS over TCP (RFC 7766).
    #[serde(default)]
    pub tcp: TcpSpec,
    /// Mirror the fleet to Azure Traffic Manager over ARM (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureSpec>,
    /// Read the fleet live from Kubernetes instead of from this file.
    #[serde(default)]
    pub kubernetes: Option<KubernetesSpec>,
    /// Sign the zone with DNSSEC (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<DnssecSpec>,
}

/// `spec.dnssec`: sign the zone with keys in BIND's
/// `K<zone>.+<alg>+<tag>.{key,private}` format (`fleetdns dnssec keygen` makes them).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DnssecSpec {
    /// Directory holding the zone's key pairs; every `K<zone>.+*.key` there (with
    /// its `.private`) is used.
    #[serde(default)]
    pub key_directory: Option<PathBuf>,
    /// Or the key pairs one by one: paths of `.key` files, each with its
    /// `.private` beside it.
    #[serde(default)]
    pub key_files: Vec<PathBuf>,
    /// `ecdsap256sha256` (13, the default) or `ed25519` (15): the algorithm the
    /// keys must have.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// Signature lifetime in seconds. Default 1,209,600 (14 days).
    #[serde(default)]
    pub signature_validity_seconds: Option<u32>,
    /// Seconds between re-sign passes, which renew signatures with less than
    /// half their lifetime left. Default 3,600.
    #[serde(default)]
    pub resign_interval_seconds: Option<u32>,
}

/// Response rate limiting (RRL) of UDP answers, in the style of BIND and Knot.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RrlSpec {
    /// Default true.
    pub enabled: Option<bool>,
    /// Responses per second allowed per client prefix and response class. Default 20.
    pub responses_per_second: Option<u32>,
    /// Every Nth limited response is sent as a truncated (TC) answer instead of
    /// being dropped; 0 drops all, 1 slips all. Default 2.
    pub slip: Option<u32>,
    /// Client networks never limited. Default: the health view's trusted networks.
    pub exempt_networks: Option<Vec<String>>,
}

/// Limits on DNS over TCP.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSpec {
    /// Open connections in total. Default 1,500.
    pub max_connections: Option<u32>,
    /// Open connections per client address. Default 64.
    pub max_connections_per_client: Option<u32>,
    /// Seconds a connection may wait for the next query. Default 10.
    pub idle_timeout_seconds: Option<u32>,
    /// Seconds a started message may take to arrive in full. Default 5.
    pub read_timeout_seconds: Option<u32>,
}

/// The Kubernetes source: the hub cluster holds TrafficManagerProfiles and
/// TrafficManagerBackends, each member cluster holds Services and ServiceExports.
/// One cluster may be both (name the same context twice).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesSpec {
    /// kubeconfig file. Default: `$KUBECONFIG`, then `~/.kube/config`; in a pod
    /// without either, the in-cluster service account.
    #[serde(default)]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The hub cluster, which holds the TrafficManagerProfiles and TrafficManagerBackends.
    #[serde(default)]
    pub hub: HubSpec,
    /// Member clusters. At least one.
    #[serde(default)]
    pub members: Vec<MemberSpec>,
    /// Status write-back to the upstream objects, and the Lease that elects its writer.
    #[serde(default)]
    pub status: StatusSpec,
    /// Where exports come from: `members` (default: each member's Services and
    /// ServiceExports, watched directly) or `hub` (the InternalServiceExports that
    /// fleet-networking's member agents copy to the hub; no member credentials).
    #[serde(default)]
    pub source: Option<String>,
    /// Hub mode: ARM access for resolving each export's `publicIPResourceID`.
    #[serde(default, rename = "publicIPs")]
    pub public_ips: Option<PublicIpSpec>,
}

/// `spec.kubernetes.publicIPs`: how hub mode reads public IP addresses from ARM
/// (needs the Reader role on the member clusters' public IP resource groups).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublicIpSpec {
    /// ARM endpoint; default `https://management.azure.com`.
    #[serde(default)]
    pub arm_endpoint: Option<String>,
    /// Entra ID authority; default `https://login.microsoftonline.com`.
    #[serde(default)]
    pub authority_host: Option<String>,
    /// How fleetdns gets an ARM token (as `spec.azure.auth`).
    pub auth: AzureAuthSpec,
    /// Seconds between re-reads of every public IP; default 300.
    #[serde(default)]
    pub refresh_interval_seconds: Option<u64>,
    /// Upper bound on ARM requests per second; default 10.
    #[serde(default)]
    pub max_requests_per_second: Option<u32>,
}

/// `spec.kubernetes.hub.auth`: sign in to the hub with Entra ID natively (AKS-managed
/// Azure AD), instead of the kubeconfig user's credentials.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HubAuthSpec {
    /// The credential (as `spec.azure.auth`): workload identity, client secret or managed identity.
    pub azure: AzureAuthSpec,
    /// Entra ID authority; default `https://login.microsoftonline.com`.
    #[serde(default)]
    pub authority_host: Option<String>,
    /// The AKS AAD server application the token is for; default
    /// `6dae42f8-4368-4678-94ff-3960e28e3630` (AKS-managed Azure AD).
    #[serde(default)]
    pub server_app_id: Option<String>,
}

/// The hub cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HubSpec {
    /// kubeconfig context. Default: the current context (or in-cluster).
    #[serde(default)]
    pub context: Option<String>,
    /// Namespaces to watch. Default: all.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Entra ID sign-in to the hub (instead of the kubeconfig's user).
    #[serde(default)]
    pub auth: Option<HubAuthSpec>,
}

/// One member cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberSpec {
    /// Cluster name, as in endpoint names and `status.endpoints[].from.cluster`.
    pub name: String,
    /// kubeconfig context. Default: the current context (or in-cluster).
    #[serde(default)]
    pub context: Option<String>,
    /// Namespaces to watch. Default: all.
    #[serde(default)]
    pub namespaces: Vec<String>,
}

/// Status write-back and the leader lease that guards it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusSpec {
    /// Write status at all. Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Also write ServiceExport `Valid`/`Conflict` (only when no fleet-networking
    /// member agent manages exports). Default false.
    #[serde(default)]
    pub manage_service_exports: Option<bool>,
    /// Namespace of the coordination.k8s.io Lease on the hub. Default `$POD_NAMESPACE`, else `default`.
    #[serde(default)]
    pub lease_namespace: Option<String>,
    /// Lease name. Default `fleetdns-status-writer`.
    #[serde(default)]
    pub lease_name: Option<String>,
    /// Lease duration in seconds (2-300). Default 15.
    #[serde(default)]
    pub lease_duration_seconds: Option<u32>,
    /// `observer` (write only fleetdns's own condition, beside Fleet's
    /// controllers), `owner` (write fleet-networking's fields as it does), or
    /// `auto` (observer where another manager owns them). Default `auto`.
    #[serde(default)]
    pub mode: Option<String>,
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
    /// Seconds secondaries wait between refreshes. Default 14,400.
    pub refresh: Option<u32>,
    /// Seconds before a failed refresh is retried. Default 3,600.
    pub retry: Option<u32>,
    /// Seconds after which secondaries stop answering without a refresh. Default 1,209,600 (14
    /// days).
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
    /// Host name of the name server; listed once.
    pub name: String,
    /// Glue addresses (needed when the name is inside the zone).
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// One member cluster.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSpec {
    /// Cluster name, as in endpoint ids and `status.endpoints[].from.cluster`.
    pub name: String,
    /// Labels of the cluster (e.g. `fleet.azure.com/location`); informational, fleetdns does not
    /// act on them.
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
    /// Namespace of the Service (and of its ServiceExport).
    pub namespace: String,
    /// Name of the Service (and of its ServiceExport).
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
    /// The Service is an internal load balancer (annotation
    /// `service.beta.kubernetes.io/azure-load-balancer-internal: "true"`): served only
    /// by profiles that opt in (`fleetdns.io/serve-internal-load-balancers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_load_balancer: Option<bool>,
}

/// `spec.azure` as written.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzureSpec {
    /// Subscription that holds the Traffic Manager profiles (a UUID).
    pub subscription_id: String,
    /// ARM endpoint; default `https://management.azure.com` (sovereign clouds differ).
    #[serde(default)]
    pub arm_endpoint: Option<String>,
    /// Entra ID authority; default `$AZURE_AUTHORITY_HOST` (which the workload
    /// identity webhook injects), else `https://login.microsoftonline.com`.
    #[serde(default)]
    pub authority_host: Option<String>,
    /// Location of created profiles; default `global` (what Traffic Manager uses).
    #[serde(default)]
    pub location: Option<String>,
    /// How fleetdns gets an ARM token.
    pub auth: AzureAuthSpec,
    /// Upper bound on ARM requests per second; default 10.
    #[serde(default)]
    pub max_requests_per_second: Option<u32>,
    /// Full resync (drift correction) interval in seconds; default 300.
    #[serde(default)]
    pub resync_interval_seconds: Option<u64>,
    /// Per-request ARM timeout in seconds; default 30.
    #[serde(default)]
    pub request_timeout_seconds: Option<u64>,
    /// Seconds a fleetdns-managed profile whose object is gone is kept before it
    /// is deleted; default 300.
    #[serde(default)]
    pub gc_grace_seconds: Option<u64>,
    /// Take over profiles that fleet-networking tagged with the same
    /// `namespace/name` but fleetdns did not create; default false.
    #[serde(default)]
    pub adopt: Option<bool>,
}

/// `spec.azure.auth` as written.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzureAuthSpec {
    /// `clientSecret`, `workloadIdentity`, `managedIdentity` or `azureCli`.
    pub method: String,
    /// Default (workload identity): `$AZURE_TENANT_ID`.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Default (workload identity): `$AZURE_CLIENT_ID`. Managed identity: a
    /// user-assigned identity's client id (optional).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Name of the environment variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// Path of a file holding the client secret.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Only here to reject it with a clear message: secrets are never inline.
    #[serde(default, skip_serializing)]
    pub client_secret: Option<crate::secret::Secret<serde_yaml::Value>>,
    /// Federated token file; default `$AZURE_FEDERATED_TOKEN_FILE`.
    #[serde(default)]
    pub federated_token_file: Option<PathBuf>,
    /// IMDS token endpoint; default `http://169.254.169.254/metadata/identity/oauth2/token`.
    #[serde(default)]
    pub imds_endpoint: Option<String>,
}
