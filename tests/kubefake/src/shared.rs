//! What the server tasks, the request handlers, the watch streams and the
//! [`crate::FakeCluster`] handle share: one cluster's state and tunables. Its own
//! module, so that the server and the handlers need not import each other.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;

use crate::faults::Faults;
use crate::registry::Registry;
use crate::store::Store;
use crate::writelog::WriteRecord;

/// Tunables of a fake cluster.
#[derive(Clone, Debug)]
pub struct Options {
    /// Events kept for watches to resume from; older resourceVersions get 410.
    pub history_limit: usize,
    /// Period of BOOKMARK events on watches that allow them.
    pub bookmark_interval: std::time::Duration,
    /// Create a namespace when an object is created in a namespace that does not exist
    /// (the real apiserver answers 404 instead).
    pub auto_create_namespaces: bool,
    /// Watch duration when the request has no `timeoutSeconds`.
    pub default_watch_timeout: std::time::Duration,
    /// Where the upstream CRD YAML files are; None: the copy compiled in
    /// ([`crate::registry::EMBEDDED_CRDS`]). Default: `$FLEETDNS_CRD_DIR` if set.
    pub crd_dir: Option<std::path::PathBuf>,
    /// Types not served, by plural or `plural.group` (a cluster without those CRDs).
    pub omit_types: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            history_limit: 1000,
            bookmark_interval: std::time::Duration::from_secs(5),
            auto_create_namespaces: true,
            default_watch_timeout: std::time::Duration::from_secs(1800),
            crd_dir: crate::registry::default_crd_dir(),
            omit_types: Vec::new(),
        }
    }
}

/// State shared by the server tasks and the [`crate::FakeCluster`] handle.
pub struct Shared {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    pub(crate) registry: Registry,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<Faults>,
    /// Cancelled to drop every open connection; replaced by a fresh token afterwards.
    pub(crate) conns: Mutex<CancellationToken>,
    pub(crate) log: Mutex<Vec<WriteRecord>>,
    pub(crate) tokens: Mutex<Option<Vec<String>>>,
    /// Judges bearer tokens besides (or instead of) the static list.
    pub(crate) authenticator: Mutex<Option<std::sync::Arc<dyn crate::auth::Authenticator>>>,
    /// The CA and serving certificate when serving HTTPS.
    pub(crate) tls: Option<crate::tls::Tls>,
    /// Denied (verb, group, resource) triples: 403 and `allowed: false` in access reviews.
    pub(crate) denied: Mutex<Vec<crate::authz::Deny>>,
    pub(crate) options: Options,
    pub(crate) requests: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) invalid: AtomicU64,
    pub(crate) open_watches: AtomicU64,
}

/// Locks, ignoring poisoning (a panicking test must not wedge the server).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
