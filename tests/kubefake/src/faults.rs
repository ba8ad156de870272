//! Fault injection state, consulted by the server for every request.

use std::time::Duration;

/// Faults to inject, set through [`crate::FakeCluster`] methods.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Answer the next N requests with `fail_code`.
    pub fail_next: u32,
    /// HTTP code of injected failures (500 by default; 503/429 are retried by kube).
    pub fail_code: u16,
    /// Only requests whose `path?query` contains this are failed (None: every request).
    pub fail_path: Option<String>,
    /// Delay before answering each request.
    pub latency: Duration,
    /// The next N watch requests get a 410 Expired ERROR event at once.
    pub gone_next_watches: u32,
}

impl Faults {
    /// Consumes one injected failure if the request matches.
    pub fn take_failure(&mut self, path_and_query: &str) -> Option<u16> {
        if self.fail_next == 0 {
            return None;
        }
        if let Some(p) = &self.fail_path {
            if !path_and_query.contains(p.as_str()) {
                return None;
            }
        }
        self.fail_next -= 1;
        Some(if self.fail_code == 0 {
            500
        } else {
            self.fail_code
        })
    }

    /// Consumes one forced 410 for a watch.
    pub fn take_gone(&mut self) -> bool {
        if self.gone_next_watches > 0 {
            self.gone_next_watches -= 1;
            true
        } else {
            false
        }
    }
}
