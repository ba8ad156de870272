//! Differential test against a reference server, the way Knot's own test suite
//! compares itself with BIND: knotd serves exactly the static records fleetdns
//! serves (apex SOA, NS, glue; fleetdns has no other static records and this zone
//! has no profiles), both written from one description below, and a matrix of
//! queries (names × types × letter case × EDNS variants, over UDP, and a TCP
//! sweep) must get the same rcode, header flags and section counts from both —
//! and the same question echo, records (names compared case-insensitively) and
//! OPT version, DO bit and options.
//!
//! Two deliberate exceptions, both sides being right:
//! - `ANY`: RFC 8482 §4.1 lets a server answer with any one RRset that exists at
//!   the name (knotd picks NS at the apex, fleetdns SOA). For ANY with a non-empty
//!   NOERROR answer each server's answer must instead be exactly one RRset that the
//!   other server returns for that name and type.
//! - Extended DNS Errors (RFC 8914, optional): knotd adds EDE 20 "Not
//!   Authoritative" to REFUSED answers; the EDE option is left out of the OPT
//!   comparison.
//!
//! Not in the matrix, because the two differ where the RFCs leave the choice to
//! the server: QTYPE 0 (knotd NOTIMP, fleetdns NODATA), QCLASS ANY (knotd answers,
//! fleetdns REFUSED, as DESIGN.md §4 says) and the CD bit (fleetdns copies it,
//! knotd 3.2 does not).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use fleetdns_testsupport::daemons::{self, Zone};

use super::wire::{self, Edns, Query, Reply, TcpConn};
use super::{ip, replica, ZONE};

/// A name server of the zone: name and glue addresses (none when out of zone).
const NAME_SERVERS: &[(&str, &[&str])] = &[
    ("ns1.fleet.example.com", &["192.0.2.53", "2001:db8::53"]),
    ("ns2.fleet.example.com", &["192.0.2.54"]),
    // Two labels below the apex: `sub.fleet.example.com` is an empty non-terminal.
    ("ns3.sub.fleet.example.com", &["192.0.2.55"]),
    ("ns.example.net", &[]),
];
const SERIAL: u32 = 2026112301;
const REFRESH: u32 = 14400;
const RETRY: u32 = 3600;
const EXPIRE: u32 = 1209600;
/// Negative-caching TTL, below the SOA TTL: negative answers carry
/// min(SOA TTL, minimum) = 900 (RFC 2308 §3).
const MINIMUM: u32 = 900;
const SOA_TTL: u32 = 3600;

fn fleet_config() -> String {
    let mut ns = String::new();
    for (name, addrs) in NAME_SERVERS {
        let addrs: Vec<String> = addrs.iter().map(|a| format!("'{a}'")).collect();
        let _ = writeln!(
            ns,
            "    - {{name: {name}, addresses: [{}]}}",
            addrs.join(", ")
        );
    }
    format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: {ZONE}
  nameServers:
{ns}  soa: {{rname: hostmaster.{ZONE}, serial: {SERIAL}, refresh: {REFRESH}, retry: {RETRY}, expire: {EXPIRE}, minimum: {MINIMUM}, ttl: {SOA_TTL}}}
"
    )
}

fn zone_file() -> String {
    let mname = NAME_SERVERS[0].0;
    let mut z = format!(
        "$ORIGIN {ZONE}.
@ {SOA_TTL} IN SOA {mname}. hostmaster.{ZONE}. {SERIAL} {REFRESH} {RETRY} {EXPIRE} {MINIMUM}
"
    );
    for (name, _) in NAME_SERVERS {
        let _ = writeln!(z, "@ {SOA_TTL} IN NS {name}.");
    }
    for (name, addrs) in NAME_SERVERS {
        for a in *addrs {
            let t = if a.parse::<IpAddr>().expect("glue address").is_ipv4() {
                "A"
            } else {
                "AAAA"
            };
            let _ = writeln!(z, "{name}. {SOA_TTL} IN {t} {a}");
        }
    }
    z
}

/// Query names: the apex, glue owners, an empty non-terminal, names that do not
/// exist (also below existing ones, and a literal `*`), and names outside the zone
/// (parent, root, a sibling that only shares a suffix string, the out-of-zone NS).
fn names() -> Vec<String> {
    [
        "", "ns1.", "ns2.", "ns3.sub.", "sub.", "nx.", "deep.nx.", "x.ns1.", "*.",
    ]
    .iter()
    .map(|p| format!("{p}{ZONE}."))
    .chain(
        [
            "example.com.",
            ".",
            "xfleet.example.com.",
            "ns.example.net.",
        ]
        .iter()
        .map(|s| s.to_string()),
    )
    .collect()
}

const TYPES: &[&str] = &[
    "SOA",
    "NS",
    "A",
    "AAAA",
    "CNAME",
    "MX",
    "TXT",
    "PTR",
    "SRV",
    "DS",
    "DNSKEY",
    "RRSIG",
    "NSEC",
    "NSEC3PARAM",
    "CAA",
    "HTTPS",
    "TYPE1000",
    "ANY",
];

/// The name in three letter cases: as is, upper, and alternating (0x20 style).
fn cases(name: &str) -> Vec<String> {
    let alternating: String = name
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    let mut v = vec![name.to_string(), name.to_ascii_uppercase(), alternating];
    v.dedup();
    v
}

fn edns_variants() -> Vec<Option<Edns>> {
    vec![
        None,
        Some(Edns::default()),
        Some(Edns::default().payload(512).dnssec_ok()),
        Some(Edns::default().option(100, &[])),
        Some(Edns::default().version(1)),
    ]
}

/// The parts of a reply both servers must agree on.
#[derive(Debug, PartialEq, Eq)]
struct Signature {
    rcode: String,
    flags: String,
    counts: [u16; 4],
    question: Vec<(String, u16, u16)>,
    answer: BTreeSet<String>,
    authority: BTreeSet<String>,
    additional: BTreeSet<String>,
    /// OPT: version, DO, reserved bits, option codes (not the UDP size, a local policy).
    opt: Option<(u8, bool, u16, Vec<u16>)>,
    /// Answer owners exactly as sent: both keep the query's letter case there.
    /// (Elsewhere, case follows name compression and is not compared; RFC 4343.)
    answer_owners: Vec<String>,
}

/// Extended DNS Errors (RFC 8914): optional; knotd adds one to REFUSED.
const EDE: u16 = 15;

fn signature(r: &Reply) -> Signature {
    let set = |s: &[wire::Rr]| s.iter().map(wire::Rr::normalized).collect();
    Signature {
        rcode: wire::rcode_name(r.rcode),
        flags: r.flags(),
        counts: r.counts,
        question: r
            .question
            .iter()
            .map(|q| (q.name.clone(), q.qtype, q.qclass))
            .collect(),
        answer: set(&r.answer),
        authority: set(&r.authority),
        additional: set(&r.additional),
        opt: r.opt.as_ref().map(|o| {
            let codes = o
                .options
                .iter()
                .map(|(c, _)| *c)
                .filter(|&c| c != EDE)
                .collect();
            (o.version, o.dnssec_ok, o.z, codes)
        }),
        answer_owners: r
            .answer
            .iter()
            .map(|a| a.name.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    }
}

struct Servers {
    reference: SocketAddr,
    fleetdns: SocketAddr,
    /// One TCP connection per server for the whole sweep.
    reference_tcp: RefCell<TcpConn>,
    fleetdns_tcp: RefCell<TcpConn>,
}

impl Servers {
    fn new(reference: SocketAddr, fleetdns: SocketAddr) -> Self {
        Self {
            reference,
            fleetdns,
            reference_tcp: RefCell::new(TcpConn::new(reference)),
            fleetdns_tcp: RefCell::new(TcpConn::new(fleetdns)),
        }
    }

    fn ask(&self, reference: bool, q: &Query, tcp: bool) -> Result<Reply, String> {
        match (reference, tcp) {
            (true, true) => self.reference_tcp.borrow_mut().query(q),
            (false, true) => self.fleetdns_tcp.borrow_mut().query(q),
            (true, false) => wire::udp(self.reference, q),
            (false, false) => wire::udp(self.fleetdns, q),
        }
    }
}

fn report(
    q: &Query,
    tcp: bool,
    s: &Servers,
    why: &str,
    reference: &Result<Reply, String>,
    fleet: &Result<Reply, String>,
) -> String {
    let show = |r: &Result<Reply, String>| match r {
        Ok(r) => r.to_string(),
        Err(e) => e.clone(),
    };
    format!(
        "--- {why}\nquery:    dig{} {q}\nexpected (knotd @{}):\n{}\nactual (fleetdns @{}):\n{}\n",
        if tcp { " +tcp" } else { "" },
        s.reference.ip(),
        show(reference),
        s.fleetdns.ip(),
        show(fleet)
    )
}

/// RFC 8482 check of an ANY answer: exactly one RRset, owned by the query name,
/// equal to what `other` answers for that name and type.
fn any_is_one_existing_rrset(other: SocketAddr, q: &Query, r: &Reply) -> Result<(), String> {
    let types: BTreeSet<u16> = r.answer.iter().map(|a| a.rtype).collect();
    let [t] = types.iter().copied().collect::<Vec<_>>()[..] else {
        return Err(format!(
            "ANY answered with {} RRsets, RFC 8482 expects one",
            types.len()
        ));
    };
    if r.answer
        .iter()
        .any(|a| !a.name.eq_ignore_ascii_case(&q.name))
    {
        return Err("ANY answer owned by another name".into());
    }
    let typed = Query {
        qtype: t,
        ..q.clone()
    };
    let theirs = wire::udp(other, &typed)?;
    let mine: BTreeSet<String> = r.answer.iter().map(wire::Rr::normalized).collect();
    let want: BTreeSet<String> = theirs.answer.iter().map(wire::Rr::normalized).collect();
    if mine != want {
        return Err(format!(
            "the ANY answer is not the {} RRset the other server has:\n{theirs}",
            wire::type_name(t)
        ));
    }
    Ok(())
}

/// Runs one query on both servers; a report when they disagree.
fn compare(servers: &Servers, q: &Query, tcp: bool) -> Option<String> {
    let reference = servers.ask(true, q, tcp);
    let fleet = servers.ask(false, q, tcp);
    let (r, f) = match (&reference, &fleet) {
        (Ok(r), Ok(f)) => (r, f),
        _ => {
            return Some(report(
                q,
                tcp,
                servers,
                "no usable reply",
                &reference,
                &fleet,
            ))
        }
    };
    let (rs, fs) = (signature(r), signature(f));
    if q.qtype == wire::rtype("ANY") && r.rcode == wire::NOERROR && !r.answer.is_empty() {
        // RFC 8482: any one existing RRset; compare everything but the sections' content.
        let same_frame = rs.rcode == fs.rcode
            && rs.flags == fs.flags
            && rs.question == fs.question
            && rs.opt == fs.opt;
        let checks = [
            (!same_frame).then(|| "rcode, flags, question or OPT differ".to_string()),
            any_is_one_existing_rrset(servers.reference, q, f).err(),
            any_is_one_existing_rrset(servers.fleetdns, q, r)
                .err()
                .map(|e| format!("knotd: {e}")),
        ];
        return checks.into_iter().flatten().next().map(|why| {
            report(
                q,
                tcp,
                servers,
                &format!("ANY (RFC 8482): {why}"),
                &reference,
                &fleet,
            )
        });
    }
    if rs == fs {
        return None;
    }
    let mut why = Vec::new();
    if rs.rcode != fs.rcode {
        why.push(format!("rcode {} ≠ {}", fs.rcode, rs.rcode));
    }
    if rs.flags != fs.flags {
        why.push(format!("flags [{}] ≠ [{}]", fs.flags, rs.flags));
    }
    if rs.counts != fs.counts {
        why.push(format!("section counts {:?} ≠ {:?}", fs.counts, rs.counts));
    }
    for (name, a, b) in [
        ("answer", &rs.answer, &fs.answer),
        ("authority", &rs.authority, &fs.authority),
        ("additional", &rs.additional, &fs.additional),
    ] {
        if a != b {
            why.push(format!("{name} records differ"));
        }
    }
    if rs.answer_owners != fs.answer_owners {
        why.push(format!(
            "answer owner names {:?} ≠ {:?}",
            fs.answer_owners, rs.answer_owners
        ));
    }
    if rs.question != fs.question {
        why.push("question echo differs".into());
    }
    if rs.opt != fs.opt {
        why.push(format!("OPT {:?} ≠ {:?}", fs.opt, rs.opt));
    }
    Some(report(q, tcp, servers, &why.join("; "), &reference, &fleet))
}

#[test]
fn fleetdns_and_knot_give_the_same_answers_for_the_same_static_records() {
    let knot = daemons::knot(ip(56, 1), &[Zone::new(ZONE, &zone_file())]);
    let fleet = replica(&fleet_config(), ip(56, 2));
    let servers = Servers::new(knot.addr, fleet.addr);
    let mut failures = Vec::new();
    let mut total = 0;
    for name in names() {
        for qtype in TYPES {
            for cased in cases(&name) {
                for edns in edns_variants() {
                    let mut q = Query::new(&cased, qtype);
                    q.edns = edns;
                    total += 1;
                    failures.extend(compare(&servers, &q, false));
                }
            }
            // TCP: one letter case, plain and EDNS.
            for edns in [None, Some(Edns::default())] {
                let mut q = Query::new(&name, qtype);
                q.edns = edns;
                total += 1;
                failures.extend(compare(&servers, &q, true));
            }
        }
    }
    // Header variants on a few names: RD=1 (copied, RFC 1035 §4.1.1), class CH.
    for name in [format!("{ZONE}."), format!("nx.{ZONE}.")] {
        for q in [
            Query::new(&name, "SOA").rd(),
            Query::new(&name, "SOA").class(wire::CLASS_CH),
        ] {
            total += 1;
            failures.extend(compare(&servers, &q, false));
        }
    }
    // A summary by kind of difference, then the first reports in full.
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &failures {
        let why = f.lines().next().unwrap_or("").trim_start_matches("--- ");
        *kinds.entry(why).or_default() += 1;
    }
    let summary: Vec<String> = kinds
        .iter()
        .map(|(why, n)| format!("  {n} × {why}"))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {total} queries got different answers from fleetdns and knotd:\n{}\nfirst {} in full:\n{}",
        failures.len(),
        summary.join("\n"),
        failures.len().min(20),
        failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}
