//! Prober integration tests against real loopback backends.
//!
//! - `http`: the probe's HTTP/1.1 client against scripted servers (`127.0.140.x`).
//! - `probe`: one probe at a time through `Probes::check` — what counts as healthy.
//! - `run`: the whole prober through `run` — state over time, fleet updates, metrics.
//!
//! Every test owns its own `127.0.10.x` (or `127.0.140.x`) address, so tests run in parallel
//! without port clashes, and every wait is bounded.

mod fixtures;
mod http;
mod probe;
mod run;
