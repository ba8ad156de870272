//! One Azure credential with its endpoints, written as `spec.azure.auth` is: the
//! rules shared by `spec.azure` (the mirror), `spec.kubernetes.publicIPs` (hub mode's
//! ARM reads) and `spec.kubernetes.hub.auth` (Entra ID sign-in to the hub), so a
//! method added here is accepted in all three, and every finding names the field
//! where it was written.

use crate::azure::{AzureAuth, SecretSource, DEFAULT_AUTHORITY_HOST, DEFAULT_IMDS_ENDPOINT};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::settings::AzureAuthSpec;

/// Where a section sits in the file: its YAML path and its dotted field name.
#[derive(Clone, Copy)]
pub(super) struct Place<'a> {
    /// YAML path, e.g. `["spec", "azure"]`.
    pub(super) path: &'a [&'a str],
    /// Dotted name for messages, e.g. `spec.azure`.
    pub(super) field: &'a str,
}

impl Place<'_> {
    /// Reports `msg` at `key` of this section.
    pub(super) fn err(&self, doc: &Doc, diags: &mut Diagnostics, key: &str, msg: String) {
        let mut path = self.path.to_vec();
        path.extend(key.split('.'));
        diags.push(
            Diagnostic::error(doc.location_of(&path), msg)
                .object("FleetDNSConfig")
                .field(format!("{}.{key}", self.field)),
        );
    }
}

/// A judged credential and the endpoints it is used with.
pub(super) struct Credential {
    /// ARM's base URL (no trailing slash).
    pub(super) arm_endpoint: String,
    /// Entra ID's authority host (no trailing slash).
    pub(super) authority_host: String,
    /// How tokens are had.
    pub(super) auth: AzureAuth,
}

/// `raw` as an http(s) URL without a trailing slash, or why not.
pub(super) fn url(raw: &str) -> Result<String, String> {
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

/// Judges the credential `a` written at `at` (its `method`, `tenantId`, … keys) and the
/// endpoints `armEndpoint` (default `arm_default`) and `authorityHost` (default
/// `$AZURE_AUTHORITY_HOST`, else Entra ID's public cloud) written at `section`. Every
/// problem is reported; `None` when there was one.
pub(super) fn auth(
    doc: &Doc,
    section: Place<'_>,
    at: Place<'_>,
    a: &AzureAuthSpec,
    (arm_endpoint, arm_default): (Option<&String>, &str),
    authority_host: Option<&String>,
    diags: &mut Diagnostics,
) -> Option<Credential> {
    let before = diags.errors().count();
    let endpoint = |diags: &mut Diagnostics, key: &str, raw: Option<&String>, default: &str| {
        url(raw.map_or(default, String::as_str)).unwrap_or_else(|e| {
            section.err(doc, diags, key, e);
            String::new()
        })
    };
    let arm_endpoint = endpoint(diags, "armEndpoint", arm_endpoint, arm_default);
    let env_authority = std::env::var("AZURE_AUTHORITY_HOST")
        .ok()
        .filter(|v| !v.is_empty());
    let authority_host = endpoint(
        diags,
        "authorityHost",
        authority_host.or(env_authority.as_ref()),
        DEFAULT_AUTHORITY_HOST,
    );
    if a.client_secret.is_some() {
        at.err(doc, diags, "clientSecret", "a secret written in the config is not allowed; allowed: clientSecretEnv (an environment variable name) or clientSecretFile (a file path)".into());
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let need = |diags: &mut Diagnostics, v: Option<String>, key: &str, why: &str| {
        v.unwrap_or_else(|| {
            at.err(
                doc,
                diags,
                key,
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
                    at.err(doc, diags, "method", "method clientSecret needs exactly one of clientSecretEnv (an environment variable name) or clientSecretFile (a file path)".into());
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
                    at.err(doc, diags, "imdsEndpoint", e);
                    String::new()
                }),
        },
        "azureCli" => AzureAuth::AzureCli,
        other => {
            at.err(
                doc,
                diags,
                "method",
                format!("{other:?} is not allowed; allowed: clientSecret, workloadIdentity, managedIdentity or azureCli"),
            );
            return None;
        }
    };
    (diags.errors().count() == before).then_some(Credential {
        arm_endpoint,
        authority_host,
        auth,
    })
}
