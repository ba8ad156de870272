//! `spec.azure`: what is accepted, the defaults, and precise errors (file, line,
//! object, field, what is allowed). Secrets are never accepted inline.

use std::path::Path;

use fleetdns_config::azure::{AzureAuth, SecretSource};
use fleetdns_config::{file, Diagnostics, Fleet};

fn config(azure: &str, rg: &str) -> String {
    format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.example.com
  nameServers: [{{name: ns1.fleet.example.com, addresses: [127.0.0.1]}}]
  azure:
{azure}
  clusters:
    - name: m1
      services:
        - {{namespace: ns, name: svc, loadBalancer: ['192.0.2.1'], publicIPResourceID: /subscriptions/s/resourceGroups/r/providers/Microsoft.Network/publicIPAddresses/p1}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {{name: web, namespace: ns}}
spec: {{resourceGroup: '{rg}'}}
"
    )
}

fn load(text: &str) -> Result<Fleet, Diagnostics> {
    file::load_str(Path::new("azure.yaml"), text).map(|(f, _)| f)
}

fn errors(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(d) => d.to_string(),
    }
}

const SUB: &str = "    subscriptionId: 6f1c1bd6-2f39-4a3e-9ac6-9b1e8d7b3c10\n";

#[test]
fn defaults_and_per_profile_data() {
    let f = load(&config(
        &format!("{SUB}    auth: {{method: clientSecret, tenantId: t, clientId: c, clientSecretEnv: ARM_SECRET}}"),
        "rg-1",
    ))
    .expect("valid");
    let a = f.azure.expect("azure section");
    assert_eq!(a.arm_endpoint, "https://management.azure.com");
    assert_eq!(a.authority_host, "https://login.microsoftonline.com");
    assert_eq!(a.location, "global");
    assert_eq!((a.max_requests_per_second, a.resync_seconds), (10, 300));
    assert_eq!(
        a.auth,
        AzureAuth::ClientSecret {
            tenant_id: "t".into(),
            client_id: "c".into(),
            secret: SecretSource::Env("ARM_SECRET".into())
        }
    );
    assert_eq!(a.profiles["ns/web"].resource_group, "rg-1");
    assert_eq!(
        a.public_ips["m1/ns/svc"],
        "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/publicIPAddresses/p1"
    );
}

#[test]
fn managed_identity_defaults_to_the_vm_imds_endpoint() {
    let f = load(&config(
        &format!("{SUB}    auth: {{method: managedIdentity}}"),
        "rg",
    ))
    .unwrap();
    assert_eq!(
        f.azure.unwrap().auth,
        AzureAuth::ManagedIdentity {
            client_id: None,
            endpoint: "http://169.254.169.254/metadata/identity/oauth2/token".into()
        }
    );
}

#[test]
fn an_inline_secret_is_rejected_without_echoing_it() {
    let e = errors(&config(
        &format!("{SUB}    auth: {{method: clientSecret, tenantId: t, clientId: c, clientSecret: hunter2}}"),
        "rg",
    ));
    assert!(
        e.contains("azure.yaml:")
            && e.contains("FleetDNSConfig")
            && e.contains("spec.azure.auth.clientSecret"),
        "{e}"
    );
    assert!(
        e.contains("clientSecretEnv") && e.contains("clientSecretFile"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn bad_values_name_the_field_and_what_is_allowed() {
    let e = errors(&config(
        "    subscriptionId: not-a-uuid\n    armEndpoint: ftp://x\n    maxRequestsPerSecond: 0\n    auth: {method: password}",
        "rg",
    ));
    assert!(
        e.contains("spec.azure.subscriptionId") && e.contains("UUID"),
        "{e}"
    );
    assert!(
        e.contains("spec.azure.armEndpoint") && e.contains("http:// or https://"),
        "{e}"
    );
    assert!(
        e.contains("spec.azure.auth.method")
            && e.contains("clientSecret, workloadIdentity, managedIdentity or azureCli"),
        "{e}"
    );
    let e = errors(&config(&format!("{SUB}    auth: {{method: workloadIdentity, tenantId: t, clientId: c, federatedTokenFile: /f}}"), "rg bad!"));
    assert!(
        e.contains("TrafficManagerProfile ns/web")
            && e.contains("spec.resourceGroup")
            && e.contains("1-90"),
        "{e}"
    );
}

#[test]
fn debug_of_the_settings_never_shows_an_inline_secret() {
    let text = config(
        &format!("{SUB}    auth: {{method: clientSecret, tenantId: t, clientId: c, clientSecret: hunter2}}"),
        "rg",
    );
    let mut diags = Diagnostics::default();
    let inputs = file::parse(Path::new("azure.yaml"), &text, &mut diags);
    let (_, settings) = inputs.settings.first().expect("the settings document");
    let azure = settings.spec.azure.as_ref().expect("spec.azure");
    assert!(azure.auth.client_secret.is_some(), "read, to be rejected");
    let shown = format!("{settings:?} {inputs:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}
