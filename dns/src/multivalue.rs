//! MultiValue answers: up to N distinct endpoints, drawn by weight without
//! replacement.
//!
//! Each draw takes one endpoint with probability weight / (Σ weights not yet
//! drawn), so the first record of an answer is distributed exactly as a
//! Weighted answer, and the order the records go out in is the order they were
//! drawn (a fresh random order per query). A draw is a walk over the weights —
//! O(endpoints × N), N ≤ 8 — with the drawn set in a bitset on the stack: no
//! allocation, no lock; the random source is `fastrand`'s thread-local wyrand,
//! as for Weighted answers.
//!
//! What an answer holds is a set of indices into the profile's [`Pick`]: the
//! records themselves stay precompiled once per endpoint. On a signed zone a
//! DO=1 query cannot get a fresh draw (its RRset would need a signature made
//! per query); it gets one of `SLOTS` (16) subsets drawn the same way when the
//! zone is signed, each signed once (`Subsets`, `signable`).

use crate::decide::Decision;
use crate::zone::{Pick, Rrset, Zone};

/// The most endpoints one MultiValue answer holds (Traffic Manager's `maxReturn` limit).
pub const MAX_RETURN: usize = fleetdns_config::routing::MAX_MAX_RETURN as usize;

/// Entries a drawn set can index (the bitset's size); validation caps a
/// profile's endpoints below it.
const MAX_ENTRIES: usize = 256;
const _: () = assert!(fleetdns_config::limits::MAX_ENDPOINTS_PER_PROFILE <= MAX_ENTRIES);

/// The records drawn for one answer: indices into a [`Pick`], in answer order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drawn {
    len: u8,
    index: [u8; MAX_RETURN],
}

impl Drawn {
    /// The indices, in the order the records are answered.
    pub fn as_slice(&self) -> &[u8] {
        &self.index[..usize::from(self.len)]
    }

    /// How many records were drawn.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether nothing was drawn.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The same records in a random order (Fisher–Yates, on the stack);
    /// `uniform(bound)` returns a uniform integer in `0..bound`.
    pub(crate) fn shuffled(mut self, mut uniform: impl FnMut(u64) -> u64) -> Self {
        for i in (1..self.len()).rev() {
            let j = uniform(i as u64 + 1) as usize;
            self.index.swap(i, j);
        }
        self
    }

    /// The indices in ascending order: the set, whatever the order drawn.
    fn sorted(mut self) -> Self {
        self.index[..usize::from(self.len)].sort_unstable();
        self
    }
}

/// Draws up to `n` distinct indices of `weights` (Σ = `total`) by weight without
/// replacement; `uniform(bound)` returns a uniform integer in `0..bound`. Zero
/// weights are never drawn. `weights.len()` is at most 256.
pub fn draw_with(
    weights: &[u32],
    total: u64,
    n: usize,
    mut uniform: impl FnMut(u64) -> u64,
) -> Drawn {
    let mut out = Drawn {
        len: 0,
        index: [0; MAX_RETURN],
    };
    let mut taken = [0u64; MAX_ENTRIES / 64];
    let mut remaining = total;
    for slot in 0..n.min(MAX_RETURN).min(weights.len()) {
        if remaining == 0 {
            break;
        }
        let mut r = uniform(remaining);
        let mut chosen = None;
        for (i, &w) in weights.iter().enumerate().take(MAX_ENTRIES) {
            if taken[i / 64] & (1 << (i % 64)) != 0 {
                continue;
            }
            let w = u64::from(w);
            if r < w {
                chosen = Some((i, w));
                break;
            }
            r -= w;
        }
        // `r < remaining` = Σ of the weights not taken, so the walk always ends in one.
        let Some((i, w)) = chosen else { break };
        taken[i / 64] |= 1 << (i % 64);
        remaining -= w;
        out.index[slot] = i as u8;
        out.len += 1;
    }
    out
}

/// The decision a query with the DO bit gets from a signed zone. A MultiValue
/// answer's records form one RRset, and a signature over a subset drawn per
/// query would have to be made per query, which fleetdns never does (see
/// [`crate::dnssec`]). Such a query gets one of the pick's precomputed, signed
/// subsets instead ([`Subsets`]), chosen uniformly among its [`SLOTS`] slots,
/// its records in a fresh random order (the RRSIG covers the RRset whatever
/// the order). A pick without subsets (not signed) gets the first record drawn
/// alone with its own RRSIG.
pub(crate) fn signable<'z>(zone: &Zone, decision: Decision<'z>, dnssec_ok: bool) -> Decision<'z> {
    match decision {
        Decision::Endpoints { pick, drawn, .. } if dnssec_ok && zone.dnssec.is_some() => {
            match pick.subsets() {
                Some(s) => {
                    let subset = &s.subsets[usize::from(s.slots[fastrand::usize(..SLOTS)])];
                    Decision::Endpoints {
                        pick,
                        drawn: subset.drawn.shuffled(|bound| fastrand::u64(..bound)),
                        signed: Some(&subset.sig),
                    }
                }
                None => Decision::Endpoint {
                    pick,
                    index: usize::from(drawn.as_slice()[0]),
                },
            }
        }
        other => other,
    }
}

/// Draws the records of one MultiValue answer from `pick`; `None` when the set is empty.
pub(crate) fn draw(pick: &Pick) -> Option<Drawn> {
    let drawn = draw_with(
        pick.weights(),
        pick.total(),
        usize::from(pick.max_return),
        |bound| fastrand::u64(..bound),
    );
    (!drawn.is_empty()).then_some(drawn)
}

/// Slots of a pick's signed subsets: a DO=1 query takes one uniformly, so a
/// subset drawn twice at signing time is served twice as often.
pub(crate) const SLOTS: usize = 16;

/// A MultiValue pick's precomputed subsets for DO=1 queries on a signed zone:
/// [`SLOTS`] draws made at signing time, each distinct set once with its RRSIG,
/// and per slot the set it drew.
#[derive(Debug)]
pub(crate) struct Subsets {
    pub(crate) subsets: Box<[Subset]>,
    pub(crate) slots: [u8; SLOTS],
}

/// One signed subset: its records (indices into the pick) and the RRSIGs over
/// them as one RRset (owner = the question).
#[derive(Debug)]
pub(crate) struct Subset {
    pub(crate) drawn: Drawn,
    pub(crate) sig: Rrset,
}

/// The seed of a pick's subset draws: FNV-1a over the owner (lower-case wire
/// form) and each record's wire form and weight, so a recompile with the same
/// endpoints draws the same subsets (their signatures come from the cache) and
/// replicas fed the same input serve the same ones.
pub(crate) fn seed(owner: &[u8], pick: &Pick) -> u64 {
    let mut h = crate::fnv::Fnv::default();
    h.eat(owner);
    h.eat(&[pick.max_return]);
    for (i, w) in pick.weights().iter().enumerate() {
        h.eat(pick.wire(i));
        h.eat(&w.to_be_bytes());
    }
    h.finish()
}

/// [`SLOTS`] subsets of `pick`, each drawn by weight without replacement from a
/// generator seeded with `seed`: the distinct sets (records in ascending index
/// order) in the order first drawn, and per slot the set it holds. One set
/// when the pick has no more records than `max_return`; none when it is empty.
pub(crate) fn sample_subsets(pick: &Pick, seed: u64) -> (Vec<Drawn>, [u8; SLOTS]) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut sets: Vec<Drawn> = Vec::new();
    let mut slots = [0u8; SLOTS];
    for slot in &mut slots {
        let n = usize::from(pick.max_return);
        let d = draw_with(pick.weights(), pick.total(), n, |b| rng.u64(..b)).sorted();
        if d.is_empty() {
            return (Vec::new(), slots);
        }
        *slot = match sets.iter().position(|s| *s == d) {
            Some(at) => at as u8,
            None => {
                sets.push(d);
                (sets.len() - 1) as u8
            }
        };
    }
    (sets, slots)
}

#[cfg(test)]
mod routing_method {
    use super::*;

    #[test]
    fn draws_are_distinct_and_stop_at_n_or_at_what_there_is() {
        let w = [5, 1, 0, 3];
        for _ in 0..2000 {
            let d = draw_with(&w, 9, 3, |b| fastrand::u64(..b));
            let mut s = d.as_slice().to_vec();
            assert_eq!(s.len(), 3);
            s.sort();
            assert_eq!(s, [0, 1, 3], "the zero weight is never drawn");
            let d = draw_with(&w, 9, 2, |b| fastrand::u64(..b));
            assert_eq!(d.len(), 2);
            assert_ne!(d.as_slice()[0], d.as_slice()[1]);
        }
        assert!(draw_with(&[], 0, 3, |_| unreachable!()).is_empty());
        assert_eq!(draw_with(&[7], 7, 8, |b| b - 1).as_slice(), [0]);
    }

    #[test]
    fn each_draw_walks_the_weights_not_yet_taken() {
        // r = 0 always takes the first remaining entry; r = bound - 1 the last.
        assert_eq!(draw_with(&[2, 3, 4], 9, 3, |_| 0).as_slice(), [0, 1, 2]);
        assert_eq!(draw_with(&[2, 3, 4], 9, 3, |b| b - 1).as_slice(), [2, 1, 0]);
        // r = 2 on Σ 9 lands on entry 1 (weights 2 | 3 | 4), then on Σ 6 on entry 2 (2 | 4).
        let mut rs = [2u64, 2, 0].into_iter();
        assert_eq!(
            draw_with(&[2, 3, 4], 9, 3, |_| rs.next().unwrap()).as_slice(),
            [1, 2, 0]
        );
    }

    fn pick(addresses: &[(u8, u32)], max_return: u8) -> Pick {
        use hickory_proto::rr::{rdata::A, Name, RData, Record};
        let owner = Name::from_ascii("p.tm.test.").unwrap();
        let entries = addresses
            .iter()
            .map(|&(last, w)| {
                let r = Record::from_rdata(owner.clone(), 60, RData::A(A::new(192, 0, 2, last)));
                (r, w, u32::from(last))
            })
            .collect();
        Pick::new(entries, max_return)
    }

    #[test]
    fn signed_subsets_are_deterministic_distinct_and_bounded() {
        let p = pick(&[(1, 1), (2, 2), (3, 3), (4, 4), (5, 10), (6, 5)], 3);
        let (sets, slots) = sample_subsets(&p, seed(b"\x01p", &p));
        assert!(sets.len() > 1 && sets.len() <= SLOTS, "{}", sets.len());
        for (i, s) in sets.iter().enumerate() {
            assert_eq!(s.len(), 3);
            assert!(
                s.as_slice().windows(2).all(|w| w[0] < w[1]),
                "a set, sorted"
            );
            assert!(slots.contains(&(i as u8)), "every set fills a slot");
            assert!(!sets[..i].contains(s), "each set once");
        }
        // Same input, same draws; another owner or weight, another seed.
        assert_eq!(sample_subsets(&p, seed(b"\x01p", &p)), (sets, slots));
        assert_ne!(seed(b"\x01p", &p), seed(b"\x01q", &p));
        let q = pick(&[(1, 1), (2, 2), (3, 3), (4, 4), (5, 10), (6, 6)], 3);
        assert_ne!(seed(b"\x01p", &p), seed(b"\x01p", &q));
        // No more records than max_return: one subset, all of them.
        let small = pick(&[(1, 1), (2, 9)], 3);
        let (sets, slots) = sample_subsets(&small, 7);
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].as_slice(), [0, 1]);
        assert_eq!(slots, [0; SLOTS]);
        assert!(sample_subsets(&pick(&[(1, 0)], 3), 7).0.is_empty());
    }

    #[test]
    fn a_shuffle_keeps_the_set() {
        let d = draw_with(&[1, 1, 1, 1, 1], 5, 5, |_| 0);
        for _ in 0..100 {
            let s = d.shuffled(|b| fastrand::u64(..b));
            assert_eq!(s.sorted(), d.sorted());
        }
        let rotated = d.shuffled(|_| 0);
        assert_eq!(rotated.as_slice(), [1, 2, 3, 4, 0]);
    }
}
