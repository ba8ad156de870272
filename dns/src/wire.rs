//! Precompiled wire form of answer records, for the UDP fast path.
//!
//! Every record a fast answer can carry is encoded once, at compile time. Records
//! owned by the query name start with a compression pointer to the question
//! (offset 12), so the answer repeats the query's letter case without copying
//! it.
//!
//! The apex records (SOA, NS, glue) also come in a second, compressed form:
//! every name at or below the apex ends in a pointer to the apex's labels inside
//! the question, patched in at send time (the question's length varies). The
//! fast path uses that form only when those labels of the question are already
//! lower case, so the names read back exactly as in the plain form; that is
//! also when hickory's encoder (the general path) can compress against the
//! question. Otherwise the plain form, with names in full, goes out.

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

/// The parent of a lower-case wire-form name (its first label removed), or
/// `None` for the root.
pub(crate) fn parent(name: &[u8]) -> Option<&[u8]> {
    match name.first() {
        Some(&len) if len > 0 => name.get(1 + usize::from(len)..),
        _ => None,
    }
}

/// Where names at or below `apex` end in a pointer to the apex (compressed
/// form), and the positions of those pointers.
struct Compress<'a> {
    apex: &'a Name,
    patches: Vec<u16>,
}

/// Appends `name`: in full, or (compressed form, `name` at or below the apex)
/// its labels above the apex and a pointer placeholder recorded in `patches`.
fn push_name_in(out: &mut Vec<u8>, name: &Name, compress: &mut Option<Compress<'_>>) {
    match compress {
        Some(c) if c.apex.zone_of(name) => {
            let above = usize::from(name.num_labels() - c.apex.num_labels());
            for label in name.iter().take(above) {
                out.push(label.len() as u8);
                out.extend(label.iter().map(u8::to_ascii_lowercase));
            }
            c.patches.push(out.len() as u16);
            out.extend_from_slice(&[0xC0, 0x00]);
        }
        _ => push_name(out, name),
    }
}

/// Appends the RDATA of the record types a compiled zone holds; `false` for others.
fn push_rdata(out: &mut Vec<u8>, data: &RData, compress: &mut Option<Compress<'_>>) -> bool {
    match data {
        RData::A(a) => out.extend_from_slice(&a.0.octets()),
        RData::AAAA(a) => out.extend_from_slice(&a.0.octets()),
        RData::CNAME(n) => push_name_in(out, &n.0, compress),
        RData::NS(n) => push_name_in(out, &n.0, compress),
        RData::SOA(soa) => {
            push_name_in(out, &soa.mname, compress);
            push_name_in(out, &soa.rname, compress);
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
        RData::TXT(txt) => {
            for s in txt.txt_data.iter() {
                out.push(s.len() as u8);
                out.extend_from_slice(s);
            }
        }
        // DNSSEC records (DNSKEY, CDS, CDNSKEY, NSEC, RRSIG) are held as raw RDATA.
        RData::Unknown { rdata, .. } => out.extend_from_slice(&rdata.anything),
        _ => return false,
    }
    true
}

/// The canonical RDATA of `data` (RFC 4034 §6.2: names uncompressed, lower
/// case), for signing; `None` for types a compiled zone does not hold.
pub(crate) fn canonical_rdata(data: &RData) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    push_rdata(&mut out, data, &mut None).then_some(out)
}

/// Appends `record` to `out`; `at_question` writes the owner as a pointer to
/// the question. Returns `false` (and appends nothing) for a type the fast
/// path does not serve.
fn push_record(
    out: &mut Vec<u8>,
    record: &Record,
    at_question: bool,
    compress: &mut Option<Compress<'_>>,
) -> bool {
    let (start, patches) = (out.len(), compress.as_ref().map_or(0, |c| c.patches.len()));
    if at_question {
        out.extend_from_slice(&QUESTION_POINTER);
    } else {
        push_name_in(out, &record.name, compress);
    }
    out.extend_from_slice(&u16::from(record.record_type()).to_be_bytes());
    out.extend_from_slice(&u16::from(record.dns_class).to_be_bytes());
    out.extend_from_slice(&record.ttl.to_be_bytes());
    let rdlength_at = out.len();
    out.extend_from_slice(&[0, 0]);
    if !push_rdata(out, &record.data, compress) {
        out.truncate(start);
        if let Some(c) = compress {
            c.patches.truncate(patches);
        }
        return false;
    }
    let rdlength = (out.len() - rdlength_at - 2) as u16;
    out[rdlength_at..rdlength_at + 2].copy_from_slice(&rdlength.to_be_bytes());
    true
}

/// Encodes `record`; `at_question` writes the owner as a pointer to the question.
pub(crate) fn record(record: &Record, at_question: bool) -> Option<Box<[u8]>> {
    let mut out = Vec::with_capacity(64);
    push_record(&mut out, record, at_question, &mut None).then(|| out.into_boxed_slice())
}

/// Several records encoded back to back, with their count: the plain form, and
/// for apex records also the compressed form with its pointer positions.
#[derive(Debug, Default)]
pub(crate) struct WireSet {
    pub(crate) bytes: Box<[u8]>,
    pub(crate) count: u16,
    /// The compressed form; empty when there is none (then `bytes` is used).
    pub(crate) compressed: Box<[u8]>,
    /// Offsets in `compressed` of the apex pointers to patch.
    pub(crate) patches: Box<[u16]>,
}

impl WireSet {
    /// The records in plain form only.
    pub(crate) fn new(records: &[Record], at_question: bool) -> Self {
        let mut bytes = Vec::new();
        for r in records {
            push_record(&mut bytes, r, at_question, &mut None);
        }
        Self {
            bytes: bytes.into_boxed_slice(),
            count: records.len() as u16,
            ..Self::default()
        }
    }

    /// The records in plain and in compressed form (names at or below `apex`
    /// point to the apex in the question).
    pub(crate) fn with_compression(records: &[Record], at_question: bool, apex: &Name) -> Self {
        let mut compressed = Vec::new();
        let mut compress = Some(Compress {
            apex,
            patches: Vec::new(),
        });
        for r in records {
            push_record(&mut compressed, r, at_question, &mut compress);
        }
        Self {
            compressed: compressed.into_boxed_slice(),
            patches: compress.map(|c| c.patches).unwrap_or_default().into(),
            ..Self::new(records, at_question)
        }
    }
}
