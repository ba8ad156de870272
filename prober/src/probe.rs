//! Sending one probe: an HTTP(S) GET or a TCP connect, judged by Traffic Manager's rules.
//!
//! This is the only module that touches the network. Every probe opens a fresh
//! connection, sends at most one request (`Connection: close`), follows no
//! redirects, retries nothing and goes through no proxy, so one probe result
//! means one connection attempt to the endpoint itself. The verdict comes
//! from the status line alone; the body is never read.
//!
//! Connections are closed with `SO_LINGER` 0, i.e. a reset instead of a FIN
//! handshake (Traffic Manager's TCP probe does the same: "connection closed
//! (FIN/RST)"), so a prober opening a thousand connections a second keeps no
//! sockets in TIME_WAIT and the kernel handles fewer packets per probe.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fleetdns_config::{MonitorConfig, Target};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::http::{self, ExchangeError};
use crate::outcome::{Outcome, ProbeResult};
use crate::settings::{Error, Settings};
use crate::spec::{Kind, ProbeSpec, TcpTarget, Tls};
use crate::tls::TlsConfigs;

/// Something that can run a probe; [`Probes`] in production, scripted fakes in tests.
pub(crate) trait Probe: Send + Sync + 'static {
    fn probe(&self, spec: &ProbeSpec) -> impl Future<Output = ProbeResult> + Send;
}

/// What probes share: settings and TLS configurations, never a connection.
#[derive(Clone, Debug)]
pub struct Probes {
    user_agent: Arc<str>,
    tls: TlsConfigs,
}

impl Probes {
    /// Builds the TLS configurations. If no process-wide rustls crypto provider
    /// is installed yet, installs ring (what the `fleetdns` binary uses).
    pub fn new(settings: &Settings) -> Result<Probes, Error> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another installer is fine: one is installed either way.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        Ok(Probes {
            user_agent: settings.user_agent.as_str().into(),
            tls: TlsConfigs::new(provider).map_err(Error::Tls)?,
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
        let (outcome, detail) = match tokio::time::timeout(spec.timeout, self.attempt(spec)).await {
            Ok(verdict) => verdict,
            // Dropping the attempt closes its connection.
            Err(_) => (
                Outcome::Timeout,
                format!("timeout after {}s", spec.timeout.as_secs()),
            ),
        };
        ProbeResult::new(outcome, detail, started.elapsed())
    }

    /// Connect, and for HTTP(S) the exchange, without a deadline (the caller has it).
    async fn attempt(&self, spec: &ProbeSpec) -> (Outcome, String) {
        match &spec.kind {
            Kind::Tcp(target) => match connect(target).await {
                // Dropping the stream resets the connection.
                Ok(_stream) => (Outcome::Success, "TCP connected".to_string()),
                Err(e) => (Outcome::ConnectError, format!("connect: {e}")),
            },
            Kind::Http {
                connect: target,
                tls,
                path,
                headers,
                expected,
                request,
            } => {
                let mut stream = match connect(target).await {
                    Ok(s) => s,
                    Err(e) => return (Outcome::ConnectError, format!("connect: {e}")),
                };
                let request = request
                    .expose()
                    .get_or_init(|| http::render_request(path, headers.expose(), &self.user_agent));
                let status = match tls {
                    None => http::exchange(&mut stream, request).await,
                    Some(tls) => {
                        // The handshake and the request go out in separate
                        // writes; do not let Nagle hold the request back.
                        let _ = stream.set_nodelay(true);
                        let mut stream = match self.handshake(tls, stream).await {
                            Ok(s) => s,
                            Err(detail) => return (Outcome::TlsError, detail),
                        };
                        http::exchange(&mut stream, request).await
                    }
                };
                match status {
                    Ok(status) => {
                        let ok = fleetdns_config::is_expected_status(expected, status);
                        Outcome::of_status(status, ok)
                    }
                    Err(e) => (Outcome::Error, http_detail(&e)),
                }
            }
        }
    }

    async fn handshake(
        &self,
        tls: &Tls,
        stream: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let config = if tls.verify {
            &self.tls.verifying
        } else {
            &self.tls.trusting
        };
        TlsConnector::from(config.clone())
            .connect(tls.server_name.clone(), stream)
            .await
            .map_err(|e| {
                // rustls errors travel inside an io::Error; show the rustls one.
                match e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                {
                    Some(t) => format!("tls: {t}"),
                    None => format!("tls: {e}"),
                }
            })
    }
}

impl Probe for Probes {
    fn probe(&self, spec: &ProbeSpec) -> impl Future<Output = ProbeResult> + Send {
        self.run(spec)
    }
}

/// A fresh connection to `target` that resets instead of lingering when dropped.
async fn connect(target: &TcpTarget) -> std::io::Result<TcpStream> {
    let stream = match target {
        TcpTarget::Addr(addr) => TcpStream::connect(*addr).await?,
        TcpTarget::Host(host, port) => TcpStream::connect((host.as_str(), *port)).await?,
    };
    // Best effort: a socket that keeps the default linger still closes.
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    Ok(stream)
}

/// The detail of a failed exchange: the innermost I/O cause, or what was wrong.
fn http_detail(e: &ExchangeError) -> String {
    match e {
        ExchangeError::Write(io) | ExchangeError::Read(io) => format!("http: {io}"),
        ExchangeError::Closed | ExchangeError::Head(_) => format!("http: {e}"),
    }
}
