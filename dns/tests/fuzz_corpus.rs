//! Replays the fuzz corpora (`fuzz/corpus/<target>/`) through the fuzz targets'
//! own entry points, so every input a campaign kept, and every crash it found,
//! stays a regression test.

use std::path::{Path, PathBuf};

use fleetdns_dns::fuzzing::{self, Harness};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_query_corpus_input_is_answered_without_panic() {
    let (fleet, _) = fleetdns_config::file::load_str(
        Path::new("fleet.yaml"),
        include_str!("../../examples/fleet.yaml"),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let h = Harness::new(&fleet);
    let files = corpus("query");
    assert!(
        files.len() >= 100,
        "the query corpus has {} files",
        files.len()
    );
    for f in &files {
        let bytes = std::fs::read(f).expect("read corpus file");
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fuzzing::query(&h, &bytes)));
        assert!(outcome.is_ok(), "{} panicked", f.display());
    }
}

#[test]
fn every_config_corpus_input_loads_or_is_rejected_without_panic() {
    let files = corpus("config");
    assert!(!files.is_empty());
    for f in &files {
        let bytes = std::fs::read(f).expect("read corpus file");
        let outcome = std::panic::catch_unwind(|| fuzzing::config(&bytes));
        assert!(outcome.is_ok(), "{} panicked", f.display());
    }
}
