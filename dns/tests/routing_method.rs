//! Routing methods in process: MultiValue's distribution against the exact
//! inclusion probabilities of weighted sampling without replacement, A and
//! AAAA drawn separately, host names left out; Priority's failover, sharing and
//! fail-open/closed; the health view's method and active priority.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use fleetdns_config::{file, EndpointHealth, Fleet, Health, MonitorState};
use fleetdns_dns::answer::answer;
use fleetdns_dns::compile;
use fleetdns_dns::multivalue::draw_with;
use hickory_proto::rr::{LowerName, Name, RData, RecordType};

/// Five IPv4 endpoints with weights 1, 2, 3, 4, 10 (backend weight = Σ export
/// weights, so the formula keeps them), one dual-stack endpoint (weight 5),
/// one IPv6-only (weight 5) and one host name (weight 5).
fn fleet(profile_annotations: &str, fail_closed: bool) -> Fleet {
    let closed = if fail_closed {
        "    fleetdns.io/fail-closed: \"true\"\n"
    } else {
        ""
    };
    let mut clusters = String::new();
    let mut exports = String::new();
    for (i, w) in [1, 2, 3, 4, 10].into_iter().enumerate() {
        clusters += &format!(
            "    - {{name: c{i}, services: [{{namespace: ns, name: v4, loadBalancer: ['192.0.2.{}']}}, {{namespace: ns, name: dual, loadBalancer: ['192.0.2.10{i}', '2001:db8::10{i}']}}, {{namespace: ns, name: v6, loadBalancer: ['2001:db8::20{i}']}}, {{namespace: ns, name: host, loadBalancer: ['lb{i}.example.net']}}]}}\n",
            i + 1
        );
        exports += &format!(
            "---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {{name: v4, namespace: ns, annotations: {{fleetdns.io/clusters: c{i}, networking.fleet.azure.com/weight: '{w}'}}}}
"
        );
    }
    let text = format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers: [{{name: ns1.tm.test, addresses: [127.0.0.1]}}]
  healthView: {{trustedNetworks: [127.0.0.1/32]}}
  clusters:
{clusters}---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata:
  name: web
  namespace: ns
  annotations:
{profile_annotations}{closed}    x: y
spec: {{resourceGroup: rg}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: v4, namespace: ns, annotations: {{fleetdns.io/priority: '2'}}}}
spec: {{profile: {{name: web}}, backend: {{name: v4}}, weight: 20}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: dual, namespace: ns, annotations: {{fleetdns.io/priority: '1'}}}}
spec: {{profile: {{name: web}}, backend: {{name: dual}}, weight: 5}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: v6, namespace: ns, annotations: {{fleetdns.io/priority: '3'}}}}
spec: {{profile: {{name: web}}, backend: {{name: v6}}, weight: 5}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: host, namespace: ns, annotations: {{fleetdns.io/priority: '1'}}}}
spec: {{profile: {{name: web}}, backend: {{name: host}}, weight: 5}}
{exports}---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {{name: dual, namespace: ns, annotations: {{fleetdns.io/clusters: c0}}}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {{name: v6, namespace: ns, annotations: {{fleetdns.io/clusters: c0}}}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: ServiceExport
metadata: {{name: host, namespace: ns, annotations: {{fleetdns.io/clusters: c0}}}}
"
    );
    file::load_str(Path::new("t.yaml"), &text)
        .unwrap_or_else(|d| panic!("{d}"))
        .0
}

fn health(states: &[(&str, MonitorState)]) -> Health {
    states
        .iter()
        .map(|(id, s)| {
            let h = EndpointHealth {
                state: *s,
                consecutive_failures: 0,
                last: None,
            };
            (Arc::from(*id), h)
        })
        .collect()
}

fn owner() -> LowerName {
    LowerName::new(&Name::from_str("ns-web.tm.test.").unwrap())
}

/// The answer section's data, in order.
fn records(zone: &fleetdns_dns::Zone, qtype: RecordType) -> Vec<String> {
    answer(zone, &owner(), qtype, false)
        .records(&Name::root())
        .map(|r| r.data.to_string())
        .collect()
}

/// Exact inclusion probabilities of drawing `n` of `weights` by weight without
/// replacement: the sum over every ordered sequence of draws of its probability.
fn inclusion(weights: &[f64], n: usize) -> Vec<f64> {
    fn walk(w: &[f64], taken: &mut Vec<usize>, p: f64, n: usize, out: &mut [f64]) {
        if taken.len() == n || taken.len() == w.len() {
            for &i in taken.iter() {
                out[i] += p;
            }
            return;
        }
        let rest: f64 = (0..w.len())
            .filter(|i| !taken.contains(i))
            .map(|i| w[i])
            .sum();
        for i in 0..w.len() {
            if !taken.contains(&i) {
                taken.push(i);
                walk(w, taken, p * w[i] / rest, n, out);
                taken.pop();
            }
        }
    }
    let mut out = vec![0.0; weights.len()];
    walk(weights, &mut Vec::new(), 1.0, n, &mut out);
    out
}

const V4: [&str; 5] = [
    "ns/v4#v4#c0",
    "ns/v4#v4#c1",
    "ns/v4#v4#c2",
    "ns/v4#v4#c3",
    "ns/v4#v4#c4",
];
const DUAL: &str = "ns/dual#dual#c0";
const V6: &str = "ns/v6#v6#c0";

#[test]
fn routing_method_inclusion_probabilities_are_exact_for_a_known_case() {
    // Weights 1, 1, 2 drawing 2: P(3rd) = 1/2 + 1/4·2/3·2 = 1/2 + 1/3 = 5/6.
    let p = inclusion(&[1.0, 1.0, 2.0], 2);
    assert!((p[2] - 5.0 / 6.0).abs() < 1e-12, "{p:?}");
    assert!((p.iter().sum::<f64>() - 2.0).abs() < 1e-12);
    // The drawing code enumerated over every random value gives the same.
    let mut exact = [0u64; 3];
    for r1 in 0..4 {
        for r2 in 0..4 {
            // Second draws have Σ 3 or 2 left; count the pairs where r2 is in range.
            let mut rs = [r1, r2].into_iter();
            let mut ok = true;
            let d = draw_with(&[1, 1, 2], 4, 2, |bound| {
                let r = rs.next().unwrap();
                ok &= r < bound;
                r
            });
            if !ok {
                continue;
            }
            let left = 4 - [1u64, 1, 2][usize::from(d.as_slice()[0])];
            for &i in d.as_slice() {
                // Weight each outcome by 1/(4·left) with a common denominator 4·3·2.
                exact[usize::from(i)] += 6 / left;
            }
        }
    }
    let total = 4 * 6; // Σ over first draws of (left × 6/left)
    for (i, e) in exact.iter().enumerate() {
        assert!(
            (*e as f64 / total as f64 - p[i]).abs() < 1e-12,
            "{i}: {exact:?} vs {p:?}"
        );
    }
}

#[test]
fn routing_method_multivalue_20000_queries_follow_sampling_without_replacement() {
    fastrand::seed(22);
    let f = fleet("    fleetdns.io/routing-method: MultiValue\n", false);
    // One IPv4 endpoint Degraded: the answer set is the other four plus the dual-stack one.
    let zone = compile(&f, &health(&[(V4[1], MonitorState::Degraded)]));
    let weight = |id: &str| {
        f.profiles[0]
            .endpoints
            .iter()
            .find(|e| *e.id == *id)
            .unwrap()
            .weight
    };
    let healthy: Vec<(&str, String)> = [
        (V4[0], "192.0.2.1"),
        (V4[2], "192.0.2.3"),
        (V4[3], "192.0.2.4"),
        (V4[4], "192.0.2.5"),
        (DUAL, "192.0.2.100"),
    ]
    .into_iter()
    .map(|(id, a)| (id, a.to_string()))
    .collect();
    let weights: Vec<f64> = healthy
        .iter()
        .map(|(id, _)| f64::from(weight(id)))
        .collect();
    assert_eq!(
        weights,
        [1.0, 3.0, 4.0, 10.0, 5.0],
        "the fleet formula keeps them"
    );
    let expected = inclusion(&weights, 3);
    let total_w: f64 = weights.iter().sum();

    const QUERIES: u32 = 20_000;
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut first: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..QUERIES {
        let a = records(&zone, RecordType::A);
        assert_eq!(a.len(), 3, "min(N = 3, 5 healthy) records: {a:?}");
        let mut distinct = a.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 3, "distinct: {a:?}");
        for r in &a {
            *seen.entry(r.clone()).or_default() += 1;
        }
        *first.entry(a[0].clone()).or_default() += 1;
    }
    assert!(
        !seen.contains_key("192.0.2.2"),
        "the Degraded endpoint is never answered"
    );
    let appearances: u32 = seen.values().sum();
    for (i, (id, addr)) in healthy.iter().enumerate() {
        let n = f64::from(seen.get(addr).copied().unwrap_or(0));
        // Share of answers that hold it vs its inclusion probability, and
        // share of all appearances vs inclusion / N.
        let in_answers = n / f64::from(QUERIES);
        let share = n / f64::from(appearances);
        eprintln!(
            "{id} {addr}: weight {} in {:.4} of answers (exact {:.4}), {:.4} of appearances (exact {:.4})",
            weights[i],
            in_answers,
            expected[i],
            share,
            expected[i] / 3.0
        );
        assert!(
            (in_answers - expected[i]).abs() < 0.02,
            "{id}: {in_answers} vs {}",
            expected[i]
        );
        assert!((share - expected[i] / 3.0).abs() < 0.02, "{id}: {share}");
        // The first record is a Weighted answer.
        let f1 = f64::from(first.get(addr).copied().unwrap_or(0)) / f64::from(QUERIES);
        assert!((f1 - weights[i] / total_w).abs() < 0.02, "{id} first: {f1}");
    }
}

#[test]
fn routing_method_multivalue_answers_a_and_aaaa_separately_and_no_host_names() {
    fastrand::seed(7);
    let f = fleet(
        "    fleetdns.io/routing-method: MultiValue\n    fleetdns.io/max-return: \"8\"\n",
        false,
    );
    let zone = compile(&f, &Health::default());
    for _ in 0..200 {
        let a = records(&zone, RecordType::A);
        assert_eq!(a.len(), 6, "all six IPv4 endpoints (N = 8): {a:?}");
        assert!(a.iter().all(|r| r.starts_with("192.0.2.")), "{a:?}");
        let aaaa = records(&zone, RecordType::AAAA);
        let mut sorted = aaaa.clone();
        sorted.sort();
        assert_eq!(sorted, ["2001:db8::100", "2001:db8::200"], "{aaaa:?}");
    }
    let cname = answer(&zone, &owner(), RecordType::CNAME, false);
    assert_eq!(
        cname.records(&Name::root()).count(),
        0,
        "host names are not served: NODATA"
    );
    // The health view says so.
    let view = answer(
        &zone,
        &LowerName::new(&Name::from_str("_health.ns-web.tm.test.").unwrap()),
        RecordType::TXT,
        true,
    )
    .health
    .expect("health view");
    let host = view.endpoints().find(|e| e.id.contains("#host#")).unwrap();
    assert!(!host.served);
    assert_eq!(view.routing().name(), "MultiValue");
    // max-return 1 answers exactly like Weighted: one record.
    let one = compile(
        &fleet(
            "    fleetdns.io/routing-method: MultiValue\n    fleetdns.io/max-return: \"1\"\n",
            false,
        ),
        &Health::default(),
    );
    assert_eq!(records(&one, RecordType::A).len(), 1);
}

#[test]
fn routing_method_priority_answers_the_best_available_priority_and_fails_over() {
    fastrand::seed(9);
    let f = fleet("    fleetdns.io/routing-method: Priority\n", false);
    let all_a = |zone: &fleetdns_dns::Zone| {
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        for _ in 0..4000 {
            let a = records(zone, RecordType::A);
            assert_eq!(a.len(), 1, "{a:?}");
            *seen.entry(a[0].clone()).or_default() += 1;
        }
        seen
    };
    // Priority 1: the dual-stack endpoint and the host name share by weight (5:5).
    let zone = compile(&f, &Health::default());
    let seen = all_a(&zone);
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        ["192.0.2.100", "lb0.example.net."]
    );
    let share = f64::from(seen["192.0.2.100"]) / 4000.0;
    assert!((share - 0.5).abs() < 0.03, "{seen:?}");
    // AAAA: priority 1 among the endpoints that have AAAA or CNAME.
    let aaaa: Vec<String> = (0..200)
        .flat_map(|_| records(&zone, RecordType::AAAA))
        .collect();
    assert!(aaaa
        .iter()
        .all(|r| r == "2001:db8::100" || r == "lb0.example.net."));

    // Priority 1 down: priority 2 (the five IPv4 endpoints, by weight).
    let host = "ns/host#host#c0";
    let down = health(&[
        (DUAL, MonitorState::Degraded),
        (host, MonitorState::Degraded),
    ]);
    let zone = compile(&f, &down);
    let seen = all_a(&zone);
    assert_eq!(seen.len(), 5, "{seen:?}");
    let share = f64::from(seen["192.0.2.5"]) / 4000.0;
    assert!((share - 0.5).abs() < 0.03, "weight 10 of 20: {seen:?}");
    // AAAA: no priority-2 endpoint has IPv6, so the best one that has: priority 3.
    assert_eq!(records(&zone, RecordType::AAAA), ["2001:db8::200"]);

    // The health view: method, active priority, per-endpoint priority and activity.
    let view_name = LowerName::new(&Name::from_str("_health.ns-web.tm.test.").unwrap());
    let snapshot = fleetdns_dns::Snapshot::compile(
        &f,
        Arc::new(down.clone()),
        &fleetdns_dns::DnsMetrics::unregistered().unwrap(),
    );
    let a = answer(snapshot.zone(), &view_name, RecordType::TXT, true);
    let view = a.health.expect("health view");
    let active: Vec<&str> = view
        .endpoints()
        .filter(|e| e.served)
        .map(|e| e.id)
        .collect();
    assert!(
        active
            .iter()
            .all(|id| id.starts_with("ns/v4#") || *id == V6),
        "{active:?}"
    );

    // Everything down: fail-open serves priority 1 again; fail-closed serves nothing.
    let all_down: Vec<(&str, MonitorState)> = f.profiles[0]
        .endpoints
        .iter()
        .map(|e| (&*e.id, MonitorState::Degraded))
        .collect();
    let zone = compile(&f, &health(&all_down));
    let seen = all_a(&zone);
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        ["192.0.2.100", "lb0.example.net."]
    );
    let closed = fleet("    fleetdns.io/routing-method: Priority\n", true);
    let zone = compile(&closed, &health(&all_down));
    assert!(
        records(&zone, RecordType::A).is_empty(),
        "fail-closed: NODATA"
    );
}

#[test]
fn routing_method_health_view_txt_names_the_method_and_the_active_priority() {
    let f = fleet("    fleetdns.io/routing-method: Priority\n", false);
    let h = Arc::new(health(&[
        (DUAL, MonitorState::Degraded),
        ("ns/host#host#c0", MonitorState::Degraded),
    ]));
    let metrics = fleetdns_dns::DnsMetrics::unregistered().unwrap();
    let snapshot = fleetdns_dns::Snapshot::compile(&f, h, &metrics);
    let mut out = Vec::new();
    let mut scratch = fleetdns_dns::general::Scratch::default();
    let mut q = hickory_proto::op::Message::new(
        1,
        hickory_proto::op::MessageType::Query,
        hickory_proto::op::OpCode::Query,
    );
    q.add_query(hickory_proto::op::Query::query(
        Name::from_str("_health.ns-web.tm.test.").unwrap(),
        RecordType::TXT,
    ));
    assert!(fleetdns_dns::general::respond(
        &snapshot,
        &metrics,
        &q.to_vec().unwrap(),
        "127.0.0.1:53".parse().unwrap(),
        hickory_server::net::xfer::Protocol::Tcp,
        &mut out,
        &mut scratch,
    ));
    let m = hickory_proto::op::Message::from_vec(&out).unwrap();
    let txt: Vec<String> = m
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::TXT(t) => t
                .txt_data
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        txt[0].contains("routing=Priority active-priority=2"),
        "{}",
        txt[0]
    );
    let line = |id: &str| {
        txt.iter()
            .find(|l| l.contains(&format!("endpoint={id} ")))
            .unwrap()
            .clone()
    };
    assert!(
        line(V4[4]).contains("priority=2 active=yes"),
        "{}",
        line(V4[4])
    );
    assert!(
        line(DUAL).contains("state=Degraded served=no priority=1 active=no"),
        "{}",
        line(DUAL)
    );
    assert!(
        line(V6).contains("priority=3 active=yes"),
        "AAAA falls to priority 3: {}",
        line(V6)
    );
}

/// A DO=1 MultiValue query on a signed zone: its records and RRSIG, raw.
struct SignedAnswer {
    /// The records' RDATA (A: 4 octets, AAAA: 16), in answer order.
    records: Vec<Vec<u8>>,
    /// The RRSIG RDATAs.
    sigs: Vec<Vec<u8>>,
}

fn signed_answer(bytes: &[u8]) -> SignedAnswer {
    use hickory_proto::op::Message;
    let m = Message::from_vec(bytes).unwrap();
    let mut a = SignedAnswer {
        records: Vec::new(),
        sigs: Vec::new(),
    };
    for r in &m.answers {
        match &r.data {
            RData::A(ip) => a.records.push(ip.0.octets().to_vec()),
            RData::AAAA(ip) => a.records.push(ip.0.octets().to_vec()),
            RData::Unknown { code, rdata } if *code == RecordType::RRSIG => {
                a.sigs.push(rdata.anything.clone())
            }
            other => panic!("unexpected answer record {other:?}"),
        }
    }
    a
}

/// Checks `sig` (RRSIG RDATA) over the RRset `ns-web.tm.test.`/`rtype` of
/// `records` against the P-256 `public_key` (DNSKEY field), as a validator
/// does (RFC 4034 §3.1.8.1, records in canonical order whatever their order in
/// the answer).
fn verify(sig: &[u8], rtype: RecordType, records: &[Vec<u8>], public_key: &[u8]) {
    let owner = b"\x06ns-web\x02tm\x04test\x00";
    assert_eq!(u16::from_be_bytes([sig[0], sig[1]]), u16::from(rtype));
    assert_eq!(sig[2], 13, "ECDSA P-256");
    let mut signer_end = 18;
    while sig[signer_end] != 0 {
        signer_end += 1 + usize::from(sig[signer_end]);
    }
    let (rdata, signature) = sig.split_at(signer_end + 1);
    let mut sorted = records.to_vec();
    sorted.sort();
    let mut data = rdata.to_vec();
    for r in &sorted {
        data.extend_from_slice(owner);
        data.extend_from_slice(&u16::from(rtype).to_be_bytes());
        data.extend_from_slice(&1u16.to_be_bytes());
        data.extend_from_slice(&sig[4..8]);
        data.extend_from_slice(&(r.len() as u16).to_be_bytes());
        data.extend_from_slice(r);
    }
    let mut key = vec![4u8];
    key.extend_from_slice(public_key);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, key)
        .verify(&data, signature)
        .unwrap_or_else(|_| panic!("RRSIG over {sorted:?} does not verify"));
}

/// A signed zone never signs per query: a DO=1 query to a MultiValue profile
/// gets one of at most 16 subsets drawn and signed when the zone was signed —
/// `maxReturn` distinct records in a random order, with an RRSIG that verifies
/// against the zone's key — on both paths. With no more endpoints than
/// `maxReturn` (AAAA here) there is one subset: all of them. The subsets are
/// drawn deterministically: a second compile of the same input (a replica)
/// serves the same ones. DO=0 gets a fresh MultiValue draw.
#[test]
fn routing_method_multivalue_on_a_signed_zone_do_queries_get_signed_subsets_of_max_return_records()
{
    use fleetdns_dns::dnssec::{Algorithm, SigningKey, FLAGS_KSK};
    use fleetdns_dns::fuzzing::Harness;
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    use hickory_server::net::xfer::Protocol;
    use std::collections::BTreeSet;

    let f = fleet("    fleetdns.io/routing-method: MultiValue\n", false);
    let key = SigningKey::generate(Algorithm::EcdsaP256Sha256, FLAGS_KSK)
        .unwrap()
        .0;
    let public_key = key.public_key().to_vec();
    let keys = vec![key];
    let packet = |qtype: RecordType, dnssec_ok: bool| {
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(
            Name::from_str("ns-web.tm.test.").unwrap(),
            qtype,
        ));
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.set_dnssec_ok(dnssec_ok);
        m.set_edns(e);
        m.to_vec().unwrap()
    };
    let client = "192.0.2.200:5000".parse().unwrap();
    // The subsets a replica serves, from 400 DO=1 A queries per path (each of
    // the 16 slots is missed with probability (15/16)^400 ≈ 6e-12).
    let serve = |h: &Harness| {
        let mut sets = BTreeSet::new();
        let mut orders = BTreeSet::new();
        for n in 0..800 {
            let p = packet(RecordType::A, true);
            let bytes = if n % 2 == 0 {
                h.answer_fast(&p, client).expect("the fast path answers")
            } else {
                h.answer_general(&p, client, Protocol::Udp).unwrap()
            };
            let a = signed_answer(&bytes);
            assert_eq!(a.records.len(), 3, "maxReturn records (6 IPv4 endpoints)");
            assert_eq!(a.sigs.len(), 1, "one RRSIG over them");
            let mut set = a.records.clone();
            set.sort();
            set.dedup();
            assert_eq!(set.len(), 3, "distinct records");
            if n < 100 {
                verify(&a.sigs[0], RecordType::A, &a.records, &public_key);
            }
            orders.insert(a.records.clone());
            sets.insert(set);
        }
        assert!(
            sets.len() > 1 && sets.len() <= 16,
            "between 2 and 16 subsets: {}",
            sets.len()
        );
        assert!(
            orders.len() > sets.len(),
            "records go out in varying orders"
        );
        sets
    };
    let h = Harness::signed(&f, &keys);
    let first = serve(&h);
    // AAAA: two endpoints (≤ maxReturn), so one subset holding both.
    for fast in [true, false] {
        for _ in 0..20 {
            let p = packet(RecordType::AAAA, true);
            let bytes = if fast {
                h.answer_fast(&p, client).unwrap()
            } else {
                h.answer_general(&p, client, Protocol::Udp).unwrap()
            };
            let a = signed_answer(&bytes);
            assert_eq!(a.records.len(), 2);
            verify(&a.sigs[0], RecordType::AAAA, &a.records, &public_key);
        }
    }
    // DO=0: a fresh draw, no RRSIG.
    let plain = signed_answer(
        &h.answer_fast(&packet(RecordType::A, false), client)
            .unwrap(),
    );
    assert_eq!((plain.records.len(), plain.sigs.len()), (3, 0));
    // A replica fed the same input serves the same subsets.
    let second = serve(&Harness::signed(&f, &keys));
    assert_eq!(first, second, "replicas draw the same subsets");
}

/// The subsets' signatures come from the signature cache when a recompile
/// sees the same endpoints: nothing is signed again.
#[test]
fn routing_method_multivalue_signed_subsets_survive_a_recompile_dnssec() {
    use fleetdns_dns::dnssec::{Algorithm, SigCache, SigningKey, Validity, FLAGS_KSK};
    use fleetdns_dns::{DnsMetrics, Signing, Snapshot};

    let f = fleet("    fleetdns.io/routing-method: MultiValue\n", false);
    let keys = vec![
        SigningKey::generate(Algorithm::EcdsaP256Sha256, FLAGS_KSK)
            .unwrap()
            .0,
    ];
    let metrics = DnsMetrics::unregistered().unwrap();
    let mut cache = SigCache::default();
    let mut compile = |now: u32| {
        let signing = Signing {
            keys: &keys,
            validity: Validity {
                lifetime: 14 * 86_400,
                skew: 3_600,
            },
            now,
            cache: &mut cache,
        };
        let _ = Snapshot::compile_signed(&f, Arc::new(Health::default()), &metrics, Some(signing));
        cache.counts().0
    };
    let made = compile(1_800_000_000);
    assert_eq!(
        compile(1_800_003_600),
        made,
        "same endpoints: the same subsets, every signature reused"
    );
}
