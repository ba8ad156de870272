//! What to answer for one question: a pure function of the zone and the question.
//!
//! Implements DESIGN.md §4: AA inside the zone, REFUSED outside; A → A or CNAME,
//! AAAA → AAAA or CNAME, other types NODATA; NXDOMAIN/NODATA carry the SOA with the
//! negative TTL; NS answers carry glue; ANY is answered minimally (RFC 8482);
//! zone transfers are refused. Health-view names exist only for trusted clients.
//! Sections borrow from the zone: nothing is built here.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Record, RecordType};
use prometheus::IntCounter;

use crate::zone::{HealthView, Pick, Zone};

/// The answer to one question. Owner names in `answers` are stored in lower case;
/// the handler writes them with the query's letter case.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'z> {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub answers: &'z [Record],
    pub authorities: &'z [Record],
    pub additionals: &'z [Record],
    /// The answer counter of the endpoint drawn, if one was.
    pub endpoint: Option<&'z IntCounter>,
    /// A health-view TXT answer the handler must build (it shows ages).
    pub health: Option<&'z HealthView>,
}

impl<'z> Answer<'z> {
    /// An answer with no records and this rcode.
    pub fn empty(rcode: ResponseCode, authoritative: bool) -> Self {
        Self {
            rcode,
            authoritative,
            answers: &[],
            authorities: &[],
            additionals: &[],
            endpoint: None,
            health: None,
        }
    }

    fn negative(zone: &'z Zone, rcode: ResponseCode) -> Self {
        Self {
            authorities: std::slice::from_ref(&zone.soa_negative),
            ..Self::empty(rcode, true)
        }
    }

    fn records(answers: &'z [Record], additionals: &'z [Record]) -> Self {
        Self {
            answers,
            additionals,
            ..Self::empty(ResponseCode::NoError, true)
        }
    }

    fn picked(pick: &'z Pick) -> Option<Self> {
        pick.pick().map(|(answers, counter)| Self {
            endpoint: Some(counter),
            ..Self::records(answers, &[])
        })
    }
}

/// Answers `qname`/`qtype` (class IN) from `zone`. `trusted` says whether the
/// client may see the health view.
pub fn answer<'z>(
    zone: &'z Zone,
    qname: &LowerName,
    qtype: RecordType,
    trusted: bool,
) -> Answer<'z> {
    if !zone.apex.zone_of(qname) || matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        return Answer::empty(ResponseCode::Refused, false);
    }
    let node = match zone.node(qname) {
        Some(n) if trusted || !n.private => n,
        _ => return Answer::negative(zone, ResponseCode::NXDomain),
    };
    let found = match qtype {
        RecordType::SOA if node.apex => Some(Answer::records(std::slice::from_ref(&zone.soa), &[])),
        RecordType::NS if node.apex => Some(Answer::records(&zone.ns, &zone.glue)),
        RecordType::A if !node.a.is_empty() => Some(Answer::records(&node.a, &[])),
        RecordType::AAAA if !node.aaaa.is_empty() => Some(Answer::records(&node.aaaa, &[])),
        RecordType::A => node.profile.as_ref().and_then(|p| Answer::picked(&p.a)),
        RecordType::AAAA => node.profile.as_ref().and_then(|p| Answer::picked(&p.aaaa)),
        RecordType::CNAME => node.profile.as_ref().and_then(|p| Answer::picked(&p.cname)),
        RecordType::TXT => node.health.as_deref().map(|h| Answer {
            health: Some(h),
            ..Answer::empty(ResponseCode::NoError, true)
        }),
        // RFC 8482: one RRset that exists at the name is enough.
        RecordType::ANY => {
            if node.apex {
                Some(Answer::records(std::slice::from_ref(&zone.soa), &[]))
            } else if !node.a.is_empty() {
                Some(Answer::records(&node.a, &[]))
            } else if !node.aaaa.is_empty() {
                Some(Answer::records(&node.aaaa, &[]))
            } else if let Some(p) = &node.profile {
                Answer::picked(&p.a).or_else(|| Answer::picked(&p.aaaa))
            } else {
                None
            }
        }
        _ => None,
    };
    found.unwrap_or_else(|| Answer::negative(zone, ResponseCode::NoError))
}
