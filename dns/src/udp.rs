//! UDP service: several SO_REUSEPORT sockets per address, one thread each.
//!
//! Each worker owns a socket and its buffers and loops: receive a batch (every
//! query already queued, up to [`mmsg::BATCH`], in one call), answer each, send
//! the answers (one call). The kernel spreads datagrams over the sockets, so
//! workers never share state beyond the zone (`ArcSwap`, lock-free) and atomic
//! counters. Common queries are answered by [`fast::respond`]; everything else
//! by the general path ([`general`]: hickory's parser and our `Handler`, run to
//! completion on the worker's own single-thread runtime). No task is spawned
//! per packet. Every response then passes the worker's own response rate
//! limiter ([`crate::rrl`]).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use hickory_proto::op::{Header, Message, MessageType, Metadata, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::net::NetError;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};

use crate::fast::{self, Fast};
use crate::handler::Handler;
use crate::metrics::DnsMetrics;
use crate::mmsg;
use crate::rrl::{self, Limiter, Verdict};
use crate::zone::Zone;

/// How often an idle worker checks for shutdown.
const POLL: Duration = Duration::from_millis(200);
/// Socket buffer sizes asked for (the kernel may cap them).
const SOCKET_BUFFER: usize = 4 << 20;

/// What the UDP workers share.
#[derive(Clone)]
pub struct UdpService {
    pub zone: Arc<ArcSwap<Zone>>,
    pub handler: Handler,
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
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            tracing::error!(%error, "cannot start a UDP worker runtime");
            return;
        }
    };
    let mut rx = mmsg::Receiver::default();
    let mut tx = mmsg::Sender::default();
    // Answers of one batch and where they go; the first `ready` are to be sent.
    let mut outs: Vec<Vec<u8>> = (0..mmsg::BATCH).map(|_| Vec::with_capacity(1500)).collect();
    let mut dests = [SocketAddr::from(([0, 0, 0, 0], 0)); mmsg::BATCH];
    let mut limiter = Limiter::new(rrl::DEFAULT_ENTRIES);
    while !stop.load(Ordering::Acquire) {
        // Timeouts and interruptions come back here to check `stop`; errors such
        // as ICMP errors from earlier sends surface here too: keep going.
        let Ok(n) = rx.recv(&socket) else { continue };
        let mut ready = 0;
        for (packet, src) in (0..n).filter_map(|i| rx.get(i)) {
            let out = &mut outs[ready];
            let zone = service.zone.load();
            let send = match fast::respond(&zone, packet, src.ip(), &service.metrics, out) {
                Fast::Answered => limit(&mut limiter, &zone, src, out, &service.metrics),
                Fast::Fallback => {
                    drop(zone);
                    match runtime.block_on(general(&service.handler, packet, src)) {
                        Some(reply) => {
                            *out = reply;
                            let zone = service.zone.load();
                            limit(&mut limiter, &zone, src, out, &service.metrics)
                        }
                        None => false,
                    }
                }
            };
            if send {
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

/// The general path for one UDP packet: hickory parses it, our `Handler` answers.
/// Returns the encoded response, or `None` when nothing is to be sent (responses,
/// runts shorter than a header), as hickory-server's own UDP loop does.
pub async fn general(handler: &Handler, packet: &[u8], src: SocketAddr) -> Option<Vec<u8>> {
    answer(handler, packet, src, Protocol::Udp).await
}

/// The general path for one message received over `protocol` (UDP, or one
/// length-prefixed TCP message without its prefix): see [`general`].
pub async fn answer(
    handler: &Handler,
    packet: &[u8],
    src: SocketAddr,
    protocol: Protocol,
) -> Option<Vec<u8>> {
    let header = Header::read(&mut BinDecoder::new(packet)).ok()?;
    if header.metadata.message_type == MessageType::Response {
        return None;
    }
    let formerr = || {
        // FORMERR with no question, as hickory-server answers what it cannot parse.
        let mut metadata = Metadata::response_from_request(&header.metadata);
        metadata.response_code = ResponseCode::FormErr;
        let mut message = Message::new(metadata.id, MessageType::Response, metadata.op_code);
        message.metadata = metadata;
        message.to_vec().ok()
    };
    // hickory echoes the question section byte for byte; a compression pointer
    // into the header would point at the *response's* header there, and the
    // answer would not parse (found by the `query` fuzz target).
    if question_points_into_header(packet, header.counts.queries) {
        return formerr();
    }
    let request = match Request::from_bytes(packet.to_vec(), src, protocol) {
        Ok(r) => r,
        Err(_) => return formerr(),
    };
    let capture = Capture::default();
    handler
        .handle_request::<_, TokioTime>(&request, capture.clone())
        .await;
    capture.0.get().cloned()
}

/// Whether a name in the first `count` questions has a compression pointer to an
/// offset inside the 12-byte header. Stops (false) at anything malformed; the
/// parser judges that.
fn question_points_into_header(packet: &[u8], count: u16) -> bool {
    let mut at = 12;
    for _ in 0..count {
        loop {
            match packet.get(at) {
                Some(0) => {
                    at += 1;
                    break;
                }
                Some(&b) if b & 0xC0 == 0xC0 => {
                    let Some(&lo) = packet.get(at + 1) else {
                        return false;
                    };
                    if (usize::from(b & 0x3F) << 8 | usize::from(lo)) < 12 {
                        return true;
                    }
                    at += 2;
                    break;
                }
                Some(&len) if len <= 63 => at += 1 + usize::from(len),
                _ => return false,
            }
        }
        at += 4;
    }
    false
}

/// A `ResponseHandler` that keeps the encoded response instead of sending it.
#[derive(Clone, Default)]
struct Capture(Arc<OnceLock<Vec<u8>>>);

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut buf = Vec::with_capacity(512);
        let info = response
            .destructive_emit(&mut BinEncoder::new(&mut buf))
            .map_err(|e| NetError::from(e.to_string()))?;
        let _ = self.0.set(buf);
        Ok(info)
    }
}
