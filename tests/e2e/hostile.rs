//! Hostile input and overload: response rate limiting, TCP connection caps and
//! timeouts, UDP service while TCP is saturated. Loopback addresses
//! 127.0.100.0-127.0.119.255 only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use fleetdns_testsupport::dns::{self, Client, Opts};
use fleetdns_testsupport::{tools, wait, Fleetdns};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::fixtures;

/// Where the server under test listens.
const SERVER: &str = "127.0.100.1:0";

fn start(extra: &str) -> Fleetdns {
    let mut c = fixtures::settings(extra);
    c += &fixtures::profile("web", "svc", 10);
    c += &fixtures::export("svc", None);
    Fleetdns::start(fixtures::BIN.as_ref(), &c, SERVER)
}

fn metrics(s: &Fleetdns) -> String {
    tools::run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "5",
            &format!("http://{}/metrics", s.admin),
        ],
    )
}

/// The value of an unlabelled (or fully labelled) series in `/metrics` text.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from /metrics:\n{text}"))
}

/// Opens a TCP connection to `server` from source address `from`.
fn connect_from(from: &str, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let src: SocketAddr = format!("{from}:0").parse().expect("source address");
    socket.bind(&src.into())?;
    socket.connect_timeout(&server.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

/// Sends one length-prefixed query and reads one length-prefixed answer.
fn tcp_query(stream: &mut TcpStream, query: &[u8]) -> std::io::Result<Message> {
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed)?;
    read_framed(stream)
}

fn read_framed(stream: &mut TcpStream) -> std::io::Result<Message> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf)?;
    Message::from_vec(&buf).map_err(std::io::Error::other)
}

#[test]
fn rrl_limits_a_flood_from_one_address_with_tc_slips_while_another_address_is_answered() {
    let s = start("  rrl: {responsesPerSecond: 10, slip: 2, exemptNetworks: []}\n");
    let query = dns::build("ns-web.tm.test.", RecordType::A, &Opts::default());

    // The flood: 400 queries as fast as one socket sends them, from 127.0.101.1.
    let flood = UdpSocket::bind("127.0.101.1:0").unwrap();
    flood
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let started = Instant::now();
    for _ in 0..400 {
        flood.send_to(&query, s.addr).unwrap();
    }
    let (mut full, mut slipped) = (0u32, 0u32);
    let mut buf = [0u8; 2048];
    while let Ok((n, _)) = flood.recv_from(&mut buf) {
        let m = Message::from_vec(&buf[..n]).expect("responses parse");
        if m.metadata.truncation {
            assert!(m.answers.is_empty(), "a slip carries no records");
            assert!(n <= query.len(), "a slip is no larger than the query");
            slipped += 1;
        } else {
            assert_eq!(m.answers.len(), 1);
            full += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Burst 10, then 10/s while the flood lasted (plus one second of slack).
    let allowed = 10.0 + 10.0 * (elapsed + 1.0);
    assert!(
        f64::from(full) <= allowed,
        "{full} full answers in {elapsed:.2}s; at most {allowed:.0} expected"
    );
    assert!(full >= 10, "the first 10 are answered: {full}");
    assert!(
        slipped >= 50,
        "every second limited answer slips: {slipped} TC answers"
    );
    let dropped = 400 - full - slipped;
    assert!(dropped >= 50, "the rest is dropped: {dropped}");

    // Meanwhile another network is answered normally, every time.
    let other = UdpSocket::bind("127.0.102.1:0").unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    for i in 0..10 {
        other.send_to(&query, s.addr).unwrap();
        let n = other
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("query {i}: {e}"));
        let m = Message::from_vec(&buf[..n]).unwrap();
        assert!(!m.metadata.truncation);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(m.answers.len(), 1);
    }
    // The flooding network, retrying over TCP as a resolver does after TC, is answered.
    let mut tcp = connect_from("127.0.101.1", s.addr).unwrap();
    let m = tcp_query(&mut tcp, &query).unwrap();
    assert_eq!(m.answers.len(), 1);

    let text = metrics(&s);
    assert_eq!(
        metric(&text, "fleetdns_rrl_slipped_total"),
        f64::from(slipped)
    );
    assert!(metric(&text, "fleetdns_rrl_dropped_total") >= f64::from(dropped));
}

#[test]
fn loopback_is_exempt_from_rrl_by_default() {
    let s = start("");
    let client = UdpSocket::bind("127.0.103.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let query = dns::build("ns-web.tm.test.", RecordType::A, &Opts::default());
    let mut buf = [0u8; 2048];
    for _ in 0..100 {
        client.send_to(&query, s.addr).unwrap();
        let n = client.recv(&mut buf).unwrap();
        assert!(!Message::from_vec(&buf[..n]).unwrap().metadata.truncation);
    }
    assert_eq!(metric(&metrics(&s), "fleetdns_rrl_dropped_total"), 0.0);
}

/// The soft limit on open files of this process (inherited by the server).
fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

#[test]
fn a_thousand_idle_tcp_connections_leave_udp_answers_unaffected() {
    let limit = open_files_limit();
    assert!(
        limit >= 2200,
        "this test holds 1,000 TCP connections (and the server as many): the open-file limit is {limit}; raise it with `ulimit -n 4096` (.ci/run does)"
    );
    let s = start(
        "  tcp: {maxConnections: 1500, maxConnectionsPerClient: 64, idleTimeoutSeconds: 120}\n",
    );
    // 1,000 idle connections from 20 addresses (50 each, under the per-client cap).
    let mut idle = Vec::new();
    for i in 0..1000 {
        let from = format!("127.0.104.{}", 1 + i / 50);
        idle.push(connect_from(&from, s.addr).unwrap_or_else(|e| panic!("connection {i}: {e}")));
    }
    wait::eventually(
        "1000 open TCP connections in fleetdns_tcp_connections",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let open = metric(&metrics(&s), "fleetdns_tcp_connections");
            if open >= 1000.0 {
                Ok(())
            } else {
                Err(format!("{open} TCP connections open"))
            }
        },
    );

    // A bounded dnsperf run over UDP: 5,000 queries at most 2,000/s.
    let dir = fleetdns_testsupport::process::scratch_dir("hostile-dnsperf");
    let queries = dir.join("queries.txt");
    std::fs::write(
        &queries,
        "ns-web.tm.test A\ntm.test SOA\ntm.test NS\nnope.tm.test A\nns-web.tm.test AAAA\n",
    )
    .unwrap();
    let out = tools::run(
        "dnsperf",
        &[
            "-s",
            &s.addr.ip().to_string(),
            "-p",
            &s.addr.port().to_string(),
            "-a",
            "127.0.105.1",
            "-d",
            queries.to_str().unwrap(),
            "-n",
            "1000",
            "-l",
            "15",
            "-Q",
            "2000",
            "-c",
            "1",
            "-t",
            "2",
        ],
    );
    let line = |key: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("no {key:?} in dnsperf output:\n{out}"))
            .to_string()
    };
    let sent: u64 = line("Queries sent:")
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .unwrap();
    let lost: u64 = line("Queries lost:")
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert_eq!(sent, 5000, "{out}");
    assert_eq!(lost, 0, "{out}");

    // An honest TCP client still gets in and is answered.
    let mut honest = connect_from("127.0.106.1", s.addr).unwrap();
    let m = tcp_query(
        &mut honest,
        &dns::build("ns-web.tm.test.", RecordType::A, &Opts::default()),
    )
    .unwrap();
    assert_eq!(m.answers.len(), 1);
    drop(idle);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_client_that_sends_one_byte_per_second_is_cut_off_at_the_read_timeout() {
    let s = start("  tcp: {readTimeoutSeconds: 3, idleTimeoutSeconds: 10}\n");
    let query = dns::build("ns-web.tm.test.", RecordType::A, &Opts::default());
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&query);
    let mut stream = connect_from("127.0.107.1", s.addr).unwrap();
    let mut reader = stream.try_clone().unwrap();
    reader
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    let watcher = std::thread::spawn(move || {
        let mut b = [0u8; 64];
        let r = reader.read(&mut b);
        (started.elapsed(), r.map_err(|e| e.kind()))
    });
    let mut sent = 0;
    for byte in &framed {
        if watcher.is_finished() || stream.write_all(&[*byte]).is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
    let (after, read) = watcher.join().unwrap();
    assert_eq!(
        read,
        Ok(0),
        "the server closed the connection without answering"
    );
    assert!(
        sent < framed.len(),
        "cut off before the message was complete ({sent} bytes sent)"
    );
    let secs = after.as_secs_f64();
    assert!(
        (2.5..=5.5).contains(&secs),
        "cut off after {secs:.1}s; the read timeout is 3s"
    );
    assert!(metric(&metrics(&s), "fleetdns_tcp_timeouts_total") >= 1.0);
}

#[test]
fn an_idle_tcp_connection_is_closed_at_the_idle_timeout() {
    let s = start("  tcp: {idleTimeoutSeconds: 2}\n");
    let mut stream = connect_from("127.0.108.1", s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut b = [0u8; 16];
    assert_eq!(stream.read(&mut b).unwrap(), 0);
    let secs = started.elapsed().as_secs_f64();
    assert!(
        (1.5..=4.0).contains(&secs),
        "closed after {secs:.1}s; idle timeout 2s"
    );
}

#[test]
fn tcp_connections_over_the_per_client_cap_are_closed_while_other_clients_get_in() {
    let s = start("  tcp: {maxConnectionsPerClient: 4}\n");
    let query = dns::build("ns-web.tm.test.", RecordType::A, &Opts::default());
    let mut held: Vec<TcpStream> = (0..4)
        .map(|_| connect_from("127.0.109.1", s.addr).unwrap())
        .collect();
    // Each of the four is served.
    for c in &mut held {
        assert_eq!(tcp_query(c, &query).unwrap().answers.len(), 1);
    }
    let mut fifth = connect_from("127.0.109.1", s.addr).unwrap();
    assert!(
        tcp_query(&mut fifth, &query).is_err(),
        "the fifth connection from one address is closed"
    );
    let mut other = connect_from("127.0.109.2", s.addr).unwrap();
    assert_eq!(tcp_query(&mut other, &query).unwrap().answers.len(), 1);
    let text = metrics(&s);
    assert!(metric(&text, "fleetdns_tcp_refused_total{cap=\"client\"}") >= 1.0);
    // Closing one frees a slot.
    drop(held.pop());
    wait::eventually(
        "a freed per-client slot to be reused",
        Duration::from_secs(5),
        Duration::from_millis(100),
        || connect_from("127.0.109.1", s.addr).and_then(|mut c| tcp_query(&mut c, &query)),
    );
}

#[test]
fn pipelined_tcp_queries_are_answered_in_order() {
    let s = start("");
    let mut stream = connect_from("127.0.110.1", s.addr).unwrap();
    let names = [
        "ns-web.tm.test.",
        "tm.test.",
        "nope.tm.test.",
        "ns-web.tm.test.",
    ];
    let types = [
        RecordType::A,
        RecordType::SOA,
        RecordType::A,
        RecordType::AAAA,
    ];
    let mut all = Vec::new();
    let mut ids = Vec::new();
    for (name, t) in names.iter().zip(types) {
        let q = dns::build(name, t, &Opts::default());
        ids.push(u16::from_be_bytes([q[0], q[1]]));
        all.extend_from_slice(&(q.len() as u16).to_be_bytes());
        all.extend_from_slice(&q);
    }
    // All four in one write.
    stream.write_all(&all).unwrap();
    for (i, id) in ids.iter().enumerate() {
        let m = read_framed(&mut stream).unwrap();
        assert_eq!(m.metadata.id, *id, "answer {i} out of order");
    }
    // And the connection stays usable.
    let client = Client::new(s.addr);
    let m = client.query("ns-web.tm.test.", RecordType::A, &Opts::default());
    assert_eq!(m.answers.len(), 1);
}

#[test]
fn rrl_also_limits_answers_of_the_general_path() {
    let s = start("  rrl: {responsesPerSecond: 10, slip: 2, exemptNetworks: []}\n");
    // ANY and EDNS version 1 (BADVERS) are answered by the general path.
    let any = dns::build("ns-web.tm.test.", RecordType::ANY, &Opts::default());
    let badvers = dns::build(
        "ns-web.tm.test.",
        RecordType::A,
        &Opts {
            edns: Some((1232, 1, false)),
            ..Opts::default()
        },
    );
    for (what, query, from) in [
        ("ANY", any, "127.0.115.1"),
        ("BADVERS", badvers, "127.0.115.2"),
    ] {
        let sock = UdpSocket::bind(format!("{from}:0")).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        for _ in 0..100 {
            sock.send_to(&query, s.addr).unwrap();
        }
        let (mut full, mut slipped) = (0, 0);
        let mut buf = [0u8; 2048];
        while let Ok(n) = sock.recv(&mut buf) {
            if Message::from_vec(&buf[..n]).unwrap().metadata.truncation {
                slipped += 1;
            } else {
                full += 1;
            }
        }
        assert!((10..=40).contains(&full), "{what}: {full} full answers");
        assert!(slipped >= 20, "{what}: {slipped} slips");
    }
}
