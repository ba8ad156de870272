//! Where a fleetdns `Fleet` comes from: the inputs that do I/O.
//!
//! Each source turns what it reads into the model's typed inputs and lets
//! `fleetdns_config::validate` judge them, then publishes each new valid `Fleet` on
//! a `tokio::sync::watch` channel (latest value wins). Sources only read: writing
//! status back is the `sync` crate's job.
//!
//! - [`file`](mod@file): the config file, read once and watched (mtime/size poll, SIGHUP).
//! - [`kubernetes`]: the live source (hub and member clusters, watched).
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
#![deny(clippy::print_stdout)]

pub mod file;
pub mod kubernetes;
