//! Bounded work: every cap on the input is an error that names where it was hit
//! and what is allowed; the rrl and tcp settings are validated the same way.

use std::path::Path;

use fleetdns_config::{file, limits, Diagnostic, Diagnostics};

fn settings(extra: &str, clusters: usize) -> String {
    let mut s = String::from(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers: [{name: ns1.tm.test, addresses: [127.0.0.1]}]
",
    );
    s += extra;
    s += "  clusters:\n";
    for i in 0..clusters {
        s += &format!(
            "    - {{name: c{i}, services: [{{namespace: ns, name: svc, loadBalancer: ['10.0.{}.{}']}}]}}\n",
            i / 250,
            i % 250 + 1
        );
    }
    s
}

const PROFILE: &str = "---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {name: web, namespace: ns}
spec: {resourceGroup: rg}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: web-b, namespace: ns}
spec: {profile: {name: web}, backend: {name: svc}, weight: 100}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {name: svc, namespace: ns}
";

fn errors(text: &str) -> Vec<Diagnostic> {
    match file::load_str(Path::new("fleet.yaml"), text) {
        Ok((fleet, _)) => panic!(
            "expected errors, got a fleet of {} profiles",
            fleet.profiles.len()
        ),
        Err(Diagnostics(d)) => d.into_iter().filter(Diagnostic::is_error).collect(),
    }
}

fn one_error(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:#?}");
    e[0].to_string()
}

#[test]
fn a_profile_may_have_200_endpoints_but_not_201() {
    let (fleet, _) = file::load_str(
        Path::new("fleet.yaml"),
        &(settings("", limits::MAX_ENDPOINTS_PER_PROFILE) + PROFILE),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(fleet.profiles[0].endpoints.len(), 200);
    let e = one_error(&(settings("", limits::MAX_ENDPOINTS_PER_PROFILE + 1) + PROFILE));
    for part in [
        "fleet.yaml",
        "document 2",
        "TrafficManagerProfile ns/web",
        "201 endpoints",
        "allowed: at most 200 per profile",
    ] {
        assert!(e.contains(part), "{part:?} not in {e}");
    }
}

#[test]
fn too_many_documents_are_rejected_before_any_is_parsed() {
    let mut text = settings("", 1);
    for _ in 0..limits::MAX_DOCUMENTS {
        text += "---\n{kind: ConfigMap}\n";
    }
    let e = one_error(&text);
    let (n, max) = (limits::MAX_DOCUMENTS + 1, limits::MAX_DOCUMENTS);
    assert!(
        e.contains(&format!("{n} YAML documents; allowed: at most {max}")),
        "{e}"
    );
    assert!(e.contains(&format!("document {n}")), "{e}");
}

#[test]
fn too_many_profiles_are_rejected() {
    // Parse one profile, then hold MAX_PROFILES + 1 copies: the cap is checked
    // before any of them is validated (parsing 200,001 documents would be slow).
    let text = settings("", 1)
        + "---\napiVersion: networking.fleet.azure.com/v1beta1\nkind: TrafficManagerProfile\nmetadata: {name: p0, namespace: ns}\nspec: {resourceGroup: rg}\n";
    let mut diags = Diagnostics::default();
    let mut inputs = file::parse(Path::new("fleet.yaml"), &text, &mut diags);
    let one = inputs.profiles[0].clone();
    inputs.profiles = vec![one; limits::MAX_PROFILES + 1];
    assert!(fleetdns_config::validate::fleet(&inputs, &mut diags).is_none());
    let e = diags
        .errors()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        e.contains(&format!(
            "{} TrafficManagerProfile objects; allowed: at most {}",
            limits::MAX_PROFILES + 1,
            limits::MAX_PROFILES
        )),
        "{e}"
    );
}

#[test]
fn a_profile_name_over_63_characters_in_a_label_is_rejected() {
    let long = "p".repeat(61);
    let text = settings("", 1)
        + &PROFILE
            .replace("name: web,", &format!("name: {long},"))
            .replace("name: web}", &format!("name: {long}}}"));
    let e = errors(&text);
    let e = e
        .iter()
        .map(ToString::to_string)
        .find(|m| m.contains("TrafficManagerProfile ns/"))
        .unwrap_or_else(|| panic!("{e:#?}"));
    // ns-<61 p> is one 64-character label: the exact reason, from the DNS name check.
    let want = format!(
        "the profile's DNS name <namespace>-<name>.<zone> is not valid: \"ns-{long}.tm.test\" \
         has the label \"ns-{long}\" of 64 characters; allowed: a domain name of dot-separated \
         labels of 1-63 letters, digits, hyphens or underscores (no leading or trailing hyphen), \
         at most 253 characters"
    );
    assert!(e.contains(&want), "{want:?} not in {e}");
    assert!(e.contains("1-63"), "{e}");
    assert!(e.contains("metadata.name"), "{e}");
}

#[test]
fn rrl_and_tcp_settings_default_and_validate() {
    let (fleet, _) = file::load_str(Path::new("fleet.yaml"), &(settings("", 1) + PROFILE)).unwrap();
    assert!(fleet.rrl.enabled);
    assert_eq!(fleet.rrl.responses_per_second, 20);
    assert_eq!(fleet.rrl.slip, 2);
    assert_eq!(fleet.rrl.exempt_networks, fleet.trusted_networks);
    assert_eq!(fleet.tcp.max_connections, 1500);
    assert_eq!(fleet.tcp.max_connections_per_client, 64);
    assert_eq!(fleet.tcp.idle_timeout_seconds, 10);
    assert_eq!(fleet.tcp.read_timeout_seconds, 5);

    let e = one_error(&(settings("  rrl: {responsesPerSecond: 0}\n", 1) + PROFILE));
    assert!(e.contains("spec.rrl.responsesPerSecond"), "{e}");
    assert!(e.contains("allowed: 1 to 100000"), "{e}");
    let e = one_error(&(settings("  rrl: {slip: 11}\n", 1) + PROFILE));
    assert!(
        e.contains("spec.rrl.slip") && e.contains("allowed: 0"),
        "{e}"
    );
    let e = one_error(&(settings("  rrl: {exemptNetworks: [10.0.0.0/33]}\n", 1) + PROFILE));
    assert!(e.contains("spec.rrl.exemptNetworks[0]"), "{e}");
    let e = one_error(&(settings("  tcp: {readTimeoutSeconds: 0}\n", 1) + PROFILE));
    assert!(
        e.contains("spec.tcp.readTimeoutSeconds") && e.contains("allowed: 1 to 3600 seconds"),
        "{e}"
    );
    let e = errors(&(settings("  rrl: {rate: 5}\n", 1) + PROFILE));
    assert!(
        e.iter()
            .any(|d| d.to_string().contains("unknown field `rate`")),
        "{e:#?}"
    );

    let (fleet, _) = file::load_str(
        Path::new("fleet.yaml"),
        &(settings(
            "  rrl: {enabled: false, exemptNetworks: []}\n  tcp: {maxConnections: 10}\n",
            1,
        ) + PROFILE),
    )
    .unwrap();
    assert!(!fleet.rrl.enabled);
    assert!(fleet.rrl.exempt_networks.is_empty());
    assert_eq!(fleet.tcp.max_connections, 10);
}

#[test]
fn a_profile_owner_name_must_leave_room_for_its_health_view_name() {
    let zone = ["z".repeat(60), "z".repeat(60), "z".repeat(60)].join(".") + ".tm.test";
    let text = |name: &str| {
        settings("", 1).replace("tm.test", &zone)
            + &PROFILE
                .replace("name: web,", &format!("name: {name},"))
                .replace("name: web}", &format!("name: {name}}}"))
    };
    // ns-<name>.<zone>: 3 + len + 1 + 190.
    let (fleet, _) = file::load_str(Path::new("fleet.yaml"), &text(&"p".repeat(51)))
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(fleet.profiles[0].owner.len(), limits::MAX_OWNER_NAME);
    let e = errors(&text(&"p".repeat(52)));
    let e = e[0].to_string();
    assert!(
        e.contains("is 246 characters long; allowed: at most 245"),
        "{e}"
    );
    assert!(e.contains("metadata.name"), "{e}");
}
