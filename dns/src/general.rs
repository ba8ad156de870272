//! The general path: any message, parsed by hickory, answered by hickory's encoder.
//!
//! Its callers (the UDP workers for what the fast path leaves, the TCP loop for
//! everything) hand it one message. It drops responses, answers FORMERR to what
//! does not parse, then applies the message-level rules: EDNS (echo, BADVERS for
//! version > 0, DO bit copied), opcode (NOTIMP unless QUERY), exactly one
//! question (FORMERR); the question itself is decided by [`decide`] like on the
//! fast path. UDP answers are fitted to the client's size (`fit`: glue dropped
//! first, else TC with no records; hickory's own truncation would send a partial
//! record). It runs to completion without awaiting, reads one [`Snapshot`],
//! writes into the caller's buffers, takes no lock and never logs per packet.

use std::iter::{empty, Empty};
use std::net::SocketAddr;

use hickory_proto::op::{Edns, Header, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};

use crate::answer::Answer;
use crate::decide::{badvers, decide, edns_payload, fit, udp_limit, Decision, Fit, Key};
use crate::metrics::DnsMetrics;
use crate::snapshot::Snapshot;
use crate::view::health_txt;
use crate::zone::Rrset;

/// What a worker reuses from one general-path answer to the next.
#[derive(Default)]
pub struct Scratch {
    /// The answer section, with owners in the query's letter case.
    answers: Vec<Record>,
}

/// The parts of a request the answer needs.
struct Request {
    header: Header,
    queries: Queries,
    edns: Option<Edns>,
}

/// Parses `packet` as hickory-server's `Request::from_bytes` does, without
/// copying it: the other sections are read (and must parse) but not kept.
fn parse(packet: &[u8]) -> Option<Request> {
    let mut decoder = BinDecoder::new(packet);
    let header = Header::read(&mut decoder).ok()?;
    let counts = header.counts;
    let op = header.metadata.op_code;
    let queries = Queries::read(&mut decoder, usize::from(counts.queries)).ok()?;
    Message::read_records(&mut decoder, usize::from(counts.answers), false, op).ok()?;
    Message::read_records(&mut decoder, usize::from(counts.authorities), false, op).ok()?;
    let (_, edns, _) =
        Message::read_records(&mut decoder, usize::from(counts.additionals), true, op).ok()?;
    Some(Request {
        header,
        queries,
        edns,
    })
}

/// Answers one message received over `protocol` (a UDP datagram, or one TCP
/// message without its length prefix) into `out`. Returns `false` when nothing
/// is to be sent (responses, runts shorter than a header, an answer that cannot
/// be encoded), as hickory-server's own loops do.
pub fn respond<'z>(
    snapshot: &'z Snapshot,
    metrics: &DnsMetrics,
    packet: &[u8],
    src: SocketAddr,
    protocol: Protocol,
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> bool {
    let Ok(header) = Header::read(&mut BinDecoder::new(packet)) else {
        return false;
    };
    if header.metadata.message_type == MessageType::Response {
        return false;
    }
    // hickory echoes the question section byte for byte; a compression pointer
    // into the header would point at the *response's* header there, and the
    // answer would not parse (found by the `query` fuzz target).
    let request = match question_points_into_header(packet, header.counts.queries) {
        false => parse(packet),
        true => None,
    };
    let Some(request) = request else {
        // FORMERR with no question, as hickory-server answers what it cannot parse.
        let mut metadata = Metadata::response_from_request(&header.metadata);
        metadata.response_code = ResponseCode::FormErr;
        let mut message = Message::new(metadata.id, MessageType::Response, metadata.op_code);
        message.metadata = metadata;
        out.clear();
        return message.emit(&mut BinEncoder::new(out)).is_ok();
    };

    let mut metadata = Metadata::response_from_request(&request.header.metadata);
    let mut edns = None;
    if let Some(req_edns) = &request.edns {
        let mut e = Edns::new();
        e.set_max_payload(edns_payload(req_edns.max_payload()));
        e.set_version(0);
        // RFC 3225 §3: the DO bit is copied into the response.
        e.set_dnssec_ok(req_edns.flags().dnssec_ok);
        if badvers(req_edns.version()) {
            metadata.response_code = ResponseCode::BADVERS;
        }
        edns = Some(e);
    }
    let builder = || MessageResponseBuilder::new(&request.queries, edns.as_ref());
    if metadata.response_code == ResponseCode::NoError {
        metadata.response_code = if request.header.metadata.op_code != OpCode::Query {
            ResponseCode::NotImp
        } else if request.queries.len() != 1 {
            ResponseCode::FormErr
        } else {
            ResponseCode::NoError
        };
    }
    let queries = request.queries.queries();
    let qtype = queries.first().map_or(RecordType::ZERO, |q| q.query_type());
    if metadata.response_code != ResponseCode::NoError {
        metrics.count_query(qtype, metadata.response_code);
        return emit(out, no_records(builder(), metadata));
    }

    let query = &queries[0];
    let zone = snapshot.zone();
    let key = Key::of(query.name());
    let decision = match &key {
        Some(key) => decide(zone, key.as_bytes(), qtype, query.query_class(), || {
            zone.is_trusted(src.ip())
        }),
        None => Decision::Refused,
    };
    let dnssec_ok = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    let decision = crate::multivalue::signable(zone, decision, dnssec_ok);
    let found = Answer::of(zone, decision);
    // DO=1 on a signed zone: the precomputed RRSIGs (and NSECs) go with it.
    let signed = match (&request.edns, &key) {
        (Some(e), Some(key)) if e.flags().dnssec_ok => {
            crate::dnssec::extras(zone, &decision, key.as_bytes(), || {
                zone.is_trusted(src.ip())
            })
        }
        _ => None,
    };
    metadata.response_code = found.rcode;
    metadata.authoritative = found.authoritative;
    metrics.count_query(qtype, found.rcode);
    for i in found.endpoints() {
        snapshot.count_answer(i);
    }

    // Answer owners are the query name: write them in the query's letter case.
    let owner = query.original().name();
    let answers = &mut scratch.answers;
    answers.clear();
    let at_owner = |r: &Record| Record::from_rdata(owner.clone(), r.ttl, r.data.clone());
    match found.health {
        // Signed answers show the view as compiled (what could be signed ahead).
        Some(view) if signed.is_some() && view.health_signed.is_some() => answers.extend(
            view.health_signed
                .iter()
                .flat_map(|s| s.records.iter())
                .map(at_owner),
        ),
        Some(view) => health_txt(owner, view, snapshot.health(), answers),
        None => answers.extend(found.records(owner)),
    }
    if let Some(sig) = signed.and_then(|x| x.answer) {
        answers.extend(sig.records.iter().map(at_owner));
    }
    let x = signed.map(|x| x.authority).unwrap_or_default();
    let records = |set: Option<&'z Rrset>| set.map_or(&[][..], |s| &s.records[..]);
    let authorities: [&[Record]; 6] = [
        found.authorities,
        records(x[0]),
        records(x[1]),
        records(x[2]),
        records(x[3]),
        records(x[4]),
    ];
    let answers = &*answers;
    let limit = match protocol {
        Protocol::Udp => udp_limit(request.edns.as_ref().map(Edns::max_payload)),
        _ => usize::MAX,
    };
    // Encoded once in full; again only when that does not fit.
    let encode = |out: &mut Vec<u8>, additionals: &[Record]| {
        let response = builder().build(
            metadata,
            answers.iter(),
            authorities.into_iter().flatten(),
            [],
            additionals.iter(),
        );
        if emit(out, response) {
            out.len()
        } else {
            usize::MAX
        }
    };
    let full = encode(out, found.additionals);
    match fit(limit, full, || encode(out, &[])) {
        Fit::All => full != usize::MAX,
        Fit::WithoutAdditional => true,
        Fit::Truncated => {
            metadata.truncation = true;
            emit(out, no_records(builder(), metadata))
        }
    }
}

/// A response with no records. (hickory's `build_no_records` boxes four empty
/// iterators: four allocations per answer.)
fn no_records<'q, 'a>(
    builder: MessageResponseBuilder<'q>,
    metadata: Metadata,
) -> MessageResponse<
    'q,
    'a,
    Empty<&'a Record>,
    Empty<&'a Record>,
    Empty<&'a Record>,
    Empty<&'a Record>,
> {
    builder.build(metadata, empty(), empty(), empty(), empty())
}

/// Encodes `response` into `out` (cleared first); `false` if it cannot be encoded.
fn emit<'a>(
    out: &mut Vec<u8>,
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> bool {
    out.clear();
    response.destructive_emit(&mut BinEncoder::new(out)).is_ok()
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
