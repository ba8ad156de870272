//! The UDP fast path: common queries answered straight from packet bytes.
//!
//! A plain query (opcode QUERY, one question, class IN, at most one OPT record
//! of EDNS version 0, no other records) for a public name is answered here by
//! copying the header and question and appending records precompiled at zone
//! compile time (see [`crate::wire`]). No parsing into objects, no allocation
//! beyond the caller's reused buffer, no locks. Everything else — other opcodes,
//! EDNS versions, ANY, zone transfers, the health view, answers that would be
//! truncated, anything malformed — returns [`Fast::Fallback`] and goes through
//! hickory's general path, which is the reference: a differential test checks
//! that both give the same rcode, flags and sections.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use prometheus::IntCounter;

use crate::handler::MAX_UDP_PAYLOAD;
use crate::metrics::DnsMetrics;
use crate::wire::WireSet;
use crate::zone::{Node, Pick, Zone};

/// What the fast path did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fast {
    /// `out` holds the complete response.
    Answered,
    /// Not a case the fast path handles; use the general path.
    Fallback,
}

const HEADER: usize = 12;
const TYPE_A: u16 = 1;
const TYPE_NS: u16 = 2;
const TYPE_CNAME: u16 = 5;
const TYPE_SOA: u16 = 6;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
const TYPE_IXFR: u16 = 251;
const TYPE_AXFR: u16 = 252;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;

fn u16_at(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]))
}

/// The query's EDNS, when it has a valid version-0 OPT record.
struct QueryEdns {
    payload: u16,
    dnssec_ok: bool,
}

/// The parsed parts of a plain query.
struct Query {
    /// End of the question section.
    question_end: usize,
    qtype: u16,
    edns: Option<QueryEdns>,
    /// Lower-case wire form of the name, in `key[..key_len]`.
    key: [u8; 256],
    key_len: usize,
    /// Offsets in `key` where labels start (to test zone membership).
    label_starts: [u8; 128],
    labels: usize,
}

fn parse(p: &[u8]) -> Option<Query> {
    let flags = u16_at(p, 2)?;
    // QR=0, opcode QUERY; QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0 or 1.
    if flags & 0xF800 != 0 || u16_at(p, 4)? != 1 || u16_at(p, 6)? != 0 || u16_at(p, 8)? != 0 {
        return None;
    }
    let arcount = u16_at(p, 10)?;
    if arcount > 1 {
        return None;
    }
    let mut q = Query {
        question_end: 0,
        qtype: 0,
        edns: None,
        key: [0; 256],
        key_len: 0,
        label_starts: [0; 128],
        labels: 0,
    };
    let mut at = HEADER;
    loop {
        let len = usize::from(*p.get(at)?);
        if len == 0 {
            break;
        }
        // Compression pointers or extended labels never appear in plain queries.
        if len > 63 || q.labels >= q.label_starts.len() {
            return None;
        }
        let end = q.key_len + 1 + len;
        if end >= 255 {
            return None;
        }
        q.label_starts[q.labels] = q.key_len as u8;
        q.labels += 1;
        q.key[q.key_len] = len as u8;
        let label = p.get(at + 1..at + 1 + len)?;
        for (dst, src) in q.key[q.key_len + 1..end].iter_mut().zip(label) {
            *dst = src.to_ascii_lowercase();
        }
        q.key_len = end;
        at += 1 + len;
    }
    q.key[q.key_len] = 0;
    q.key_len += 1;
    q.qtype = u16_at(p, at + 1)?;
    if u16_at(p, at + 3)? != CLASS_IN {
        return None;
    }
    q.question_end = at + 5;
    let mut rest = q.question_end;
    if arcount == 1 {
        // OPT: root owner, type 41, class = payload, TTL = ext-rcode/version/flags.
        if *p.get(rest)? != 0 || u16_at(p, rest + 1)? != TYPE_OPT {
            return None;
        }
        let payload = u16_at(p, rest + 3)?;
        let (ext_rcode, version) = (*p.get(rest + 5)?, *p.get(rest + 6)?);
        if ext_rcode != 0 || version != 0 {
            return None;
        }
        let dnssec_ok = *p.get(rest + 7)? & 0x80 != 0;
        let rdlen = usize::from(u16_at(p, rest + 9)?);
        rest += 11 + rdlen;
        // Options are ignored (RFC 6891 §6.1.2) but must be well formed.
        let mut opt = rest - rdlen;
        while opt < rest {
            let olen = usize::from(u16_at(p, opt + 2)?);
            opt += 4 + olen;
        }
        if opt != rest {
            return None;
        }
        q.edns = Some(QueryEdns { payload, dnssec_ok });
    }
    (rest == p.len()).then_some(q)
}

impl Query {
    fn key(&self) -> &[u8] {
        &self.key[..self.key_len]
    }

    /// The compression pointer to the apex's labels in the question, if they
    /// are lower case already (so a name that points there reads back in lower
    /// case, like the plain form). Call only for names in the zone.
    fn apex_pointer(&self, packet: &[u8], apex: &[u8]) -> Option<u16> {
        let at = HEADER + self.key_len.checked_sub(apex.len())?;
        (packet.get(at..HEADER + self.key_len)? == apex).then_some(0xC000 | at as u16)
    }

    /// Whether the name is the apex or below it.
    fn in_zone(&self, apex: &[u8]) -> bool {
        let key = self.key();
        key == apex
            || self.label_starts[..self.labels]
                .iter()
                .any(|&s| &key[usize::from(s)..] == apex)
    }
}

/// The sections of a fast answer.
struct Sections<'z> {
    rcode: ResponseCode,
    authoritative: bool,
    answer: Part<'z>,
    authority: Part<'z>,
    additional: Part<'z>,
    endpoint: Option<&'z IntCounter>,
    /// The compression pointer to the apex in the question, for the parts'
    /// `patches` (set by [`sections`]; unused when no part has any).
    apex_pointer: u16,
}

/// One section's precompiled records, and where apex pointers go in them.
#[derive(Clone, Copy)]
struct Part<'z> {
    bytes: &'z [u8],
    count: u16,
    patches: &'z [u16],
}

const NONE: Part<'static> = Part {
    bytes: &[],
    count: 0,
    patches: &[],
};

impl<'z> Part<'z> {
    /// `w` in compressed form when the question allows it (`apex_pointer`)
    /// and `w` has that form; in plain form otherwise.
    fn of(w: &'z WireSet, apex_pointer: Option<u16>) -> Self {
        if apex_pointer.is_some() && !w.compressed.is_empty() {
            Part {
                bytes: &w.compressed,
                count: w.count,
                patches: &w.patches,
            }
        } else {
            Part {
                bytes: &w.bytes,
                count: w.count,
                patches: &[],
            }
        }
    }
}

impl<'z> Sections<'z> {
    fn refused() -> Self {
        Self {
            rcode: ResponseCode::Refused,
            authoritative: false,
            answer: NONE,
            authority: NONE,
            additional: NONE,
            endpoint: None,
            apex_pointer: 0,
        }
    }

    fn negative(zone: &'z Zone, rcode: ResponseCode, apex_pointer: Option<u16>) -> Self {
        Self {
            rcode,
            authoritative: true,
            authority: Part::of(&zone.soa_negative_wire, apex_pointer),
            ..Self::refused()
        }
    }

    fn answer(answer: Part<'z>, additional: Part<'z>) -> Self {
        Self {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answer,
            additional,
            ..Self::refused()
        }
    }

    fn picked(pick: &'z Pick) -> Option<Self> {
        let i = pick.pick_index()?;
        let answer = Part {
            bytes: &pick.wire[i],
            count: 1,
            patches: &[],
        };
        Some(Self {
            endpoint: Some(&pick.counters[i]),
            ..Self::answer(answer, NONE)
        })
    }
}

fn sections<'z>(zone: &'z Zone, q: &Query, packet: &[u8]) -> Option<Sections<'z>> {
    if !q.in_zone(&zone.apex_key) {
        return Some(Sections::refused());
    }
    let apex = q.apex_pointer(packet, &zone.apex_key);
    if matches!(q.qtype, TYPE_AXFR | TYPE_IXFR | TYPE_ANY) {
        return None;
    }
    let s = match zone.nodes.get(q.key()) {
        None => Sections::negative(zone, ResponseCode::NXDomain, apex),
        Some(node) => node_sections(zone, node, q.qtype, apex)?,
    };
    Some(Sections {
        apex_pointer: apex.unwrap_or(0),
        ..s
    })
}

/// The sections for a name that exists; `None` for what the general path answers.
fn node_sections<'z>(
    zone: &'z Zone,
    node: &'z Node,
    qtype: u16,
    apex: Option<u16>,
) -> Option<Sections<'z>> {
    if node.private || node.health.is_some() {
        return None;
    }
    let found = match qtype {
        TYPE_SOA if node.apex => Some(Sections::answer(Part::of(&zone.soa_wire, apex), NONE)),
        TYPE_NS if node.apex => Some(Sections::answer(
            Part::of(&zone.ns_wire, apex),
            Part::of(&zone.glue_wire, apex),
        )),
        TYPE_A if node.a_wire.count > 0 => {
            Some(Sections::answer(Part::of(&node.a_wire, None), NONE))
        }
        TYPE_AAAA if node.aaaa_wire.count > 0 => {
            Some(Sections::answer(Part::of(&node.aaaa_wire, None), NONE))
        }
        TYPE_A => node.profile.as_ref().and_then(|p| Sections::picked(&p.a)),
        TYPE_AAAA => node
            .profile
            .as_ref()
            .and_then(|p| Sections::picked(&p.aaaa)),
        TYPE_CNAME => node
            .profile
            .as_ref()
            .and_then(|p| Sections::picked(&p.cname)),
        _ => None,
    };
    Some(found.unwrap_or_else(|| Sections::negative(zone, ResponseCode::NoError, apex)))
}

/// Answers `packet` into `out` if it is a case the fast path handles.
/// `_client` is accepted for symmetry with the general path; the fast path never
/// answers private (health-view) names, so it does not need to judge trust.
pub fn respond(
    zone: &Zone,
    packet: &[u8],
    _client: IpAddr,
    metrics: &DnsMetrics,
    out: &mut Vec<u8>,
) -> Fast {
    let Some(q) = parse(packet) else {
        return Fast::Fallback;
    };
    let Some(s) = sections(zone, &q, packet) else {
        return Fast::Fallback;
    };
    let limit = q
        .edns
        .as_ref()
        .map_or(512, |e| usize::from(e.payload.clamp(512, MAX_UDP_PAYLOAD)));
    let opt_len = if q.edns.is_some() { 11 } else { 0 };
    let size = q.question_end
        + s.answer.bytes.len()
        + s.authority.bytes.len()
        + s.additional.bytes.len()
        + opt_len;
    if size > limit {
        return Fast::Fallback;
    }
    out.clear();
    // Header: ID; QR, AA, RD and CD copied, RA 0, rcode; counts.
    let query_flags = u16::from_be_bytes([packet[2], packet[3]]);
    let mut flags = 0x8000 | (query_flags & 0x0110) | (u16::from(s.rcode) & 0x000F);
    if s.authoritative {
        flags |= 0x0400;
    }
    let additional = s.additional.count + u16::from(q.edns.is_some());
    out.extend_from_slice(&packet[..2]);
    out.extend_from_slice(&flags.to_be_bytes());
    for count in [1, s.answer.count, s.authority.count, additional] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out.extend_from_slice(&packet[HEADER..q.question_end]);
    let pointer = s.apex_pointer.to_be_bytes();
    for part in [s.answer, s.authority, s.additional] {
        let base = out.len();
        out.extend_from_slice(part.bytes);
        for &at in part.patches {
            let at = base + usize::from(at);
            out[at..at + 2].copy_from_slice(&pointer);
        }
    }
    if let Some(e) = &q.edns {
        // OPT: root, type 41, our payload, ext-rcode 0, version 0, DO copied, no options.
        out.push(0);
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&e.payload.clamp(512, MAX_UDP_PAYLOAD).to_be_bytes());
        out.extend_from_slice(&[0, 0, if e.dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    }
    metrics.count_query(q.qtype.into(), s.rcode);
    if let Some(c) = s.endpoint {
        c.inc();
    }
    Fast::Answered
}
