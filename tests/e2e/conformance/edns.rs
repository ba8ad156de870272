//! An EDNS and header compliance matrix in the spirit of ISC's genreport (the
//! tool behind ednscomp.isc.org), following the tests of RFC 8906 §8: each case is
//! one query with the same header bits, EDNS fields and options as the RFC's `dig`
//! command line, and its expectations are the RFC's "expect:" lines, plus what
//! RFC 1035/6891/3225/7766 require of every reply (QR set, opcode echoed, the
//! reserved Z bit clear, the question echoed, nothing after the last counted
//! record, at most one OPT record).
//!
//! The matrix runs against fleetdns on 127.0.55.1:53 (the truncation tests use
//! .2 and .3); every failing case is reported, each with its query, the
//! expectations (failed ones marked) and the whole reply.

use std::net::SocketAddr;

use super::wire::{self, Edns, Query, Reply, BADVERS, NOERROR, NOTIMP};
use super::{failure, ip, replica, Check, ZONE};

/// Name servers of the zone: enough, with names long enough, that the apex NS
/// RRset alone is larger than 512 octets (so an answer to a 512-octet client
/// must be truncated, RFC 2181 §9), and the whole answer with glue fits in
/// neither 512 nor 1232 octets.
const NS_COUNT: usize = 12;

fn ns_name(i: usize) -> String {
    format!("ns{i:02}-with-a-long-label-to-overflow-512-octets.{ZONE}")
}

fn config() -> String {
    let mut ns = String::new();
    for i in 1..=NS_COUNT {
        ns += &format!(
            "    - {{name: {}, addresses: ['192.0.2.{i}', '2001:db8::{i}']}}\n",
            ns_name(i)
        );
    }
    format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: {ZONE}
  nameServers:
{ns}"
    )
}

/// One expectation on a reply, as RFC 8906 words it.
#[derive(Clone, Copy, Debug)]
enum Expect {
    Status(u16),
    /// A header flag (`aa`, `tc`, `rd`, `ad`, `cd`, `ra`) set or clear.
    Flag(&'static str, bool),
    /// The SOA record present (or not) in the answer section.
    SoaInAnswer(bool),
    /// The SOA record present (or not) in the authority section.
    SoaInAuthority(bool),
    /// Number of records in the answer section.
    Answers(usize),
    /// An OPT record present or absent (RFC 6891 §7: none without one in the query).
    Opt(bool),
    /// The OPT record's EDNS version.
    Version(u8),
    /// The DO bit in the OPT record (RFC 3225 §3: copied from the query).
    Do(bool),
    /// The reserved EDNS flag bits clear (RFC 6891 §6.1.4: set to zero, ignored).
    MbzClear,
    /// An EDNS option not echoed (RFC 6891 §6.1.2: unknown options are ignored).
    NoOption(u16),
    /// The message no larger than the client's buffer (RFC 6891 §6.2.3/§7).
    MaxSize(usize),
    /// The message larger than this (a complete answer that could not fit).
    MinSize(usize),
}

impl Expect {
    fn check(self, r: &Reply) -> Check {
        match self {
            Expect::Status(code) => Check::new(
                format!("status: {}", wire::rcode_name(code)),
                r.rcode == code,
            ),
            Expect::Flag(name, on) => {
                let value = match name {
                    "aa" => r.aa,
                    "tc" => r.tc,
                    "rd" => r.rd,
                    "ra" => r.ra,
                    "ad" => r.ad,
                    "cd" => r.cd,
                    _ => unreachable!("flag {name}"),
                };
                Check::new(
                    format!("flag: {name} {}", if on { "set" } else { "NOT set" }),
                    value == on,
                )
            }
            Expect::SoaInAnswer(on) => Check::new(
                format!("SOA {}in the answer section", if on { "" } else { "NOT " }),
                Reply::has_soa(&r.answer) == on,
            ),
            Expect::SoaInAuthority(on) => Check::new(
                format!(
                    "SOA {}in the authority section",
                    if on { "" } else { "NOT " }
                ),
                Reply::has_soa(&r.authority) == on,
            ),
            Expect::Answers(n) => Check::new(format!("{n} answer records"), r.answer.len() == n),
            Expect::Opt(on) => Check::new(
                format!("OPT record {}", if on { "present" } else { "NOT present" }),
                r.opt.is_some() == on,
            ),
            Expect::Version(v) => Check::new(
                format!("EDNS version {v}"),
                r.opt.as_ref().is_some_and(|o| o.version == v),
            ),
            Expect::Do(on) => Check::new(
                format!("DO bit {}", if on { "set (copied)" } else { "clear" }),
                r.opt.as_ref().is_some_and(|o| o.dnssec_ok == on),
            ),
            Expect::MbzClear => Check::new(
                "reserved EDNS flag bits (MBZ) clear",
                r.opt.as_ref().is_some_and(|o| o.z == 0),
            ),
            Expect::NoOption(code) => Check::new(
                format!("EDNS option {code} NOT echoed"),
                r.opt
                    .as_ref()
                    .is_some_and(|o| o.options.iter().all(|(c, _)| *c != code)),
            ),
            Expect::MaxSize(n) => Check::new(format!("at most {n} octets"), r.size <= n),
            Expect::MinSize(n) => Check::new(format!("more than {n} octets"), r.size > n),
        }
    }
}

/// What every reply must satisfy, whatever the query.
fn basics(q: &Query, r: &Reply) -> Vec<Check> {
    let mut checks = vec![
        Check::new("flag: qr set", r.qr),
        Check::new(format!("opcode {} echoed", q.opcode), r.opcode == q.opcode),
        Check::new("reserved header bit Z clear (RFC 1035 §4.1.1)", !r.z),
        Check::new(
            "nothing after the last counted record (RFC 1035 §4.1)",
            r.trailing == 0,
        ),
        Check::new(
            "at most one OPT record (RFC 6891 §6.1.1)",
            r.opt.as_ref().is_none_or(|o| o.count == 1),
        ),
    ];
    if q.question {
        checks.push(Check::new(
            format!(
                "question echoed as sent: {} {}",
                q.name,
                wire::type_name(q.qtype)
            ),
            r.question.len() == 1
                && r.question[0].name == q.name
                && r.question[0].qtype == q.qtype
                && r.question[0].qclass == q.qclass,
        ));
    }
    checks
}

#[derive(Clone, Copy)]
enum Transport {
    Udp,
    Tcp,
}

struct Case {
    name: &'static str,
    /// Where the expectations come from.
    rfc: &'static str,
    transport: Transport,
    query: Query,
    expect: Vec<Expect>,
}

/// Runs one case; a failure report (query, expected, actual) if any check fails.
fn run(server: SocketAddr, case: &Case) -> (Option<Reply>, Option<String>) {
    let reply = match case.transport {
        Transport::Udp => wire::udp(server, &case.query),
        Transport::Tcp => wire::tcp(server, &case.query),
    };
    let mut checks = Vec::new();
    if let Ok(r) = &reply {
        checks = basics(&case.query, r);
        checks.extend(case.expect.iter().map(|e| e.check(r)));
    }
    let label = format!("{} ({})", case.name, case.rfc);
    let tcp = if matches!(case.transport, Transport::Tcp) {
        " +tcp"
    } else {
        ""
    };
    let fail = failure(
        &label,
        &format!("{}{tcp}", server.ip()),
        &case.query,
        &reply,
        &checks,
    );
    (reply.ok(), fail)
}

fn soa() -> Query {
    Query::new(&format!("{ZONE}."), "SOA")
}

/// The cases of RFC 8906 §8.1 (plain DNS) and §8.2 (EDNS) for the zone apex.
fn cases() -> Vec<Case> {
    use Expect::*;
    use Transport::*;
    // The usual "good answer" lines of RFC 8906: NOERROR, SOA in the answer,
    // aa set, rd and ad not set.
    let good = || {
        vec![
            Status(NOERROR),
            SoaInAnswer(true),
            Flag("aa", true),
            Flag("rd", false),
            Flag("ad", false),
        ]
    };
    let with = |mut v: Vec<Expect>, more: &[Expect]| {
        v.extend_from_slice(more);
        v
    };
    // EDNS version 1 is answered BADVERS with an EDNS version 0 OPT and no data
    // (RFC 6891 §6.1.3; RFC 8906 §8.2.2).
    let badvers = || {
        vec![
            Status(BADVERS),
            SoaInAnswer(false),
            Flag("aa", false),
            Opt(true),
            Version(0),
        ]
    };
    let unknown_option = 100;
    let unknown_flag = 0x0080;
    vec![
        Case {
            name: "plain: DNS without EDNS",
            rfc: "RFC 8906 §8.1.1",
            transport: Udp,
            query: soa(),
            expect: with(good(), &[Opt(false)]),
        },
        Case {
            name: "unknown type TYPE1000",
            rfc: "RFC 8906 §8.1.2, RFC 3597",
            transport: Udp,
            query: Query::new(&format!("{ZONE}."), "TYPE1000"),
            expect: vec![
                Status(NOERROR),
                Answers(0),
                SoaInAuthority(true),
                Flag("aa", true),
                Flag("rd", false),
                Flag("ad", false),
                Opt(false),
            ],
        },
        Case {
            name: "header bit RD=1 is copied",
            rfc: "RFC 8906 §8.1.3.1, RFC 1035 §4.1.1",
            transport: Udp,
            query: soa().rd(),
            expect: vec![
                Status(NOERROR),
                SoaInAnswer(true),
                Flag("aa", true),
                Flag("rd", true),
                Flag("ad", false),
                Opt(false),
            ],
        },
        Case {
            name: "header bit CD=1",
            rfc: "RFC 8906 §8.1.3.2",
            transport: Udp,
            query: soa().cd(),
            expect: with(good(), &[Opt(false)]),
        },
        Case {
            name: "header bit AD=1 (unsigned data is never authentic)",
            rfc: "RFC 8906 §8.1.3.3, RFC 6840 §5.8",
            transport: Udp,
            query: soa().ad(),
            expect: with(good(), &[Opt(false)]),
        },
        Case {
            name: "reserved header bit Z=1 (must be ignored, zero in the reply)",
            rfc: "RFC 8906 §8.1.3.4, RFC 1035 §4.1.1",
            transport: Udp,
            query: soa().z(),
            expect: with(good(), &[Opt(false)]),
        },
        Case {
            name: "unknown opcode 15, header only",
            rfc: "RFC 8906 §8.1.4, RFC 1035 §4.1.1",
            transport: Udp,
            query: soa().opcode(15).header_only(),
            expect: vec![
                Status(NOTIMP),
                SoaInAnswer(false),
                Flag("aa", false),
                Flag("rd", false),
                Flag("ad", false),
                Opt(false),
            ],
        },
        Case {
            name: "unknown opcode 15 with a question",
            rfc: "RFC 8906 §8.1.4, RFC 1035 §4.1.1",
            transport: Udp,
            query: soa().opcode(15),
            expect: vec![Status(NOTIMP), Answers(0), Flag("aa", false), Opt(false)],
        },
        Case {
            name: "TCP only (plain DNS over TCP)",
            rfc: "RFC 8906 §8.1.5, RFC 7766 §5",
            transport: Tcp,
            query: soa(),
            expect: with(good(), &[Opt(false)]),
        },
        Case {
            name: "edns: minimal EDNS",
            rfc: "RFC 8906 §8.2.1, RFC 6891 §6.1.1",
            transport: Udp,
            query: soa().edns(Edns::default()),
            expect: with(good(), &[Opt(true), Version(0), Do(false), MbzClear]),
        },
        Case {
            name: "edns1: EDNS version 1 gets BADVERS",
            rfc: "RFC 8906 §8.2.2, RFC 6891 §6.1.3",
            transport: Udp,
            query: soa().edns(Edns::default().version(1)),
            expect: badvers(),
        },
        Case {
            name: "unknown EDNS option 100 is ignored",
            rfc: "RFC 8906 §8.2.3, RFC 6891 §6.1.2",
            transport: Udp,
            query: soa().edns(Edns::default().option(unknown_option, &[])),
            expect: with(good(), &[Opt(true), Version(0), NoOption(unknown_option)]),
        },
        Case {
            name: "unknown EDNS flag 0x0080 is ignored and not echoed",
            rfc: "RFC 8906 §8.2.4, RFC 6891 §6.1.4",
            transport: Udp,
            query: soa().edns(Edns::default().z(unknown_flag)),
            expect: with(good(), &[Opt(true), Version(0), MbzClear]),
        },
        Case {
            name: "edns1 with an unknown EDNS flag",
            rfc: "RFC 8906 §8.2.5",
            transport: Udp,
            query: soa().edns(Edns::default().version(1).z(unknown_flag)),
            expect: with(badvers(), &[MbzClear]),
        },
        Case {
            name: "edns1 with an unknown EDNS option",
            rfc: "RFC 8906 §8.2.6",
            transport: Udp,
            query: soa().edns(Edns::default().version(1).option(unknown_option, &[])),
            expect: with(badvers(), &[NoOption(unknown_option)]),
        },
        Case {
            name: "edns@512: DO=1, 512-octet buffer, DNSKEY (genreport's dnskey probe)",
            rfc: "RFC 8906 §8.2.7, RFC 6891 §7",
            transport: Udp,
            query: Query::new(&format!("{ZONE}."), "DNSKEY")
                .edns(Edns::default().payload(512).dnssec_ok()),
            expect: vec![
                Status(NOERROR),
                Flag("aa", true),
                Opt(true),
                Version(0),
                MaxSize(512),
            ],
        },
        Case {
            name: "EDNS UDP size 100 is treated as 512",
            rfc: "RFC 6891 §6.2.5",
            transport: Udp,
            query: Query::new(&format!("{ZONE}."), "NS").edns(Edns::default().payload(100)),
            expect: vec![
                Status(NOERROR),
                Flag("tc", true),
                MaxSize(512),
                Opt(true),
                Version(0),
            ],
        },
        Case {
            name: "DO bit is copied",
            rfc: "RFC 8906 §8.2.8, RFC 3225 §3",
            transport: Udp,
            query: soa().edns(Edns::default().dnssec_ok()),
            expect: with(good(), &[Opt(true), Version(0), Do(true), MbzClear]),
        },
        Case {
            name: "edns1 with DO=1",
            rfc: "RFC 8906 §8.2.9, RFC 3225 §3",
            transport: Udp,
            query: soa().edns(Edns::default().version(1).dnssec_ok()),
            expect: with(badvers(), &[Do(true)]),
        },
        Case {
            name: "several defined EDNS options (NSID, ECS, EXPIRE, COOKIE)",
            rfc: "RFC 8906 §8.2.10",
            transport: Udp,
            query: soa().edns(
                Edns::default()
                    .option(3, &[])
                    .option(8, &[0, 1, 0, 0])
                    .option(9, &[])
                    .option(10, &[1, 2, 3, 4, 5, 6, 7, 8]),
            ),
            expect: with(good(), &[Opt(true), Version(0)]),
        },
        Case {
            name: "EDNS over TCP",
            rfc: "RFC 8906 §8.2.11, RFC 7766",
            transport: Tcp,
            query: soa().edns(Edns::default()),
            expect: with(good(), &[Opt(true), Version(0), MbzClear]),
        },
    ]
}

#[test]
fn edns_and_header_probes_get_the_answers_rfc_8906_expects() {
    let server = replica(&config(), ip(55, 1));
    let mut failures = Vec::new();
    for case in cases() {
        if let (_, Some(f)) = run(server.addr, &case) {
            failures.push(f);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} RFC 8906 cases failed:\n{}",
        failures.len(),
        cases().len(),
        failures.join("\n")
    );
}

/// edns@512 with truncation and a TCP retry: the apex NS RRset does not fit in
/// 512 octets, so the UDP reply must be truncated (TC=1, RFC 2181 §9) within the
/// client's size and still carry an OPT record (RFC 6891 §7); the same query over
/// TCP (RFC 7766 §6.2.1, what a client does after TC) gets every NS record, the
/// glue, and no TC.
#[test]
fn an_answer_larger_than_512_octets_is_truncated_and_complete_over_tcp() {
    use Expect::*;
    let server = replica(&config(), ip(55, 2));
    let query =
        Query::new(&format!("{ZONE}."), "NS").edns(Edns::default().payload(512).dnssec_ok());
    let mut failures = Vec::new();
    let udp = Case {
        name: "edns@512: NS RRset larger than 512 octets over UDP",
        rfc: "RFC 6891 §7, RFC 2181 §9, RFC 8906 §8.2.7",
        transport: Transport::Udp,
        query: query.clone(),
        expect: vec![
            Status(NOERROR),
            Flag("tc", true),
            MaxSize(512),
            Opt(true),
            Version(0),
            Do(true),
        ],
    };
    failures.extend(run(server.addr, &udp).1);
    let tcp = Case {
        name: "TCP retry after TC",
        rfc: "RFC 7766 §6.2.1, RFC 1035 §4.2.2",
        transport: Transport::Tcp,
        query,
        expect: vec![
            Status(NOERROR),
            Flag("aa", true),
            Flag("tc", false),
            Answers(NS_COUNT),
            MinSize(512),
            Opt(true),
            Version(0),
            Do(true),
        ],
    };
    let (reply, fail) = run(server.addr, &tcp);
    failures.extend(fail);
    if let Some(r) = reply {
        let expected: Vec<String> = (1..=NS_COUNT).map(|i| format!("{}.", ns_name(i))).collect();
        let mut got: Vec<String> = r
            .answer
            .iter()
            .filter(|a| a.rtype == 2)
            .map(|a| a.rdata.clone())
            .collect();
        got.sort();
        let glue = r
            .additional
            .iter()
            .filter(|a| a.rtype == 1 || a.rtype == 28)
            .count();
        if got != expected || glue != 2 * NS_COUNT {
            failures.push(format!(
                "--- TCP retry content\nquery:    dig @{} +tcp {}\nexpected: NS {expected:?} and {} glue records\nactual:\n{r}",
                server.addr.ip(),
                tcp.query,
                2 * NS_COUNT
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Plain DNS (no EDNS) over UDP, answer larger than 512 octets: the reply must be
/// truncated to at most 512 octets with TC set (RFC 1035 §4.2.1, RFC 2181 §9), and
/// be a well-formed message: the header and exactly the records it counts
/// (RFC 1035 §4.1).
#[test]
fn a_truncated_plain_dns_answer_is_a_well_formed_message() {
    use Expect::*;
    let server = replica(&config(), ip(55, 3));
    let case = Case {
        name: "plain DNS, answer larger than 512 octets: truncated",
        rfc: "RFC 1035 §4.2.1 and §4.1, RFC 2181 §9",
        transport: Transport::Udp,
        query: Query::new(&format!("{ZONE}."), "NS"),
        expect: vec![Status(NOERROR), Flag("tc", true), MaxSize(512), Opt(false)],
    };
    let (_, fail) = run(server.addr, &case);
    assert!(fail.is_none(), "{}", fail.unwrap_or_default());
}
