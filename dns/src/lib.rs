//! fleetdns answers: compile the fleet into a query-ready zone and serve it.
//!
//! Data flow: `compile(&Fleet, &Health) -> Zone` (pure; health is folded in, so a
//! query never looks health up) → published with one `ArcSwap` store →
//! [`handler::Handler`] reads the current `Zone` per query without locking →
//! [`answer::answer`] picks the records (pure) → hickory encodes and sends. Plain UDP
//! queries skip the handler: [`fast`] answers them from precompiled wire records.
//!
//! Modules:
//! - [`sampler`]: O(1) weighted choice (Walker/Vose alias table).
//! - [`zone`]: the compiled zone and `compile`.
//! - [`answer`]: what to answer for one question (rcode, AA, sections).
//! - [`metrics`]: query and per-endpoint answer counters, lock-free on the query path.
//! - [`handler`]: the hickory-server `RequestHandler`: header, EDNS, opcode, class checks.
//! - [`fast`]: the UDP fast path.
//! - [`udp`]: SO_REUSEPORT worker threads: the fast path first, the general path otherwise.
//! - [`mmsg`]: batched UDP receive and send (`recvmmsg`/`sendmmsg`) for those workers.
//! - [`rrl`]: response rate limiting of UDP answers (per worker, lock-free).
//! - [`tcp`]: DNS over TCP (RFC 7766) with connection caps and timeouts.
//! - [`server`]: binding UDP and TCP listeners and running until shutdown.
//! - [`fuzzing`]: socket-free entry points for the fuzz targets and corpus replay.
#![forbid(unsafe_code)]

pub mod answer;
pub mod fast;
pub mod fuzzing;
pub mod handler;
pub mod metrics;
pub mod mmsg;
pub mod rrl;
pub mod sampler;
pub mod server;
pub mod tcp;
pub mod udp;
mod wire;
pub mod zone;

pub use handler::Handler;
pub use metrics::DnsMetrics;
pub use zone::{compile, Zone};
