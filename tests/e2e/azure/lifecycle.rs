//! The mirror's Kubernetes lifecycle (`mirror_lifecycle_*`): fleetdns's finalizer
//! `fleetdns.io/azure-mirror` on profiles and backends in owner mode; deleting a
//! TrafficManagerProfile deletes its Azure profile within one reconcile (long
//! before the garbage collector's grace period), then the finalizer goes and the
//! object with it; re-created, it is Programmed again under the same DNS name.
//! In observer mode no finalizer is added.

use std::net::SocketAddr;
use std::time::Duration;

use fleetdns_armemu::ArmEmu;
use fleetdns_kubefake::{write_kubeconfig_with_token, FakeCluster};
use fleetdns_testsupport::{wait, Fleetdns};
use serde_json::{json, Value};

use super::mirror::{lost_queries, mirror_status};
use super::{BIN, SUB};

const FLEET: &str = "networking.fleet.azure.com/v1beta1";
const FINALIZER: &str = "fleetdns.io/azure-mirror";

/// A hub and one member with the Service `demo/web` exported; profiles `web`
/// and `other`, each with a backend on that Service.
struct World {
    emu: ArmEmu,
    hub: FakeCluster,
    _m1: FakeCluster,
    dir: std::path::PathBuf,
    net: u8,
}

impl World {
    fn new(net: u8) -> Self {
        let at = |h: u8| -> SocketAddr { format!("127.0.{net}.{h}:0").parse().unwrap() };
        let emu = ArmEmu::start(&format!("127.0.{net}.9:0"));
        let hub = FakeCluster::start(at(1), "hub").expect("hub");
        let m1 = FakeCluster::start(at(2), "member-1").expect("member-1");
        hub.create(&profile("web")).unwrap();
        hub.create(&profile("other")).unwrap();
        for p in ["web", "other"] {
            hub.create(
                &json!({"apiVersion": FLEET, "kind": "TrafficManagerBackend",
                "metadata": {"name": p, "namespace": "demo"},
                "spec": {"profile": {"name": p}, "backend": {"name": "web"}, "weight": 10}}),
            )
            .unwrap();
        }
        m1.create_with_status(&json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}))
            .unwrap();
        m1.create(&json!({"apiVersion": FLEET, "kind": "ServiceExport",
            "metadata": {"name": "web", "namespace": "demo", "annotations": {"fleetdns.io/always-serve": "true"}}}))
            .unwrap();
        let dir = fleetdns_testsupport::process::scratch_dir("azure-lifecycle");
        Self {
            emu,
            hub,
            _m1: m1,
            dir,
            net,
        }
    }

    /// fleetdns in Kubernetes mode with `spec.azure` (GC grace one hour) and `mode`.
    fn start(&self, mode: &str) -> Fleetdns {
        let kubeconfig = self.dir.join("kubeconfig");
        write_kubeconfig_with_token(&kubeconfig, &[&self.hub, &self._m1], "fleetdns").unwrap();
        let url = self.emu.url();
        let config = format!(
            "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.test
  nameServers: [{{name: ns1.fleet.test, addresses: [127.0.0.1]}}]
  azure:
    subscriptionId: {SUB}
    armEndpoint: '{url}'
    authorityHost: '{url}'
    resyncIntervalSeconds: 1
    gcGraceSeconds: 3600
    auth: {{method: managedIdentity, imdsEndpoint: '{url}/metadata/identity/oauth2/token'}}
  kubernetes:
    kubeconfig: {}
    hub: {{context: hub}}
    members:
      - {{name: member-1, context: member-1}}
    status:
      mode: {mode}
      leaseNamespace: fleetdns-system
      leaseDurationSeconds: 3
",
            kubeconfig.display(),
        );
        Fleetdns::start_with(
            BIN.as_ref(),
            &config,
            &format!("127.0.{}.10:0", self.net),
            &["--identity", "replica-a"],
        )
    }

    /// The Azure profile's name, `fleet-<uid>`, of the profile object `name`.
    fn azure_name(&self, name: &str) -> String {
        let p = self
            .get("TrafficManagerProfile", name)
            .expect("the profile");
        format!("fleet-{}", p["metadata"]["uid"].as_str().unwrap())
    }

    fn get(&self, kind: &str, name: &str) -> Option<Value> {
        self.hub.get(FLEET, kind, "demo", name)
    }

    fn finalizers(&self, kind: &str, name: &str) -> Vec<String> {
        self.get(kind, name)
            .and_then(|o| o["metadata"]["finalizers"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect()
    }

    /// `status.dnsName` once the profile is `Programmed=True`.
    fn wait_programmed(&self, name: &str) -> String {
        wait::eventually(
            "the profile Programmed=True with a DNS name",
            Duration::from_secs(30),
            Duration::from_millis(100),
            || {
                let p = self.get("TrafficManagerProfile", name)?;
                let ok = p["status"]["conditions"]
                    .as_array()?
                    .iter()
                    .any(|c| c["type"] == "Programmed" && c["status"] == "True");
                ok.then(|| p["status"]["dnsName"].as_str().map(str::to_string))
                    .flatten()
            },
        )
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn profile(name: &str) -> Value {
    json!({"apiVersion": FLEET, "kind": "TrafficManagerProfile", "metadata": {"name": name, "namespace": "demo"},
        "spec": {"resourceGroup": "rg", "monitorConfig": {"port": 80}}})
}

#[test]
fn mirror_lifecycle_deleting_a_profile_deletes_its_azure_profile_then_the_finalizer_and_recreation_programs_it(
) {
    let w = World::new(96);
    let f = w.start("owner");
    let dns_name = w.wait_programmed("web");
    w.wait_programmed("other");
    let azure_name = w.azure_name("web");
    assert!(
        w.emu.profile(&azure_name).is_some(),
        "the Azure profile exists"
    );
    for kind in ["TrafficManagerProfile", "TrafficManagerBackend"] {
        wait::eventually(
            "fleetdns's finalizer on the profile and the backend",
            Duration::from_secs(15),
            Duration::from_millis(100),
            || {
                w.finalizers(kind, "web")
                    .contains(&FINALIZER.to_string())
                    .then_some(())
            },
        );
    }

    // Delete the profile while the other profile is queried 2,000 times.
    let queries = {
        let addr = f.addr;
        let from = format!("127.0.{}.12", w.net);
        std::thread::spawn(move || lost_queries(&from, addr, "demo-other.fleet.test.", true))
    };
    let pending = w
        .hub
        .delete(FLEET, "TrafficManagerProfile", "demo", "web")
        .unwrap();
    assert!(
        pending["metadata"]["deletionTimestamp"].is_string(),
        "the finalizer holds the object: {pending:#}"
    );
    // One reconcile: the GC grace is an hour, so only the finalizer path deletes it.
    wait::eventually(
        "the Azure profile deleted",
        Duration::from_secs(15),
        Duration::from_millis(50),
        || w.emu.profile(&azure_name).is_none().then_some(()),
    );
    wait::eventually(
        "the object gone once the finalizer is removed",
        Duration::from_secs(15),
        Duration::from_millis(50),
        || {
            w.get("TrafficManagerProfile", "web")
                .is_none()
                .then_some(())
        },
    );
    assert!(
        mirror_status(&f)["orphans"]
            .as_array()
            .is_none_or(|o| o.is_empty()),
        "nothing left for the garbage collector"
    );
    let lost = queries.join().unwrap();
    assert_eq!(lost, 0, "{lost} of 2000 queries to the other profile lost");
    assert!(w.emu.profiles().len() == 1, "the other profile stays");

    // Re-created (a new uid): Programmed again, with the same DNS name.
    w.hub.create(&profile("web")).unwrap();
    assert_eq!(w.wait_programmed("web"), dns_name);
    wait::eventually(
        "the finalizer on the re-created profile",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || {
            w.finalizers("TrafficManagerProfile", "web")
                .contains(&FINALIZER.to_string())
                .then_some(())
        },
    );
    f.terminate();
}

#[test]
fn mirror_lifecycle_observer_mode_adds_no_finalizer_and_deletion_is_not_held() {
    let w = World::new(97);
    let f = w.start("observer");
    wait::eventually(
        "the Azure profile mirrored",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || w.emu.profile(&w.azure_name("web")),
    );
    // Several passes of the mirror and the status writer after that.
    let seen = mirror_status(&f)["passes"].as_u64().unwrap_or(0);
    wait::eventually(
        "three more mirror passes",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || (mirror_status(&f)["passes"].as_u64().unwrap_or(0) >= seen + 3).then_some(()),
    );
    for kind in ["TrafficManagerProfile", "TrafficManagerBackend"] {
        for name in ["web", "other"] {
            assert_eq!(
                w.finalizers(kind, name),
                Vec::<String>::new(),
                "{kind} {name}"
            );
        }
    }
    let gone = w
        .hub
        .delete(FLEET, "TrafficManagerProfile", "demo", "web")
        .unwrap();
    assert!(gone["metadata"]["deletionTimestamp"].is_null(), "{gone:#}");
    assert!(w.get("TrafficManagerProfile", "web").is_none());
    f.terminate();
}
