//! [`FakeCluster`]: one fake API server on a loopback address, running on its own thread and
//! tokio runtime (so it keeps serving while a test blocks, and works from sync and async
//! tests alike), plus the test-side controls: objects "as kubectl", faults, the write log.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::admission::FieldValidation;
use crate::error::Error;
use crate::faults::Faults;
use crate::registry::Registry;
use crate::select::Selector;
use crate::server::serve;
use crate::shared::{lock, Options, Shared};
use crate::status::ApiError;
use crate::store::{present, DeleteOpts, Deleted, PatchKind, Store, WriteOpts, Written};
use crate::writelog::WriteRecord;

/// The field manager the test handle writes as.
pub const HANDLE_MANAGER: &str = "kubectl";

/// A running fake Kubernetes API server. Dropping it stops the server.
pub struct FakeCluster {
    shared: Arc<Shared>,
    handle: tokio::runtime::Handle,
    /// Cancels the accept loop; None while stopped.
    listening: Arc<Mutex<Option<Listening>>>,
    /// Bumped by every stop/resume/restart so a delayed rebind of an older restart is void.
    epoch: Arc<AtomicU64>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A running accept loop: cancel `stop`, then `done` disconnects once the listening socket
/// is closed.
struct Listening {
    stop: CancellationToken,
    done: std::sync::mpsc::Receiver<()>,
}

/// Spawns the accept loop on the current runtime.
fn spawn_serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) -> Listening {
    let stop = CancellationToken::new();
    let (done_tx, done) = std::sync::mpsc::channel::<()>();
    let token = stop.clone();
    tokio::spawn(async move {
        serve(listener, shared, token).await;
        drop(done_tx);
    });
    Listening { stop, done }
}

fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

impl FakeCluster {
    /// Starts a fake cluster called `name` serving plain HTTP on `addr` (port 0 picks one).
    pub fn start(addr: SocketAddr, name: &str) -> Result<FakeCluster, Error> {
        Self::start_with(addr, name, Options::default())
    }

    /// Like [`FakeCluster::start`] with explicit [`Options`].
    pub fn start_with(
        addr: SocketAddr,
        name: &str,
        options: Options,
    ) -> Result<FakeCluster, Error> {
        Self::start_inner(addr, name, options, false)
    }

    /// Starts a fake cluster serving HTTPS with a certificate signed by a CA generated for
    /// this cluster ([`FakeCluster::ca_pem`]); kubeconfigs written for it carry that CA as
    /// `certificate-authority-data`.
    pub fn start_tls(addr: SocketAddr, name: &str) -> Result<FakeCluster, Error> {
        Self::start_inner(addr, name, Options::default(), true)
    }

    /// Like [`FakeCluster::start_tls`] with explicit [`Options`].
    pub fn start_tls_with(
        addr: SocketAddr,
        name: &str,
        options: Options,
    ) -> Result<FakeCluster, Error> {
        Self::start_inner(addr, name, options, true)
    }

    fn start_inner(
        addr: SocketAddr,
        name: &str,
        options: Options,
        tls: bool,
    ) -> Result<FakeCluster, Error> {
        let registry =
            Registry::from_options(options.crd_dir.as_deref())?.without(&options.omit_types);
        let listener = bind(addr).map_err(|source| Error::Bind { addr, source })?;
        let addr = listener.local_addr()?;
        let tls = if tls {
            Some(crate::tls::Tls::generate(name, addr)?)
        } else {
            None
        };
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("kubefake-{name}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(rt.handle().clone()));
                rt.block_on(async {
                    let _ = shutdown_rx.await;
                });
            })?;
        let handle = handle_rx
            .recv()
            .map_err(|e| Error::Runtime(e.to_string()))?
            .map_err(Error::Runtime)?;
        let store = Store::new(
            &registry,
            options.history_limit,
            options.auto_create_namespaces,
        );
        let shared = Arc::new(Shared {
            name: name.to_string(),
            addr,
            registry,
            store: Mutex::new(store),
            faults: Mutex::new(Faults::default()),
            conns: Mutex::new(CancellationToken::new()),
            log: Mutex::new(Vec::new()),
            tokens: Mutex::new(None),
            authenticator: Mutex::new(None),
            tls,
            denied: Mutex::new(Vec::new()),
            options,
            requests: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            invalid: AtomicU64::new(0),
            open_watches: AtomicU64::new(0),
        });
        let cluster = FakeCluster {
            shared,
            handle,
            listening: Arc::new(Mutex::new(None)),
            epoch: Arc::new(AtomicU64::new(0)),
            shutdown: Some(shutdown),
            thread: Some(thread),
        };
        cluster.listen(listener)?;
        Ok(cluster)
    }

    fn listen(&self, listener: std::net::TcpListener) -> Result<(), Error> {
        let _guard = self.handle.enter();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        *lock(&self.listening) = Some(spawn_serve(listener, self.shared.clone()));
        Ok(())
    }

    /// The cluster (and kubeconfig context) name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://<addr>`, or `https://<addr>` for a cluster started with TLS.
    pub fn url(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.shared.addr)
    }

    /// The PEM of the CA that signed the serving certificate (HTTPS clusters only).
    pub fn ca_pem(&self) -> Option<&str> {
        self.shared.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// The token [`crate::write_kubeconfig`] gives this cluster's user: `kubefake-<name>`.
    pub fn default_token(&self) -> String {
        format!("kubefake-{}", self.shared.name)
    }

    // ---- faults -------------------------------------------------------------------------

    /// Closes every open connection (and so every watch) now; the server keeps listening.
    pub fn drop_connections(&self) {
        let mut t = lock(&self.shared.conns);
        t.cancel();
        *t = CancellationToken::new();
    }

    /// Stops listening and drops every connection: the cluster is unreachable (connection
    /// refused) until [`FakeCluster::resume`]. Stored objects are kept. Returns once the
    /// listening socket is closed (waits at most a second for the server thread).
    pub fn stop(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let listening = lock(&self.listening).take();
        if let Some(l) = listening {
            l.stop.cancel();
            let _ = l.done.recv_timeout(Duration::from_secs(1));
        }
        self.drop_connections();
    }

    /// Whether the server is listening.
    pub fn is_listening(&self) -> bool {
        lock(&self.listening).is_some()
    }

    /// Listens again on the same address after [`FakeCluster::stop`] (no-op if listening).
    pub fn resume(&self) -> Result<(), Error> {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if self.is_listening() {
            return Ok(());
        }
        let addr = self.shared.addr;
        let mut last = None;
        // The old socket may take a moment to be released by the runtime thread.
        for _ in 0..50 {
            match bind(addr) {
                Ok(l) => return self.listen(l),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(Error::Bind {
            addr,
            source: last.unwrap_or_else(|| std::io::Error::other("bind failed")),
        })
    }

    /// Simulates an apiserver restart: stop listening and drop every connection now, then
    /// listen again on the same address after `down_for` (in the background; this returns at
    /// once). Objects are kept. Without `compact_history` watchers resume from their
    /// resourceVersion; with it the history is dropped and the resourceVersion moves on (as
    /// other writers would move it in a real cluster), so every watcher resuming from before
    /// the restart gets 410 Expired and relists.
    pub fn restart(&self, down_for: Duration, compact_history: bool) {
        self.stop();
        if compact_history {
            lock(&self.shared.store).compact_past();
        }
        self.listen_after(down_for);
    }

    /// Simulates an apiserver that comes back with an empty store (a wiped or restored etcd):
    /// stop, forget every object and the history (the resourceVersion starts again at 1),
    /// listen again after `down_for`. Clients holding newer resourceVersions get the 504
    /// "Too large resource version" answer on list and watch until they relist from scratch.
    /// The write log is kept.
    pub fn restart_empty(&self, down_for: Duration) {
        self.stop();
        let o = &self.shared.options;
        *lock(&self.shared.store) = Store::new(
            &self.shared.registry,
            o.history_limit,
            o.auto_create_namespaces,
        );
        self.listen_after(down_for);
    }

    /// Listens again on the same address after `down_for`, in the background.
    fn listen_after(&self, down_for: Duration) {
        let epoch = self.epoch.load(Ordering::SeqCst);
        let epochs = self.epoch.clone();
        let listening = self.listening.clone();
        let shared = self.shared.clone();
        let addr = self.shared.addr;
        self.handle.spawn(async move {
            tokio::time::sleep(down_for).await;
            for _ in 0..100 {
                {
                    let mut current = lock(&listening);
                    if epochs.load(Ordering::SeqCst) != epoch || current.is_some() {
                        return;
                    }
                    if let Ok(listener) = bind(addr).and_then(tokio::net::TcpListener::from_std) {
                        *current = Some(spawn_serve(listener, shared));
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tracing::error!(%addr, "kubefake: could not listen again after restart");
        });
    }

    /// Answers the next `n` requests with HTTP 500 InternalError.
    pub fn fail_next(&self, n: u32) {
        self.fail_next_with(n, 500, None);
    }

    /// Answers the next `n` requests whose `path?query` contains `path_contains` (all if
    /// None; e.g. `"/status"` or `"watch=true"`) with
    /// `code` (a `Status` body; 429 and 503 carry `Retry-After: 1`, which kube retries).
    pub fn fail_next_with(&self, n: u32, code: u16, path_contains: Option<&str>) {
        let mut f = lock(&self.shared.faults);
        f.fail_next = n;
        f.fail_code = code;
        f.fail_path = path_contains.map(String::from);
    }

    /// Delays every response by `latency` (zero to turn off).
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.shared.faults).latency = latency;
    }

    /// Every watcher must relist: the history is dropped past the current resourceVersion
    /// and every connection is closed, so each watch resuming from where it was gets an
    /// `ERROR` event with a 410 Expired status (however the reconnect races with this call).
    pub fn expire_all_watches(&self) {
        lock(&self.shared.store).compact_past();
        self.drop_connections();
    }

    /// The next `n` watch requests get an immediate `ERROR` event with a 410 Expired status.
    /// A watch that is already on its way may take it and then be cut by a concurrent
    /// [`FakeCluster::drop_connections`]; to make every watcher relist use
    /// [`FakeCluster::expire_all_watches`].
    pub fn expire_next_watches(&self, n: u32) {
        lock(&self.shared.faults).gone_next_watches = n;
    }

    /// Drops the event history now: watches resuming from a resourceVersion older than the
    /// current one get 410 (a watcher that has seen everything resumes fine, as after a real
    /// compaction; see [`FakeCluster::restart`] to expire every watcher).
    pub fn compact(&self) {
        lock(&self.shared.store).compact();
    }

    /// Only these bearer tokens are accepted (others get 401, unless the
    /// [`FakeCluster::authenticate_with`] authenticator accepts them); None accepts any
    /// request when no authenticator is set either.
    pub fn require_tokens(&self, tokens: Option<Vec<String>>) {
        *lock(&self.shared.tokens) = tokens;
    }

    /// Every request must carry a bearer token `authenticator` accepts (or one listed in
    /// [`FakeCluster::require_tokens`]); others get 401 Unauthorized. None removes it.
    pub fn authenticate_with(&self, authenticator: Option<Arc<dyn crate::auth::Authenticator>>) {
        *lock(&self.shared.authenticator) = authenticator;
    }

    /// Denies `verb` on `resource` (plural, `plural/status`) of `group` ("" for core) to every
    /// user: such requests get 403 Forbidden and `SelfSubjectAccessReview`s say
    /// `allowed: false`. `*` matches anything.
    pub fn deny(&self, verb: &str, group: &str, resource: &str) {
        lock(&self.shared.denied).push(crate::authz::Deny {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
        });
    }

    /// Lifts every [`FakeCluster::deny`].
    pub fn allow_all(&self) {
        lock(&self.shared.denied).clear();
    }

    // ---- observation ----------------------------------------------------------------------

    /// Every mutating request so far (and writes through this handle).
    pub fn write_log(&self) -> Vec<WriteRecord> {
        lock(&self.shared.log).clone()
    }

    /// Empties the write log (counters are kept).
    pub fn clear_write_log(&self) {
        lock(&self.shared.log).clear();
    }

    /// Mutating requests answered with an error (4xx/5xx, injected faults excluded).
    pub fn rejected_writes(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }

    /// Mutating requests rejected with 422 Invalid.
    pub fn invalid_writes(&self) -> u64 {
        self.shared.invalid.load(Ordering::Relaxed)
    }

    /// HTTP requests received.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Watch streams currently open.
    pub fn open_watches(&self) -> u64 {
        self.shared.open_watches.load(Ordering::Relaxed)
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.store).rv()
    }

    // ---- objects "as kubectl" ---------------------------------------------------------------

    /// Where a handle write of `obj` goes: its type (by apiVersion and kind), namespace and name.
    fn target(&self, obj: &Value) -> Result<Target, ApiError> {
        let (rid, version) = self
            .resolve(obj)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Target {
            ns: ns_of(obj, &self.shared.registry.types[rid]),
            name: crate::meta::meta_str(obj, "name").to_string(),
            rid,
            version,
        })
    }

    fn resolve(&self, obj: &Value) -> Result<(usize, String), Error> {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        self.resolve_kind(api_version, kind)
    }

    fn resolve_kind(&self, api_version: &str, kind: &str) -> Result<(usize, String), Error> {
        self.shared
            .registry
            .by_kind(api_version, kind)
            .ok_or_else(|| Error::UnknownType {
                api_version: api_version.into(),
                kind: kind.into(),
            })
    }

    fn opts(version: &str) -> WriteOpts {
        WriteOpts {
            version: version.to_string(),
            field_validation: FieldValidation::Strict,
            field_manager: Some(HANDLE_MANAGER.into()),
            dry_run: false,
        }
    }

    fn log_handle(
        &self,
        verb: &str,
        rid: usize,
        ns: &str,
        name: &str,
        sub: bool,
        r: &Result<Written, ApiError>,
    ) {
        let rt = &self.shared.registry.types[rid];
        let (code, reason, changed) = match r {
            Ok(w) if verb == "create" => (201, None, w.changed),
            Ok(w) => (200, None, w.changed),
            Err(e) => (e.code, Some(e.reason.clone()), false),
        };
        if code >= 400 {
            self.shared.rejected.fetch_add(1, Ordering::Relaxed);
        }
        if code == 422 {
            self.shared.invalid.fetch_add(1, Ordering::Relaxed);
        }
        lock(&self.shared.log).push(WriteRecord {
            time: SystemTime::now(),
            verb: verb.into(),
            method: "TEST".into(),
            path: String::new(),
            query: String::new(),
            resource: rt.plural.clone(),
            namespace: (!ns.is_empty()).then(|| ns.to_string()),
            name: Some(name.to_string()),
            subresource: sub.then(|| "status".to_string()),
            content_type: None,
            field_manager: Some(HANDLE_MANAGER.into()),
            user_agent: Some("kubefake-handle".into()),
            token: None,
            body: None,
            code,
            reason,
            changed,
            validated: code < 300 || code == 422,
        });
    }

    fn to_value<T: Serialize>(obj: &T) -> Result<Value, ApiError> {
        serde_json::to_value(obj).map_err(|e| ApiError::bad_request(e.to_string()))
    }

    fn out(
        &self,
        rid: usize,
        version: &str,
        r: Result<Written, ApiError>,
    ) -> Result<Value, ApiError> {
        r.map(|w| present(&w.object, &self.shared.registry.types[rid], version))
    }

    /// Creates an object as `kubectl create` would (validated, unknown fields rejected,
    /// status dropped for types with a status subresource).
    pub fn create<T: Serialize>(&self, obj: &T) -> Result<Value, ApiError> {
        let obj = Self::to_value(obj)?;
        let Target {
            rid,
            version,
            ns,
            name,
        } = self.target(&obj)?;
        let r = lock(&self.shared.store).create(
            &self.shared.registry,
            rid,
            &ns,
            obj,
            &Self::opts(&version),
        );
        self.log_handle("create", rid, &ns, &name, false, &r);
        self.out(rid, &version, r)
    }

    /// Creates the object, then writes its `status` through the status subresource (two
    /// resourceVersions, as a controller would): for seeding Services with load-balancer
    /// addresses or fleet objects with conditions.
    pub fn create_with_status<T: Serialize>(&self, obj: &T) -> Result<Value, ApiError> {
        let obj = Self::to_value(obj)?;
        let created = self.create(&obj)?;
        match obj.get("status") {
            Some(status) if !status.is_null() => {
                let mut with_status = created;
                with_status["status"] = status.clone();
                self.replace_status(&with_status)
            }
            _ => Ok(created),
        }
    }

    /// Server-side apply as `kubectl apply --server-side --force-conflicts` (creates if absent).
    pub fn apply<T: Serialize>(&self, obj: &T) -> Result<Value, ApiError> {
        self.apply_sub(obj, false)
    }

    /// Applies every document of a (multi-document) YAML manifest, as
    /// `kubectl apply --server-side -f`: the first failure stops and is returned.
    pub fn apply_yaml(&self, yaml: &str) -> Result<Vec<Value>, ApiError> {
        let mut out = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(yaml) {
            let v = Value::deserialize(doc)
                .map_err(|e| ApiError::bad_request(format!("error parsing YAML: {e}")))?;
            if v.is_null() {
                continue;
            }
            out.push(self.apply(&v)?);
        }
        Ok(out)
    }

    /// Server-side apply to the status subresource.
    pub fn apply_status<T: Serialize>(&self, obj: &T) -> Result<Value, ApiError> {
        self.apply_sub(obj, true)
    }

    fn apply_sub<T: Serialize>(&self, obj: &T, status: bool) -> Result<Value, ApiError> {
        let obj = Self::to_value(obj)?;
        let Target {
            rid,
            version,
            ns,
            name,
        } = self.target(&obj)?;
        let r = lock(&self.shared.store).patch(
            &self.shared.registry,
            rid,
            &ns,
            &name,
            PatchKind::Apply { force: true },
            &obj,
            status,
            &Self::opts(&version),
        );
        self.log_handle("apply", rid, &ns, &name, status, &r);
        self.out(rid, &version, r)
    }

    /// Replaces the object (PUT semantics: a non-empty `metadata.resourceVersion` must be
    /// current; status is ignored for types with a status subresource).
    pub fn update<T: Serialize>(&self, obj: &T) -> Result<Value, ApiError> {
        self.replace_sub(obj, false)
    }

    /// Replaces the status (PUT to `/status`; only `status` changes).
    pub fn replace_status<T: Serialize>(&self, obj: &T) -> Result<Value, ApiError> {
        self.replace_sub(obj, true)
    }

    fn replace_sub<T: Serialize>(&self, obj: &T, status: bool) -> Result<Value, ApiError> {
        let obj = Self::to_value(obj)?;
        let Target {
            rid,
            version,
            ns,
            name,
        } = self.target(&obj)?;
        let r = lock(&self.shared.store).replace(
            &self.shared.registry,
            rid,
            &ns,
            &name,
            obj,
            status,
            &Self::opts(&version),
        );
        self.log_handle("update", rid, &ns, &name, status, &r);
        self.out(rid, &version, r)
    }

    /// JSON merge patch of the main resource (`status: false`) or of `/status`.
    pub fn merge_patch(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
        patch: &Value,
        status: bool,
    ) -> Result<Value, ApiError> {
        let (rid, version) = self
            .resolve_kind(api_version, kind)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let r = lock(&self.shared.store).patch(
            &self.shared.registry,
            rid,
            ns,
            name,
            PatchKind::Merge,
            patch,
            status,
            &Self::opts(&version),
        );
        self.log_handle("patch", rid, ns, name, status, &r);
        self.out(rid, &version, r)
    }

    /// Deletes as `kubectl delete` (objects with finalizers get a deletionTimestamp and stay
    /// until the finalizers are removed). Returns the object's last state.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let (rid, version) = self
            .resolve_kind(api_version, kind)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let r = lock(&self.shared.store).delete(
            &self.shared.registry,
            rid,
            ns,
            name,
            &DeleteOpts::default(),
        );
        let w = r.map(|d| match d {
            Deleted::Pending(o) | Deleted::Gone(o) => Written {
                object: o,
                warnings: Vec::new(),
                changed: true,
            },
        });
        self.log_handle("delete", rid, ns, name, false, &w);
        self.out(rid, &version, w)
    }

    /// Deletes the object named by `obj`'s apiVersion, kind, namespace and name (as
    /// `kubectl delete -f`).
    pub fn delete_obj<T: Serialize>(&self, obj: &T) -> Result<Value, ApiError> {
        let obj = Self::to_value(obj)?;
        let s = |p: &str| {
            obj.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let mut ns = s("/metadata/namespace");
        if ns.is_empty() {
            ns = "default".into();
        }
        self.delete(&s("/apiVersion"), &s("/kind"), &ns, &s("/metadata/name"))
    }

    /// One object, as served in `api_version`.
    pub fn get(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let (rid, version) = self.resolve_kind(api_version, kind).ok()?;
        let store = lock(&self.shared.store);
        let rt = &self.shared.registry.types[rid];
        let ns = if rt.namespaced { ns } else { "" };
        store.get(rid, ns, name).map(|o| present(o, rt, &version))
    }

    /// All objects of a type (in `ns`, or everywhere with None).
    pub fn list(&self, api_version: &str, kind: &str, ns: Option<&str>) -> Vec<Value> {
        let Ok((rid, version)) = self.resolve_kind(api_version, kind) else {
            return Vec::new();
        };
        let rt = &self.shared.registry.types[rid];
        lock(&self.shared.store)
            .snapshot(rid, ns, &Selector::default())
            .iter()
            .map(|o| present(o, rt, &version))
            .collect()
    }

    /// Polls `check` every 20 ms until it returns true or `timeout` passes; returns the last
    /// result. Blocking: call it from sync code or `spawn_blocking`. (The shared bounded
    /// loop, [`fleetdns_testsupport::wait::poll`]; use `wait::eventually` for a panic that
    /// says what was awaited.)
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&FakeCluster) -> bool,
    ) -> bool {
        fleetdns_testsupport::wait::poll(
            "a fake cluster condition",
            timeout,
            Duration::from_millis(20),
            || check(self),
        )
        .is_ok()
    }
}

fn ns_of(obj: &Value, rt: &crate::registry::ResourceType) -> String {
    if !rt.namespaced {
        return String::new();
    }
    let ns = crate::meta::meta_str(obj, "namespace");
    if ns.is_empty() {
        "default".to_string()
    } else {
        ns.to_string()
    }
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        self.stop();
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The type, served version, namespace and name a handle write addresses.
struct Target {
    rid: usize,
    version: String,
    ns: String,
    name: String,
}
