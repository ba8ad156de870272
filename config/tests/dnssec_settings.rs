//! `spec.dnssec`: defaults, and errors that name the file, the field and what
//! is allowed.

use std::path::Path;

use fleetdns_config::file;

fn load(dnssec: &str) -> Result<fleetdns_config::Fleet, String> {
    let text = format!(
        "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers: [{{name: ns1.tm.test, addresses: [127.0.0.1]}}]
  dnssec: {dnssec}
"
    );
    file::load_str(Path::new("fleet.yaml"), &text)
        .map(|(f, _)| f)
        .map_err(|d| d.to_string())
}

#[test]
fn dnssec_settings_have_defaults() {
    let f = load("{keyDirectory: /etc/fleetdns/keys}").unwrap();
    let d = f.dnssec.expect("dnssec settings");
    assert_eq!(d.algorithm, 13);
    assert_eq!(d.signature_validity_seconds, 14 * 86_400);
    assert_eq!(d.resign_interval_seconds, 3_600);
    let f = load("{keyFiles: [/k/Ktm.test.+015+00001.key], algorithm: ed25519}").unwrap();
    assert_eq!(f.dnssec.unwrap().algorithm, 15);
    assert!(load("{keyDirectory: /k}").unwrap().zone.soa.serial != 0);
}

#[test]
fn dnssec_settings_errors_name_file_field_and_what_is_allowed() {
    for (dnssec, field, allowed) in [
        ("{}", "spec.dnssec.keyDirectory", "allowed: keyDirectory"),
        (
            "{keyDirectory: /k, keyFiles: [/k/a.key]}",
            "spec.dnssec.keyFiles",
            "allowed: one of them",
        ),
        (
            "{keyFiles: [/k/a.private]}",
            "spec.dnssec.keyFiles",
            "allowed: the public .key file",
        ),
        (
            "{keyDirectory: /k, algorithm: rsasha256}",
            "spec.dnssec.algorithm",
            "allowed: \"ecdsap256sha256\"",
        ),
        (
            "{keyDirectory: /k, signatureValiditySeconds: 60}",
            "spec.dnssec.signatureValiditySeconds",
            "allowed: 86400",
        ),
        (
            "{keyDirectory: /k, resignIntervalSeconds: 400000}",
            "spec.dnssec.resignIntervalSeconds",
            "allowed: 60 to 302400",
        ),
        ("{keyDirectory: /k, colour: red}", "dnssec", "colour"),
    ] {
        let err = load(dnssec).expect_err(dnssec);
        for want in ["fleet.yaml", field, allowed] {
            assert!(
                err.contains(want),
                "{dnssec}: {want:?} missing from:\n{err}"
            );
        }
    }
}
