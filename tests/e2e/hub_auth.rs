//! Signing in to the hub end to end, over HTTPS with the hub's own CA in the kubeconfig:
//! a kubeconfig `exec` plugin (as kubelogin) whose tokens expire every few seconds, and
//! native Entra ID sign-in (`spec.kubernetes.hub.auth`) with tokens from the ARM
//! emulator's token endpoint. The hub accepts only live tokens from its issuer (401
//! otherwise, as kube-apiserver does).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetdns_kubefake::{write_kubeconfig_exec, ExecPlugin, TokenAuthority};
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
        command: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/kubefake/fake-exec-plugin.sh"),
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
    let mints = std::fs::read_to_string(&minted).unwrap_or_default().lines().count();
    assert!(
        authority.distinct_accepted() >= 5 && mints >= 5,
        "tokens were refreshed: {} accepted, {mints} minted",
        authority.distinct_accepted()
    );
    assert!(!f.log().contains("panicked"));
}
