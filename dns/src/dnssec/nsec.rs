//! The NSEC chain over the compiled zone, and which NSECs prove a denial.
//!
//! Names are kept in canonical order (RFC 4034 §6.1: labels compared from the
//! root down, each as lower-case octets). An NXDOMAIN is proven by the NSEC that
//! covers the query name and the one that covers the wildcard at its closest
//! encloser (often the same record); a NODATA by the NSEC at the name itself,
//! whose type bitmap lacks the type asked for. Lookups are binary searches over
//! the names, with no allocation.

use std::cmp::Ordering;

use crate::zone::Rrset;

/// Offsets of the labels of a wire name, and how many there are.
fn label_starts(name: &[u8], starts: &mut [u8; 128]) -> usize {
    let (mut at, mut n) = (0usize, 0usize);
    while let Some(&len) = name.get(at) {
        if len == 0 || n == starts.len() {
            break;
        }
        starts[n] = at as u8;
        n += 1;
        at += 1 + usize::from(len);
    }
    n
}

fn label(name: &[u8], start: u8) -> &[u8] {
    let start = usize::from(start);
    let len = usize::from(name[start]);
    name.get(start + 1..start + 1 + len).unwrap_or(&[])
}

/// Canonical DNS name order of two lower-case wire names.
pub(crate) fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut sa, mut sb) = ([0u8; 128], [0u8; 128]);
    let (na, nb) = (label_starts(a, &mut sa), label_starts(b, &mut sb));
    for i in 1..=na.min(nb) {
        match label(a, sa[na - i]).cmp(label(b, sb[nb - i])) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    na.cmp(&nb)
}

/// One NSEC chain: names in canonical order, each with its signed NSEC.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    pub(crate) names: Box<[Box<[u8]>]>,
    pub(crate) nsec: Box<[Rrset]>,
}

impl Chain {
    fn find(&self, name: &[u8]) -> Result<usize, usize> {
        self.names.binary_search_by(|n| canonical_cmp(n, name))
    }

    /// The NSEC at `name`, if the chain holds the name.
    pub(crate) fn at(&self, name: &[u8]) -> Option<&Rrset> {
        self.find(name).ok().map(|i| &self.nsec[i])
    }

    /// Index of the NSEC whose owner is `name` or covers it.
    fn covering(&self, name: &[u8]) -> usize {
        match self.find(name) {
            Ok(i) => i,
            // Names in the zone sort after the apex (index 0), so i >= 1.
            Err(i) => i.saturating_sub(1),
        }
    }

    /// The NSECs that prove `qname` (in the zone, not in the chain) does not
    /// exist: the one covering it, and the one covering `*.<closest encloser>`
    /// unless that is the same record.
    pub(crate) fn nxdomain(&self, qname: &[u8]) -> (Option<&Rrset>, Option<&Rrset>) {
        if self.names.is_empty() {
            return (None, None);
        }
        let first = self.covering(qname);
        // The closest encloser: the longest ancestor of qname that exists.
        let mut at = 0usize;
        let mut encloser: &[u8] = &[0];
        while let Some(&len) = qname.get(at) {
            if len == 0 {
                break;
            }
            at += 1 + usize::from(len);
            let ancestor = &qname[at..];
            if self.find(ancestor).is_ok() {
                encloser = ancestor;
                break;
            }
        }
        let mut wildcard = [0u8; 256];
        let len = encloser.len() + 2;
        if len > wildcard.len() {
            return (Some(&self.nsec[first]), None);
        }
        wildcard[0] = 1;
        wildcard[1] = b'*';
        wildcard[2..len].copy_from_slice(encloser);
        let second = self.covering(&wildcard[..len]);
        let second = (second != first).then(|| &self.nsec[second]);
        (Some(&self.nsec[first]), second)
    }
}

/// The NSEC type bitmap (RFC 4034 §4.1.2) of `types`.
pub(crate) fn type_bitmap(types: &mut Vec<u16>) -> Vec<u8> {
    types.sort_unstable();
    types.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < types.len() {
        let window = (types[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut used = 0;
        while i < types.len() && (types[i] >> 8) as u8 == window {
            let low = (types[i] & 0xFF) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            used = low / 8 + 1;
            i += 1;
        }
        out.push(window);
        out.push(used as u8);
        out.extend_from_slice(&bits[..used]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for l in s.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
            out.push(l.len() as u8);
            out.extend_from_slice(l.as_bytes());
        }
        out.push(0);
        out
    }

    #[test]
    fn dnssec_canonical_order_is_rfc_4034_section_6_1() {
        // The example list of RFC 4034 §6.1 (lower case), in order.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "z.a.example.",
            "zabc.a.example.",
            "z.example.",
            "*.z.example.",
            "\u{1}.z.example.",
        ];
        // "\001" sorts before '*' (0x2a): the RFC's list has it after because it
        // writes "\200" (0x80); check the rest pairwise and the escape separately.
        for pair in names[..7].windows(2) {
            assert_eq!(
                canonical_cmp(&w(pair[0]), &w(pair[1])),
                Ordering::Less,
                "{} < {}",
                pair[0],
                pair[1]
            );
        }
        let mut high = w("z.example.");
        high.splice(0..0, [1u8, 0x80]);
        assert_eq!(canonical_cmp(&w("*.z.example."), &high), Ordering::Less);
    }

    #[test]
    fn dnssec_type_bitmap_matches_rfc_4034_section_4_3() {
        // A MX RRSIG NSEC TYPE1234 → the RFC's example bitmap.
        let mut types = vec![1, 15, 46, 47, 1234];
        assert_eq!(
            type_bitmap(&mut types),
            vec![
                0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20
            ]
        );
    }

    #[test]
    fn dnssec_nxdomain_proof_covers_name_and_wildcard() {
        let names = ["tm.test.", "a.tm.test.", "x.a.tm.test.", "m.tm.test."];
        let mut sorted: Vec<Vec<u8>> = names.iter().map(|n| w(n)).collect();
        sorted.sort_by(|a, b| canonical_cmp(a, b));
        let chain = Chain {
            names: sorted
                .iter()
                .map(|n| n.clone().into_boxed_slice())
                .collect(),
            nsec: sorted.iter().map(|_| Rrset::default()).collect(),
        };
        let index = |r: Option<&Rrset>| {
            r.map(|r| chain.nsec.iter().position(|n| std::ptr::eq(n, r)).unwrap())
        };
        // b.tm.test: covered by a.tm.test's successor x.a.tm.test? No: order is
        // tm, a, x.a, m. b sorts between x.a and m; wildcard *.tm.test sorts
        // right after tm.test (covered by tm.test's NSEC).
        let (first, second) = chain.nxdomain(&w("b.tm.test."));
        assert_eq!(index(first), Some(2));
        assert_eq!(index(second), Some(0));
        // y.a.tm.test: covered by x.a.tm.test; encloser a.tm.test, *.a covered by a.
        let (first, second) = chain.nxdomain(&w("y.a.tm.test."));
        assert_eq!(index(first), Some(2));
        assert_eq!(index(second), Some(1));
        assert!(chain.at(&w("m.tm.test.")).is_some());
        assert!(chain.at(&w("b.tm.test.")).is_none());
    }
}
