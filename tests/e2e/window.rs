//! The world the status page and dashboard tests look at: a real `fleetdns serve`
//! with two profiles (`ns/web`: three endpoints on live demo backends, probed every
//! second with a custom header carrying a secret; `ns/api`: fail-closed, nothing
//! listening), mirrored to the ARM emulator with a client secret read from a file.
//! Each test gets its own 127.0.<net>.x addresses.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use fleetdns_armemu::ArmEmu;
use fleetdns_testsupport::dns::{Client, Opts};
use fleetdns_testsupport::process::scratch_dir;
use fleetdns_testsupport::{wait, DemoBackend, Fleetdns};
use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::fixtures::{http_get, BIN};

/// The value of the probes' custom header: the page and /status must never show it.
pub const HEADER_SECRET: &str = "hdr-value-never-shown-7f3a";
/// The ARM client secret: never shown either.
pub const CLIENT_SECRET: &str = "client-secret-never-shown-91c2";
/// The port the demo backends listen on (the probes' port).
pub const PROBE_PORT: u16 = 18160;
/// How long after a backend dies its endpoint is Degraded at the latest: interval ×
/// (tolerated + 1) + timeout + 1 s = 1 × 2 + 1 + 1 (as tests/e2e/health.rs).
pub const PROBE_BOUND: Duration = Duration::from_secs(4);
const SUB: &str = "00000000-0000-0000-0000-0000000000b7";

pub struct World {
    /// The ARM emulator the mirror talks to (kept running).
    _emu: ArmEmu,
    /// Backends of ns/web's endpoints in clusters c1, c2, c3 (127.0.<net>.1–3).
    pub backends: Vec<DemoBackend>,
    pub fleet: Fleetdns,
    dir: PathBuf,
}

/// The endpoint id of ns/web in cluster `c`.
pub fn web_endpoint(c: u8) -> String {
    format!("ns/web#web#c{c}")
}

/// The endpoint id of ns/api (cluster c1, nothing listening).
pub const API_ENDPOINT: &str = "ns/api#api#c1";

fn config(net: u8, url: &str, secret_file: &str) -> String {
    format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers: [{{name: ns1.tm.test, addresses: [127.0.0.1]}}]
  healthView: {{trustedNetworks: ['127.0.0.1/32']}}
  azure:
    subscriptionId: {SUB}
    armEndpoint: '{url}'
    authorityHost: '{url}'
    resyncIntervalSeconds: 2
    auth: {{method: clientSecret, tenantId: tenant-1, clientId: client-1, clientSecretFile: '{secret_file}'}}
  clusters:
    - name: c1
      services:
        - {{namespace: ns, name: web, loadBalancer: ['127.0.{net}.1']}}
        - {{namespace: ns, name: api, loadBalancer: ['127.0.{net}.4']}}
    - name: c2
      services: [{{namespace: ns, name: web, loadBalancer: ['127.0.{net}.2']}}]
    - name: c3
      services: [{{namespace: ns, name: web, loadBalancer: ['127.0.{net}.3']}}]
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata:
  name: web
  namespace: ns
  annotations:
    fleetdns.io/probe-interval-seconds: \"1\"
    fleetdns.io/probe-timeout-seconds: \"1\"
spec:
  resourceGroup: rg-fleet
  monitorConfig:
    port: {PROBE_PORT}
    path: /healthz
    toleratedNumberOfFailures: 1
    customHeaders:
      - {{name: X-Api-Key, value: {HEADER_SECRET}}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: web, namespace: ns}}
spec: {{profile: {{name: web}}, backend: {{name: web}}, weight: 100}}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {{name: web, namespace: ns}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata:
  name: api
  namespace: ns
  annotations:
    fleetdns.io/fail-closed: \"true\"
    fleetdns.io/probe-interval-seconds: \"1\"
    fleetdns.io/probe-timeout-seconds: \"1\"
spec:
  resourceGroup: rg-fleet
  monitorConfig: {{port: {PROBE_PORT}, path: /healthz, toleratedNumberOfFailures: 0}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: api, namespace: ns}}
spec: {{profile: {{name: api}}, backend: {{name: api}}, weight: 1}}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {{name: api, namespace: ns}}
"
    )
}

impl World {
    /// Starts the emulator (after `prepare` set its faults), the three backends and
    /// fleetdns, and waits until ns/web's endpoints are Online.
    pub fn start(net: u8, prepare: impl FnOnce(&ArmEmu)) -> World {
        let emu = ArmEmu::start(&format!("127.0.{net}.100:0"));
        emu.set_client_secret("client-1", CLIENT_SECRET);
        prepare(&emu);
        let dir = scratch_dir("window");
        let secret = dir.join("arm-secret");
        std::fs::write(&secret, CLIENT_SECRET).unwrap();
        let backends = (1..=3)
            .map(|i| {
                let addr: SocketAddr = format!("127.0.{net}.{i}:{PROBE_PORT}").parse().unwrap();
                DemoBackend::start(BIN.as_ref(), addr)
            })
            .collect();
        let fleet = Fleetdns::start(
            BIN.as_ref(),
            &config(net, &emu.url(), &secret.display().to_string()),
            "127.0.0.1:0",
        );
        let w = World {
            _emu: emu,
            backends,
            fleet,
            dir,
        };
        w.wait_status("ns/web's endpoints Online, ns/api's Degraded", |s| {
            let states = endpoint_states(s);
            (1..=3).all(|c| states.get(&web_endpoint(c)).map(String::as_str) == Some("Online"))
                && states.get(API_ENDPOINT).map(String::as_str) == Some("Degraded")
        });
        w
    }

    /// `/status` as JSON.
    pub fn status(&self) -> Value {
        serde_json::from_str(&http_get(self.fleet.admin, "/status")).unwrap_or_default()
    }

    /// Polls `/status` (bounded) until `pred` holds; returns it.
    pub fn wait_status(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait::eventually(
            what,
            Duration::from_secs(30),
            Duration::from_millis(200),
            || {
                let s = self.status();
                if pred(&s) {
                    Ok(s)
                } else {
                    Err(format!("/status: {s:#}\nlog:\n{}", self.fleet.log()))
                }
            },
        )
    }

    /// `n` A queries for ns/web and one for a name that does not exist, over UDP.
    pub fn query(&self, n: usize) {
        let client = Client::new(self.fleet.addr);
        for _ in 0..n {
            client.query("ns-web.tm.test.", RecordType::A, &Opts::default());
        }
        client.query("nope.tm.test.", RecordType::A, &Opts::default());
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// endpoint id → state, over every profile of a `/status`.
pub fn endpoint_states(status: &Value) -> std::collections::BTreeMap<String, String> {
    status["profiles"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["endpoints"].as_array().into_iter().flatten())
        .filter_map(|e| {
            Some((
                e["id"].as_str()?.to_string(),
                e["state"].as_str()?.to_string(),
            ))
        })
        .collect()
}
