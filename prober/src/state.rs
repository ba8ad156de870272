//! The per-endpoint monitor state machine (Traffic Manager's rules), as a pure function.
//!
//! Kept apart from all I/O so the rules can be read in one place and tested
//! exhaustively: the async shell only feeds it probe results.

use fleetdns_config::MonitorState;

/// An endpoint's state and its failures in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tracker {
    pub state: MonitorState,
    /// Failures since the last success (saturating).
    pub consecutive_failures: u32,
}

impl Tracker {
    /// A newly probed endpoint (or one whose probe settings changed): no result yet.
    pub(crate) const NEW: Tracker = Tracker {
        state: MonitorState::CheckingEndpoint,
        consecutive_failures: 0,
    };

    /// The state after one probe result.
    ///
    /// - any success → `Online`, failure count reset;
    /// - the `tolerated + 1`-th failure in a row → `Degraded` (tolerated 0: the
    ///   first failure); Degraded stays Degraded until a success;
    /// - fewer failures keep the current state. In particular an endpoint whose
    ///   first results are failures stays `CheckingEndpoint` (routable, as before
    ///   any result) until it either answers or reaches the Degraded threshold.
    pub(crate) fn observe(self, healthy: bool, tolerated: u32) -> Tracker {
        if healthy {
            return Tracker {
                state: MonitorState::Online,
                consecutive_failures: 0,
            };
        }
        let consecutive_failures = self.consecutive_failures.saturating_add(1);
        let state = if consecutive_failures > tolerated {
            MonitorState::Degraded
        } else {
            self.state
        };
        Tracker {
            state,
            consecutive_failures,
        }
    }
}

/// The label Traffic Manager uses for a state (also the metrics label value).
pub(crate) fn state_name(state: MonitorState) -> &'static str {
    match state {
        MonitorState::CheckingEndpoint => "CheckingEndpoint",
        MonitorState::Online => "Online",
        MonitorState::Degraded => "Degraded",
        MonitorState::Unmonitored => "Unmonitored",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MonitorState::*;

    /// Runs a sequence of results (true = healthy) from a new endpoint.
    fn states(results: &[bool], tolerated: u32) -> Vec<MonitorState> {
        let mut t = Tracker::NEW;
        results
            .iter()
            .map(|&ok| {
                t = t.observe(ok, tolerated);
                t.state
            })
            .collect()
    }

    #[test]
    fn first_success_goes_online() {
        assert_eq!(states(&[true], 3), [Online]);
    }

    #[test]
    fn tolerated_zero_degrades_on_first_failure() {
        assert_eq!(states(&[true, false], 0), [Online, Degraded]);
        assert_eq!(states(&[false], 0), [Degraded]);
    }

    #[test]
    fn degraded_after_tolerated_plus_one_failures() {
        // Traffic Manager's example: tolerated 3 → Degraded on the 4th failure in a row.
        assert_eq!(
            states(&[true, false, false, false, false], 3),
            [Online, Online, Online, Online, Degraded]
        );
    }

    #[test]
    fn failures_before_any_success_stay_checking_until_threshold() {
        assert_eq!(
            states(&[false, false, false], 2),
            [CheckingEndpoint, CheckingEndpoint, Degraded]
        );
    }

    #[test]
    fn one_success_resets_the_count_and_recovers() {
        let s = states(&[true, false, false, true, false, false, false], 2);
        assert_eq!(
            s,
            [Online, Online, Online, Online, Online, Online, Degraded]
        );
        assert_eq!(
            states(&[false, false, true], 1),
            [CheckingEndpoint, Degraded, Online]
        );
        let t = Tracker::NEW.observe(false, 0).observe(true, 0);
        assert_eq!(t.consecutive_failures, 0);
    }

    #[test]
    fn degraded_stays_degraded_and_count_saturates() {
        let mut t = Tracker {
            state: Degraded,
            consecutive_failures: u32::MAX - 1,
        };
        for _ in 0..3 {
            t = t.observe(false, 3);
            assert_eq!(t.state, Degraded);
        }
        assert_eq!(t.consecutive_failures, u32::MAX);
    }

    #[test]
    fn huge_tolerance_never_degrades_by_overflow() {
        let t = Tracker {
            state: Online,
            consecutive_failures: u32::MAX,
        };
        assert_eq!(t.observe(false, u32::MAX).state, Online);
    }
}
