//! The routing-method annotations: accepted values, defaults, and errors that
//! name file, document, line, object, field and what is accepted.

use std::path::Path;

use fleetdns_config::routing::{DEFAULT_PRIORITY, MAX_RETURN_ANNOTATION};
use fleetdns_config::{file, Diagnostic, Diagnostics, RoutingMethod, Severity};

const SETTINGS: &str = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.example.com
  nameServers:
    - {name: ns1.fleet.example.com, addresses: [127.0.0.1]}
  clusters:
    - name: member-1
      services:
        - {namespace: demo, name: primary, loadBalancer: ['192.0.2.1']}
        - {namespace: demo, name: secondary, loadBalancer: ['192.0.2.2']}
        - {namespace: demo, name: named, loadBalancer: ['svc.example.net']}
";

fn profile(annotations: &str) -> String {
    format!(
        "apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata:
  name: web
  namespace: demo
  annotations:
    x: \"y\"
{annotations}spec:
  resourceGroup: rg
"
    )
}

fn backend(name: &str, service: &str, annotations: &str) -> String {
    format!(
        "apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata:
  name: {name}
  namespace: demo
  annotations:
    x: \"y\"
{annotations}spec:
  profile: {{name: web}}
  backend: {{name: {service}}}
  weight: 10
"
    )
}

fn export(name: &str) -> String {
    format!(
        "apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata:
  name: {name}
  namespace: demo
"
    )
}

fn file_with(profile_annotations: &str, primary: &str, secondary: &str) -> String {
    [
        SETTINGS.to_string(),
        profile(profile_annotations),
        backend("b1", "primary", primary),
        backend("b2", "secondary", secondary),
        export("primary"),
        export("secondary"),
    ]
    .iter()
    .map(|d| format!("---\n{d}"))
    .collect()
}

fn load(text: &str) -> Result<(fleetdns_config::Fleet, Diagnostics), Diagnostics> {
    file::load_str(Path::new("fleet.yaml"), text)
}

fn the_error(text: &str, field: &str) -> Diagnostic {
    let Err(Diagnostics(d)) = load(text) else {
        panic!("expected errors");
    };
    d.into_iter()
        .find(|d| d.is_error() && d.field.as_deref() == Some(field))
        .unwrap_or_else(|| panic!("no error on {field}"))
}

#[test]
fn routing_method_defaults_to_weighted_and_reads_each_method() {
    let (fleet, _) = load(&file_with("", "", "")).expect("valid");
    assert_eq!(fleet.profiles[0].routing, RoutingMethod::Weighted);
    assert!(fleet.profiles[0]
        .endpoints
        .iter()
        .all(|e| e.priority == DEFAULT_PRIORITY));

    let (fleet, _) = load(&file_with(
        "    fleetdns.io/routing-method: MultiValue\n",
        "",
        "",
    ))
    .expect("valid");
    assert_eq!(
        fleet.profiles[0].routing,
        RoutingMethod::MultiValue { max_return: 3 },
        "max-return defaults to 3"
    );

    let (fleet, _) = load(&file_with(
        "    fleetdns.io/routing-method: MultiValue\n    fleetdns.io/max-return: \"8\"\n",
        "",
        "",
    ))
    .expect("valid");
    assert_eq!(
        fleet.profiles[0].routing,
        RoutingMethod::MultiValue { max_return: 8 }
    );

    let (fleet, _) = load(&file_with(
        "    fleetdns.io/routing-method: Priority\n",
        "    fleetdns.io/priority: \"1\"\n",
        "",
    ))
    .expect("valid");
    let p = &fleet.profiles[0];
    assert_eq!(p.routing, RoutingMethod::Priority);
    let prio: Vec<(&str, u32)> = p
        .endpoints
        .iter()
        .map(|e| (&*e.backend, e.priority))
        .collect();
    assert_eq!(prio, [("b1", 1), ("b2", DEFAULT_PRIORITY)]);
}

#[test]
fn routing_method_outside_the_three_is_an_error_naming_the_accepted_values() {
    let text = file_with("    fleetdns.io/routing-method: Performance\n", "", "");
    let d = the_error(
        &text,
        "metadata.annotations[\"fleetdns.io/routing-method\"]",
    );
    let shown = d.to_string();
    assert!(
        shown.starts_with("error: fleet.yaml:22 (document 2): TrafficManagerProfile demo/web: metadata.annotations[\"fleetdns.io/routing-method\"]: \"Performance\" is not allowed; allowed: \"Weighted\", \"MultiValue\", \"Priority\""),
        "{shown}"
    );
    // Traffic Manager's spelling, case included.
    let text = file_with("    fleetdns.io/routing-method: multivalue\n", "", "");
    the_error(
        &text,
        "metadata.annotations[\"fleetdns.io/routing-method\"]",
    );
}

#[test]
fn routing_method_max_return_outside_1_to_8_is_an_error() {
    for bad in ["0", "9", "three", "-1"] {
        let text = file_with(
            &format!("    fleetdns.io/routing-method: MultiValue\n    fleetdns.io/max-return: \"{bad}\"\n"),
            "",
            "",
        );
        let d = the_error(
            &text,
            &format!("metadata.annotations[{MAX_RETURN_ANNOTATION:?}]"),
        );
        assert_eq!(d.location.line, Some(23), "{d}");
        assert!(d.message.contains("allowed: an integer from 1 to 8"), "{d}");
        assert_eq!(d.object.as_deref(), Some("TrafficManagerProfile demo/web"));
    }
    // On a profile that is not MultiValue it is ignored, with a warning.
    let text = file_with("    fleetdns.io/max-return: \"5\"\n", "", "");
    let (_, diags) = load(&text).expect("valid");
    assert!(
        diags.iter().any(|d| d.severity == Severity::Warning
            && d.message
                .contains("applies to fleetdns.io/routing-method: \"MultiValue\" only")),
        "{diags}"
    );
}

#[test]
fn routing_method_priority_outside_1_to_1000_is_an_error_on_the_backend() {
    for bad in ["0", "1001", "first"] {
        let text = file_with(
            "    fleetdns.io/routing-method: Priority\n",
            "",
            &format!("    fleetdns.io/priority: \"{bad}\"\n"),
        );
        let d = the_error(&text, "metadata.annotations[\"fleetdns.io/priority\"]");
        assert_eq!(d.object.as_deref(), Some("TrafficManagerBackend demo/b2"));
        assert_eq!(d.location.document, Some(4), "{d}");
        assert_eq!(d.location.line, Some(45), "{d}");
        assert!(
            d.message
                .contains("allowed: an integer from 1 to 1000, lower answered first"),
            "{d}"
        );
    }
}

#[test]
fn routing_method_multivalue_warns_that_host_name_endpoints_are_not_answered() {
    let text: String = [
        SETTINGS.to_string(),
        profile("    fleetdns.io/routing-method: MultiValue\n"),
        backend("b1", "primary", ""),
        backend("b3", "named", ""),
        export("primary"),
        export("named"),
    ]
    .iter()
    .map(|d| format!("---\n{d}"))
    .collect();
    let (fleet, diags) = load(&text).expect("a warning only");
    assert_eq!(fleet.profiles[0].endpoints.len(), 2, "still in the model");
    let w = diags
        .iter()
        .find(|d| d.severity == Severity::Warning)
        .expect("a warning");
    assert_eq!(w.object.as_deref(), Some("TrafficManagerBackend demo/b3"));
    assert!(
        w.message
            .contains("MultiValue answers IPv4/IPv6 addresses only"),
        "{w}"
    );
}

#[test]
fn routing_method_the_priority_example_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/priority.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let (fleet, diags) = file::load_str(Path::new(path), &text).unwrap_or_else(|d| panic!("{d}"));
    assert!(!diags.has_errors(), "{diags}");
    let p = &fleet.profiles[0];
    assert_eq!(p.routing, RoutingMethod::Priority);
    let prio: Vec<(&str, u32)> = p
        .endpoints
        .iter()
        .map(|e| (&*e.backend, e.priority))
        .collect();
    assert_eq!(prio, [("app-primary", 1), ("app-secondary", 2)]);
}
