//! Bounds on input.
//!
//! An authoritative server reads its config from whoever controls the file or
//! the Kubernetes API; every count that sizes work on the query path or at
//! compile time is capped here, and hitting a cap is an error that names the
//! file, the document, the object and the field, and what is allowed.

// The object caps leave room for the 100,000-name benchmark (docs/BENCHMARKS.md),
// which needs about 2 GiB of memory and 25 s to load; beyond that, loads get
// slower than operators would accept, so the caps stop them with a clear error.

/// YAML documents in one config file.
pub const MAX_DOCUMENTS: usize = 1_000_000;
/// TrafficManagerProfile objects.
pub const MAX_PROFILES: usize = 200_000;
/// TrafficManagerBackend objects.
pub const MAX_BACKENDS: usize = 400_000;
/// ServiceExport objects.
pub const MAX_EXPORTS: usize = 400_000;
/// Member clusters in the settings document.
pub const MAX_CLUSTERS: usize = 1_000;
/// Endpoints of one profile (Azure Traffic Manager's limit per profile).
pub const MAX_ENDPOINTS_PER_PROFILE: usize = 200;

/// The label of a profile's health-view name, `_health.<owner>` (the DNS side
/// defines the name; the limit below must leave room for it).
pub const HEALTH_LABEL: &str = "_health";
/// Longest profile owner name: a DNS name is at most 253 characters, and
/// `_health.<owner>` must be one too.
pub const MAX_OWNER_NAME: usize = 253 - HEALTH_LABEL.len() - 1;

/// RRL default: responses per second per client prefix and response class.
pub const DEFAULT_RRL_RATE: u32 = 20;
/// RRL default slip: every second limited response is sent truncated.
pub const DEFAULT_RRL_SLIP: u32 = 2;
/// Largest `rrl.responsesPerSecond`.
pub const MAX_RRL_RATE: u32 = 100_000;
/// Largest `rrl.slip`.
pub const MAX_RRL_SLIP: u32 = 10;
/// Largest `tcp.maxConnections`.
pub const MAX_TCP_CONNECTIONS: u32 = 65_536;
/// Largest TCP timeout (seconds).
pub const MAX_TCP_TIMEOUT: u32 = 3_600;
