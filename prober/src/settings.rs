//! The prober's own tunables and start-up errors, apart from the per-endpoint
//! settings that come from each profile's monitor config.

use std::time::Duration;

/// The prober's errors; they happen at start-up, never per probe.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTPS client configurations could not be built (typically: the platform
    /// verifier could not load the system roots).
    #[error("cannot set up TLS for HTTPS probes: {0}")]
    Tls(#[source] rustls::Error),
}

/// Tunables of the prober as a whole (per-endpoint settings come from the
/// profile's monitor config).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Probes in flight at once, over all endpoints (a probe holds its slot
    /// until its verdict, at most its timeout). Default 512.
    pub max_in_flight: usize,
    /// Shortest time between two publications that carry only new
    /// observations. Default 500 ms.
    pub coalesce: Duration,
    /// Shortest time between two publications when state transitions come in
    /// a burst. A transition after a quieter period is published at once.
    /// Bounds snapshot copies and DNS recompilations during mass changes.
    /// Default 50 ms.
    pub transition_gap: Duration,
    /// `User-Agent` of HTTP(S) probes. Default `fleetdns-probe/<version>`.
    pub user_agent: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_in_flight: 512,
            coalesce: Duration::from_millis(500),
            transition_gap: Duration::from_millis(50),
            user_agent: concat!("fleetdns-probe/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}
