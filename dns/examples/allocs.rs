//! Counts heap allocations per query on the UDP fast path and the general path,
//! answering each packet the way a UDP worker does (`crate::udp`), with a
//! counting global allocator.
//!
//! ```sh
//! cargo run --release -p fleetdns-dns --example allocs
//! ```
//! Prints one row per query (the last ones with the DO bit, from the zone signed
//! with one ECDSA P-256 CSK): allocations (and reallocations) per query, averaged
//! over `ROUNDS` answers after a warm-up, and which path answered.

use std::alloc::System;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use fleetdns_config::{file, Health};
use fleetdns_dns::fast::{self, Fast};
use fleetdns_dns::general::{self, Scratch};
use fleetdns_dns::{DnsMetrics, Snapshot};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_server::net::xfer::Protocol;
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
    - {name: c3, services: [{namespace: ns, name: svc, loadBalancer: ['192.0.2.3']}]}
    - {name: c4, services: [{namespace: ns, name: svc, loadBalancer: ['192.0.2.4']}]}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {name: multi, namespace: ns, annotations: {fleetdns.io/routing-method: MultiValue}}
spec: {resourceGroup: rg}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: multi, namespace: ns}
spec: {profile: {name: multi}, backend: {name: svc}, weight: 100}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {name: prio, namespace: ns, annotations: {fleetdns.io/routing-method: Priority}}
spec: {resourceGroup: rg}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: prio, namespace: ns, annotations: {fleetdns.io/priority: '1'}}
spec: {profile: {name: prio}, backend: {name: svc}, weight: 100}
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
    /// The DO bit (answered by the signed worker).
    dnssec_ok: bool,
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
        dnssec_ok: false,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case("profile A (weighted)", "ns-web.tm.test.", RecordType::A),
        case("profile AAAA (NODATA)", "ns-web.tm.test.", RecordType::AAAA),
        case(
            "profile A (MultiValue, 3 of 4)",
            "ns-multi.tm.test.",
            RecordType::A,
        ),
        Case {
            edns: None,
            ..case(
                "profile A (MultiValue, no EDNS)",
                "ns-multi.tm.test.",
                RecordType::A,
            )
        },
        case("profile A (Priority)", "ns-prio.tm.test.", RecordType::A),
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
            ..case(
                "apex NS over 512 octets (glue dropped)",
                "tm.test.",
                RecordType::NS,
            )
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
        case(
            "health view TXT (trusted)",
            "_health.ns-web.tm.test.",
            RecordType::TXT,
        ),
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
        e.set_dnssec_ok(c.dnssec_ok);
        m.set_edns(e);
    }
    m.to_vec().expect("query encodes")
}

/// What a UDP worker holds: the published snapshot, its reused output buffer
/// and its general-path scratch.
struct Worker {
    snapshot: Arc<ArcSwap<Snapshot>>,
    metrics: Arc<DnsMetrics>,
    out: Vec<u8>,
    scratch: Scratch,
}

impl Worker {
    /// A worker over the zone, signed with one ECDSA P-256 CSK when `signed`.
    fn new(signed: bool) -> Self {
        use fleetdns_dns::dnssec::{Algorithm, SigCache, SigningKey, Validity, FLAGS_KSK};
        let fleet = file::load_str(Path::new("allocs.yaml"), CONFIG)
            .unwrap_or_else(|d| panic!("{d}"))
            .0;
        let metrics = Arc::new(DnsMetrics::unregistered().expect("metrics"));
        let keys = [SigningKey::generate(Algorithm::EcdsaP256Sha256, FLAGS_KSK)
            .expect("key")
            .0];
        let mut cache = SigCache::default();
        let signing = signed.then_some(fleetdns_dns::Signing {
            keys: &keys,
            validity: Validity {
                lifetime: 14 * 86_400,
                skew: 3_600,
            },
            now: 1_800_000_000,
            cache: &mut cache,
        });
        let snapshot =
            Snapshot::compile_signed(&fleet, Arc::new(Health::default()), &metrics, signing);
        Self {
            snapshot: Arc::new(ArcSwap::from_pointee(snapshot)),
            metrics,
            out: Vec::with_capacity(1500),
            scratch: Scratch::default(),
        }
    }

    /// Answers `packet` as `udp::worker` does; returns whether the fast path answered.
    fn answer(&mut self, packet: &[u8], src: SocketAddr) -> bool {
        let snapshot = self.snapshot.load();
        match fast::respond(&snapshot, packet, src.ip(), &self.metrics, &mut self.out) {
            Fast::Answered => true,
            Fast::Fallback => {
                general::respond(
                    &snapshot,
                    &self.metrics,
                    packet,
                    src,
                    Protocol::Udp,
                    &mut self.out,
                    &mut self.scratch,
                );
                false
            }
        }
    }
}

/// Allocations of hickory's parser alone for `packet`: the calls
/// `general::respond` makes to parse a message.
fn parser_allocations(packet: &[u8]) -> usize {
    use hickory_proto::op::Header;
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
    use hickory_server::zone_handler::Queries;
    let region = Region::new(GLOBAL);
    let mut d = BinDecoder::new(packet);
    if let Ok(h) = Header::read(&mut d) {
        let op = h.metadata.op_code;
        let _ = Queries::read(&mut d, usize::from(h.counts.queries)).map(|_| {
            let _ = Message::read_records(&mut d, usize::from(h.counts.answers), false, op);
            let _ = Message::read_records(&mut d, usize::from(h.counts.authorities), false, op);
            let _ = Message::read_records(&mut d, usize::from(h.counts.additionals), true, op);
        });
    }
    region.change().allocations
}

/// Queries with the DO bit, answered from the signed zone.
fn signed_cases() -> Vec<Case> {
    let signed = |what, name, qtype| Case {
        dnssec_ok: true,
        ..case(what, name, qtype)
    };
    vec![
        signed(
            "profile A (weighted, DO=1, signed zone)",
            "ns-web.tm.test.",
            RecordType::A,
        ),
        signed(
            "profile A (MultiValue, 3 of 4, DO=1, signed subset)",
            "ns-multi.tm.test.",
            RecordType::A,
        ),
        signed(
            "unknown name (NXDOMAIN, DO=1, NSEC)",
            "nope.tm.test.",
            RecordType::A,
        ),
    ]
}

fn main() {
    let src: SocketAddr = "127.0.0.1:5300".parse().expect("address");
    println!("| query | path | allocations / query | of which hickory's parser | reallocations / query | bytes allocated / query |");
    println!("|---|---|---|---|---|---|");
    for (mut worker, cases) in [
        (Worker::new(false), cases()),
        (Worker::new(true), signed_cases()),
    ] {
        for c in cases {
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
                "| {} | {} | {:.1} | {} | {:.1} | {:.0} |",
                c.what,
                if fast { "fast" } else { "general" },
                per(s.allocations),
                if fast { 0 } else { parser_allocations(&p) },
                per(s.reallocations),
                per(s.bytes_allocated),
            );
        }
    }
}
