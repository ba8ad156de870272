//! Configs the tests serve, and starting the binary on them.

use fleetdns_testsupport::Fleetdns;

pub const BIN: &str = env!("CARGO_BIN_EXE_fleetdns");

/// The shipped example config.
pub fn example() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fleet.yaml"))
        .expect("read example")
}

/// Starts fleetdns on `config` on a free loopback port.
pub fn start(config: &str) -> Fleetdns {
    Fleetdns::start(BIN.as_ref(), config, "127.0.0.1:0")
}

/// A settings document for zone `tm.test` with `extra` appended to `spec`.
pub fn settings(extra: &str) -> String {
    format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers:
    - {{name: ns1.tm.test, addresses: [127.0.0.1, '::1']}}
    - {{name: ns2.tm.test, addresses: [127.0.0.2]}}
  soa: {{ttl: 3600, minimum: 45}}
  clusters:
    - name: c1
      services:
        - {{namespace: ns, name: svc, loadBalancer: ['192.0.2.1']}}
        - {{namespace: ns, name: v6, loadBalancer: ['2001:db8::1']}}
        - {{namespace: ns, name: host, loadBalancer: ['lb1.example.net']}}
    - name: c2
      services:
        - {{namespace: ns, name: svc, loadBalancer: ['192.0.2.2']}}
{extra}"
    )
}

/// A profile `ns/<name>` with one backend on service `svc` weight `weight`.
pub fn profile(name: &str, service: &str, weight: u32) -> String {
    format!(
        "---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {{name: {name}, namespace: ns}}
spec: {{resourceGroup: rg}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: {name}-b, namespace: ns}}
spec:
  profile: {{name: {name}}}
  backend: {{name: {service}}}
  weight: {weight}
"
    )
}

/// A ServiceExport `ns/<service>` with an optional weight annotation.
pub fn export(service: &str, weight: Option<&str>) -> String {
    let ann = weight.map_or(String::new(), |w| {
        format!("\n  annotations: {{networking.fleet.azure.com/weight: \"{w}\"}}")
    });
    format!(
        "---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata:
  name: {service}
  namespace: ns{ann}
"
    )
}

/// The standard test zone: profiles `web` (two IPv4 endpoints 192.0.2.1/.2),
/// `six` (IPv6 only), `alias` (host name → CNAME).
pub fn standard() -> String {
    let mut c = settings("");
    c += &profile("web", "svc", 10);
    c += &profile("six", "v6", 1);
    c += &profile("alias", "host", 1);
    c += &export("svc", None);
    c += &export("v6", None);
    c += &export("host", None);
    c
}

/// GET on an admin server; the body.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3))
    else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(3)));
    let _ = write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}
