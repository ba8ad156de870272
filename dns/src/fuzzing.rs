//! Entry points for the fuzz targets (`fuzz/`) and the corpus replay test.
//!
//! They run exactly the code the UDP workers and the TCP loop run — the fast path
//! ([`fast::respond`]) and the general path ([`udp::general`], hickory's parser
//! and our [`Handler`]) — on a zone compiled once, without sockets. Nothing here
//! is used when serving.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use fleetdns_config::{Fleet, Health};
use hickory_server::net::xfer::Protocol;

use crate::fast::{self, Fast};
use crate::handler::Handler;
use crate::metrics::DnsMetrics;
use crate::udp;
use crate::zone::{compile, Zone};

/// A compiled zone with a handler and a single-thread runtime for the general path.
pub struct Harness {
    zone: Arc<ArcSwap<Zone>>,
    handler: Handler,
    metrics: Arc<DnsMetrics>,
    runtime: tokio::runtime::Runtime,
}

impl Harness {
    /// Compiles `fleet` (with no health observations) into a harness.
    pub fn new(fleet: &Fleet) -> Self {
        let metrics = Arc::new(DnsMetrics::unregistered().expect("metrics are well formed"));
        let health = Arc::new(ArcSwap::from_pointee(Health::default()));
        let zone = Arc::new(ArcSwap::from_pointee(compile(
            fleet,
            &health.load(),
            &metrics,
        )));
        let handler = Handler::new(zone.clone(), health, metrics.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime starts");
        Self {
            zone,
            handler,
            metrics,
            runtime,
        }
    }

    /// The UDP fast path: `Some(response)` when it answers, `None` when it leaves
    /// the packet to the general path.
    pub fn answer_fast(&self, packet: &[u8], client: SocketAddr) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let zone = self.zone.load();
        match fast::respond(&zone, packet, client.ip(), &self.metrics, &mut out) {
            Fast::Answered => Some(out),
            Fast::Fallback => None,
        }
    }

    /// The general path as UDP or TCP serve it: `None` when nothing is sent.
    pub fn answer_general(
        &self,
        packet: &[u8],
        client: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        self.runtime
            .block_on(udp::answer(&self.handler, packet, client, protocol))
    }

    /// What a UDP worker sends for `packet`: the fast path, else the general path.
    pub fn answer_udp(&self, packet: &[u8], client: SocketAddr) -> Option<Vec<u8>> {
        self.answer_fast(packet, client)
            .or_else(|| self.answer_general(packet, client, Protocol::Udp))
    }
}
