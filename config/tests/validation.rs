//! Every validation error names the file, the document (index and line), the
//! object and the field, and says what is allowed.

use std::path::Path;

use fleetdns_config::{file, Diagnostic, Diagnostics, Severity};

const SETTINGS: &str = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.example.com
  nameServers:
    - {name: ns1.fleet.example.com, addresses: [127.0.0.1]}
  clusters:
    - name: member-1
      services:
        - {namespace: kuard-demo, name: kuard-svc, loadBalancer: ['192.0.2.1']}
        - {namespace: kuard-demo, name: kuard, loadBalancer: ['192.0.2.3']}
    - name: member-2
      services:
        - {namespace: kuard-demo, name: kuard-svc, loadBalancer: ['192.0.2.2']}
";

const PROFILE: &str = "apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata:
  name: kuard-atm-demo
  namespace: kuard-demo
spec:
  resourceGroup: rg
  monitorConfig:
    port: 80
";

const BACKEND: &str = "apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata:
  name: kuard-atm-demo-backend
  namespace: kuard-demo
spec:
  profile:
    name: kuard-atm-demo
  backend:
    name: kuard-svc
  weight: 100
";

const EXPORT: &str = "apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata:
  name: kuard-svc
  namespace: kuard-demo
  annotations:
    networking.fleet.azure.com/weight: \"50\"
";

fn join(docs: &[&str]) -> String {
    docs.iter().map(|d| format!("---\n{d}")).collect()
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match file::load_str(Path::new("fleet.yaml"), text) {
        Ok((fleet, _)) => panic!("expected errors, got a fleet: {fleet:#?}"),
        Err(Diagnostics(d)) => d.into_iter().filter(Diagnostic::is_error).collect(),
    }
}

/// Errors and warnings, whether or not a fleet was built.
fn findings(text: &str) -> Vec<Diagnostic> {
    let d = match file::load_str(Path::new("fleet.yaml"), text) {
        Ok((_, d)) | Err(d) => d,
    };
    d.0.into_iter()
        .filter(|d| d.severity != Severity::Note)
        .collect()
}

/// Asserts one error with this document, line, object, field and message parts.
fn assert_error(
    text: &str,
    document: usize,
    line: usize,
    object: &str,
    field: &str,
    says: &[&str],
) {
    let errs = errors(text);
    let found = errs
        .iter()
        .find(|d| d.field.as_deref() == Some(field) && d.object.as_deref() == Some(object));
    let Some(d) = found else {
        panic!(
            "no error on {object} {field}; got:\n{}",
            Diagnostics(errs.clone())
        )
    };
    assert_eq!(d.location.file, Path::new("fleet.yaml"));
    assert_eq!(d.location.document, Some(document), "{d}");
    assert_eq!(d.location.line, Some(line), "{d}");
    for s in says {
        assert!(d.message.contains(s), "message lacks {s:?}: {d}");
    }
    let shown = d.to_string();
    assert!(
        shown.starts_with(&format!(
            "error: fleet.yaml:{line} (document {document}): {object}: {field}: "
        )),
        "{shown}"
    );
}

#[test]
fn a_valid_file_loads() {
    let (fleet, diags) = file::load_str(
        Path::new("fleet.yaml"),
        &join(&[SETTINGS, PROFILE, BACKEND, EXPORT]),
    )
    .expect("valid");
    assert!(!diags.has_errors());
    assert_eq!(fleet.profiles.len(), 1);
    let p = &fleet.profiles[0];
    assert_eq!(p.owner, "kuard-demo-kuard-atm-demo.fleet.example.com");
    let w: Vec<u32> = p.endpoints.iter().map(|e| e.weight).collect();
    assert_eq!(w, [50, 50], "ceil(100 × 50 / 100) each");
    assert_eq!(p.monitor.interval_seconds, 30);
    assert_eq!(
        p.monitor.timeout_seconds, 10,
        "fleet defaults timeout to 10 with interval 30"
    );
    assert_eq!(p.monitor.tolerated_failures, 3);
    assert_eq!(p.monitor.path, "/");
}

#[test]
fn weight_annotation_abc_is_rejected() {
    let text = join(&[
        SETTINGS,
        PROFILE,
        BACKEND,
        &EXPORT.replace("\"50\"", "\"abc\""),
    ]);
    // Lines: separator 1, settings 2-15, profile 17-25, backend 27-37, export 39-45.
    assert_error(
        &text,
        4,
        45,
        "ServiceExport kuard-demo/kuard-svc",
        "metadata.annotations[\"networking.fleet.azure.com/weight\"]",
        &[
            "\"abc\" is not an integer",
            "allowed: an integer from 0 to 1000",
        ],
    );
}

#[test]
fn weight_annotation_minus_one_and_1001_are_rejected() {
    for w in ["-1", "1001"] {
        let text = join(&[
            SETTINGS,
            PROFILE,
            BACKEND,
            &EXPORT.replace("\"50\"", &format!("\"{w}\"")),
        ]);
        assert_error(
            &text,
            4,
            45,
            "ServiceExport kuard-demo/kuard-svc",
            "metadata.annotations[\"networking.fleet.azure.com/weight\"]",
            &[&format!("{w} is out of range"), "0 to 1000"],
        );
    }
}

#[test]
fn interval_20_is_rejected() {
    let p = PROFILE.replace(
        "    port: 80\n",
        "    port: 80\n    intervalInSeconds: 20\n",
    );
    assert_error(
        &join(&[SETTINGS, &p, BACKEND, EXPORT]),
        2,
        26,
        "TrafficManagerProfile kuard-demo/kuard-atm-demo",
        "spec.monitorConfig.intervalInSeconds",
        &["20", "10, 30"],
    );
}

#[test]
fn timeout_10_with_interval_10_is_rejected() {
    let p = PROFILE.replace(
        "    port: 80\n",
        "    port: 80\n    intervalInSeconds: 10\n    timeoutInSeconds: 10\n",
    );
    assert_error(
        &join(&[SETTINGS, &p, BACKEND, EXPORT]),
        2,
        27,
        "TrafficManagerProfile kuard-demo/kuard-atm-demo",
        "spec.monitorConfig.timeoutInSeconds",
        &["10 is not allowed with intervalInSeconds 10", "5 to 9"],
    );
}

#[test]
fn tolerated_12_is_rejected() {
    let p = PROFILE.replace(
        "    port: 80\n",
        "    port: 80\n    toleratedNumberOfFailures: 12\n",
    );
    assert_error(
        &join(&[SETTINGS, &p, BACKEND, EXPORT]),
        2,
        26,
        "TrafficManagerProfile kuard-demo/kuard-atm-demo",
        "spec.monitorConfig.toleratedNumberOfFailures",
        &["12", "9"],
    );
}

#[test]
fn a_backend_whose_profile_does_not_exist_is_rejected() {
    let b = BACKEND.replace("    name: kuard-atm-demo\n", "    name: missing\n");
    assert_error(
        &join(&[SETTINGS, PROFILE, &b, EXPORT]),
        3,
        34,
        "TrafficManagerBackend kuard-demo/kuard-atm-demo-backend",
        "spec.profile.name",
        &[
            "no TrafficManagerProfile named \"missing\" in namespace kuard-demo",
            "kuard-atm-demo",
        ],
    );
}

#[test]
fn a_backend_whose_service_no_cluster_exports_is_rejected() {
    let b = BACKEND.replace("    name: kuard-svc\n", "    name: other\n");
    assert_error(
        &join(&[SETTINGS, PROFILE, &b, EXPORT]),
        3,
        36,
        "TrafficManagerBackend kuard-demo/kuard-atm-demo-backend",
        "spec.backend.name",
        &[
            "no member cluster exports Service kuard-demo/other",
            "ServiceExport named \"other\"",
        ],
    );
}

#[test]
fn two_profiles_with_the_same_owner_name_are_rejected() {
    // kuard-demo/kuard-atm-demo and kuard/demo-kuard-atm-demo both map to kuard-demo-kuard-atm-demo.
    let other = PROFILE.replace(
        "name: kuard-atm-demo\n  namespace: kuard-demo",
        "name: demo-kuard-atm-demo\n  namespace: kuard",
    );
    assert_error(
        &join(&[SETTINGS, PROFILE, BACKEND, EXPORT, &other]),
        5,
        50,
        "TrafficManagerProfile kuard/demo-kuard-atm-demo",
        "metadata.name",
        &[
            "kuard-demo-kuard-atm-demo.fleet.example.com",
            "TrafficManagerProfile kuard-demo/kuard-atm-demo (line 20) already uses",
            "rename one",
        ],
    );
}

#[test]
fn a_zone_apex_that_is_not_a_valid_name_is_rejected() {
    for (zone, why) in [
        ("fleet..example.com", "empty label"),
        ("fleet_ex ample.com", "contains ' '"),
        ("-fleet.example.com", "hyphen"),
    ] {
        let s = SETTINGS.replace("zone: fleet.example.com", &format!("zone: \"{zone}\""));
        assert_error(
            &join(&[&s, PROFILE, BACKEND, EXPORT]),
            1,
            5,
            "FleetDNSConfig",
            "spec.zone",
            &[why, "allowed: a domain name"],
        );
    }
}

#[test]
fn a_service_export_not_named_after_its_service_is_reported_not_dropped() {
    let e = EXPORT.replace("name: kuard-svc", "name: kuard-export");
    // A warning on the export itself (fleet-networking's Valid=False ServiceNotFound),
    // SEc:176-197 style: the export's problem never stops the rest.
    let errs = findings(&join(&[SETTINGS, PROFILE, BACKEND, &e]));
    let d = errs
        .iter()
        .find(|d| d.object.as_deref() == Some("ServiceExport kuard-demo/kuard-export"))
        .expect("mismatch reported");
    assert!(
        d.message
            .contains("in fleet a ServiceExport must carry its Service's name"),
        "{d}"
    );
    assert!(
        d.message.contains("kuard-svc"),
        "names the Services that exist: {d}"
    );
    assert_eq!(d.field.as_deref(), Some("metadata.name"));
    assert_eq!(d.location.line, Some(42));
}

#[test]
fn unknown_fields_and_wrong_types_are_rejected_with_the_allowed_set() {
    let p = PROFILE.replace("    port: 80\n", "    port: 80\n    intervall: 10\n");
    assert_error(
        &join(&[SETTINGS, &p, BACKEND, EXPORT]),
        2,
        26,
        "TrafficManagerProfile kuard-demo/kuard-atm-demo",
        "spec.monitorConfig.intervall",
        &["unknown field", "intervalInSeconds"],
    );
    let b = BACKEND.replace("weight: 100", "weight: heavy");
    assert_error(
        &join(&[SETTINGS, PROFILE, &b, EXPORT]),
        3,
        37,
        "TrafficManagerBackend kuard-demo/kuard-atm-demo-backend",
        "spec.weight",
        &["integer"],
    );
}

#[test]
fn settings_typos_are_rejected_with_a_line() {
    let s = SETTINGS.replace("  nameServers:", "  nameservers:");
    let errs = errors(&join(&[&s, PROFILE, BACKEND, EXPORT]));
    assert!(
        errs.iter()
            .any(|d| d.message.contains("unknown field `nameservers`")
                && d.location.line == Some(6)
                && d.location.document == Some(1)),
        "{}",
        Diagnostics(errs)
    );
}

#[test]
fn in_zone_name_servers_need_glue() {
    let s = SETTINGS.replace("addresses: [127.0.0.1]", "addresses: []");
    let errs = errors(&join(&[&s, PROFILE, BACKEND, EXPORT]));
    assert!(
        errs.iter().any(
            |d| d.field.as_deref() == Some("spec.nameServers[0].addresses")
                && d.message.contains("needs glue")
        ),
        "{}",
        Diagnostics(errs)
    );
}

/// The seed manifests from the Fleet docs, byte for byte, plus a settings document.
fn seeds() -> String {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/seed-manifests"
    );
    let mut text = format!("---\n{SETTINGS}");
    for f in [
        "kuard-atm-demo.yaml",
        "kuard-atm-demo-backend.yaml",
        "kuard-export-service.yaml",
        "kuard-mcs-flavour.yaml",
        "crp-dns-demo.yaml",
        "ro-kuard-demo-eastus.yaml",
    ] {
        text += "---\n";
        text += &std::fs::read_to_string(format!("{dir}/{f}")).expect("seed manifest");
    }
    text
}

#[test]
fn the_seed_manifests_are_accepted_unchanged_and_only_the_misnamed_export_is_an_error() {
    let mut diags = Diagnostics::default();
    let inputs = file::parse(Path::new("fleet.yaml"), &seeds(), &mut diags);
    assert!(
        !diags.has_errors(),
        "every document parses and passes its schema:\n{diags}"
    );
    assert_eq!(inputs.profiles.len(), 1);
    assert_eq!(inputs.backends.len(), 1);
    assert_eq!(
        inputs.exports.len(),
        2,
        "kuard-export and the MCS flavour's kuard"
    );
    let ignored: Vec<&Diagnostic> = diags
        .iter()
        .filter(|d| d.severity == Severity::Note)
        .collect();
    assert!(
        ignored.len() >= 5,
        "Deployment, Services, MCS, placements are listed as ignored: {diags}"
    );

    let errs = findings(&seeds());
    let objects: Vec<&str> = errs.iter().filter_map(|d| d.object.as_deref()).collect();
    assert_eq!(
        objects,
        [
            "ServiceExport kuard-demo/kuard-export",
            "TrafficManagerBackend kuard-demo/kuard-atm-demo-backend"
        ],
        "the misnamed export, and so the backend has no exports:\n{}",
        Diagnostics(errs.clone())
    );

    // Renaming only the export to its Service's name makes the same manifests serve.
    let fixed = seeds().replace("name: kuard-export", "name: kuard-svc");
    let (fleet, _) =
        file::load_str(Path::new("fleet.yaml"), &fixed).expect("valid once the export is renamed");
    let w: Vec<u32> = fleet.profiles[0]
        .endpoints
        .iter()
        .map(|e| e.weight)
        .collect();
    assert_eq!(w, [50, 50], "backend 100 over two exports of 50");
}

#[test]
fn the_shipped_example_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/fleet.yaml");
    let text = std::fs::read_to_string(path).expect("examples/fleet.yaml is readable");
    let (fleet, diags) = file::load_str(Path::new(path), &text).unwrap_or_else(|d| panic!("{d}"));
    assert!(!diags.has_errors());
    assert_eq!(fleet.profiles.len(), 3);
}

#[test]
fn the_serial_depends_only_on_the_content() {
    let text = join(&[SETTINGS, PROFILE, BACKEND, EXPORT]);
    let (a, _) = file::load_str(Path::new("a.yaml"), &text).unwrap();
    let (b, _) = file::load_str(Path::new("b.yaml"), &format!("# a comment\n{text}")).unwrap();
    assert_eq!(
        a.zone.soa.serial, b.zone.soa.serial,
        "replicas fed the same input agree"
    );
    let (c, _) = file::load_str(Path::new("a.yaml"), &text.replace("\"50\"", "\"60\"")).unwrap();
    assert_ne!(
        a.zone.soa.serial, c.zone.soa.serial,
        "a change changes the serial"
    );
}

#[test]
fn a_status_mode_outside_observer_owner_auto_is_rejected_with_the_allowed_set() {
    let settings = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.example.com
  nameServers:
    - {name: ns1.fleet.example.com, addresses: [127.0.0.1]}
  kubernetes:
    members: [{name: member-1}]
    status:
      mode: observe
";
    assert_error(
        &join(&[settings]),
        1,
        11,
        "FleetDNSConfig",
        "spec.kubernetes.status.mode",
        &["\"observe\"", "\"observer\"", "\"owner\"", "\"auto\""],
    );
    for mode in ["observer", "owner", "auto"] {
        let ok = settings.replace("observe\n", &format!("{mode}\n"));
        let (fleet, _) = file::load_str(Path::new("fleet.yaml"), &join(&[&ok]))
            .unwrap_or_else(|d| panic!("{mode}: {d}"));
        let k = fleet.kubernetes.expect("kubernetes settings");
        assert_eq!(k.status_mode.as_str(), mode);
    }
}
