//! Hub mode and Entra ID sign-in to the hub, as the model carries them.
//!
//! In hub mode everything comes from the Fleet hub: profiles, backends,
//! ServiceImports and the InternalServiceExports that fleet-networking's member
//! agents copy to `fleet-member-<cluster>` namespaces. Each export names its public
//! IP by ARM id, so hub mode reads addresses from ARM ([`PublicIpLookup`]). The
//! rules that decide which exports are served are fleet-networking's; the names of
//! the annotations and namespaces they use are here.

use std::time::Duration;

use serde::Serialize;

use crate::azure::AzureAuth;

/// The AKS AAD server application (AKS-managed Azure AD): the audience of hub tokens.
pub const AKS_AAD_SERVER_APP_ID: &str = "6dae42f8-4368-4678-94ff-3960e28e3630";
/// Namespace prefix of each member's objects on the hub (fleet-networking
/// `pkg/common/hubconfig/hubconfig.go`: `fleet-member-%s`).
pub const MEMBER_NAMESPACE_PREFIX: &str = "fleet-member-";
/// Service annotation of an Azure internal load balancer (cloud-provider-azure;
/// fleet-networking `objectmeta.ServiceAnnotationAzureLoadBalancerInternal`, compared
/// with `== "true"`, case-sensitive).
pub const INTERNAL_LB_ANNOTATION: &str = "service.beta.kubernetes.io/azure-load-balancer-internal";
/// Annotation on a TrafficManagerProfile: `"true"` serves exports of internal load
/// balancers (private answers, split horizon). fleet-networking never does.
pub const SERVE_INTERNAL_ANNOTATION: &str = "fleetdns.io/serve-internal-load-balancers";
/// api-version of `Microsoft.Network/publicIPAddresses` reads.
pub const PUBLIC_IP_API_VERSION: &str = "2024-05-01";
/// Default seconds between re-reads of every public IP.
pub const DEFAULT_PUBLIC_IP_REFRESH_SECONDS: u64 = 300;

/// Validated hub mode (`spec.kubernetes.source: hub`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HubMode {
    /// How public IP addresses are read.
    pub public_ips: PublicIpLookup,
}

/// ARM access for the public IP lookups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublicIpLookup {
    /// Without trailing slash.
    pub arm_endpoint: String,
    /// Without trailing slash.
    pub authority_host: String,
    /// How to get an ARM token.
    pub auth: AzureAuth,
    /// Upper bound on ARM requests per second, 1..=1000 (default 10).
    pub max_requests_per_second: u32,
    /// Every public IP is read again after this long, 1 s..=1 day (default 300 s).
    pub refresh: Duration,
}

/// Entra ID sign-in to the hub's API server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HubAuth {
    /// Without trailing slash.
    pub authority_host: String,
    /// The credential.
    pub auth: AzureAuth,
    /// The AKS AAD server application id (the token's audience).
    pub server_app_id: String,
}

/// Whether a member namespace on the hub is `fleet-member-<cluster>`; the cluster.
pub fn member_of_namespace(namespace: &str) -> Option<&str> {
    namespace
        .strip_prefix(MEMBER_NAMESPACE_PREFIX)
        .filter(|c| !c.is_empty())
}

/// One member of the fleet as hub mode sees it, for `/status`: from its
/// `fleet-member-<cluster>` exports and, where the hub has them, its MemberCluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubMember {
    /// The cluster's name (`clusterId`, the MemberCluster's name).
    pub name: String,
    /// A MemberCluster object on the hub names it.
    pub member_cluster: bool,
    /// That MemberCluster's `Joined` condition status (`True`, `False`, `Unknown`).
    pub joined: Option<String>,
    /// InternalServiceExports in its `fleet-member-<cluster>` namespace.
    pub exports: usize,
    /// Of those, the ones served.
    pub served: usize,
}

/// What fleetdns knows of one public IP resource (hub mode), for `/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicIpStatus {
    /// The ARM id, as the export names it.
    pub id: String,
    /// The exports that name it (`cluster/namespace/name`).
    pub exports: Vec<String>,
    /// `properties.ipAddress`, when known (served).
    pub address: Option<String>,
    /// `properties.dnsSettings.fqdn`, when set.
    pub fqdn: Option<String>,
    /// The address is the last one read; the latest read failed (ARM down or denied).
    pub stale: bool,
    /// What the latest read found wrong, and what to fix or grant.
    pub problem: Option<String>,
}
