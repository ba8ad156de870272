//! Signing in to the hub end to end, over HTTPS with the hub's own CA in the kubeconfig:
//! a kubeconfig `exec` plugin (as kubelogin) whose tokens expire every few seconds, and
//! native Entra ID sign-in (`spec.kubernetes.hub.auth`) with tokens from the ARM
//! emulator's token endpoint. The hub accepts only live tokens from its issuer (401
//! otherwise, as kube-apiserver does).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetdns_config::hub::AKS_AAD_SERVER_APP_ID;
use fleetdns_kubefake::{
    kubeconfig_yaml_for, write_kubeconfig_exec, ExecPlugin, TokenAuthority, User,
};
use fleetdns_testsupport::dns::Client;
use fleetdns_testsupport::{wait, Fleetdns};
use serde_json::json;

use crate::fixtures;
use crate::hub_mode::{answers, Hub, FLEET_ALPHA};

fn eventually(what: &str, check: impl FnMut() -> bool) {
    wait::eventually(
        what,
        Duration::from_secs(30),
        Duration::from_millis(100),
        check,
    );
}

/// Two members, weights 1 and 1, with public IPs .21 and .22.
fn seed_two_members(h: &Hub) {
    h.seed();
    for (i, c) in ["m1", "m2"].iter().enumerate() {
        let pip = h.export(c, 1, false);
        h.arm
            .put_public_ip(&pip, Some(&format!("203.0.113.{}", 21 + i)), Some(c));
    }
    h.import_lists(&["m1", "m2"]);
}

fn set_export_weight(h: &Hub, cluster: &str, weight: i64) {
    h.hub
        .merge_patch(
            FLEET_ALPHA,
            "InternalServiceExport",
            &format!("fleet-member-{cluster}"),
            "demo-web",
            &json!({"spec": {"weight": weight}}),
            false,
        )
        .unwrap();
}

#[test]
fn hub_auth_exec_plugin_tokens_expiring_every_3s_keep_answers_for_a_minute() {
    let h = Hub::start_tls(153);
    seed_two_members(&h);
    let authority = Arc::new(TokenAuthority::new());
    h.hub.authenticate_with(Some(authority.clone()));
    let minted = h.dir.join("minted.log");
    let plugin = ExecPlugin {
        command: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/kubefake/fake-exec-plugin.sh"),
        args: Vec::new(),
        env: vec![
            ("KUBEFAKE_TOKEN_SECRET".into(), authority.secret().into()),
            ("KUBEFAKE_TOKEN_LIFETIME".into(), "3".into()),
            ("KUBEFAKE_TOKEN_LOG".into(), minted.display().to_string()),
        ],
    };
    let kubeconfig = h.dir.join("kubeconfig");
    write_kubeconfig_exec(&kubeconfig, &[&h.hub], &plugin).unwrap();
    let config = h.config_with(&kubeconfig, "{context: hub}");
    let f = Fleetdns::start(fixtures::BIN.as_ref(), &config, "127.0.153.10:0");
    let client = Client::new(f.addr);
    eventually("both members answer", || answers(&client, 40).len() == 2);
    let start = Instant::now();
    let (mut served, mut lost, mut drops) = (0u64, 0u64, 0u32);
    let mut changed = false;
    // A minute of continuous queries. Every 15 s the hub drops every connection (so every
    // watch), long after the tokens that opened them expired: the watches must come back
    // with fresh tokens. Near the end m2's export goes to weight 0.
    while start.elapsed() < Duration::from_secs(60) {
        let t = answers(&client, 20);
        lost += *t.get("").unwrap_or(&0) as u64;
        served += t.values().sum::<usize>() as u64;
        let secs = start.elapsed().as_secs();
        if secs >= 15 * (u64::from(drops) + 1) && drops < 3 {
            h.hub.drop_connections();
            drops += 1;
        }
        if secs >= 50 && !changed {
            set_export_weight(&h, "m2", 0);
            changed = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(lost, 0, "{lost} of {served} answers had no address");
    eventually("the weight change near the end reaches the answers", || {
        let t = answers(&client, 40);
        t.len() == 1 && t.contains_key("203.0.113.21")
    });
    let mints = std::fs::read_to_string(&minted)
        .unwrap_or_default()
        .lines()
        .count();
    assert!(
        authority.distinct_accepted() >= 5 && mints >= 5,
        "tokens were refreshed: {} accepted, {mints} minted",
        authority.distinct_accepted()
    );
    assert!(!f.log().contains("panicked"));
}

/// Settings for `spec.kubernetes.hub` signing in natively with workload identity at the
/// emulator's Entra ID (federated token file in the scratch directory), and a kubeconfig
/// that gives only the hub's address and CA.
fn native_hub(h: &Hub) -> String {
    let kubeconfig = h.dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        kubeconfig_yaml_for(&[&h.hub], &User::Anonymous),
    )
    .unwrap();
    std::fs::write(h.dir.join("token"), "federated-jwt-1").unwrap();
    let hub = format!(
        "{{context: hub, auth: {{authorityHost: '{}', azure: {{method: workloadIdentity, tenantId: tenant-1, clientId: client-1, federatedTokenFile: {}}}}}}}",
        h.arm.url(),
        h.dir.join("token").display()
    );
    h.config_with(&kubeconfig, &hub)
}

fn workload_tokens(h: &Hub) -> usize {
    h.arm
        .issued()
        .iter()
        .filter(|i| i.method == "workloadIdentity")
        .count()
}

#[test]
fn hub_auth_native_workload_identity_signs_in_and_refreshes_before_expiry() {
    let h = Hub::start_tls(154);
    seed_two_members(&h);
    h.arm.set_token_lifetime(5);
    // The hub trusts the emulator's Entra ID for the AKS AAD server app only.
    let validate = h.arm.token_validator(AKS_AAD_SERVER_APP_ID);
    let refused = Arc::new(AtomicU64::new(0));
    let counter = refused.clone();
    h.hub.authenticate_with(Some(Arc::new(move |t: &str| {
        validate(t).inspect_err(|_| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
    })));
    let f = Fleetdns::start(fixtures::BIN.as_ref(), &native_hub(&h), "127.0.154.10:0");
    let client = Client::new(f.addr);
    eventually("both members answer", || answers(&client, 40).len() == 2);
    let first = workload_tokens(&h);
    assert!(first >= 1);
    // Several token lifetimes, the watches dropped twice: answers never stop, and the
    // watches come back signed in with newer tokens.
    let start = Instant::now();
    let (mut lost, mut drops) = (0usize, 0u32);
    while start.elapsed() < Duration::from_secs(16) {
        lost += *answers(&client, 20).get("").unwrap_or(&0);
        if start.elapsed() >= Duration::from_secs(6 * (u64::from(drops) + 1)) && drops < 2 {
            h.hub.drop_connections();
            drops += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(lost, 0, "answers without an address");
    set_export_weight(&h, "m2", 0);
    eventually("a change after the refreshes reaches the answers", || {
        let t = answers(&client, 40);
        t.len() == 1 && t.contains_key("203.0.113.21")
    });
    assert!(
        workload_tokens(&h) >= first + 2,
        "tokens were refreshed: {} then {}",
        first,
        workload_tokens(&h)
    );
    assert_eq!(
        refused.load(Ordering::Relaxed),
        0,
        "refreshed before expiry: the hub never saw an expired or foreign token"
    );
    // Every hub token fleetdns got is counted, apart from its ARM tokens.
    let counted = crate::hub_mode::metric(
        f.admin,
        "fleetdns_hub_token_requests_total{method=\"workloadIdentity\",result=\"success\"}",
    );
    assert!(
        counted as usize >= first + 2 && counted as usize <= workload_tokens(&h),
        "hub tokens counted: {counted}, issued: {}",
        workload_tokens(&h)
    );
    assert!(!f.log().contains("panicked"));
}

#[test]
fn hub_auth_refused_token_is_logged_naming_the_hub_and_what_to_fix() {
    let h = Hub::start_tls(155);
    seed_two_members(&h);
    // This hub's AKS AAD server app is another one: fleetdns's tokens are for the
    // default audience, so every request is 401.
    let validate = h
        .arm
        .token_validator("11111111-2222-3333-4444-555555555555");
    h.hub.authenticate_with(Some(Arc::new(validate)));
    let f = Fleetdns::start(fixtures::BIN.as_ref(), &native_hub(&h), "127.0.155.10:0");
    assert!(
        f.wait_for_log("refused the Entra ID token", Duration::from_secs(30)),
        "{}",
        f.log()
    );
    let log = f.log();
    let line = log
        .lines()
        .find(|l| l.contains("refused the Entra ID token"))
        .unwrap_or_default();
    assert!(
        line.contains("hub=hub")
            && line.contains("serverAppId")
            && line.contains(AKS_AAD_SERVER_APP_ID)
            && line.contains("ClusterRole"),
        "{line}"
    );
    assert!(
        !log.contains("emu-workloadIdentity-"),
        "no token in the log"
    );
    // Counted, by hub; the rest of fleetdns keeps running (its admin answers).
    let refused = crate::hub_mode::metric(f.admin, "fleetdns_hub_token_refused_total{hub=\"hub\"}");
    assert!(
        refused >= 1.0,
        "{}",
        crate::hub_mode::http_get(f.admin, "/metrics")
    );
}

/// Runs `fleetdns check` on `config`; (exit code, stdout and stderr).
fn check(h: &Hub, config: &str) -> (i32, String) {
    let path = h.dir.join("check.yaml");
    std::fs::write(&path, config).unwrap();
    let out = std::process::Command::new("timeout")
        .arg("60")
        .arg(fixtures::BIN)
        .arg("check")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run fleetdns check");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn hub_auth_check_signs_in_natively_and_names_a_refused_token() {
    let h = Hub::start_tls(157);
    seed_two_members(&h);
    let validate = h.arm.token_validator(AKS_AAD_SERVER_APP_ID);
    h.hub.authenticate_with(Some(Arc::new(validate)));
    // The kubeconfig has no user at all: check gets its token from Entra ID (the
    // emulator's, by workload identity) for the AKS AAD server app, over HTTPS.
    let (code, out) = check(&h, &native_hub(&h));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("cluster hub (context hub): ok") && out.contains("permissions granted"),
        "{out}"
    );
    assert!(workload_tokens(&h) >= 1, "a token was fetched");
    assert!(!out.contains("emu-workloadIdentity-"), "no token printed");
    // A hub whose AKS AAD server app is another one refuses the token: exit 5
    // (credentials rejected), naming the hub.
    let other = h
        .arm
        .token_validator("11111111-2222-3333-4444-555555555555");
    h.hub.authenticate_with(Some(Arc::new(other)));
    let (code, out) = check(&h, &native_hub(&h));
    assert_eq!(code, 5, "{out}");
    assert!(
        out.contains("cluster hub (context hub)") && out.contains("credentials rejected"),
        "{out}"
    );
    // A credential missing what its method needs is a config error at its own field.
    let broken = native_hub(&h).replace("tenantId: tenant-1, ", "");
    let (code, out) = check(&h, &broken);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("spec.kubernetes.hub.auth.azure.tenantId"),
        "{out}"
    );
}
