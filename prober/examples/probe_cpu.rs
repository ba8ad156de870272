//! Benchmark: CPU cost of probing many endpoints over HTTP, HTTPS or TCP.
//!
//! ```text
//! cargo run --release -p fleetdns-prober --example probe_cpu -- [--endpoints 10000] [--interval 10] [--seconds 60] [--warmup 0] [--protocol http|https|tcp]
//! ```
//!
//! `--warmup S` lets the prober run S seconds before the measurement starts, so
//! the figures are the steady state without the start-up (the first probe of
//! every endpoint, its CheckingEndpoint → Online transition and the creation of
//! its metric series). Without it, the measurement includes the start-up.
//!
//! Starts N tiny HTTP listeners, each endpoint on its own `127.77.0.a:port`
//! (40 addresses × as many ports as needed; one profile per port, since the
//! port is a profile setting), in a **child process** (this same binary with
//! `--serve`, with `--tls` for HTTPS: one self-signed certificate), so the CPU
//! figures below are the prober's alone. Then runs the
//! prober for `--seconds` on a fleet of those endpoints and prints probes
//! completed, probes/s and the CPU time this process used (user + system,
//! from /proc/self/stat), also as % of one core.
// A benchmark measures wall time on purpose: std::time::Instant is right here.
#![allow(clippy::disallowed_types)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fleetdns_config::{
    Endpoint, Fleet, Health, MonitorConfig, MonitorState, Profile, Protocol, Target,
};
use fleetdns_prober::{spawn, Metrics, Settings};
use prometheus::Registry;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Addresses per port: 127.77.0.1 ..= 127.77.0.40.
const ADDRESSES: usize = 40;
const FIRST_PORT: u16 = 20000;

fn endpoint_addr(i: usize) -> SocketAddr {
    let a = (i % ADDRESSES) as u8 + 1;
    let port = FIRST_PORT + (i / ADDRESSES) as u16;
    SocketAddr::from((Ipv4Addr::new(127, 77, 0, a), port))
}

struct Args {
    protocol: Protocol,
    endpoints: usize,
    interval: u32,
    seconds: u64,
    warmup: u64,
    serve: bool,
    tls: bool,
}

fn args() -> Args {
    let mut a = Args {
        protocol: Protocol::Http,
        endpoints: 10_000,
        interval: 10,
        seconds: 60,
        warmup: 0,
        serve: false,
        tls: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().and_then(|v| v.parse::<u64>().ok());
        match flag.as_str() {
            "--endpoints" => a.endpoints = value().expect("--endpoints N") as usize,
            "--interval" => a.interval = value().expect("--interval SECONDS") as u32,
            "--seconds" => a.seconds = value().expect("--seconds SECONDS"),
            "--warmup" => a.warmup = value().expect("--warmup SECONDS"),
            "--protocol" => {
                a.protocol = match it.next().as_deref() {
                    Some("http") => Protocol::Http,
                    Some("https") => Protocol::Https,
                    Some("tcp") => Protocol::Tcp,
                    _ => panic!("--protocol http|https|tcp"),
                }
            }
            "--serve" => {
                a.serve = true;
                a.endpoints = value().expect("--serve N") as usize;
            }
            "--tls" => a.tls = true,
            other => panic!("unknown argument {other}; see the doc comment of probe_cpu.rs"),
        }
    }
    assert!(a.endpoints <= ADDRESSES * 40_000, "too many endpoints");
    a
}

fn main() {
    let args = args();
    if args.serve {
        serve(args.endpoints, args.tls);
    } else {
        measure(args);
    }
}

// === listeners (child process) ===

/// One self-signed certificate for every HTTPS listener (ring provider).
fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("self-signed certificate");
    let cert: CertificateDer<'static> = key.cert.der().clone();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert], private)
    .expect("server certificate");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Binds every endpoint's listener, says "ready", answers `200 ok` to every
/// request (over TLS with `tls`) until stdin closes (the parent exits or kills us).
fn serve(n: usize, tls: bool) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let acceptor = tls.then(tls_acceptor);
    rt.block_on(async {
        for i in 0..n {
            let addr = endpoint_addr(i);
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                while let Ok((s, _)) = listener.accept().await {
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        match acceptor {
                            Some(a) => {
                                if let Ok(s) = a.accept(s).await {
                                    answer(s).await;
                                }
                            }
                            None => answer(s).await,
                        }
                    });
                }
            });
        }
        println!("ready");
        std::io::stdout().flush().expect("stdout");
        // Stop when the parent goes away.
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            let _ = std::io::stdin().read_line(&mut sink);
        })
        .await;
    });
}

/// Reads a request head, answers `200 ok`, closes.
async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S) {
    let mut buf = [0u8; 2048];
    let mut seen = 0;
    while let Ok(k) = s.read(&mut buf[seen..]).await {
        if k == 0 {
            return;
        }
        seen += k;
        if buf[..seen].windows(4).any(|w| w == b"\r\n\r\n") || seen == buf.len() {
            break;
        }
    }
    let _ = s
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        .await;
    // A no-op on TCP; pushes the last TLS record out.
    let _ = s.flush().await;
}

// === prober (this process) ===

/// User and system CPU time of this process so far (all threads).
fn cpu_time() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the `(comm)`: state is [0], utime [11], stime [12], in clock ticks.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|v| v.parse().expect("tick count"))
        .collect();
    // USER_HZ is 100 on Linux regardless of the kernel's HZ.
    (
        Duration::from_millis(f[0] * 10),
        Duration::from_millis(f[1] * 10),
    )
}

/// Peak resident memory of this process, from /proc/self/status.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn fleet(n: usize, interval: u32, protocol: Protocol) -> Fleet {
    let yaml = "\
apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
metadata:
  name: fleetdns
spec:
  zone: fleet.example.com
  nameServers:
    - name: ns1.fleet.example.com
      addresses: [127.0.0.1]
";
    let (mut fleet, _) = fleetdns_config::file::load_str(Path::new("bench.yaml"), yaml)
        .unwrap_or_else(|d| panic!("base config: {d:?}"));
    let ports = n.div_ceil(ADDRESSES);
    fleet.profiles = (0..ports)
        .map(|p| {
            let port = FIRST_PORT + p as u16;
            let endpoints = (p * ADDRESSES..((p + 1) * ADDRESSES).min(n))
                .map(|i| {
                    let SocketAddr::V4(a) = endpoint_addr(i) else {
                        unreachable!("IPv4 plan")
                    };
                    Endpoint {
                        id: format!("bench/web#svc#c{i}").into(),
                        backend: "web".into(),
                        service: "svc".into(),
                        cluster: format!("c{i}").into(),
                        target: Target::Addresses {
                            v4: Some(*a.ip()),
                            v6: None,
                        },
                        weight: 1,
                        export_weight: 1,
                        always_serve: false,
                        priority: fleetdns_config::routing::DEFAULT_PRIORITY,
                    }
                })
                .collect();
            std::sync::Arc::new(Profile {
                namespace: "bench".into(),
                name: format!("p{port}"),
                owner: format!("bench-p{port}.fleet.example.com"),
                ttl: 60,
                monitor: MonitorConfig {
                    protocol,
                    port,
                    path: "/healthz".into(),
                    interval_seconds: interval,
                    timeout_seconds: 5.min(interval.saturating_sub(1)).max(1),
                    tolerated_failures: 3,
                    custom_headers: vec![],
                    expected_status: vec![(200, 200)],
                    verify_tls: false,
                }
                .into(),
                fail_closed: false,
                routing: fleetdns_config::RoutingMethod::Weighted,
                endpoints,
            })
        })
        .collect();
    fleet
}

/// Probes completed so far (all outcomes), and how many of them failed.
fn probes_done(registry: &Registry) -> (u64, u64) {
    let (mut all, mut failed) = (0u64, 0u64);
    for family in registry.gather() {
        if family.name() != "fleetdns_probe_results_total" {
            continue;
        }
        for m in family.get_metric() {
            let v = m.get_counter().get_value() as u64;
            all += v;
            if m.get_label()
                .iter()
                .any(|l| l.name() == "outcome" && l.value() != "success")
            {
                failed += v;
            }
        }
    }
    (all, failed)
}

fn measure(args: Args) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exe = std::env::current_exe().expect("own path");
    let mut serve_args = vec!["--serve".to_string(), args.endpoints.to_string()];
    if args.protocol == Protocol::Https {
        serve_args.push("--tls".to_string());
    }
    let mut child = Command::new(exe)
        .args(&serve_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start listener process");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().expect("child stdout"))
        .read_line(&mut ready)
        .expect("read child");
    assert_eq!(ready.trim(), "ready", "listener process failed to start");

    let registry = Registry::new();
    let metrics = Metrics::register(&registry).expect("metrics");
    let (_fleet_tx, fleet_rx) = watch::channel(Arc::new(fleet(
        args.endpoints,
        args.interval,
        args.protocol,
    )));
    let (health_tx, health_rx) = watch::channel(Arc::new(Health::default()));
    let shutdown = CancellationToken::new();
    // The prober's own thread, as `fleetdns serve` runs it.
    let prober = spawn(
        Settings::default(),
        fleet_rx,
        health_tx,
        metrics,
        shutdown.clone(),
    )
    .expect("prober thread");
    std::thread::sleep(Duration::from_secs(args.warmup));
    let (probes0, failed0) = probes_done(&registry);
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(args.seconds));
    let (probes1, failed1) = probes_done(&registry);
    let (probes, failed) = (probes1 - probes0, failed1 - failed0);
    let cpu1 = cpu_time();
    let (wall, cpu) = (t0.elapsed(), (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1));
    let online = health_rx
        .borrow()
        .iter()
        .filter(|(_, e)| e.state == MonitorState::Online)
        .count();
    shutdown.cancel();
    let _ = prober.join();
    let _ = child.kill();
    let _ = child.wait();

    let secs = wall.as_secs_f64();
    println!(
        "probe_cpu: {:?} probes, listeners in a separate child process (not counted)",
        args.protocol
    );
    println!("endpoints          {}", args.endpoints);
    println!("interval           {} s", args.interval);
    println!("warm-up            {} s (not measured)", args.warmup);
    println!("duration           {secs:.1} s");
    println!("probes completed   {probes} ({failed} failed)");
    println!("endpoints Online   {online}");
    println!("probes/s           {:.0}", probes as f64 / secs);
    let total = (cpu.0 + cpu.1).as_secs_f64();
    println!(
        "CPU time (prober)  {total:.2} s (user {:.2} s + system {:.2} s)",
        cpu.0.as_secs_f64(),
        cpu.1.as_secs_f64()
    );
    println!("CPU % of one core  {:.1} %", 100.0 * total / secs);
    println!(
        "CPU per probe      {:.0} µs",
        1e6 * total / probes.max(1) as f64
    );
    println!("peak RSS (prober)  {:.0} MiB", peak_rss_mib());
}
