//! The Azure CLI credential against a fake `az` on PATH (its own test binary, since
//! it sets PATH for the process).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use fleetdns_arm::{ArmMetrics, AuthError, Resource, TokenSource};
use fleetdns_config::azure::AzureAuth;

#[tokio::test]
async fn azure_cli_credential_runs_az_for_the_resource_and_reports_its_error() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("fleetdns-az-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let args = dir.join("args");
    let fail = dir.join("fail");
    let script = format!(
        "#!/bin/sh\necho \"$@\" > {args}\nif [ -e {fail} ]; then echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1; fi\n\
         echo '{{\"accessToken\": \"cli-token-1\", \"expiresOn\": \"2099-01-01 00:00:00.000000\", \"expires_on\": '$(( $(date +%s) + 3600 ))', \"tokenType\": \"Bearer\"}}'\n",
        args = args.display(),
        fail = fail.display()
    );
    std::fs::write(dir.join("az"), script).unwrap();
    std::fs::set_permissions(dir.join("az"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The only test in this binary: nothing else reads PATH concurrently.
    std::env::set_var("PATH", path);

    let metrics = ArmMetrics::unregistered();
    let source = |resource: Resource| {
        TokenSource::new(
            AzureAuth::AzureCli,
            "https://login.example".into(),
            resource,
            reqwest::Client::new(),
            metrics.clone(),
        )
    };
    let arm = source(Resource::arm("https://management.azure.com"));
    let token = arm.token().await.expect("a token from az");
    assert_eq!(token.expose(), "cli-token-1");
    assert!(
        !format!("{token:?}").contains("cli-token-1"),
        "redacted in Debug"
    );
    let sent = std::fs::read_to_string(&args).unwrap();
    assert_eq!(
        sent.trim(),
        "account get-access-token --resource https://management.azure.com/ -o json"
    );
    assert!(
        arm.refresh_at().await.unwrap() > tokio::time::Instant::now() + Duration::from_secs(3000),
        "valid for about an hour"
    );

    // The AKS AAD server app, the other resource the same chain serves.
    let aks = source(Resource("6dae42f8-4368-4678-94ff-3960e28e3630".into()));
    aks.token().await.unwrap();
    assert!(std::fs::read_to_string(&args)
        .unwrap()
        .contains("--resource 6dae42f8-4368-4678-94ff-3960e28e3630 "));

    std::fs::write(&fail, "").unwrap();
    let e = source(Resource::arm("https://management.azure.com"))
        .token()
        .await
        .expect_err("az fails");
    assert!(matches!(e, AuthError::AzureCli { .. }), "{e:?}");
    assert!(e.to_string().contains("az login"), "{e}");
    assert_eq!(
        metrics
            .tokens
            .with_label_values(&["azureCli", "error"])
            .get(),
        1
    );
    let _ = std::fs::remove_dir_all(&dir);
}
