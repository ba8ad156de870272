//! Reloading with a `Loader`: each unchanged document's parse is reused, and the
//! result — the `Fleet` (its profiles, their order, the SOA serial) and every
//! diagnostic with its document and line — is exactly a cold load's of the same
//! text. The files are large enough to be parsed on several threads.

use std::path::Path;
use std::sync::Arc;

use fleetdns_config::file::{self, Loader};
use fleetdns_config::{Diagnostics, Fleet};

/// A config with `n` profiles, each with its backend, export and Service; two
/// profiles carry annotations, one export is scoped to a cluster, one backend
/// names a profile that does not exist (a warning-free file must not have it).
fn config(n: usize) -> String {
    let mut s = String::from(
        "# header\napiVersion: fleetdns.io/v1alpha1\nkind: FleetDNSConfig\nmetadata: {name: big}\nspec:\n  zone: reload.test\n  nameServers: [{name: ns1.reload.test, addresses: [192.0.2.53]}]\n  clusters:\n",
    );
    for c in ["c1", "c2"] {
        s.push_str(&format!("    - name: {c}\n      services:\n"));
        for i in 0..n {
            let last = if c == "c1" { 1 } else { 2 };
            s.push_str(&format!(
                "        - {{namespace: ns, name: s{i}, loadBalancer: [\"10.{last}.{}.{}\"]}}\n",
                i / 250,
                i % 250 + 1
            ));
        }
    }
    for i in 0..n {
        let ann = match i {
            3 => ", annotations: {fleetdns.io/ttl: \"17\"}",
            4 => ", annotations: {fleetdns.io/routing-method: MultiValue}",
            _ => "",
        };
        let scope = if i == 5 {
            ", annotations: {fleetdns.io/clusters: c2, networking.fleet.azure.com/weight: \"40\"}"
        } else {
            ""
        };
        s.push_str(&format!(
            "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {{name: p{i}, namespace: ns{ann}}}\nspec: {{resourceGroup: rg}}\n---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerBackend\nmetadata: {{name: p{i}, namespace: ns}}\nspec: {{profile: {{name: p{i}}}, backend: {{name: s{i}}}, weight: {}}}\n---\napiVersion: networking.fleet.azure.com/v1alpha1\nkind: ServiceExport\nmetadata: {{name: s{i}, namespace: ns{scope}}}\n",
            i % 7 + 1
        ));
    }
    s
}

fn cold(text: &str) -> Result<(Fleet, Diagnostics), Diagnostics> {
    file::load_shared(Path::new("r.yaml"), Arc::from(text), &mut |_| {})
}

fn kept(loader: &mut Loader, text: &str) -> Result<(Fleet, Diagnostics), Diagnostics> {
    loader.load(Path::new("r.yaml"), Arc::from(text), &mut |_| {})
}

/// `text` with `from` replaced once by `to` (which must be there).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the config");
    text.replacen(from, to, 1)
}

#[test]
fn reload_cached_fleet_is_the_cold_fleet_after_edits() {
    let n = 400;
    let base = config(n);
    let mut loader = Loader::default();
    let (first, _) = kept(&mut loader, &base).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(first, cold(&base).expect("valid").0);
    assert_eq!(loader.kept_documents(), 1 + 3 * n);

    // One profile's document: a TTL annotation (its parse is new, the rest reused).
    let profile = edit(
        &base,
        "metadata: {name: p9, namespace: ns}\nspec: {resourceGroup: rg}",
        "metadata: {name: p9, namespace: ns, annotations: {fleetdns.io/ttl: \"5\"}}\nspec: {resourceGroup: rg}",
    );
    // One Service's address, in the settings document.
    let service = edit(
        &profile,
        "name: s11, loadBalancer: [\"10.1.0.12\"]",
        "name: s11, loadBalancer: [\"10.9.9.9\"]",
    );
    // A backend's weight, a document inserted near the top (every later document
    // moves: index and lines), and a profile removed with its backend.
    let moved = edit(
        &service,
        "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {name: p0,",
        "---\n# a comment-only document is not counted\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {name: p0,",
    );
    let moved = edit(
        &moved,
        "backend: {name: s20}, weight: 7",
        "backend: {name: s20}, weight: 2",
    );
    let moved = edit(
        &moved,
        "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {name: p30, namespace: ns}\nspec: {resourceGroup: rg}\n---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerBackend\nmetadata: {name: p30, namespace: ns}\nspec: {profile: {name: p30}, backend: {name: s30}, weight: 3}\n",
        "",
    );
    let mut serials = vec![first.zone.soa.serial];
    for text in [&profile, &service, &moved, &base] {
        let (fleet, diags) = kept(&mut loader, text).unwrap_or_else(|d| panic!("{d}"));
        let (want, want_diags) = cold(text).expect("valid");
        assert_eq!(fleet, want, "the cached reload differs from a cold load");
        assert_eq!(diags, want_diags);
        let owners: Vec<&str> = fleet.profiles.iter().map(|p| p.owner.as_str()).collect();
        let want_owners: Vec<&str> = want.profiles.iter().map(|p| p.owner.as_str()).collect();
        assert_eq!(owners, want_owners);
        serials.push(fleet.zone.soa.serial);
    }
    // Each edit changed the content, so the serial; the last load is the first text.
    assert_eq!(serials.first(), serials.last());
    let mut distinct = serials[..4].to_vec();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{serials:?}");
    let p9 = first.profiles.iter().find(|p| p.name == "p9").expect("p9");
    assert_ne!(p9.ttl, 5);
}

#[test]
fn reload_cached_broken_file_reports_what_a_cold_load_reports_and_recovers() {
    let n = 300;
    let base = config(n);
    let mut loader = Loader::default();
    kept(&mut loader, &base).unwrap_or_else(|d| panic!("{d}"));
    // A line inserted at the top moves every document down; a reused profile is
    // now defined twice (its error names the moved line), another document is broken.
    let dup = "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {name: p7, namespace: ns}\nspec: {resourceGroup: rg}\n";
    let mut broken = format!("# moved\n{base}{dup}");
    broken = edit(
        &broken,
        "metadata: {name: p12, namespace: ns}\nspec: {resourceGroup: rg}",
        "metadata: {name: p12, namespace: ns}\nspec: {resourceGroup: rg, monitorConfig: {port: 99999}}",
    );
    let got = kept(&mut loader, &broken).expect_err("invalid");
    let want = cold(&broken).expect_err("invalid");
    assert_eq!(got, want);
    let text = got.to_string();
    assert!(text.contains("defined twice"), "{text}");
    assert!(text.contains("TrafficManagerProfile ns/p12"), "{text}");
    let dup_line = broken.lines().count() - 1;
    assert!(
        got.iter()
            .any(|d| d.message.contains("defined twice") && d.location.line == Some(dup_line)),
        "{text}"
    );
    // The next good file loads as it would cold.
    let (fleet, _) = kept(&mut loader, &base).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(fleet, cold(&base).expect("valid").0);
}

#[test]
fn parse_parallel_diagnostics_come_in_document_order() {
    // Many documents found broken while parsing (schema, YAML), across a file
    // parsed on several threads: their diagnostics are in document order, as one
    // thread would give them.
    let mut text = config(300);
    for i in 0..200 {
        text.push_str(&format!(
            "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {{name: bad{i}, namespace: ns}}\nspec: {{resourceGroup: rg, monitorConfig: {{protocol: FTP{i}}}}}\n---\nnot: [valid\n"
        ));
    }
    let diags = cold(&text).expect_err("invalid");
    let docs: Vec<usize> = diags.iter().filter_map(|d| d.location.document).collect();
    assert_eq!(docs.len(), 400, "{diags}");
    assert!(docs.windows(2).all(|w| w[0] < w[1]), "{docs:?}");
    let mut loader = Loader::default();
    assert_eq!(kept(&mut loader, &text).expect_err("invalid"), diags);
}

/// A `Loader` keeps a few dozen bytes a document and Service entry (text
/// hashes and the objects as differences from the one before), and reloads
/// that move kept records (a Service entry inserted or removed mid-list,
/// documents swapped) still give the cold load's fleet, each after the next.
#[test]
fn reload_keeps_little_and_moved_records_read_back() {
    let n = 1000;
    let base = config(n);
    let mut loader = Loader::default();
    kept(&mut loader, &base).unwrap_or_else(|d| panic!("{d}"));
    let items = loader.kept_documents() + 2 * n;
    assert!(
        loader.kept_bytes() < 40 * items,
        "{} bytes kept for {items} documents and Service entries",
        loader.kept_bytes()
    );
    let inserted = edit(
        &base,
        "        - {namespace: ns, name: s700, loadBalancer: [\"10.1.2.201\"]}\n",
        "        - {namespace: ns, name: s700, loadBalancer: [\"10.1.2.201\"]}\n        - {namespace: ns, name: extra, loadBalancer: [\"10.7.7.7\"]}\n",
    );
    let removed = edit(
        &inserted,
        "        - {namespace: ns, name: s20, loadBalancer: [\"10.2.0.21\"]}\n",
        "",
    );
    let p5 = "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {name: p5, namespace: ns}\nspec: {resourceGroup: rg}\n";
    let swapped = edit(&removed, p5, "");
    let swapped = edit(
        &swapped,
        "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {name: p900,",
        &format!("{p5}---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {{name: p900,"),
    );
    let steps = [
        (&inserted, Some(1)),
        (&inserted, None),
        (&removed, Some(0)),
        (&swapped, None),
        (&base, Some(1)),
    ];
    for (i, (text, parsed)) in steps.into_iter().enumerate() {
        let (fleet, diags) = kept(&mut loader, text).unwrap_or_else(|d| panic!("{d}"));
        let (want, want_diags) = cold(text).expect("valid");
        assert_eq!(
            fleet, want,
            "step {i}: the cached reload differs from a cold load"
        );
        assert_eq!(diags, want_diags, "step {i}");
        assert_eq!(loader.last_parsed_service_entries(), parsed, "step {i}");
        assert!(loader.kept_bytes() < 40 * items, "step {i}");
    }
}
