//! DNS conformance with real resolvers and tools (issue #6), one file per part:
//!
//! - [`delegation`]: a fake root and parent zone on nsd delegate the fleet zone to
//!   two fleetdns replicas; unbound resolves through it; `dig` and `nslookup` see the
//!   weighted endpoints, and a dead backend leaves the answers once the TTL expires.
//! - [`zonemaster`]: zonemaster-cli on the delegated zone; any ERROR or CRITICAL other
//!   than the findings loopback addressing forces fails.
//! - [`edns`]: an RFC 8906 (ISC genreport style) matrix of EDNS and header probes.
//! - [`dnssec`]: a signed chain (ldns-signed root and parent on nsd, two signing
//!   fleetdns replicas) validated by unbound and delv; zonemaster's DNSSEC module.
//! - [`differential`]: knotd serves the same static records as fleetdns; a matrix of
//!   queries must get the same rcode, flags, section counts and records from both.
//!
//! Every server listens on port 53 of its own 127.0.<part>.x address (a delegation's
//! glue has no port), one third octet per test so tests can run in parallel:
//! 127.0.53.x delegation, 127.0.54.x zonemaster, 127.0.55.x EDNS, 127.0.56.x
//! differential, 127.0.57.x DNSSEC. Binding port 53 needs root (CI runs as root).

mod delegation;
mod differential;
mod dnssec;
mod edns;
mod wire;
mod zonemaster;

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use fleetdns_testsupport::daemons::Zone;
use fleetdns_testsupport::Fleetdns;

use crate::fixtures;
use wire::{Query, Reply};

/// The delegated zone in every conformance test.
pub const ZONE: &str = "fleet.example.com";
/// The parent zone that delegates it.
pub const PARENT: &str = "example.com";

/// `127.0.<octet>.<host>`.
pub fn ip(octet: u8, host: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, octet, host)
}

/// A fleetdns replica serving `config` on `ip`:53.
pub fn replica(config: &str, ip: Ipv4Addr) -> Fleetdns {
    Fleetdns::start(fixtures::BIN.as_ref(), config, &format!("{ip}:53"))
}

/// The fake root and the parent zone, both to be served by nsd on `parent`: the
/// root delegates `example.com` to `ns.example.com` (= `parent`); `example.com`
/// delegates the fleet zone to `children` (`(ns name, glue address)`), with glue.
pub fn root_and_parent(parent: Ipv4Addr, children: &[(&str, Ipv4Addr)]) -> Vec<Zone> {
    let root = format!(
        "$TTL 3600
.                 IN SOA ns.{PARENT}. hostmaster.{PARENT}. 1 3600 600 86400 60
.                 IN NS  ns.{PARENT}.
{PARENT}.      IN NS  ns.{PARENT}.
ns.{PARENT}.   IN A   {parent}
"
    );
    let mut zone = format!(
        "$ORIGIN {PARENT}.
$TTL 300
@        IN SOA ns.{PARENT}. hostmaster.{PARENT}. 2026112301 3600 600 86400 60
@        IN NS  ns.{PARENT}.
ns       IN A   {parent}
"
    );
    for (name, addr) in children {
        let _ = writeln!(zone, "{ZONE}. IN NS {name}.");
        let _ = writeln!(zone, "{name}. IN A {addr}");
    }
    vec![Zone::new(".", &root), Zone::new(PARENT, &zone)]
}

/// A root hints file naming the fake root server on `parent`.
pub fn root_hints(parent: Ipv4Addr) -> String {
    format!(".  3600000  NS  ns.{PARENT}.\nns.{PARENT}.  3600000  A  {parent}\n")
}

/// An expectation on a reply: what is expected, in words, and whether it holds.
pub struct Check {
    pub what: String,
    pub ok: bool,
}

impl Check {
    pub fn new(what: impl Into<String>, ok: bool) -> Self {
        Self {
            what: what.into(),
            ok,
        }
    }
}

/// Formats a failed case: the query, every expectation (✗ marks the failed ones)
/// and the actual reply; `None` when all hold.
pub fn failure(
    case: &str,
    server: &str,
    query: &Query,
    reply: &Result<Reply, String>,
    checks: &[Check],
) -> Option<String> {
    let all_ok = reply.is_ok() && checks.iter().all(|c| c.ok);
    if all_ok {
        return None;
    }
    let mut s = format!("--- {case}\nquery:    dig @{server} {query}\nexpected:\n");
    for c in checks {
        let _ = writeln!(s, "  {} {}", if c.ok { "ok" } else { "✗ " }, c.what);
    }
    match reply {
        Ok(r) => {
            let _ = writeln!(s, "actual:\n{r}");
        }
        Err(e) => {
            let _ = writeln!(s, "actual:   {e}");
        }
    }
    Some(s)
}
