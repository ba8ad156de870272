//! `deploy/grafana/fleetdns.json` against a real Prometheus (Debian `prometheus`) on
//! loopback scraping a running fleetdns every second: every panel's expression and
//! every template variable's query, Grafana variables substituted, returns data
//! through the HTTP API. The same Prometheus loads `alerts.yaml` and evaluates every
//! rule without error, and `promtool check metrics` lints the live `/metrics`
//! (Prometheus naming conventions).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fleetdns_armemu::Fault;
use fleetdns_testsupport::process::scratch_dir;
use fleetdns_testsupport::{tools, wait};
use serde_json::Value;

use crate::alert_rules::{exported_metric_names, metric_names, promtool};
use crate::fixtures::http_get;
use crate::window::World;

const DASHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/fleetdns.json");
const ALERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus/alerts.yaml");

/// A `prometheus` server on loopback, stopped by PID on drop.
struct Prometheus {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Prometheus {
    /// Starts it on `ip` (a free port) scraping `target` every second as job
    /// `fleetdns`, with `rules` loaded; waits (bounded) until it is ready.
    fn start(ip: &str, target: SocketAddr, rules: &str) -> Prometheus {
        let dir = scratch_dir("prometheus");
        let port = std::net::TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ['{rules}']
scrape_configs:
  - job_name: fleetdns
    static_configs: [{{targets: ['{target}']}}]
"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={ip}:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start prometheus: {e} (apt-get install prometheus; .ci/run does this)"
                )
            });
        let p = Prometheus {
            child,
            url: format!("http://{ip}:{port}"),
            dir,
        };
        wait::eventually(
            "prometheus to be ready",
            Duration::from_secs(30),
            Duration::from_millis(200),
            || {
                let out = tools::run(
                    "curl",
                    &["-s", "--max-time", "2", &format!("{}/-/ready", p.url)],
                );
                if out.contains("Ready") {
                    Ok(())
                } else {
                    Err(format!("{out}\nlog:\n{}", p.log()))
                }
            },
        );
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query through the HTTP API: the result vector (panics on an API error).
    fn query(&self, expr: &str) -> Vec<Value> {
        let out = tools::run(
            "curl",
            &[
                "-sS",
                "--max-time",
                "10",
                "-G",
                "--data-urlencode",
                &format!("query={expr}"),
                &format!("{}/api/v1/query", self.url),
            ],
        );
        let v: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{expr}: not JSON ({e}): {out}"));
        assert_eq!(v["status"], "success", "{expr}: {out}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    fn get(&self, path: &str) -> Value {
        let out = tools::run(
            "curl",
            &["-sS", "--max-time", "10", &format!("{}{path}", self.url)],
        );
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{path}: {e}: {out}"))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("prometheus log:\n{}", self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An expression as Grafana would send it with every variable on "All" and a
/// 1-minute rate interval.
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("${job}", ".+")
        .replace("$job", ".+")
        .replace("${instance}", ".+")
        .replace("$instance", ".+")
        .replace("${profile}", ".*")
        .replace("$profile", ".*")
}

/// `(panel title, expression)` of every target of every panel.
fn panel_exprs(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push((
                p["title"].as_str().unwrap().to_string(),
                t["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

#[test]
fn dashboard_is_well_formed_and_reads_exported_series() {
    let d: Value = serde_json::from_str(&std::fs::read_to_string(DASHBOARD).unwrap()).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    let exported = exported_metric_names();
    for p in d["panels"].as_array().unwrap() {
        let title = p["title"].as_str().unwrap();
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "duplicate id: {title}"
        );
        let g = &p["gridPos"];
        assert!(
            g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24,
            "{title} is wider than the grid"
        );
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} has no query");
        for t in targets {
            for m in metric_names(t["expr"].as_str().unwrap()) {
                assert!(
                    exported.contains(&m),
                    "{title} reads {m}, which fleetdns does not export"
                );
            }
        }
    }
    // The list of what the dashboard shows.
    let text = d.to_string();
    for series in [
        "fleetdns_dns_queries_total",
        "fleetdns_dns_answers_total",
        "fleetdns_endpoint_weight",
        "fleetdns_endpoint_monitor_state",
        "fleetdns_probe_duration_seconds_bucket",
        "fleetdns_config_reloads_total",
        "fleetdns_rrl_dropped_total",
        "fleetdns_tcp_connections",
        "fleetdns_azure_requests_total",
    ] {
        assert!(
            text.contains(series),
            "the dashboard does not show {series}"
        );
    }
}

#[test]
fn dashboard_expressions_return_data_from_a_real_prometheus() {
    // ARM answers two 500s at first, and every PUT of c3's endpoint fails with 400:
    // the ARM error panels have something to show.
    let w = World::start(163, |emu| {
        emu.inject(Fault::ServerError, 2);
        emu.fail_endpoint("#web#c3", 400, "BadRequest");
    });
    let prom = Prometheus::start("127.0.163.200", w.fleet.admin, ALERTS);
    // A minute's worth of samples is not needed: rate() over 1m needs two.
    wait::eventually(
        "five scrapes of fleetdns with answers counted",
        Duration::from_secs(40),
        Duration::from_millis(500),
        || {
            w.query(50);
            let scrapes = prom.query("count_over_time(fleetdns_zone_serial[1m])");
            let answered = prom.query("sum(increase(fleetdns_dns_answers_total[1m])) > 0");
            let errors = prom.query("fleetdns_azure_endpoint_errors_total");
            let n = scrapes
                .first()
                .and_then(|r| r["value"][1].as_str()?.parse::<u32>().ok())
                .unwrap_or(0);
            if n >= 5 && !answered.is_empty() && !errors.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "scrapes {n}, answers {answered:?}, endpoint errors {errors:?}; targets: {}",
                    prom.get("/api/v1/targets")
                ))
            }
        },
    );

    let d: Value = serde_json::from_str(&std::fs::read_to_string(DASHBOARD).unwrap()).unwrap();
    let mut empty = Vec::new();
    let exprs = panel_exprs(&d);
    for (title, expr) in &exprs {
        let q = substitute(expr);
        if prom.query(&q).is_empty() {
            empty.push(format!("{title}: {q}"));
        }
    }
    // Template variables: label_values(<series>, <label>) as Grafana asks it.
    for v in d["templating"]["list"].as_array().unwrap() {
        let Some(def) = v["definition"].as_str() else {
            continue;
        };
        let inner = def
            .strip_prefix("label_values(")
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or_else(|| panic!("unexpected variable query {def}"));
        let (series, label) = inner.rsplit_once(',').unwrap();
        let q = substitute(&format!("group by ({}) ({series})", label.trim()));
        let values = prom.query(&q);
        if values
            .iter()
            .all(|r| r["metric"][label.trim()].as_str().is_none())
        {
            empty.push(format!("variable {}: {q}", v["name"]));
        }
    }
    assert!(
        empty.is_empty(),
        "{} of {} dashboard queries returned no data:\n{}\n/metrics:\n{}",
        empty.len(),
        exprs.len(),
        empty.join("\n"),
        http_get(w.fleet.admin, "/metrics")
    );
    println!("{} dashboard expressions returned data", exprs.len());

    // The alert rules load and evaluate against the real series without error.
    let rules = prom.get("/api/v1/rules");
    let all: Vec<&Value> = rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    assert_eq!(all.len(), 8, "{rules:#}");
    wait::eventually(
        "every alert rule evaluated without error",
        Duration::from_secs(10),
        Duration::from_millis(250),
        || {
            let rules = prom.get("/api/v1/rules");
            let bad: Vec<String> = rules["data"]["groups"][0]["rules"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["health"] != "ok")
                .map(|r| format!("{}: {} {}", r["name"], r["health"], r["lastError"]))
                .collect();
            if bad.is_empty() {
                Ok(())
            } else {
                Err(bad.join("\n"))
            }
        },
    );

    // Naming conventions, as promtool lints them: _total counters, base units, …
    let metrics = http_get(w.fleet.admin, "/metrics");
    assert!(
        metrics.contains("fleetdns_azure_requests_total{"),
        "{metrics}"
    );
    let (ok, out) = promtool(&["check", "metrics"], Some(&metrics));
    assert!(
        ok && out.trim().is_empty(),
        "promtool check metrics:\n{out}"
    );
}
