//! Why an ARM call failed, with what Azure support asks for (request and
//! correlation ids, error code and details) and the two questions every caller
//! asks: may a retry help, and whose fault is it.

use std::time::Duration;

use crate::auth::AuthError;

/// The ids of one ARM exchange: ours (`x-ms-client-request-id`, sent on every
/// request) and ARM's (`x-ms-request-id`, `x-ms-correlation-request-id`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestIds {
    /// What fleetdns sent as `x-ms-client-request-id`.
    pub client: String,
    /// `x-ms-request-id` of the answer, if any.
    pub request: Option<String>,
    /// `x-ms-correlation-request-id` of the answer, if any.
    pub correlation: Option<String>,
}

impl std::fmt::Display for RequestIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "client request id {}", self.client)?;
        if let Some(r) = &self.request {
            write!(f, ", request id {r}")?;
        }
        if let Some(c) = &self.correlation {
            write!(f, ", correlation id {c}")?;
        }
        Ok(())
    }
}

/// Whose fault a failure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blame {
    /// The request (or the configuration behind it) is wrong: 4xx other than 408/429.
    Caller,
    /// Azure or the network: 5xx, 408, 429, timeouts, resets. Retrying may help.
    Azure,
    /// No token: the credential or the identity provider.
    Credential,
}

/// Why an ARM call failed. Never contains a token or secret.
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// No ARM token could be had.
    #[error("no ARM token: {0}")]
    Auth(#[from] AuthError),
    /// No HTTP response came (connect, TLS, timeout, reset).
    #[error("{method} {path}: {error} ({ids})")]
    Transport {
        /// HTTP method (`GET`, `PUT` or `DELETE`).
        method: &'static str,
        /// ARM path of the call, without host and api-version.
        path: String,
        /// The transport error and its causes.
        error: String,
        /// The request did not finish within the configured timeout.
        timeout: bool,
        /// The ids of the exchange (ours only: no answer came).
        ids: RequestIds,
    },
    #[error("{method} {path}: HTTP {status} {code}: {message}{details} ({ids})", details = details_text(details))]
    /// ARM answered with an error status (anything but 2xx, or 404 to a GET or DELETE).
    Status {
        /// HTTP method (`GET`, `PUT` or `DELETE`).
        method: &'static str,
        /// ARM path of the call, without host and api-version.
        path: String,
        /// The HTTP status.
        status: u16,
        /// ARM's `error.code` (e.g. `Conflict`, `BadRequest`, `AuthorizationFailed`).
        code: String,
        /// ARM's `error.message` (empty when absent).
        message: String,
        /// `error.details[]` as `code: message`.
        details: Vec<String>,
        /// When ARM said to come back (any `Retry-After` form).
        retry_after: Option<Duration>,
        /// Ours and ARM's request ids.
        ids: RequestIds,
    },
}

fn details_text(details: &[String]) -> String {
    if details.is_empty() {
        String::new()
    } else {
        format!(" [{}]", details.join("; "))
    }
}

impl ArmError {
    /// The HTTP status, when ARM answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ArmError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// ARM's `error.code`, when ARM answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ArmError::Status { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    /// `Retry-After` of the answer, in any of its forms.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ArmError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The request ids, when a request was sent.
    pub fn ids(&self) -> Option<&RequestIds> {
        match self {
            ArmError::Transport { ids, .. } | ArmError::Status { ids, .. } => Some(ids),
            ArmError::Auth(_) => None,
        }
    }

    /// Whose fault it is.
    pub fn blame(&self) -> Blame {
        match self {
            ArmError::Auth(_) => Blame::Credential,
            ArmError::Transport { .. } => Blame::Azure,
            ArmError::Status { status, .. } => match status {
                408 | 429 => Blame::Azure,
                401 => Blame::Credential,
                s if *s >= 500 => Blame::Azure,
                _ => Blame::Caller,
            },
        }
    }

    /// Whether sending the same request again may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            ArmError::Status { status: 401, .. } => true,
            e => e.blame() != Blame::Caller,
        }
    }
}
