//! Bounded waiting for a condition: the one polling loop the tests share.
//!
//! Tests that wait for something to happen (a process to listen, a probe to
//! degrade an endpoint, an emulator to receive a call) poll with
//! [`eventually`] (blocking) or [`eventually_async`] (tokio) instead of writing
//! their own polling loops. Every wait is bounded in time, and the number of
//! polls follows from `timeout / interval`. On timeout it panics naming what was
//! awaited, for how long, how often it looked, and what it saw last.
//!
//! The probe closure reports each look as an [`Observation`]: `Option<T>`
//! (`None` = not yet), `Result<T, E>` (`Err` describes what was seen instead;
//! it is shown in the panic message) or `bool`.
//!
//! [`poll`] and [`poll_async`] are the non-panicking forms, for helpers that
//! return whether the condition came true.

use std::fmt;
use std::future::Future;
use std::time::Duration;

/// What one look at the condition found: the awaited value, or a description of
/// what was there instead.
pub trait Observation {
    /// The value a successful wait returns.
    type Value;
    /// `Ok(value)` when the condition holds, else what was observed instead.
    fn observe(self) -> Result<Self::Value, String>;
}

impl<T> Observation for Option<T> {
    type Value = T;
    fn observe(self) -> Result<T, String> {
        self.ok_or_else(|| "None (not yet)".to_string())
    }
}

impl<T, E: fmt::Display> Observation for Result<T, E> {
    type Value = T;
    fn observe(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

impl Observation for bool {
    type Value = ();
    fn observe(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("false".to_string())
        }
    }
}

/// Why a wait ended without the condition holding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout {
    /// What was awaited, as the caller named it.
    pub what: String,
    /// The bound that passed.
    pub timeout: Duration,
    /// How many times the condition was checked.
    pub polls: u32,
    /// What the last check observed.
    pub last: String,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?} ({} checks) waiting for {}; last observation: {}",
            self.timeout, self.polls, self.what, self.last
        )
    }
}

impl std::error::Error for Timeout {}

/// Checks `probe` every `interval` until it holds, for at most `timeout`
/// (blocking the thread between checks). The condition is always checked at
/// least once, and once more when the bound has passed, so a slow machine
/// that oversleeps never fails a condition that holds.
pub fn poll<O: Observation>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut probe: impl FnMut() -> O,
) -> Result<O::Value, Timeout> {
    let start = std::time::Instant::now();
    let mut polls = 0;
    loop {
        polls += 1;
        let last = match probe().observe() {
            Ok(v) => return Ok(v),
            Err(last) => last,
        };
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(Timeout {
                what: what.to_string(),
                timeout,
                polls,
                last,
            });
        }
        std::thread::sleep(interval.min(timeout - elapsed));
    }
}

/// As [`poll`], but panics on timeout with what was awaited, the bound, and the
/// last observation. Returns the awaited value.
#[track_caller]
pub fn eventually<O: Observation>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    probe: impl FnMut() -> O,
) -> O::Value {
    match poll(what, timeout, interval, probe) {
        Ok(v) => v,
        Err(t) => panic!("{t}"),
    }
}

/// As [`poll`], for async conditions: sleeps with tokio's timer and measures
/// with tokio's clock, so it also works (and costs no wall-clock time) under
/// `#[tokio::test(start_paused = true)]`.
pub async fn poll_async<O, F>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut probe: impl FnMut() -> F,
) -> Result<O::Value, Timeout>
where
    O: Observation,
    F: Future<Output = O>,
{
    let start = tokio::time::Instant::now();
    let mut polls = 0;
    loop {
        polls += 1;
        let last = match probe().await.observe() {
            Ok(v) => return Ok(v),
            Err(last) => last,
        };
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(Timeout {
                what: what.to_string(),
                timeout,
                polls,
                last,
            });
        }
        tokio::time::sleep(interval.min(timeout - elapsed)).await;
    }
}

/// As [`poll_async`], but panics on timeout like [`eventually`].
pub async fn eventually_async<O, F>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    probe: impl FnMut() -> F,
) -> O::Value
where
    O: Observation,
    F: Future<Output = O>,
{
    match poll_async(what, timeout, interval, probe).await {
        Ok(v) => v,
        Err(t) => panic!("{t}"),
    }
}

#[cfg(test)]
mod tests {
    //! The helper's own contract. The async tests run on paused tokio time: they
    //! use only tokio timers, so the clock advances exactly when every task waits.

    use super::*;
    use std::cell::Cell;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn returns_the_value_as_soon_as_the_condition_holds() {
        let n = Cell::new(0);
        let v = eventually("the third look", Duration::from_secs(5), MS, || {
            n.set(n.get() + 1);
            (n.get() == 3).then_some(n.get() * 10)
        });
        assert_eq!((v, n.get()), (30, 3));
    }

    #[test]
    fn times_out_naming_what_how_long_and_the_last_observation() {
        let n = Cell::new(0);
        let t = poll("a miracle", 20 * MS, 5 * MS, || {
            n.set(n.get() + 1);
            Err::<(), _>(format!("look {}", n.get()))
        })
        .unwrap_err();
        assert_eq!(t.what, "a miracle");
        assert_eq!(t.polls, n.get());
        assert_eq!(t.last, format!("look {}", n.get()));
        // Bounded in count: one look per interval, plus the first and the last.
        assert!((2..=6).contains(&t.polls), "{t}");
        assert_eq!(
            t.to_string(),
            format!(
                "timed out after 20ms ({} checks) waiting for a miracle; last observation: look {}",
                t.polls, t.polls
            )
        );
    }

    #[test]
    #[should_panic(expected = "waiting for nothing; last observation: false")]
    fn eventually_panics_with_the_timeout_message() {
        eventually("nothing", 5 * MS, MS, || false);
    }

    #[test]
    fn a_zero_timeout_still_looks_once() {
        assert_eq!(poll("now", Duration::ZERO, MS, || Some(7)), Ok(7));
        let t = poll("never", Duration::ZERO, MS, || None::<()>).unwrap_err();
        assert_eq!((t.polls, t.last.as_str()), (1, "None (not yet)"));
    }

    #[tokio::test(start_paused = true)]
    async fn async_polls_on_tokio_time_every_interval() {
        let start = tokio::time::Instant::now();
        let n = Cell::new(0u32);
        let v = eventually_async(
            "the fifth look",
            Duration::from_secs(60),
            Duration::from_secs(1),
            || {
                n.set(n.get() + 1);
                let hit = n.get() == 5;
                async move { hit.then_some("done") }
            },
        )
        .await;
        assert_eq!(v, "done");
        // Four intervals of paused time passed between the first and the fifth look.
        assert_eq!(start.elapsed(), Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn async_timeout_is_exact_on_paused_time() {
        let start = tokio::time::Instant::now();
        let t = poll_async(
            "never",
            Duration::from_secs(10),
            Duration::from_secs(3),
            || async { Err::<(), _>("still no") },
        )
        .await
        .unwrap_err();
        // Looks at 0, 3, 6, 9 and, after a shortened last sleep, at 10 s.
        assert_eq!((t.polls, start.elapsed()), (5, Duration::from_secs(10)));
        assert_eq!(t.last, "still no");
    }
}
