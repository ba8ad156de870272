//! The hickory-server `RequestHandler`: message-level checks around [`answer`].
//!
//! Its callers (hickory-server for TCP, [`crate::udp::general`] for UDP) parse
//! the packet, drop responses and answer FORMERR to what does not parse. This
//! handler does the rest: EDNS (echo, BADVERS for version > 0, DO bit
//! copied), opcode (NOTIMP unless QUERY), exactly one question (FORMERR), class IN
//! (REFUSED otherwise), the zone lookup, and fitting UDP answers to the client's
//! size (glue dropped first, else TC with no records; hickory's own truncation
//! would send a partial record). It reads the current zone with one
//! lock-free `ArcSwap` load and never logs per packet. Only the health view (TXT at
//! `_health.<profile>`, trusted clients) is built per query, from the latest
//! `Health` snapshot, because it shows how old each probe result is.

use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use fleetdns_config::{Health, MonitorState};
use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use crate::answer::{answer, Answer};
use crate::metrics::DnsMetrics;
use crate::zone::{HealthView, Zone};

/// Largest UDP payload we advertise and honour (the DNS flag day 2020 value).
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// Answers queries from the current zone.
#[derive(Clone)]
pub struct Handler {
    zone: Arc<ArcSwap<Zone>>,
    health: Arc<ArcSwap<Health>>,
    metrics: Arc<DnsMetrics>,
}

impl Handler {
    /// A handler that always reads the zone currently stored in `zone`, and the
    /// latest health (for the health view) from `health`.
    pub fn new(
        zone: Arc<ArcSwap<Zone>>,
        health: Arc<ArcSwap<Health>>,
        metrics: Arc<DnsMetrics>,
    ) -> Self {
        Self {
            zone,
            health,
            metrics,
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        let mut edns = None;
        if let Some(req_edns) = &request.edns {
            let mut e = Edns::new();
            e.set_max_payload(req_edns.max_payload().clamp(512, MAX_UDP_PAYLOAD));
            e.set_version(0);
            // RFC 3225 §3: the DO bit is copied into the response.
            e.set_dnssec_ok(req_edns.flags().dnssec_ok);
            if req_edns.version() > 0 {
                metadata.response_code = ResponseCode::BADVERS;
            }
            edns = Some(e);
        }
        let builder = MessageResponseBuilder::new(&request.queries, edns.as_ref());

        if metadata.response_code == ResponseCode::NoError {
            metadata.response_code = if request.metadata.op_code != OpCode::Query {
                ResponseCode::NotImp
            } else if request.queries.len() != 1 {
                ResponseCode::FormErr
            } else {
                ResponseCode::NoError
            };
        }
        let qtype = request
            .queries
            .queries()
            .first()
            .map_or(RecordType::ZERO, |q| q.query_type());
        if metadata.response_code != ResponseCode::NoError {
            self.metrics.count_query(qtype, metadata.response_code);
            return send(
                &mut response_handle,
                builder.build_no_records(metadata),
                &request.metadata,
            )
            .await;
        }

        let query = &request.queries.queries()[0];
        let zone = self.zone.load();
        let found = if query.query_class() == DNSClass::IN {
            answer(
                &zone,
                query.name(),
                qtype,
                zone.is_trusted(request.src().ip()),
            )
        } else {
            Answer::empty(ResponseCode::Refused, false)
        };
        metadata.response_code = found.rcode;
        metadata.authoritative = found.authoritative;
        self.metrics.count_query(qtype, found.rcode);
        if let Some(counter) = found.endpoint {
            counter.inc();
        }

        // Answer owners are the query name: write them in the query's letter case.
        let owner = query.original().name();
        let answers: Vec<Record> = match found.health {
            Some(view) => health_txt(owner, view, &self.health.load()),
            None => found
                .answers
                .iter()
                .map(|r| Record::from_rdata(owner.clone(), r.ttl, r.data.clone()))
                .collect(),
        };
        // UDP answers must fit the client's size. hickory's encoder would cut the
        // message mid-record and send the partial bytes, so decide here: drop the
        // additional section first (RFC 2181 §9: no TC for that), else send TC with
        // no records and let the client retry over TCP.
        let limit = match request.protocol() {
            Protocol::Udp => usize::from(edns.as_ref().map_or(512, Edns::max_payload)),
            _ => usize::MAX,
        };
        let mut additionals = found.additionals;
        let fits = |additionals: &[Record], metadata: Metadata| {
            let bound = request.queries.as_bytes().len()
                + 12
                + 11
                + sections_bound(&answers, found.authorities, additionals);
            bound <= limit
                || encoded_len(
                    request,
                    edns.as_ref(),
                    metadata,
                    &answers,
                    found.authorities,
                    additionals,
                ) <= limit
        };
        if !fits(additionals, metadata) {
            additionals = &[];
            if !fits(additionals, metadata) {
                metadata.truncation = true;
                return send(
                    &mut response_handle,
                    builder.build_no_records(metadata),
                    &request.metadata,
                )
                .await;
            }
        }
        let response = builder.build(
            metadata,
            answers.iter(),
            found.authorities.iter(),
            [],
            additionals.iter(),
        );
        send(&mut response_handle, response, &request.metadata).await
    }
}

/// An upper bound of the encoded size of the records, without name compression.
/// Cheap; when it is over the limit, [`encoded_len`] gives the exact size.
fn sections_bound(answers: &[Record], authorities: &[Record], additionals: &[Record]) -> usize {
    fn name(n: &Name) -> usize {
        n.iter().map(|l| l.len() + 1).sum::<usize>() + 1
    }
    answers
        .iter()
        .chain(authorities)
        .chain(additionals)
        .map(|r| {
            let rdata = match &r.data {
                RData::A(_) => 4,
                RData::AAAA(_) => 16,
                RData::CNAME(n) => name(&n.0),
                RData::NS(n) => name(&n.0),
                RData::SOA(soa) => name(&soa.mname) + name(&soa.rname) + 20,
                // Anything else: assume it is large, so the exact size is computed.
                _ => usize::from(u16::MAX),
            };
            name(&r.name) + 10 + rdata
        })
        .sum()
}

/// The exact encoded size of a response (with compression), by encoding it.
fn encoded_len(
    request: &Request,
    edns: Option<&Edns>,
    metadata: Metadata,
    answers: &[Record],
    authorities: &[Record],
    additionals: &[Record],
) -> usize {
    let mut buf = Vec::with_capacity(1024);
    let mut encoder = BinEncoder::new(&mut buf);
    let response = MessageResponseBuilder::new(&request.queries, edns).build(
        metadata,
        answers.iter(),
        authorities.iter(),
        [],
        additionals.iter(),
    );
    match response.destructive_emit(&mut encoder) {
        Ok(_) => buf.len(),
        Err(_) => usize::MAX,
    }
}

/// The `_health` TXT records: a summary, then one record per endpoint. TTL 0, so
/// resolvers never cache the health view.
fn health_txt(owner: &Name, view: &HealthView, health: &Health) -> Vec<Record> {
    let now = SystemTime::now();
    let serving = view.endpoints.iter().filter(|e| e.served).count();
    let mode = if view.fail_closed {
        "fail-closed"
    } else {
        "fail-open"
    };
    let mut out = vec![Record::from_rdata(
        owner.clone(),
        0,
        RData::TXT(TXT::new(vec![
            format!("profile={}", view.profile),
            format!("endpoints={}", view.endpoints.len()),
            format!("serving={serving}"),
            format!("mode={mode}"),
        ])),
    )];
    for e in &view.endpoints {
        let h = health.get(e.id.as_str());
        let state = match (e.always_serve, h) {
            (true, _) => MonitorState::Unmonitored,
            (false, Some(h)) => h.state,
            (false, None) => MonitorState::CheckingEndpoint,
        };
        let mut strings = vec![
            format!("endpoint={}", e.id),
            format!("cluster={}", e.cluster),
            format!("target={}", e.target),
            format!("weight={}", e.weight),
            format!("state={state:?}"),
            format!("served={}", if e.served { "yes" } else { "no" }),
        ];
        match h.and_then(|h| h.last.as_ref()) {
            Some(last) => {
                let age = now.duration_since(last.at).unwrap_or_default().as_secs();
                strings.push(format!("last={}", last.detail));
                strings.push(format!("age={age}s"));
                strings.push(format!(
                    "failures={}",
                    h.map_or(0, |h| h.consecutive_failures)
                ));
            }
            None => strings.push("last=none".to_string()),
        }
        out.push(Record::from_rdata(
            owner.clone(),
            0,
            RData::TXT(TXT::new(strings)),
        ));
    }
    out
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    response: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    request: &Metadata,
) -> ResponseInfo {
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(_) => {
            // The client is gone or the socket failed; nothing was sent. Not logged
            // per packet; the server loop reports socket failures.
            let mut metadata = Metadata::new(request.id, MessageType::Response, request.op_code);
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        }
    }
}
