//! A [`Decision`] as record sections, for the general path and for tests.
//!
//! Sections borrow from the zone: nothing is built here. Owner names in
//! `answers` are stored in lower case; the general path writes them with the
//! query's letter case.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, LowerName, Name, Record, RecordType};

use crate::decide::{decide, Decision, Key};
use crate::multivalue::Drawn;
use crate::zone::{HealthView, Pick, Zone};

/// The answer to one question, as record sections.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'z> {
    /// The response code (NOERROR for NODATA too).
    pub rcode: ResponseCode,
    /// The AA bit: set on every answer from inside the zone.
    pub authoritative: bool,
    /// The answer section.
    pub answers: &'z [Record],
    /// The authority section (the SOA of a negative answer).
    pub authorities: &'z [Record],
    /// The additional section (glue of the apex NS).
    pub additionals: &'z [Record],
    /// The index of the endpoint drawn, if one was (for its answer counter).
    pub endpoint: Option<u32>,
    /// A health-view TXT answer the general path must render (it shows ages).
    pub health: Option<&'z HealthView>,
    /// Weighted and Priority: the endpoint record drawn (`answers` is empty then).
    pub picked: Option<(&'z Pick, usize)>,
    /// MultiValue: the endpoint records drawn (answered after `answers`, which is empty then).
    pub drawn: Option<(&'z Pick, Drawn)>,
}

impl<'z> Answer<'z> {
    /// The sections of `decision`.
    pub fn of(zone: &'z Zone, decision: Decision<'z>) -> Self {
        let mut a = Self {
            rcode: decision.rcode(),
            authoritative: decision.authoritative(),
            answers: &[],
            authorities: &[],
            additionals: &[],
            endpoint: None,
            health: None,
            picked: None,
            drawn: None,
        };
        if decision.negative() {
            a.authorities = &zone.soa_negative.records;
        }
        match decision {
            Decision::Records { answer, additional } => {
                a.answers = &answer.records;
                a.additionals = additional.map_or(&[], |r| &r.records);
            }
            Decision::Endpoint { pick, index } => {
                a.picked = Some((pick, index));
                a.endpoint = Some(pick.endpoints()[index]);
            }
            Decision::Endpoints { pick, drawn, .. } => a.drawn = Some((pick, drawn)),
            Decision::HealthView(view) => a.health = Some(view),
            Decision::Refused | Decision::NxDomain | Decision::NoData => {}
        }
        a
    }
}

impl<'z> Answer<'z> {
    /// The answer section's records, owned by `owner`: `answers`, then the
    /// endpoint record(s) drawn (decoded from their wire form).
    pub fn records<'a>(&self, owner: &'a Name) -> impl Iterator<Item = Record> + 'a
    where
        'z: 'a,
    {
        let at_owner = move |r: &Record| Record::from_rdata(owner.clone(), r.ttl, r.data.clone());
        let picked = self.picked.map(move |(pick, i)| pick.record(i, owner));
        let drawn = self.drawn.map(move |(pick, drawn)| {
            (0..drawn.len()).map(move |n| pick.record(usize::from(drawn.as_slice()[n]), owner))
        });
        self.answers
            .iter()
            .map(at_owner)
            .chain(picked)
            .chain(drawn.into_iter().flatten())
    }

    /// The endpoints the answer holds (for their answer counters).
    pub fn endpoints(&self) -> impl Iterator<Item = u32> + 'z {
        let drawn = self.drawn.map(|(pick, drawn)| {
            (0..drawn.len()).map(move |n| pick.endpoints()[usize::from(drawn.as_slice()[n])])
        });
        self.endpoint.into_iter().chain(drawn.into_iter().flatten())
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
    let decision = match Key::of(qname) {
        Some(key) => decide(zone, key.as_bytes(), qtype, DNSClass::IN, || trusted),
        None => Decision::Refused,
    };
    Answer::of(zone, decision)
}
