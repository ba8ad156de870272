//! Watch streams: `metav1.WatchEvent` JSON lines (`{"type":…,"object":…}`) from a
//! resourceVersion, with BOOKMARKs, `timeoutSeconds`, `sendInitialEvents`, and the 410
//! behaviour kube-runtime relies on: a too-old resourceVersion is answered with HTTP 200 and
//! one `ERROR` event carrying a `Status` with `code: 410, reason: Expired`, then the stream
//! ends (an HTTP 410 would make kube-runtime retry the same resourceVersion forever). A
//! resourceVersion the store has not reached gets an `ERROR` event with the 504 "Too large
//! resource version" `Status` instead, as the watch cache answers after an etcd restore.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Response;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::body::Body;
use crate::select::Selector;
use crate::shared::{lock, Shared};
use crate::status::ApiError;
use crate::store::{metadata_only, present, EventKind};

/// A parsed watch request.
#[derive(Clone, Debug)]
pub struct WatchRequest {
    /// Resource id.
    pub rid: usize,
    /// Requested version.
    pub version: String,
    /// Namespace, None for all.
    pub namespace: Option<String>,
    /// Filters.
    pub selector: Selector,
    /// Start after this resourceVersion; None ("" or "0"): send the current state as ADDED first.
    pub from: Option<u64>,
    /// When the server ends the stream.
    pub timeout: Duration,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: current state, then a BOOKMARK annotated
    /// `k8s.io/initial-events-end: "true"`.
    pub send_initial_events: bool,
    /// Objects as `PartialObjectMetadata` (metadata watches).
    pub metadata_only: bool,
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut s = json!({"type": kind, "object": object}).to_string();
    s.push('\n');
    Bytes::from(s)
}

/// Starts the stream: returns the 200 response whose body a spawned task feeds.
pub fn start(shared: Arc<Shared>, w: WatchRequest, conn: CancellationToken) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let gone = lock(&shared.faults).take_gone();
    tokio::spawn(async move {
        shared.open_watches.fetch_add(1, Ordering::Relaxed);
        run(&shared, w, tx, conn, gone).await;
        shared.open_watches.fetch_sub(1, Ordering::Relaxed);
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private")
        .body(Body::Stream(rx))
        .unwrap_or_else(|_| Response::new(Body::full("")))
}

async fn run(
    shared: &Shared,
    w: WatchRequest,
    tx: mpsc::Sender<Bytes>,
    conn: CancellationToken,
    gone: bool,
) {
    let rt = shared.registry.types[w.rid].clone();
    let bookmark = |rv: u64, initial_end: bool| {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let (kind, api_version) = if w.metadata_only {
            (
                "PartialObjectMetadata".to_string(),
                "meta.k8s.io/v1".to_string(),
            )
        } else {
            (rt.kind.clone(), rt.api_version(&w.version))
        };
        line(
            "BOOKMARK",
            &json!({"kind": kind, "apiVersion": api_version, "metadata": meta}),
        )
    };
    let show = |obj: &Value| {
        if w.metadata_only {
            metadata_only(obj)
        } else {
            present(obj, &rt, &w.version)
        }
    };
    let expired = |e: ApiError| line("ERROR", &e.to_status());
    if gone {
        let rv = lock(&shared.store).rv();
        let _ = tx
            .send(expired(ApiError::expired(w.from.unwrap_or(0), rv)))
            .await;
        return;
    }
    let deadline = Instant::now() + w.timeout;
    let in_scope = |ns: &str| w.namespace.as_deref().is_none_or(|n| n == ns);
    // Initial state and the starting point, taken atomically.
    let start = {
        let store = lock(&shared.store);
        let changes = store.subscribe();
        if w.from.is_none() || w.send_initial_events {
            let snap = store.snapshot(w.rid, w.namespace.as_deref(), &w.selector);
            Ok((snap, store.rv(), changes))
        } else {
            let from = w.from.unwrap_or(0);
            if from > store.rv() {
                // The watch cache's answer to a resourceVersion it has not reached (after an
                // etcd restore, or a store that began again at 1): an ERROR event with the
                // 504 "Too large resource version" Status.
                Err(ApiError::too_large_rv(from, store.rv()))
            } else if from < store.compacted_rv() {
                Err(ApiError::expired(from, store.compacted_rv()))
            } else {
                Ok((Vec::new(), from, changes))
            }
        }
    };
    let (initial, mut cursor, mut changes) = match start {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(expired(e)).await;
            return;
        }
    };
    for obj in &initial {
        if tx.send(line("ADDED", &show(obj))).await.is_err() {
            return;
        }
    }
    if w.send_initial_events && tx.send(bookmark(cursor, true)).await.is_err() {
        return;
    }
    let mut tick = tokio::time::interval_at(
        Instant::now() + shared.options.bookmark_interval,
        shared.options.bookmark_interval,
    );
    loop {
        let batch = {
            let store = lock(&shared.store);
            match store.events_after(cursor) {
                Ok(events) => Ok((events, store.rv())),
                Err(oldest) => Err(ApiError::expired(cursor, oldest)),
            }
        };
        let (events, now_rv) = match batch {
            Ok(b) => b,
            Err(e) => {
                let _ = tx.send(expired(e)).await;
                return;
            }
        };
        for e in events {
            if e.resource != w.rid || !in_scope(&e.namespace) {
                continue;
            }
            let now_in = e.kind != EventKind::Deleted && w.selector.matches(&e.object);
            let was_in = e.prev.as_ref().is_some_and(|p| w.selector.matches(p));
            let kind = match (e.kind, was_in, now_in) {
                (EventKind::Added, _, true) => "ADDED",
                (EventKind::Modified, true, true) => "MODIFIED",
                (EventKind::Modified, false, true) => "ADDED",
                (EventKind::Modified, true, false) => "DELETED",
                (EventKind::Deleted, true, _) => "DELETED",
                _ => continue,
            };
            if tx.send(line(kind, &show(&e.object))).await.is_err() {
                return;
            }
        }
        cursor = cursor.max(now_rv);
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            _ = tick.tick(), if w.bookmarks => {
                if tx.send(bookmark(cursor, false)).await.is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(deadline) => return,
            _ = tx.closed() => return,
            _ = conn.cancelled() => return,
        }
    }
}
