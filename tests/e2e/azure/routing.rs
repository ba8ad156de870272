//! The mirror with routing methods (`routing_method_mirror_*`): Priority and
//! MultiValue mapped to Traffic Manager's `trafficRoutingMethod`, `priority` and
//! `maxReturn` (validated by the emulator as Traffic Manager's rules say), and
//! refused clearly where Traffic Manager cannot follow, while DNS answers go on.

use std::time::Duration;

use fleetdns_testsupport::dns;
use hickory_proto::rr::RecordType;
use serde_json::Value;

use super::{endpoint, endpoint_name, endpoints, profile_name, run_cli, wait_reason, Auth, World};

const PROFILE: &str = "metadata: {name: web, namespace: ns}";

/// `World::config` with annotations on the profile and on the backends.
fn annotated(w: &World, svc_exports: &[&str], profile: &str, svc: &str, api: &str) -> String {
    w.config(10, svc_exports)
        .replace(
            PROFILE,
            &format!("metadata: {{name: web, namespace: ns, annotations: {{{profile}}}}}"),
        )
        .replace(
            "metadata: {name: web-svc, namespace: ns}",
            &format!("metadata: {{name: web-svc, namespace: ns, annotations: {{{svc}}}}}"),
        )
        .replace(
            "metadata: {name: web-api, namespace: ns}",
            &format!("metadata: {{name: web-api, namespace: ns, annotations: {{{api}}}}}"),
        )
}

fn once(w: &World, config: &str) -> (bool, Value) {
    let path = w.dir.join("fleet.yaml");
    std::fs::write(&path, config).unwrap();
    let out = run_cli(&["azure-sync", "--once"], &path);
    let status = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), status)
}

#[test]
fn routing_method_mirror_priority_maps_priorities_and_refuses_shared_ones() {
    let w = World::new(Auth::ClientSecret, 300);
    let prio = "fleetdns.io/routing-method: Priority";
    // svc from c1 only (priority 1), api (priority 2): Traffic Manager can follow.
    let config = annotated(
        &w,
        &["c1"],
        prio,
        "fleetdns.io/priority: '1'",
        "fleetdns.io/priority: '2'",
    );
    let (ok, status) = once(&w, &config);
    assert!(ok, "{status:#}");
    assert_eq!(
        status["profiles"]["ns/web"]["programmed"]["reason"],
        "Programmed"
    );
    let p = w.emu.profile(&profile_name()).expect("profile");
    assert_eq!(p["properties"]["trafficRoutingMethod"], "Priority");
    let prio_of = |name: &str| endpoint(&p, name).map(|e| e["properties"]["priority"].clone());
    assert_eq!(
        prio_of(&endpoint_name("web-svc", "svc", "c1")),
        Some(1.into())
    );
    assert_eq!(
        prio_of(&endpoint_name("web-api", "api", "c1")),
        Some(2.into())
    );
    assert!(
        w.emu.requests().iter().all(|l| l.invalid.is_empty()),
        "every request validates against the swagger"
    );

    // Swapping the priorities: one endpoint PUT at a time would pass through two
    // endpoints with one priority, which Traffic Manager refuses; the profile PUT
    // sets both at once.
    let swapped = annotated(
        &w,
        &["c1"],
        prio,
        "fleetdns.io/priority: '2'",
        "fleetdns.io/priority: '1'",
    );
    let (ok, status) = once(&w, &swapped);
    assert!(ok, "{status:#}");
    let p = w.emu.profile(&profile_name()).expect("profile");
    let prio_of = |name: &str| endpoint(&p, name).map(|e| e["properties"]["priority"].clone());
    assert_eq!(
        prio_of(&endpoint_name("web-svc", "svc", "c1")),
        Some(2.into())
    );
    assert_eq!(
        prio_of(&endpoint_name("web-api", "api", "c1")),
        Some(1.into())
    );

    // svc from c1 and c2: two endpoints share priority 1. Refused, clearly, and
    // DNS goes on answering (fleetdns shares them by weight).
    let config = annotated(
        &w,
        &["c1", "c2"],
        prio,
        "fleetdns.io/priority: '1'",
        "fleetdns.io/priority: '2'",
    );
    let f = w.start(&config);
    let s = wait_reason(&f, "Invalid", Duration::from_secs(20));
    let message = s["programmed"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("needs a distinct priority per endpoint")
            && message.contains("share priority 1"),
        "{s:#}"
    );
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let m = dns::udp(
            f.addr,
            "ns-web.tm.test.",
            RecordType::A,
            &dns::Opts::default(),
        );
        assert_eq!(m.answers.len(), 1, "answered while the mirror refuses");
        seen.insert(m.answers[0].data.to_string());
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["192.0.2.1", "192.0.2.2"],
        "priority 1 only, both clusters by weight"
    );
    // Nothing was written for the refused profile.
    let p2 = w.emu.profile(&profile_name()).expect("profile");
    assert_eq!(endpoints(&p2).len(), 2, "{p2:#}");
}

#[test]
fn routing_method_mirror_multivalue_sets_max_return_and_leaves_out_azure_and_host_endpoints() {
    let w = World::new(Auth::ClientSecret, 300);
    // First Weighted, as fleet-networking would have it: three endpoints, one of
    // them AzureEndpoints, one a host name.
    let (ok, status) = once(&w, &annotated(&w, &["c1", "c2"], "x: y", "x: y", "x: y"));
    assert!(ok, "{status:#}");
    assert_eq!(endpoints(&w.emu.profile(&profile_name()).unwrap()).len(), 3);
    // Then MultiValue: the profile PUT drops what MultiValue cannot take.
    let config = annotated(
        &w,
        &["c1", "c2"],
        "fleetdns.io/routing-method: MultiValue, fleetdns.io/max-return: '4'",
        "x: y",
        "x: y",
    );
    let (ok, status) = once(&w, &config);
    assert!(ok, "the profile is programmed: {status:#}");
    let p = w.emu.profile(&profile_name()).expect("profile");
    assert_eq!(p["properties"]["trafficRoutingMethod"], "MultiValue");
    assert_eq!(p["properties"]["maxReturn"], 4);
    let names: Vec<String> = endpoints(&p)
        .iter()
        .map(|e| e["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        names,
        [endpoint_name("web-svc", "svc", "c1")],
        "only the external IPv4 endpoint"
    );
    let svc = &status["backends"]["ns/web-svc"];
    let api = &status["backends"]["ns/web-api"];
    let text = |v: &Value| v.to_string();
    assert!(
        text(svc).contains("AzureEndpoints endpoint (the Service's public IP resource) is not supported by MultiValue routing"),
        "{svc:#}"
    );
    assert!(
        text(api).contains("host name api1.example.net is not supported by MultiValue routing"),
        "{api:#}"
    );
    assert!(w.emu.requests().iter().all(|l| l.invalid.is_empty()));
}
