//! ARM outcomes → a profile's `Programmed` condition, as fleet-networking reports it.
//!
//! Plain data, so the Kubernetes status writer can put it on the object as is and
//! the file mode can show it in `/status` and in metrics.

use serde::Serialize;

use fleetdns_arm::ArmError;

/// Condition status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known yet: the outcome is still being retried.
    Unknown,
}

/// Condition reason (fleet-networking's set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Reason {
    /// The Traffic Manager profile is configured as desired.
    Programmed,
    /// ARM refused the DNS name (HTTP 409): another profile holds it.
    DNSNameNotAvailable,
    /// ARM refused the request as such (a 4xx other than 401, 409 and 429), or the profile is not
    /// fleetdns'.
    Invalid,
    /// Not configured yet, or failed in a way that is retried (401, 429, 5xx, transport or token
    /// errors).
    Pending,
}

impl Reason {
    /// Every reason, so a metric can set each reason's series.
    pub const ALL: [Reason; 4] = [
        Reason::Programmed,
        Reason::DNSNameNotAvailable,
        Reason::Invalid,
        Reason::Pending,
    ];

    /// The reason as written in the condition and in the `reason` metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Programmed => "Programmed",
            Reason::DNSNameNotAvailable => "DNSNameNotAvailable",
            Reason::Invalid => "Invalid",
            Reason::Pending => "Pending",
        }
    }
}

/// The `Programmed` condition of one TrafficManagerProfile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Programmed {
    /// `True` only when the profile is programmed.
    pub status: ConditionStatus,
    /// Why, in fleet-networking's terms.
    pub reason: Reason,
    /// Human-readable detail, in fleet-networking's wording.
    pub message: String,
}

impl Programmed {
    /// `True`, `Programmed`: the profile is configured.
    pub fn ok() -> Self {
        Self {
            status: ConditionStatus::True,
            reason: Reason::Programmed,
            message: "Successfully configured the Azure Traffic Manager profile".into(),
        }
    }

    /// `Unknown`, `Pending`, with `why` in the message: not configured yet, or retried soon.
    pub fn pending(why: &str) -> Self {
        Self {
            status: ConditionStatus::Unknown,
            reason: Reason::Pending,
            message: format!("Failed to configure profile and retrying: {why}"),
        }
    }

    /// `False`, `Invalid`, with `why` in the message; tried again only at the next fleet change or
    /// resync.
    pub fn invalid(why: &str) -> Self {
        Self {
            status: ConditionStatus::False,
            reason: Reason::Invalid,
            message: format!("Invalid profile: {why}"),
        }
    }

    /// 409 → DNSNameNotAvailable; 400/403 and other 4xx but 401 and 429 → Invalid;
    /// 401, 429, 5xx, transport and token errors → Pending (retried).
    pub fn from_error(e: &ArmError) -> Self {
        match e.status() {
            Some(409) => Self {
                status: ConditionStatus::False,
                reason: Reason::DNSNameNotAvailable,
                message: "Domain name is not available. Please choose a different profile name or namespace".into(),
            },
            Some(c) if (400..500).contains(&c) && c != 429 && c != 401 => Self::invalid(&e.to_string()),
            _ => Self::pending(&e.to_string()),
        }
    }

    /// Whether the reconcile should be retried soon.
    pub fn retry(&self) -> bool {
        self.reason == Reason::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> ArmError {
        ArmError::Status {
            method: "PUT",
            path: "/x".into(),
            status: code,
            code: String::new(),
            message: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn maps_codes_like_fleet_networking() {
        assert_eq!(
            Programmed::from_error(&status(409)).reason,
            Reason::DNSNameNotAvailable
        );
        assert_eq!(Programmed::from_error(&status(400)).reason, Reason::Invalid);
        assert_eq!(Programmed::from_error(&status(403)).reason, Reason::Invalid);
        assert_eq!(Programmed::from_error(&status(429)).reason, Reason::Pending);
        assert_eq!(Programmed::from_error(&status(503)).reason, Reason::Pending);
        assert_eq!(
            Programmed::from_error(&status(503)).status,
            ConditionStatus::Unknown
        );
    }
}
