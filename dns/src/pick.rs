//! One answer set of endpoint records, in as few allocations as it can be.
//!
//! A 100k-profile zone holds about 400,000 of these (a profile's own set and
//! one per member cluster), most with one or three records. So a [`Pick`]
//! keeps its records back to back in one buffer, their endpoints, weights,
//! offsets and alias table in one array of `u32` (the table only when there is
//! a choice to make: more than one record); the RRSIGs of a signed zone sit
//! behind one pointer that unsigned zones leave empty. A profile's per-cluster
//! names share one pick, each a [`Range`] of it.

use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use crate::multivalue::Subsets;
use crate::sampler;
use crate::wire;
use crate::zone::Rrset;

/// Records, the weighted sampler that chooses among them, and per record the
/// endpoint it came from. Opaque outside the crate. For a Priority profile it
/// holds only the endpoints of the best priority available (chosen at compile
/// time, so a query never looks at priorities). A profile's per-cluster
/// names share one, each answer set a `Range` of it with its own alias
/// table.
#[derive(Debug, Default)]
pub struct Pick {
    /// One buffer: columns of `len` entries — endpoint positions (see
    /// `Zone::positions`), weights, and past [`WALK`] records the offsets
    /// of the records in the wire bytes; then, when some range has more than
    /// one record and unequal weights (`sampled`), the alias tables
    /// (relative to each range's start: aliases, low and high halves of
    /// thresholds) and Σ weights (low, high); then each record in wire form,
    /// owner pointing at the question, back to back (the only form kept: the
    /// general path and signing decode one when they need it, see
    /// [`Pick::record`]).
    data: Box<[u32]>,
    /// What signing added, when the zone is signed.
    pub(crate) signed: Option<Box<PickSigs>>,
    len: u16,
    /// Records per answer: 1 (one drawn by weight) or a MultiValue profile's
    /// `maxReturn` (that many distinct ones, see [`crate::multivalue`]).
    pub(crate) max_return: u8,
    /// Whether `data` holds alias tables; without them every range's
    /// records weigh the same and are drawn uniformly.
    sampled: bool,
}

/// Some consecutive records of a [`Pick`]: one answer set of a pick that holds
/// several.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) start: u16,
    pub(crate) len: u16,
}

impl Range {
    /// The indices of its records.
    pub(crate) fn indices(self) -> std::ops::Range<usize> {
        usize::from(self.start)..usize::from(self.start) + usize::from(self.len)
    }
}

/// The RRSIGs of a [`Pick`] on a signed zone.
#[derive(Debug, Default)]
pub(crate) struct PickSigs {
    /// Per record, its RRSIGs (owner = the question); empty for MultiValue.
    pub(crate) sigs: Box<[Rrset]>,
    /// MultiValue: the signed subsets DO=1 queries get.
    pub(crate) subsets: Option<Box<Subsets>>,
}

/// `(record, weight, endpoint index)`.
pub(crate) type Entry = (Record, u32, u32);

/// The fixed part of a record in wire form with its owner a pointer: owner
/// (2), type, class, TTL, RDLENGTH; the RDATA follows.
const RECORD_HEADER: usize = 12;

/// Up to this many records a pick keeps no offsets: record `i` is found by
/// stepping over the `i` before it (each says its length).
const WALK: usize = 8;

/// Where the parts of a pick's buffer start.
struct Layout {
    /// The offsets column, past [`WALK`] records.
    offsets: Option<usize>,
    /// The alias tables (aliases, thresholds' low and high halves), then
    /// Σ weights; when sampled.
    alias: Option<usize>,
    /// The wire bytes.
    wire: usize,
}

impl Layout {
    fn of(n: usize, sampled: bool) -> Self {
        let offsets = (n > WALK).then_some(2 * n);
        let after = 2 * n + offsets.map_or(0, |_| n);
        let alias = sampled.then_some(after);
        let wire = after + alias.map_or(0, |_| 3 * n + 2);
        Self {
            offsets,
            alias,
            wire,
        }
    }
}

impl Pick {
    /// `(record, weight, endpoint index)` entries, answered `max_return` at a time.
    pub(crate) fn new(entries: Vec<Entry>, max_return: u8) -> Self {
        let mut pick = Self::grouped(vec![entries]).0;
        pick.max_return = max_return.max(1);
        pick
    }

    /// One pick of several answer sets (each answered one record at a time),
    /// and the range of each.
    pub(crate) fn grouped(groups: Vec<Vec<Entry>>) -> (Self, Vec<Range>) {
        let n: usize = groups.iter().map(Vec::len).sum();
        // Alias tables only when some set has a choice that is not uniform.
        let sampled = groups
            .iter()
            .any(|g| g.len() > 1 && g.iter().any(|e| e.1 != g[0].1));
        let layout = Layout::of(n, sampled);
        let mut data = vec![0u32; layout.wire];
        let mut bytes = Vec::new();
        let mut ranges = Vec::with_capacity(groups.len());
        let mut i = 0;
        for group in &groups {
            let start = i;
            for (r, w, e) in group {
                data[i] = *e;
                data[n + i] = *w;
                if let Some(at) = layout.offsets {
                    data[at + i] = bytes.len() as u32;
                }
                let record = wire::record(r, true).expect("endpoint records are A, AAAA or CNAME");
                debug_assert_eq!(
                    usize::from(u16::from_be_bytes([record[10], record[11]])),
                    record.len() - RECORD_HEADER
                );
                bytes.extend_from_slice(&record);
                i += 1;
            }
            if let (Some(at), true) = (layout.alias, group.len() > 1) {
                if let Some((_, threshold, alias)) = sampler::table(&data[n + start..n + i]) {
                    for (k, (t, a)) in threshold.into_iter().zip(alias).enumerate() {
                        data[at + start + k] = a;
                        data[at + n + start + k] = t as u32;
                        data[at + 2 * n + start + k] = (t >> 32) as u32;
                    }
                }
            }
            ranges.push(Range {
                start: start as u16,
                len: group.len() as u16,
            });
        }
        if let Some(at) = layout.alias {
            let total: u64 = data[n..2 * n].iter().map(|&w| u64::from(w)).sum();
            data[at + 3 * n] = total as u32;
            data[at + 3 * n + 1] = (total >> 32) as u32;
        }
        bytes.resize(bytes.len().next_multiple_of(4), 0);
        data.extend(
            bytes
                .chunks_exact(4)
                .map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]])),
        );
        let pick = Self {
            max_return: 1,
            data: data.into_boxed_slice(),
            signed: None,
            len: n as u16,
            sampled,
        };
        (pick, ranges)
    }

    fn layout(&self) -> Layout {
        Layout::of(self.len(), self.sampled)
    }

    /// Σ weights of the whole pick (for draws).
    pub(crate) fn total(&self) -> u64 {
        match self.layout().alias {
            Some(at) => {
                let at = at + 3 * self.len();
                u64::from(self.data[at]) | (u64::from(self.data[at + 1]) << 32)
            }
            None => self.total_of(self.all()),
        }
    }

    /// How many records it holds.
    pub(crate) fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Per record, its endpoint's position in the zone (see `Zone::positions`).
    pub(crate) fn endpoints(&self) -> &[u32] {
        &self.data[..self.len()]
    }

    /// Per record, its weight.
    pub(crate) fn weights(&self) -> &[u32] {
        let n = self.len();
        &self.data[n..2 * n]
    }

    /// Record `index` in wire form (owner = a pointer to the question).
    pub(crate) fn wire(&self, index: usize) -> &[u8] {
        use zerocopy::IntoBytes;
        let layout = self.layout();
        let bytes = self.data[layout.wire..].as_bytes();
        let length = |at: usize| {
            RECORD_HEADER + usize::from(u16::from_be_bytes([bytes[at + 10], bytes[at + 11]]))
        };
        let start = match layout.offsets {
            Some(at) => self.data[at + index] as usize,
            None => (0..index).fold(0, |at, _| at + length(at)),
        };
        &bytes[start..start + length(start)]
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

    /// The whole pick as one range.
    pub(crate) fn all(&self) -> Range {
        Range {
            start: 0,
            len: self.len,
        }
    }

    /// The index of one record drawn by weight, or `None` when nothing can
    /// be drawn (no records, or every weight zero).
    pub(crate) fn pick_index(&self) -> Option<usize> {
        self.pick_in(self.all(), self.total())
    }

    /// Σ weights of `range`.
    pub(crate) fn total_of(&self, range: Range) -> u64 {
        self.weights()[range.indices()]
            .iter()
            .map(|&w| u64::from(w))
            .sum()
    }

    /// The index of one record of `range` (Σ weights `total`) drawn by
    /// weight, or `None` when nothing can be drawn.
    pub(crate) fn pick_in(&self, range: Range, total: u64) -> Option<usize> {
        let (start, len) = (usize::from(range.start), usize::from(range.len));
        if total == 0 || len == 0 {
            return None;
        }
        if len == 1 {
            return Some(start);
        }
        if !self.sampled {
            // Equal weights (all non-zero, as the total is).
            return Some(start + fastrand::usize(..len));
        }
        let n = self.len();
        let c = &self.data;
        let alias = self
            .layout()
            .alias
            .expect("sampled picks have alias tables");
        let r = fastrand::u64(..len as u64 * total);
        let bucket = |b: usize| {
            let at = alias + start + b;
            let threshold = u64::from(c[at + n]) | (u64::from(c[at + 2 * n]) << 32);
            (threshold, c[at])
        };
        Some(start + sampler::pick_with(r, total, bucket))
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
#[path = "pick_tests.rs"]
mod tests;
