//! UDP service: several SO_REUSEPORT sockets per address, one thread each.
//!
//! Each worker owns a socket and its buffers and loops: receive a batch (every
//! query already queued, up to [`mmsg::BATCH`], in one call), answer each, send
//! the answers (one call). The kernel spreads datagrams over the sockets, so
//! workers never share state beyond the zone (`ArcSwap`, lock-free) and atomic
//! counters. Common queries are answered by [`fast::respond`]; everything else
//! by the general path ([`general::respond`]: hickory's parser and encoder, run
//! to completion on the worker thread). Both read the snapshot loaded once for
//! the packet and write into the worker's own buffers. No task is spawned per
//! packet. Every response then passes the worker's own response rate limiter
//! ([`crate::rrl`]).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use hickory_server::net::xfer::Protocol;
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};

use crate::fast::{self, Fast};
use crate::general::{self, Scratch};
use crate::metrics::DnsMetrics;
use crate::mmsg;
use crate::rrl::{self, Limiter, Verdict};
use crate::snapshot::Snapshot;
use crate::zone::Zone;

/// How often an idle worker checks for shutdown.
const POLL: Duration = Duration::from_millis(200);
/// Socket buffer sizes asked for (the kernel may cap them).
const SOCKET_BUFFER: usize = 4 << 20;

/// What the UDP workers (and the TCP connections) share.
#[derive(Clone)]
pub struct UdpService {
    /// The snapshot answers are read from, replaced whole on every change.
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    /// Query, response and socket counters.
    pub metrics: Arc<DnsMetrics>,
}

/// Running UDP workers; stop them with [`Workers::stop`].
pub struct Workers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Asks every worker to stop and waits for them (at most one poll interval).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Binds one SO_REUSEPORT UDP socket on `addr`; call it once per worker with the
/// same address (a concrete port: bind the first with port 0, then reuse its port).
pub fn reuseport_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM,
        Some(SockProtocol::UDP),
    )?;
    socket.set_reuse_port(true)?;
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Starts one worker per socket.
pub fn spawn(sockets: Vec<UdpSocket>, service: UdpService) -> io::Result<Workers> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for (i, socket) in sockets.into_iter().enumerate() {
        socket.set_read_timeout(Some(POLL))?;
        let service = service.clone();
        let stop = stop.clone();
        let t = std::thread::Builder::new()
            .name(format!("fleetdns-udp-{i}"))
            .spawn(move || worker(socket, service, stop))?;
        threads.push(t);
    }
    Ok(Workers { stop, threads })
}

fn worker(socket: UdpSocket, service: UdpService, stop: Arc<AtomicBool>) {
    let mut rx = mmsg::Receiver::default();
    let mut tx = mmsg::Sender::default();
    // Answers of one batch and where they go; the first `ready` are to be sent.
    let mut outs: Vec<Vec<u8>> = (0..mmsg::BATCH).map(|_| Vec::with_capacity(1500)).collect();
    let mut dests = [SocketAddr::from(([0, 0, 0, 0], 0)); mmsg::BATCH];
    let mut scratch = Scratch::default();
    let mut limiter = Limiter::new(rrl::DEFAULT_ENTRIES);
    while !stop.load(Ordering::Acquire) {
        // Timeouts and interruptions come back here to check `stop`; errors such
        // as ICMP errors from earlier sends surface here too: keep going.
        let Ok(n) = rx.recv(&socket) else { continue };
        let mut ready = 0;
        for (packet, src) in (0..n).filter_map(|i| rx.get(i)) {
            let out = &mut outs[ready];
            let snapshot = service.snapshot.load();
            let answered = match fast::respond(&snapshot, packet, src.ip(), &service.metrics, out) {
                Fast::Answered => true,
                Fast::Fallback => general::respond(
                    &snapshot,
                    &service.metrics,
                    packet,
                    src,
                    Protocol::Udp,
                    out,
                    &mut scratch,
                ),
            };
            if answered && limit(&mut limiter, snapshot.zone(), src, out, &service.metrics) {
                dests[ready] = src;
                ready += 1;
            }
        }
        // A refused send (client gone, buffer full) loses that UDP answer, as
        // any UDP server would; not logged per packet.
        tx.send(&socket, &outs[..ready], &dests[..ready]);
    }
}

/// Applies response rate limiting to `response`: returns whether to send it
/// (possibly rewritten as a truncated slip), counting what was limited.
fn limit(
    limiter: &mut Limiter,
    zone: &Zone,
    src: SocketAddr,
    response: &mut Vec<u8>,
    metrics: &DnsMetrics,
) -> bool {
    match limiter.check(zone.rrl(), src.ip(), response) {
        Verdict::Send => true,
        Verdict::Slip => {
            rrl::truncate(response);
            metrics.rrl_slipped.inc();
            true
        }
        Verdict::Drop => {
            metrics.rrl_dropped.inc();
            false
        }
    }
}
