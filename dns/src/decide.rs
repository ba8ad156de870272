//! The decision table of DESIGN.md §4, in one place for both paths.
//!
//! [`decide`] says what to answer for one question — REFUSED outside the zone,
//! for zone transfers and for classes other than IN (without AA); NXDOMAIN for
//! names that do not exist (or are private and the client untrusted); NODATA for
//! names that exist without data of the type (empty non-terminals included);
//! which RRset answers A/AAAA/CNAME/SOA/NS/TXT/ANY — and [`Decision`] maps that to
//! rcode, AA and the negative SOA. The message-level rules sit beside it: EDNS
//! (`edns_payload`, `udp_limit`, `badvers`) and what fits a UDP answer
//! (`fit`). The general path ([`crate::answer`]) turns a decision into hickory
//! records, the fast path ([`crate::fast`]) into precompiled wire bytes; neither
//! decides anything itself.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::multivalue::{self, Drawn};
use crate::pick::Range;
use crate::zone::{Cluster, HealthView, Pick, Rrset, Zone};

/// Largest UDP payload we advertise and honour (the DNS flag day 2020 value).
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// What to answer for one question.
#[derive(Debug, Clone, Copy)]
pub enum Decision<'z> {
    /// Outside the zone, a zone transfer, or a class other than IN: REFUSED, no AA.
    Refused,
    /// No such name (a private name counts as none for an untrusted client).
    NxDomain,
    /// The name exists, without data of the type asked for.
    NoData,
    /// An RRset that exists at the name, and what goes with it in the additional
    /// section (glue of the apex NS).
    Records {
        /// The RRset of the type asked for.
        answer: &'z Rrset,
        /// What goes in the additional section, if anything.
        additional: Option<&'z Rrset>,
    },
    /// One endpoint record of a profile, drawn by weight: `pick.records[index]`.
    Endpoint {
        /// The profile's endpoint records of the type asked for, with their sampler.
        pick: &'z Pick,
        /// The record drawn.
        index: usize,
    },
    /// Several distinct endpoint records of a MultiValue profile, drawn by weight
    /// without replacement: `pick.records[i]` for `i` in `drawn`, in that order.
    Endpoints {
        /// The profile's endpoint records of the type asked for.
        pick: &'z Pick,
        /// The records drawn.
        drawn: Drawn,
        /// On a signed zone with DO=1: the RRSIGs over exactly these records
        /// (a precomputed subset, see `multivalue::signable`).
        signed: Option<&'z Rrset>,
    },
    /// The `_health` TXT view of a profile, rendered per query (it shows ages).
    HealthView(&'z HealthView),
}

impl Decision<'_> {
    /// The response code.
    pub fn rcode(&self) -> ResponseCode {
        match self {
            Decision::Refused => ResponseCode::Refused,
            Decision::NxDomain => ResponseCode::NXDomain,
            _ => ResponseCode::NoError,
        }
    }

    /// AA: on every answer from inside the zone.
    pub fn authoritative(&self) -> bool {
        !matches!(self, Decision::Refused)
    }

    /// Whether the authority section carries the SOA with the negative TTL
    /// (RFC 2308 §3).
    pub fn negative(&self) -> bool {
        matches!(self, Decision::NxDomain | Decision::NoData)
    }
}

/// Decides the answer to `qname` (lower-case wire form, see [`Key`]), `qtype`,
/// `class`. `trusted` is asked only when the name is private (health view).
pub fn decide<'z>(
    zone: &'z Zone,
    qname: &[u8],
    qtype: RecordType,
    class: DNSClass,
    trusted: impl FnOnce() -> bool,
) -> Decision<'z> {
    if class != DNSClass::IN
        || !in_zone(qname, &zone.apex_key)
        || matches!(qtype, RecordType::AXFR | RecordType::IXFR)
    {
        return Decision::Refused;
    }
    let node = match crate::names::lookup(&zone.nodes, qname) {
        Some(n) if !n.private || trusted() => n,
        _ => return Decision::NxDomain,
    };
    let records = |answer| {
        Some(Decision::Records {
            answer,
            additional: None,
        })
    };
    let picked = |pick: &'z Pick| match pick.max_return {
        1 => pick
            .pick_index()
            .map(|index| Decision::Endpoint { pick, index }),
        _ => multivalue::draw(pick).map(|drawn| Decision::Endpoints {
            pick,
            drawn,
            signed: None,
        }),
    };
    // A cluster's answer set: one record drawn by weight from its range.
    let clustered = |range: fn(&Cluster) -> Range| {
        let (pick, cluster) = node.cluster?;
        let range = range(cluster);
        pick.pick_in(range, pick.total_of(range))
            .map(|index| Decision::Endpoint { pick, index })
    };
    let found = match qtype {
        RecordType::SOA if node.apex => records(&zone.soa),
        RecordType::NS if node.apex => Some(Decision::Records {
            answer: &zone.ns,
            additional: Some(&zone.glue),
        }),
        RecordType::A if node.a().is_some() => node.a().and_then(records),
        RecordType::AAAA if node.aaaa().is_some() => node.aaaa().and_then(records),
        RecordType::A => node
            .answers
            .and_then(|p| picked(p.a.as_deref()?))
            .or_else(|| clustered(|c| c.a)),
        RecordType::AAAA => node
            .answers
            .and_then(|p| picked(p.aaaa.as_deref()?))
            .or_else(|| clustered(|c| c.aaaa)),
        RecordType::CNAME => node
            .answers
            .and_then(|p| picked(p.cname.as_deref()?))
            .or_else(|| clustered(|c| c.cname)),
        RecordType::TXT => node.health.map(Decision::HealthView),
        // RFC 8482: one RRset that exists at the name is enough.
        RecordType::ANY => {
            if node.apex {
                records(&zone.soa)
            } else if let Some(a) = node.a() {
                records(a)
            } else if let Some(aaaa) = node.aaaa() {
                records(aaaa)
            } else if let Some(p) = node.answers {
                p.a.as_deref()
                    .and_then(picked)
                    .or_else(|| p.aaaa.as_deref().and_then(picked))
            } else if node.cluster.is_some() {
                clustered(|c| c.a).or_else(|| clustered(|c| c.aaaa))
            } else {
                None
            }
        }
        // Signed zones: DNSKEY, CDS, CDNSKEY at the apex, NSEC at every name.
        t @ (RecordType::DNSKEY | RecordType::CDS | RecordType::CDNSKEY | RecordType::NSEC) => {
            crate::dnssec::rrset(zone, &node, qname, t).and_then(records)
        }
        _ => None,
    };
    found.unwrap_or(Decision::NoData)
}

/// Whether `name` is `apex` or below it (both lower-case wire form).
fn in_zone(name: &[u8], apex: &[u8]) -> bool {
    let mut at = 0;
    while let Some(rest) = name.get(at..) {
        if rest == apex {
            return true;
        }
        match rest.first() {
            Some(&len) if len > 0 => at += 1 + usize::from(len),
            _ => return false,
        }
    }
    false
}

/// A name in lower-case wire form, on the stack: the zone's lookup key.
pub struct Key {
    buf: [u8; 256],
    len: usize,
}

impl Key {
    /// The root name.
    pub(crate) fn root() -> Self {
        Self {
            buf: [0; 256],
            len: 1,
        }
    }

    /// Appends a label before the terminating root; `None` if the name would
    /// exceed 255 octets.
    pub(crate) fn push(&mut self, label: &[u8]) -> Option<()> {
        let start = self.len - 1;
        let end = start + 1 + label.len();
        if label.len() > 63 || end >= 255 {
            return None;
        }
        self.buf[start] = label.len() as u8;
        for (dst, src) in self.buf[start + 1..end].iter_mut().zip(label) {
            *dst = src.to_ascii_lowercase();
        }
        self.buf[end] = 0;
        self.len = end + 1;
        Some(())
    }

    /// The key of `name`. hickory never parses a name longer than 255 octets,
    /// so this fails only on names built otherwise.
    pub fn of(name: &Name) -> Option<Self> {
        let mut key = Self::root();
        for label in name.iter() {
            key.push(label)?;
        }
        Some(key)
    }

    /// The wire bytes, root label included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The EDNS payload size we answer with, for a query's advertised size.
pub(crate) fn edns_payload(requested: u16) -> u16 {
    requested.clamp(512, MAX_UDP_PAYLOAD)
}

/// The size limit of a UDP answer: 512 without EDNS (RFC 1035 §4.2.1).
pub(crate) fn udp_limit(requested_payload: Option<u16>) -> usize {
    usize::from(requested_payload.map_or(512, edns_payload))
}

/// An EDNS version we do not implement gets BADVERS (RFC 6891 §6.1.3).
pub(crate) fn badvers(version: u8) -> bool {
    version > 0
}

/// What of an answer goes out over UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// Everything fits.
    All,
    /// Without the additional section (RFC 2181 §9: no TC for that).
    WithoutAdditional,
    /// Nothing fits: TC with no records, so the client retries over TCP.
    Truncated,
}

/// Judges an answer of `full` octets (`without_additional` octets without the
/// additional section, computed only when needed) against `limit`.
pub(crate) fn fit(limit: usize, full: usize, without_additional: impl FnOnce() -> usize) -> Fit {
    if full <= limit {
        Fit::All
    } else if without_additional() <= limit {
        Fit::WithoutAdditional
    } else {
        Fit::Truncated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        Key::of(&Name::from_ascii(s).unwrap()).unwrap()
    }

    #[test]
    fn names_are_in_the_zone_at_or_below_the_apex_only() {
        let apex = key("tm.test.");
        for (name, inside) in [
            ("tm.test.", true),
            ("A.Tm.TEST.", true),
            ("x.y.tm.test.", true),
            ("xtm.test.", false),
            ("test.", false),
            (".", false),
            ("tm.test.example.", false),
        ] {
            assert_eq!(
                in_zone(key(name).as_bytes(), apex.as_bytes()),
                inside,
                "{name}"
            );
        }
    }

    #[test]
    fn a_key_is_the_lower_case_wire_form() {
        assert_eq!(key("Ab.C.").as_bytes(), b"\x02ab\x01c\x00");
        assert_eq!(key(".").as_bytes(), b"\x00");
        let mut k = Key::root();
        assert!(
            k.push(&[b'x'; 64]).is_none(),
            "labels are at most 63 octets"
        );
    }

    #[test]
    fn udp_answers_shed_glue_before_they_truncate() {
        assert_eq!(fit(512, 512, || unreachable!()), Fit::All);
        assert_eq!(fit(512, 600, || 500), Fit::WithoutAdditional);
        assert_eq!(fit(512, 600, || 513), Fit::Truncated);
        assert_eq!(udp_limit(None), 512);
        assert_eq!(udp_limit(Some(100)), 512);
        assert_eq!(udp_limit(Some(4096)), 1232);
    }
}
