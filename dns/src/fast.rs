//! The UDP fast path: common queries answered straight from packet bytes.
//!
//! A plain query (opcode QUERY, one question, class IN, at most one OPT record
//! of EDNS version 0, no other records) is parsed here without building objects,
//! decided by [`decide`] like every other query, and answered by copying the
//! header and question and appending the records precompiled at zone compile
//! time (see the `wire` module) — one endpoint record for Weighted and Priority
//! profiles, the drawn ones for MultiValue ([`crate::multivalue`]). No allocation beyond the caller's reused buffer,
//! no locks. Left to hickory's general path ([`Fast::Fallback`]): anything that
//! is not a plain query, the meta-types ANY, AXFR and IXFR, the health view
//! (rendered per query), and answers that would not fit whole. The general path
//! is the reference: a differential test checks that both give the same rcode,
//! flags and sections.

use std::net::IpAddr;

use hickory_proto::rr::{DNSClass, RecordType};

use crate::decide::{badvers, decide, edns_payload, fit, udp_limit, Decision, Fit, Key};
use crate::metrics::DnsMetrics;
use crate::multivalue::Drawn;
use crate::snapshot::Snapshot;
use crate::wire::WireSet;
use crate::zone::Pick;

/// What the fast path did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fast {
    /// `out` holds the complete response.
    Answered,
    /// Not a case the fast path handles; use the general path.
    Fallback,
}

const HEADER: usize = 12;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;

fn u16_at(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]))
}

/// The query's EDNS, when it has a valid OPT record.
struct QueryEdns {
    payload: u16,
    dnssec_ok: bool,
}

/// The parsed parts of a plain query.
struct Query {
    /// End of the question section.
    question_end: usize,
    qtype: RecordType,
    edns: Option<QueryEdns>,
    /// The question name, lower case.
    key: Key,
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
    let mut key = Key::root();
    let mut at = HEADER;
    loop {
        let len = usize::from(*p.get(at)?);
        if len == 0 {
            break;
        }
        // Compression pointers or extended labels never appear in plain queries.
        if len > 63 {
            return None;
        }
        key.push(p.get(at + 1..at + 1 + len)?)?;
        at += 1 + len;
    }
    let qtype = RecordType::from(u16_at(p, at + 1)?);
    if u16_at(p, at + 3)? != CLASS_IN {
        return None;
    }
    let question_end = at + 5;
    let mut rest = question_end;
    let mut edns = None;
    if arcount == 1 {
        // OPT: root owner, type 41, class = payload, TTL = ext-rcode/version/flags.
        if *p.get(rest)? != 0 || u16_at(p, rest + 1)? != TYPE_OPT {
            return None;
        }
        let payload = u16_at(p, rest + 3)?;
        let (ext_rcode, version) = (*p.get(rest + 5)?, *p.get(rest + 6)?);
        if ext_rcode != 0 || badvers(version) {
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
        edns = Some(QueryEdns { payload, dnssec_ok });
    }
    (rest == p.len()).then_some(Query {
        question_end,
        qtype,
        edns,
        key,
    })
}

impl Query {
    /// The compression pointer to the apex's labels in the question, if they
    /// are lower case already (so a name that points there reads back in lower
    /// case, like the plain form). Call only for names in the zone.
    fn apex_pointer(&self, packet: &[u8], apex: &[u8]) -> Option<u16> {
        let name_end = HEADER + self.key.as_bytes().len();
        let at = name_end.checked_sub(apex.len())?;
        (packet.get(at..name_end)? == apex).then_some(0xC000 | at as u16)
    }
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

/// The wire records and endpoint indices of a MultiValue answer, in answer order.
fn drawn_records(drawn: Option<(&Pick, Drawn)>) -> impl Iterator<Item = (&[u8], u32)> {
    drawn.into_iter().flat_map(|(pick, d)| {
        (0..d.len()).map(move |n| {
            let i = usize::from(d.as_slice()[n]);
            (pick.wire(i), pick.endpoints()[i])
        })
    })
}

/// Answers `packet` from `client` into `out` if it is a case the fast path handles.
pub fn respond<'s>(
    snapshot: &'s Snapshot,
    packet: &[u8],
    client: IpAddr,
    metrics: &DnsMetrics,
    out: &mut Vec<u8>,
) -> Fast {
    let Some(q) = parse(packet) else {
        return Fast::Fallback;
    };
    if matches!(
        q.qtype,
        RecordType::ANY | RecordType::AXFR | RecordType::IXFR
    ) {
        return Fast::Fallback;
    }
    let zone = snapshot.zone();
    let decision = decide(zone, q.key.as_bytes(), q.qtype, DNSClass::IN, || {
        zone.is_trusted(client)
    });
    let dnssec_ok = q.edns.as_ref().is_some_and(|e| e.dnssec_ok);
    let decision = crate::multivalue::signable(zone, decision, dnssec_ok);
    // Names outside the zone never use the apex pointer (nothing points there).
    let apex = match decision {
        Decision::Refused => None,
        _ => q.apex_pointer(packet, &zone.apex_key),
    };
    // MultiValue records, written one by one after the (then empty) answer part.
    let mut drawn = None;
    let (answer, additional, endpoint) = match decision {
        Decision::Records { answer, additional } => (
            Part::of(&answer.wire, apex),
            additional.map_or(NONE, |w| Part::of(&w.wire, apex)),
            None,
        ),
        Decision::Endpoint { pick, index } => {
            let bytes = pick.wire(index);
            let part = Part {
                bytes,
                count: 1,
                patches: &[],
            };
            (part, NONE, Some(pick.endpoints()[index]))
        }
        Decision::Endpoints { pick, drawn: d, .. } => {
            drawn = Some((pick, d));
            (NONE, NONE, None)
        }
        Decision::HealthView(_) => return Fast::Fallback,
        Decision::Refused | Decision::NxDomain | Decision::NoData => (NONE, NONE, None),
    };
    let authority = if decision.negative() {
        Part::of(&zone.soa_negative.wire, apex)
    } else {
        NONE
    };

    // DO=1 on a signed zone: the precomputed RRSIGs (and NSECs) go with it.
    let signed = match &q.edns {
        Some(e) if e.dnssec_ok => crate::dnssec::extras(zone, &decision, q.key.as_bytes(), || {
            zone.is_trusted(client)
        }),
        _ => None,
    }
    .unwrap_or_default();
    let set = |r: Option<&'s crate::zone::Rrset>| r.map_or(NONE, |r| Part::of(&r.wire, None));
    let x = signed.authority;
    // Sections: answer (records, RRSIGs), authority (SOA, its RRSIG, NSECs with
    // theirs), additional.
    let parts = [
        answer,
        set(signed.answer),
        authority,
        set(x[0]),
        set(x[1]),
        set(x[2]),
        set(x[3]),
        set(x[4]),
        additional,
    ];
    let counts = |range: std::ops::Range<usize>| parts[range].iter().map(|p| p.count).sum::<u16>();
    let (answer_count, authority_count) = (counts(0..2), counts(2..8));

    let limit = udp_limit(q.edns.as_ref().map(|e| e.payload));
    let opt_len = if q.edns.is_some() { 11 } else { 0 };
    let (drawn_len, drawn_count) =
        drawn_records(drawn).fold((0, 0u16), |(len, n), (w, _)| (len + w.len(), n + 1));
    let size =
        q.question_end + drawn_len + parts.iter().map(|p| p.bytes.len()).sum::<usize>() + opt_len;
    // Shedding glue or truncating is the general path's job.
    if fit(limit, size, || size - additional.bytes.len()) != Fit::All {
        return Fast::Fallback;
    }
    out.clear();
    // Header: ID; QR, AA, RD and CD copied, RA 0, rcode; counts.
    let query_flags = u16::from_be_bytes([packet[2], packet[3]]);
    let rcode = decision.rcode();
    let mut flags = 0x8000 | (query_flags & 0x0110) | (u16::from(rcode) & 0x000F);
    if decision.authoritative() {
        flags |= 0x0400;
    }
    let additional_count = additional.count + u16::from(q.edns.is_some());
    out.extend_from_slice(&packet[..2]);
    out.extend_from_slice(&flags.to_be_bytes());
    for count in [
        1,
        answer_count + drawn_count,
        authority_count,
        additional_count,
    ] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out.extend_from_slice(&packet[HEADER..q.question_end]);
    for (w, _) in drawn_records(drawn) {
        out.extend_from_slice(w);
    }
    let pointer = apex.unwrap_or(0).to_be_bytes();
    for part in parts {
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
        out.extend_from_slice(&edns_payload(e.payload).to_be_bytes());
        out.extend_from_slice(&[0, 0, if e.dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    }
    metrics.count_query(q.qtype, rcode);
    if let Some(i) = endpoint {
        snapshot.count_answer(i);
    }
    for (_, i) in drawn_records(drawn) {
        snapshot.count_answer(i);
    }
    Fast::Answered
}
