//! Fleets, monitor configs and addresses for the prober tests.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fleetdns_config::{
    Endpoint, Fleet, Health, MonitorConfig, MonitorState, Profile, Protocol, Target,
};
use tokio::sync::watch;
use tokio::time::Instant;

/// `127.0.10.<host>:18080`: one address per test.
pub fn addr(host: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 10, host], 18080))
}

/// The ring crypto provider, as the binary installs it.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Fast settings: 1 s interval, 1 s timeout.
pub fn monitor(protocol: Protocol, tolerated: u32) -> MonitorConfig {
    MonitorConfig {
        protocol,
        port: 18080,
        path: "/healthz".into(),
        interval_seconds: 1,
        timeout_seconds: 1,
        tolerated_failures: tolerated,
        custom_headers: vec![],
        expected_status: vec![(200, 200)],
        verify_tls: false,
    }
}

pub fn target(addr: SocketAddr) -> Target {
    match addr.ip() {
        IpAddr::V4(v4) => Target::Addresses {
            v4: Some(v4),
            v6: None,
        },
        IpAddr::V6(v6) => Target::Addresses {
            v4: None,
            v6: Some(v6),
        },
    }
}

pub fn endpoint(id: &str, addr: SocketAddr) -> Endpoint {
    Endpoint {
        id: id.into(),
        backend: "web".into(),
        service: "web".into(),
        cluster: format!("cluster-{id}"),
        target: target(addr),
        weight: 1,
        export_weight: 1,
        always_serve: false,
    }
}

pub fn profile(monitor: MonitorConfig, endpoints: Vec<Endpoint>) -> Profile {
    Profile {
        namespace: "team".into(),
        name: "web".into(),
        owner: "team-web.fleet.example.com".into(),
        ttl: 60,
        monitor,
        fail_closed: false,
        endpoints,
    }
}

/// A valid fleet with exactly `profiles`; zone and server settings come from a
/// minimal config file so this keeps compiling when `Fleet` grows fields.
pub fn fleet(profiles: Vec<Profile>) -> Arc<Fleet> {
    static BASE: OnceLock<Fleet> = OnceLock::new();
    let mut fleet = BASE
        .get_or_init(|| {
            let yaml = "\
apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
metadata:
  name: fleetdns
spec:
  zone: fleet.example.com
  nameServers:
    - name: ns1.fleet.example.com
      addresses: [127.0.0.1]
";
            fleetdns_config::file::load_str(Path::new("prober-test.yaml"), yaml)
                .unwrap_or_else(|d| panic!("base test config is invalid: {d:?}"))
                .0
        })
        .clone();
    fleet.profiles = profiles;
    Arc::new(fleet)
}

pub fn state(health: &watch::Receiver<Arc<Health>>, id: &str) -> Option<MonitorState> {
    health.borrow().get(id).map(|e| e.state)
}

/// Waits until `id` is in `want`, at most `limit`; returns how long it took.
pub async fn wait_state(
    health: &mut watch::Receiver<Arc<Health>>,
    id: &str,
    want: MonitorState,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    while state(health, id) != Some(want) {
        let left = limit.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, health.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!(
                "{id} not {want:?} within {limit:?}; now {:?}",
                health.borrow().get(id)
            ),
        }
    }
    start.elapsed()
}

/// Polls `cond` every 20 ms for at most `limit`.
pub async fn eventually(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
