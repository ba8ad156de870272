//! Weighted random choice in O(1): the alias method (Walker 1977, Vose 1991).
//!
//! Built once per zone compile, used on every query. Integer arithmetic only, so
//! the distribution is exact: index `i` is drawn with probability
//! `weights[i] / Σ weights`. The random source is `fastrand`'s thread-local
//! wyrand — no lock, no allocation.

/// A precomputed alias table over `n` weights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sampler {
    /// Σ weights; each bucket has this capacity.
    total: u64,
    /// Per bucket: draws below this threshold keep the bucket's own index.
    threshold: Box<[u64]>,
    /// Per bucket: the index chosen otherwise.
    alias: Box<[u32]>,
}

impl Sampler {
    /// Builds the table. Zero weights are never drawn. Returns `None` when there is
    /// nothing to draw (no weights, or all zero).
    pub fn new(weights: &[u32]) -> Option<Self> {
        let (total, threshold, alias) = table(weights)?;
        Some(Self {
            total,
            threshold: threshold.into_boxed_slice(),
            alias: alias.into_boxed_slice(),
        })
    }

    /// Number of buckets (= weights given).
    pub fn len(&self) -> usize {
        self.alias.len()
    }

    /// Whether no weights were given (nothing can be drawn).
    pub fn is_empty(&self) -> bool {
        self.alias.is_empty()
    }

    /// Maps a uniform draw `r` in `0..len × total` to an index.
    pub fn pick_with(&self, r: u64) -> usize {
        pick_with(r, self.total, |b| (self.threshold[b], self.alias[b]))
    }

    /// Draws an index with probability proportional to its weight.
    pub fn pick(&self) -> usize {
        self.pick_with(fastrand::u64(..self.len() as u64 * self.total))
    }
}

/// The alias table over `weights`: Σ weights, and per bucket its threshold
/// and alias; `None` when there is nothing to draw (no weights, or all zero).
/// For tables kept elsewhere than in a [`Sampler`] (`crate::pick`).
pub(crate) fn table(weights: &[u32]) -> Option<(u64, Vec<u64>, Vec<u32>)> {
    let n = weights.len();
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if n == 0 || total == 0 {
        return None;
    }
    // Scaled weight of each bucket: w_i × n, against a bucket capacity of `total`.
    let mut scaled: Vec<u64> = weights.iter().map(|&w| u64::from(w) * n as u64).collect();
    let mut threshold = vec![total; n];
    let mut alias: Vec<u32> = (0..n as u32).collect();
    let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < total);
    while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
        small.pop();
        threshold[s] = scaled[s];
        alias[s] = l as u32;
        scaled[l] -= total - scaled[s];
        if scaled[l] < total {
            large.pop();
            small.push(l);
        }
    }
    // Whatever remains is full (exactly `total`) by conservation of Σ scaled = n × total.
    for i in small.into_iter().chain(large) {
        threshold[i] = total;
    }
    Some((total, threshold, alias))
}

/// Maps a uniform draw `r` in `0..len × total` to an index, `bucket(b)`
/// giving bucket `b`'s threshold and alias.
pub(crate) fn pick_with(r: u64, total: u64, bucket: impl Fn(usize) -> (u64, u32)) -> usize {
    let b = (r / total) as usize;
    let (threshold, alias) = bucket(b);
    if r % total < threshold {
        b
    } else {
        alias as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact distribution: enumerate every draw and count.
    fn exact_counts(weights: &[u32]) -> Vec<u64> {
        let s = Sampler::new(weights).unwrap();
        let mut counts = vec![0u64; weights.len()];
        for r in 0..(s.len() as u64 * s.total) {
            counts[s.pick_with(r)] += 1;
        }
        counts
    }

    #[test]
    fn distribution_is_exact() {
        for weights in [
            vec![1u32],
            vec![1, 1],
            vec![167, 334],
            vec![7, 4],
            vec![1, 0, 3],
            vec![1000, 1, 1, 1],
            vec![5, 9, 2, 8, 1, 7],
        ] {
            let counts = exact_counts(&weights);
            // Each index is drawn exactly len × w_i times out of len × Σw.
            let n = weights.len() as u64;
            let expected: Vec<u64> = weights.iter().map(|&w| u64::from(w) * n).collect();
            assert_eq!(counts, expected, "weights {weights:?}");
        }
    }

    #[test]
    fn nothing_to_draw() {
        assert!(Sampler::new(&[]).is_none());
        assert!(Sampler::new(&[0, 0]).is_none());
    }

    #[test]
    fn random_picks_stay_in_range_and_skip_zero_weights() {
        let s = Sampler::new(&[0, 5, 0, 1]).unwrap();
        for _ in 0..10_000 {
            let i = s.pick();
            assert!(i == 1 || i == 3);
        }
    }
}
