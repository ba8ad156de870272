//! The hickory-server `RequestHandler`: message-level checks around [`answer`].
//!
//! hickory-server parses the packet, drops responses, answers FORMERR to what it
//! cannot parse, and encodes (truncating UDP answers to the client's size with TC
//! set). This handler does the rest: EDNS (echo, BADVERS for version > 0, DO bit
//! copied), opcode (NOTIMP unless QUERY), exactly one question (FORMERR), class IN
//! (REFUSED otherwise), then the zone lookup. It reads the current zone with one
//! lock-free `ArcSwap` load and never logs per packet.

use std::sync::Arc;

use arc_swap::ArcSwap;
use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Record};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use crate::answer::{answer, Answer};
use crate::zone::Zone;

/// Largest UDP payload we advertise and honour (the DNS flag day 2020 value).
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// Answers queries from the current zone.
#[derive(Clone)]
pub struct Handler {
    zone: Arc<ArcSwap<Zone>>,
}

impl Handler {
    /// A handler that always reads the zone currently stored in `zone`.
    pub fn new(zone: Arc<ArcSwap<Zone>>) -> Self {
        Self { zone }
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
        if metadata.response_code != ResponseCode::NoError {
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
            answer(&zone, query.name(), query.query_type())
        } else {
            Answer {
                rcode: ResponseCode::Refused,
                authoritative: false,
                answers: &[],
                authorities: &[],
                additionals: &[],
            }
        };
        metadata.response_code = found.rcode;
        metadata.authoritative = found.authoritative;

        // Answer owners are the query name: write them in the query's letter case.
        let owner = query.original().name();
        let answers: Vec<Record> = found
            .answers
            .iter()
            .map(|r| Record::from_rdata(owner.clone(), r.ttl, r.data.clone()))
            .collect();
        let response = builder.build(
            metadata,
            answers.iter(),
            found.authorities.iter(),
            [],
            found.additionals.iter(),
        );
        send(&mut response_handle, response, &request.metadata).await
    }
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
