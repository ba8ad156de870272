//! Reloads: a changed file changes the answers; a broken one keeps the last good zone.

use std::time::Duration;

use fleetdns_testsupport::dns::{Client, Opts};
use fleetdns_testsupport::wait;
use hickory_proto::rr::RecordType;

use crate::fixtures;

fn answer(client: &Client, name: &str) -> String {
    let m = client.query(name, RecordType::A, &Opts::default());
    m.answers
        .first()
        .map(|r| r.data.to_string())
        .unwrap_or_else(|| format!("{:?}", m.metadata.response_code))
}

/// Polls (bounded) until the answer for `name` is `want`.
fn wait_for_answer(client: &Client, name: &str, want: &str) -> bool {
    wait::poll(
        &format!("{name} to answer {want}"),
        Duration::from_secs(10),
        Duration::from_millis(50),
        || answer(client, name) == want,
    )
    .is_ok()
}

fn one_endpoint(ip: &str) -> String {
    let mut c = fixtures::settings("").replace("['192.0.2.1']", &format!("['{ip}']"));
    // Only c1 runs svc.
    c = c.replace(
        "        - {namespace: ns, name: svc, loadBalancer: ['192.0.2.2']}\n",
        "",
    );
    c += &fixtures::profile("web", "svc", 1);
    c += &fixtures::export("svc", None);
    c
}

#[test]
fn a_changed_file_changes_the_answers_without_restart() {
    let s = fixtures::start(&one_endpoint("192.0.2.1"));
    let client = Client::new(s.addr);
    assert_eq!(answer(&client, "ns-web.tm.test."), "192.0.2.1");
    std::fs::write(&s.config, one_endpoint("192.0.2.99")).unwrap();
    assert!(
        wait_for_answer(&client, "ns-web.tm.test.", "192.0.2.99"),
        "log:\n{}",
        s.log()
    );
    assert!(s.wait_for_log("config reloaded", Duration::from_secs(5)));
}

#[test]
fn a_broken_file_keeps_the_last_good_zone_and_says_why() {
    let s = fixtures::start(&one_endpoint("192.0.2.1"));
    let client = Client::new(s.addr);
    assert_eq!(answer(&client, "ns-web.tm.test."), "192.0.2.1");

    // A semantic error: the weight annotation is out of range, and the IP changes too.
    let broken = one_endpoint("192.0.2.99").replace(
        "kind: ServiceExport\nmetadata:\n  name: svc\n  namespace: ns\n",
        "kind: ServiceExport\nmetadata:\n  name: svc\n  namespace: ns\n  annotations: {networking.fleet.azure.com/weight: \"1001\"}\n",
    );
    std::fs::write(&s.config, &broken).unwrap();
    assert!(
        s.wait_for_log("config rejected", Duration::from_secs(10)),
        "log:\n{}",
        s.log()
    );
    let log = s.log();
    assert!(
        log.contains("ServiceExport ns/svc")
            && log.contains("networking.fleet.azure.com/weight")
            && log.contains("0 to 1000"),
        "the reason is logged precisely:\n{log}"
    );
    for _ in 0..50 {
        assert_eq!(
            answer(&client, "ns-web.tm.test."),
            "192.0.2.1",
            "old answers keep serving"
        );
    }

    // Not even YAML.
    std::fs::write(&s.config, "spec: [unclosed\n  - : :\n").unwrap();
    assert!(
        s.wait_for_log("not valid YAML", Duration::from_secs(10)),
        "log:\n{}",
        s.log()
    );
    assert_eq!(answer(&client, "ns-web.tm.test."), "192.0.2.1");

    // The file disappears.
    std::fs::remove_file(&s.config).unwrap();
    assert!(
        s.wait_for_log("cannot read the file", Duration::from_secs(10)),
        "log:\n{}",
        s.log()
    );
    assert_eq!(answer(&client, "ns-web.tm.test."), "192.0.2.1");

    // Fixed: the new answers arrive.
    std::fs::write(&s.config, one_endpoint("192.0.2.50")).unwrap();
    assert!(
        wait_for_answer(&client, "ns-web.tm.test.", "192.0.2.50"),
        "log:\n{}",
        s.log()
    );
}

#[test]
fn sighup_reloads_and_sigterm_exits_cleanly() {
    let s = fixtures::start(&one_endpoint("192.0.2.1"));
    let client = Client::new(s.addr);
    s.signal("HUP");
    assert!(
        s.wait_for_log("config reloaded", Duration::from_secs(10)),
        "log:\n{}",
        s.log()
    );
    assert_eq!(answer(&client, "ns-web.tm.test."), "192.0.2.1");
    assert_eq!(s.terminate(), Some(0), "exit code 0 after SIGTERM");
}

#[test]
fn an_invalid_file_at_startup_exits_with_code_2_and_the_reason() {
    let dir = fleetdns_testsupport::process::scratch_dir("badstart");
    let path = dir.join("bad.yaml");
    std::fs::write(
        &path,
        fixtures::settings("").replace("zone: tm.test", "zone: tm..test"),
    )
    .unwrap();
    let out = std::process::Command::new(fixtures::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:4") && err.contains("spec.zone") && err.contains("empty label"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
