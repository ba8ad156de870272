//! `deploy/prometheus/alerts.yaml` through the real `promtool` (Debian `prometheus`):
//! `check rules`, then `test rules` on `alerts_test.yaml`, whose unit tests fire each
//! alert from synthetic series. Also: every alert has a test that expects it to
//! fire, and every series the rules read is one fleetdns exports (a rename cannot
//! silently blind an alert).

use std::path::Path;
use std::process::Command;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus");

/// Runs `promtool args…`; (success, stdout + stderr).
pub fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    use std::io::Write as _;
    let mut child = Command::new("timeout")
        .arg("60")
        .arg("promtool")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run promtool: {e}"));
    {
        let mut input = child.stdin.take().expect("stdin piped");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write to promtool");
        }
    }
    let out = child.wait_with_output().expect("promtool runs");
    if out.status.code() == Some(127) {
        panic!("promtool is not installed (apt-get install prometheus; .ci/run does this)");
    }
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Every `fleetdns_…` name in `text` (histogram suffixes stripped).
pub fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("fleetdns_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        // `fleetdns_dns_…` in a description is prose, not a series: only names that
        // continue past the prefix count.
        if base.len() > "fleetdns_".len() {
            names.insert(base.to_string());
        }
        rest = &tail[end..];
    }
    names
}

/// Every metric name the sources register (string literals `"fleetdns_…"` in `*.rs`
/// outside tests).
pub fn exported_metric_names() -> std::collections::BTreeSet<String> {
    fn walk(dir: &Path, out: &mut String) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                *out += &std::fs::read_to_string(&p).unwrap();
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut text = String::new();
    for dir in [
        "src",
        "arm/src",
        "config/src",
        "dns/src",
        "prober/src",
        "sources/src",
        "sync/src",
    ] {
        walk(&root.join(dir), &mut text);
    }
    text.split('"')
        .filter(|s| {
            s.starts_with("fleetdns_") && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    let rules = format!("{DIR}/alerts.yaml");
    let (ok, out) = promtool(&["check", "rules", &rules], None);
    assert!(
        ok && out.contains("SUCCESS"),
        "promtool check rules:\n{out}"
    );

    // promtool resolves rule_files relative to the test file.
    let (ok, out) = promtool(&["test", "rules", &format!("{DIR}/alerts_test.yaml")], None);
    assert!(ok && out.contains("SUCCESS"), "promtool test rules:\n{out}");
    println!("{out}");
}

#[test]
fn alert_rules_each_fire_in_a_unit_test_and_read_exported_series() {
    let rules: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(format!("{DIR}/alerts.yaml")).unwrap())
            .unwrap();
    let tests: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(format!("{DIR}/alerts_test.yaml")).unwrap())
            .unwrap();
    let fired: std::collections::BTreeSet<&str> = tests["tests"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_sequence().unwrap())
        .filter(|a| a["exp_alerts"].as_sequence().is_some_and(|s| !s.is_empty()))
        .filter_map(|a| a["alertname"].as_str())
        .collect();
    let exported = exported_metric_names();
    let mut alerts = 0;
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let name = rule["alert"].as_str().expect("only alerting rules");
            alerts += 1;
            assert!(fired.contains(name), "no unit test fires {name}");
            let expr = rule["expr"].as_str().unwrap();
            for m in metric_names(expr) {
                assert!(
                    exported.contains(&m),
                    "{name} reads {m}, which fleetdns does not export"
                );
            }
            assert!(
                rule["labels"]["severity"].as_str().is_some(),
                "{name} has no severity"
            );
        }
    }
    // The list: Degraded endpoint, failing open, reload failing, watch stalled,
    // ARM errors (requests, endpoints, Programmed), RRL dropping a lot.
    assert_eq!(alerts, 8);
}
