//! Status shared with Fleet's own controllers (issue 17): server-side apply,
//! owner and observer modes, Events. A hub and one member (kubefake), the real
//! binary, and a simulated fleet-networking controller that writes as
//! controller-runtime does ([`upstream`]).

mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fleetdns_kubefake::{write_kubeconfig_with_token, FakeCluster};
use fleetdns_testsupport::process::scratch_dir;
use fleetdns_testsupport::{wait, Fleetdns};
use serde_json::{json, Value};
use upstream::Upstream;

use crate::{fixtures, kube_fixtures};

use kube_fixtures::FLEET;

struct World {
    hub: FakeCluster,
    member: FakeCluster,
    dir: PathBuf,
    net: u8,
}

impl World {
    fn start(net: u8) -> World {
        let at = |host: u8| -> SocketAddr { format!("127.0.{net}.{host}:0").parse().unwrap() };
        let w = World {
            hub: FakeCluster::start(at(1), "hub").expect("hub"),
            member: FakeCluster::start(at(2), "member-1").expect("member"),
            dir: scratch_dir("kube-status"),
            net,
        };
        kube_fixtures::seed_web(&w.hub);
        w.member
            .create_with_status(&json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": "demo"},
                "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
                "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}))
            .unwrap();
        w.member
            .create(&json!({"apiVersion": FLEET, "kind": "ServiceExport",
                "metadata": {"name": "web", "namespace": "demo",
                             "annotations": {"fleetdns.io/always-serve": "true"}}}))
            .unwrap();
        w
    }

    fn fleetdns(&self, mode: &str) -> Fleetdns {
        let kubeconfig = self.dir.join("kubeconfig");
        write_kubeconfig_with_token(&kubeconfig, &[&self.hub, &self.member], "fleetdns").unwrap();
        let config = format!(
            "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.test
  nameServers: [{{name: ns1.fleet.test, addresses: [127.0.0.1]}}]
  kubernetes:
    kubeconfig: {}
    hub: {{context: hub}}
    members: [{{name: member-1, context: member-1}}]
    status: {{mode: {mode}, leaseNamespace: fleetdns-system, leaseDurationSeconds: 4}}
",
            kubeconfig.display()
        );
        Fleetdns::start_with(
            fixtures::BIN.as_ref(),
            &config,
            &format!("127.0.{}.10:0", self.net),
            &["--identity", "a"],
        )
    }

    fn object(&self, kind: &str) -> Value {
        self.hub.get(FLEET, kind, "demo", "web").unwrap_or_default()
    }

    /// Events about `demo/web` of `kind` as `kubectl describe` lists them (core v1).
    fn events(&self, kind: &str) -> Vec<Value> {
        self.hub
            .list("v1", "Event", Some("demo"))
            .into_iter()
            .filter(|e| e["involvedObject"]["kind"] == kind && e["involvedObject"]["name"] == "web")
            .collect()
    }

    /// Status writes by fleetdns to the hub (any outcome).
    fn fleetdns_writes(&self) -> usize {
        self.hub
            .write_log()
            .into_iter()
            .filter(|w| w.is_status() && w.field_manager.as_deref() == Some("fleetdns"))
            .count()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn condition(obj: &Value, ty: &str) -> Option<Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == ty)
        .cloned()
}

fn eventually(what: &str, check: impl FnMut() -> bool) {
    wait::eventually(
        what,
        Duration::from_secs(20),
        Duration::from_millis(50),
        check,
    );
}

fn metric(f: &Fleetdns, series: &str) -> f64 {
    let body = fixtures::http_get(f.admin, "/metrics");
    body.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// What both managers wrote, without times: must not move while nothing changes.
fn fields(w: &World) -> Value {
    let p = w.object("TrafficManagerProfile");
    let b = w.object("TrafficManagerBackend");
    json!({
        "dnsName": p["status"]["dnsName"],
        "programmed": condition(&p, "Programmed"),
        "profileServing": condition(&p, "fleetdns.io/Serving"),
        "accepted": condition(&b, "Accepted"),
        "backendServing": condition(&b, "fleetdns.io/Serving"),
    })
}

#[test]
fn observer_mode_beside_fleet_networking_stays_stable_for_a_minute() {
    let w = World::start(140);
    let up = Upstream::start(&w.hub);
    eventually("the upstream controller to program the profile", || {
        condition(&w.object("TrafficManagerProfile"), "Programmed").is_some()
    });
    let f = w.fleetdns("observer");
    eventually("fleetdns to write its own condition on both", || {
        condition(&w.object("TrafficManagerProfile"), "fleetdns.io/Serving").is_some()
            && condition(&w.object("TrafficManagerBackend"), "fleetdns.io/Serving").is_some()
    });
    let before = fields(&w);
    assert_eq!(before["dnsName"], upstream::DNS_NAME);
    assert_eq!(before["programmed"]["message"], upstream::PROFILE_MESSAGE);
    assert_eq!(before["profileServing"]["status"], "True", "{before:#}");
    let (writes, changes, retried) = (
        w.fleetdns_writes(),
        up.changes.load(std::sync::atomic::Ordering::Relaxed),
        up.conflicts.load(std::sync::atomic::Ordering::Relaxed),
    );
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(fields(&w), before, "after {:?}", start.elapsed());
    }
    assert_eq!(
        w.fleetdns_writes(),
        writes,
        "fleetdns wrote although nothing changed"
    );
    assert_eq!(
        up.changes.load(std::sync::atomic::Ordering::Relaxed),
        changes,
        "the upstream controller had to change something back"
    );
    assert_eq!(
        up.conflicts.load(std::sync::atomic::Ordering::Relaxed),
        retried,
        "the upstream controller met 409s"
    );
    assert!(w
        .events("TrafficManagerProfile")
        .iter()
        .all(|e| e["reason"] != "StatusConflict"));
    assert_eq!(
        metric(&f, "fleetdns_status_mode_objects{mode=\"observer\"}"),
        2.0
    );
}

#[test]
fn owner_mode_reports_the_other_controller_once_by_name_and_does_not_fight() {
    let w = World::start(141);
    let up = Upstream::start(&w.hub);
    eventually("the upstream controller to program the profile", || {
        condition(&w.object("TrafficManagerProfile"), "Programmed").is_some()
    });
    let f = w.fleetdns("owner");
    let conflicts = || -> Vec<Value> {
        w.events("TrafficManagerProfile")
            .into_iter()
            .filter(|e| e["reason"] == "StatusConflict")
            .collect()
    };
    eventually("a conflict Event on the profile", || {
        !conflicts().is_empty()
    });
    // Several seconds of the upstream controller writing every 200 ms: still one.
    std::thread::sleep(Duration::from_secs(5));
    let c = conflicts();
    assert_eq!(c.len(), 1, "{c:#?}");
    assert!(
        c[0]["message"]
            .as_str()
            .unwrap()
            .contains(upstream::MANAGER),
        "{:#}",
        c[0]
    );
    assert_eq!(c[0]["type"], "Warning");
    assert!(
        metric(
            &f,
            "fleetdns_status_conflicts_total{kind=\"TrafficManagerProfile\"}"
        ) == 1.0
    );
    let p = w.object("TrafficManagerProfile");
    assert_eq!(
        p["status"]["dnsName"],
        upstream::DNS_NAME,
        "upstream's value is not fought over"
    );
    assert!(
        f.log().contains(upstream::MANAGER),
        "the conflict is logged with the manager's name"
    );
    drop(up);
}

#[test]
fn owner_mode_auto_picks_observer_beside_the_upstream_controller_and_owner_without_it() {
    // Beside the simulated controller: observer.
    let w = World::start(142);
    let up = Upstream::start(&w.hub);
    eventually("the upstream controller to program the profile", || {
        condition(&w.object("TrafficManagerProfile"), "Programmed").is_some()
    });
    let f = w.fleetdns("auto");
    eventually("fleetdns's own condition", || {
        condition(&w.object("TrafficManagerProfile"), "fleetdns.io/Serving").is_some()
    });
    eventually("the mode metric says observer", || {
        metric(&f, "fleetdns_status_mode_objects{mode=\"observer\"}") == 2.0
    });
    assert_eq!(
        w.object("TrafficManagerProfile")["status"]["dnsName"],
        upstream::DNS_NAME
    );
    drop(f);
    drop(up);
    // Alone: owner, writing fleet-networking's fields like it.
    let alone = World::start(143);
    let f = alone.fleetdns("auto");
    eventually("fleetdns to program the profile itself", || {
        condition(&alone.object("TrafficManagerProfile"), "Programmed")
            .is_some_and(|c| c["status"] == "True")
    });
    assert_eq!(
        alone.object("TrafficManagerProfile")["status"]["dnsName"],
        "demo-web.fleet.test"
    );
    eventually("the mode metric says owner", || {
        metric(&f, "fleetdns_status_mode_objects{mode=\"owner\"}") == 2.0
    });
}

#[test]
fn owner_mode_events_for_programmed_and_accepted_transitions_are_listed_for_kubectl_describe() {
    let w = World::start(144);
    let _f = w.fleetdns("owner");
    let reasons = |kind: &str| -> Vec<String> {
        w.events(kind)
            .iter()
            .map(|e| e["reason"].as_str().unwrap_or("").to_string())
            .collect()
    };
    eventually("a Programmed event", || {
        reasons("TrafficManagerProfile").contains(&"Programmed".to_string())
    });
    eventually("an Accepted event", || {
        reasons("TrafficManagerBackend").contains(&"Accepted".to_string())
    });
    // The export goes away: no ServiceImport, Accepted turns False/Invalid.
    w.member
        .delete(FLEET, "ServiceExport", "demo", "web")
        .unwrap();
    eventually("an Invalid (Warning) event on the backend", || {
        w.events("TrafficManagerBackend")
            .iter()
            .any(|e| e["reason"] == "Invalid" && e["type"] == "Warning")
    });
    let b = w.object("TrafficManagerBackend");
    assert_eq!(
        condition(&b, "Accepted").unwrap()["message"],
        "ServiceImport \"web\" is not found"
    );
    assert!(
        b["status"].get("endpoints").is_none(),
        "omitted, not []: {b:#}"
    );
    assert_eq!(
        reasons("TrafficManagerProfile")
            .iter()
            .filter(|r| *r == "Programmed")
            .count(),
        1,
        "one per transition"
    );
}
