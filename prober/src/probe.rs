//! Sending one probe: an HTTP(S) GET or a TCP connect, judged by Traffic Manager's rules.
//!
//! This is the only module that touches the network. Every probe uses a fresh
//! connection (the clients keep no idle connections), follows no redirects,
//! retries nothing and goes through no proxy, so one probe result means one
//! connection attempt to the endpoint itself.

use std::future::Future;
use std::time::Duration;

use fleetdns_config::{MonitorConfig, Target};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::outcome::{Outcome, ProbeResult};
use crate::spec::{Kind, ProbeSpec, TcpTarget};
use crate::{Error, Settings};

/// Something that can run a probe; [`Probes`] in production, scripted fakes in tests.
pub(crate) trait Probe: Send + Sync + 'static {
    fn probe(&self, spec: &ProbeSpec) -> impl Future<Output = ProbeResult> + Send;
}

/// The HTTP clients probes share (no connections are shared, only settings).
#[derive(Clone, Debug)]
pub struct Probes {
    /// Accepts any server certificate (Traffic Manager's behaviour).
    trusting: reqwest::Client,
    /// Validates certificates against the platform's roots (`verify_tls`).
    verifying: reqwest::Client,
}

impl Probes {
    /// Builds the clients. If no process-wide rustls crypto provider is
    /// installed yet, installs ring (what the `fleetdns` binary uses) rather
    /// than let the HTTP client panic.
    pub fn new(settings: &Settings) -> Result<Probes, Error> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another installer is fine: one is installed either way.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        Ok(Probes {
            trusting: client(&settings.user_agent, false).map_err(Error::HttpClient)?,
            verifying: client(&settings.user_agent, true).map_err(Error::HttpClient)?,
        })
    }

    /// Probes `target` once under `monitor` (for tools and tests; `run` does
    /// this on a schedule).
    pub async fn check(&self, monitor: &MonitorConfig, target: &Target) -> ProbeResult {
        match ProbeSpec::new(monitor, target) {
            Ok(spec) => self.run(&spec).await,
            Err(e) => ProbeResult::new(Outcome::Error, e.to_string(), Duration::ZERO),
        }
    }

    async fn run(&self, spec: &ProbeSpec) -> ProbeResult {
        let started = Instant::now();
        let (outcome, detail) = match &spec.kind {
            Kind::Http {
                url,
                headers,
                verify_tls,
                expected,
            } => {
                let client = if *verify_tls {
                    &self.verifying
                } else {
                    &self.trusting
                };
                let send = client.get(url.clone()).headers(headers.clone()).send();
                match tokio::time::timeout(spec.timeout, send).await {
                    Err(_) => timed_out(spec.timeout),
                    Ok(Ok(response)) => {
                        let status = response.status().as_u16();
                        let ok = fleetdns_config::is_expected_status(expected, status);
                        Outcome::of_status(status, ok)
                    }
                    Ok(Err(e)) => classify(&e),
                }
            }
            Kind::Tcp(target) => {
                let connect = async {
                    match target {
                        TcpTarget::Addr(addr) => TcpStream::connect(*addr).await,
                        TcpTarget::Host(host, port) => {
                            TcpStream::connect((host.as_str(), *port)).await
                        }
                    }
                };
                match tokio::time::timeout(spec.timeout, connect).await {
                    Err(_) => timed_out(spec.timeout),
                    // Dropping the stream closes the connection (FIN).
                    Ok(Ok(_stream)) => (Outcome::Success, "TCP connected".to_string()),
                    Ok(Err(e)) => (Outcome::ConnectError, format!("connect: {e}")),
                }
            }
        };
        ProbeResult::new(outcome, detail, started.elapsed())
    }
}

impl Probe for Probes {
    fn probe(&self, spec: &ProbeSpec) -> impl Future<Output = ProbeResult> + Send {
        self.run(spec)
    }
}

fn client(user_agent: &str, verify_tls: bool) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .no_proxy()
        .pool_max_idle_per_host(0)
        .tls_danger_accept_invalid_certs(!verify_tls)
        .build()
}

fn timed_out(timeout: Duration) -> (Outcome, String) {
    (
        Outcome::Timeout,
        format!("timeout after {}s", timeout.as_secs()),
    )
}

/// Maps a client error onto the outcome set, with the innermost cause as detail.
fn classify(e: &reqwest::Error) -> (Outcome, String) {
    let mut innermost: &(dyn std::error::Error + 'static) = e;
    let mut tls = None;
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    // Bounded walk down the cause chain.
    for _ in 0..32 {
        let Some(err) = next else { break };
        innermost = err;
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            tls = Some(t.to_string());
        }
        // An io::Error's `source()` skips its payload (which may be another
        // io::Error wrapping the rustls error), so step into the payload itself.
        next = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(payload) => Some(payload as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    if let Some(t) = tls {
        (Outcome::TlsError, format!("tls: {t}"))
    } else if e.is_timeout() {
        (Outcome::Timeout, format!("timeout: {innermost}"))
    } else if e.is_connect() {
        (Outcome::ConnectError, format!("connect: {innermost}"))
    } else {
        (Outcome::Error, format!("http: {innermost}"))
    }
}
