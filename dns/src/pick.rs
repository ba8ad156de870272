//! One answer set of endpoint records, in as few allocations as it can be.
//!
//! A 100k-profile zone holds about 400,000 of these (a profile's own set and
//! one per member cluster), most with one or three records. So a [`Pick`]
//! keeps its records back to back in one buffer, their endpoints, weights and
//! offsets in one array of `u32`, and builds an alias table only when there is
//! a choice to make (more than one record); the RRSIGs of a signed zone sit
//! behind one pointer that unsigned zones leave empty.

use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use crate::multivalue::Subsets;
use crate::sampler::Sampler;
use crate::wire;
use crate::zone::Rrset;

/// Records, the weighted sampler that chooses among them, and per record the
/// endpoint it came from. Opaque outside the crate. For a Priority profile it
/// holds only the endpoints of the best priority available (chosen at compile
/// time, so a query never looks at priorities).
#[derive(Debug)]
pub struct Pick {
    /// Each record in wire form, owner pointing at the question, back to
    /// back: the only form kept (the general path and signing decode one when
    /// they need it, see [`Pick::record`]).
    wire: Box<[u8]>,
    /// `len` endpoint indices (into `Zone::endpoints`), then `len` weights,
    /// then `len` offsets of the records in `wire`.
    columns: Box<[u32]>,
    /// The alias table, when there are two records or more (one record is
    /// drawn whenever its weight is not zero).
    sampler: Option<Sampler>,
    /// Σ weights (for MultiValue draws).
    pub(crate) total: u64,
    /// Records per answer: 1 (one drawn by weight) or a MultiValue profile's
    /// `maxReturn` (that many distinct ones, see [`crate::multivalue`]).
    pub(crate) max_return: u8,
    /// What signing added, when the zone is signed.
    pub(crate) signed: Option<Box<PickSigs>>,
}

/// The RRSIGs of a [`Pick`] on a signed zone.
#[derive(Debug, Default)]
pub(crate) struct PickSigs {
    /// Per record, its RRSIGs (owner = the question); empty for MultiValue.
    pub(crate) sigs: Box<[Rrset]>,
    /// MultiValue: the signed subsets DO=1 queries get.
    pub(crate) subsets: Option<Box<Subsets>>,
}

impl Pick {
    /// `(record, weight, endpoint index)` entries, answered `max_return` at a time.
    pub(crate) fn new(entries: Vec<(Record, u32, u32)>, max_return: u8) -> Self {
        let n = entries.len();
        let mut columns = vec![0u32; 3 * n];
        let mut bytes = Vec::new();
        for (i, (r, w, e)) in entries.iter().enumerate() {
            columns[i] = *e;
            columns[n + i] = *w;
            columns[2 * n + i] = bytes.len() as u32;
            bytes.extend_from_slice(
                &wire::record(r, true).expect("endpoint records are A, AAAA or CNAME"),
            );
        }
        let weights = &columns[n..2 * n];
        Self {
            sampler: if n > 1 { Sampler::new(weights) } else { None },
            total: weights.iter().map(|&w| u64::from(w)).sum(),
            max_return: max_return.max(1),
            wire: bytes.into_boxed_slice(),
            columns: columns.into_boxed_slice(),
            signed: None,
        }
    }

    /// How many records it holds.
    pub(crate) fn len(&self) -> usize {
        self.columns.len() / 3
    }

    /// Per record, its endpoint's index in `Zone::endpoints`.
    pub(crate) fn endpoints(&self) -> &[u32] {
        &self.columns[..self.len()]
    }

    /// Per record, its weight.
    pub(crate) fn weights(&self) -> &[u32] {
        let n = self.len();
        &self.columns[n..2 * n]
    }

    /// Record `index` in wire form (owner = a pointer to the question).
    pub(crate) fn wire(&self, index: usize) -> &[u8] {
        let n = self.len();
        let start = self.columns[2 * n + index] as usize;
        let end = match index + 1 {
            next if next < n => self.columns[2 * n + next] as usize,
            _ => self.wire.len(),
        };
        &self.wire[start..end]
    }

    /// Record `index` with owner `owner`, decoded from its wire form (the
    /// rdata of endpoint records holds no compression pointers).
    pub(crate) fn record(&self, index: usize, owner: &Name) -> Record {
        let w = self.wire(index);
        let rtype = RecordType::from(u16::from_be_bytes([w[2], w[3]]));
        let ttl = u32::from_be_bytes([w[6], w[7], w[8], w[9]]);
        let rdata = &w[12..];
        let mut decoder = BinDecoder::new(rdata);
        let data = RData::read(&mut decoder, rtype, Restrict::new(rdata.len() as u16))
            .expect("wire form written from an RData");
        Record::from_rdata(owner.clone(), ttl, data)
    }

    /// The type of record `index`.
    pub(crate) fn record_type(&self, index: usize) -> RecordType {
        let w = self.wire(index);
        RecordType::from(u16::from_be_bytes([w[2], w[3]]))
    }

    /// The index of one record drawn by weight, or `None` when nothing can
    /// be drawn (no records, or every weight zero).
    pub(crate) fn pick_index(&self) -> Option<usize> {
        match &self.sampler {
            Some(s) => Some(s.pick()),
            None => (self.len() == 1 && self.total > 0).then_some(0),
        }
    }

    /// The RRSIGs of record `index`, when the zone is signed.
    pub(crate) fn sigs(&self, index: usize) -> Option<&Rrset> {
        self.signed.as_deref()?.sigs.get(index)
    }

    /// MultiValue on a signed zone: the signed subsets.
    pub(crate) fn subsets(&self) -> Option<&Subsets> {
        self.signed.as_deref()?.subsets.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, CNAME};

    #[test]
    fn records_read_back_with_their_endpoints_and_weights() {
        let owner = Name::from_ascii("p.tm.test.").unwrap();
        let a = Record::from_rdata(owner.clone(), 60, RData::A(A::new(192, 0, 2, 1)));
        let host = Name::from_ascii("svc.example.").unwrap();
        let c = Record::from_rdata(owner.clone(), 30, RData::CNAME(CNAME(host)));
        let p = Pick::new(vec![(a.clone(), 5, 7), (c.clone(), 0, 9)], 1);
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p.endpoints(), p.weights(), p.total),
            (&[7, 9][..], &[5, 0][..], 5)
        );
        assert_eq!(p.record(0, &owner), a);
        assert_eq!(p.record(1, &owner), c);
        assert_eq!(p.wire(1), &*wire::record(&c, true).unwrap());
        assert_eq!(p.record_type(1), RecordType::CNAME);
        for _ in 0..100 {
            assert_eq!(p.pick_index(), Some(0), "a zero weight is never drawn");
        }
        let one = Pick::new(vec![(a.clone(), 3, 1)], 1);
        assert_eq!(one.pick_index(), Some(0));
        assert_eq!(Pick::new(vec![(a, 0, 1)], 1).pick_index(), None);
        assert_eq!(Pick::new(Vec::new(), 1).pick_index(), None);
    }
}
