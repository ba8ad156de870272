//! `kubefake`: fake Kubernetes API servers for trying fleetdns's Kubernetes mode on one
//! machine with kubectl — several named clusters in one process, one merged kubeconfig,
//! the upstream CRDs compiled in, and a control address for the write log and the faults.

mod control;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use fleetdns_kubefake::{kubeconfig_yaml, FakeCluster, Options};

/// Fake Kubernetes API servers (plain HTTP on loopback, or HTTPS with --tls) serving the fleet networking CRDs,
/// Namespace, Service, Deployment, ConfigMap, Event and Lease, for use with kubectl and
/// fleetdns. Runs until interrupted (Ctrl-C or SIGTERM).
///
/// Example: kubefake --kubeconfig /tmp/fleet/kubeconfig hub=127.0.0.1:6443
/// member-1=127.0.0.1:6444 member-2=127.0.0.1:6445
#[derive(Parser, Debug)]
#[command(name = "kubefake", version, verbatim_doc_comment)]
struct Args {
    /// Clusters to serve, as NAME=ADDRESS (port 0 picks a free port). Each NAME becomes a
    /// kubeconfig context.
    #[arg(required = true, value_parser = parse_cluster)]
    clusters: Vec<(String, SocketAddr)>,
    /// Write one kubeconfig with a context (and a token user) per cluster; the first
    /// cluster is the current context.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Read the CRDs from this directory of YAML files instead of the copy compiled in
    /// (the upstream fleet-networking CRDs).
    #[arg(long, env = "FLEETDNS_CRD_DIR")]
    crd_dir: Option<PathBuf>,
    /// Do not serve these types (plural or plural.group), as if their CRDs were not
    /// installed. Repeatable.
    #[arg(long = "omit", value_name = "PLURAL")]
    omit: Vec<String>,
    /// Serve the control API here: GET /clusters/NAME/writes (the write log) and POST
    /// /clusters/NAME/{stop,resume,restart,drop-connections,expire-watches,fail,latency,
    /// deny,allow-all} (the faults). See the README in tests/kubefake.
    #[arg(long)]
    control: Option<SocketAddr>,
    /// Serve HTTPS with a CA generated for each cluster at start; the kubeconfig carries
    /// it as certificate-authority-data.
    #[arg(long)]
    tls: bool,
    /// On exit, write every cluster's write log here as JSON lines.
    #[arg(long)]
    write_log: Option<PathBuf>,
    /// Before serving, create the objects of FILE in cluster NAME, as NAME=FILE: one JSON
    /// object per line (blank lines skipped), each validated as `kubectl create` would and,
    /// when it has a `status`, given it through the status subresource. For loading large
    /// fleets without one request per object. Repeatable; the write log starts empty.
    #[arg(long, value_name = "NAME=FILE", value_parser = parse_seed)]
    seed: Vec<(String, PathBuf)>,
}

fn parse_seed(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => {
            Ok((name.to_string(), PathBuf::from(file)))
        }
        _ => Err(format!("expected NAME=FILE, got {s:?}")),
    }
}

/// Creates every object of the JSON-lines `file` in `cluster`; the first bad line stops it,
/// named by file and line.
fn seed(cluster: &FakeCluster, file: &std::path::Path) -> Result<usize, String> {
    use std::io::BufRead as _;
    let f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut count = 0;
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", file.display(), i + 1);
        let obj: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("{}: not JSON: {e}", at()))?;
        cluster
            .create_with_status(&obj)
            .map_err(|e| format!("{}: {}", at(), e.message))?;
        count += 1;
    }
    cluster.clear_write_log();
    Ok(count)
}

fn parse_cluster(s: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=ADDRESS, got {s:?}"))?;
    if name.is_empty() {
        return Err(format!("empty cluster name in {s:?}"));
    }
    let addr = addr
        .parse()
        .map_err(|e| format!("bad address in {s:?}: {e}"))?;
    Ok((name.to_string(), addr))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = Options {
        crd_dir: args.crd_dir.clone(),
        omit_types: args.omit.clone(),
        ..Options::default()
    };
    let mut clusters = Vec::new();
    for (name, addr) in &args.clusters {
        if clusters.iter().any(|c: &FakeCluster| c.name() == name) {
            eprintln!("kubefake: cluster {name} given twice");
            return ExitCode::from(2);
        }
        let started = if args.tls {
            FakeCluster::start_tls_with(*addr, name, options.clone())
        } else {
            FakeCluster::start_with(*addr, name, options.clone())
        };
        match started {
            Ok(c) => clusters.push(c),
            Err(e) => {
                eprintln!("kubefake: cluster {name}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    for (name, file) in &args.seed {
        let Some(cluster) = clusters.iter().find(|c| c.name() == name) else {
            eprintln!("kubefake: --seed names cluster {name}, which is not served");
            return ExitCode::from(2);
        };
        match seed(cluster, file) {
            Ok(n) => println!(
                "kubefake: cluster {name} seeded with {n} objects from {}",
                file.display()
            ),
            Err(e) => {
                eprintln!("kubefake: seeding cluster {name}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(path) = &args.kubeconfig {
        let refs: Vec<&FakeCluster> = clusters.iter().collect();
        if let Err(e) = std::fs::write(path, kubeconfig_yaml(&refs, None)) {
            eprintln!("kubefake: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    for c in &clusters {
        println!("kubefake: cluster {} serving {}", c.name(), c.url());
    }
    if let Some(path) = &args.kubeconfig {
        println!("kubefake: kubeconfig {}", path.display());
    }
    let clusters = Arc::new(clusters);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kubefake: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = rt.block_on(async {
        if let Some(addr) = args.control {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("control address {addr}: {e}"))?;
            let bound = listener.local_addr().map_err(|e| e.to_string())?;
            println!("kubefake: control http://{bound}");
            tokio::spawn(control::serve(listener, clusters.clone()));
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        Ok::<(), String>(())
    });
    if let Err(e) = served {
        eprintln!("kubefake: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(path) = &args.write_log {
        let mut text = String::new();
        for c in clusters.iter() {
            for w in c.write_log() {
                let mut v = w.to_json();
                v["cluster"] = serde_json::json!(c.name());
                text.push_str(&v.to_string());
                text.push('\n');
            }
        }
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("kubefake: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
