//! A signed chain of trust on loopback (issue 19): a fake root and `example.com`,
//! keyed with `ldns-keygen` and signed with `ldns-signzone`, served by nsd; the
//! parent holds the DS that `fleetdns dnssec ds` prints for `fleet.example.com`,
//! served by two fleetdns replicas fed the same keys (`fleetdns dnssec keygen`).
//! unbound validates from the fake root's trust anchor, one resolver per replica
//! (a stub zone pins it), so each replica is shown to validate on its own.
//! A third zone, `forged.example.com`, is delegated with the DS of one key but
//! served by fleetdns signing with another: validation must fail (SERVFAIL).
//! `delv` validates itself ("fully validated", a MultiValue answer of two
//! records under one precomputed RRSIG too), `dig +dnssec` and `kdig +dnssec`
//! show the RRSIGs, and zonemaster-cli's DNSSEC module reports no ERROR or
//! CRITICAL.
//!
//! Addresses: unbound 127.0.57.2 and .3, nsd 127.0.57.10, replicas .21 and .22,
//! the forged zone's server .23.

use std::path::Path;
use std::process::Command;

use fleetdns_testsupport::daemons::{self, Zone};
use fleetdns_testsupport::process::scratch_dir;
use fleetdns_testsupport::tools;
use serde_json::Value;

use super::{ip, replica, root_hints, PARENT, ZONE};
use crate::fixtures;

const OCTET: u8 = 57;
const FORGED: &str = "forged.example.com";

/// A zone with one weighted profile (`shop-web`, two IPv4 endpoints), a host
/// (CNAME) profile and a MultiValue profile (`shop-multi`, three IPv4
/// endpoints, two per answer: several signed subsets), signed with the keys in
/// `keys`.
fn config(zone: &str, ns: &[(u8, &str)], keys: &Path) -> String {
    let mut c = format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: {zone}
  soa: {{rname: hostmaster@{zone}}}
  dnssec: {{keyDirectory: {keys}}}
  nameServers:
",
        keys = keys.display()
    );
    for (host, name) in ns {
        c += &format!(
            "    - {{name: {name}.{zone}, addresses: ['{}']}}\n",
            ip(OCTET, *host)
        );
    }
    c += "  clusters:
    - {name: east, services: [{namespace: shop, name: web-east, loadBalancer: ['192.0.2.1']}, {namespace: shop, name: api, loadBalancer: ['api.east.example.net']}]}
    - {name: west, services: [{namespace: shop, name: web-west, loadBalancer: ['192.0.2.2']}, {namespace: shop, name: web-north, loadBalancer: ['192.0.2.3']}]}
";
    let multi =
        ", annotations: {fleetdns.io/routing-method: MultiValue, fleetdns.io/max-return: '2'}";
    for (profile, annotations, backends) in [
        ("web", "", &["web-east", "web-west"][..]),
        ("api", "", &["api"][..]),
        ("multi", multi, &["web-east", "web-west", "web-north"][..]),
    ] {
        c += &format!(
            "---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {{name: {profile}, namespace: shop{annotations}}}
spec: {{resourceGroup: rg}}
"
        );
        for b in backends {
            c += &format!(
                "---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: {profile}-{b}, namespace: shop}}
spec: {{profile: {{name: {profile}}}, backend: {{name: {b}}}, weight: 1}}
"
            );
        }
    }
    for b in ["web-east", "web-west", "web-north", "api"] {
        c += &format!(
            "---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata:
  name: {b}
  namespace: shop
  annotations: {{fleetdns.io/always-serve: \"true\"}}
"
        );
    }
    c
}

fn fleetdns(args: &[&str]) -> String {
    let out = Command::new(fixtures::BIN)
        .args(args)
        .output()
        .expect("run fleetdns");
    assert!(
        out.status.success(),
        "fleetdns {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `program` in `dir`; panics with its output when it fails.
fn run_in(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg("20")
        .arg(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}; apt-get install ldnsutils):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `zone` (`.` for the root) keyed with ldns-keygen and signed with
/// ldns-signzone (NSEC); returns the signed text and the DS line.
fn ldns_signed(dir: &Path, zone: &str, text: &str) -> (String, String) {
    let base = run_in(dir, "ldns-keygen", &["-a", "ECDSAP256SHA256", "-k", zone]);
    let base = base.trim();
    let file = format!("{}.zone", if zone == "." { "root" } else { zone });
    std::fs::write(dir.join(&file), text).expect("write zone");
    run_in(dir, "ldns-signzone", &["-o", zone, &file, base]);
    let signed = std::fs::read_to_string(dir.join(format!("{file}.signed"))).expect("signed zone");
    let ds = std::fs::read_to_string(dir.join(format!("{base}.ds"))).expect("ds file");
    (signed, ds.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The parts of a dig reply the test judges.
struct Reply {
    status: String,
    ad: bool,
    /// Answer section lines as (type, data).
    answer: Vec<(String, String)>,
    raw: String,
}

fn dig(server: &str, name: &str, qtype: &str, extra: &[&str]) -> Reply {
    let at = format!("@{server}");
    let mut args = vec![
        at.as_str(),
        "+time=3",
        "+tries=2",
        "+nocookie",
        "+dnssec",
        name,
        qtype,
    ];
    args.extend_from_slice(extra);
    let raw = tools::run("dig", &args);
    let status = raw
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("")
        .to_string();
    let ad = raw
        .lines()
        .find_map(|l| l.strip_prefix(";; flags: "))
        .is_some_and(|f| {
            f.split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .any(|x| x == "ad")
        });
    let mut answer = Vec::new();
    let mut in_answer = false;
    for line in raw.lines() {
        if line.starts_with(";; ANSWER SECTION") {
            in_answer = true;
        } else if line.trim().is_empty() {
            in_answer = false;
        } else if in_answer && !line.starts_with(';') {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() >= 5 {
                answer.push((f[3].to_string(), f[4..].join(" ")));
            }
        }
    }
    Reply {
        status,
        ad,
        answer,
        raw,
    }
}

#[test]
fn dnssec_signed_zone_validates_through_a_signed_chain() {
    let dir = scratch_dir("dnssec");
    let keys = dir.join("keys");
    let forged_keys = dir.join("forged-keys");
    let other_keys = dir.join("other-keys");
    for d in [&keys, &forged_keys, &other_keys] {
        std::fs::create_dir_all(d).expect("key dir");
    }
    let keygen = |zone: &str, d: &Path| {
        fleetdns(&[
            "dnssec",
            "keygen",
            "--zone",
            zone,
            "--dir",
            d.to_str().expect("utf-8"),
        ]);
    };
    keygen(ZONE, &keys);
    // The forged zone is served with one key while the parent holds the DS of another.
    keygen(FORGED, &forged_keys);
    keygen(FORGED, &other_keys);

    let fleet = config(ZONE, &[(21, "ns1"), (22, "ns2")], &keys);
    let r1 = replica(&fleet, ip(OCTET, 21));
    let _r2 = replica(&fleet, ip(OCTET, 22));
    let _forged = replica(&config(FORGED, &[(23, "ns1")], &forged_keys), ip(OCTET, 23));
    let ds = fleetdns(&[
        "dnssec",
        "ds",
        "--config",
        r1.config.to_str().expect("utf-8"),
    ]);
    let other = other_keys.to_str().expect("utf-8");
    let forged_ds = fleetdns(&["dnssec", "ds", "--zone", FORGED, "--key-dir", other]);
    assert!(
        ds.contains(" IN DS ") && ds.contains(" 13 2 "),
        "fleetdns dnssec ds printed:\n{ds}"
    );

    let parent = ip(OCTET, 10);
    let mut parent_zone = format!(
        "$TTL 300
{PARENT}. IN SOA ns.{PARENT}. hostmaster.{PARENT}. 2026120501 3600 600 86400 60
{PARENT}. IN NS ns.{PARENT}.
ns.{PARENT}. IN A {parent}
{ZONE}. IN NS ns1.{ZONE}.
{ZONE}. IN NS ns2.{ZONE}.
ns1.{ZONE}. IN A {ns1}
ns2.{ZONE}. IN A {ns2}
{FORGED}. IN NS ns1.{FORGED}.
ns1.{FORGED}. IN A {ns3}
",
        ns1 = ip(OCTET, 21),
        ns2 = ip(OCTET, 22),
        ns3 = ip(OCTET, 23),
    );
    parent_zone += &ds;
    parent_zone += &forged_ds;
    let (parent_signed, parent_ds) = ldns_signed(&dir, PARENT, &parent_zone);
    let root = format!(
        "$TTL 3600
. IN SOA ns.{PARENT}. hostmaster.{PARENT}. 1 3600 600 86400 60
. IN NS ns.{PARENT}.
{PARENT}. IN NS ns.{PARENT}.
ns.{PARENT}. IN A {parent}
{parent_ds}
"
    );
    let (root_signed, root_ds) = ldns_signed(&dir, ".", &root);
    let _nsd = daemons::nsd(
        parent,
        &[
            Zone::new(".", &root_signed),
            Zone::new(PARENT, &parent_signed),
        ],
    );

    // One validating resolver per replica: a stub zone pins the fleet zone's server;
    // the DS still comes from the signed parent.
    let validating = |replica: u8| {
        format!(
            "    module-config: \"validator iterator\"\n    trust-anchor: \"{root_ds}\"\n    val-log-level: 2\nstub-zone:\n    name: \"{ZONE}\"\n    stub-addr: {}\nserver:\n",
            ip(OCTET, replica)
        )
    };
    let hints = root_hints(parent);
    let u1 = ip(OCTET, 2);
    let u2 = ip(OCTET, 3);
    let _unbound1 = daemons::unbound(u1, &hints, &validating(21));
    let _unbound2 = daemons::unbound(u2, &hints, &validating(22));

    let web = format!("shop-web.{ZONE}.");
    let multi = format!("shop-multi.{ZONE}.");
    let mut failures = Vec::new();
    let mut expect = |what: String, ok: bool, raw: &str| {
        if !ok {
            failures.push(format!("--- {what}\n{raw}"));
        }
    };
    for u in [u1, u2] {
        let u = u.to_string();
        let r = dig(&u, &web, "A", &[]);
        let a_ok = r
            .answer
            .iter()
            .any(|(t, d)| t == "A" && (d == "192.0.2.1" || d == "192.0.2.2"));
        expect(
            format!("{u}: weighted A is NOERROR with AD"),
            r.status == "NOERROR" && r.ad && a_ok,
            &r.raw,
        );
        // MultiValue: two of the three addresses, one precomputed signed subset.
        let r = dig(&u, &multi, "A", &[]);
        let mut addresses: Vec<&str> = r
            .answer
            .iter()
            .filter(|(t, _)| t == "A")
            .map(|(_, d)| d.as_str())
            .collect();
        addresses.sort();
        addresses.dedup();
        expect(
            format!("{u}: MultiValue A (two distinct addresses) is NOERROR with AD"),
            r.status == "NOERROR"
                && r.ad
                && addresses.len() == 2
                && addresses.iter().all(|a| a.starts_with("192.0.2.")),
            &r.raw,
        );
        let r = dig(&u, &format!("nx.{ZONE}."), "A", &[]);
        expect(
            format!("{u}: NXDOMAIN with AD"),
            r.status == "NXDOMAIN" && r.ad,
            &r.raw,
        );
        let r = dig(&u, &web, "AAAA", &[]);
        expect(
            format!("{u}: NODATA with AD"),
            r.status == "NOERROR" && r.ad && r.answer.iter().all(|(t, _)| t != "AAAA"),
            &r.raw,
        );
        let r = dig(&u, &format!("{ZONE}."), "SOA", &[]);
        expect(
            format!("{u}: apex SOA with AD"),
            r.status == "NOERROR" && r.ad && r.answer.iter().any(|(t, _)| t == "SOA"),
            &r.raw,
        );
        let r = dig(&u, &format!("shop-api.{ZONE}."), "A", &[]);
        expect(
            format!("{u}: CNAME answer with AD"),
            r.ad && r
                .answer
                .iter()
                .any(|(t, d)| t == "CNAME" && d == "api.east.example.net."),
            &r.raw,
        );
        // The empty non-terminal above the per-cluster names (loopback is trusted).
        let r = dig(&u, &format!("_cluster.shop-web.{ZONE}."), "A", &[]);
        expect(
            format!("{u}: empty non-terminal NODATA with AD"),
            r.status == "NOERROR" && r.ad && r.answer.is_empty(),
            &r.raw,
        );
        let r = dig(&u, &format!("_health.shop-web.{ZONE}."), "TXT", &[]);
        expect(
            format!("{u}: signed health view with AD"),
            r.status == "NOERROR"
                && r.ad
                && r.answer
                    .iter()
                    .any(|(t, d)| t == "TXT" && d.contains("signed=as-compiled")),
            &r.raw,
        );
        let r = dig(&u, &format!("www.{FORGED}."), "A", &[]);
        expect(
            format!("{u}: zone signed with a key the parent's DS does not name is SERVFAIL"),
            r.status == "SERVFAIL",
            &r.raw,
        );
    }

    // Straight from the replicas: the RRSIGs are there for DO=1 and only then.
    let mut multi_sets = std::collections::BTreeSet::new();
    for replica in [ip(OCTET, 21), ip(OCTET, 22)] {
        let s = replica.to_string();
        let r = dig(&s, &web, "A", &["+norec"]);
        expect(
            format!("dig +dnssec @{s}: A and its RRSIG"),
            r.answer
                .iter()
                .any(|(t, d)| t == "RRSIG" && d.starts_with("A 13 ")),
            &r.raw,
        );
        let plain = tools::run("dig", &[&format!("@{s}"), "+norec", "+nocookie", &web, "A"]);
        expect(
            format!("dig @{s} without +dnssec: no RRSIG"),
            !plain.contains("RRSIG"),
            &plain,
        );
        let k = tools::run(
            "kdig",
            &[&format!("@{s}"), "+dnssec", "+norec", "+time=3", &web, "A"],
        );
        expect(
            format!("kdig +dnssec @{s}: RRSIG A"),
            k.contains("RRSIG\tA 13") || k.contains("RRSIG A 13"),
            &k,
        );
        // MultiValue, DO=1: two distinct addresses and one RRSIG over them, per answer.
        for _ in 0..20 {
            let r = dig(&s, &multi, "A", &["+norec"]);
            let mut set: Vec<String> = r
                .answer
                .iter()
                .filter(|(t, _)| t == "A")
                .map(|(_, d)| d.clone())
                .collect();
            set.sort();
            set.dedup();
            let sigs = r.answer.iter().filter(|(t, _)| t == "RRSIG").count();
            expect(
                format!("dig +dnssec @{s} {multi}: two distinct A and one RRSIG"),
                set.len() == 2 && sigs == 1,
                &r.raw,
            );
            multi_sets.insert(set);
        }
    }
    expect(
        format!("both replicas serve several signed MultiValue subsets: {multi_sets:?}"),
        multi_sets.len() > 1,
        "",
    );

    // delv validates itself from the root's trust anchor, through unbound.
    let f: Vec<&str> = root_ds.split_whitespace().collect();
    let anchors = format!(
        "trust-anchors {{ \".\" static-ds {} {} {} \"{}\"; }};\n",
        f[3], f[4], f[5], f[6]
    );
    let anchor_file = dir.join("anchors.conf");
    std::fs::write(&anchor_file, anchors).expect("anchors");
    let delv = tools::run(
        "delv",
        &[
            &format!("@{u1}"),
            "-a",
            anchor_file.to_str().expect("utf-8"),
            "+root=.",
            &web,
            "A",
        ],
    );
    expect(
        "delv: fully validated".into(),
        delv.contains("; fully validated") && delv.contains("192.0.2."),
        &delv,
    );
    // And a MultiValue answer: two records under one RRSIG made at signing time.
    let delv = tools::run(
        "delv",
        &[
            &format!("@{u1}"),
            "-a",
            anchor_file.to_str().expect("utf-8"),
            "+root=.",
            &multi,
            "A",
        ],
    );
    expect(
        "delv: MultiValue answer fully validated".into(),
        delv.contains("; fully validated")
            && delv
                .lines()
                .filter(|l| l.contains("\tA\t192.0.2.") || l.contains(" A 192.0.2."))
                .count()
                == 2,
        &delv,
    );

    zonemaster_dnssec(parent, &dir, &mut expect);
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// What zonemaster's DNSSEC module (engine 4.6.2, level DEBUG) must report:
/// signature lifetimes fine (DNSSEC04), algorithm 13 fine (DNSSEC05), answers
/// to DO=1 queries fine (DNSSEC06), DNSKEY in the zone and DS at the parent
/// (DNSSEC07), NSEC (DNSSEC10), CDS and CDNSKEY (DNSSEC15). DNSSEC02 (DS matches
/// a DNSKEY) reports only problems; none is seen as no ERROR.
const ZONEMASTER_REQUIRED: &[&str] = &[
    "DURATION_OK",
    "ALGORITHM_OK",
    "EXTRA_PROCESSING_OK",
    "DNSKEY_AND_DS",
    "DS10_HAS_NSEC",
    "DS15_HAS_CDS_AND_CDNSKEY",
];

/// zonemaster-cli's DNSSEC module on the fleet zone: no ERROR or CRITICAL, and
/// it saw the DS match a DNSKEY.
fn zonemaster_dnssec(
    parent: std::net::Ipv4Addr,
    dir: &Path,
    expect: &mut impl FnMut(String, bool, &str),
) {
    let hints = dir.join("root.hints");
    std::fs::write(&hints, root_hints(parent)).expect("hints");
    let out = tools::run(
        "zonemaster-cli",
        &[
            "--test",
            "DNSSEC",
            "--hints",
            hints.to_str().expect("utf-8"),
            "--no-ipv6",
            "--sourceaddr",
            "127.0.0.1",
            "--level",
            "DEBUG",
            "--json",
            "--no-progress",
            ZONE,
        ],
    );
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap_or_default();
    let bad: Vec<String> = entries
        .iter()
        .filter(|e| matches!(e["level"].as_str(), Some("ERROR" | "CRITICAL")))
        .map(|e| format!("{} {} {}", e["level"], e["tag"], e["args"]))
        .collect();
    let tags: Vec<&str> = entries.iter().filter_map(|e| e["tag"].as_str()).collect();
    let missing: Vec<&&str> = ZONEMASTER_REQUIRED
        .iter()
        .filter(|t| !tags.contains(t))
        .collect();
    expect(
        format!("zonemaster DNSSEC: no ERROR/CRITICAL (found {bad:?}) and the findings {ZONEMASTER_REQUIRED:?} (missing {missing:?})"),
        bad.is_empty() && missing.is_empty(),
        &out,
    );
}

/// Key files are secrets: a group- or world-readable `.private` is refused with
/// an error naming the file, its mode and the fix, and nothing of the key is
/// printed. A key for another zone is refused too.
#[test]
fn dnssec_key_files_are_checked_before_serving() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = scratch_dir("dnssec-keys");
    let d = dir.to_str().expect("utf-8");
    let base = fleetdns(&["dnssec", "keygen", "--zone", ZONE, "--dir", d]);
    let private = format!("{}.private", base.trim());
    let mode = std::fs::metadata(&private)
        .expect("private file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "keygen writes the private key 0600");
    let secret = std::fs::read_to_string(&private).expect("read private");
    let secret = secret
        .lines()
        .find_map(|l| l.strip_prefix("PrivateKey: "))
        .expect("PrivateKey line")
        .to_string();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let config_path = dir.join("fleet.yaml");
    std::fs::write(&config_path, config(ZONE, &[(21, "ns1")], &dir)).expect("config");
    let run = |args: &[&str]| {
        let out = Command::new(fixtures::BIN)
            .args(args)
            .output()
            .expect("run fleetdns");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let c = config_path.to_str().expect("utf-8");
    let (ok, err) = run(&[
        "serve",
        "-c",
        c,
        "-l",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
    ]);
    assert!(!ok, "serve must refuse a world-readable private key");
    for want in [private.as_str(), "mode 0644", "chmod 600"] {
        assert!(err.contains(want), "{want:?} missing from:\n{err}");
    }
    assert!(
        !err.contains(&secret),
        "the private key leaked into:\n{err}"
    );
    let (ok, err) = run(&["dnssec", "ds", "-c", c]);
    assert!(!ok && err.contains("mode 0644"), "{err}");

    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (ok, out) = run(&["dnssec", "ds", "--zone", "other.example", "--key-dir", d]);
    assert!(!ok && out.contains("no key for other.example."), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
