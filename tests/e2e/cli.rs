//! `fleetdns check`: what would be served, as text and JSON, and its exit codes.

use std::process::Command;

use crate::fixtures;

fn check(config: &str, json: bool) -> (Option<i32>, String) {
    let dir = fleetdns_testsupport::process::scratch_dir("check");
    let path = dir.join("fleet.yaml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = Command::new(fixtures::BIN);
    cmd.args(["check", "--config"]).arg(&path);
    if json {
        cmd.args(["--output", "json"]);
    }
    let out = cmd.output().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn check_prints_names_endpoints_and_effective_weights() {
    let (code, out) = check(&fixtures::example(), false);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("kuard-demo-kuard-atm-demo.fleet.example.com."),
        "{out}"
    );
    for (cluster, ip, weight) in [
        ("member-1", "127.0.0.11", 25),
        ("member-2", "127.0.0.12", 25),
        ("member-3", "127.0.0.13", 50),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("#{cluster} ")))
            .unwrap_or_else(|| panic!("{cluster} missing:\n{out}"));
        assert!(
            line.contains(ip) && line.contains(&format!("weight   {weight}")),
            "{line}"
        );
    }
}

#[test]
fn check_json_has_the_fleet() {
    let (code, out) = check(&fixtures::example(), true);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["valid"], true);
    assert_eq!(v["fleet"]["zone"]["apex"], "fleet.example.com");
    let p = &v["fleet"]["profiles"][0];
    assert_eq!(p["owner"], "kuard-demo-kuard-atm-demo.fleet.example.com");
    let weights: Vec<u64> = p["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["weight"].as_u64().unwrap())
        .collect();
    assert_eq!(weights, [25, 25, 50]);
}

#[test]
fn check_exits_non_zero_and_lists_errors_as_text_and_json() {
    let bad = fixtures::example().replace("intervalInSeconds: 10", "intervalInSeconds: 20");
    let (code, out) = check(&bad, false);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("TrafficManagerProfile team-a/web")
            && out.contains("spec.monitorConfig.intervalInSeconds")
            && out.contains("10, 30"),
        "{out}"
    );
    let (code, out) = check(&bad, true);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], false);
    let d = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["severity"] == "error")
        .expect("an error diagnostic");
    assert_eq!(d["field"], "spec.monitorConfig.intervalInSeconds");
    assert!(d["location"]["line"].as_u64().unwrap() > 0);
}

#[test]
fn check_json_and_text_never_show_a_custom_header_value() {
    let config = fixtures::example().replacen(
        "  monitorConfig:\n    port: 80\n",
        "  monitorConfig:\n    port: 80\n    customHeaders:\n      - {name: X-Api-Key, value: s3cr3t-probe-key}\n",
        1,
    );
    assert_ne!(config, fixtures::example(), "the example changed shape");
    for json in [true, false] {
        let (code, out) = check(&config, json);
        assert_eq!(code, Some(0), "{out}");
        assert!(!out.contains("s3cr3t-probe-key"), "value shown:\n{out}");
        if json {
            let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
            let headers = &v["fleet"]["profiles"][0]["monitor"]["custom_headers"];
            assert_eq!(headers[0][0], "X-Api-Key", "{headers}");
            assert_eq!(headers[0][1], "<redacted>", "{headers}");
        }
    }
}
