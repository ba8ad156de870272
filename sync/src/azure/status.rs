//! ARM outcomes → a profile's `Programmed` condition, as fleet-networking reports it.
//!
//! Plain data, so the Kubernetes status writer can put it on the object as is and
//! the file mode can show it in `/status` and in metrics.

use serde::Serialize;

use fleetdns_arm::ArmError;

/// Condition status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// Condition reason (fleet-networking's set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Reason {
    Programmed,
    DNSNameNotAvailable,
    Invalid,
    Pending,
}

impl Reason {
    pub const ALL: [Reason; 4] = [
        Reason::Programmed,
        Reason::DNSNameNotAvailable,
        Reason::Invalid,
        Reason::Pending,
    ];

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
    pub status: ConditionStatus,
    pub reason: Reason,
    pub message: String,
}

impl Programmed {
    pub fn ok() -> Self {
        Self {
            status: ConditionStatus::True,
            reason: Reason::Programmed,
            message: "Successfully configured the Azure Traffic Manager profile".into(),
        }
    }

    /// Nothing sent yet.
    pub fn pending(why: &str) -> Self {
        Self {
            status: ConditionStatus::Unknown,
            reason: Reason::Pending,
            message: format!("Failed to configure profile and retrying: {why}"),
        }
    }

    pub fn invalid(why: &str) -> Self {
        Self {
            status: ConditionStatus::False,
            reason: Reason::Invalid,
            message: format!("Invalid profile: {why}"),
        }
    }

    /// 409 → DNSNameNotAvailable; 400/403 and other 4xx but 429 → Invalid;
    /// 429, 5xx, transport and token errors → Pending (retried).
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
