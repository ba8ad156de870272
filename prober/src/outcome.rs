//! The closed set of probe outcomes, and how an HTTP status maps onto it.
//!
//! One enum serves three readers: the state machine (healthy or not), the
//! `outcome` metrics label (a fixed list, never an error's text) and the
//! human-readable detail in `Health`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fleetdns_config::Observation;

/// How one probe ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Expected HTTP status, or TCP connected.
    Success,
    /// An HTTP status outside the expected ranges (not a redirect).
    UnexpectedStatus,
    /// A 3xx outside the expected ranges; redirects are never followed.
    Redirect,
    /// No answer within the monitor's timeout.
    Timeout,
    /// The connection could not be established (refused, unreachable, DNS).
    ConnectError,
    /// The TLS handshake failed, or the certificate was rejected (`verify_tls`).
    TlsError,
    /// Anything else: a malformed response, or a probe that cannot be built.
    Error,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 7] = [
        Outcome::Success,
        Outcome::UnexpectedStatus,
        Outcome::Redirect,
        Outcome::Timeout,
        Outcome::ConnectError,
        Outcome::TlsError,
        Outcome::Error,
    ];

    /// The `outcome` metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::UnexpectedStatus => "unexpected_status",
            Outcome::Redirect => "redirect",
            Outcome::Timeout => "timeout",
            Outcome::ConnectError => "connect_error",
            Outcome::TlsError => "tls_error",
            Outcome::Error => "error",
        }
    }

    /// Whether the probe counts as a success for the state machine (only [`Outcome::Success`]).
    pub fn is_healthy(self) -> bool {
        self == Outcome::Success
    }

    /// Classifies an HTTP response status; `expected` says whether it is inside
    /// the monitor's expected ranges, which wins even for a 3xx (`301` may be listed).
    pub fn of_status(status: u16, expected: bool) -> (Outcome, String) {
        if expected {
            (Outcome::Success, format!("HTTP {status}"))
        } else if (300..400).contains(&status) {
            (Outcome::Redirect, format!("HTTP {status} (redirect)"))
        } else {
            (Outcome::UnexpectedStatus, format!("HTTP {status}"))
        }
    }
}

/// The result of one probe, as its probe task reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    /// How the probe ended.
    pub outcome: Outcome,
    /// Short and human-readable: `HTTP 503`, `timeout after 5s`, `connect: Connection refused`.
    pub detail: String,
    /// From the start of the connection attempt to the verdict.
    pub duration: Duration,
    /// Wall-clock time the probe finished.
    pub at: SystemTime,
}

impl ProbeResult {
    /// A result that finished now (`at` is the current wall-clock time).
    pub fn new(outcome: Outcome, detail: String, duration: Duration) -> ProbeResult {
        ProbeResult {
            outcome,
            detail,
            duration,
            at: SystemTime::now(),
        }
    }

    /// The form `Health` publishes.
    pub fn observation(&self) -> Observation {
        self.observation_with(Arc::from(self.detail.as_str()))
    }

    /// [`ProbeResult::observation`] with `detail` (the same text, shared).
    pub(crate) fn observation_with(&self, detail: Arc<str>) -> Observation {
        debug_assert_eq!(*detail, *self.detail);
        Observation {
            healthy: self.outcome.is_healthy(),
            detail,
            at: self.at,
            duration: self.duration,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_status_wins_then_redirects_then_the_rest() {
        assert_eq!(
            Outcome::of_status(200, true),
            (Outcome::Success, "HTTP 200".into())
        );
        assert_eq!(Outcome::of_status(301, true).0, Outcome::Success);
        assert_eq!(
            Outcome::of_status(302, false),
            (Outcome::Redirect, "HTTP 302 (redirect)".into())
        );
        assert_eq!(Outcome::of_status(204, false).0, Outcome::UnexpectedStatus);
        assert_eq!(
            Outcome::of_status(503, false),
            (Outcome::UnexpectedStatus, "HTTP 503".into())
        );
    }

    #[test]
    fn only_success_is_healthy_and_labels_are_distinct() {
        let healthy: Vec<_> = Outcome::ALL.iter().filter(|o| o.is_healthy()).collect();
        assert_eq!(healthy, [&Outcome::Success]);
        let mut labels: Vec<_> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), Outcome::ALL.len());
    }
}
