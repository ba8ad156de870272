//! Support for fleetdns end-to-end tests: run the real binary on loopback and
//! talk DNS to it over real sockets.
//!
//! - [`Fleetdns`]: a `fleetdns serve` child process on a temp config, stopped by
//!   PID on drop.
//! - [`dns`]: one-shot UDP and TCP queries built and parsed with hickory-proto.
//! - [`tools`]: running third-party tools (dig, kdig) with bounded time.
//! - [`wait`]: the bounded polling loop every test uses to wait for a condition.

pub mod backend;
pub mod daemons;
pub mod dns;
pub mod process;
pub mod tools;
pub mod wait;

pub use process::{DemoBackend, Fleetdns};
