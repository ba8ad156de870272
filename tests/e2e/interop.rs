//! Interop with the real `dig` (BIND 9) and `kdig` (Knot) clients.

use std::collections::BTreeSet;

use fleetdns_testsupport::tools;

use crate::fixtures;

/// The parts of a dig/kdig reply the tests look at.
#[derive(Debug)]
struct Reply {
    status: String,
    flags: BTreeSet<String>,
    counts: [u32; 4],
    /// Lines of the ANSWER, AUTHORITY and ADDITIONAL sections.
    answer: Vec<String>,
    authority: Vec<String>,
    additional: Vec<String>,
    raw: String,
}

fn parse(raw: String) -> Reply {
    let mut status = String::new();
    let mut flags = BTreeSet::new();
    let mut counts = [0; 4];
    let (mut answer, mut authority, mut additional) = (Vec::new(), Vec::new(), Vec::new());
    let mut section = "";
    for line in raw.lines() {
        let l = line.trim();
        if let Some(rest) = l.split("status: ").nth(1) {
            status = rest
                .split([',', ';'])
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
        } else if let Some(rest) = l
            .strip_prefix(";; flags: ")
            .or_else(|| l.strip_prefix(";; Flags: "))
        {
            let (f, c) = rest.split_once(';').unwrap_or((rest, ""));
            flags = f.split_whitespace().map(str::to_string).collect();
            for part in c.split([',', ';']) {
                if let Some((k, v)) = part.trim().split_once(": ") {
                    let i = match k {
                        "QUERY" => 0,
                        "ANSWER" => 1,
                        "AUTHORITY" => 2,
                        "ADDITIONAL" => 3,
                        _ => continue,
                    };
                    counts[i] = v.trim().parse().unwrap_or(0);
                }
            }
        } else if l.starts_with(";; ANSWER SECTION") {
            section = "an";
        } else if l.starts_with(";; AUTHORITY SECTION") {
            section = "ns";
        } else if l.starts_with(";; ADDITIONAL SECTION") {
            section = "ar";
        } else if l.is_empty() || l.starts_with(";;") {
            section = if l.is_empty() { "" } else { section };
        } else if !l.starts_with(';') {
            match section {
                "an" => answer.push(l.to_string()),
                "ns" => authority.push(l.to_string()),
                "ar" => additional.push(l.to_string()),
                _ => {}
            }
        }
    }
    Reply {
        status,
        flags,
        counts,
        answer,
        authority,
        additional,
        raw,
    }
}

fn dig(addr: std::net::SocketAddr, args: &[&str]) -> Reply {
    let server = format!("@{}", addr.ip());
    let port = addr.port().to_string();
    let mut all = vec![
        server.as_str(),
        "-p",
        port.as_str(),
        "+norec",
        "+time=2",
        "+tries=2",
    ];
    all.extend_from_slice(args);
    parse(tools::run("dig", &all))
}

fn kdig(addr: std::net::SocketAddr, args: &[&str]) -> Reply {
    let server = format!("@{}", addr.ip());
    let port = addr.port().to_string();
    let mut all = vec![
        server.as_str(),
        "-p",
        port.as_str(),
        "+norec",
        "+time=2",
        "+retry=1",
    ];
    all.extend_from_slice(args);
    parse(tools::run("kdig", &all))
}

const PROFILE: &str = "kuard-demo-kuard-atm-demo.fleet.example.com";

fn check_both(addr: std::net::SocketAddr, args: &[&str], check: impl Fn(&str, &Reply)) {
    check("dig", &dig(addr, args));
    check("kdig", &kdig(addr, args));
}

#[test]
fn profile_a_query_is_authoritative_and_answers_one_endpoint() {
    let s = fixtures::start(&fixtures::example());
    check_both(s.addr, &[PROFILE, "A"], |tool, r| {
        assert_eq!(r.status, "NOERROR", "{tool}: {}", r.raw);
        assert!(
            r.flags.contains("aa") && r.flags.contains("qr"),
            "{tool}: {}",
            r.raw
        );
        assert!(!r.flags.contains("ra"), "{tool}");
        assert_eq!(r.answer.len(), 1, "{tool}: {}", r.raw);
        let a = &r.answer[0];
        assert!(a.contains("\tA\t") || a.contains(" A "), "{tool}: {a}");
        assert!(
            ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
                .iter()
                .any(|ip| a.ends_with(ip)),
            "{tool}: {a}"
        );
    });
}

#[test]
fn aaaa_on_an_ipv4_only_profile_is_nodata_with_soa() {
    let s = fixtures::start(&fixtures::example());
    check_both(s.addr, &[PROFILE, "AAAA"], |tool, r| {
        assert_eq!(r.status, "NOERROR", "{tool}");
        assert!(r.flags.contains("aa"), "{tool}");
        assert_eq!(r.counts[1], 0, "{tool}: no answer");
        assert_eq!(r.authority.len(), 1, "{tool}: {}", r.raw);
        assert!(r.authority[0].contains("SOA"), "{tool}: {}", r.raw);
    });
}

#[test]
fn unknown_name_is_nxdomain_with_soa() {
    let s = fixtures::start(&fixtures::example());
    check_both(
        s.addr,
        &["no-such-profile.fleet.example.com", "A"],
        |tool, r| {
            assert_eq!(r.status, "NXDOMAIN", "{tool}");
            assert!(r.flags.contains("aa"), "{tool}");
            assert!(
                r.authority.iter().any(|l| l.contains("SOA")),
                "{tool}: {}",
                r.raw
            );
        },
    );
}

#[test]
fn out_of_zone_name_is_refused_without_aa() {
    let s = fixtures::start(&fixtures::example());
    check_both(s.addr, &["www.example.org", "A"], |tool, r| {
        assert_eq!(r.status, "REFUSED", "{tool}");
        assert!(!r.flags.contains("aa"), "{tool}: {}", r.raw);
    });
}

#[test]
fn apex_soa_and_ns_with_glue() {
    let s = fixtures::start(&fixtures::example());
    check_both(s.addr, &["fleet.example.com", "SOA"], |tool, r| {
        assert_eq!(r.status, "NOERROR", "{tool}");
        assert!(r.flags.contains("aa"), "{tool}");
        assert_eq!(r.answer.len(), 1);
        assert!(
            r.answer[0].contains("SOA")
                && r.answer[0].contains("ns1.fleet.example.com. hostmaster.fleet.example.com."),
            "{tool}: {}",
            r.raw
        );
    });
    check_both(s.addr, &["fleet.example.com", "NS"], |tool, r| {
        assert!(r.flags.contains("aa"), "{tool}");
        assert_eq!(r.answer.len(), 1, "{tool}: {}", r.raw);
        assert!(
            r.answer[0].ends_with("ns1.fleet.example.com."),
            "{tool}: {}",
            r.raw
        );
        assert!(
            r.additional
                .iter()
                .any(|l| l.starts_with("ns1.fleet.example.com.") && l.ends_with("127.0.0.1")),
            "{tool}: glue: {}",
            r.raw
        );
    });
}

#[test]
fn tcp_queries_are_answered() {
    let s = fixtures::start(&fixtures::example());
    check_both(s.addr, &["+tcp", PROFILE, "A"], |tool, r| {
        assert_eq!(r.status, "NOERROR", "{tool}");
        assert!(r.flags.contains("aa"), "{tool}");
        assert_eq!(r.answer.len(), 1, "{tool}");
        assert!(r.raw.contains("(TCP)"), "{tool} used TCP: {}", r.raw);
    });
}

#[test]
fn edns_version_1_gets_badvers() {
    let s = fixtures::start(&fixtures::example());
    // dig negotiates the version down by default; +noednsneg shows the first reply.
    let r = dig(s.addr, &["+edns=1", "+noednsneg", PROFILE, "A"]);
    assert_eq!(r.status, "BADVERS", "{}", r.raw);
    assert!(r.raw.contains("EDNS: version: 0"), "{}", r.raw);
    let r = kdig(s.addr, &["+edns=1", PROFILE, "A"]);
    assert_eq!(r.status, "BADVERS", "{}", r.raw);
}

#[test]
fn mixed_case_query_names_are_answered_in_the_same_case() {
    let s = fixtures::start(&fixtures::example());
    let name = "KUARD-demo-Kuard-Atm-Demo.Fleet.EXAMPLE.com";
    let r = dig(s.addr, &[name, "A"]);
    assert_eq!(r.status, "NOERROR");
    assert!(r.flags.contains("aa"));
    assert!(r.answer[0].starts_with(&format!("{name}.")), "{}", r.raw);
    // kdig lower-cases names before sending; it must still get the answer.
    let r = kdig(s.addr, &[name, "A"]);
    assert_eq!(r.status, "NOERROR", "{}", r.raw);
    assert_eq!(r.answer.len(), 1, "{}", r.raw);
}

#[test]
fn nslookup_resolves_the_profile() {
    let s = fixtures::start(&fixtures::example());
    let out = tools::run(
        "nslookup",
        &[
            "-port=".to_string() + &s.addr.port().to_string(),
            PROFILE.to_string(),
            s.addr.ip().to_string(),
        ]
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    assert!(out.contains(&format!("Name:\t{PROFILE}")), "{out}");
    assert!(
        ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
            .iter()
            .any(|ip| out.contains(&format!("Address: {ip}"))),
        "{out}"
    );
}
