//! What to answer for one question: a pure function of the zone and the question.
//!
//! Implements DESIGN.md §4: AA inside the zone, REFUSED outside; A → A or CNAME,
//! AAAA → AAAA or CNAME, other types NODATA; NXDOMAIN/NODATA carry the SOA with the
//! negative TTL; NS answers carry glue; ANY is answered minimally (RFC 8482);
//! zone transfers are refused. Sections borrow from the zone: nothing is built here.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Record, RecordType};

use crate::zone::Zone;

/// The answer to one question. Owner names in `answers` are stored in lower case;
/// the handler writes them with the query's letter case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Answer<'z> {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub answers: &'z [Record],
    pub authorities: &'z [Record],
    pub additionals: &'z [Record],
}

impl<'z> Answer<'z> {
    fn refused() -> Self {
        Self {
            rcode: ResponseCode::Refused,
            authoritative: false,
            answers: &[],
            authorities: &[],
            additionals: &[],
        }
    }

    fn positive(answers: &'z [Record], additionals: &'z [Record]) -> Self {
        Self {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers,
            authorities: &[],
            additionals,
        }
    }
}

/// Answers `qname`/`qtype` (class IN) from `zone`.
pub fn answer<'z>(zone: &'z Zone, qname: &LowerName, qtype: RecordType) -> Answer<'z> {
    if !zone.apex.zone_of(qname) {
        return Answer::refused();
    }
    if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        return Answer::refused();
    }
    let Some(node) = zone.nodes.get(qname) else {
        return Answer {
            rcode: ResponseCode::NXDomain,
            authoritative: true,
            answers: &[],
            authorities: std::slice::from_ref(&zone.soa_negative),
            additionals: &[],
        };
    };
    let found: &'z [Record] = match qtype {
        RecordType::SOA if node.apex => std::slice::from_ref(&zone.soa),
        RecordType::NS if node.apex => return Answer::positive(&zone.ns, &zone.glue),
        RecordType::A if !node.a.is_empty() => &node.a,
        RecordType::AAAA if !node.aaaa.is_empty() => &node.aaaa,
        RecordType::A => node.profile.as_ref().map_or(&[][..], |p| p.a.pick()),
        RecordType::AAAA => node.profile.as_ref().map_or(&[][..], |p| p.aaaa.pick()),
        RecordType::CNAME => node.profile.as_ref().map_or(&[][..], |p| p.cname.pick()),
        // RFC 8482: one RRset that exists at the name is enough.
        RecordType::ANY => {
            if node.apex {
                std::slice::from_ref(&zone.soa)
            } else if !node.a.is_empty() {
                &node.a
            } else if !node.aaaa.is_empty() {
                &node.aaaa
            } else if let Some(p) = &node.profile {
                let a = p.a.pick();
                if a.is_empty() {
                    p.aaaa.pick()
                } else {
                    a
                }
            } else {
                &[]
            }
        }
        _ => &[],
    };
    if found.is_empty() {
        Answer {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers: &[],
            authorities: std::slice::from_ref(&zone.soa_negative),
            additionals: &[],
        }
    } else {
        Answer::positive(found, &[])
    }
}
