//! One-shot DNS queries over real UDP and TCP sockets (hickory-proto codec).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinDecodable;

const TIMEOUT: Duration = Duration::from_secs(3);

/// What to put in a query besides name and type.
#[derive(Clone, Debug)]
pub struct Opts {
    /// EDNS: `Some((payload, version, dnssec_ok))`.
    pub edns: Option<(u16, u8, bool)>,
    pub op_code: OpCode,
    pub recursion_desired: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            edns: Some((1232, 0, false)),
            op_code: OpCode::Query,
            recursion_desired: false,
        }
    }
}

/// Builds the wire form of a query.
pub fn build(name: &str, qtype: RecordType, opts: &Opts) -> Vec<u8> {
    let mut msg = Message::new(fastid(), MessageType::Query, opts.op_code);
    msg.metadata.recursion_desired = opts.recursion_desired;
    let mut q = Query::new();
    q.set_name(Name::from_ascii(name).expect("test name parses"));
    q.set_query_type(qtype);
    msg.add_query(q);
    if let Some((payload, version, dnssec_ok)) = opts.edns {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        e.set_version(version);
        e.set_dnssec_ok(dnssec_ok);
        msg.set_edns(e);
    }
    msg.to_vec().expect("query encodes")
}

fn fastid() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static ID: AtomicU16 = AtomicU16::new(4242);
    ID.fetch_add(7919, Ordering::Relaxed)
}

/// Sends raw bytes over UDP from `bind` and returns the raw reply.
pub fn udp_raw_from(bind: &str, server: SocketAddr, packet: &[u8]) -> std::io::Result<Vec<u8>> {
    let sock = UdpSocket::bind(bind)?;
    sock.set_read_timeout(Some(TIMEOUT))?;
    sock.send_to(packet, server)?;
    let mut buf = vec![0u8; 65535];
    let (n, _) = sock.recv_from(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// One UDP query; panics on timeout or a reply that does not parse.
pub fn udp(server: SocketAddr, name: &str, qtype: RecordType, opts: &Opts) -> Message {
    let packet = build(name, qtype, opts);
    let reply = udp_raw_from("127.0.0.1:0", server, &packet)
        .unwrap_or_else(|e| panic!("UDP query {name} {qtype}: {e}"));
    let msg = Message::from_bytes(&reply).expect("reply parses");
    assert_eq!(
        msg.metadata.id,
        u16::from_be_bytes([packet[0], packet[1]]),
        "reply ID matches"
    );
    msg
}

/// One TCP query (RFC 1035 §4.2.2 length prefix).
pub fn tcp(server: SocketAddr, name: &str, qtype: RecordType, opts: &Opts) -> Message {
    let packet = build(name, qtype, opts);
    let mut s = TcpStream::connect_timeout(&server, TIMEOUT).expect("TCP connect");
    s.set_read_timeout(Some(TIMEOUT)).expect("set timeout");
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&packet);
    s.write_all(&framed).expect("TCP write");
    let mut len = [0u8; 2];
    s.read_exact(&mut len).expect("TCP read length");
    let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut reply).expect("TCP read body");
    Message::from_bytes(&reply).expect("reply parses")
}

/// A UDP client socket reused across many queries.
pub struct Client {
    sock: UdpSocket,
    server: SocketAddr,
}

impl Client {
    pub fn new(server: SocketAddr) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind client");
        sock.set_read_timeout(Some(TIMEOUT)).expect("set timeout");
        Self { sock, server }
    }

    /// One query; panics on timeout.
    pub fn query(&self, name: &str, qtype: RecordType, opts: &Opts) -> Message {
        self.try_query(name, qtype, opts)
            .unwrap_or_else(|e| panic!("query {name} {qtype}: {e}"))
    }

    /// One query; an error when no reply came within the timeout (a lost query).
    pub fn try_query(
        &self,
        name: &str,
        qtype: RecordType,
        opts: &Opts,
    ) -> std::io::Result<Message> {
        let packet = build(name, qtype, opts);
        self.sock.send_to(&packet, self.server)?;
        let mut buf = [0u8; 4096];
        loop {
            let (n, _) = self.sock.recv_from(&mut buf)?;
            let msg = Message::from_bytes(&buf[..n]).expect("reply parses");
            // Skip late replies to earlier queries.
            if msg.metadata.id == u16::from_be_bytes([packet[0], packet[1]]) {
                return Ok(msg);
            }
        }
    }
}
