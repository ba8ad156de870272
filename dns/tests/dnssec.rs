//! DNSSEC in the compiled zone, without sockets: DO=1 answers carry the
//! precomputed RRSIGs and NSECs on the fast path and the general path alike,
//! DO=0 answers carry none, untrusted clients see a chain without the health
//! view's names, answers too big for the client's UDP size are truncated, and
//! signatures survive a recompile when their RRset did not change.
//! (Validation itself, by unbound, delv and zonemaster, is in the e2e suite:
//! `cargo test --test e2e dnssec`.)

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use fleetdns_config::{file, Fleet, Health};
use fleetdns_dns::dnssec::{Algorithm, SigCache, SigningKey, Validity, FLAGS_KSK, FLAGS_ZSK};
use fleetdns_dns::fuzzing::Harness;
use fleetdns_dns::{DnsMetrics, Signing, Snapshot};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use hickory_server::net::xfer::Protocol;

fn config(web_ip: &str) -> String {
    format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  soa: {{serial: 1}}
  nameServers: [{{name: ns1.tm.test, addresses: [127.0.0.1]}}]
  healthView: {{trustedNetworks: [127.0.0.1/32]}}
  clusters:
    - {{name: a, services: [{{namespace: ns, name: svc, loadBalancer: ['{web_ip}']}}, {{namespace: ns, name: h, loadBalancer: ['lb.example.net']}}]}}
    - {{name: b, services: [{{namespace: ns, name: svc, loadBalancer: ['192.0.2.2']}}]}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {{name: web, namespace: ns}}
spec: {{resourceGroup: rg}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: web, namespace: ns}}
spec: {{profile: {{name: web}}, backend: {{name: svc}}}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {{name: host, namespace: ns}}
spec: {{resourceGroup: rg}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: host, namespace: ns}}
spec: {{profile: {{name: host}}, backend: {{name: h}}}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {{name: svc, namespace: ns}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {{name: h, namespace: ns}}
"
    )
}

fn fleet(web_ip: &str) -> Fleet {
    file::load_str(Path::new("t.yaml"), &config(web_ip))
        .unwrap_or_else(|d| panic!("{d}"))
        .0
}

fn packet(name: &str, qtype: RecordType, payload: u16, dnssec_ok: bool) -> Vec<u8> {
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    let mut e = Edns::new();
    e.set_max_payload(payload);
    e.set_dnssec_ok(dnssec_ok);
    m.set_edns(e);
    m.to_vec().unwrap()
}

/// Record types per section, e.g. `an:A,RRSIG ns:SOA,RRSIG,NSEC,RRSIG`.
fn shape(bytes: &[u8]) -> String {
    let m = Message::from_vec(bytes).unwrap();
    let types = |rs: &[hickory_proto::rr::Record]| {
        rs.iter()
            .map(|r| r.record_type().to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{} an:{} ns:{}",
        m.metadata.response_code,
        types(&m.answers),
        types(&m.authorities)
    )
}

fn keys() -> Vec<SigningKey> {
    vec![
        SigningKey::generate(Algorithm::EcdsaP256Sha256, FLAGS_KSK)
            .unwrap()
            .0,
    ]
}

const TRUSTED: &str = "127.0.0.1:5000";
const UNTRUSTED: &str = "192.0.2.200:5000";

#[test]
fn dnssec_do_answers_carry_signatures_on_both_paths() {
    let h = Harness::signed(&fleet("192.0.2.1"), &keys());
    let trusted: SocketAddr = TRUSTED.parse().unwrap();
    let untrusted: SocketAddr = UNTRUSTED.parse().unwrap();
    let cases: &[(&str, RecordType, SocketAddr, &str)] = &[
        (
            "ns-web.tm.test.",
            RecordType::A,
            untrusted,
            "No Error an:A,RRSIG ns:",
        ),
        (
            "ns-host.tm.test.",
            RecordType::A,
            untrusted,
            "No Error an:CNAME,RRSIG ns:",
        ),
        (
            "tm.test.",
            RecordType::SOA,
            untrusted,
            "No Error an:SOA,RRSIG ns:",
        ),
        (
            "tm.test.",
            RecordType::DNSKEY,
            untrusted,
            "No Error an:DNSKEY,RRSIG ns:",
        ),
        (
            "tm.test.",
            RecordType::CDS,
            untrusted,
            "No Error an:CDS,RRSIG ns:",
        ),
        (
            "tm.test.",
            RecordType::CDNSKEY,
            untrusted,
            "No Error an:CDNSKEY,RRSIG ns:",
        ),
        (
            "tm.test.",
            RecordType::NSEC,
            untrusted,
            "No Error an:NSEC,RRSIG ns:",
        ),
        (
            "ns1.tm.test.",
            RecordType::A,
            untrusted,
            "No Error an:A,RRSIG ns:",
        ),
        // NODATA: the SOA and the NSEC at the name, each with its RRSIG.
        (
            "ns-web.tm.test.",
            RecordType::AAAA,
            untrusted,
            "No Error an: ns:SOA,RRSIG,NSEC,RRSIG",
        ),
        // NXDOMAIN: the covering NSEC and the one denying the wildcard.
        (
            "nx.tm.test.",
            RecordType::A,
            untrusted,
            "Non-Existent Domain an: ns:SOA,RRSIG,NSEC,RRSIG,NSEC,RRSIG",
        ),
        // Here one NSEC (at ns-web) covers both the name and the wildcard.
        (
            "_health.ns-web.tm.test.",
            RecordType::TXT,
            untrusted,
            "Non-Existent Domain an: ns:SOA,RRSIG,NSEC,RRSIG",
        ),
        (
            "_health.ns-web.tm.test.",
            RecordType::TXT,
            trusted,
            "No Error an:TXT,TXT,TXT,RRSIG ns:",
        ),
        (
            "a._cluster.ns-web.tm.test.",
            RecordType::A,
            trusted,
            "No Error an:A,RRSIG ns:",
        ),
    ];
    let mut failures = Vec::new();
    for &(name, qtype, client, want) in cases {
        let p = packet(name, qtype, 1232, true);
        fastrand::seed(1);
        let general = h.answer_general(&p, client, Protocol::Udp).unwrap();
        fastrand::seed(1);
        if let Some(fast) = h.answer_fast(&p, client) {
            if Message::from_vec(&fast).unwrap().to_string()
                != Message::from_vec(&general).unwrap().to_string()
            {
                failures.push(format!("{name} {qtype}: fast and general paths differ"));
            }
        }
        let got = shape(&general);
        if got != want {
            failures.push(format!(
                "{name} {qtype} from {client}: want {want}, got {got}"
            ));
        }
        // DO=0: no DNSSEC records unless asked for by type.
        let plain = shape(
            &h.answer_udp(&packet(name, qtype, 1232, false), client)
                .unwrap(),
        );
        if plain.contains("RRSIG") || (plain.contains("NSEC") && qtype != RecordType::NSEC) {
            failures.push(format!("{name} {qtype} DO=0 got {plain}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dnssec_untrusted_clients_never_see_health_view_names_in_nsec() {
    let h = Harness::signed(&fleet("192.0.2.1"), &keys());
    for name in [
        "nx.tm.test.",
        "zz.tm.test.",
        "ns-web.tm.test.",
        "a.ns-web.tm.test.",
    ] {
        let r = h
            .answer_udp(
                &packet(name, RecordType::AAAA, 1232, true),
                UNTRUSTED.parse().unwrap(),
            )
            .unwrap();
        // NSEC RDATA is shown as base64 by hickory: look at the octets.
        let has = |needle: &[u8]| r.windows(needle.len()).any(|w| w == needle);
        assert!(shape(&r).contains("NSEC"), "{name}: an NSEC is there");
        assert!(!has(b"_health") && !has(b"_cluster"), "{name}: {r:?}");
    }
    // Trusted clients get the chain over all names.
    let r = h
        .answer_udp(
            &packet("ns-web.tm.test.", RecordType::AAAA, 1232, true),
            TRUSTED.parse().unwrap(),
        )
        .unwrap();
    assert!(r.windows(8).any(|w| w == b"_cluster"), "{r:?}");
}

#[test]
fn dnssec_answers_over_the_clients_udp_size_are_truncated() {
    let h = Harness::signed(&fleet("192.0.2.1"), &keys());
    let client: SocketAddr = UNTRUSTED.parse().unwrap();
    let p = packet("nx.tm.test.", RecordType::A, 512, true);
    let r = h.answer_udp(&p, client).unwrap();
    let m = Message::from_vec(&r).unwrap();
    assert!(r.len() <= 512, "{} octets", r.len());
    // Either it fits whole, or it is TC with no records (the client retries over TCP).
    assert!(
        (m.metadata.truncation && m.answers.is_empty() && m.authorities.is_empty())
            || m.authorities.len() == 6,
        "{m}"
    );
    let tcp = h.answer_general(&p, client, Protocol::Tcp).unwrap();
    assert_eq!(
        shape(&tcp),
        "Non-Existent Domain an: ns:SOA,RRSIG,NSEC,RRSIG,NSEC,RRSIG"
    );
}

fn compile(fleet: &Fleet, keys: &[SigningKey], now: u32, cache: &mut SigCache) {
    let metrics = DnsMetrics::unregistered().unwrap();
    let signing = Signing {
        keys,
        validity: Validity {
            lifetime: 14 * 86_400,
            skew: 3_600,
        },
        now,
        cache,
    };
    let _ = Snapshot::compile_signed(fleet, Arc::new(Health::default()), &metrics, Some(signing));
}

#[test]
fn dnssec_signatures_survive_a_recompile_and_are_renewed_before_expiry() {
    let keys = {
        let mut k = keys();
        k.push(
            SigningKey::generate(Algorithm::EcdsaP256Sha256, FLAGS_ZSK)
                .unwrap()
                .0,
        );
        k
    };
    let mut cache = SigCache::default();
    let now = 1_800_000_000;
    compile(&fleet("192.0.2.1"), &keys, now, &mut cache);
    let (made, _) = cache.counts();
    assert!(made > 20, "first compile signs everything ({made})");
    compile(&fleet("192.0.2.1"), &keys, now + 3_600, &mut cache);
    assert_eq!(
        cache.counts().0,
        made,
        "nothing changed: every signature reused"
    );
    // One endpoint's address changes: its A RRset (at the profile and at its
    // cluster name) and the health view's TXT are signed again, and nothing else.
    compile(&fleet("192.0.2.9"), &keys, now + 7_200, &mut cache);
    let changed = cache.counts().0 - made;
    assert_eq!(changed, 3, "one endpoint changed: {changed} new signatures");
    // Less than half the lifetime left: everything is renewed.
    let held = cache.len() as u64;
    compile(&fleet("192.0.2.9"), &keys, now + 8 * 86_400, &mut cache);
    assert_eq!(cache.counts().0 - made - changed, held);
}
