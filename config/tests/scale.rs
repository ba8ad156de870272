//! Loading at scale: a settings document too large to build as a YAML value tree
//! is decoded straight into its struct and judged as before; progress is reported
//! (split, parsed, validated); documents share the file's text.

use std::path::Path;
use std::sync::Arc;

use fleetdns_config::file::{self, Progress};

/// A config with `n` profiles, each with its own Service in one cluster.
fn config(n: usize, bad_service: Option<usize>) -> String {
    let mut s = String::from(
        "apiVersion: fleetdns.io/v1alpha1\nkind: FleetDNSConfig\nmetadata: {name: big}\nspec:\n  zone: scale.test\n  nameServers: [{name: ns1.scale.test, addresses: [192.0.2.53]}]\n  clusters:\n    - name: c1\n      services:\n",
    );
    for i in 0..n {
        let lb = if bad_service == Some(i) {
            "{oops: 1}".to_string()
        } else {
            format!("[\"10.0.{}.{}\"]", i / 250, i % 250 + 1)
        };
        s.push_str(&format!(
            "        - {{namespace: ns, name: s{i}, loadBalancer: {lb}}}\n"
        ));
    }
    for i in 0..n {
        s.push_str(&format!(
            "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {{name: p{i}, namespace: ns}}\nspec: {{resourceGroup: rg}}\n---\r\napiVersion: networking.fleet.azure.com/v1beta1\r\nkind: TrafficManagerBackend\r\nmetadata: {{name: p{i}, namespace: ns}}\r\nspec: {{profile: {{name: p{i}}}, backend: {{name: s{i}}}}}\r\n--- \napiVersion: networking.fleet.azure.com/v1beta1\nkind: ServiceExport\nmetadata: {{name: s{i}, namespace: ns}}\n"
        ));
    }
    s
}

#[test]
fn scale_large_settings_document_loads_with_progress() {
    // 2,000 Services make the settings document larger than the size from which it
    // is decoded without a value tree.
    let n = 2_000;
    let text = config(n, None);
    let mut seen = Vec::new();
    let (fleet, diags) = file::load_shared(Path::new("big.yaml"), Arc::from(text), &mut |p| {
        seen.push(p)
    })
    .unwrap_or_else(|d| panic!("{d}"));
    assert!(!diags.has_errors());
    assert_eq!(fleet.profiles.len(), n);
    let p7 = fleet.profiles.iter().find(|p| p.name == "p7").expect("p7");
    assert_eq!(p7.owner, "ns-p7.scale.test");
    assert_eq!(p7.endpoints.len(), 1);
    assert_eq!(p7.endpoints[0].target.to_string(), "10.0.0.8");
    let documents = 1 + 3 * n;
    assert_eq!(seen.first(), Some(&Progress::Split { documents }));
    assert!(seen.contains(&Progress::Parsed {
        parsed: documents,
        documents
    }));
    assert_eq!(
        seen.last(),
        Some(&Progress::Validated {
            profiles: n,
            endpoints: n,
            incremental: false,
        })
    );
}

#[test]
fn scale_large_settings_document_errors_name_object_and_line() {
    let n = 2_000;
    let text = config(n, Some(1_500));
    let diags = file::load_str(Path::new("big.yaml"), &text).expect_err("a bad loadBalancer");
    let e = diags.errors().next().expect("an error");
    let shown = e.to_string();
    assert!(shown.contains("FleetDNSConfig big"), "{shown}");
    // Header lines (9) plus the Services before the bad one.
    assert_eq!(e.location.line, Some(10 + 1_500), "{shown}");
}

#[test]
fn scale_same_fleet_from_str_and_shared_text() {
    let text = config(50, None);
    let (a, _) = file::load_str(Path::new("f.yaml"), &text).unwrap_or_else(|d| panic!("{d}"));
    let (b, _) = file::load_shared(Path::new("f.yaml"), Arc::from(text.as_str()), &mut |_| {})
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(a, b);
    assert_eq!(a.profiles.len(), 50);
}
