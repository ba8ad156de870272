//! `spec.azure`: the optional mirror to Azure Traffic Manager, checked and turned
//! into an [`AzureMirror`] with what it needs per profile and cluster.

use std::collections::BTreeMap;

use crate::azure::{
    resource_group_ok, stable_uid, AzureAuth, AzureMirror, AzureProfile, SecretSource,
    DEFAULT_ARM_ENDPOINT, DEFAULT_AUTHORITY_HOST, DEFAULT_GC_GRACE_SECONDS, DEFAULT_IMDS_ENDPOINT,
    DEFAULT_MAX_REQUESTS_PER_SECOND, DEFAULT_REQUEST_TIMEOUT_SECONDS, DEFAULT_RESYNC_SECONDS,
};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::inputs::Inputs;
use crate::settings::SettingsDocument;

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

/// Validates `spec.azure` (if any) and collects per-profile and per-cluster data.
pub(super) fn validate(
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
    let env_authority = std::env::var("AZURE_AUTHORITY_HOST")
        .ok()
        .filter(|v| !v.is_empty());
    let authority_host = endpoint(
        "authorityHost",
        spec.authority_host.as_ref().or(env_authority.as_ref()),
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
        "azureCli" => AzureAuth::AzureCli,
        other => {
            err(
                diags,
                &auth_path("method"),
                "auth.method",
                format!("{other:?} is not allowed; allowed: clientSecret, workloadIdentity, managedIdentity or azureCli"),
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
    let request_timeout_seconds = spec
        .request_timeout_seconds
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECONDS);
    if !(1..=300).contains(&request_timeout_seconds) {
        err(
            diags,
            &["spec", "azure", "requestTimeoutSeconds"],
            "requestTimeoutSeconds",
            format!("{request_timeout_seconds} is not allowed; allowed: 1 to 300 seconds"),
        );
    }
    let gc_grace_seconds = spec.gc_grace_seconds.unwrap_or(DEFAULT_GC_GRACE_SECONDS);
    if gc_grace_seconds > 30 * 86_400 {
        err(
            diags,
            &["spec", "azure", "gcGraceSeconds"],
            "gcGraceSeconds",
            format!("{gc_grace_seconds} is not allowed; allowed: 0 to 2592000 seconds (30 days)"),
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
        request_timeout_seconds,
        gc_grace_seconds,
        adopt: spec.adopt.unwrap_or(false),
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
