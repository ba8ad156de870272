//! The fast path and the general path give the same answers: same rcode, flags
//! and sections, for every generated query the fast path answers (the rest go to
//! the general path anyway). Both draw weighted answers from the same seeded RNG.
//! The zone has Weighted, MultiValue (several records per answer) and Priority
//! profiles (`cargo test routing_method` runs the test too).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use fleetdns_config::{file, Health};
use fleetdns_dns::fast::{self, Fast};
use fleetdns_dns::fuzzing::Harness;
use fleetdns_dns::{DnsMetrics, Snapshot};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RecordType};
use hickory_server::net::xfer::Protocol;

const CONFIG: &str = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers:
    - {name: ns1.tm.test, addresses: [127.0.0.1, '::1']}
    - {name: ns2.dns.tm.test, addresses: [127.0.0.2]}
    - {name: a-rather-long-name-server-name-number-three.dns.tm.test, addresses: [127.0.0.3]}
    - {name: a-rather-long-name-server-name-number-four.dns.tm.test, addresses: [127.0.0.4]}
    - {name: a-rather-long-name-server-name-number-five.dns.tm.test, addresses: [127.0.0.5]}
    - {name: a-rather-long-name-server-name-number-six.dns.tm.test, addresses: [127.0.0.6]}
    - {name: a-rather-long-name-server-name-number-seven.dns.tm.test, addresses: [127.0.0.7]}
    - {name: ns.outside.example, addresses: []}
  healthView: {trustedNetworks: [127.0.0.1/32]}
  clusters:
    - {name: c1, services: [{namespace: ns, name: svc, loadBalancer: ['192.0.2.1']}, {namespace: ns, name: dual, loadBalancer: ['192.0.2.9', '2001:db8::9']}]}
    - {name: c2, services: [{namespace: ns, name: svc, loadBalancer: ['192.0.2.2']}, {namespace: ns, name: host, loadBalancer: ['lb.example.net']}]}
    - {name: c3, services: [{namespace: ns, name: svc, loadBalancer: ['192.0.2.3']}, {namespace: ns, name: v6, loadBalancer: ['2001:db8::3']}]}
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
kind: TrafficManagerProfile
metadata: {name: mixed, namespace: ns}
spec: {resourceGroup: rg}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: m1, namespace: ns}
spec: {profile: {name: mixed}, backend: {name: dual}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: m2, namespace: ns}
spec: {profile: {name: mixed}, backend: {name: host}, weight: 3}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: m3, namespace: ns}
spec: {profile: {name: mixed}, backend: {name: v6}, weight: 2}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {name: multi, namespace: ns, annotations: {fleetdns.io/routing-method: MultiValue, fleetdns.io/max-return: '8'}}
spec: {resourceGroup: rg}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: mv1, namespace: ns}
spec: {profile: {name: multi}, backend: {name: svc}, weight: 10}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: mv2, namespace: ns}
spec: {profile: {name: multi}, backend: {name: dual}, weight: 4}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: mv3, namespace: ns}
spec: {profile: {name: multi}, backend: {name: v6}, weight: 2}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: mv4, namespace: ns}
spec: {profile: {name: multi}, backend: {name: host}, weight: 2}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {name: multi2, namespace: ns, annotations: {fleetdns.io/routing-method: MultiValue}}
spec: {resourceGroup: rg}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: mw1, namespace: ns}
spec: {profile: {name: multi2}, backend: {name: svc}, weight: 10}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {name: prio, namespace: ns, annotations: {fleetdns.io/routing-method: Priority}}
spec: {resourceGroup: rg}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: p1, namespace: ns, annotations: {fleetdns.io/priority: '2'}}
spec: {profile: {name: prio}, backend: {name: svc}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: p2, namespace: ns, annotations: {fleetdns.io/priority: '1'}}
spec: {profile: {name: prio}, backend: {name: dual}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: p3, namespace: ns, annotations: {fleetdns.io/priority: '1'}}
spec: {profile: {name: prio}, backend: {name: host}, weight: 3}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {name: svc, namespace: ns, annotations: {networking.fleet.azure.com/weight: '7'}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {name: dual, namespace: ns}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {name: host, namespace: ns}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {name: v6, namespace: ns}
";

const NAMES: &[&str] = &[
    "tm.test.",
    "ns-web.tm.test.",
    "ns-mixed.tm.test.",
    "ns-multi.tm.test.",
    "ns-multi2.tm.test.",
    "ns-prio.tm.test.",
    "ns1.tm.test.",
    "ns2.dns.tm.test.",
    "dns.tm.test.",
    "nope.tm.test.",
    "deep.below.ns-web.tm.test.",
    "_health.ns-web.tm.test.",
    "c1._cluster.ns-web.tm.test.",
    "test.",
    "example.com.",
];
const TYPES: &[RecordType] = &[
    RecordType::A,
    RecordType::AAAA,
    RecordType::CNAME,
    RecordType::NS,
    RecordType::SOA,
    RecordType::MX,
    RecordType::TXT,
    RecordType::ANY,
    RecordType::AXFR,
    RecordType::Unknown(65000),
];

/// EDNS variants: none, small, default, large, DO, an unknown option, version 1.
fn edns_variants() -> Vec<Option<Edns>> {
    let mut out = vec![None];
    for (payload, dnssec_ok, version, option) in [
        (512, false, 0, false),
        (1232, false, 0, false),
        (4096, false, 0, false),
        (1232, true, 0, false),
        (1232, false, 0, true),
        (1232, false, 1, false),
    ] {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        e.set_dnssec_ok(dnssec_ok);
        e.set_version(version);
        if option {
            e.options_mut()
                .insert(EdnsOption::Unknown(65001, vec![1, 2, 3]));
        }
        out.push(Some(e));
    }
    out
}

fn case_variants(name: &str, seed: u64) -> [String; 3] {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mixed: String = name
        .chars()
        .map(|c| {
            if rng.bool() {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    [name.to_string(), name.to_ascii_uppercase(), mixed]
}

fn packet(
    id: u16,
    name: &str,
    qtype: RecordType,
    edns: &Option<Edns>,
    rd: bool,
    cd: bool,
) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = rd;
    m.metadata.checking_disabled = cd;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(e) = edns {
        m.set_edns(e.clone());
    }
    m.to_vec().unwrap()
}

/// Everything a client sees, in comparable form.
fn view(bytes: &[u8]) -> String {
    let m = Message::from_vec(bytes).unwrap_or_else(|e| panic!("reply does not parse: {e}"));
    let mut out = format!(
        "{:?} counts={},{},{}\n",
        m.metadata,
        m.answers.len(),
        m.authorities.len(),
        m.additionals.len()
    );
    for (section, records) in [
        ("an", &m.answers),
        ("ns", &m.authorities),
        ("ar", &m.additionals),
    ] {
        for r in records {
            out += &format!(
                "{section} {} {} {} {} {}\n",
                r.name.to_ascii(),
                r.record_type(),
                r.dns_class,
                r.ttl,
                r.data
            );
        }
    }
    if let Some(e) = &m.edns {
        out += &format!(
            "opt payload={} version={} do={} options={:?}\n",
            e.max_payload(),
            e.version(),
            e.flags().dnssec_ok,
            e.options()
        );
    }
    out
}

/// The test zone, compiled, with both paths over it (the fuzzing harness,
/// which runs them as the UDP workers do).
struct Paths(Harness);

impl Paths {
    fn new() -> Self {
        let fleet = file::load_str(Path::new("t.yaml"), CONFIG)
            .unwrap_or_else(|d| panic!("{d}"))
            .0;
        Paths(Harness::new(&fleet))
    }

    /// The same zone signed (one ECDSA P-256 CSK).
    fn signed() -> Self {
        use fleetdns_dns::dnssec::{Algorithm, SigningKey, FLAGS_KSK};
        let fleet = file::load_str(Path::new("t.yaml"), CONFIG)
            .unwrap_or_else(|d| panic!("{d}"))
            .0;
        let key = SigningKey::generate(Algorithm::EcdsaP256Sha256, FLAGS_KSK)
            .unwrap()
            .0;
        Paths(Harness::signed(&fleet, &[key]))
    }

    /// Answers `p` from `client` on the fast path; if it answered, also on the
    /// general path: `(fast, general)`. Both draw from the RNG seeded with
    /// `seed`, so weighted picks agree.
    fn both(&self, p: &[u8], client: SocketAddr, seed: u64) -> Option<(Vec<u8>, Vec<u8>)> {
        fastrand::seed(seed);
        let fast = self.0.answer_fast(p, client)?;
        fastrand::seed(seed);
        let general = self
            .0
            .answer_general(p, client, Protocol::Udp)
            .expect("the general path answers");
        Some((fast, general))
    }
}

#[test]
fn fast_and_general_paths_agree_on_more_than_10000_queries_routing_method_all() {
    agree(&Paths::new(), false);
}

/// The same on the signed zone: DO=1 MultiValue answers are precomputed signed
/// subsets (several records and their RRSIG), alike on both paths.
#[test]
fn fast_and_general_paths_agree_on_a_signed_zone_routing_method_dnssec() {
    agree(&Paths::signed(), true);
}

fn agree(paths: &Paths, signed: bool) {
    let clients: [SocketAddr; 2] = [
        "127.0.0.1:5000".parse().unwrap(),
        "127.0.0.9:5000".parse().unwrap(),
    ];
    let (mut total, mut fast_answered, mut truncated, mut multi) = (0u32, 0u32, 0u32, 0u32);
    let mut edns = edns_variants();
    if signed {
        // DO=1 at the smallest and a large UDP size too (signed answers are larger).
        for payload in [512, 4096] {
            let mut e = Edns::new();
            e.set_max_payload(payload);
            e.set_dnssec_ok(true);
            edns.push(Some(e));
        }
    }
    for (n, name) in NAMES.iter().enumerate() {
        for spelled in case_variants(name, n as u64) {
            for &qtype in TYPES {
                for e in &edns {
                    for (rd, cd) in [(false, false), (true, true)] {
                        for client in clients {
                            total += 1;
                            let p = packet(total as u16, &spelled, qtype, e, rd, cd);
                            let seed = u64::from(total) * 7919;
                            let Some((fast, general)) = paths.both(&p, client, seed) else {
                                continue;
                            };
                            fast_answered += 1;
                            let answers = Message::from_vec(&fast).unwrap().answers;
                            let rrsig =
                                answers.iter().any(|r| r.record_type() == RecordType::RRSIG);
                            let records = answers.len() - usize::from(rrsig);
                            if records > 1 && name.starts_with("ns-multi") && rrsig == signed {
                                multi += 1;
                            }
                            if Message::from_vec(&general).unwrap().metadata.truncation {
                                truncated += 1;
                            }
                            let (f, g) = (view(&fast), view(&general));
                            assert_eq!(f, g, "query {spelled} {qtype} edns={e:?} rd={rd} from {client}:\nfast:\n{f}\ngeneral:\n{g}");
                        }
                    }
                }
            }
        }
    }
    eprintln!("{total} queries, {fast_answered} answered by the fast path, {multi} with several MultiValue records");
    assert!(multi > 100, "MultiValue answers are compared: {multi}");
    assert!(total >= 10_000, "{total} queries generated");
    assert!(
        fast_answered * 2 > total,
        "the fast path answers most queries: {fast_answered} of {total}"
    );
    assert_eq!(
        truncated, 0,
        "the fast path never answers what must be truncated"
    );
}

#[test]
fn the_fast_path_leaves_the_hard_cases_to_the_general_path() {
    let fleet = file::load_str(Path::new("t.yaml"), CONFIG)
        .unwrap_or_else(|d| panic!("{d}"))
        .0;
    let metrics = DnsMetrics::unregistered().unwrap();
    let snapshot = Snapshot::compile(&fleet, Arc::new(Health::default()), &metrics);
    let mut out = Vec::new();
    let client = "127.0.0.1".parse().unwrap();
    let mut v1 = Edns::new();
    v1.set_version(1);
    for (what, p) in [
        (
            "EDNS version 1 (BADVERS)",
            packet(1, "ns-web.tm.test.", RecordType::A, &Some(v1), false, false),
        ),
        (
            "ANY",
            packet(2, "ns-web.tm.test.", RecordType::ANY, &None, false, false),
        ),
        (
            "AXFR",
            packet(3, "tm.test.", RecordType::AXFR, &None, false, false),
        ),
        (
            "health view",
            packet(
                4,
                "_health.ns-web.tm.test.",
                RecordType::TXT,
                &None,
                false,
                false,
            ),
        ),
        (
            "NS set over 512 octets without EDNS",
            packet(5, "tm.test.", RecordType::NS, &None, false, false),
        ),
        ("a runt", vec![0, 1, 2]),
        ("a response", {
            let mut p = packet(6, "tm.test.", RecordType::SOA, &None, false, false);
            p[2] |= 0x80;
            p
        }),
        ("trailing garbage", {
            let mut p = packet(7, "tm.test.", RecordType::SOA, &None, false, false);
            p.push(0);
            p
        }),
    ] {
        assert_eq!(
            fast::respond(&snapshot, &p, client, &metrics, &mut out),
            Fast::Fallback,
            "{what}"
        );
    }
}

#[test]
fn apex_names_are_compressed_when_the_question_is_lower_case() {
    let paths = Paths::new();
    let client: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let edns = {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        Some(e)
    };
    // (fast, general) response sizes.
    let sizes = |name: &str, qtype: RecordType| {
        let p = packet(1, name, qtype, &edns, false, false);
        let (fast, general) = paths
            .both(&p, client, 1)
            .unwrap_or_else(|| panic!("the fast path answers {name} {qtype}"));
        assert_eq!(view(&fast), view(&general), "{name} {qtype}");
        (fast.len(), general.len())
    };
    // Answers with an SOA (apex SOA, NXDOMAIN, NODATA): no larger than
    // hickory's (which compresses names against the question and against each
    // other) when the question's apex labels are lower case; in full otherwise.
    for (lower, upper, qtype) in [
        ("tm.test.", "TM.TEST.", RecordType::SOA),
        ("nope.tm.test.", "nope.TM.test.", RecordType::A),
        ("ns-web.tm.test.", "ns-web.tm.TEST.", RecordType::AAAA),
    ] {
        let (fast, general) = sizes(lower, qtype);
        assert!(
            fast <= general,
            "{lower} {qtype}: {fast} > {general} octets"
        );
        let (plain, _) = sizes(upper, qtype);
        // SOA mname, rname and (in the authority section) owner: each saves
        // the apex's 9 octets less a 2-octet pointer.
        let saved = if qtype == RecordType::SOA { 14 } else { 21 };
        assert_eq!(plain - fast, saved, "{upper} {qtype}");
    }
    // NS with glue: every in-zone name in the NS RDATA and glue owners ends in
    // a pointer (7 in-zone name servers, 7 NS names and 7 glue owners, one with
    // an A and an AAAA: 15 names, 7 octets each).
    let (fast, _) = sizes("tm.test.", RecordType::NS);
    let (plain, _) = sizes("tm.TEST.", RecordType::NS);
    assert_eq!(plain - fast, 15 * 7);
}
