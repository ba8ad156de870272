//! The `fleetdns` binary: CLI parsing and wiring of the library crates.
//!
//! `serve` runs the authoritative DNS server on a config file and reloads it on
//! change or SIGHUP; `check` validates a config file and prints what would be
//! served; `azure-sync` mirrors the fleet to Azure Traffic Manager. All logic
//! lives in the library crates; this is plumbing.

mod admin;
mod allocator;
mod azure;
mod check;
mod check_kube;
mod cli;
mod demo_backend;
mod dnssec;
mod dnssec_keys;
mod http;
mod kubernetes;
mod recompile;
mod serve;
mod window;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    allocator::purge_freed_memory_at_once();
    // rustls is built without a default crypto provider (reqwest for the Azure mirror,
    // kube for the Kubernetes clients, tokio-rustls for HTTPS probes); pick ring once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    init_tracing(&cli.log);
    let result = match cli.command {
        cli::Command::Serve(args) => serve::run(args),
        cli::Command::Check(args) => check::run(args),
        cli::Command::DemoBackend(args) => demo_backend::run(args),
        cli::Command::Crds => kubernetes::print_crds(),
        cli::Command::Dnssec(cmd) => dnssec::run(cmd),
        cli::Command::AzureSync(args) => azure::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fleetdns: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cli::DEFAULT_LOG));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
