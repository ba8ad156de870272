//! Health probes end to end: real backends (`fleetdns demo-backend` processes) on
//! 127.x addresses, killed and restarted by PID; answers follow; the health view
//! is visible with dig from trusted addresses only; metrics with curl.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use fleetdns_testsupport::dns::{Client, Opts};
use fleetdns_testsupport::{tools, wait, DemoBackend};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::fixtures;

const PORT: u16 = 18080;

/// A zone with one profile `ns/web` whose endpoints are `ips` (one cluster each),
/// probed over HTTP on PORT every second with a 1 s timeout and `tolerated` failures.
fn config(ips: &[&str], tolerated: u32, extra_annotations: &str, trusted: &str) -> String {
    let mut clusters = String::new();
    for (i, ip) in ips.iter().enumerate() {
        clusters += &format!("    - {{name: c{i}, services: [{{namespace: ns, name: svc, loadBalancer: ['{ip}']}}]}}\n");
    }
    format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers: [{{name: ns1.tm.test, addresses: [127.0.0.1]}}]
  healthView: {{trustedNetworks: {trusted}}}
  clusters:
{clusters}---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata:
  name: web
  namespace: ns
  annotations:
    fleetdns.io/probe-interval-seconds: \"1\"
    fleetdns.io/probe-timeout-seconds: \"1\"
{extra_annotations}spec:
  resourceGroup: rg
  monitorConfig: {{port: {PORT}, path: /healthz, toleratedNumberOfFailures: {tolerated}}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: web, namespace: ns}}
spec: {{profile: {{name: web}}, backend: {{name: svc}}, weight: 100}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {{name: svc, namespace: ns}}
"
    )
}

fn addr(ip: &str) -> SocketAddr {
    format!("{ip}:{PORT}").parse().unwrap()
}

/// The distinct A answers of `n` queries.
fn answers(client: &Client, n: usize) -> (BTreeSet<String>, usize) {
    let mut seen = BTreeSet::new();
    let mut empty = 0;
    for _ in 0..n {
        let m = client.query("ns-web.tm.test.", RecordType::A, &Opts::default());
        match m.answers.first() {
            Some(r) => {
                seen.insert(r.data.to_string());
            }
            None => empty += 1,
        }
    }
    (seen, empty)
}

/// The `_health` TXT records as text, one line per record (trusted client).
fn health_txt(client: &Client) -> Vec<String> {
    let m = client.query("_health.ns-web.tm.test.", RecordType::TXT, &Opts::default());
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

/// Polls the health view (bounded) until `pred` holds on its lines.
fn wait_health(client: &Client, what: &str, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    wait::eventually(
        what,
        Duration::from_secs(15),
        Duration::from_millis(100),
        || {
            let lines = health_txt(client);
            if pred(&lines) {
                Ok(lines)
            } else {
                Err(format!("health view:\n{}", lines.join("\n")))
            }
        },
    )
}

fn count_state(lines: &[String], state: &str) -> usize {
    lines
        .iter()
        .filter(|l| l.contains(&format!("state={state}")))
        .count()
}

#[test]
fn a_killed_backend_leaves_the_answers_in_time_and_returns_after_restart() {
    let ips = ["127.0.4.1", "127.0.4.2", "127.0.4.3"];
    let mut backends: Vec<DemoBackend> = ips
        .iter()
        .map(|ip| DemoBackend::start(fixtures::BIN.as_ref(), addr(ip)))
        .collect();
    let s = fixtures::start(&config(&ips, 1, "", "[127.0.0.0/8]"));
    let client = Client::new(s.addr);
    wait_health(&client, "all Online", |l| count_state(l, "Online") == 3);
    assert_eq!(
        answers(&client, 200).0.len(),
        3,
        "all three serve while healthy"
    );

    backends[1].kill();
    // The failover bound: interval × (tolerated + 1) + timeout + 1 s = 1 × 2 + 1 + 1 = 4 s.
    // After it, no answer may name the dead endpoint.
    std::thread::sleep(Duration::from_secs(4));
    let (seen, empty) = answers(&client, 500);
    assert_eq!(empty, 0);
    assert!(
        !seen.contains("127.0.4.2"),
        "the dead endpoint is gone from 100% of answers: {seen:?}\n{}",
        health_txt(&client).join("\n")
    );
    assert_eq!(seen.len(), 2);
    let lines = health_txt(&client);
    assert!(
        lines.iter().any(|l| l.contains("127.0.4.2")
            && l.contains("state=Degraded")
            && l.contains("served=no")),
        "{}",
        lines.join("\n")
    );

    backends[1].restart();
    wait::eventually(
        "the restarted endpoint back in the answers",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            if answers(&client, 100).0.contains("127.0.4.2") {
                Ok(())
            } else {
                Err(format!("health view:\n{}", health_txt(&client).join("\n")))
            }
        },
    );
    assert!(
        s.log().contains("127.0.4.2") || s.count_log("Degraded") > 0,
        "the transition is logged:\n{}",
        s.log()
    );
}

#[test]
fn when_every_endpoint_is_degraded_the_profile_fails_open() {
    // Nothing listens on these: connection refused.
    let s = fixtures::start(&config(&["127.0.5.1", "127.0.5.2"], 0, "", "[127.0.0.0/8]"));
    let client = Client::new(s.addr);
    wait_health(&client, "both Degraded", |l| {
        count_state(l, "Degraded") == 2
    });
    let (seen, empty) = answers(&client, 200);
    assert_eq!(empty, 0, "fail-open serves");
    assert_eq!(
        seen,
        BTreeSet::from(["127.0.5.1".to_string(), "127.0.5.2".to_string()])
    );
}

#[test]
fn a_fail_closed_profile_serves_nothing_when_every_endpoint_is_degraded() {
    let s = fixtures::start(&config(
        &["127.0.6.1", "127.0.6.2"],
        0,
        "    fleetdns.io/fail-closed: \"true\"\n",
        "[127.0.0.0/8]",
    ));
    let client = Client::new(s.addr);
    wait_health(&client, "both Degraded", |l| {
        count_state(l, "Degraded") == 2
    });
    let m = client.query("ns-web.tm.test.", RecordType::A, &Opts::default());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty(), "fail-closed: NODATA");
    assert!(m.metadata.authoritative);
}

#[test]
fn the_health_view_is_answered_to_trusted_clients_only() {
    let _b = DemoBackend::start(fixtures::BIN.as_ref(), addr("127.0.7.1"));
    let s = fixtures::start(&config(
        &["127.0.7.1", "127.0.7.2"],
        0,
        "",
        "[127.0.0.1/32]",
    ));
    let server = format!("@{}", s.addr.ip());
    let port = s.addr.port().to_string();
    let dig = |source: &str, name: &str, qtype: &str| {
        tools::run(
            "dig",
            &[
                &server, "-p", &port, "-b", source, "+norec", "+time=2", "+tries=2", name, qtype,
            ],
        )
    };
    // Trusted: the summary and one TXT per endpoint, with state, last result and age.
    let trusted = wait::eventually(
        "the health view to show both states",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || {
            let out = dig("127.0.0.1", "_health.ns-web.tm.test", "TXT");
            if out.contains("state=Online") && out.contains("state=Degraded") {
                Ok(out)
            } else {
                Err(out)
            }
        },
    );
    assert!(
        trusted.contains("status: NOERROR") && trusted.contains("flags: qr aa"),
        "{trusted}"
    );
    assert!(
        trusted.contains("\"profile=ns/web\"") && trusted.contains("\"serving=1\""),
        "{trusted}"
    );
    let online = trusted
        .lines()
        .find(|l| l.contains("127.0.7.1"))
        .expect("line for 127.0.7.1");
    for part in [
        "\"cluster=c0\"",
        "\"weight=50\"",
        "\"state=Online\"",
        "\"served=yes\"",
        "\"last=HTTP 200\"",
        "\"age=",
    ] {
        assert!(online.contains(part), "{part} missing: {online}");
    }
    let degraded = trusted
        .lines()
        .find(|l| l.contains("127.0.7.2"))
        .expect("line for 127.0.7.2");
    assert!(
        degraded.contains("\"state=Degraded\"") && degraded.contains("\"served=no\""),
        "{degraded}"
    );
    // Per-cluster names: that cluster's healthy endpoints only.
    let c0 = dig("127.0.0.1", "c0._cluster.ns-web.tm.test", "A");
    assert!(
        c0.contains("status: NOERROR") && c0.contains("127.0.7.1"),
        "{c0}"
    );
    let c1 = dig("127.0.0.1", "c1._cluster.ns-web.tm.test", "A");
    assert!(
        c1.contains("status: NOERROR") && c1.contains("ANSWER: 0"),
        "degraded cluster has no answer: {c1}"
    );

    // Untrusted: the names do not exist, and nothing about endpoints leaks.
    for (name, qtype) in [
        ("_health.ns-web.tm.test", "TXT"),
        ("c0._cluster.ns-web.tm.test", "A"),
        ("_cluster.ns-web.tm.test", "A"),
    ] {
        let out = dig("127.0.0.2", name, qtype);
        assert!(
            out.contains("status: NXDOMAIN"),
            "{name} from untrusted: {out}"
        );
        assert!(!out.contains("127.0.7."), "{out}");
    }
    // The profile itself still answers everyone.
    let out = dig("127.0.0.2", "ns-web.tm.test", "A");
    assert!(
        out.contains("status: NOERROR") && out.contains("127.0.7.1"),
        "{out}"
    );
}

#[test]
fn metrics_health_and_readiness_are_served_over_http() {
    let _b = DemoBackend::start(fixtures::BIN.as_ref(), addr("127.0.8.1"));
    let s = fixtures::start(&config(&["127.0.8.1", "127.0.8.2"], 0, "", "[127.0.0.0/8]"));
    let client = Client::new(s.addr);
    wait_health(&client, "one Online, one Degraded", |l| {
        count_state(l, "Online") == 1 && count_state(l, "Degraded") == 1
    });
    answers(&client, 20);
    let curl = |path: &str| {
        tools::run(
            "curl",
            &[
                "-sS",
                "--max-time",
                "5",
                &format!("http://{}{path}", s.admin),
            ],
        )
    };
    assert_eq!(curl("/healthz"), "ok\n");
    assert_eq!(curl("/readyz"), "ready\n");
    let m = curl("/metrics");
    for series in [
        "fleetdns_endpoint_up{",
        "fleetdns_endpoint_monitor_state{",
        "fleetdns_probe_duration_seconds_bucket{",
        "fleetdns_probe_results_total{",
        "fleetdns_endpoint_state_transitions_total{",
        "fleetdns_dns_queries_total{qtype=\"A\",rcode=\"NOERROR\"}",
        "fleetdns_dns_answers_total{",
        "fleetdns_config_reloads_total{result=\"success\"}",
    ] {
        assert!(m.contains(series), "{series} missing from /metrics:\n{m}");
    }
    let up = |cluster: &str| {
        m.lines()
            .find(|l| {
                l.starts_with("fleetdns_endpoint_up{")
                    && l.contains(&format!("cluster=\"{cluster}\""))
            })
            .unwrap_or_else(|| panic!("no up series for {cluster}:\n{m}"))
            .to_string()
    };
    assert!(up("c0").ends_with(" 1"), "127.0.8.1 answers: {}", up("c0"));
    assert!(
        up("c1").ends_with(" 0"),
        "nothing on 127.0.8.2: {}",
        up("c1")
    );
    let served: u64 = m
        .lines()
        .filter(|l| l.starts_with("fleetdns_dns_answers_total{") && l.contains("c0"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert!(served >= 20, "answers by endpoint counted: {served}\n{m}");
    let status: serde_json::Value =
        serde_json::from_str(&curl("/status")).expect("/status is JSON");
    assert_eq!(status["profiles"][0]["dnsName"], "ns-web.tm.test");
}
