//! zonemaster-cli (all test modules) on the delegated zone: nsd serves a fake
//! root and `example.com`, which delegates `fleet.example.com` to two fleetdns
//! replicas on 127.0.54.21 and .22, both fed the same file (fleetdns derives the
//! SOA serial from the config content, so the replicas agree on it).
//!
//! zonemaster-cli exits 0 whatever it finds, so the test reads its JSON output:
//! any ERROR or CRITICAL fails the run and is printed; the consistency checks
//! across the two replicas (SOA serial, RNAME, timers, MNAME, NS set, glue) and
//! the delegation checks must report their "all agree" results.
//!
//! Profile overrides — exactly the findings loopback addressing forces, lowered to
//! INFO, nothing else:
//! - `ADDRESS01 NAMESERVER_IP_PRIVATE_NETWORK` (ERROR): every name server address
//!   is in 127.0.0.0/8 (RFC 1122 §3.2.1.3, "loopback"); CI has nothing else.
//! - `ADDRESS02 NAMESERVER_IP_WITHOUT_REVERSE` (WARNING): no PTR for the name
//!   servers' addresses, because the fake root has no `in-addr.arpa`.
//!
//! AS and prefix diversity need no override with the Debian bookworm engine
//! (Zonemaster::Engine 4.6.2): it has no prefix-diversity test case (Connectivity04
//! came later), and its CONNECTIVITY03 (AS diversity) reports nothing here: the
//! ASN lookup zones (`asnlookup.zonemaster.net`, `asn.cymru.com`) do not resolve
//! under the fake root, and the engine then returns no ASN result at all (no
//! `IPV4_ONE_ASN`, `EMPTY_ASN_SET` or `ERROR_ASN_DATABASE` message; checked at
//! level DEBUG). Should another engine version report those for loopback, the
//! test fails printing them, and they belong in [`LOWERED`].

use std::process::Command;
use std::time::Instant;

use fleetdns_testsupport::daemons;
use fleetdns_testsupport::process::scratch_dir;
use serde_json::Value;

use super::{ip, replica, root_and_parent, root_hints, ZONE};

const OCTET: u8 = 54;

/// (module, tag) lowered to INFO: the findings loopback addressing forces.
const LOWERED: &[(&str, &str)] = &[
    ("ADDRESS", "NAMESERVER_IP_PRIVATE_NETWORK"),
    ("ADDRESS", "NAMESERVER_IP_WITHOUT_REVERSE"),
];

/// Tags that must be reported: the replicas agree with each other (CONSISTENCY01
/// to 06) and with the parent's delegation (DELEGATION01, 04, 07).
const REQUIRED: &[&str] = &[
    "ONE_SOA_SERIAL",
    "ONE_SOA_RNAME",
    "ONE_SOA_TIME_PARAMETER_SET",
    "ONE_SOA_MNAME",
    "ONE_NS_SET",
    "ADDRESSES_MATCH",
    "NAMES_MATCH",
    "ENOUGH_NS_DEL",
    "ENOUGH_NS_CHILD",
    "ARE_AUTHORITATIVE",
    "EDNS0_SUPPORT",
    "NO_RECURSOR",
];

/// Bound on one zonemaster run (it takes about 2 s here).
const ZONEMASTER_TIMEOUT_SECONDS: &str = "120";

fn config() -> String {
    format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: {ZONE}
  nameServers:
    - {{name: ns1.{ZONE}, addresses: ['{ns1}']}}
    - {{name: ns2.{ZONE}, addresses: ['{ns2}']}}
  soa: {{rname: hostmaster@{ZONE}}}
  clusters:
    - {{name: c1, services: [{{namespace: shop, name: web, loadBalancer: ['192.0.2.10']}}]}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {{name: web, namespace: shop}}
spec: {{resourceGroup: rg}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: web, namespace: shop}}
spec: {{profile: {{name: web}}, backend: {{name: web}}, weight: 1}}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata:
  name: web
  namespace: shop
  annotations: {{fleetdns.io/always-serve: \"true\"}}
",
        ns1 = ip(OCTET, 21),
        ns2 = ip(OCTET, 22),
    )
}

fn zonemaster(args: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg(ZONEMASTER_TIMEOUT_SECONDS)
        .arg("zonemaster-cli")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run zonemaster-cli: {e}"));
    match out.status.code() {
        Some(127) => panic!(
            "zonemaster-cli is not installed (apt-get install zonemaster-cli; .ci/run does this)"
        ),
        Some(124) => {
            panic!("zonemaster-cli {args:?} took more than {ZONEMASTER_TIMEOUT_SECONDS} s")
        }
        _ => {}
    }
    assert!(
        out.status.success(),
        "zonemaster-cli {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The default profile with the loopback-forced findings lowered and IPv6 off.
fn profile() -> String {
    let mut p: Value =
        serde_json::from_str(&zonemaster(&["--dump-profile"])).expect("zonemaster profile is JSON");
    for (module, tag) in LOWERED {
        let level = p
            .pointer_mut(&format!("/test_levels/{module}/{tag}"))
            .unwrap_or_else(|| {
                panic!("the default zonemaster profile has no test level {module}/{tag}")
            });
        *level = Value::from("INFO");
    }
    p["net"]["ipv6"] = Value::from(false);
    p.to_string()
}

fn show(e: &Value) -> String {
    format!(
        "{} {} {} {} {}",
        e["level"].as_str().unwrap_or("?"),
        e["module"].as_str().unwrap_or("?"),
        e["testcase"].as_str().unwrap_or("?"),
        e["tag"].as_str().unwrap_or("?"),
        e["args"]
    )
}

#[test]
fn zonemaster_finds_no_error_in_the_delegated_zone() {
    let config = config();
    let _r1 = replica(&config, ip(OCTET, 21));
    let _r2 = replica(&config, ip(OCTET, 22));
    let parent = ip(OCTET, 10);
    let _nsd = daemons::nsd(
        parent,
        &root_and_parent(
            parent,
            &[
                (&format!("ns1.{ZONE}"), ip(OCTET, 21)),
                (&format!("ns2.{ZONE}"), ip(OCTET, 22)),
            ],
        ),
    );

    let dir = scratch_dir("zonemaster");
    let profile_path = dir.join("profile.json");
    let hints_path = dir.join("root.hints");
    std::fs::write(&profile_path, profile()).expect("write profile");
    std::fs::write(&hints_path, root_hints(parent)).expect("write hints");
    let started = Instant::now();
    let command = [
        "--profile",
        profile_path.to_str().expect("utf-8"),
        "--hints",
        hints_path.to_str().expect("utf-8"),
        "--no-ipv6",
        "--sourceaddr",
        "127.0.0.1",
        "--level",
        "INFO",
        "--json",
        "--no-progress",
        ZONE,
    ];
    let json = zonemaster(&command);
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    let entries: Vec<Value> = serde_json::from_str(&json).unwrap_or_else(|e| {
        panic!("zonemaster-cli --json output is not a JSON list ({e}):\n{json}")
    });
    let all: Vec<String> = entries.iter().map(show).collect();
    let query = format!("zonemaster-cli {}", command.join(" "));

    let errors: Vec<&String> = entries
        .iter()
        .zip(&all)
        .filter(|(e, _)| matches!(e["level"].as_str(), Some("ERROR" | "CRITICAL")))
        .map(|(_, s)| s)
        .collect();
    assert!(
        errors.is_empty(),
        "run: {query}\nexpected: no ERROR or CRITICAL finding\nactual ({} of them):\n{}\n\nall findings:\n{}",
        errors.len(),
        errors.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
        all.join("\n")
    );

    let tags: Vec<&str> = entries.iter().filter_map(|e| e["tag"].as_str()).collect();
    let missing: Vec<&&str> = REQUIRED.iter().filter(|t| !tags.contains(t)).collect();
    // The lowered findings must still be there (at INFO): proof the profile was
    // applied to a real loopback run, not that the checks were skipped.
    let lowered_seen = entries
        .iter()
        .any(|e| e["tag"] == "NAMESERVER_IP_PRIVATE_NETWORK" && e["level"] == "INFO");
    // Both replicas were asked and gave one serial.
    let serial_from_both = entries.iter().any(|e| {
        e["tag"] == "SOA_SERIAL"
            && [21, 22].iter().all(|h| {
                e["args"]["ns_list"]
                    .as_str()
                    .unwrap_or("")
                    .contains(&ip(OCTET, *h).to_string())
            })
    });
    assert!(
        missing.is_empty() && lowered_seen && serial_from_both,
        "run: {query}\nexpected: the findings {REQUIRED:?}, NAMESERVER_IP_PRIVATE_NETWORK at INFO, and SOA_SERIAL from both replicas\nmissing: {missing:?}; lowered finding seen: {lowered_seen}; serial from both: {serial_from_both}\nactual findings:\n{}",
        all.join("\n")
    );
    eprintln!(
        "zonemaster-cli took {elapsed:?} for {} findings",
        entries.len()
    );
}
