//! Precompiled wire form of answer records, for the UDP fast path.
//!
//! Every record a fast answer can carry is encoded once, at compile time. Records
//! owned by the query name start with a compression pointer to the question
//! (offset 12), so the answer repeats the query's letter case without copying
//! it; other owners and all names inside RDATA are written in full (no
//! compression), which any parser accepts.

use hickory_proto::rr::{Name, RData, Record};

/// Pointer to the question name, which always starts at offset 12.
const QUESTION_POINTER: [u8; 2] = [0xC0, 0x0C];

/// Appends `name` in wire form (labels as stored, lower case in a compiled zone).
pub(crate) fn push_name(out: &mut Vec<u8>, name: &Name) {
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
}

/// The lower-case wire form of `name`, used as the zone's lookup key.
pub(crate) fn key(name: &Name) -> Box<[u8]> {
    let mut out = Vec::with_capacity(name.len() + 2);
    push_name(&mut out, name);
    out.into_boxed_slice()
}

/// RDATA of the record types a compiled zone holds; `None` for others.
fn rdata(data: &RData) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match data {
        RData::A(a) => out.extend_from_slice(&a.0.octets()),
        RData::AAAA(a) => out.extend_from_slice(&a.0.octets()),
        RData::CNAME(n) => push_name(&mut out, &n.0),
        RData::NS(n) => push_name(&mut out, &n.0),
        RData::SOA(soa) => {
            push_name(&mut out, &soa.mname);
            push_name(&mut out, &soa.rname);
            for v in [
                soa.serial,
                soa.refresh as u32,
                soa.retry as u32,
                soa.expire as u32,
                soa.minimum,
            ] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        _ => return None,
    }
    Some(out)
}

/// Encodes `record`; `at_question` writes the owner as a pointer to the question.
pub(crate) fn record(record: &Record, at_question: bool) -> Option<Box<[u8]>> {
    let rdata = rdata(&record.data)?;
    let mut out = Vec::with_capacity(rdata.len() + 32);
    if at_question {
        out.extend_from_slice(&QUESTION_POINTER);
    } else {
        push_name(&mut out, &record.name);
    }
    out.extend_from_slice(&u16::from(record.record_type()).to_be_bytes());
    out.extend_from_slice(&u16::from(record.dns_class).to_be_bytes());
    out.extend_from_slice(&record.ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
    Some(out.into_boxed_slice())
}

/// Several records encoded back to back, with their count.
#[derive(Debug, Default)]
pub(crate) struct WireSet {
    pub(crate) bytes: Box<[u8]>,
    pub(crate) count: u16,
}

impl WireSet {
    pub(crate) fn new(records: &[Record], at_question: bool) -> Self {
        let mut bytes = Vec::new();
        for r in records {
            if let Some(w) = record(r, at_question) {
                bytes.extend_from_slice(&w);
            }
        }
        Self {
            bytes: bytes.into_boxed_slice(),
            count: records.len() as u16,
        }
    }
}
