//! A real delegation on loopback: nsd serves a fake root and the parent zone
//! `example.com`, which delegates `fleet.example.com` (NS + glue) to two fleetdns
//! replicas fed the same file; unbound resolves from root hints on loopback. `dig`
//! and `nslookup` through unbound get the weighted endpoints; when a backend dies,
//! answers resolved through unbound stop containing it once the TTL has expired.
//!
//! Addresses (all port 53 except the backends): unbound 127.0.53.2, nsd
//! 127.0.53.10, replicas 127.0.53.21 and .22, backends 127.0.53.31 and .32 on
//! port 18080.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use fleetdns_testsupport::dns::{Client, Opts};
use fleetdns_testsupport::{daemons, tools, wait, DemoBackend, Fleetdns};
use hickory_proto::rr::RecordType;

use super::{ip, replica, root_and_parent, root_hints, ZONE};
use crate::fixtures;

const OCTET: u8 = 53;
const BACKEND_PORT: u16 = 18080;
/// TTL of the profile whose backend dies: short, so the test waits little.
const TTL: u64 = 2;

fn east() -> Ipv4Addr {
    ip(OCTET, 31)
}
fn west() -> Ipv4Addr {
    ip(OCTET, 32)
}

/// `shop/web` (TTL 2): east weight 1, west weight 9. `shop/spread` (TTL 0, so
/// unbound does not cache it and every resolution samples the weights again):
/// east weight 1, west weight 3. Both probed over HTTP every second with a 1 s
/// timeout and no tolerated failure.
fn config() -> String {
    let profile = |name: &str, ttl: u64, backends: &[(&str, u32)]| {
        let mut s = format!(
            "---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata:
  name: {name}
  namespace: shop
  annotations:
    fleetdns.io/ttl: \"{ttl}\"
    fleetdns.io/probe-interval-seconds: \"1\"
    fleetdns.io/probe-timeout-seconds: \"1\"
spec:
  resourceGroup: rg
  monitorConfig: {{port: {BACKEND_PORT}, path: /, toleratedNumberOfFailures: 0}}
"
        );
        for (service, weight) in backends {
            s += &format!(
                "---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: {name}-{service}, namespace: shop}}
spec: {{profile: {{name: {name}}}, backend: {{name: {service}}}, weight: {weight}}}
"
            );
        }
        s
    };
    let mut c = format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: {ZONE}
  nameServers:
    - {{name: ns1.{ZONE}, addresses: ['{ns1}']}}
    - {{name: ns2.{ZONE}, addresses: ['{ns2}']}}
  clusters:
    - {{name: east, services: [{{namespace: shop, name: web-east, loadBalancer: ['{east}']}}]}}
    - {{name: west, services: [{{namespace: shop, name: web-west, loadBalancer: ['{west}']}}]}}
",
        ns1 = ip(OCTET, 21),
        ns2 = ip(OCTET, 22),
        east = east(),
        west = west(),
    );
    c += &profile("web", TTL, &[("web-east", 1), ("web-west", 9)]);
    c += &profile("spread", 0, &[("web-east", 1), ("web-west", 3)]);
    for service in ["web-east", "web-west"] {
        c += &format!(
            "---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {{name: {service}, namespace: shop}}
"
        );
    }
    c
}

/// The parts of a dig reply the test looks at.
#[derive(Debug)]
struct Dig {
    status: String,
    flags: Vec<String>,
    /// Answer records as (owner, ttl, type, data).
    answer: Vec<(String, u64, String, String)>,
    authority: Vec<String>,
    additional: Vec<String>,
    raw: String,
}

fn dig(server: Ipv4Addr, args: &[&str]) -> Dig {
    let at = format!("@{server}");
    let mut all = vec![at.as_str(), "+time=2", "+tries=2", "+nocookie"];
    all.extend_from_slice(args);
    let raw = tools::run("dig", &all);
    let mut d = Dig {
        status: String::new(),
        flags: Vec::new(),
        answer: Vec::new(),
        authority: Vec::new(),
        additional: Vec::new(),
        raw: raw.clone(),
    };
    let mut section = "";
    for line in raw.lines().map(str::trim) {
        if let Some(rest) = line.split("status: ").nth(1) {
            d.status = rest.split(',').next().unwrap_or("").to_string();
        } else if let Some(rest) = line.strip_prefix(";; flags: ") {
            d.flags = rest
                .split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect();
        } else if let Some(title) = line
            .strip_prefix(";; ")
            .and_then(|l| l.strip_suffix(" SECTION:"))
        {
            section = match title {
                "ANSWER" => "answer",
                "AUTHORITY" => "authority",
                "ADDITIONAL" => "additional",
                _ => "",
            };
        } else if line.is_empty() || line.starts_with(';') {
            if line.is_empty() {
                section = "";
            }
        } else {
            match section {
                "answer" => {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    if f.len() >= 5 {
                        d.answer.push((
                            f[0].to_string(),
                            f[1].parse().unwrap_or(u64::MAX),
                            f[3].to_string(),
                            f[4..].join(" "),
                        ));
                    }
                }
                "authority" => d.authority.push(line.to_string()),
                "additional" => d.additional.push(line.to_string()),
                _ => {}
            }
        }
    }
    d
}

/// The addresses `nslookup NAME SERVER` printed for the name (not the server's).
fn nslookup(server: Ipv4Addr, name: &str) -> (Vec<String>, String) {
    let out = tools::run(
        "nslookup",
        &["-timeout=2", "-retry=1", name, &server.to_string()],
    );
    let answer = out.split("Name:").skip(1).collect::<Vec<_>>().join("Name:");
    let addrs = answer
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Address:"))
        .map(|a| a.trim().to_string())
        .collect();
    (addrs, out)
}

/// The `_health` TXT lines of a profile, asked of one replica (a trusted client).
fn health(replica: &Fleetdns, profile: &str) -> Vec<String> {
    let m = Client::new(replica.addr).query(
        &format!("_health.shop-{profile}.{ZONE}."),
        RecordType::TXT,
        &Opts::default(),
    );
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

/// Polls (bounded) until `pred` holds for the health view of `profile` on every replica.
fn wait_health(
    replicas: &[&Fleetdns],
    profile: &str,
    what: &str,
    pred: impl Fn(&[String]) -> bool,
) {
    wait::eventually(
        &format!("{what} on every replica"),
        Duration::from_secs(20),
        Duration::from_millis(100),
        || {
            for r in replicas {
                let lines = health(r, profile);
                if !pred(&lines) {
                    return Err(format!(
                        "replica {} health view:\n{}",
                        r.addr,
                        lines.join("\n")
                    ));
                }
            }
            Ok(())
        },
    );
}

fn endpoint_state(lines: &[String], target: Ipv4Addr, state: &str) -> bool {
    lines
        .iter()
        .any(|l| l.contains(&format!("target={target}")) && l.contains(&format!("state={state}")))
}

#[test]
fn unbound_resolves_profiles_through_a_real_delegation_and_drops_a_dead_backend_after_the_ttl() {
    let mut backends: Vec<DemoBackend> = [east(), west()]
        .iter()
        .map(|&a| {
            DemoBackend::start(
                fixtures::BIN.as_ref(),
                SocketAddr::new(a.into(), BACKEND_PORT),
            )
        })
        .collect();
    // Both replicas get the same file, so they serve the same SOA serial.
    let config = config();
    let r1 = replica(&config, ip(OCTET, 21));
    let r2 = replica(&config, ip(OCTET, 22));
    let parent = ip(OCTET, 10);
    let nsd = daemons::nsd(
        parent,
        &root_and_parent(
            parent,
            &[
                (&format!("ns1.{ZONE}"), ip(OCTET, 21)),
                (&format!("ns2.{ZONE}"), ip(OCTET, 22)),
            ],
        ),
    );
    let resolver = ip(OCTET, 2);
    let unbound = daemons::unbound(resolver, &root_hints(parent), "");
    let web = format!("shop-web.{ZONE}");
    let spread = format!("shop-spread.{ZONE}");
    let endpoints = [east().to_string(), west().to_string()];

    // The parent refers the fleet zone to both replicas, with glue.
    let referral = dig(parent, &["+norec", &web, "A"]);
    assert!(
        referral.status == "NOERROR"
            && !referral.flags.contains(&"aa".to_string())
            && referral.answer.is_empty()
            && [1, 2].iter().all(|i| referral.authority.iter().any(|l| l.ends_with(&format!("NS\tns{i}.{ZONE}."))))
            && [21, 22].iter().all(|h| referral.additional.iter().any(|l| l.ends_with(&format!("A\t{}", ip(OCTET, *h))))),
        "query: dig @{parent} {web} A +norec\nexpected: a referral (NOERROR, no aa, no answer) with NS ns1/ns2.{ZONE} and glue {} / {}\nactual:\n{}",
        ip(OCTET, 21),
        ip(OCTET, 22),
        referral.raw
    );

    wait_health(&[&r1, &r2], "web", "both web endpoints Online", |l| {
        endpoint_state(l, east(), "Online") && endpoint_state(l, west(), "Online")
    });

    // The zone apex through unbound: SOA and both name servers.
    let ns = dig(resolver, &[ZONE, "NS"]);
    let mut got: Vec<String> = ns.answer.iter().map(|a| a.3.clone()).collect();
    got.sort();
    assert!(
        ns.status == "NOERROR" && got == [format!("ns1.{ZONE}."), format!("ns2.{ZONE}.")],
        "query: dig @{resolver} {ZONE} NS\nexpected: NOERROR, NS ns1.{ZONE}. and ns2.{ZONE}.\nactual:\n{}",
        ns.raw
    );
    let nx = dig(resolver, &[&format!("no-such-profile.{ZONE}"), "A"]);
    assert_eq!(
        nx.status, "NXDOMAIN",
        "query: dig @{resolver} no-such-profile.{ZONE} A\nexpected: NXDOMAIN\nactual:\n{}",
        nx.raw
    );

    // dig through unbound: a recursive answer (ra, no aa) with one endpoint, TTL ≤ the profile's.
    let d = dig(resolver, &[&web, "A"]);
    assert!(
        d.status == "NOERROR"
            && d.flags.contains(&"ra".to_string())
            && !d.flags.contains(&"aa".to_string())
            && d.answer.len() == 1
            && d.answer[0].2 == "A"
            && endpoints.contains(&d.answer[0].3)
            && d.answer[0].1 <= TTL,
        "query: dig @{resolver} {web} A\nexpected: NOERROR, flags with ra and without aa, one A record in {endpoints:?} with TTL ≤ {TTL}\nactual:\n{}",
        d.raw
    );
    // nslookup through unbound.
    let (addrs, out) = nslookup(resolver, &web);
    assert!(
        addrs.len() == 1 && endpoints.contains(&addrs[0]),
        "query: nslookup {web} {resolver}\nexpected: one address in {endpoints:?}\nactual:\n{out}"
    );

    // The weights, resolved through unbound: `spread` has TTL 0, so every dig is a
    // fresh resolution; east:west = 1:3.
    wait_health(&[&r1, &r2], "spread", "both spread endpoints Online", |l| {
        endpoint_state(l, east(), "Online") && endpoint_state(l, west(), "Online")
    });
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..100 {
        let d = dig(resolver, &["+short", &spread, "A"]);
        *counts.entry(d.raw.trim().to_string()).or_default() += 1;
    }
    let (e, w) = (
        counts.get(&endpoints[0]).copied().unwrap_or(0),
        counts.get(&endpoints[1]).copied().unwrap_or(0),
    );
    assert!(
        e + w == 100 && e > 0 && w > e,
        "query: 100 × dig @{resolver} +short {spread} A\nexpected: only {endpoints:?}, both seen, {} (weight 3) more often than {} (weight 1)\nactual: {counts:?}",
        endpoints[1],
        endpoints[0]
    );
    let (addrs, out) = nslookup(resolver, &spread);
    assert!(
        addrs.len() == 1 && endpoints.contains(&addrs[0]),
        "query: nslookup {spread} {resolver}\nexpected: one address in {endpoints:?}\nactual:\n{out}"
    );

    // Make sure unbound holds the soon-dead endpoint (weight 9 of 10) before it dies.
    wait::eventually(
        &format!("unbound to resolve {web} to {}", endpoints[1]),
        Duration::from_secs(20),
        Duration::from_millis(500),
        || {
            let d = dig(resolver, &["+short", &web, "A"]);
            if d.raw.trim() == endpoints[1] {
                Ok(())
            } else {
                Err(d.raw)
            }
        },
    );

    // The west backend dies. Once both replicas have taken it out of the answers,
    // whatever unbound cached before expires within the TTL.
    backends[1].kill();
    wait_health(
        &[&r1, &r2],
        "web",
        "the dead endpoint Degraded on both replicas",
        |l| {
            endpoint_state(l, west(), "Degraded")
                && l.iter()
                    .any(|x| x.contains(&format!("target={}", west())) && x.contains("served=no"))
        },
    );
    // Whatever unbound cached before that is at most TTL old: wait the TTL, plus 1 s for
    // the replicas' answers and unbound's clock to agree, before asserting it is gone.
    std::thread::sleep(Duration::from_secs(TTL) + Duration::from_secs(1));

    // Every resolution through unbound from now on: east only. Spread over more
    // than one TTL, so both cached and freshly fetched answers are checked.
    for i in 0..30 {
        let d = dig(resolver, &[&web, "A"]);
        assert!(
            d.status == "NOERROR" && d.answer.len() == 1 && d.answer[0].3 == endpoints[0],
            "query #{i} after the TTL: dig @{resolver} {web} A\nexpected: NOERROR, exactly one A record {} (the dead {} gone)\nactual:\n{}",
            endpoints[0],
            endpoints[1],
            d.raw
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (addrs, out) = nslookup(resolver, &web);
    assert!(
        addrs == [endpoints[0].clone()],
        "query: nslookup {web} {resolver} after the TTL\nexpected: only {}\nactual:\n{out}",
        endpoints[0]
    );
    drop(unbound);
    drop(nsd);
}
