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
