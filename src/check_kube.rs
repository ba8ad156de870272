//! `fleetdns check` in Kubernetes mode: the preflight of every cluster
//! ([`fleetdns_sources::kubernetes::preflight`]), printed, and its exit code, so that a
//! wrong context or a missing permission shows before `serve` binds its sockets.

use std::io::Write;

use fleetdns_config::KubernetesSettings;
use fleetdns_sources::kubernetes::preflight::{self, Problem, Report};

/// Exit codes of `fleetdns check`, most fundamental problem first (documented in
/// `--help` and the README).
pub const EXIT_INVALID: u8 = 1;
/// A kubeconfig or context cannot be used (missing context, unreadable file).
pub const EXIT_KUBECONFIG: u8 = 3;
/// An API server does not answer.
pub const EXIT_UNREACHABLE: u8 = 4;
/// An API server rejects the credentials (401).
pub const EXIT_CREDENTIALS: u8 = 5;
/// A fleet networking CRD is not installed.
pub const EXIT_MISSING_CRD: u8 = 6;
/// RBAC forbids something fleetdns does.
pub const EXIT_FORBIDDEN: u8 = 7;

fn code(p: &Problem) -> u8 {
    match p {
        Problem::Kubeconfig(_) => EXIT_KUBECONFIG,
        Problem::Unreachable(_) => EXIT_UNREACHABLE,
        Problem::Credentials(_) => EXIT_CREDENTIALS,
        Problem::MissingCrd(_) => EXIT_MISSING_CRD,
        Problem::Forbidden(_) => EXIT_FORBIDDEN,
    }
}

/// Runs the preflight; returns the reports and the exit code (0 when all is well).
pub fn run(k: &KubernetesSettings) -> anyhow::Result<(Vec<Report>, u8)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let reports = rt.block_on(preflight::check(k));
    let exit = reports
        .iter()
        .flat_map(|r| r.problems.iter().map(code))
        .min()
        .unwrap_or(0);
    Ok((reports, exit))
}

/// One line per cluster, one more per problem.
pub fn write_text(out: &mut impl Write, reports: &[Report]) -> std::io::Result<()> {
    writeln!(out)?;
    for r in reports {
        let version = r.server_version.as_deref().unwrap_or("no answer");
        if r.problems.is_empty() {
            writeln!(
                out,
                "cluster {} (context {}): ok, API server {version}, CRDs served, permissions granted",
                r.cluster, r.context
            )?;
        }
        for p in &r.problems {
            writeln!(out, "cluster {} (context {}): {p}", r.cluster, r.context)?;
        }
        if !r.members.is_empty() {
            let list: Vec<String> = r.members.iter().map(|m| m.to_string()).collect();
            writeln!(out, "  members on the hub: {}", list.join(", "))?;
        }
    }
    Ok(())
}

/// The reports as JSON (`-o json`).
pub fn to_json(reports: &[Report]) -> serde_json::Value {
    let list: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            let problems: Vec<serde_json::Value> = r
                .problems
                .iter()
                .map(|p| serde_json::json!({"exitCode": code(p), "message": p.to_string()}))
                .collect();
            let members: Vec<serde_json::Value> = r
                .members
                .iter()
                .map(|m| {
                    serde_json::json!({"name": m.name, "exports": m.exports,
                    "memberCluster": m.member_cluster.is_some(),
                    "joined": m.member_cluster.clone().flatten()})
                })
                .collect();
            serde_json::json!({"cluster": r.cluster, "context": r.context,
                               "serverVersion": r.server_version, "problems": problems,
                               "members": members})
        })
        .collect();
    serde_json::Value::Array(list)
}
