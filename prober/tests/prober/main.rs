//! Prober integration tests against real loopback backends.
//!
//! - `probe`: one probe at a time through `Probes::check` — what counts as healthy.
//! - `run`: the whole prober through `run` — state over time, fleet updates, metrics.
//!
//! Every test owns its own `127.0.10.x` address, so tests run in parallel
//! without port clashes, and every wait is bounded.

mod fixtures;
mod probe;
mod run;
