//! Raw DNS messages for the conformance tests.
//!
//! Queries are built byte by byte so every header bit (including the reserved Z
//! bit), the opcode, the class and every EDNS field (version, DO, the reserved
//! flag bits, options) is under the test's control; replies are decoded down to
//! the same bits, which higher-level DNS libraries smooth over. Replies print in a
//! dig-like form, so a failing assertion shows the query and the whole answer.

use std::fmt;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

/// How long one UDP or TCP exchange may take.
const TIMEOUT: Duration = Duration::from_secs(3);
/// UDP attempts per query (loopback loses nothing; the retry covers a busy CI box).
const UDP_TRIES: usize = 2;

pub const CLASS_IN: u16 = 1;
pub const CLASS_CH: u16 = 3;

pub const NOERROR: u16 = 0;
pub const NOTIMP: u16 = 4;
pub const BADVERS: u16 = 16;

/// Record type codes by name, and back.
const TYPES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("NULL", 10),
    ("PTR", 12),
    ("HINFO", 13),
    ("MX", 15),
    ("TXT", 16),
    ("AAAA", 28),
    ("SRV", 33),
    ("NAPTR", 35),
    ("DNAME", 39),
    ("OPT", 41),
    ("DS", 43),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DNSKEY", 48),
    ("NSEC3PARAM", 51),
    ("SVCB", 64),
    ("HTTPS", 65),
    ("IXFR", 251),
    ("AXFR", 252),
    ("ANY", 255),
    ("CAA", 257),
];

/// The code of a record type name (`"SOA"`, `"TYPE1000"`).
pub fn rtype(name: &str) -> u16 {
    if let Some(n) = name.strip_prefix("TYPE") {
        return n.parse().expect("TYPEn");
    }
    TYPES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, c)| c)
        .unwrap_or_else(|| panic!("unknown type name {name}"))
}

/// The name of a record type code.
pub fn type_name(code: u16) -> String {
    TYPES
        .iter()
        .find(|&&(_, c)| c == code)
        .map_or_else(|| format!("TYPE{code}"), |(n, _)| n.to_string())
}

pub fn rcode_name(code: u16) -> String {
    match code {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        9 => "NOTAUTH".into(),
        16 => "BADVERS".into(),
        n => format!("RCODE{n}"),
    }
}

fn class_name(code: u16) -> String {
    match code {
        1 => "IN".into(),
        3 => "CH".into(),
        255 => "ANY".into(),
        n => format!("CLASS{n}"),
    }
}

/// The EDNS part of a query: the OPT record's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edns {
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    /// The other 15 bits of the flags field (must be zero; RFC 6891 §6.1.4).
    pub z: u16,
    pub options: Vec<(u16, Vec<u8>)>,
}

impl Default for Edns {
    fn default() -> Self {
        Self {
            payload: 1232,
            version: 0,
            dnssec_ok: false,
            z: 0,
            options: Vec::new(),
        }
    }
}

impl Edns {
    pub fn payload(mut self, payload: u16) -> Self {
        self.payload = payload;
        self
    }
    pub fn version(mut self, version: u8) -> Self {
        self.version = version;
        self
    }
    pub fn dnssec_ok(mut self) -> Self {
        self.dnssec_ok = true;
        self
    }
    pub fn z(mut self, bits: u16) -> Self {
        self.z = bits;
        self
    }
    pub fn option(mut self, code: u16, data: &[u8]) -> Self {
        self.options.push((code, data.to_vec()));
        self
    }
}

/// A query: question plus every header and EDNS field under test control.
#[derive(Clone, Debug)]
pub struct Query {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    pub opcode: u8,
    pub rd: bool,
    pub ad: bool,
    pub cd: bool,
    /// The reserved header bit (must be zero; RFC 1035 §4.1.1).
    pub z: bool,
    /// Send the question section (false: header only, as `dig +header-only`).
    pub question: bool,
    pub edns: Option<Edns>,
}

impl Query {
    /// A non-recursive, class IN, opcode QUERY question without EDNS.
    pub fn new(name: &str, qtype: &str) -> Self {
        Self {
            name: name.to_string(),
            qtype: rtype(qtype),
            qclass: CLASS_IN,
            opcode: 0,
            rd: false,
            ad: false,
            cd: false,
            z: false,
            question: true,
            edns: None,
        }
    }
    pub fn edns(mut self, edns: Edns) -> Self {
        self.edns = Some(edns);
        self
    }
    pub fn opcode(mut self, opcode: u8) -> Self {
        self.opcode = opcode;
        self
    }
    pub fn class(mut self, class: u16) -> Self {
        self.qclass = class;
        self
    }
    pub fn rd(mut self) -> Self {
        self.rd = true;
        self
    }
    pub fn ad(mut self) -> Self {
        self.ad = true;
        self
    }
    pub fn cd(mut self) -> Self {
        self.cd = true;
        self
    }
    pub fn z(mut self) -> Self {
        self.z = true;
        self
    }
    pub fn header_only(mut self) -> Self {
        self.question = false;
        self
    }

    /// The wire form with message ID `id`.
    pub fn encode(&self, id: u16) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&id.to_be_bytes());
        let mut f1 = (self.opcode & 0x0f) << 3;
        if self.rd {
            f1 |= 0x01;
        }
        let mut f2 = 0u8;
        if self.z {
            f2 |= 0x40;
        }
        if self.ad {
            f2 |= 0x20;
        }
        if self.cd {
            f2 |= 0x10;
        }
        b.extend_from_slice(&[f1, f2]);
        b.extend_from_slice(&u16::from(self.question).to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(&u16::from(self.edns.is_some()).to_be_bytes());
        if self.question {
            encode_name(&mut b, &self.name);
            b.extend_from_slice(&self.qtype.to_be_bytes());
            b.extend_from_slice(&self.qclass.to_be_bytes());
        }
        if let Some(e) = &self.edns {
            b.push(0); // root owner
            b.extend_from_slice(&41u16.to_be_bytes());
            b.extend_from_slice(&e.payload.to_be_bytes());
            b.push(0); // extended rcode
            b.push(e.version);
            let flags = (if e.dnssec_ok { 0x8000 } else { 0 }) | (e.z & 0x7fff);
            b.extend_from_slice(&flags.to_be_bytes());
            let rdata: Vec<u8> = e
                .options
                .iter()
                .flat_map(|(code, data)| {
                    let mut o = code.to_be_bytes().to_vec();
                    o.extend_from_slice(&(data.len() as u16).to_be_bytes());
                    o.extend_from_slice(data);
                    o
                })
                .collect();
            b.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            b.extend_from_slice(&rdata);
        }
        b
    }
}

/// dig-like: `fleet.example.com. SOA +norec +edns=1 +noednsneg +ednsopt=100`.
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.question {
            write!(f, "{} ", self.name)?;
            if self.qclass != CLASS_IN {
                write!(f, "-c {} ", class_name(self.qclass))?;
            }
            write!(f, "{}", type_name(self.qtype))?;
        } else {
            write!(f, "+header-only")?;
        }
        if self.opcode != 0 {
            write!(f, " +opcode={}", self.opcode)?;
        }
        write!(f, " {}", if self.rd { "+rec" } else { "+norec" })?;
        for (on, name) in [(self.ad, "+ad"), (self.cd, "+cd"), (self.z, "+zflag")] {
            if on {
                write!(f, " {name}")?;
            }
        }
        match &self.edns {
            None => write!(f, " +noedns")?,
            Some(e) => {
                write!(f, " +edns={} +bufsize={}", e.version, e.payload)?;
                if e.version > 0 {
                    write!(f, " +noednsneg")?;
                }
                if e.dnssec_ok {
                    write!(f, " +dnssec")?;
                }
                if e.z != 0 {
                    write!(f, " +ednsflags={:#x}", e.z)?;
                }
                for (code, data) in &e.options {
                    write!(f, " +ednsopt={code}")?;
                    if !data.is_empty() {
                        write!(f, ":{}", hex(data))?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn encode_name(b: &mut Vec<u8>, name: &str) {
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        assert!(label.len() < 64, "label too long: {label}");
        b.push(label.len() as u8);
        b.extend_from_slice(label.as_bytes());
    }
    b.push(0);
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// One question of a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// One resource record of a reply, its RDATA in presentation form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rr {
    pub name: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: String,
}

impl Rr {
    /// The record with its names in lower case (owner and RDATA), for comparing
    /// replies whose name compression or letter case may differ.
    pub fn normalized(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.name.to_ascii_lowercase(),
            self.ttl,
            class_name(self.class),
            type_name(self.rtype),
            self.rdata.to_ascii_lowercase()
        )
    }
}

impl fmt::Display for Rr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\t{}\t{}\t{}\t{}",
            self.name,
            self.ttl,
            class_name(self.class),
            type_name(self.rtype),
            self.rdata
        )
    }
}

/// The OPT record of a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub payload: u16,
    pub ext_rcode: u8,
    pub version: u8,
    pub dnssec_ok: bool,
    /// The reserved flag bits ("MBZ" in dig).
    pub z: u16,
    pub options: Vec<(u16, Vec<u8>)>,
    /// Number of OPT records in the additional section (RFC 6891 §6.1.1: at most one).
    pub count: usize,
}

/// A decoded reply.
#[derive(Clone, Debug)]
pub struct Reply {
    /// "UDP" or "TCP".
    pub transport: &'static str,
    /// Size of the DNS message in octets.
    pub size: usize,
    pub id: u16,
    pub qr: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub z: bool,
    pub ad: bool,
    pub cd: bool,
    /// The full response code: header RCODE plus the OPT's extended bits.
    pub rcode: u16,
    /// The header's section counts (QD, AN, NS, AR; AR includes the OPT record).
    pub counts: [u16; 4],
    pub question: Vec<Question>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    /// The additional section without the OPT record.
    pub additional: Vec<Rr>,
    pub opt: Option<Opt>,
    /// Octets after the last record the header counts (a well-formed message has none).
    pub trailing: usize,
}

impl Reply {
    /// Header flags in dig's order: `qr aa tc rd ra z ad cd`.
    pub fn flags(&self) -> String {
        [
            (self.qr, "qr"),
            (self.aa, "aa"),
            (self.tc, "tc"),
            (self.rd, "rd"),
            (self.ra, "ra"),
            (self.z, "z"),
            (self.ad, "ad"),
            (self.cd, "cd"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// Whether a section holds an SOA record.
    pub fn has_soa(section: &[Rr]) -> bool {
        section.iter().any(|r| r.rtype == 6)
    }

    /// Decodes a DNS message received over `transport`.
    pub fn decode(bytes: &[u8], transport: &'static str) -> Result<Reply, String> {
        let mut p = Parser { b: bytes, pos: 12 };
        if bytes.len() < 12 {
            return Err(format!("{} octets: shorter than a DNS header", bytes.len()));
        }
        let u16_at = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        let (f1, f2) = (bytes[2], bytes[3]);
        let counts = [u16_at(4), u16_at(6), u16_at(8), u16_at(10)];
        let mut question = Vec::new();
        for _ in 0..counts[0] {
            let name = p.name()?;
            let qtype = p.u16()?;
            let qclass = p.u16()?;
            question.push(Question {
                name,
                qtype,
                qclass,
            });
        }
        let mut sections: [Vec<Rr>; 3] = Default::default();
        let mut opt: Option<Opt> = None;
        for (i, section) in sections.iter_mut().enumerate() {
            for _ in 0..counts[i + 1] {
                let name = p.name()?;
                let rtype = p.u16()?;
                let class = p.u16()?;
                let ttl = p.u32()?;
                let len = p.u16()? as usize;
                let start = p.pos;
                let end = start + len;
                if end > bytes.len() {
                    return Err(format!(
                        "RDATA of {name} {} runs past the end",
                        type_name(rtype)
                    ));
                }
                if rtype == 41 && i == 2 {
                    let mut options = Vec::new();
                    let mut o = start;
                    while o + 4 <= end {
                        let code = u16_at(o);
                        let olen = u16_at(o + 2) as usize;
                        let data = bytes
                            .get(o + 4..o + 4 + olen)
                            .ok_or("EDNS option runs past the end")?;
                        options.push((code, data.to_vec()));
                        o += 4 + olen;
                    }
                    let count = opt.as_ref().map_or(0, |o| o.count) + 1;
                    opt = Some(Opt {
                        payload: class,
                        ext_rcode: (ttl >> 24) as u8,
                        version: (ttl >> 16) as u8,
                        dnssec_ok: ttl & 0x8000 != 0,
                        z: (ttl & 0x7fff) as u16,
                        options,
                        count,
                    });
                } else {
                    let rdata = p.rdata(rtype, end)?;
                    section.push(Rr {
                        name,
                        rtype,
                        class,
                        ttl,
                        rdata,
                    });
                }
                p.pos = end;
            }
        }
        let [answer, authority, additional] = sections;
        let ext = opt.as_ref().map_or(0, |o| u16::from(o.ext_rcode));
        Ok(Reply {
            transport,
            size: bytes.len(),
            id: u16_at(0),
            qr: f1 & 0x80 != 0,
            opcode: (f1 >> 3) & 0x0f,
            aa: f1 & 0x04 != 0,
            tc: f1 & 0x02 != 0,
            rd: f1 & 0x01 != 0,
            ra: f2 & 0x80 != 0,
            z: f2 & 0x40 != 0,
            ad: f2 & 0x20 != 0,
            cd: f2 & 0x10 != 0,
            rcode: (ext << 4) | u16::from(f2 & 0x0f),
            counts,
            question,
            answer,
            authority,
            additional,
            opt,
            trailing: bytes.len() - p.pos,
        })
    }
}

/// dig-like rendering of the whole reply.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            ";; ->>HEADER<<- opcode: {}, status: {}, id: {}",
            self.opcode,
            rcode_name(self.rcode),
            self.id
        )?;
        writeln!(
            f,
            ";; flags: {}; QUERY: {}, ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {}",
            self.flags(),
            self.counts[0],
            self.counts[1],
            self.counts[2],
            self.counts[3]
        )?;
        if let Some(o) = &self.opt {
            write!(
                f,
                ";; OPT: version: {}, flags:{}; MBZ: {:#06x}, udp: {}",
                o.version,
                if o.dnssec_ok { " do" } else { "" },
                o.z,
                o.payload
            )?;
            for (code, data) in &o.options {
                write!(f, ", option {code}: {}", hex(data))?;
            }
            writeln!(f)?;
        }
        for q in &self.question {
            writeln!(
                f,
                ";; QUESTION: {} {} {}",
                q.name,
                class_name(q.qclass),
                type_name(q.qtype)
            )?;
        }
        for (title, section) in [
            ("ANSWER", &self.answer),
            ("AUTHORITY", &self.authority),
            ("ADDITIONAL", &self.additional),
        ] {
            if !section.is_empty() {
                writeln!(f, ";; {title} SECTION:")?;
                for r in section {
                    writeln!(f, "{r}")?;
                }
            }
        }
        if self.trailing > 0 {
            writeln!(
                f,
                ";; WARNING: {} octets after the last counted record",
                self.trailing
            )?;
        }
        write!(f, ";; {} octets over {}", self.size, self.transport)
    }
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn u16(&mut self) -> Result<u16, String> {
        let v = self
            .b
            .get(self.pos..self.pos + 2)
            .ok_or("message ends inside a field")?;
        self.pos += 2;
        Ok(u16::from_be_bytes([v[0], v[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let v = self
            .b
            .get(self.pos..self.pos + 4)
            .ok_or("message ends inside a field")?;
        self.pos += 4;
        Ok(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    }

    /// A possibly compressed name at the cursor, in presentation form (keeps case).
    fn name(&mut self) -> Result<String, String> {
        let (name, next) = name_at(self.b, self.pos)?;
        self.pos = next;
        Ok(name)
    }

    fn rdata(&mut self, rtype: u16, end: usize) -> Result<String, String> {
        let data = &self.b[self.pos..end];
        Ok(match rtype {
            1 if data.len() == 4 => Ipv4Addr::new(data[0], data[1], data[2], data[3]).to_string(),
            28 if data.len() == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(data);
                Ipv6Addr::from(a).to_string()
            }
            2 | 5 | 12 | 39 => self.name()?,
            6 => {
                let mname = self.name()?;
                let rname = self.name()?;
                let nums: Vec<String> = (0..5)
                    .map(|_| self.u32().map(|n| n.to_string()))
                    .collect::<Result<_, _>>()?;
                format!("{mname} {rname} {}", nums.join(" "))
            }
            15 => {
                let pref = self.u16()?;
                format!("{pref} {}", self.name()?)
            }
            _ => format!("\\# {} {}", data.len(), hex(data)),
        })
    }
}

/// The name starting at `pos` and the position after it (after the first pointer,
/// if compressed). Bounded: at most 128 pointer hops and 255 octets.
fn name_at(b: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut labels: Vec<String> = Vec::new();
    let mut after = None;
    let mut total = 0usize;
    for _ in 0..128 {
        let len = *b.get(pos).ok_or("name runs past the end")? as usize;
        match len {
            0 => {
                let name = if labels.is_empty() {
                    ".".to_string()
                } else {
                    format!("{}.", labels.join("."))
                };
                return Ok((name, after.unwrap_or(pos + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let lo = *b.get(pos + 1).ok_or("pointer runs past the end")? as usize;
                after.get_or_insert(pos + 2);
                pos = ((l & 0x3f) << 8) | lo;
            }
            l if l < 64 => {
                let label = b
                    .get(pos + 1..pos + 1 + l)
                    .ok_or("label runs past the end")?;
                total += l + 1;
                if total > 255 {
                    return Err("name longer than 255 octets".into());
                }
                labels.push(
                    label
                        .iter()
                        .map(|&c| {
                            if c.is_ascii_graphic() && c != b'.' && c != b'\\' {
                                (c as char).to_string()
                            } else {
                                format!("\\{c:03}")
                            }
                        })
                        .collect(),
                );
                pos += 1 + l;
            }
            l => return Err(format!("bad label length octet {l:#x}")),
        }
    }
    Err("name compression loop".into())
}

fn next_id() -> u16 {
    static ID: AtomicU16 = AtomicU16::new(0);
    let n = ID.fetch_add(1, Ordering::Relaxed);
    // Spread IDs (odd multiplier: a bijection), seeded by the PID.
    n.wrapping_mul(40503)
        .wrapping_add(std::process::id() as u16)
}

/// One query over UDP from an ephemeral loopback port; the matching reply.
pub fn udp(server: SocketAddr, q: &Query) -> Result<Reply, String> {
    let id = next_id();
    let packet = q.encode(id);
    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    sock.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65535];
    for _ in 0..UDP_TRIES {
        sock.send_to(&packet, server)
            .map_err(|e| format!("send to {server}: {e}"))?;
        // A few stray datagrams at most; then resend.
        for _ in 0..4 {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) if from == server && n >= 2 && buf[..2] == id.to_be_bytes() => {
                    return Reply::decode(&buf[..n], "UDP");
                }
                Ok(_) => continue,
                Err(_) => break,
            }
        }
    }
    Err(format!(
        "no UDP reply from {server} within {UDP_TRIES} × {TIMEOUT:?}"
    ))
}

/// One query over a new TCP connection (RFC 1035 §4.2.2 length prefix); the reply.
pub fn tcp(server: SocketAddr, q: &Query) -> Result<Reply, String> {
    TcpConn::new(server).query(q)
}

/// A TCP connection reused for many queries (RFC 7766 §6.2.1). A sweep of
/// hundreds of TCP queries over one connection leaves no trail of client sockets
/// in TIME_WAIT on 127.0.0.1 ports, which would keep other tests from binding
/// those ports.
pub struct TcpConn {
    server: SocketAddr,
    stream: Option<TcpStream>,
}

impl TcpConn {
    pub fn new(server: SocketAddr) -> Self {
        Self {
            server,
            stream: None,
        }
    }

    /// One query; when a connection that has served earlier queries fails (the
    /// server may close idle or busy connections, RFC 7766 §6.2.3), the query is
    /// sent once more on a new connection, as a client would.
    pub fn query(&mut self, q: &Query) -> Result<Reply, String> {
        let reused = self.stream.is_some();
        match self.exchange(q) {
            Err(_) if reused => {
                self.stream = None;
                self.exchange(q)
            }
            result => result,
        }
    }

    fn exchange(&mut self, q: &Query) -> Result<Reply, String> {
        let server = self.server;
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&server, TIMEOUT)
                .map_err(|e| format!("TCP connect to {server}: {e}"))?;
            s.set_read_timeout(Some(TIMEOUT))
                .map_err(|e| e.to_string())?;
            self.stream = Some(s);
        }
        let s = self.stream.as_mut().expect("connected");
        let id = next_id();
        let packet = q.encode(id);
        let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&packet);
        let result = (|| {
            s.write_all(&framed)
                .map_err(|e| format!("TCP write to {server}: {e}"))?;
            let mut len = [0u8; 2];
            s.read_exact(&mut len)
                .map_err(|e| format!("TCP read length from {server}: {e}"))?;
            let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut reply)
                .map_err(|e| format!("TCP read body from {server}: {e}"))?;
            if reply.len() < 2 || reply[..2] != id.to_be_bytes() {
                return Err(format!("TCP reply from {server} with another ID"));
            }
            Reply::decode(&reply, "TCP")
        })();
        if result.is_err() {
            self.stream = None;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_round_trip_through_the_decoder() {
        let q = Query::new("Fleet.Example.com.", "SOA").rd().z().cd().edns(
            Edns::default()
                .version(1)
                .dnssec_ok()
                .z(0x40)
                .option(100, &[1, 2]),
        );
        let wire = q.encode(0x1234);
        let r = Reply::decode(&wire, "UDP").expect("decodes");
        assert_eq!(r.id, 0x1234);
        assert!(r.rd && r.z && r.cd && !r.qr && !r.ad);
        assert_eq!(r.question[0].name, "Fleet.Example.com.");
        assert_eq!(r.question[0].qtype, 6);
        let o = r.opt.expect("OPT");
        assert_eq!(
            (o.version, o.dnssec_ok, o.z, o.payload),
            (1, true, 0x40, 1232)
        );
        assert_eq!(o.options, vec![(100, vec![1, 2])]);
        assert_eq!(
            q.to_string(),
            "Fleet.Example.com. SOA +rec +cd +zflag +edns=1 +bufsize=1232 +noednsneg +dnssec +ednsflags=0x40 +ednsopt=100:0102"
        );
        let h = Query::new("x.", "A").opcode(15).header_only().encode(7);
        let r = Reply::decode(&h, "UDP").expect("decodes");
        assert_eq!((r.opcode, r.counts), (15, [0, 0, 0, 0]));
    }

    #[test]
    fn compressed_names_decode() {
        // Header: QR AA, one answer. Answer owner "a.b." at offset 12; its NS RDATA
        // is "c" plus a pointer back to offset 12.
        let mut m = vec![0, 1, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(&[
            1, b'a', 1, b'b', 0, 0, 2, 0, 1, 0, 0, 0, 60, 0, 4, 1, b'c', 0xc0, 12,
        ]);
        let r = Reply::decode(&m, "UDP").expect("decodes");
        assert_eq!(r.answer[0].name, "a.b.");
        assert_eq!(r.answer[0].rdata, "c.a.b.");
        assert!(r.qr && r.aa);
    }
}
