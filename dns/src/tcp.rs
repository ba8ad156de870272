//! DNS over TCP (RFC 7766), with the limits hickory-server's listener lacks.
//!
//! hickory-server 0.26 has one timeout per listener and no cap on connections,
//! so a client could hold any number of them open, or trickle bytes forever.
//! This accept loop runs on the main tokio runtime (never on the UDP worker
//! threads, so UDP keeps its own cores while TCP is saturated) and enforces,
//! from the zone's current [`TcpLimits`]:
//! - a cap on open connections in total and per client address (over a cap the
//!   connection is accepted and closed at once, so the listen backlog never fills);
//! - an idle timeout: the next message must start within `idle_timeout_seconds`;
//! - a read timeout: a message, once started, must arrive in full within
//!   `read_timeout_seconds` (a client sending one byte per second is cut off);
//!   writing a response has the same deadline.
//!
//! Messages are 2-byte length-prefixed; pipelined queries are answered one after
//! the other, in the order received, through the same general path as UDP
//! ([`crate::general::respond`]), into buffers the connection reuses. TCP
//! responses are never rate-limited.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fleetdns_config::TcpLimits;
use hickory_server::net::xfer::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{timeout, timeout_at, Instant};

use crate::general::{self, Scratch};
use crate::udp::UdpService;

/// Pause after an accept error (out of file descriptors, …) before the next try.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Open connections: the total and per client address. The mutex is only taken
/// when a connection opens or closes, never on the query path, and never held
/// across an await.
#[derive(Default)]
struct Open {
    total: u32,
    per_client: HashMap<IpAddr, u32>,
}

/// A slot in [`Open`], released when the connection ends.
struct Slot {
    open: Arc<Mutex<Open>>,
    client: IpAddr,
    service: UdpService,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("TCP connection table lock");
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                open.per_client.remove(&self.client);
            }
        }
        self.service.metrics.tcp_open.dec();
    }
}

/// Accepts and serves connections on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    service: UdpService,
    mut shutdown: watch::Receiver<bool>,
) {
    let open = Arc::new(Mutex::new(Open::default()));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(error) => {
                // Out of descriptors or a connection reset before accept: not
                // fatal. Logged (rarely: it needs a burst of connections).
                tracing::debug!(%error, "TCP accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let limits = service.snapshot.load().zone().tcp_limits().clone();
        let client = canonical(peer.ip());
        let slot = {
            let mut o = open.lock().expect("TCP connection table lock");
            if o.total >= limits.max_connections {
                service.metrics.tcp_refused_total.inc();
                None
            } else if o.per_client.get(&client).copied().unwrap_or(0)
                >= limits.max_connections_per_client
            {
                service.metrics.tcp_refused_client.inc();
                None
            } else {
                o.total += 1;
                *o.per_client.entry(client).or_insert(0) += 1;
                service.metrics.tcp_open.inc();
                Some(Slot {
                    open: open.clone(),
                    client,
                    service: service.clone(),
                })
            }
        };
        // Over a cap: dropping the stream closes it.
        let Some(slot) = slot else { continue };
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = slot.service.clone();
            if let Err(Closed::Timeout) =
                connection(stream, peer, &service, &limits, shutdown).await
            {
                service.metrics.tcp_timeouts.inc();
            }
            drop(slot);
        });
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Why a connection ended early.
enum Closed {
    Timeout,
    Io,
}

impl From<io::Error> for Closed {
    fn from(_: io::Error) -> Self {
        Closed::Io
    }
}

impl From<tokio::time::error::Elapsed> for Closed {
    fn from(_: tokio::time::error::Elapsed) -> Self {
        Closed::Timeout
    }
}

/// Serves one connection: length-prefixed queries in, answers out, in order.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    service: &UdpService,
    limits: &TcpLimits,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), Closed> {
    let _ = stream.set_nodelay(true);
    let idle = Duration::from_secs(limits.idle_timeout_seconds.into());
    let read = Duration::from_secs(limits.read_timeout_seconds.into());
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(4096, rd);
    let mut message = Vec::with_capacity(512);
    let mut reply = Vec::with_capacity(512);
    let mut scratch = Scratch::default();
    let mut out = Vec::with_capacity(512);
    loop {
        // Idle: wait for the first byte of the next length prefix.
        let mut len = [0u8; 2];
        let first = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
            r = timeout(idle, rd.read(&mut len[..1])) => r??,
        };
        if first == 0 {
            return Ok(()); // the client closed
        }
        // The message has begun: all of it must arrive before the read deadline.
        let deadline = Instant::now() + read;
        timeout_at(deadline, rd.read_exact(&mut len[1..])).await??;
        let n = usize::from(u16::from_be_bytes(len));
        message.resize(n, 0);
        timeout_at(deadline, rd.read_exact(&mut message)).await??;
        let answered = general::respond(
            &service.snapshot.load(),
            &service.metrics,
            &message,
            peer,
            Protocol::Tcp,
            &mut reply,
            &mut scratch,
        );
        if !answered {
            continue;
        }
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return Err(Closed::Io); // cannot be framed; our answers never get here
        };
        out.clear();
        out.extend_from_slice(&reply_len.to_be_bytes());
        out.extend_from_slice(&reply);
        timeout(read, wr.write_all(&out)).await??;
    }
}
