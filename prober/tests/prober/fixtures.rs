//! Fleets, monitor configs and addresses for the prober tests, made with the model's
//! test builders (`fleetdns_config::testing`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fleetdns_config::testing::{self, EndpointBuilder, MonitorBuilder};
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

/// Fast settings, to change further: port 18080, path /healthz, 1 s interval,
/// 1 s timeout, `tolerated` failures.
pub fn fast_monitor(protocol: Protocol, tolerated: u32) -> MonitorBuilder {
    testing::monitor(protocol)
        .port(18080)
        .path("/healthz")
        .interval(1)
        .timeout(1)
        .tolerated(tolerated)
}

/// Fast settings: 1 s interval, 1 s timeout.
pub fn monitor(protocol: Protocol, tolerated: u32) -> MonitorConfig {
    fast_monitor(protocol, tolerated).build()
}

pub fn target(addr: SocketAddr) -> Target {
    testing::target(addr.ip())
}

/// Endpoint `id` (backend and service `web`, cluster `cluster-<id>`) at `addr`'s IP.
pub fn endpoint(id: &str, addr: SocketAddr) -> EndpointBuilder {
    testing::endpoint(id).address(addr.ip())
}

/// Profile `team/web` with `endpoints`.
pub fn profile<E: Into<Endpoint>>(
    monitor: MonitorConfig,
    endpoints: impl IntoIterator<Item = E>,
) -> Profile {
    testing::profile("team", "web")
        .monitor(monitor)
        .endpoints(endpoints)
        .build()
}

/// A valid fleet (zone `fleet.example.com`) with exactly `profiles`.
pub fn fleet(profiles: Vec<Profile>) -> Arc<Fleet> {
    Arc::new(testing::fleet().profiles(profiles).build())
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
