//! `fleetdns check` on examples/fleet.yaml's settings plus every seed manifest
//! (both how-tos; the MultiClusterService flavour's ClusterIP Service and its
//! ServiceExport included; the how-to's misnamed `kuard-export` renamed to the
//! Service it exports): exit 0, the profile served, the L4 export a warning on
//! that export alone (fleet-networking reports ServiceNotFound/ineligible exports on
//! their own `Valid` condition and serves the rest:
//! `pkg/controllers/member/serviceexport/controller.go`:176-197, and the backend
//! controller skips invalid exports, `pkg/controllers/hub/trafficmanagerbackend/
//! controller.go`:561-565).

use crate::fixtures;

#[test]
fn seed_manifests_with_example_settings_check_clean_and_serve_the_profile() {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fleet.yaml"))
            .unwrap();
    let settings = example
        .split("\n---\n")
        .find(|d| d.contains("kind: FleetDNSConfig"))
        .unwrap()
        .to_string();
    let seeds = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/specs/seed-manifests"
    );
    let mut names: Vec<_> = std::fs::read_dir(seeds)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert!(names.len() >= 6, "every seed manifest: {names:?}");
    let mut docs = vec![settings];
    for p in names {
        docs.push(
            std::fs::read_to_string(p)
                .unwrap()
                .replace("name: kuard-export\n", "name: kuard-svc\n"),
        );
    }
    let dir = fleetdns_testsupport::process::scratch_dir("seed-check");
    let path = dir.join("fleet.yaml");
    std::fs::write(&path, docs.join("\n---\n")).unwrap();
    let out = std::process::Command::new(fixtures::BIN)
        .arg("check")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("kuard-demo-kuard-atm-demo.fleet.example.com."),
        "{text}"
    );
    assert!(text.contains("#kuard-svc#member-1"), "{text}");
    assert!(
        text.contains("warning:") && text.contains("ServiceExport kuard-demo/kuard:"),
        "the L4 export is reported on itself: {text}"
    );
    assert!(
        text.contains("MultiClusterService kuard-demo/kuard"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
