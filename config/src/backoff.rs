//! One retry schedule for every loop that talks to a remote API (the Kubernetes
//! watchers, the Azure reconcile loop, the status writer), so that all of them
//! back off the same way: a delay that doubles from `start` up to `max`, each
//! scaled by a random factor in [0.5, 1.5) so that replicas do not retry in step.
//!
//! Pure data: the caller sleeps (on tokio's clock, so tests can pause time).

use std::time::Duration;

/// Why a pair of bounds is not a backoff.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackoffError {
    /// `start` was zero.
    #[error("backoff start must be more than zero")]
    ZeroStart,
    /// `max` was shorter than `start`.
    #[error("backoff max {max:?} is shorter than its start {start:?}")]
    MaxBelowStart {
        /// The `start` given.
        start: Duration,
        /// The `max` given.
        max: Duration,
    },
}

/// Exponential backoff with jitter between validated bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    start: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// A schedule from `start` doubling to `max`; `start` > 0 and `max` ≥ `start`.
    pub fn new(start: Duration, max: Duration) -> Result<Self, BackoffError> {
        if start.is_zero() {
            return Err(BackoffError::ZeroStart);
        }
        if max < start {
            return Err(BackoffError::MaxBelowStart { start, max });
        }
        Ok(Self {
            start,
            max,
            next: start,
        })
    }

    /// The next delay, with jitter; the one after it is twice as long, up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        self.next_delay_with(fastrand::f64())
    }

    /// [`Backoff::next_delay`] with the random factor's unit draw `u` in [0, 1) given.
    pub fn next_delay_with(&mut self, u: f64) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        base.mul_f64(0.5 + u.clamp(0.0, 1.0))
    }

    /// Back to `start`, after a success.
    pub fn reset(&mut self) {
        self.next = self.start;
    }

    /// The shortest delay this schedule can give (its jittered `start`).
    pub fn start(&self) -> Duration {
        self.start
    }

    /// The longest base delay (before jitter).
    pub fn max(&self) -> Duration {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_millis(250);

    #[test]
    fn doubles_to_max_and_resets() {
        let mut b = Backoff::new(S, Duration::from_secs(1)).unwrap();
        let bases: Vec<Duration> = (0..5).map(|_| b.next_delay_with(0.5)).collect();
        let ms: Vec<u128> = bases.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [250, 500, 1000, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_delay_with(0.5), S);
    }

    #[test]
    fn jitter_stays_within_half_and_one_and_a_half() {
        let mut b = Backoff::new(S, S).unwrap();
        assert_eq!(b.next_delay_with(0.0), S / 2);
        assert_eq!(b.next_delay_with(1.0), S * 3 / 2);
        for _ in 0..1000 {
            let d = b.next_delay();
            assert!(d >= S / 2 && d < S * 3 / 2, "{d:?}");
        }
    }

    #[test]
    fn bounds_are_validated() {
        assert_eq!(
            Backoff::new(Duration::ZERO, S),
            Err(BackoffError::ZeroStart)
        );
        assert_eq!(
            Backoff::new(S, S / 2),
            Err(BackoffError::MaxBelowStart {
                start: S,
                max: S / 2
            })
        );
    }
}
