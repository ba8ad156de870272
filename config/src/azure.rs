//! The Azure Traffic Manager mirror as the model carries it: validated settings,
//! what the mirror needs per profile, and the naming rules it shares with ARM.
//!
//! [`crate::settings::AzureSpec`] is what the file says; [`crate::validate`] turns
//! it into an [`AzureMirror`] carried in the `Fleet`. Secrets are never written in
//! the file: a client secret is named by an environment variable or a file path
//! and only read by the token client when it needs a token.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

/// fleetdns's finalizer on TrafficManagerProfiles and TrafficManagerBackends in
/// Kubernetes owner mode with the mirror on: the object stays until the mirror has
/// deleted what it created in Azure. Never fleet-networking's own finalizers.
pub const MIRROR_FINALIZER: &str = "fleetdns.io/azure-mirror";

/// Public Azure's ARM endpoint.
pub const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";
/// Public Azure's Entra ID authority.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The IMDS token endpoint of an Azure VM.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
/// Default bound on ARM requests per second.
pub const DEFAULT_MAX_REQUESTS_PER_SECOND: u32 = 10;
/// Default full resync (drift correction) interval.
pub const DEFAULT_RESYNC_SECONDS: u64 = 300;
/// Default per-request ARM timeout.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 30;
/// Default time a fleetdns-managed profile whose object is gone is kept before deletion.
pub const DEFAULT_GC_GRACE_SECONDS: u64 = 300;

/// Validated mirror settings plus what the mirror needs per profile and cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AzureMirror {
    /// Subscription that holds the Traffic Manager profiles (a UUID, lower case).
    pub subscription_id: String,
    /// Without trailing slash.
    pub arm_endpoint: String,
    /// Without trailing slash.
    pub authority_host: String,
    /// Azure location of created profiles (default `global`).
    pub location: String,
    /// How to get an ARM token.
    pub auth: AzureAuth,
    /// Upper bound on ARM requests per second, 1..=1000 (default 10).
    pub max_requests_per_second: u32,
    /// Seconds between full resyncs (drift correction), 1..=86,400 (default 300).
    pub resync_seconds: u64,
    /// Per-request ARM timeout, seconds (1..=300).
    pub request_timeout_seconds: u64,
    /// How long a profile tagged `fleetdns.io.managedBy: fleetdns` whose object is
    /// gone is kept before the garbage collector deletes it, seconds.
    pub gc_grace_seconds: u64,
    /// Take over existing profiles tagged with the same `namespace/name` by
    /// fleet-networking but not by fleetdns (default: never touch them).
    pub adopt: bool,
    /// Per profile (`namespace/name`): resource group and uid.
    pub profiles: BTreeMap<String, AzureProfile>,
    /// Per backend (`namespace/name`): its uid (endpoint names are `fleet-<uid>#…`).
    pub backend_uids: BTreeMap<String, String>,
    /// Public IP resource ids per `cluster/namespace/service`.
    pub public_ips: BTreeMap<String, String>,
}

/// What the mirror needs to know about one TrafficManagerProfile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AzureProfile {
    /// `spec.resourceGroup`.
    pub resource_group: String,
    /// `metadata.uid`, or in file mode a stable id derived from namespace and name.
    pub uid: String,
}

/// How to get an ARM token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "camelCase")]
pub enum AzureAuth {
    /// An Entra ID application's client secret (`clientSecret`).
    ClientSecret {
        /// Entra ID tenant.
        tenant_id: String,
        /// Application (client) id.
        client_id: String,
        /// Where the secret is read from when a token is needed.
        secret: SecretSource,
    },
    /// Kubernetes workload identity: a projected service-account token exchanged at Entra ID
    /// (`workloadIdentity`).
    WorkloadIdentity {
        /// Entra ID tenant (default `$AZURE_TENANT_ID`).
        tenant_id: String,
        /// Client id of the federated identity (default `$AZURE_CLIENT_ID`).
        client_id: String,
        /// Re-read on every refresh (the projected token rotates).
        token_file: PathBuf,
    },
    /// The VM's managed identity, through the IMDS token endpoint (`managedIdentity`).
    ManagedIdentity {
        /// A user-assigned identity's client id; `None` = the system-assigned identity.
        client_id: Option<String>,
        /// IMDS token endpoint, without trailing slash (default [`DEFAULT_IMDS_ENDPOINT`]).
        endpoint: String,
    },
    /// The Azure CLI's login (`az account get-access-token`), for a laptop.
    AzureCli,
}

/// Where the client secret is read from (the secret itself never enters the model).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SecretSource {
    /// The name of an environment variable holding the secret.
    Env(String),
    /// A file holding the secret.
    File(PathBuf),
}

/// A stable, UUID-shaped id for `kind/namespace/name`: the same input always
/// gives the same id, so profile and endpoint names survive restarts in file mode.
pub fn stable_uid(kind: &str, namespace: &str, name: &str) -> String {
    let fnv = |seed: u64| {
        let mut h = seed;
        for b in format!("{kind}/{namespace}/{name}").bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    };
    let (a, b) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Resource group names: 1-90 characters, letters, digits, `-_.()`, not ending in `.`.
pub fn resource_group_ok(rg: &str) -> bool {
    (1..=90).contains(&rg.len())
        && !rg.ends_with('.')
        && rg
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.()".contains(c))
}
