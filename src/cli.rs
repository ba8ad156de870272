//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// hickory-server logs every response at info; keep it at warn. kube-client logs every
/// failed request at error without saying which cluster it was for (one line per retry in
/// an outage); the Kubernetes source logs the same failures with the cluster's name when a
/// watch or a cluster changes state, so those per-request lines are off.
pub const DEFAULT_LOG: &str =
    "info,hickory_server=warn,hickory_net=warn,kube_client::client::builder=off";

/// Authoritative, weighted, health-checked DNS for Azure Kubernetes Fleet traffic manager objects.
#[derive(Parser, Debug)]
#[command(name = "fleetdns", version, about)]
pub struct Cli {
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, global = true, env = "FLEETDNS_LOG", default_value = DEFAULT_LOG)]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve DNS for the zone in a config file; reload it on change and on SIGHUP.
    Serve(ServeArgs),
    /// Validate a config file and print what would be served. In Kubernetes mode, also
    /// check each cluster: its kubeconfig context, that its API server answers and accepts
    /// the credentials, that the fleet networking CRDs are served and that RBAC allows what
    /// fleetdns does (SelfSubjectAccessReview), unless --offline.
    ///
    /// Exit codes: 0 all well; 1 the config is invalid; 3 a kubeconfig context cannot be
    /// used; 4 a cluster is unreachable; 5 credentials rejected; 6 a CRD is missing; 7 a
    /// permission is missing. With several problems, the lowest code wins.
    #[command(verbatim_doc_comment)]
    Check(CheckArgs),
    /// Run tiny HTTP servers that answer 200 on every path (for trying probes locally).
    DemoBackend(DemoBackendArgs),
    /// Print the CustomResourceDefinitions fleetdns reads (TrafficManagerProfile,
    /// TrafficManagerBackend, ServiceExport), generated from its Rust types, as YAML.
    Crds,
    /// DNSSEC keys: make a key pair (`keygen`), print the DS records for the parent (`ds`).
    #[command(subcommand)]
    Dnssec(DnssecCommand),
    /// Mirror the fleet in a config file to Azure Traffic Manager (needs spec.azure),
    /// without serving DNS. `serve` does the same in the background.
    AzureSync(AzureSyncArgs),
}

#[derive(Args, Debug)]
pub struct AzureSyncArgs {
    /// The config file (multi-document YAML).
    #[arg(long, short = 'c')]
    pub config: PathBuf,
    /// Print the ARM calls a first sync into an empty subscription would make
    /// (method, URL with api-version, JSON body) and make none, not even a token request.
    #[arg(long)]
    pub dry_run: bool,
    /// One reconcile pass, print the status as JSON, exit 0 when every profile is Programmed.
    #[arg(long)]
    pub once: bool,
}

#[derive(Args, Debug)]
pub struct DemoBackendArgs {
    /// Address to listen on, repeatable (e.g. 127.0.0.11:80).
    #[arg(long = "listen", short = 'l', required = true)]
    pub listen: Vec<SocketAddr>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The config file (multi-document YAML).
    #[arg(long, short = 'c')]
    pub config: PathBuf,
    /// DNS listen address (UDP and TCP), repeatable. Overrides the file's spec.listen;
    /// default 127.0.0.1:5353.
    #[arg(long = "listen", short = 'l')]
    pub listen: Vec<SocketAddr>,
    /// Admin HTTP listen address (/metrics, /healthz, /readyz, /status). Overrides
    /// the file's spec.admin.listen; default 127.0.0.1:9353.
    #[arg(long)]
    pub admin: Option<SocketAddr>,
    /// UDP worker threads (SO_REUSEPORT sockets) per listen address; default one per core.
    #[arg(long)]
    pub udp_workers: Option<usize>,
    /// Identity in the status writers' Lease (Kubernetes mode). Default: `$POD_NAME`,
    /// else `<hostname>-<pid>`.
    #[arg(long, env = "FLEETDNS_IDENTITY")]
    pub identity: Option<String>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The config file (multi-document YAML).
    #[arg(long, short = 'c')]
    pub config: PathBuf,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Check the file only: do not contact any Kubernetes cluster.
    #[arg(long)]
    pub offline: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum DnssecCommand {
    /// Make a key pair in BIND's format, files K{zone}.+{alg}+{tag}.key and .private
    /// (the .private file mode 0600), and print its base path.
    Keygen(KeygenArgs),
    /// Print the DS records (SHA-256) of the zone's KSKs/CSKs, for the parent zone.
    Ds(DsArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA P-256 with SHA-256 (13).
    Ecdsap256sha256,
    /// Ed25519 (15).
    Ed25519,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRole {
    /// Combined signing key (flags 257): signs everything; its DS goes to the parent.
    Csk,
    /// Key-signing key (flags 257): signs the DNSKEY set; its DS goes to the parent.
    Ksk,
    /// Zone-signing key (flags 256): signs the rest.
    Zsk,
}

#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// The zone apex, e.g. fleet.example.com.
    #[arg(long)]
    pub zone: String,
    /// Directory to write the key pair into.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    #[arg(long, value_enum, default_value_t = KeyAlgorithm::Ecdsap256sha256)]
    pub algorithm: KeyAlgorithm,
    #[arg(long, value_enum, default_value_t = KeyRole::Csk)]
    pub role: KeyRole,
}

#[derive(Args, Debug)]
pub struct DsArgs {
    /// A config file with spec.dnssec: its zone and keys.
    #[arg(long, short = 'c', conflicts_with_all = ["zone", "key_dir"])]
    pub config: Option<PathBuf>,
    /// The zone apex (with --key-dir).
    #[arg(long, requires = "key_dir")]
    pub zone: Option<String>,
    /// Directory of the zone's key pairs (with --zone).
    #[arg(long, requires = "zone")]
    pub key_dir: Option<PathBuf>,
    /// TTL written in the DS records.
    #[arg(long, default_value_t = 3600)]
    pub ttl: u32,
}
