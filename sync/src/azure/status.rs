//! ARM outcomes → a profile's `Programmed` condition, as fleet-networking reports it.
//!
//! Plain data, so the Kubernetes status writer can put it on the object as is and
//! the file mode can show it in `/status` and in metrics.

use serde::Serialize;

use fleetdns_arm::ArmError;

/// Whether a failed profile PUT means the relative DNS name is taken: HTTP 409 with
/// a code naming a conflict on the name (Traffic Manager answers `Conflict`, with
/// "Domain name … is not available" as the message).
pub fn dns_name_taken(e: &ArmError) -> bool {
    if e.status() != Some(409) {
        return false;
    }
    let code = e.code().unwrap_or_default().to_ascii_lowercase();
    matches!(
        code.as_str(),
        "conflict" | "dnsnamenotavailable" | "domainnamenotavailable" | "namenotavailable"
    ) || e.to_string().contains("is not available")
}

/// The `Accepted` condition of one TrafficManagerBackend as far as the mirror can
/// judge it: whether each of its endpoints could be written to Traffic Manager
/// (fleet-networking puts endpoint errors there, TMBc:701-728, 335-351).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Accepted {
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// `Accepted`, `Invalid` or `Pending`.
    pub reason: &'static str,
    /// Human-readable detail, with ARM's ids for failed calls.
    pub message: String,
}

impl Accepted {
    /// Every endpoint of the backend is in Traffic Manager.
    pub fn ok(n: usize) -> Self {
        Self {
            status: ConditionStatus::True,
            reason: "Accepted",
            message: format!("{n} service(s) exported from clusters have been accepted as Traffic Manager endpoints"),
        }
    }

    /// Some endpoints were refused or skipped (the request's fault): `errors` are
    /// one line each; the other endpoints still went in. The message is
    /// fleet-networking's (trafficmanagerbackend/controller.go:338-341 at 4fcffcf),
    /// first failure as its example.
    pub fn invalid(errors: &[String]) -> Self {
        Self {
            status: ConditionStatus::False,
            reason: "Invalid",
            message: format!(
                "{} endpoint(s) failed to be created/updated in the Azure Traffic Manager, for example, {}; ",
                errors.len(),
                errors.first().map_or("", String::as_str)
            ),
        }
    }

    /// Some endpoints could not be written for now (throttling, 5xx, no token).
    pub fn pending(errors: &[String]) -> Self {
        Self {
            status: ConditionStatus::Unknown,
            reason: "Pending",
            message: format!(
                "Failed to configure endpoints and retrying: {}",
                errors.join("; ")
            ),
        }
    }
}

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

impl ConditionStatus {
    /// As written in a condition's `status`: `True`, `False` or `Unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
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

    /// The outcome of a failed profile GET or PUT, judged by ARM's error code, not by
    /// the status alone (fleet-networking: TMPc:376-391): a 409 whose code says the
    /// DNS name is taken → DNSNameNotAvailable; other 409s such as
    /// `AnotherOperationInProgress` → Pending; the caller's fault (400, 403, 404, …)
    /// → Invalid; 429, 5xx, transport and token errors → Pending (retried).
    /// Messages carry ARM's request and correlation ids.
    pub fn from_error(e: &ArmError) -> Self {
        if dns_name_taken(e) {
            return Self {
                status: ConditionStatus::False,
                reason: Reason::DNSNameNotAvailable,
                message: format!("Domain name is not available. Please choose a different profile name or namespace ({})", e.ids().map(ToString::to_string).unwrap_or_default()),
            };
        }
        if e.retryable() || e.code() == Some("AnotherOperationInProgress") {
            Self::pending(&e.to_string())
        } else {
            Self::invalid(&e.to_string())
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
        coded(code, if code == 409 { "Conflict" } else { "" })
    }

    fn coded(status: u16, code: &str) -> ArmError {
        ArmError::Status {
            method: "PUT",
            path: "/x".into(),
            status,
            code: code.into(),
            message: String::new(),
            details: vec![],
            retry_after: None,
            ids: fleetdns_arm::RequestIds {
                client: "c-1".into(),
                request: Some("r-1".into()),
                correlation: Some("k-1".into()),
            },
        }
    }

    #[test]
    fn conflicts_are_mapped_by_code_not_by_status() {
        let busy = Programmed::from_error(&coded(409, "AnotherOperationInProgress"));
        assert_eq!(busy.reason, Reason::Pending);
        let taken = Programmed::from_error(&coded(409, "Conflict"));
        assert_eq!(taken.reason, Reason::DNSNameNotAvailable);
        assert!(
            taken.message.contains("request id r-1")
                && taken.message.contains("correlation id k-1"),
            "{}",
            taken.message
        );
        let other = Programmed::from_error(&coded(409, "EndpointTargetConflict"));
        assert_eq!(other.reason, Reason::Invalid);
        assert!(other.message.contains("r-1"));
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
