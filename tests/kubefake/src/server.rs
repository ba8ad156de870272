//! The HTTP side: accepting connections (each tied to a cancellation token so faults can drop
//! them), authentication by bearer token, fault injection, routing of API paths to the store,
//! and the write log.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::admission::FieldValidation;
use crate::body::Body;
use crate::discovery;
use crate::faults::Faults;
use crate::registry::Registry;
use crate::select::Selector;
use crate::status::{delete_success, ApiError};
use crate::store::{metadata_only, present, DeleteOpts, Deleted, PatchKind, Store, WriteOpts};
use crate::watch::{self, WatchRequest};
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
    /// Where the upstream CRD YAML files are.
    pub crd_dir: std::path::PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            history_limit: 1000,
            bookmark_interval: std::time::Duration::from_secs(5),
            auto_create_namespaces: true,
            default_watch_timeout: std::time::Duration::from_secs(1800),
            crd_dir: crate::registry::default_crd_dir(),
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

/// Accepts connections until `stop` is cancelled.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            r = listener.accept() => r,
        };
        // A connection that raced with stop() must not be served: the cluster is down.
        if stop.is_cancelled() {
            break;
        }
        let Ok((tcp, _peer)) = accepted else { continue };
        let conn_token = lock(&shared.conns).clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let token = conn_token.clone();
            let svc = service_fn(move |req| {
                let shared = shared.clone();
                let token = token.clone();
                async move { Ok::<_, Infallible>(handle(shared, req, token).await) }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(tcp), svc);
            tokio::select! {
                _ = conn => {}
                _ = conn_token.cancelled() => {}
            }
        });
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters (last value wins).
pub(crate) fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// A JSON response with optional `Warning` headers.
pub(crate) fn json_response(code: u16, v: &Value, warnings: &[String]) -> Response<Body> {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private");
    for w in warnings {
        let text = w.replace('"', "\\\"");
        b = b.header("warning", format!("299 - \"{text}\""));
    }
    b.body(Body::full(v.to_string()))
        .unwrap_or_else(|_| Response::new(Body::full("{}")))
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status(), &[])
}

/// A parsed resource path.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    pub rid: usize,
    pub version: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

fn not_found_path() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

/// Parses `/api/v1/...` and `/apis/<g>/<v>/...` resource paths.
pub(crate) fn route(reg: &Registry, path: &str) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found_path()),
    };
    let namespaced_type = |plural: &str| {
        reg.by_plural(group, version, plural)
            .filter(|i| reg.types[*i].namespaced)
    };
    let (rid, namespace, tail) = match rest {
        ["namespaces", ns, plural, tail @ ..] if namespaced_type(plural).is_some() => (
            namespaced_type(plural).expect("checked"),
            Some(ns.to_string()),
            tail,
        ),
        [plural, tail @ ..] => {
            let rid = reg
                .by_plural(group, version, plural)
                .ok_or_else(not_found_path)?;
            if reg.types[rid].namespaced && !tail.is_empty() {
                return Err(not_found_path());
            }
            (rid, None, tail)
        }
        [] => return Err(not_found_path()),
    };
    let (name, sub) = match tail {
        [] => (None, None),
        [n] => (Some(n.to_string()), None),
        [n, "status"] if reg.types[rid].status_subresource => {
            (Some(n.to_string()), Some("status".to_string()))
        }
        _ => return Err(not_found_path()),
    };
    Ok(Route {
        rid,
        version: version.to_string(),
        namespace,
        name,
        sub,
    })
}

struct Ctx {
    method: Method,
    path: String,
    query: String,
    params: HashMap<String, String>,
    content_type: Option<String>,
    user_agent: Option<String>,
    token: Option<String>,
    /// `Accept: application/json;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`.
    metadata_only: bool,
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    conn: CancellationToken,
) -> Response<Body> {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let ctx = Ctx {
        method: req.method().clone(),
        path: req.uri().path().to_string(),
        query: req.uri().query().unwrap_or("").to_string(),
        params: parse_query(req.uri().query().unwrap_or("")),
        content_type: header("content-type"),
        user_agent: header("user-agent"),
        token: header("authorization")
            .and_then(|a| a.strip_prefix("Bearer ").map(|t| t.trim().to_string())),
        metadata_only: header("accept").is_some_and(|a| a.contains("as=PartialObjectMetadata")),
    };
    let (latency, injected) = {
        let mut f = lock(&shared.faults);
        (f.latency, f.take_failure(&ctx.path))
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => bytes::Bytes::new(),
    };
    let mutating = matches!(
        ctx.method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let route = route(&shared.registry, &ctx.path);
    if let Some(code) = injected {
        let e = ApiError::new(
            code,
            if code == 429 {
                "TooManyRequests"
            } else {
                "InternalError"
            },
            format!("kubefake: injected failure ({code})"),
        );
        if mutating {
            record(
                &shared,
                &ctx,
                route.as_ref().ok(),
                None,
                code,
                Some("InjectedFault".into()),
                false,
                false,
            );
        }
        let mut r = error_response(&e);
        if code == 429 || code == 503 {
            r.headers_mut()
                .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
        }
        return r;
    }
    if let Some(allowed) = lock(&shared.tokens).as_ref() {
        if !ctx.token.as_ref().is_some_and(|t| allowed.contains(t)) {
            let e = ApiError::new(401, "Unauthorized", "Unauthorized");
            if mutating {
                record(
                    &shared,
                    &ctx,
                    route.as_ref().ok(),
                    None,
                    401,
                    Some("Unauthorized".into()),
                    false,
                    false,
                );
            }
            return error_response(&e);
        }
    }
    if ctx.method == Method::GET {
        if matches!(ctx.path.as_str(), "/healthz" | "/livez" | "/readyz") {
            return Response::builder()
                .header("content-type", "text/plain")
                .body(Body::full("ok"))
                .unwrap_or_else(|_| Response::new(Body::full("ok")));
        }
        if let Some(doc) = discovery::answer(&shared.registry, &ctx.path, &shared.addr.to_string())
        {
            return json_response(200, &doc, &[]);
        }
    }
    let route = match route {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    if ctx.method == Method::GET && route.name.is_none() && is_true(ctx.params.get("watch")) {
        return match watch_request(&shared, &ctx, &route) {
            Ok(w) => watch::start(shared.clone(), w, conn),
            Err(e) => error_response(&e),
        };
    }
    let result = dispatch(&shared, &ctx, &route, &body);
    if mutating {
        let (code, reason, changed, name) = match &result {
            Ok(r) => (r.code, None, r.changed, r.name.clone()),
            Err(e) => (e.code, Some(e.reason.clone()), false, None),
        };
        let verb_validated =
            ctx.method != Method::DELETE && (200..300).contains(&code) || code == 422;
        record(
            &shared,
            &ctx,
            Some(&route),
            name,
            code,
            reason,
            changed,
            verb_validated,
        );
    }
    match result {
        Ok(r) => json_response(r.code, &r.body, &r.warnings),
        Err(e) => error_response(&e),
    }
}

fn is_true(v: Option<&String>) -> bool {
    v.is_some_and(|v| v == "true" || v == "1")
}

#[allow(clippy::too_many_arguments)]
fn record(
    shared: &Shared,
    ctx: &Ctx,
    route: Option<&Route>,
    name: Option<String>,
    code: u16,
    reason: Option<String>,
    changed: bool,
    validated: bool,
) {
    if code >= 400 && reason.as_deref() != Some("InjectedFault") {
        shared.rejected.fetch_add(1, Ordering::Relaxed);
    }
    if code == 422 {
        shared.invalid.fetch_add(1, Ordering::Relaxed);
    }
    let verb = match ctx.method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH
            if ctx
                .content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("application/apply-patch")) =>
        {
            "apply"
        }
        Method::PATCH => "patch",
        Method::DELETE if route.is_some_and(|r| r.name.is_none()) => "deletecollection",
        _ => "delete",
    };
    let rec = WriteRecord {
        time: SystemTime::now(),
        verb: verb.into(),
        method: ctx.method.to_string(),
        path: ctx.path.clone(),
        query: ctx.query.clone(),
        resource: route
            .map(|r| shared.registry.types[r.rid].plural.clone())
            .unwrap_or_default(),
        namespace: route.and_then(|r| r.namespace.clone()),
        name: name.or_else(|| route.and_then(|r| r.name.clone())),
        subresource: route.and_then(|r| r.sub.clone()),
        content_type: ctx.content_type.clone(),
        field_manager: ctx.params.get("fieldManager").cloned(),
        user_agent: ctx.user_agent.clone(),
        token: ctx.token.clone(),
        code,
        reason,
        changed,
        validated,
    };
    lock(&shared.log).push(rec);
}

/// A successful answer.
struct Reply {
    code: u16,
    body: Value,
    warnings: Vec<String>,
    changed: bool,
    name: Option<String>,
}

impl Reply {
    fn ok(code: u16, body: Value) -> Reply {
        Reply {
            code,
            body,
            warnings: Vec::new(),
            changed: false,
            name: None,
        }
    }
}

fn parse_body(body: &[u8], yaml_ok: bool) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(e) if yaml_ok => serde_yaml::from_slice::<Value>(body)
            .map_err(|y| ApiError::bad_request(format!("error decoding YAML: {y} (as JSON: {e})"))),
        Err(e) => Err(ApiError::bad_request(format!("error decoding JSON: {e}"))),
    }
}

fn write_opts(ctx: &Ctx, route: &Route) -> WriteOpts {
    WriteOpts {
        version: route.version.clone(),
        field_validation: FieldValidation::parse(
            ctx.params.get("fieldValidation").map(String::as_str),
        ),
        field_manager: ctx.params.get("fieldManager").cloned().or_else(|| {
            // The apiserver derives a manager from the user agent when none is given.
            ctx.user_agent
                .as_ref()
                .map(|ua| ua.split('/').next().unwrap_or(ua).to_string())
        }),
        dry_run: ctx.params.get("dryRun").is_some_and(|d| d == "All"),
    }
}

fn dispatch(shared: &Shared, ctx: &Ctx, route: &Route, body: &[u8]) -> Result<Reply, ApiError> {
    let reg = &shared.registry;
    let rt = &reg.types[route.rid];
    let ns = route.namespace.clone().unwrap_or_default();
    let status_only = route.sub.is_some();
    match (&ctx.method, &route.name) {
        (&Method::GET, None) => {
            let sel = Selector::parse(
                ctx.params.get("labelSelector").map(String::as_str),
                ctx.params.get("fieldSelector").map(String::as_str),
            )?;
            let store = lock(&shared.store);
            check_list_rv(&store, ctx)?;
            let limit = ctx.params.get("limit").and_then(|l| l.parse().ok());
            let page = store.list(
                route.rid,
                route.namespace.as_deref(),
                &sel,
                limit,
                ctx.params.get("continue").map(String::as_str),
            )?;
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|o| {
                    if ctx.metadata_only {
                        metadata_only(o)
                    } else {
                        present(o, rt, &route.version)
                    }
                })
                .collect();
            let mut meta = json!({"resourceVersion": page.rv.to_string()});
            if let Some(c) = page.continue_token {
                meta["continue"] = json!(c);
                meta["remainingItemCount"] = json!(page.remaining);
            }
            let (kind, api_version) = if ctx.metadata_only {
                (
                    "PartialObjectMetadataList".to_string(),
                    "meta.k8s.io/v1".to_string(),
                )
            } else {
                (format!("{}List", rt.kind), rt.api_version(&route.version))
            };
            Ok(Reply::ok(
                200,
                json!({
                    "kind": kind,
                    "apiVersion": api_version,
                    "metadata": meta,
                    "items": items,
                }),
            ))
        }
        (&Method::GET, Some(name)) => {
            let store = lock(&shared.store);
            match store.get(route.rid, &ns, name) {
                Some(o) if ctx.metadata_only => Ok(Reply::ok(200, metadata_only(o))),
                Some(o) => Ok(Reply::ok(200, present(o, rt, &route.version))),
                None => Err(ApiError::not_found(&rt.qualified(), name)),
            }
        }
        (&Method::POST, None) => {
            if rt.namespaced && route.namespace.is_none() {
                return Err(ApiError::new(
                    405,
                    "MethodNotAllowed",
                    "create requires a namespace in the path",
                ));
            }
            let obj = parse_body(body, true)?;
            let w =
                lock(&shared.store).create(reg, route.rid, &ns, obj, &write_opts(ctx, route))?;
            Ok(Reply {
                code: 201,
                name: Some(crate::meta::meta_str(&w.object, "name").to_string()),
                body: present(&w.object, rt, &route.version),
                warnings: w.warnings,
                changed: w.changed,
            })
        }
        (&Method::PUT, Some(name)) => {
            let obj = parse_body(body, true)?;
            let w = lock(&shared.store).replace(
                reg,
                route.rid,
                &ns,
                name,
                obj,
                status_only,
                &write_opts(ctx, route),
            )?;
            Ok(Reply {
                code: 200,
                name: None,
                body: present(&w.object, rt, &route.version),
                warnings: w.warnings,
                changed: w.changed,
            })
        }
        (&Method::PATCH, Some(name)) => {
            let ct = ctx
                .content_type
                .as_deref()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            let kind = match ct.as_str() {
                "application/merge-patch+json" => PatchKind::Merge,
                "application/json-patch+json" => PatchKind::Json,
                "application/strategic-merge-patch+json" => PatchKind::Strategic,
                "application/apply-patch+yaml" | "application/apply-patch+json" => {
                    PatchKind::Apply {
                        force: is_true(ctx.params.get("force")),
                    }
                }
                other => {
                    return Err(ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other:?})")));
                }
            };
            let patch = parse_body(body, matches!(kind, PatchKind::Apply { .. }))?;
            let mut store = lock(&shared.store);
            let existed = store.get(route.rid, &ns, name).is_some();
            let w = store.patch(
                reg,
                route.rid,
                &ns,
                name,
                kind,
                &patch,
                status_only,
                &write_opts(ctx, route),
            )?;
            let code = if existed { 200 } else { 201 };
            Ok(Reply {
                code,
                name: None,
                body: present(&w.object, rt, &route.version),
                warnings: w.warnings,
                changed: w.changed,
            })
        }
        (&Method::DELETE, Some(name)) => {
            let opts = delete_opts(ctx, body);
            match lock(&shared.store).delete(reg, route.rid, &ns, name, &opts)? {
                Deleted::Pending(o) => Ok(Reply {
                    code: 200,
                    name: None,
                    body: present(&o, rt, &route.version),
                    warnings: Vec::new(),
                    changed: !opts.dry_run,
                }),
                Deleted::Gone(o) => Ok(Reply {
                    code: 200,
                    name: None,
                    body: delete_success(
                        &rt.group,
                        &rt.plural,
                        name,
                        crate::meta::meta_str(&o, "uid"),
                    ),
                    warnings: Vec::new(),
                    changed: !opts.dry_run,
                }),
            }
        }
        (&Method::DELETE, None) => {
            let sel = Selector::parse(
                ctx.params.get("labelSelector").map(String::as_str),
                ctx.params.get("fieldSelector").map(String::as_str),
            )?;
            let opts = delete_opts(ctx, body);
            let mut store = lock(&shared.store);
            let victims = store.snapshot(route.rid, route.namespace.as_deref(), &sel);
            let mut items = Vec::new();
            for v in victims {
                let vns = crate::meta::meta_str(&v, "namespace").to_string();
                let vname = crate::meta::meta_str(&v, "name").to_string();
                match store.delete(reg, route.rid, &vns, &vname, &opts)? {
                    Deleted::Pending(o) | Deleted::Gone(o) => {
                        items.push(present(&o, rt, &route.version))
                    }
                }
            }
            Ok(Reply {
                code: 200,
                name: None,
                body: json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(&route.version),
                             "metadata": {"resourceVersion": store.rv().to_string()}, "items": items}),
                warnings: Vec::new(),
                changed: true,
            })
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{} is not supported on {}", ctx.method, ctx.path),
        )),
    }
}

/// `resourceVersion` + `resourceVersionMatch` on list: an Exact version older than the kept
/// history is 410 Expired; a version newer than the store is 504 "Too large resource version"
/// (as a real apiserver answers after its wait). Otherwise the current state is served.
fn check_list_rv(store: &Store, ctx: &Ctx) -> Result<(), ApiError> {
    let Some(rv) = ctx
        .params
        .get("resourceVersion")
        .filter(|r| !r.is_empty() && *r != "0")
    else {
        return Ok(());
    };
    let rv: u64 = rv
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?;
    if rv > store.rv() {
        return Err(ApiError::new(
            504,
            "Timeout",
            format!("Too large resource version: {rv}, current: {}", store.rv()),
        ));
    }
    if ctx
        .params
        .get("resourceVersionMatch")
        .is_some_and(|m| m == "Exact")
        && rv < store.compacted_rv()
    {
        return Err(ApiError::expired(rv, store.compacted_rv()));
    }
    Ok(())
}

fn delete_opts(ctx: &Ctx, body: &[u8]) -> DeleteOpts {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(String::from);
    DeleteOpts {
        uid: s("/preconditions/uid"),
        resource_version: s("/preconditions/resourceVersion"),
        dry_run: ctx.params.get("dryRun").is_some_and(|d| d == "All")
            || v.get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x == "All")),
    }
}

fn watch_request(shared: &Shared, ctx: &Ctx, route: &Route) -> Result<WatchRequest, ApiError> {
    let sel = Selector::parse(
        ctx.params.get("labelSelector").map(String::as_str),
        ctx.params.get("fieldSelector").map(String::as_str),
    )?;
    let rv = ctx
        .params
        .get("resourceVersion")
        .cloned()
        .unwrap_or_default();
    let from = if rv.is_empty() || rv == "0" {
        None
    } else {
        Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?,
        )
    };
    let timeout = ctx
        .params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(std::time::Duration::from_secs)
        .unwrap_or(shared.options.default_watch_timeout);
    Ok(WatchRequest {
        rid: route.rid,
        version: route.version.clone(),
        namespace: route.namespace.clone(),
        selector: sel,
        from,
        timeout,
        bookmarks: is_true(ctx.params.get("allowWatchBookmarks")),
        send_initial_events: is_true(ctx.params.get("sendInitialEvents")),
        metadata_only: ctx.metadata_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query("labelSelector=app%3Dweb%2Ctier&watch=true&x");
        assert_eq!(q["labelSelector"], "app=web,tier");
        assert_eq!(q["watch"], "true");
        assert_eq!(q["x"], "");
    }

    #[test]
    fn routes() {
        let reg = Registry::load(&crate::registry::default_crd_dir()).unwrap();
        let r = route(&reg, "/apis/networking.fleet.azure.com/v1beta1/namespaces/ns/trafficmanagerprofiles/p/status").unwrap();
        assert_eq!(reg.types[r.rid].kind, "TrafficManagerProfile");
        assert_eq!(
            (r.namespace.as_deref(), r.name.as_deref(), r.sub.as_deref()),
            (Some("ns"), Some("p"), Some("status"))
        );
        let r = route(&reg, "/api/v1/namespaces/ns").unwrap();
        assert_eq!(reg.types[r.rid].kind, "Namespace");
        assert_eq!(r.name.as_deref(), Some("ns"));
        let r = route(&reg, "/api/v1/services").unwrap();
        assert!(r.namespace.is_none() && r.name.is_none());
        assert!(route(
            &reg,
            "/apis/coordination.k8s.io/v1/namespaces/a/leases/l/status"
        )
        .is_err());
        assert!(route(
            &reg,
            "/apis/networking.fleet.azure.com/v2/trafficmanagerprofiles"
        )
        .is_err());
    }
}
