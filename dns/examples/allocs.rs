//! Counts heap allocations per query on the UDP fast path and the general path,
//! answering each packet the way a UDP worker does (`crate::udp`), with a
//! counting global allocator.
//!
//! ```sh
//! cargo run --release -p fleetdns-dns --example allocs
//! ```
//! Prints one row per query: allocations (and reallocations) per query, averaged
//! over `ROUNDS` answers after a warm-up, and which path answered.

use std::alloc::System;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use fleetdns_config::{file, Health};
use fleetdns_dns::fast::{self, Fast};
use fleetdns_dns::{compile, udp, DnsMetrics, Handler};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ROUNDS: usize = 2_000;

const CONFIG: &str = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers:
    - {name: ns1.tm.test, addresses: [127.0.0.1, '::1']}
    - {name: a-rather-long-name-server-name-number-two.dns.tm.test, addresses: [127.0.0.2]}
    - {name: a-rather-long-name-server-name-number-three.dns.tm.test, addresses: [127.0.0.3]}
    - {name: a-rather-long-name-server-name-number-four.dns.tm.test, addresses: [127.0.0.4]}
    - {name: a-rather-long-name-server-name-number-five.dns.tm.test, addresses: [127.0.0.5]}
  healthView: {trustedNetworks: [127.0.0.1/32]}
  clusters:
    - {name: c1, services: [{namespace: ns, name: svc, loadBalancer: ['192.0.2.1']}]}
    - {name: c2, services: [{namespace: ns, name: svc, loadBalancer: ['192.0.2.2']}]}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {name: web, namespace: ns}
spec: {resourceGroup: rg}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: web, namespace: ns}
spec: {profile: {name: web}, backend: {name: svc}, weight: 100}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {name: svc, namespace: ns}
";

/// A query: name, type, class, EDNS version (`None`: no EDNS), opcode, and a
/// second question.
struct Case {
    what: &'static str,
    name: &'static str,
    qtype: RecordType,
    class: DNSClass,
    edns: Option<u8>,
    op_code: OpCode,
    two_questions: bool,
}

const fn case(what: &'static str, name: &'static str, qtype: RecordType) -> Case {
    Case {
        what,
        name,
        qtype,
        class: DNSClass::IN,
        edns: Some(0),
        op_code: OpCode::Query,
        two_questions: false,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case("profile A (weighted)", "ns-web.tm.test.", RecordType::A),
        case("profile AAAA (NODATA)", "ns-web.tm.test.", RecordType::AAAA),
        case("unknown name (NXDOMAIN)", "nope.tm.test.", RecordType::A),
        case("apex SOA", "tm.test.", RecordType::SOA),
        case("ANY (RFC 8482)", "ns-web.tm.test.", RecordType::ANY),
        Case {
            edns: Some(1),
            ..case("EDNS version 1 (BADVERS)", "ns-web.tm.test.", RecordType::A)
        },
        case("AXFR (REFUSED)", "tm.test.", RecordType::AXFR),
        Case {
            edns: None,
            ..case("apex NS over 512 octets (glue dropped)", "tm.test.", RecordType::NS)
        },
        Case {
            class: DNSClass::CH,
            ..case("class CH (REFUSED)", "version.bind.", RecordType::TXT)
        },
        Case {
            op_code: OpCode::Status,
            ..case("opcode STATUS (NOTIMP)", "tm.test.", RecordType::SOA)
        },
        Case {
            two_questions: true,
            ..case("two questions (FORMERR)", "tm.test.", RecordType::SOA)
        },
        case("health view TXT (trusted)", "_health.ns-web.tm.test.", RecordType::TXT),
    ]
}

fn packet(c: &Case) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, c.op_code);
    let mut q = Query::query(Name::from_ascii(c.name).expect("name"), c.qtype);
    q.set_query_class(c.class);
    m.add_query(q.clone());
    if c.two_questions {
        m.add_query(q);
    }
    if let Some(version) = c.edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.set_version(version);
        m.set_edns(e);
    }
    m.to_vec().expect("query encodes")
}

/// What a UDP worker holds: the zone, the handler, its reused output buffer
/// and its runtime for the general path.
struct Worker {
    zone: Arc<ArcSwap<fleetdns_dns::Zone>>,
    handler: Handler,
    metrics: Arc<DnsMetrics>,
    runtime: tokio::runtime::Runtime,
    out: Vec<u8>,
}

impl Worker {
    fn new() -> Self {
        let fleet = file::load_str(Path::new("allocs.yaml"), CONFIG)
            .unwrap_or_else(|d| panic!("{d}"))
            .0;
        let metrics = Arc::new(DnsMetrics::unregistered().expect("metrics"));
        let health = Arc::new(ArcSwap::from_pointee(Health::default()));
        let zone = Arc::new(ArcSwap::from_pointee(compile(
            &fleet,
            &health.load(),
            &metrics,
        )));
        let handler = Handler::new(zone.clone(), health, metrics.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Self {
            zone,
            handler,
            metrics,
            runtime,
            out: Vec::with_capacity(1500),
        }
    }

    /// Answers `packet` as `udp::worker` does; returns whether the fast path answered.
    fn answer(&mut self, packet: &[u8], src: SocketAddr) -> bool {
        let zone = self.zone.load();
        match fast::respond(&zone, packet, src.ip(), &self.metrics, &mut self.out) {
            Fast::Answered => true,
            Fast::Fallback => {
                drop(zone);
                if let Some(reply) = self.runtime.block_on(udp::general(&self.handler, packet, src)) {
                    self.out = reply;
                }
                false
            }
        }
    }
}

fn main() {
    let mut worker = Worker::new();
    let src: SocketAddr = "127.0.0.1:5300".parse().expect("address");
    println!("| query | path | allocations / query | reallocations / query | bytes allocated / query |");
    println!("|---|---|---|---|---|");
    for c in cases() {
        let p = packet(&c);
        let mut fast = false;
        for _ in 0..100 {
            fast = worker.answer(&p, src);
        }
        let region = Region::new(GLOBAL);
        for _ in 0..ROUNDS {
            worker.answer(&p, src);
        }
        let s = region.change();
        let per = |n: usize| n as f64 / ROUNDS as f64;
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.0} |",
            c.what,
            if fast { "fast" } else { "general" },
            per(s.allocations),
            per(s.reallocations),
            per(s.bytes_allocated),
        );
    }
}
