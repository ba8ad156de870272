//! A killable HTTP(S)/TCP backend on loopback, for health-probe tests.
//!
//! Probe tests need a server that answers 200 now, 503 later, hangs, or
//! disappears (port refuses) and comes back on the same address. A
//! [`Backend`] is exactly that: it runs on its own thread with a small
//! current-thread tokio runtime, so it works the same from a plain `#[test]`
//! and from inside `#[tokio::test]` (it never touches the caller's runtime).
//!
//! The HTTP side is deliberately tiny: it reads request heads (GET, no body),
//! records the latest one, and answers per the current [`Behavior`], keeping
//! the connection open like any HTTP/1.1 server unless asked to close. That
//! is all a health probe sends, and it keeps the server's behaviour obvious.
//!
//! ```no_run
//! use fleetdns_testsupport::backend::{Backend, Behavior};
//! let mut b = Backend::start("127.0.10.1:18080".parse().unwrap(), Behavior::Status(200));
//! b.set_behavior(Behavior::Status(503));
//! b.stop(); // the port now refuses connections
//! b.restart(); // same address, same counters
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

/// Largest request head the backend reads; anything longer is dropped unanswered.
const MAX_HEAD: usize = 16 * 1024;

/// How the backend treats each new connection or request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Answer every request with this status code and a short body.
    Status(u16),
    /// Answer `302 Found` with `Location: /moved`.
    Redirect,
    /// Read the request, then never answer (until the client gives up).
    Hang,
    /// Plain TCP service: accept, never read or write, close when the client does.
    Tcp,
}

/// A test server on one loopback address; stopped when dropped.
pub struct Backend {
    addr: SocketAddr,
    /// TLS settings when started with [`Backend::start_tls`].
    tls: Option<TlsAcceptor>,
    /// Behaviour and counters, shared with the server thread and kept across restarts.
    shared: Arc<Shared>,
    /// The server thread while running.
    running: Option<Running>,
}

/// State the server thread reads and updates.
struct Shared {
    behavior: Mutex<Behavior>,
    connections: AtomicU64,
    hits: AtomicU64,
    /// The latest request head, as text.
    last_head: Mutex<Option<String>>,
}

struct Running {
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl Backend {
    /// Listens on `addr` (plain TCP/HTTP) and serves `behavior`. The port
    /// accepts connections when this returns. Panics if `addr` cannot be bound.
    pub fn start(addr: SocketAddr, behavior: Behavior) -> Backend {
        Self::with_tls(addr, behavior, None)
    }

    /// Like [`Backend::start`], but speaks HTTPS with a fresh self-signed
    /// certificate for `localhost` and the IP of `addr` (ring provider).
    pub fn start_tls(addr: SocketAddr, behavior: Behavior) -> Backend {
        Self::with_tls(addr, behavior, Some(self_signed_acceptor(addr)))
    }

    fn with_tls(addr: SocketAddr, behavior: Behavior, tls: Option<TlsAcceptor>) -> Backend {
        let shared = Arc::new(Shared {
            behavior: Mutex::new(behavior),
            connections: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            last_head: Mutex::new(None),
        });
        let mut backend = Backend {
            addr,
            tls,
            shared,
            running: None,
        };
        backend.restart();
        backend
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes how later connections and requests are treated.
    pub fn set_behavior(&self, behavior: Behavior) {
        *self.shared.behavior.lock().expect("behavior lock") = behavior;
    }

    /// HTTP requests received (complete request heads), over all restarts.
    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::SeqCst)
    }

    /// TCP connections accepted, over all restarts.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// The `Host` header of the latest request.
    pub fn last_host(&self) -> Option<String> {
        self.last_header("host")
    }

    /// A header (name in any case) of the latest request.
    pub fn last_header(&self, name: &str) -> Option<String> {
        let head = self.shared.last_head.lock().expect("head lock");
        head.as_deref().and_then(|h| header(h, name))
    }

    /// The request target (path and query) of the latest request.
    pub fn last_path(&self) -> Option<String> {
        let head = self.shared.last_head.lock().expect("head lock");
        let line = head.as_deref()?.lines().next()?;
        line.split(' ').nth(1).map(str::to_string)
    }

    /// Whether the listener is up.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Closes the listener and every open connection; the port then refuses
    /// connections. Returns when all sockets are closed. Idempotent.
    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(());
            running.thread.join().expect("backend thread panicked");
        }
    }

    /// (Re)starts listening on the same address with the same behaviour and
    /// counters. Panics if the address cannot be bound.
    pub fn restart(&mut self) {
        self.stop();
        let listener =
            bind(self.addr).unwrap_or_else(|e| panic!("bind backend {}: {e}", self.addr));
        let (stop, stopped) = oneshot::channel();
        let shared = self.shared.clone();
        let tls = self.tls.clone();
        let thread = std::thread::Builder::new()
            .name(format!("backend-{}", self.addr))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("backend runtime");
                rt.block_on(serve(listener, tls, shared, stopped));
                // Dropping the runtime drops every connection task, closing its socket.
                drop(rt);
            })
            .expect("spawn backend thread");
        self.running = Some(Running { stop, thread });
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    // std sets SO_REUSEADDR on Unix, so a restart can rebind right after a stop.
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Accept loop: one task per connection until `stopped` fires (or its sender drops).
async fn serve(
    listener: std::net::TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = TcpListener::from_std(listener).expect("register listener");
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(connection(stream, tls.clone(), shared.clone()));
    }
}

async fn connection(stream: TcpStream, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let behavior = *shared.behavior.lock().expect("behavior lock");
    if behavior == Behavior::Tcp {
        hold(stream).await;
        return;
    }
    match tls {
        None => exchange(stream, &shared).await,
        Some(acceptor) => {
            if let Ok(stream) = acceptor.accept(stream).await {
                exchange(stream, &shared).await;
            }
        }
    }
}

/// Serves requests on one connection per the current behaviour. Like a real
/// HTTP/1.1 server it keeps the connection open for further requests unless the
/// request says `Connection: close`, so a client that reuses connections shows
/// up as fewer [`Backend::connections`] than [`Backend::hits`].
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, shared: &Shared) {
    while let Some(head) = read_head(&mut stream).await {
        let head = String::from_utf8_lossy(&head).into_owned();
        let close = header(&head, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        *shared.last_head.lock().expect("head lock") = Some(head);
        shared.hits.fetch_add(1, Ordering::SeqCst);
        let behavior = *shared.behavior.lock().expect("behavior lock");
        let response = match behavior {
            Behavior::Status(code) => format!(
                "HTTP/1.1 {code} {}\r\nContent-Length: 3\r\n\r\n{code}",
                reason(code)
            ),
            Behavior::Redirect => {
                "HTTP/1.1 302 Found\r\nLocation: /moved\r\nContent-Length: 0\r\n\r\n".to_string()
            }
            Behavior::Hang | Behavior::Tcp => {
                hold(stream).await;
                return;
            }
        };
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
        if close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Keeps a connection open, discarding input, until the peer closes it.
async fn hold<S: AsyncRead + Unpin>(mut stream: S) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// Bytes up to and including the blank line ending the head; `None` on EOF or overflow.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Some(head)
}

/// The value of header `name` (any case) in a request head.
fn header(head: &str, name: &str) -> Option<String> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim().to_string())
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A TLS acceptor with a new self-signed certificate for `localhost` and `addr`'s IP.
fn self_signed_acceptor(addr: SocketAddr) -> TlsAcceptor {
    let names = vec!["localhost".to_string(), addr.ip().to_string()];
    let key = rcgen::generate_simple_self_signed(names).expect("self-signed certificate");
    let cert: CertificateDer<'static> = key.cert.der().clone();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], private)
        .expect("server certificate");
    TlsAcceptor::from(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Duration;

    fn get(addr: SocketAddr, host: &str) -> io::Result<String> {
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        write!(
            s,
            "GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn answers_records_stops_and_restarts() {
        let addr: SocketAddr = "127.0.9.1:18081".parse().unwrap();
        let mut b = Backend::start(addr, Behavior::Status(200));
        assert!(get(addr, "a.example")
            .unwrap()
            .starts_with("HTTP/1.1 200 OK"));
        b.set_behavior(Behavior::Status(503));
        assert!(get(addr, "b.example").unwrap().starts_with("HTTP/1.1 503"));
        assert_eq!(b.hits(), 2);
        assert_eq!(b.last_host().as_deref(), Some("b.example"));
        assert_eq!(b.last_path().as_deref(), Some("/healthz"));

        b.stop();
        let refused = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2));
        assert!(refused.is_err(), "port must refuse after stop");

        b.restart();
        b.set_behavior(Behavior::Redirect);
        assert!(get(addr, "c.example")
            .unwrap()
            .starts_with("HTTP/1.1 302 Found"));
        assert_eq!(b.hits(), 3);
    }

    #[test]
    fn stop_closes_hanging_connections() {
        let addr: SocketAddr = "127.0.9.2:18081".parse().unwrap();
        let mut b = Backend::start(addr, Behavior::Hang);
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        crate::wait::eventually(
            "the backend to read the request",
            Duration::from_secs(2),
            Duration::from_millis(10),
            || match b.hits() {
                1 => Ok(()),
                n => Err(format!("{n} hits")),
            },
        );
        b.stop();
        let mut buf = [0u8; 16];
        // EOF or reset, not a timeout: the server closed the connection.
        match s.read(&mut buf) {
            Ok(n) => assert_eq!(n, 0),
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ),
                "connection left open"
            ),
        }
    }

    #[test]
    fn keeps_connections_alive_unless_asked_to_close() {
        let addr: SocketAddr = "127.0.9.3:18081".parse().unwrap();
        let b = Backend::start(addr, Behavior::Status(204));
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 256];
        for _ in 0..2 {
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let n = s.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 204 No Content\r\n"));
        }
        assert_eq!((b.hits(), b.connections()), (2, 1));
    }
}
