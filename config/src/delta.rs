//! A list of byte strings stored as differences from the one before.
//!
//! What the [`crate::doc_cache::DocCache`] keeps between loads is 600,000 small
//! records at 100k profiles (an upstream object's compact JSON each, and each
//! Service entry of the settings document), and consecutive records of a kind
//! differ in a few names and numbers: `{"name":"s41",…}` then `{"name":"s42",…}`.
//! So a record is cut into pieces after each `"`, and each piece is written as
//! "the same as the last record's piece" (runs of them in one byte) or as that
//! piece's common prefix and suffix lengths plus the bytes between: a few bytes
//! a record instead of a hundred. Every [`GROUP`]th record is written whole, so
//! reading one starts at most that many records back; reading in order (as a
//! load walks its documents) decodes each record once.

/// Records between two written whole.
const GROUP: usize = 64;

/// The records, as differences (see the module doc).
#[derive(Clone, Debug, Default)]
pub(crate) struct Deltas {
    bytes: Vec<u8>,
    /// Where each group of [`GROUP`] records starts in `bytes`.
    groups: Vec<u32>,
    len: usize,
    /// The last record pushed (while pushing).
    last: Vec<u8>,
    /// Which record of the list copied from ([`Deltas::push_from`]) the last
    /// record pushed was.
    last_from: Option<usize>,
}

fn pieces(record: &[u8]) -> impl Iterator<Item = &[u8]> {
    record.split_inclusive(|b| *b == b'"')
}

fn put(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn get(bytes: &[u8], at: &mut usize) -> Option<usize> {
    let mut n = 0usize;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        n |= usize::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl Deltas {
    /// How many records.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes held (after [`Deltas::finish`]).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.capacity() + self.groups.capacity() * 4
    }

    /// Appends a record.
    pub(crate) fn push(&mut self, record: &[u8]) {
        if self.len.is_multiple_of(GROUP) {
            self.groups
                .push(u32::try_from(self.bytes.len()).unwrap_or(u32::MAX));
            self.last.clear();
        }
        let out = &mut self.bytes;
        put(out, pieces(record).count());
        let mut was = pieces(&self.last);
        let mut same = 0;
        for piece in pieces(record) {
            let old = was.next().unwrap_or_default();
            if piece == old {
                same += 1;
                continue;
            }
            if same > 0 {
                put(out, same << 1);
                same = 0;
            }
            let prefix = common_prefix(old, piece);
            let suffix = old[prefix..]
                .iter()
                .rev()
                .zip(piece[prefix..].iter().rev())
                .take_while(|(x, y)| x == y)
                .count();
            let mid = &piece[prefix..piece.len() - suffix];
            put(out, prefix << 1 | 1);
            put(out, suffix);
            put(out, mid.len());
            out.extend_from_slice(mid);
        }
        if same > 0 {
            put(out, same << 1);
        }
        drop(was);
        self.last.clear();
        self.last.extend_from_slice(record);
        self.len += 1;
        self.last_from = None;
    }

    /// Appends record `i` of the list `old` reads; `false` if there is none.
    /// Where this list is where `old`'s was (the same place in a group, after
    /// the same record), its bytes are copied as they are.
    pub(crate) fn push_from(&mut self, old: &mut Reader<'_>, i: usize) -> bool {
        if old.get(i).is_none() {
            return false;
        }
        let aligned = self.len % GROUP == i % GROUP
            && (i.is_multiple_of(GROUP) || self.last_from == Some(i.wrapping_sub(1)));
        if aligned {
            if self.len.is_multiple_of(GROUP) {
                self.groups
                    .push(u32::try_from(self.bytes.len()).unwrap_or(u32::MAX));
            }
            self.bytes
                .extend_from_slice(&old.deltas.bytes[old.raw.clone()]);
            self.last.clear();
            self.last.extend_from_slice(&old.record);
            self.len += 1;
        } else {
            self.push(&old.record);
        }
        self.last_from = Some(i);
        true
    }

    /// Done pushing: spare capacity is given back.
    pub(crate) fn finish(&mut self) {
        self.bytes.shrink_to_fit();
        self.groups.shrink_to_fit();
        self.last = Vec::new();
    }
}

/// Reads records of [`Deltas`], fastest in increasing order.
pub(crate) struct Reader<'a> {
    deltas: &'a Deltas,
    /// The record `next - 1`, and where each of its pieces ends.
    record: Vec<u8>,
    ends: Vec<usize>,
    /// The buffers of the record before (reused for the next one).
    spare: Vec<u8>,
    spare_ends: Vec<usize>,
    next: usize,
    at: usize,
    /// Where the record `next - 1` is written in the list.
    raw: std::ops::Range<usize>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(deltas: &'a Deltas) -> Self {
        Self {
            deltas,
            record: Vec::new(),
            ends: Vec::new(),
            spare: Vec::new(),
            spare_ends: Vec::new(),
            next: 0,
            at: 0,
            raw: 0..0,
        }
    }

    /// The record `i`; `None` if there is none (or the bytes are not a record).
    pub(crate) fn get(&mut self, i: usize) -> Option<&[u8]> {
        if i >= self.deltas.len {
            return None;
        }
        if self.next.checked_sub(1) == Some(i) {
            return Some(&self.record);
        }
        if i < self.next || i / GROUP > self.next / GROUP {
            let g = i / GROUP;
            self.at = *self.deltas.groups.get(g)? as usize;
            self.next = g * GROUP;
        }
        while self.next <= i {
            if self.step().is_none() {
                // Read from a group's start next time.
                self.next = usize::MAX;
                return None;
            }
        }
        Some(&self.record)
    }

    /// Decodes the record at `self.at`.
    fn step(&mut self) -> Option<()> {
        let bytes = &self.deltas.bytes;
        let start = self.at;
        let at = &mut self.at;
        let whole = self.next.is_multiple_of(GROUP);
        let count = get(bytes, at)?;
        let mut record = std::mem::take(&mut self.spare);
        let mut ends = std::mem::take(&mut self.spare_ends);
        record.clear();
        ends.clear();
        let old = |k: usize| -> &[u8] {
            if whole || k >= self.ends.len() {
                return &[];
            }
            let start = if k == 0 { 0 } else { self.ends[k - 1] };
            &self.record[start..self.ends[k]]
        };
        while ends.len() < count {
            let op = get(bytes, at)?;
            if op & 1 == 0 {
                for _ in 0..op >> 1 {
                    record.extend_from_slice(old(ends.len()));
                    ends.push(record.len());
                }
                continue;
            }
            let piece = old(ends.len());
            let prefix = op >> 1;
            let suffix = get(bytes, at)?;
            let mid = get(bytes, at)?;
            let tail = piece.len().checked_sub(suffix)?;
            record.extend_from_slice(piece.get(..prefix)?);
            record.extend_from_slice(bytes.get(*at..at.checked_add(mid)?)?);
            *at += mid;
            record.extend_from_slice(piece.get(tail..)?);
            ends.push(record.len());
        }
        if ends.len() != count {
            return None;
        }
        self.raw = start..self.at;
        self.spare = std::mem::replace(&mut self.record, record);
        self.spare_ends = std::mem::replace(&mut self.ends, ends);
        self.next += 1;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = (0..300)
            .map(|i| {
                format!(r#"[0,null,"s{i}","bench",null,[],{{"profile":{{"name":"s{i}"}},"backend":{{"name":"b{}"}},"weight":{}}}]"#, i * 7, i % 5)
                    .into_bytes()
            })
            .collect();
        out.insert(5, Vec::new());
        out.insert(9, br#"""""\"odd\" "#.to_vec());
        out.insert(70, "é\"ü\"".as_bytes().to_vec());
        out
    }

    #[test]
    fn every_record_reads_back_in_any_order() {
        let all = records();
        let mut d = Deltas::default();
        for r in &all {
            d.push(r);
        }
        d.finish();
        assert_eq!(d.len(), all.len());
        let mut r = Reader::new(&d);
        for (i, want) in all.iter().enumerate() {
            assert_eq!(r.get(i), Some(&want[..]), "{i}");
        }
        let mut r = Reader::new(&d);
        for i in [250, 3, 3, 64, 63, 200, 201, 0, 302, 129, 128] {
            assert_eq!(r.get(i), Some(&all[i][..]), "{i}");
        }
        assert_eq!(r.get(all.len()), None);
        // Copied in order, with one record left out and one added: the same
        // records, most bytes copied as they are.
        let mut copy = Deltas::default();
        let mut r = Reader::new(&d);
        let mut want = Vec::new();
        for (i, record) in all.iter().enumerate() {
            if i == 100 {
                copy.push(b"new");
                want.push(b"new".to_vec());
            }
            if i != 200 {
                assert!(copy.push_from(&mut r, i));
                want.push(record.clone());
            }
        }
        assert!(!copy.push_from(&mut r, all.len()));
        copy.finish();
        let mut r = Reader::new(&copy);
        for (i, w) in want.iter().enumerate() {
            assert_eq!(r.get(i), Some(&w[..]), "{i}");
        }
        assert_eq!(copy.len(), want.len());
        // A few bytes a record, not a hundred.
        assert!(d.bytes() < all.len() * 30, "{} bytes", d.bytes());
    }
}
