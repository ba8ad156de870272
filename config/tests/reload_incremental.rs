//! Reloading with a `Loader` after a load with no diagnostic: only the profiles
//! an edit can touch are validated again, the rest are the last fleet's. Every
//! reload here is compared with a cold load of the same text (fleet, serial,
//! diagnostics, errors), and each step states whether it must have taken the
//! incremental path (a local edit) or validated everything (a finding, a
//! non-local edit, the load after a broken one).

use std::path::Path;
use std::sync::Arc;

use fleetdns_config::file::{self, Loader};

/// `n` profiles in namespace `ns`, each with its backend, export and a Service
/// in both clusters. The settings document is padded with comments to be read
/// as a large one (its Service entries parsed one by one on a reload).
fn config(n: usize) -> String {
    let mut s = String::from(
        "apiVersion: fleetdns.io/v1alpha1\nkind: FleetDNSConfig\nmetadata: {name: inc}\nspec:\n  zone: inc.test\n  nameServers: [{name: ns1.inc.test, addresses: [192.0.2.53]}]\n",
    );
    for _ in 0..1200 {
        s.push_str("  # padding: a large settings document is read entry by entry\n");
    }
    s.push_str("  clusters:\n");
    for (c, last) in [("c1", 1), ("c2", 2)] {
        s.push_str(&format!("    - name: {c}\n      services:\n"));
        for i in 0..n {
            s.push_str(&format!(
                "        - {{namespace: ns, name: s{i}, loadBalancer: [\"10.{last}.{}.{}\"]}}\n",
                i / 250,
                i % 250 + 1
            ));
        }
    }
    for i in 0..n {
        s.push_str(&object(&format!("p{i}"), &format!("s{i}"), i % 7 + 1));
    }
    s
}

/// A profile, its backend (named as the profile) and the export of `service`.
fn object(profile: &str, service: &str, weight: usize) -> String {
    format!(
        "{}---\napiVersion: networking.fleet.azure.com/v1alpha1\nkind: ServiceExport\nmetadata: {{name: {service}, namespace: ns}}\n",
        profile_and_backend(profile, service, weight)
    )
}

/// A profile and its backend (named as the profile) on `service`.
fn profile_and_backend(profile: &str, service: &str, weight: usize) -> String {
    format!(
        "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {{name: {profile}, namespace: ns}}\nspec: {{resourceGroup: rg}}\n---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerBackend\nmetadata: {{name: {profile}, namespace: ns}}\nspec: {{profile: {{name: {profile}}}, backend: {{name: {service}}}, weight: {weight}}}\n"
    )
}

/// `text` with `from` replaced once by `to` (which must be there).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the config");
    text.replacen(from, to, 1)
}

/// Loads `text` with `loader` and cold; they must agree, and the loader must
/// have validated incrementally exactly when `incremental`.
fn step(loader: &mut Loader, what: &str, text: &str, incremental: bool) {
    let got = loader.load(Path::new("i.yaml"), Arc::from(text), &mut |_| {});
    let want = file::load_shared(Path::new("i.yaml"), Arc::from(text), &mut |_| {});
    assert_eq!(got, want, "{what}: the reload differs from a cold load");
    if let Ok((fleet, _)) = &got {
        let owners: Vec<&str> = fleet.profiles.iter().map(|p| p.owner.as_str()).collect();
        assert!(
            owners.windows(2).all(|w| w[0] < w[1]),
            "{what}: owner order"
        );
    }
    assert_eq!(
        loader.last_was_incremental(),
        incremental,
        "{what}: incremental path taken or not"
    );
}

#[test]
fn reload_incremental_edits_give_the_cold_fleet() {
    let base = config(300);
    let mut loader = Loader::default();
    step(&mut loader, "first load", &base, false);
    let (first, diags) = file::load_str(Path::new("i.yaml"), &base).expect("valid");
    assert!(
        diags.0.is_empty(),
        "the base config has no finding: {diags}"
    );

    let t = edit(&base, "metadata: {name: p9, namespace: ns}\nspec: {resourceGroup: rg}", "metadata: {name: p9, namespace: ns, annotations: {fleetdns.io/ttl: \"5\"}}\nspec: {resourceGroup: rg}");
    step(&mut loader, "profile annotation", &t, true);
    let t = edit(
        &t,
        "backend: {name: s20}, weight: 7",
        "backend: {name: s20}, weight: 2",
    );
    step(&mut loader, "backend weight", &t, true);
    let t = edit(&t, "metadata: {name: s21, namespace: ns}\n", "metadata: {name: s21, namespace: ns, annotations: {networking.fleet.azure.com/weight: \"30\"}}\n");
    step(&mut loader, "export weight", &t, true);
    let t = edit(
        &t,
        "name: s11, loadBalancer: [\"10.1.0.12\"]",
        "name: s11, loadBalancer: [\"10.9.9.9\"]",
    );
    step(&mut loader, "service address", &t, true);
    assert_eq!(loader.last_parsed_service_entries(), Some(1));
    let t = edit(
        &t,
        "        - {namespace: ns, name: s12, loadBalancer: [\"10.2.0.13\"]}\n",
        "",
    );
    step(&mut loader, "service removed from one cluster", &t, true);
    assert_eq!(loader.last_parsed_service_entries(), Some(0));
    let t = edit(
        &t,
        "    - name: c2\n",
        "        - {namespace: ns, name: s-new, loadBalancer: [\"10.7.0.1\"]}\n    - name: c2\n",
    );
    let t = format!("{t}{}", object("p-new", "s-new", 3));
    step(&mut loader, "objects and a service added", &t, true);
    assert_eq!(loader.last_parsed_service_entries(), Some(1));
    let p30 = object("p30", "s30", 30 % 7 + 1);
    let t = edit(&t, &p30, "");
    step(&mut loader, "profile, backend and export removed", &t, true);
    let t = format!("# moved\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n{t}");
    // The ignored ConfigMap is a note: everything is validated.
    step(&mut loader, "a note", &t, false);
    let t = edit(
        &t,
        "# moved\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        "",
    );
    step(&mut loader, "after a note", &t, false);
    step(&mut loader, "unchanged", &t, true);

    // A profile removed while its backend stays: an error, then fixed.
    let good = t.clone();
    let t = edit(&good, "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {name: p40, namespace: ns}\nspec: {resourceGroup: rg}\n", "");
    step(&mut loader, "backend without profile", &t, false);
    step(&mut loader, "fixed", &good, false);
    // Owner names: ns/q-1 and ns-q/1 both map to ns-q-1.
    let t = format!("{good}{}", profile_and_backend("q-1", "s1", 1));
    step(&mut loader, "a second profile on a Service", &t, true);
    let clash = "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {name: \"1\", namespace: ns-q}\nspec: {resourceGroup: rg}\n";
    step(
        &mut loader,
        "owner name clash",
        &format!("{t}{clash}"),
        false,
    );
    step(&mut loader, "after the clash", &t, false);
    // A backend with a kept backend's name, for another profile.
    let twin = "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerBackend\nmetadata: {name: p5, namespace: ns}\nspec: {profile: {name: p6}, backend: {name: s6}, weight: 1}\n";
    step(
        &mut loader,
        "backend name twice",
        &format!("{t}{twin}"),
        false,
    );
    step(&mut loader, "after the twin", &t, false);
    // A profile defined twice (same name, a reused and a new document).
    let again = "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {name: p8, namespace: ns, annotations: {fleetdns.io/ttl: \"9\"}}\nspec: {resourceGroup: rg}\n";
    step(&mut loader, "profile twice", &format!("{t}{again}"), false);
    step(&mut loader, "after the profile twice", &t, false);
    // A Service listed twice in one cluster.
    let dup = edit(
        &t,
        "    - name: c2\n",
        "        - {namespace: ns, name: s3, loadBalancer: [\"10.7.0.3\"]}\n    - name: c2\n",
    );
    step(&mut loader, "service twice", &dup, false);
    step(&mut loader, "after the service twice", &t, false);
    // A bad address and a bad annotation found by the incremental validation.
    let bad = edit(
        &t,
        "name: s14, loadBalancer: [\"10.1.0.15\"]",
        "name: s14, loadBalancer: [\"not an address!\"]",
    );
    step(&mut loader, "bad address", &bad, false);
    assert_eq!(loader.last_parsed_service_entries(), Some(1));
    step(&mut loader, "after the bad address", &t, false);
    let bad = edit(
        &t,
        "metadata: {name: p15, namespace: ns}\n",
        "metadata: {name: p15, namespace: ns, annotations: {fleetdns.io/ttl: \"x\"}}\n",
    );
    step(&mut loader, "bad ttl", &bad, false);
    step(&mut loader, "after the bad ttl", &t, false);
    // Entries that do not parse: the whole document is parsed, with its diagnostics.
    for (what, to) in [
        (
            "broken YAML in an entry",
            "name: s14, loadBalancer: [\"10.1.0.15\"",
        ),
        (
            "unknown field in an entry",
            "name: s14, loadBlancer: [\"10.1.0.15\"]",
        ),
        ("entry without its address", "name: s14"),
    ] {
        let bad = edit(&t, "name: s14, loadBalancer: [\"10.1.0.15\"]", to);
        step(&mut loader, what, &bad, false);
        assert_eq!(loader.last_parsed_service_entries(), None, "{what}");
        step(&mut loader, "fixed", &t, false);
    }
    // A Service in block style, with a comment line: the whole document is parsed
    // (and not indexed: the next load parses it whole too).
    let block = edit(&t, "        - {namespace: ns, name: s17, loadBalancer: [\"10.1.0.18\"]}\n", "        - namespace: ns\n          # block style\n          name: s17\n          loadBalancer:\n            - \"10.1.0.18\"\n");
    step(&mut loader, "block style with a comment", &block, true);
    assert_eq!(loader.last_parsed_service_entries(), None);
    let block = edit(&block, "          # block style\n", "");
    step(&mut loader, "block style", &block, true);
    assert_eq!(loader.last_parsed_service_entries(), None);
    let block = edit(
        &block,
        "            - \"10.1.0.18\"\n",
        "            - \"10.1.0.19\"\n",
    );
    step(&mut loader, "block style edited", &block, true);
    assert_eq!(loader.last_parsed_service_entries(), Some(1));
    // An export whose Service no cluster runs: a warning, the fleet still loads.
    let warn = format!("{t}---\napiVersion: networking.fleet.azure.com/v1alpha1\nkind: ServiceExport\nmetadata: {{name: nowhere, namespace: ns}}\n");
    step(&mut loader, "export of no Service", &warn, false);
    step(&mut loader, "after the warning", &t, false);
    // A Service's address removed from one cluster's entry: the export still runs in c2.
    let t = edit(
        &t,
        "name: s16, loadBalancer: [\"10.1.0.17\"]",
        "name: s16, loadBalancer: [\"10.1.0.17\", \"fd00::17\"]",
    );
    step(&mut loader, "service gets an IPv6 address", &t, true);
    // Settings other than Services: everything is validated.
    let t = edit(&t, "  zone: inc.test\n", "  zone: inc.test\n  ttl: 45\n");
    step(&mut loader, "zone ttl", &t, false);
    step(&mut loader, "unchanged again", &t, true);
    // Back to the first text (without the zone TTL: everything is validated),
    // then once more: the first fleet and serial.
    step(&mut loader, "restored", &base, false);
    let (fleet, _) = loader
        .load(Path::new("i.yaml"), Arc::from(base.as_str()), &mut |_| {})
        .expect("valid");
    assert!(loader.last_was_incremental());
    assert_eq!(fleet, first);
}
