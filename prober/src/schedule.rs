//! When each endpoint is probed: spread start, small jitter, as pure math.
//!
//! Thousands of endpoints load-balanced behind one config change must not be
//! probed in lock-step (a burst every interval, and every probe of a shared
//! backend arriving at once). Each endpoint's first probe therefore lands at a
//! uniformly random offset within its interval, and each later one after
//! `interval × (1 ± JITTER)`, so the phases keep drifting apart instead of
//! re-aligning.
//!
//! Probe start times are then rounded up to a grid shared by all endpoints,
//! with a spacing of 1 % of the interval (at most 100 ms, see [`tick`]). This
//! keeps the spread (10,000 endpoints at a 10 s interval are 100 probes per
//! 100 ms slot, never one burst) but lets the runtime start the probes of one
//! slot in one wake-up instead of waking a thread for every probe: with a
//! thousand probes a second, those wake-ups (context switches) were a large
//! share of the prober's CPU time (see docs/BENCHMARKS.md, "Health probes").

use std::time::Duration;

/// Longest spacing of the grid probe start times are rounded up to.
pub(crate) const MAX_TICK: Duration = Duration::from_millis(100);

/// Relative jitter of the time between two probes of one endpoint (±5 %).
pub(crate) const JITTER: f64 = 0.05;

/// The probe interval of a monitor config, never zero.
pub(crate) fn interval(seconds: u32) -> Duration {
    Duration::from_secs(u64::from(seconds.max(1)))
}

/// Delay before an endpoint's first probe: uniform in `[0, interval)`.
pub(crate) fn first_delay(interval: Duration, rng: &mut fastrand::Rng) -> Duration {
    interval.mul_f64(rng.f64())
}

/// Delay from the start of one probe to the start of the next:
/// uniform in `[interval × (1 − JITTER), interval × (1 + JITTER))`; the mean is `interval`.
pub(crate) fn next_delay(interval: Duration, rng: &mut fastrand::Rng) -> Duration {
    interval.mul_f64(1.0 + JITTER * (2.0 * rng.f64() - 1.0))
}

/// The grid spacing for `interval`: 1 % of it, between 1 ms and [`MAX_TICK`].
/// Aligning adds less than this to a delay (half of it on average).
pub(crate) fn tick(interval: Duration) -> Duration {
    (interval / 100).clamp(Duration::from_millis(1), MAX_TICK)
}

/// `since_epoch` rounded up to the next multiple of `tick` (unchanged if it is one).
pub(crate) fn align(since_epoch: Duration, tick: Duration) -> Duration {
    let tick = tick.as_nanos().max(1);
    let ticks = since_epoch.as_nanos().div_ceil(tick);
    Duration::from_nanos(u64::try_from(ticks * tick).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_first_probes_cover_the_interval_uniformly() {
        let mut rng = fastrand::Rng::with_seed(7);
        let interval = Duration::from_secs(10);
        let mut buckets = [0u32; 10];
        for _ in 0..10_000 {
            let d = first_delay(interval, &mut rng);
            assert!(d < interval);
            buckets[d.as_secs() as usize] += 1;
        }
        // Expected 1000 per second of the interval; sd ≈ 30.
        for (second, n) in buckets.iter().enumerate() {
            assert!(
                (880..=1120).contains(n),
                "second {second} got {n} of 10000 first probes: {buckets:?}"
            );
        }
        // And no instant is crowded: at most 1 % of all endpoints in any 10 ms.
        let mut fine = vec![0u32; 1000];
        for _ in 0..10_000 {
            fine[(first_delay(interval, &mut rng).as_millis() / 10) as usize] += 1;
        }
        assert!(
            fine.iter().all(|&n| n <= 100),
            "a 10 ms slot holds 1 % of endpoints"
        );
    }

    #[test]
    fn next_delay_stays_within_jitter_and_averages_the_interval() {
        let mut rng = fastrand::Rng::with_seed(11);
        let interval = Duration::from_secs(10);
        let lo = interval.mul_f64(1.0 - JITTER);
        let hi = interval.mul_f64(1.0 + JITTER);
        let mut total = Duration::ZERO;
        for _ in 0..10_000 {
            let d = next_delay(interval, &mut rng);
            assert!(lo <= d && d <= hi, "{d:?} outside [{lo:?}, {hi:?}]");
            total += d;
        }
        let mean = total / 10_000;
        assert!(
            mean.abs_diff(interval) < Duration::from_millis(20),
            "mean {mean:?}"
        );
    }

    #[test]
    fn phases_do_not_realign_after_many_intervals() {
        // Two endpoints started at the same instant must drift apart by more
        // than a probe's typical duration within a few intervals.
        let mut a = fastrand::Rng::with_seed(1);
        let mut b = fastrand::Rng::with_seed(2);
        let interval = Duration::from_secs(1);
        let (mut ta, mut tb) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..10 {
            ta += next_delay(interval, &mut a);
            tb += next_delay(interval, &mut b);
        }
        assert!(ta.abs_diff(tb) > Duration::from_millis(5));
    }

    #[test]
    fn start_times_round_up_to_the_grid() {
        assert_eq!(tick(Duration::from_secs(10)), MAX_TICK);
        assert_eq!(tick(Duration::from_secs(30)), MAX_TICK);
        assert_eq!(tick(Duration::from_secs(1)), Duration::from_millis(10));
        assert_eq!(tick(Duration::ZERO), Duration::from_millis(1));
        let t = MAX_TICK;
        assert_eq!(align(Duration::ZERO, t), Duration::ZERO);
        assert_eq!(align(t, t), t);
        assert_eq!(align(Duration::from_nanos(1), t), t);
        assert_eq!(align(t * 7 + Duration::from_nanos(1), t), t * 8);
        // 10,000 first probes of a 10 s interval: no slot holds much more
        // than its 1 % share (100 expected, sd ≈ 10).
        let mut rng = fastrand::Rng::with_seed(3);
        let interval = Duration::from_secs(10);
        let t = tick(interval);
        let mut slots = vec![0u32; (interval.as_nanos() / t.as_nanos()) as usize + 1];
        for _ in 0..10_000 {
            let d = first_delay(interval, &mut rng);
            let a = align(d, t);
            assert!(d <= a && a - d < t);
            slots[(a.as_nanos() / t.as_nanos()) as usize] += 1;
        }
        assert!(
            slots.iter().all(|&n| n <= 150),
            "crowded slot: {:?}",
            slots.iter().max()
        );
    }

    #[test]
    fn zero_interval_is_clamped() {
        assert_eq!(interval(0), Duration::from_secs(1));
        assert_eq!(interval(30), Duration::from_secs(30));
    }
}
