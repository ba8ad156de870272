//! Hub mode end to end: the real binary against one fake hub (no member
//! credentials at all) and the ARM emulator for the public IPs.
//!
//! The hub holds what Azure Fleet Manager's hub holds: the profile and backend, the
//! ServiceImport whose `status.clusters` fleet-networking's hub controller writes,
//! and one InternalServiceExport per member in `fleet-member-<cluster>`. Rules pinned
//! here, read in Azure/fleet-networking @ 4fcffcf:
//! - only clusters the ServiceImport lists are endpoints
//!   (`pkg/controllers/hub/trafficmanagerbackend/controller.go`:550-560);
//! - an internal load balancer never is (same file :592-594);
//! - weight `ceil(backendWeight × exportWeight / Σ)` over the valid exports (:576-582);
//! - the address is the public IP's `properties.ipAddress` read through ARM.

use std::net::SocketAddr;
use std::time::Duration;

use fleetdns_armemu::public_ip::public_ip_id;
use fleetdns_armemu::ArmEmu;
use fleetdns_kubefake::{write_kubeconfig_with_token, FakeCluster};
use fleetdns_testsupport::dns::Client;
use fleetdns_testsupport::process::scratch_dir;
use fleetdns_testsupport::{wait, Fleetdns};
use serde_json::{json, Value};

use crate::{fixtures, kube_fixtures};

const NAME: &str = "demo-web.fleet.test";
pub(crate) const FLEET_ALPHA: &str = "networking.fleet.azure.com/v1alpha1";
const SUB: &str = "00000000-0000-0000-0000-0000000000aa";

/// A fake hub (plain HTTP or HTTPS), the ARM emulator and a scratch directory.
pub(crate) struct Hub {
    pub(crate) hub: FakeCluster,
    pub(crate) arm: ArmEmu,
    pub(crate) dir: std::path::PathBuf,
}

impl Hub {
    fn start(net: u8) -> Hub {
        let at: SocketAddr = format!("127.0.{net}.1:0").parse().unwrap();
        Hub {
            hub: FakeCluster::start(at, "hub").expect("hub"),
            arm: ArmEmu::start(&format!("127.0.{net}.2:0")),
            dir: scratch_dir("hub-mode"),
        }
    }

    /// Like [`Hub::start`], the hub serving HTTPS with its own CA.
    pub(crate) fn start_tls(net: u8) -> Hub {
        let at: SocketAddr = format!("127.0.{net}.1:0").parse().unwrap();
        Hub {
            hub: FakeCluster::start_tls(at, "hub").expect("hub"),
            arm: ArmEmu::start(&format!("127.0.{net}.2:0")),
            dir: scratch_dir("hub-auth"),
        }
    }

    fn config(&self) -> String {
        let kubeconfig = self.dir.join("kubeconfig");
        write_kubeconfig_with_token(&kubeconfig, &[&self.hub], "fleetdns").unwrap();
        self.config_with(&kubeconfig, "{context: hub}")
    }

    /// Hub-mode settings reading `kubeconfig`, `spec.kubernetes.hub` being `hub` (YAML).
    pub(crate) fn config_with(&self, kubeconfig: &std::path::Path, hub: &str) -> String {
        let arm = self.arm.url();
        format!(
            "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.test
  nameServers: [{{name: ns1.fleet.test, addresses: [127.0.0.1]}}]
  kubernetes:
    source: hub
    kubeconfig: {}
    hub: {hub}
    status: {{enabled: false}}
    publicIPs:
      armEndpoint: {arm}
      refreshIntervalSeconds: 2
      auth: {{method: managedIdentity, imdsEndpoint: {arm}/metadata/identity/oauth2/token}}
",
            kubeconfig.display()
        )
    }

    /// Profile and backend `demo/web` (backend weight 100), and the ServiceImport.
    pub(crate) fn seed(&self) {
        kube_fixtures::seed_web(&self.hub);
        self.hub
            .create(&json!({"apiVersion": FLEET_ALPHA, "kind": "ServiceImport",
            "metadata": {"name": "web", "namespace": "demo"}}))
            .unwrap();
    }

    /// What member `cluster`'s agent copies to the hub for Service `demo/web`.
    pub(crate) fn export(&self, cluster: &str, weight: i64, internal: bool) -> String {
        let pip = public_ip_id(
            SUB,
            &format!("mc_{cluster}"),
            &format!("kubernetes-{cluster}"),
        );
        let mut spec = json!({
            "ports": [{"port": 80, "protocol": "TCP"}],
            "serviceReference": {"clusterId": cluster, "kind": "Service", "namespace": "demo", "name": "web",
                "namespacedName": "demo/web", "resourceVersion": "1", "generation": 1,
                "uid": format!("uid-{cluster}")},
            "type": "LoadBalancer",
            "isInternalLoadBalancer": internal,
            "weight": weight,
        });
        if !internal {
            spec["publicIPResourceID"] = json!(pip);
            spec["isDNSLabelConfigured"] = json!(true);
        }
        self.hub
            .create(
                &json!({"apiVersion": FLEET_ALPHA, "kind": "InternalServiceExport",
            "metadata": {"name": "demo-web", "namespace": format!("fleet-member-{cluster}")},
            "spec": spec}),
            )
            .unwrap();
        pip
    }

    /// fleet-networking's hub controller lists the clusters on the ServiceImport.
    pub(crate) fn import_lists(&self, clusters: &[&str]) {
        let list: Vec<Value> = clusters.iter().map(|c| json!({"cluster": c})).collect();
        self.hub.merge_patch(FLEET_ALPHA, "ServiceImport", "demo", "web",
            &json!({"status": {"ports": [{"port": 80, "protocol": "TCP"}], "clusters": list, "type": "ClusterSetIP"}}), true).unwrap();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn answers(client: &Client, n: usize) -> std::collections::BTreeMap<String, usize> {
    kube_fixtures::tally(client, NAME, n)
}

pub(crate) fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// The value of one series (name with its labels, as exposed) on `/metrics`; 0 if absent.
pub(crate) fn metric(admin: SocketAddr, series: &str) -> f64 {
    http_get(admin, "/metrics")
        .lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

fn eventually(what: &str, check: impl FnMut() -> bool) {
    wait::eventually(
        what,
        Duration::from_secs(20),
        Duration::from_millis(100),
        check,
    );
}

#[test]
fn hub_mode_serves_public_ips_of_three_members_and_a_fourth_without_restart() {
    let h = Hub::start(150);
    h.seed();
    for (i, c) in ["m1", "m2", "m3"].iter().enumerate() {
        let pip = h.export(c, [1, 1, 2][i], false);
        h.arm
            .put_public_ip(&pip, Some(&format!("203.0.113.{}", i + 1)), Some(c));
    }
    // An internal load balancer's export: never served publicly (TMBc:592-594).
    h.export("m9", 5, true);
    h.import_lists(&["m1", "m2", "m3", "m9"]);
    let f = Fleetdns::start(fixtures::BIN.as_ref(), &h.config(), "127.0.150.10:0");
    let client = Client::new(f.addr);
    eventually("three members answer", || answers(&client, 60).len() == 3);
    let t = answers(&client, 2000);
    // ceil(100×1/4)=25, 25, ceil(100×2/4)=50 → 25%, 25%, 50%.
    let share = |ip: &str| *t.get(ip).unwrap_or(&0) as f64 / 2000.0;
    assert!((share("203.0.113.3") - 0.5).abs() < 0.06, "{t:?}");
    assert!(!t.contains_key(""), "no empty answers: {t:?}");
    let status: Value = serde_json::from_str(&http_get(f.admin, "/status")).unwrap();
    let problems = status["objectProblems"].to_string();
    assert!(
        problems.contains("internal load balancer is not supported") && problems.contains("m9"),
        "{problems}"
    );
    // A fourth member joins: its agent exports, the hub controller lists it.
    let pip4 = h.export("m4", 4, false);
    h.arm.put_public_ip(&pip4, Some("203.0.113.4"), Some("m4"));
    h.import_lists(&["m1", "m2", "m3", "m4", "m9"]);
    eventually("the fourth member answers without a restart", || {
        answers(&client, 60).contains_key("203.0.113.4")
    });
    // The first fleet waited for the first public IP reads: it was never composed
    // with the members' exports but without their addresses.
    assert!(
        !f.log()
            .contains("no member cluster exports Service demo/web"),
        "{}",
        f.log()
    );
    assert!(!f.log().contains("panicked"));
}

#[test]
fn hub_mode_arm_outage_keeps_last_addresses_and_says_stale() {
    let h = Hub::start(151);
    h.seed();
    let p1 = h.export("m1", 1, false);
    let p2 = h.export("m2", 1, false);
    h.arm.put_public_ip(&p1, Some("203.0.113.11"), Some("m1"));
    // m2's public IP has no address yet: reported, not served, the rest serves.
    h.arm.put_public_ip(&p2, None, Some("m2"));
    h.import_lists(&["m1", "m2"]);
    let f = Fleetdns::start(fixtures::BIN.as_ref(), &h.config(), "127.0.151.10:0");
    let client = Client::new(f.addr);
    eventually("m1 answers", || {
        answers(&client, 20).keys().eq(["203.0.113.11"])
    });
    let status = http_get(f.admin, "/status");
    assert!(status.contains("has no address yet"), "{status}");
    // ARM goes down: the answers keep the last addresses; status and metrics say stale.
    h.arm.set_public_ips_down(true);
    eventually("status says stale", || {
        let s: Value = serde_json::from_str(&http_get(f.admin, "/status")).unwrap_or_default();
        s["publicIPs"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p["id"] == p1 && p["stale"] == true))
    });
    let metrics = http_get(f.admin, "/metrics");
    assert!(
        metrics.contains("fleetdns_public_ips{state=\"stale\"} 1"),
        "{metrics}"
    );
    // The ARM requests of the reads, and their tokens, have series of their own: the
    // 503s are counted, and the managed identity token that signed them.
    assert!(
        metric(f.admin, "fleetdns_public_ip_arm_requests_total{code=\"503\",method=\"GET\"}") >= 1.0
            && metric(f.admin, "fleetdns_public_ip_arm_requests_total{code=\"200\",method=\"GET\"}") >= 2.0
            && metric(f.admin, "fleetdns_public_ip_token_requests_total{method=\"managedIdentity\",result=\"success\"}") >= 1.0,
        "{metrics}"
    );
    assert!(
        metric(
            f.admin,
            "fleetdns_public_ip_lookups_total{result=\"error\"}"
        ) >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        answers(&client, 50).keys().collect::<Vec<_>>(),
        ["203.0.113.11"]
    );
    // A missing Reader role on m1's resource group: the message says what to grant.
    h.arm.set_public_ips_down(false);
    h.arm.deny_resource_group(SUB, "mc_m1", true);
    eventually("403 named with the role to grant", || {
        f.log()
            .lines()
            .any(|l| l.contains("Reader role on resource group") && l.contains("mc_m1"))
    });
    assert_eq!(
        answers(&client, 20).keys().collect::<Vec<_>>(),
        ["203.0.113.11"]
    );
    // The resource is gone: no longer served (nothing else to serve: NODATA/empty).
    h.arm.deny_resource_group(SUB, "mc_m1", false);
    h.arm.delete_public_ip(&p1);
    eventually("a deleted public IP is not served", || {
        answers(&client, 5).keys().eq([""])
    });
    assert!(http_get(f.admin, "/status").contains("does not exist (ARM 404)"));
}

/// CI follows the README's "Try hub mode locally" word for word: the script extracts the
/// section's blocks and runs them (kubefake over HTTPS, armemu, fleetdns, dig, kubectl)
/// and checks what they print. Skipped only when kubectl is absent and
/// `FLEETDNS_REQUIRE_KUBECTL` is unset (`.ci/run` installs kubectl and sets it).
#[test]
fn hub_mode_readme_walkthrough_runs_word_for_word() {
    let Some(bin) = fleetdns_testsupport::tools::kubectl() else {
        return;
    };
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("### Try hub mode locally")
        .nth(1)
        .and_then(|s| s.split("<!-- try-hub:end -->").next())
        .expect("README has the hub-mode walkthrough");
    // What the script checks must be what the README runs.
    for needle in [
        "source: hub",
        "target/debug/kubefake --tls",
        "target/debug/armemu",
        "target/debug/fleetdns check",
        "member member-4",
        "public-ips/down?on=true",
    ] {
        assert!(
            section.contains(needle),
            "README walkthrough lacks {needle}"
        );
    }
    let mut path = std::ffi::OsString::new();
    if let Some(dir) = bin.parent().filter(|d| !d.as_os_str().is_empty()) {
        path.push(dir.as_os_str());
        path.push(":");
    }
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let out = std::process::Command::new("timeout")
        .arg("600")
        .arg(root.join("scripts/try-hub.sh"))
        .current_dir(&root)
        .env("PATH", path)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run scripts/try-hub.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "walkthrough failed:\n{text}");
    assert!(
        text.contains("try-hub: the README walkthrough works"),
        "{text}"
    );
}

/// The members in `/status`, by name: (memberCluster, joined, exports, served).
fn members(admin: SocketAddr) -> Vec<(String, Value)> {
    let s: Value = serde_json::from_str(&http_get(admin, "/status")).unwrap_or_default();
    s["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| (m["name"].as_str().unwrap_or("").to_string(), m.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn hub_mode_member_clusters_without_exports_are_members_and_leave_without_restart() {
    const CLUSTER: &str = "cluster.kubernetes-fleet.io/v1beta1";
    let h = Hub::start(156);
    h.seed();
    let p1 = h.export("m1", 1, false);
    h.arm.put_public_ip(&p1, Some("203.0.113.61"), Some("m1"));
    let member_cluster = |name: &str| {
        h.hub
            .create(&json!({"apiVersion": CLUSTER, "kind": "MemberCluster",
                "metadata": {"name": name},
                "spec": {"identity": {"kind": "User", "name": format!("{name}-agent"), "apiGroup": "rbac.authorization.k8s.io"}}}))
            .unwrap();
        h.hub
            .merge_patch(CLUSTER, "MemberCluster", "", name,
                &json!({"status": {"conditions": [{"type": "Joined", "status": "True", "reason": "MemberClusterJoined",
                    "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}), true)
            .unwrap();
    };
    member_cluster("m1");
    member_cluster("m7");
    // `fleetdns check` lists them, m7 too, from the hub alone.
    let config_path = h.dir.join("check.yaml");
    std::fs::write(&config_path, h.config()).unwrap();
    let out = std::process::Command::new("timeout")
        .arg("60")
        .arg(fixtures::BIN)
        .args(["check", "--config"])
        .arg(&config_path)
        .output()
        .expect("run fleetdns check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("members on the hub: m1 (1 export, MemberCluster Joined=True), m7 (no exports yet, MemberCluster Joined=True)"),
        "{text}"
    );
    let f = Fleetdns::start(fixtures::BIN.as_ref(), &h.config(), "127.0.156.10:0");
    let client = Client::new(f.addr);
    eventually("m1 answers", || {
        answers(&client, 10).keys().eq(["203.0.113.61"])
    });
    // m7 joined and exports nothing yet: a member all the same.
    eventually("both members in /status", || {
        let m = members(f.admin);
        m.len() == 2
            && m[0].1["memberCluster"] == true
            && m[0].1["exports"] == 1
            && m[0].1["served"] == 1
            && m[1].0 == "m7"
            && m[1].1["joined"] == "True"
            && m[1].1["exports"] == 0
    });
    // m7 leaves the fleet (its MemberCluster deleted): gone without a restart; an
    // export's namespace alone (no MemberCluster) keeps m2 a member, as without the CRD.
    h.hub.delete(CLUSTER, "MemberCluster", "", "m7").unwrap();
    let p2 = h.export("m2", 1, false);
    h.arm.put_public_ip(&p2, Some("203.0.113.62"), Some("m2"));
    eventually("m7 gone, m2 in", || {
        let m = members(f.admin);
        m.iter().map(|(n, _)| n.as_str()).eq(["m1", "m2"]) && m[1].1["memberCluster"] == false
    });
    eventually("m2 answers", || answers(&client, 40).len() == 2);
    assert!(!f.log().contains("panicked"));
}

/// The backend `demo/web`'s `fleetdns.io/Serving` message as written on the hub.
fn serving_message(h: &Hub) -> String {
    h.hub
        .get(kube_fixtures::FLEET, "TrafficManagerBackend", "demo", "web")
        .and_then(|b| {
            b.pointer("/status/conditions")?
                .as_array()?
                .iter()
                .find(|c| c["type"] == "fleetdns.io/Serving")
                .and_then(|c| c["message"].as_str().map(str::to_string))
        })
        .unwrap_or_default()
}

/// The bad input, all at once: a public IP whose resource group fleetdns may not
/// read (403, no Reader role), one without an address yet, one that is gone (404). Each
/// is named in the backend's condition, counted, and logged with what to fix; the good
/// member keeps serving throughout.
#[test]
fn hub_mode_bad_input_is_named_in_condition_metric_and_log_and_the_rest_serves() {
    let h = Hub::start(158);
    h.seed();
    let p1 = h.export("m1", 1, false);
    h.arm.put_public_ip(&p1, Some("203.0.113.81"), Some("m1"));
    let p2 = h.export("m2", 1, false);
    h.arm.put_public_ip(&p2, None, Some("m2")); // not allocated yet
    let p3 = h.export("m3", 1, false); // never created: 404
    let p4 = h.export("m4", 1, false);
    h.arm.put_public_ip(&p4, Some("203.0.113.84"), Some("m4"));
    h.arm.deny_resource_group(SUB, "mc_m4", true);
    h.import_lists(&["m1", "m2", "m3", "m4"]);
    let config = h.config().replace(
        "status: {enabled: false}",
        "status: {enabled: true, leaseNamespace: default}",
    );
    let f = Fleetdns::start(fixtures::BIN.as_ref(), &config, "127.0.158.10:0");
    let client = Client::new(f.addr);
    eventually("m1 answers, alone", || {
        answers(&client, 20).keys().eq(["203.0.113.81"])
    });
    // The condition written back names each export's cluster and what to do.
    eventually("the backend's Serving condition names all three", || {
        let m = serving_message(&h);
        m.contains(&format!("cluster m2: public IP {p2} has no address yet"))
            && m.contains(&format!("cluster m3: public IP {p3} does not exist (ARM 404)"))
            && m.contains(&format!("cluster m4: ARM denied reading public IP {p4} (HTTP 403 AuthorizationFailed): grant fleetdns's identity the Reader role on resource group /subscriptions/{SUB}/resourceGroups/mc_m4"))
    });
    let backend = h
        .hub
        .get(kube_fixtures::FLEET, "TrafficManagerBackend", "demo", "web")
        .unwrap();
    let accepted = backend["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Accepted"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(accepted["status"], "True", "{backend}");
    // Metrics: each result counted, three IPs unresolved, one resolved.
    for (series, at_least) in [
        (
            "fleetdns_public_ip_lookups_total{result=\"no_address\"}",
            1.0,
        ),
        (
            "fleetdns_public_ip_lookups_total{result=\"not_found\"}",
            1.0,
        ),
        (
            "fleetdns_public_ip_lookups_total{result=\"forbidden\"}",
            1.0,
        ),
        ("fleetdns_public_ips{state=\"unresolved\"}", 3.0),
        ("fleetdns_public_ips{state=\"resolved\"}", 1.0),
    ] {
        assert!(
            metric(f.admin, series) >= at_least,
            "{series}: {}",
            http_get(f.admin, "/metrics")
        );
    }
    // One log line each, naming the IP and the export that uses it.
    let log = f.log();
    for (pip, cluster, what) in [
        (&p2, "m2", "has no address yet"),
        (&p3, "m3", "does not exist (ARM 404)"),
        (&p4, "m4", "Reader role on resource group"),
    ] {
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("public IP not usable") && l.contains(pip.as_str()))
            .collect();
        assert_eq!(lines.len(), 1, "logged once: {lines:?}");
        assert!(
            lines[0].contains(what)
                && lines[0].contains(&format!("fleet-member-{cluster}/demo-web")),
            "{}",
            lines[0]
        );
    }
    // Granting the role serves m4 without a restart; the rest keeps serving.
    h.arm.deny_resource_group(SUB, "mc_m4", false);
    eventually("m4 served once Reader is granted", || {
        answers(&client, 40).len() == 2
    });
    assert!(!f.log().contains("panicked"));
}
