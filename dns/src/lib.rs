//! fleetdns answers: compile the fleet into a query-ready zone and serve it.
//!
//! Data flow: `compile(&Fleet, &Health) -> Zone` (pure; health is folded in, so a
//! query never looks health up) → a [`Snapshot`] pairs the zone with the health
//! its view shows and the answer counters, published with one `ArcSwap` store →
//! per packet, the UDP worker loads the snapshot once, the fast path
//! ([`fast`]) or the general path ([`general`]) asks [`decide()`] what to answer
//! and writes it into the worker's buffers, without locking or allocating.
//!
//! Modules:
//! - [`sampler`]: O(1) weighted choice (Walker/Vose alias table).
//! - [`multivalue`]: MultiValue answers, N endpoints by weight without replacement.
//! - [`zone`]: the compiled zone; [`compile`](mod@compile): building it; `pick`:
//!   one answer set in few allocations; `profile`: one profile's node;
//!   `names`: the names a profile's owner node answers for it (health view,
//!   per-cluster names).
//! - [`snapshot`]: zone + health + counters, what one answer reads.
//! - [`patch`](mod@patch): compiling again only the profiles that changed; `nodes`
//!   (names sharded by profile) and `chunked` (a persistent vector) let a
//!   patched zone share everything else with the one before.
//! - [`decide`](mod@decide): the decision table of DESIGN.md §4 for both paths (rcode, AA,
//!   which RRset, negative SOA; EDNS and UDP size rules).
//! - [`answer`]: a decision as record sections, for the general path.
//! - [`dnssec`]: keys, signing at compile time, the NSEC chains; what DO=1
//!   answers add.
//! - [`fast`]: the UDP fast path: plain queries from precompiled wire records.
//! - [`general`]: everything else, parsed and encoded by hickory.
//! - `view`: the `_health` TXT records.
//! - [`metrics`]: query and per-endpoint answer counters, lock-free on the query path.
//! - [`udp`]: SO_REUSEPORT worker threads: the fast path first, the general path otherwise.
//! - [`mmsg`]: batched UDP receive and send (`recvmmsg`/`sendmmsg`) for those workers.
//! - [`rrl`]: response rate limiting of UDP answers (per worker, lock-free).
//! - [`tcp`]: DNS over TCP (RFC 7766) with connection caps and timeouts.
//! - [`server`]: binding UDP and TCP listeners and running until shutdown.
//! - `fuzzing` (feature `fuzzing`): socket-free entry points for the fuzz
//!   targets and corpus replay.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
#![deny(clippy::print_stdout)]

pub mod answer;
mod answer_counters;
mod chunked;
pub mod compile;
pub mod decide;
#[cfg(feature = "fuzzing")]
mod describe;
pub mod dnssec;
pub mod fast;
mod fnv;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod general;
pub mod metrics;
pub mod mmsg;
pub mod multivalue;
mod names;
mod nodes;
pub mod patch;
mod pick;
mod profile;
pub mod rrl;
pub mod sampler;
pub mod server;
pub mod snapshot;
pub mod tcp;
pub mod udp;
mod view;
mod wire;
pub mod zone;

pub use compile::compile;
pub use decide::{decide, Decision, MAX_UDP_PAYLOAD};
pub use metrics::DnsMetrics;
pub use snapshot::{Signing, Snapshot};
pub use zone::Zone;
