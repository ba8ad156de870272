//! DESIGN.md §4, line by line, through real UDP and TCP sockets.

use std::net::{Ipv4Addr, Ipv6Addr};

use fleetdns_testsupport::dns::{self, Opts};
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, RecordType};

use crate::fixtures;

fn soa_of(msg: &Message) -> (u32, &hickory_proto::rr::rdata::SOA) {
    let r = msg
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::SOA)
        .expect("SOA in authority");
    match &r.data {
        RData::SOA(s) => (r.ttl, s),
        _ => unreachable!(),
    }
}

#[test]
fn apex_soa_and_ns_with_glue_are_authoritative() {
    let s = fixtures::start(&fixtures::standard());
    let soa = dns::udp(s.addr, "tm.test.", RecordType::SOA, &Opts::default());
    assert_eq!(soa.metadata.response_code, ResponseCode::NoError);
    assert!(soa.metadata.authoritative);
    assert_eq!(soa.answers.len(), 1);
    let RData::SOA(rdata) = &soa.answers[0].data else {
        panic!("SOA expected")
    };
    assert_eq!(rdata.mname.to_ascii(), "ns1.tm.test.");
    assert_eq!(rdata.rname.to_ascii(), "hostmaster.tm.test.");
    assert_eq!(soa.answers[0].ttl, 3600);
    assert_eq!(rdata.minimum, 45);

    let ns = dns::udp(s.addr, "tm.test.", RecordType::NS, &Opts::default());
    assert!(ns.metadata.authoritative);
    let mut names: Vec<String> = ns
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::NS(n) => n.0.to_ascii(),
            other => panic!("NS expected, got {other:?}"),
        })
        .collect();
    names.sort();
    assert_eq!(names, ["ns1.tm.test.", "ns2.tm.test."]);
    let mut glue: Vec<String> = ns
        .additionals
        .iter()
        .map(|r| format!("{} {}", r.name.to_ascii(), r.data))
        .collect();
    glue.sort();
    assert_eq!(
        glue,
        [
            "ns1.tm.test. 127.0.0.1",
            "ns1.tm.test. ::1",
            "ns2.tm.test. 127.0.0.2"
        ]
    );

    // The name servers' own addresses are answerable.
    let a = dns::udp(s.addr, "ns2.tm.test.", RecordType::A, &Opts::default());
    assert!(a.metadata.authoritative);
    assert_eq!(a.answers.len(), 1);
    assert_eq!(
        a.answers[0].data,
        RData::A(Ipv4Addr::new(127, 0, 0, 2).into())
    );
}

#[test]
fn profile_a_answers_one_weighted_endpoint_with_profile_ttl() {
    let s = fixtures::start(&fixtures::standard());
    let m = dns::udp(s.addr, "ns-web.tm.test.", RecordType::A, &Opts::default());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert_eq!(m.answers.len(), 1, "one endpoint per query");
    let RData::A(a) = &m.answers[0].data else {
        panic!("A expected")
    };
    assert!([Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)].contains(&a.0));
    assert_eq!(m.answers[0].ttl, 60);
    assert!(m.authorities.is_empty());
}

#[test]
fn aaaa_on_ipv4_only_profile_is_nodata_with_soa_and_negative_ttl() {
    let s = fixtures::start(&fixtures::standard());
    let m = dns::udp(
        s.addr,
        "ns-web.tm.test.",
        RecordType::AAAA,
        &Opts::default(),
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert!(m.answers.is_empty());
    let (ttl, soa) = soa_of(&m);
    assert_eq!(ttl, 45, "negative TTL = min(SOA TTL 3600, minimum 45)");
    assert_eq!(soa.minimum, 45);
}

#[test]
fn other_types_on_a_profile_are_nodata() {
    let s = fixtures::start(&fixtures::standard());
    for t in [
        RecordType::MX,
        RecordType::TXT,
        RecordType::SRV,
        RecordType::CNAME,
        RecordType::Unknown(65000),
    ] {
        let m = dns::udp(s.addr, "ns-web.tm.test.", t, &Opts::default());
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{t}");
        assert!(m.metadata.authoritative, "{t}");
        assert!(m.answers.is_empty(), "{t}");
        soa_of(&m);
    }
}

#[test]
fn ipv6_endpoints_answer_aaaa_and_nodata_for_a() {
    let s = fixtures::start(&fixtures::standard());
    let m = dns::udp(
        s.addr,
        "ns-six.tm.test.",
        RecordType::AAAA,
        &Opts::default(),
    );
    assert_eq!(m.answers.len(), 1);
    assert_eq!(
        m.answers[0].data,
        RData::AAAA("2001:db8::1".parse::<Ipv6Addr>().unwrap().into())
    );
    let a = dns::udp(s.addr, "ns-six.tm.test.", RecordType::A, &Opts::default());
    assert!(a.answers.is_empty() && a.metadata.authoritative);
    soa_of(&a);
}

#[test]
fn host_endpoints_answer_cname_for_a_aaaa_and_cname() {
    let s = fixtures::start(&fixtures::standard());
    for t in [RecordType::A, RecordType::AAAA, RecordType::CNAME] {
        let m = dns::udp(s.addr, "ns-alias.tm.test.", t, &Opts::default());
        assert!(m.metadata.authoritative);
        assert_eq!(m.answers.len(), 1, "{t}");
        match &m.answers[0].data {
            RData::CNAME(c) => assert_eq!(c.0.to_ascii(), "lb1.example.net."),
            other => panic!("CNAME expected for {t}, got {other:?}"),
        }
    }
}

#[test]
fn unknown_names_are_nxdomain_with_soa() {
    let s = fixtures::start(&fixtures::standard());
    for name in ["nope.tm.test.", "x.ns-web.tm.test.", "a.b.c.tm.test."] {
        let m = dns::udp(s.addr, name, RecordType::A, &Opts::default());
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{name}");
        assert!(m.metadata.authoritative, "{name}");
        assert!(m.answers.is_empty());
        assert_eq!(soa_of(&m).0, 45);
    }
}

#[test]
fn names_outside_the_zone_are_refused_without_aa() {
    let s = fixtures::start(&fixtures::standard());
    for name in ["test.", "example.com.", "tm.test.example.", "."] {
        let m = dns::udp(s.addr, name, RecordType::A, &Opts::default());
        assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{name}");
        assert!(!m.metadata.authoritative, "{name}");
        assert!(m.answers.is_empty() && m.authorities.is_empty());
    }
}

#[test]
fn edns_is_echoed_and_do_bit_copied_and_absent_without_edns() {
    let s = fixtures::start(&fixtures::standard());
    let m = dns::udp(
        s.addr,
        "ns-web.tm.test.",
        RecordType::A,
        &Opts {
            edns: Some((4096, 0, true)),
            ..Opts::default()
        },
    );
    let e = m.edns.as_ref().expect("OPT in the response");
    assert_eq!(e.version(), 0);
    assert!(e.flags().dnssec_ok, "DO copied (RFC 3225)");
    assert_eq!(e.max_payload(), 1232);
    let plain = dns::udp(
        s.addr,
        "ns-web.tm.test.",
        RecordType::A,
        &Opts {
            edns: None,
            ..Opts::default()
        },
    );
    assert!(plain.edns.is_none(), "no OPT when the query had none");
    assert_eq!(plain.answers.len(), 1);
}

#[test]
fn unknown_edns_version_gets_badvers() {
    let s = fixtures::start(&fixtures::standard());
    let m = dns::udp(
        s.addr,
        "ns-web.tm.test.",
        RecordType::A,
        &Opts {
            edns: Some((1232, 1, false)),
            ..Opts::default()
        },
    );
    // BADVERS is extended rcode 16 (RFC 6891); hickory decodes 16 as BADSIG, its TSIG twin.
    assert_eq!(u16::from(m.metadata.response_code), 16);
    assert_eq!(m.edns.as_ref().expect("OPT").version(), 0);
    assert!(m.answers.is_empty());
}

#[test]
fn query_name_case_is_preserved() {
    let s = fixtures::start(&fixtures::standard());
    for (name, t) in [
        ("Ns-WeB.Tm.TEST.", RecordType::A),
        ("TM.test.", RecordType::SOA),
        ("tM.TeSt.", RecordType::NS),
        ("NS-Alias.tm.test.", RecordType::CNAME),
    ] {
        let m = dns::udp(s.addr, name, t, &Opts::default());
        assert!(!m.answers.is_empty(), "{name}");
        for r in &m.answers {
            assert_eq!(
                r.name.to_ascii(),
                name,
                "answer owner keeps the query's case"
            );
        }
        assert_eq!(m.queries[0].name().to_ascii(), name);
    }
}

#[test]
fn any_is_answered_minimally() {
    let s = fixtures::start(&fixtures::standard());
    let apex = dns::udp(s.addr, "tm.test.", RecordType::ANY, &Opts::default());
    assert!(apex.metadata.authoritative);
    assert_eq!(apex.answers.len(), 1, "one RRset (RFC 8482)");
    assert_eq!(apex.answers[0].record_type(), RecordType::SOA);
    let p = dns::udp(s.addr, "ns-web.tm.test.", RecordType::ANY, &Opts::default());
    assert_eq!(p.answers.len(), 1);
    assert_eq!(p.answers[0].record_type(), RecordType::A);
}

#[test]
fn zone_transfers_are_refused() {
    let s = fixtures::start(&fixtures::standard());
    for t in [RecordType::AXFR, RecordType::IXFR] {
        let m = dns::tcp(s.addr, "tm.test.", t, &Opts::default());
        assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{t}");
        assert!(m.answers.is_empty());
    }
}

#[test]
fn other_opcodes_are_not_implemented() {
    let s = fixtures::start(&fixtures::standard());
    for op in [OpCode::Status, OpCode::Notify, OpCode::Update] {
        let m = dns::udp(
            s.addr,
            "tm.test.",
            RecordType::SOA,
            &Opts {
                op_code: op,
                ..Opts::default()
            },
        );
        assert_eq!(m.metadata.response_code, ResponseCode::NotImp, "{op:?}");
    }
}

#[test]
fn rd_is_copied_and_ra_is_never_set() {
    let s = fixtures::start(&fixtures::standard());
    let m = dns::udp(
        s.addr,
        "ns-web.tm.test.",
        RecordType::A,
        &Opts {
            recursion_desired: true,
            ..Opts::default()
        },
    );
    assert!(m.metadata.recursion_desired);
    assert!(!m.metadata.recursion_available);
}

#[test]
fn non_in_class_is_refused() {
    let s = fixtures::start(&fixtures::standard());
    let mut packet = dns::build("version.bind.", RecordType::TXT, &Opts::default());
    // QCLASS sits right after QNAME and QTYPE: header 12 + name 14 + type 2.
    packet[28..30].copy_from_slice(&u16::from(DNSClass::CH).to_be_bytes());
    let reply = dns::udp_raw_from("127.0.0.1:0", s.addr, &packet).expect("reply");
    let m = Message::from_vec(&reply).expect("parses");
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(!m.metadata.authoritative);
}

/// A zone whose NS answer (30 name servers with glue) exceeds 512 bytes.
fn big_ns_zone() -> String {
    let mut ns = String::new();
    for i in 0..30 {
        ns += &format!("    - {{name: ns{i}.dns.tm.test, addresses: ['127.0.1.{i}']}}\n");
    }
    format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers:
{ns}"
    )
}

#[test]
fn udp_answers_over_the_clients_size_are_truncated_and_tcp_has_them_all() {
    let s = fixtures::start(&big_ns_zone());
    let udp = dns::udp(
        s.addr,
        "tm.test.",
        RecordType::NS,
        &Opts {
            edns: None,
            ..Opts::default()
        },
    );
    assert!(
        udp.metadata.truncation,
        "TC set over 512 bytes without EDNS"
    );
    assert!(udp.metadata.authoritative);
    let big = dns::udp(
        s.addr,
        "tm.test.",
        RecordType::NS,
        &Opts {
            edns: Some((4096, 0, false)),
            ..Opts::default()
        },
    );
    assert!(!big.metadata.truncation, "fits in 1232 bytes");
    assert_eq!(big.answers.len(), 30);
    let tcp = dns::tcp(
        s.addr,
        "tm.test.",
        RecordType::NS,
        &Opts {
            edns: None,
            ..Opts::default()
        },
    );
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 30);
    assert_eq!(
        tcp.additionals.len(),
        30,
        "glue for every in-zone name server"
    );
}

#[test]
fn empty_non_terminals_are_nodata_not_nxdomain() {
    let s = fixtures::start(&big_ns_zone());
    let m = dns::udp(s.addr, "dns.tm.test.", RecordType::A, &Opts::default());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    soa_of(&m);
}

#[test]
fn hostile_packets_never_stop_the_server() {
    let s = fixtures::start(&fixtures::standard());
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let valid = dns::build("ns-web.tm.test.", RecordType::A, &Opts::default());
    for i in 0..3000 {
        let packet: Vec<u8> = match i % 3 {
            // Random bytes of random length.
            0 => (0..(next() % 600) as usize).map(|_| next() as u8).collect(),
            // A valid query with random byte flips.
            1 => {
                let mut p = valid.clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % p.len();
                    p[at] = next() as u8;
                }
                p
            }
            // A valid query cut short.
            _ => valid[..(next() as usize) % valid.len()].to_vec(),
        };
        let _ = sock.send_to(&packet, s.addr);
    }
    // Still answering, correctly. The flood may overflow the socket buffer, so the
    // first probe can be dropped like any UDP packet: retry as a resolver would.
    let packet = dns::build("ns-web.tm.test.", RecordType::A, &Opts::default());
    let reply = (0..10)
        .find_map(|_| dns::udp_raw_from("127.0.0.1:0", s.addr, &packet).ok())
        .expect("answers after the flood");
    let m = Message::from_vec(&reply).unwrap();
    assert_eq!(m.answers.len(), 1);
    assert_eq!(
        dns::udp(s.addr, "tm.test.", RecordType::SOA, &Opts::default())
            .answers
            .len(),
        1
    );
    assert!(s.count_log("panicked") == 0, "log:\n{}", s.log());
}
