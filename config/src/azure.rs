//! The optional `spec.azure` section of the settings document: mirroring the fleet
//! to Azure Traffic Manager over ARM.
//!
//! [`AzureSpec`] is what the file says; [`validate`] turns it into an
//! [`AzureMirror`] carried in the `Fleet`, with every check reported as a
//! diagnostic (file, document, field, what is accepted). Secrets are never written
//! in the file: a client secret is named by an environment variable or a file path
//! and only read by the token client when it needs a token.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::file::Inputs;
use crate::settings::SettingsDocument;

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

/// `spec.azure` as written.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzureSpec {
    /// Subscription that holds the Traffic Manager profiles (a UUID).
    pub subscription_id: String,
    /// ARM endpoint; default `https://management.azure.com` (sovereign clouds differ).
    #[serde(default)]
    pub arm_endpoint: Option<String>,
    /// Entra ID authority; default `https://login.microsoftonline.com`.
    #[serde(default)]
    pub authority_host: Option<String>,
    /// Location of created profiles; default `global` (what Traffic Manager uses).
    #[serde(default)]
    pub location: Option<String>,
    pub auth: AzureAuthSpec,
    /// Upper bound on ARM requests per second; default 10.
    #[serde(default)]
    pub max_requests_per_second: Option<u32>,
    /// Full resync (drift correction) interval in seconds; default 300.
    #[serde(default)]
    pub resync_interval_seconds: Option<u64>,
}

/// `spec.azure.auth` as written.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzureAuthSpec {
    /// `clientSecret`, `workloadIdentity` or `managedIdentity`.
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
    pub client_secret: Option<serde_yaml::Value>,
    /// Federated token file; default `$AZURE_FEDERATED_TOKEN_FILE`.
    #[serde(default)]
    pub federated_token_file: Option<PathBuf>,
    /// IMDS token endpoint; default `http://169.254.169.254/metadata/identity/oauth2/token`.
    #[serde(default)]
    pub imds_endpoint: Option<String>,
}

/// Validated mirror settings plus what the mirror needs per profile and cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AzureMirror {
    pub subscription_id: String,
    /// Without trailing slash.
    pub arm_endpoint: String,
    /// Without trailing slash.
    pub authority_host: String,
    pub location: String,
    pub auth: AzureAuth,
    pub max_requests_per_second: u32,
    pub resync_seconds: u64,
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
    ClientSecret {
        tenant_id: String,
        client_id: String,
        secret: SecretSource,
    },
    WorkloadIdentity {
        tenant_id: String,
        client_id: String,
        /// Re-read on every refresh (the projected token rotates).
        token_file: PathBuf,
    },
    ManagedIdentity {
        client_id: Option<String>,
        endpoint: String,
    },
}

/// Where the client secret is read from (the secret itself never enters the model).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SecretSource {
    Env(String),
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

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn url(raw: &str) -> Result<String, String> {
    let t = raw.trim_end_matches('/');
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.contains(char::is_whitespace) => Ok(t.to_string()),
        _ => Err(format!(
            "{raw:?} is not allowed; allowed: an http:// or https:// URL"
        )),
    }
}

/// Resource group names: 1-90 characters, letters, digits, `-_.()`, not ending in `.`.
pub fn resource_group_ok(rg: &str) -> bool {
    (1..=90).contains(&rg.len())
        && !rg.ends_with('.')
        && rg
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.()".contains(c))
}

/// Validates `spec.azure` (if any) and collects per-profile and per-cluster data.
pub fn validate(
    doc: &Doc,
    s: &SettingsDocument,
    inputs: &Inputs,
    diags: &mut Diagnostics,
) -> Option<AzureMirror> {
    let spec = s.spec.azure.as_ref()?;
    let before = diags.errors().count();
    let err = |diags: &mut Diagnostics, path: &[&str], field: &str, msg: String| {
        diags.push(
            Diagnostic::error(doc.location_of(path), msg)
                .object("FleetDNSConfig")
                .field(format!("spec.azure.{field}")),
        );
    };
    if !is_uuid(&spec.subscription_id) {
        err(diags, &["spec", "azure", "subscriptionId"], "subscriptionId", format!("{:?} is not allowed; allowed: a subscription id (UUID, like 00000000-0000-0000-0000-000000000000)", spec.subscription_id));
    }
    let mut endpoint = |field: &str, raw: Option<&String>, default: &str| {
        url(raw.map_or(default, String::as_str)).unwrap_or_else(|e| {
            err(diags, &["spec", "azure", field], field, e);
            String::new()
        })
    };
    let arm_endpoint = endpoint(
        "armEndpoint",
        spec.arm_endpoint.as_ref(),
        DEFAULT_ARM_ENDPOINT,
    );
    let authority_host = endpoint(
        "authorityHost",
        spec.authority_host.as_ref(),
        DEFAULT_AUTHORITY_HOST,
    );
    let a = &spec.auth;
    let auth_path = |f: &'static str| ["spec", "azure", "auth", f];
    if a.client_secret.is_some() {
        err(diags, &auth_path("clientSecret"), "auth.clientSecret", "a secret written in the config is not allowed; allowed: clientSecretEnv (an environment variable name) or clientSecretFile (a file path)".into());
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let need = |diags: &mut Diagnostics, v: Option<String>, f: &'static str, why: &str| {
        v.unwrap_or_else(|| {
            err(
                diags,
                &auth_path(f),
                &format!("auth.{f}"),
                format!("missing; required for method {}{why}", a.method),
            );
            String::new()
        })
    };
    let auth = match a.method.as_str() {
        "clientSecret" => {
            let tenant_id = need(diags, a.tenant_id.clone(), "tenantId", "");
            let client_id = need(diags, a.client_id.clone(), "clientId", "");
            let secret = match (&a.client_secret_env, &a.client_secret_file) {
                (Some(e), None) if !e.is_empty() => SecretSource::Env(e.clone()),
                (None, Some(f)) => SecretSource::File(f.clone()),
                _ => {
                    err(diags, &auth_path("method"), "auth", "method clientSecret needs exactly one of clientSecretEnv (an environment variable name) or clientSecretFile (a file path)".into());
                    SecretSource::Env(String::new())
                }
            };
            AzureAuth::ClientSecret {
                tenant_id,
                client_id,
                secret,
            }
        }
        "workloadIdentity" => AzureAuth::WorkloadIdentity {
            tenant_id: need(
                diags,
                a.tenant_id.clone().or_else(|| env("AZURE_TENANT_ID")),
                "tenantId",
                " (or set AZURE_TENANT_ID)",
            ),
            client_id: need(
                diags,
                a.client_id.clone().or_else(|| env("AZURE_CLIENT_ID")),
                "clientId",
                " (or set AZURE_CLIENT_ID)",
            ),
            token_file: need(
                diags,
                a.federated_token_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .or_else(|| env("AZURE_FEDERATED_TOKEN_FILE")),
                "federatedTokenFile",
                " (or set AZURE_FEDERATED_TOKEN_FILE)",
            )
            .into(),
        },
        "managedIdentity" => AzureAuth::ManagedIdentity {
            client_id: a.client_id.clone(),
            endpoint: url(a.imds_endpoint.as_deref().unwrap_or(DEFAULT_IMDS_ENDPOINT))
                .unwrap_or_else(|e| {
                    err(diags, &auth_path("imdsEndpoint"), "auth.imdsEndpoint", e);
                    String::new()
                }),
        },
        other => {
            err(
                diags,
                &auth_path("method"),
                "auth.method",
                format!("{other:?} is not allowed; allowed: clientSecret, workloadIdentity or managedIdentity"),
            );
            return None;
        }
    };
    let max_requests_per_second = spec
        .max_requests_per_second
        .unwrap_or(DEFAULT_MAX_REQUESTS_PER_SECOND);
    if !(1..=1000).contains(&max_requests_per_second) {
        err(
            diags,
            &["spec", "azure", "maxRequestsPerSecond"],
            "maxRequestsPerSecond",
            format!("{max_requests_per_second} is not allowed; allowed: 1 to 1000"),
        );
    }
    let resync_seconds = spec
        .resync_interval_seconds
        .unwrap_or(DEFAULT_RESYNC_SECONDS);
    if !(1..=86_400).contains(&resync_seconds) {
        err(
            diags,
            &["spec", "azure", "resyncIntervalSeconds"],
            "resyncIntervalSeconds",
            format!("{resync_seconds} is not allowed; allowed: 1 to 86400 seconds"),
        );
    }

    let mut profiles = BTreeMap::new();
    for p in &inputs.profiles {
        let rg = &p.spec.resource_group;
        if !resource_group_ok(rg) {
            diags.push(
                Diagnostic::error(p.doc.location_of(&["spec", "resourceGroup"]), format!("{rg:?} is not allowed as an Azure resource group; allowed: 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'"))
                    .object(format!("TrafficManagerProfile {}/{}", p.namespace(), p.name()))
                    .field("spec.resourceGroup"),
            );
            continue;
        }
        let uid = p
            .metadata
            .uid
            .clone()
            .unwrap_or_else(|| stable_uid("TrafficManagerProfile", p.namespace(), p.name()));
        profiles.insert(
            format!("{}/{}", p.namespace(), p.name()),
            AzureProfile {
                resource_group: rg.clone(),
                uid,
            },
        );
    }
    let backend_uids = inputs
        .backends
        .iter()
        .map(|b| {
            let uid =
                b.metadata.uid.clone().unwrap_or_else(|| {
                    stable_uid("TrafficManagerBackend", b.namespace(), b.name())
                });
            (format!("{}/{}", b.namespace(), b.name()), uid)
        })
        .collect();
    let mut public_ips = BTreeMap::new();
    for (i, c) in s.spec.clusters.iter().enumerate() {
        for (j, svc) in c.services.iter().enumerate() {
            let Some(id) = &svc.public_ip_resource_id else {
                continue;
            };
            let lower = id.to_ascii_lowercase();
            if !(lower.starts_with("/subscriptions/")
                && lower.contains("/providers/microsoft.network/publicipaddresses/"))
            {
                diags.push(
                    Diagnostic::error(doc.location_of(&["spec", "clusters", "services", "publicIPResourceID"]), format!("{id:?} is not allowed; allowed: a public IP resource id like /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/publicIPAddresses/<name>"))
                        .object("FleetDNSConfig")
                        .field(format!("spec.clusters[{i}].services[{j}].publicIPResourceID")),
                );
                continue;
            }
            public_ips.insert(
                format!("{}/{}/{}", c.name, svc.namespace, svc.name),
                id.clone(),
            );
        }
    }
    if diags.errors().count() > before {
        return None;
    }
    Some(AzureMirror {
        subscription_id: spec.subscription_id.to_ascii_lowercase(),
        arm_endpoint,
        authority_host,
        location: spec.location.clone().unwrap_or_else(|| "global".into()),
        auth,
        max_requests_per_second,
        resync_seconds,
        profiles,
        backend_uids,
        public_ips,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_uid_is_uuid_shaped_and_stable() {
        let a = stable_uid("TrafficManagerProfile", "ns", "web");
        assert!(is_uuid(&a), "{a}");
        assert_eq!(a, stable_uid("TrafficManagerProfile", "ns", "web"));
        assert_ne!(a, stable_uid("TrafficManagerProfile", "ns", "web2"));
    }
}
