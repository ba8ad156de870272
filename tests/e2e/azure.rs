//! The Azure Traffic Manager mirror against the ARM emulator (`tests/armemu`):
//! the real `fleetdns serve` (and `azure-sync`) on loopback, talking ARM, Entra ID
//! and IMDS to the emulator. Addresses: emulators on 127.0.90.x, DNS on 127.0.91.x.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use fleetdns_armemu::{ArmEmu, Fault, Logged};
use fleetdns_config::azure::stable_uid;
use fleetdns_testsupport::process::scratch_dir;
use fleetdns_testsupport::{dns, wait, Fleetdns};
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use hickory_proto::serialize::binary::BinDecodable;
use serde_json::Value;

use crate::fixtures::BIN;

mod lifecycle;
mod mirror;
mod routing;

const SUB: &str = "00000000-0000-0000-0000-0000000000a1";
const PIP_C2: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-pip/providers/Microsoft.Network/publicIPAddresses/pip-c2";
const CLIENT_SECRET: &str = "s3cret-never-logged";
/// How often the file source checks the config file for changes (its `POLL_INTERVAL`):
/// a rewrite of the config reaches the mirror within one of these.
const FILE_POLL: Duration = Duration::from_millis(500);

/// A fresh last octet for this test's emulator and DNS addresses.
fn octet() -> u8 {
    static N: AtomicU8 = AtomicU8::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Auth {
    ClientSecret,
    WorkloadIdentity,
    ManagedIdentity,
}

/// One test's world: an emulator, a scratch dir with credentials, the knobs of the config.
struct World {
    emu: ArmEmu,
    dir: PathBuf,
    octet: u8,
    auth: Auth,
    resync: u64,
    rps: u32,
    /// `gcGraceSeconds`.
    grace: u64,
}

impl World {
    fn new(auth: Auth, resync: u64) -> Self {
        let octet = octet();
        let emu = ArmEmu::start(&format!("127.0.90.{octet}:0"));
        emu.set_client_secret("client-1", CLIENT_SECRET);
        emu.add_public_ip(PIP_C2, Some("fleet-c2"));
        let dir = scratch_dir("azure");
        std::fs::write(dir.join("secret"), CLIENT_SECRET).unwrap();
        std::fs::write(dir.join("token"), "federated-jwt-1").unwrap();
        Self {
            emu,
            dir,
            octet,
            auth,
            resync,
            rps: 50,
            grace: 300,
        }
    }

    fn auth_yaml(&self) -> String {
        let url = self.emu.url();
        match self.auth {
            Auth::ClientSecret => format!(
                "{{method: clientSecret, tenantId: tenant-1, clientId: client-1, clientSecretFile: {}}}",
                self.dir.join("secret").display()
            ),
            Auth::WorkloadIdentity => format!(
                "{{method: workloadIdentity, tenantId: tenant-1, clientId: client-1, federatedTokenFile: {}}}",
                self.dir.join("token").display()
            ),
            Auth::ManagedIdentity => {
                format!("{{method: managedIdentity, imdsEndpoint: '{url}/metadata/identity/oauth2/token'}}")
            }
        }
    }

    /// The config: profile ns/web with backend `web-svc` (svc on c1 and c2, weight
    /// 10, exports `svc_exports`) and backend `web-api` (api on c1, weight `api_weight`).
    fn config(&self, api_weight: u32, svc_exports: &[&str]) -> String {
        let url = self.emu.url();
        let mut c = format!(
            "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers: [{{name: ns1.tm.test, addresses: [127.0.0.1]}}]
  azure:
    subscriptionId: {SUB}
    armEndpoint: '{url}'
    authorityHost: '{url}'
    maxRequestsPerSecond: {rps}
    resyncIntervalSeconds: {resync}
    gcGraceSeconds: {grace}
    auth: {auth}
  clusters:
    - name: c1
      services:
        - {{namespace: ns, name: svc, loadBalancer: ['192.0.2.1']}}
        - {{namespace: ns, name: api, loadBalancer: ['api1.example.net']}}
    - name: c2
      services:
        - {{namespace: ns, name: svc, loadBalancer: ['192.0.2.2'], publicIPResourceID: {PIP_C2}}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {{name: web, namespace: ns}}
spec:
  resourceGroup: rg-fleet
  monitorConfig: {{port: 8080, path: /healthz}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: web-svc, namespace: ns}}
spec: {{profile: {{name: web}}, backend: {{name: svc}}, weight: 10}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: web-api, namespace: ns}}
spec: {{profile: {{name: web}}, backend: {{name: api}}, weight: {api_weight}}}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {{name: api, namespace: ns}}
",
            resync = self.resync,
            rps = self.rps,
            grace = self.grace,
            auth = self.auth_yaml(),
        );
        for cluster in svc_exports {
            c += &format!(
                "---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata:
  name: svc
  namespace: ns
  annotations: {{fleetdns.io/clusters: {cluster}}}
"
            );
        }
        c
    }

    fn start(&self, config: &str) -> Fleetdns {
        Fleetdns::start(BIN.as_ref(), config, &format!("127.0.91.{}:0", self.octet))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn profile_name() -> String {
    format!("fleet-{}", stable_uid("TrafficManagerProfile", "ns", "web"))
}

fn endpoint_name(backend: &str, service: &str, cluster: &str) -> String {
    format!(
        "fleet-{}#{service}#{cluster}",
        stable_uid("TrafficManagerBackend", "ns", backend)
    )
}

fn endpoints(p: &Value) -> Vec<Value> {
    p["properties"]["endpoints"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn endpoint<'a>(p: &'a Value, name: &str) -> Option<&'a Value> {
    p["properties"]["endpoints"]
        .as_array()?
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
}

/// Polls (bounded) until `check` holds for the emulator's profile.
fn wait_profile(
    emu: &ArmEmu,
    what: &str,
    timeout: Duration,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let outcome = wait::poll(what, timeout, Duration::from_millis(50), || {
        match emu.profile(&profile_name()) {
            Some(p) if check(&p) => Ok(p),
            other => Err(format!("profile: {other:#?}")),
        }
    });
    outcome.unwrap_or_else(|t| panic!("{t}\nrequests: {:#?}", summary(&emu.requests())))
}

/// The converged state of [`World::config`] with both svc exports and api weight 10.
fn converged(emu: &ArmEmu) -> Value {
    wait_profile(emu, "3 endpoints", Duration::from_secs(20), |p| {
        endpoints(p).len() == 3
    })
}

fn summary(log: &[Logged]) -> Vec<String> {
    log.iter()
        .map(|l| {
            format!(
                "{} {} -> {}{}",
                l.method,
                l.path,
                l.status,
                if l.invalid.is_empty() {
                    String::new()
                } else {
                    format!(" INVALID {:?}", l.invalid)
                }
            )
        })
        .collect()
}

fn writes(log: &[Logged]) -> Vec<&Logged> {
    log.iter().filter(|l| l.is_write()).collect()
}

/// GET on the admin server; the body.
fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).expect("connect admin");
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

fn azure_status(f: &Fleetdns) -> Value {
    let body = http_get(f.admin, "/status");
    serde_json::from_str::<Value>(&body).unwrap_or_default()["azure"]["profiles"]["ns/web"].clone()
}

fn wait_reason(f: &Fleetdns, reason: &str, timeout: Duration) -> Value {
    let outcome = wait::poll(
        &format!("the Programmed reason to become {reason}"),
        timeout,
        Duration::from_millis(100),
        || {
            let s = azure_status(f);
            if s["programmed"]["reason"] == reason {
                Ok(s)
            } else {
                Err(format!("{s:#}"))
            }
        },
    );
    outcome.unwrap_or_else(|t| panic!("{t}\nlog:\n{}", f.log()))
}

#[test]
fn a_file_config_creates_exactly_the_expected_profile_and_endpoints_and_every_body_validates() {
    let w = World::new(Auth::ClientSecret, 300);
    let f = w.start(&w.config(10, &["c1", "c2"]));
    let p = converged(&w.emu);
    let st = wait_reason(&f, "Programmed", Duration::from_secs(10));

    let all = w.emu.profiles();
    assert_eq!(all.len(), 1, "exactly one profile: {all:#?}");
    assert_eq!(p["name"], profile_name().as_str());
    assert_eq!(p["location"], "global");
    assert_eq!(
        p["tags"]["networking.fleet.azure.com.trafficManagerProfile"],
        "ns/web"
    );
    assert_eq!(p["tags"]["fleetdns.io.managedBy"], "fleetdns");
    let props = &p["properties"];
    assert_eq!(props["trafficRoutingMethod"], "Weighted");
    assert_eq!(props["profileStatus"], "Enabled");
    assert_eq!(props["dnsConfig"]["relativeName"], "ns-web");
    assert_eq!(props["dnsConfig"]["ttl"], 60);
    assert_eq!(props["dnsConfig"]["fqdn"], "ns-web.trafficmanager.net");
    let m = &props["monitorConfig"];
    assert_eq!(
        (
            m["protocol"].as_str(),
            m["port"].as_i64(),
            m["path"].as_str()
        ),
        (Some("HTTP"), Some(8080), Some("/healthz"))
    );
    assert_eq!(
        (
            m["intervalInSeconds"].as_i64(),
            m["timeoutInSeconds"].as_i64(),
            m["toleratedNumberOfFailures"].as_i64()
        ),
        (Some(30), Some(10), Some(3))
    );

    // One endpoint per (backend, cluster): svc on c1 (IP → External), svc on c2
    // (public IP id → Azure, target = the public IP's DNS name), api on c1 (host
    // name → External); weights 5/5/10.
    let c1 = endpoint(&p, &endpoint_name("web-svc", "svc", "c1")).expect("svc on c1");
    assert_eq!(
        c1["type"],
        "Microsoft.Network/trafficManagerProfiles/externalEndpoints"
    );
    assert_eq!(c1["properties"]["target"], "192.0.2.1");
    assert_eq!(c1["properties"]["weight"], 5);
    let c2 = endpoint(&p, &endpoint_name("web-svc", "svc", "c2")).expect("svc on c2");
    assert_eq!(
        c2["type"],
        "Microsoft.Network/trafficManagerProfiles/azureEndpoints"
    );
    assert_eq!(c2["properties"]["targetResourceId"], PIP_C2);
    assert_eq!(
        c2["properties"]["target"],
        "fleet-c2.emu.cloudapp.azure.com"
    );
    assert_eq!(c2["properties"]["weight"], 5);
    let api = endpoint(&p, &endpoint_name("web-api", "api", "c1")).expect("api on c1");
    assert_eq!(api["properties"]["target"], "api1.example.net");
    assert_eq!(api["properties"]["weight"], 10);
    for e in endpoints(&p) {
        assert_eq!(e["properties"]["endpointStatus"], "Enabled");
        assert_eq!(e["properties"]["endpointMonitorStatus"], "CheckingEndpoint");
    }

    // Every request was valid against the swagger and authorized; the writes were
    // one profile PUT and three endpoint PUTs.
    let log = w.emu.requests();
    for l in &log {
        let pip = l.path.contains("/publicIPAddresses/");
        let query = if pip {
            "api-version=2024-05-01"
        } else {
            "api-version=2022-04-01"
        };
        assert!(
            l.invalid.is_empty() && l.auth_header && l.query == query,
            "{:#?}",
            summary(&log)
        );
        assert!(
            l.client_request_id.is_some(),
            "x-ms-client-request-id on every request"
        );
        assert!(
            l.status < 300 || (l.method == "GET" && l.status == 404),
            "{:#?}",
            summary(&log)
        );
    }
    let wr = writes(&log);
    assert_eq!(wr.len(), 4, "{:#?}", summary(&log));
    assert!(wr[0].path.ends_with(&profile_name()));
    assert!(w.emu.self_errors().is_empty(), "{:?}", w.emu.self_errors());

    // Status and metrics show the outcome and the monitor status read back.
    assert_eq!(st["dnsName"], "ns-web.trafficmanager.net");
    assert_eq!(st["programmed"]["status"], "True");
    assert_eq!(
        st["endpoints"][endpoint_name("web-svc", "svc", "c1")],
        "CheckingEndpoint"
    );
    let metrics = http_get(f.admin, "/metrics");
    assert!(
        metrics.contains(
            "fleetdns_azure_profile_programmed{profile=\"ns/web\",reason=\"Programmed\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("fleetdns_azure_endpoint_monitor_status{endpoint=\"")
            && metrics.contains("status=\"CheckingEndpoint\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fleetdns_azure_requests_total{code=\"201\",method=\"PUT\"} 4"),
        "{metrics}"
    );
    assert!(
        !f.log().contains(CLIENT_SECRET) && !f.log().contains("emu-clientSecret-"),
        "no secret or token in logs"
    );
}

#[test]
fn changing_one_weight_sends_one_endpoint_put_and_nothing_else() {
    let w = World::new(Auth::ClientSecret, 300);
    let f = w.start(&w.config(10, &["c1", "c2"]));
    converged(&w.emu);
    wait_reason(&f, "Programmed", Duration::from_secs(10));
    w.emu.clear_log();
    std::fs::write(&f.config, w.config(20, &["c1", "c2"])).unwrap();
    let api = endpoint_name("web-api", "api", "c1");
    wait_profile(&w.emu, "api weight 20", Duration::from_secs(15), |p| {
        endpoint(p, &api).is_some_and(|e| e["properties"]["weight"] == 20)
    });
    // Anything else this change caused would be sent by the same pass at once, or by a
    // second pass if the file source reloaded the write again: wait three of its poll
    // intervals before checking that nothing else was written.
    std::thread::sleep(FILE_POLL * 3);
    let log = w.emu.requests();
    let wr = writes(&log);
    assert_eq!(wr.len(), 1, "exactly one write: {:#?}", summary(&log));
    assert_eq!(wr[0].method, "PUT");
    assert!(
        wr[0].path.contains("/ExternalEndpoints/fleet-") && wr[0].path.ends_with("%23api%23c1"),
        "{}",
        wr[0].path
    );
    assert_eq!(wr[0].body.as_ref().unwrap()["properties"]["weight"], 20);
}

#[test]
fn removing_a_clusters_export_deletes_its_endpoint() {
    let w = World::new(Auth::ClientSecret, 300);
    let f = w.start(&w.config(10, &["c1", "c2"]));
    converged(&w.emu);
    w.emu.clear_log();
    std::fs::write(&f.config, w.config(10, &["c1"])).unwrap();
    let gone = endpoint_name("web-svc", "svc", "c2");
    let p = wait_profile(&w.emu, "svc on c2 deleted", Duration::from_secs(15), |p| {
        endpoint(p, &gone).is_none()
    });
    // As above: two file poll intervals for a further pass to show up before counting.
    std::thread::sleep(FILE_POLL * 2);
    let log = w.emu.requests();
    let deletes: Vec<_> = writes(&log)
        .into_iter()
        .filter(|l| l.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "{:#?}", summary(&log));
    assert!(
        deletes[0].path.contains("/AzureEndpoints/") && deletes[0].path.ends_with("%23svc%23c2"),
        "{}",
        deletes[0].path
    );
    // svc on c1 is now the only export: weight 10 (was 5) → one PUT for it, nothing else.
    assert_eq!(writes(&log).len(), 2, "{:#?}", summary(&log));
    assert_eq!(endpoints(&p).len(), 2);
}

#[test]
fn hand_made_drift_is_corrected_and_foreign_endpoints_are_left_alone() {
    let w = World::new(Auth::ClientSecret, 1);
    let f = w.start(&w.config(10, &["c1", "c2"]));
    converged(&w.emu);
    let svc_c1 = endpoint_name("web-svc", "svc", "c1");
    let svc_c2 = endpoint_name("web-svc", "svc", "c2");
    let foreign = serde_json::json!({
        "name": "manual-ep",
        "id": "x",
        "type": "Microsoft.Network/trafficManagerProfiles/externalEndpoints",
        "properties": {"target": "203.0.113.50", "weight": 7, "endpointStatus": "Enabled", "endpointMonitorStatus": "Online"}
    });
    // Someone edits the profile in the portal: a weight, the probe path, a tag, and
    // adds their own endpoint (plus one that merely looks like fleet's, without '#').
    w.emu.edit_profile(&profile_name(), |p| {
        let eps = p["properties"]["endpoints"].as_array_mut().unwrap();
        for e in eps.iter_mut() {
            if e["name"] == svc_c1.as_str() {
                e["properties"]["weight"] = 999.into();
            }
        }
        eps.push(foreign.clone());
        let mut lookalike = foreign.clone();
        lookalike["name"] = "fleet-not-ours".into();
        lookalike["properties"]["target"] = "203.0.113.51".into();
        eps.push(lookalike);
        p["properties"]["monitorConfig"]["path"] = "/by-hand".into();
        p["tags"]["owner"] = "team-a".into();
        // Traffic Manager's own probes found svc on c2 healthy.
        for e in p["properties"]["endpoints"].as_array_mut().unwrap() {
            if e["name"] == svc_c2.as_str() {
                e["properties"]["endpointMonitorStatus"] = "Online".into();
            }
        }
    });
    w.emu.clear_log();
    let p = wait_profile(&w.emu, "drift corrected", Duration::from_secs(20), |p| {
        p["properties"]["monitorConfig"]["path"] == "/healthz"
            && endpoint(p, &svc_c1).is_some_and(|e| e["properties"]["weight"] == 5)
    });
    let m = endpoint(&p, "manual-ep").expect("foreign endpoint kept");
    assert_eq!(m["properties"]["target"], "203.0.113.50");
    assert_eq!(m["properties"]["weight"], 7);
    assert!(
        endpoint(&p, "fleet-not-ours").is_some(),
        "a name without the fleet pattern is not owned"
    );
    assert_eq!(p["tags"]["owner"], "team-a", "foreign tags kept");
    // The monitor status ARM reports is read back into /status and the metrics.
    wait::eventually(
        "endpointMonitorStatus Online read back into /status",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let st = azure_status(&f);
            if st["endpoints"][&svc_c2] == "Online" {
                Ok(())
            } else {
                Err(format!("{st:#}"))
            }
        },
    );
    let metrics = http_get(f.admin, "/metrics");
    let line = format!("fleetdns_azure_endpoint_monitor_status{{endpoint=\"{svc_c2}\",profile=\"ns/web\",status=\"Online\"}} 1");
    assert!(metrics.contains(&line), "{line}\n{metrics}");
    let log = w.emu.requests();
    assert!(
        !log.iter()
            .any(|l| l.is_write()
                && (l.path.contains("manual-ep") || l.path.contains("fleet-not-ours"))),
        "{:#?}",
        summary(&log)
    );
    assert!(
        log.iter().all(|l| l.invalid.is_empty()),
        "{:#?}",
        summary(&log)
    );
}

#[test]
fn a_429_is_honoured_no_request_before_retry_after() {
    let w = World::new(Auth::ClientSecret, 1);
    w.emu.inject(Fault::Throttle(3), 1);
    let f = w.start(&w.config(10, &["c1", "c2"]));
    converged(&w.emu);
    let st = wait_reason(&f, "Programmed", Duration::from_secs(15));
    assert_eq!(st["programmed"]["status"], "True");
    let log = w.emu.requests();
    let i = log
        .iter()
        .position(|l| l.status == 429)
        .expect("the throttled request");
    assert!(
        log.iter().all(|l| !l.early),
        "a request came before Retry-After: {:#?}",
        summary(&log)
    );
    let next = log.get(i + 1).expect("a request after the 429");
    let gap = next.at - log[i].at;
    assert!(
        gap >= Duration::from_secs(3),
        "next request after {gap:?}, Retry-After was 3 s"
    );
    let metrics = http_get(f.admin, "/metrics");
    assert!(
        metrics.contains("fleetdns_azure_requests_total{code=\"429\",method=\"GET\"} 1"),
        "{metrics}"
    );
}

#[test]
fn a_taken_relative_name_surfaces_as_dns_name_not_available() {
    let w = World::new(Auth::ClientSecret, 300);
    w.emu.take_relative_name("ns-web");
    let f = w.start(&w.config(10, &["c1", "c2"]));
    let st = wait_reason(&f, "DNSNameNotAvailable", Duration::from_secs(15));
    assert_eq!(st["programmed"]["status"], "False");
    assert!(st["programmed"]["message"]
        .as_str()
        .unwrap()
        .contains("Domain name is not available"));
    assert!(w.emu.profiles().is_empty());
    let log = w.emu.requests();
    assert!(log.iter().any(|l| l.status == 409), "{:#?}", summary(&log));
    assert!(
        !log.iter()
            .any(|l| l.is_write() && l.path.contains("Endpoints/")),
        "no endpoint PUT without a profile"
    );
    let metrics = http_get(f.admin, "/metrics");
    assert!(metrics.contains("fleetdns_azure_profile_programmed{profile=\"ns/web\",reason=\"DNSNameNotAvailable\"} 1"), "{metrics}");
}

/// Tokens live 3 s; with a resync every second fleetdns must fetch new ones
/// before the old ones expire, and never be refused for an expired token.
fn tokens_are_refreshed_before_expiry(auth: Auth, method: &str) {
    let w = World::new(auth, 1);
    w.emu.set_token_lifetime(3);
    let f = w.start(&w.config(10, &["c1", "c2"]));
    converged(&w.emu);
    // Watch for 9 s, three token lifetimes: at least three tokens must be issued, each
    // before the previous one expired. The federated token file is rotated 4 s in.
    std::thread::sleep(Duration::from_secs(4));
    std::fs::write(w.dir.join("token"), "federated-jwt-2").unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let issued: Vec<_> = w
        .emu
        .issued()
        .into_iter()
        .filter(|i| i.method == method)
        .collect();
    assert!(
        issued.len() >= 3,
        "{method}: only {} token(s) in 9+ s with a 3 s lifetime",
        issued.len()
    );
    for pair in issued.windows(2) {
        assert!(
            pair[1].at < pair[0].expires,
            "{method}: a new token came only after the old one expired"
        );
    }
    let log = w.emu.requests();
    assert!(
        log.iter().all(|l| l.status != 401),
        "{method}: refused with an expired token: {:#?}",
        summary(&log)
    );
    assert!(log.len() >= 8, "the mirror kept calling ARM: {}", log.len());
    if auth == Auth::WorkloadIdentity {
        let last = issued.last().unwrap().assertion.clone();
        assert_eq!(
            last.as_deref(),
            Some("federated-jwt-2"),
            "the federated token file is re-read on refresh"
        );
    }
    let logs = f.log();
    assert!(
        !logs.contains(CLIENT_SECRET) && !logs.contains("federated-jwt") && !logs.contains("emu-"),
        "no secret or token in logs:\n{logs}"
    );
}

#[test]
fn client_secret_tokens_are_refreshed_before_they_expire() {
    tokens_are_refreshed_before_expiry(Auth::ClientSecret, "clientSecret");
}

#[test]
fn workload_identity_tokens_are_refreshed_before_they_expire_and_the_token_file_is_reread() {
    tokens_are_refreshed_before_expiry(Auth::WorkloadIdentity, "workloadIdentity");
}

#[test]
fn managed_identity_tokens_are_refreshed_before_they_expire() {
    tokens_are_refreshed_before_expiry(Auth::ManagedIdentity, "managedIdentity");
}

#[test]
fn dns_queries_are_all_answered_while_arm_faults() {
    let w = World::new(Auth::ClientSecret, 1);
    let f = w.start(&w.config(10, &["c1", "c2"]));
    converged(&w.emu);
    w.emu.clear_log();
    w.emu.inject(Fault::Reset, 1);
    w.emu.inject(Fault::Throttle(2), 1);
    w.emu.inject(Fault::ServerError, 1);
    w.emu.inject(Fault::Delay(Duration::from_millis(1500)), 1);
    w.emu.inject(Fault::Reset, 1);
    w.emu.inject(Fault::ServerError, 1);
    // 2,000 queries, one every 4 ms (about 8 s), each waiting up to 2 s for its answer.
    let sock = UdpSocket::bind(format!("127.0.91.{}:0", w.octet)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(2000)))
        .unwrap();
    let (mut lost, mut answered) = (0u32, 0u32);
    let start = Instant::now();
    for i in 0..2000u32 {
        // Config changes start passes at once, whatever the backoff: the mirror
        // keeps meeting faults while the zone is also being recompiled.
        if i % 500 == 250 {
            std::fs::write(
                &f.config,
                w.config(if i % 1000 == 250 { 20 } else { 10 }, &["c1", "c2"]),
            )
            .unwrap();
        }
        let due = start + Duration::from_millis(4) * i;
        if let Some(d) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
        let q = dns::build("ns-web.tm.test.", RecordType::A, &dns::Opts::default());
        sock.send_to(&q, f.addr).unwrap();
        let mut buf = [0u8; 1500];
        let id = u16::from_be_bytes([q[0], q[1]]);
        let ok = loop {
            match sock.recv_from(&mut buf) {
                Ok((n, _)) => match Message::from_bytes(&buf[..n]) {
                    Ok(m) if m.metadata.id == id => break !m.answers.is_empty(),
                    _ => continue,
                },
                Err(_) => break false,
            }
        };
        if ok {
            answered += 1
        } else {
            lost += 1
        }
    }
    let end = Instant::now();
    let log = w.emu.requests();
    let faulted: Vec<_> = log
        .iter()
        .filter(|l| l.fault.is_some() && l.at < end)
        .map(|l| l.fault)
        .collect();
    assert!(
        faulted.len() >= 4,
        "the emulator injected faults while queries ran: {faulted:?} {:#?}",
        summary(&log)
    );
    eprintln!("2000 queries over {:?} while ARM met {} faults ({faulted:?}): {answered} answered, {lost} lost", end - start, faulted.len());
    assert_eq!(
        lost, 0,
        "{lost} of 2000 queries unanswered ({answered} answered) while ARM faulted"
    );
    // The mirror recovers after the faults.
    wait_reason(&f, "Programmed", Duration::from_secs(30));
}

fn run_cli(args: &[&str], config: &Path) -> std::process::Output {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(args).arg("--config").arg(config);
    cmd.env("FLEETDNS_LOG", "warn");
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let exited = wait::poll(
        &format!("fleetdns {} to exit", args.join(" ")),
        Duration::from_secs(30),
        Duration::from_millis(20),
        || child.try_wait().unwrap().is_some(),
    );
    if exited.is_err() {
        let _ = child.kill();
    }
    child.wait_with_output().unwrap()
}

#[test]
fn dry_run_prints_the_arm_calls_and_makes_none() {
    let w = World::new(Auth::ClientSecret, 300);
    let path = w.dir.join("fleet.yaml");
    std::fs::write(&path, w.config(10, &["c1", "c2"])).unwrap();
    let out = run_cli(&["azure-sync", "--dry-run"], &path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let profile_url = format!(
        "PUT {}/subscriptions/{SUB}/resourceGroups/rg-fleet/providers/Microsoft.Network/trafficmanagerprofiles/{}?api-version=2022-04-01",
        w.emu.url(),
        profile_name()
    );
    assert!(text.contains(&profile_url), "{text}");
    assert_eq!(
        text.matches("\nPUT ").count() + usize::from(text.starts_with("PUT ")),
        4,
        "{text}"
    );
    assert!(text.contains("\"relativeName\": \"ns-web\""), "{text}");
    assert!(
        w.emu.requests().is_empty() && w.emu.issued().is_empty(),
        "dry run made no request"
    );

    // --once does one real pass and reports the profile Programmed.
    let out = run_cli(&["azure-sync", "--once"], &path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status["profiles"]["ns/web"]["programmed"]["reason"],
        "Programmed"
    );
    assert_eq!(endpoints(&w.emu.profile(&profile_name()).unwrap()).len(), 3);
}

#[test]
fn the_request_rate_is_bounded_by_max_requests_per_second() {
    let mut w = World::new(Auth::ClientSecret, 300);
    w.rps = 4;
    let _f = w.start(&w.config(10, &["c1", "c2"]));
    converged(&w.emu);
    let log = w.emu.requests();
    assert!(
        log.len() >= 6,
        "GET, public IP GET, profile PUT, 3 endpoint PUTs (then the GC list): {:#?}",
        summary(&log)
    );
    for pair in log.windows(2) {
        let gap = pair[1].at - pair[0].at;
        // 1/4 s apart, less a little for the emulator's own clock reading.
        assert!(
            gap >= Duration::from_millis(240),
            "requests {gap:?} apart with maxRequestsPerSecond 4"
        );
    }
}
