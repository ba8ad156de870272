//! The HTTP side: accepting connections (each tied to a cancellation token so faults can drop
//! them), authentication by bearer token, authorization (test-set denials), fault injection,
//! content negotiation (protobuf bodies, Table answers), routing of API paths to the store,
//! and the write log.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::body::Body;
use crate::handlers::{dispatch, is_true, watch_request, Ctx};
use crate::route::{parse_query, route, Route};
use crate::shared::{lock, Shared};
use crate::status::ApiError;
use crate::watch;
use crate::writelog::WriteRecord;
use crate::{authz, discovery, openapi, protobuf, table};

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
            match shared.tls.as_ref().map(|t| t.acceptor.clone()) {
                None => serve_connection(tcp, shared, conn_token).await,
                Some(acceptor) => {
                    let handshake = tokio::select! {
                        r = acceptor.accept(tcp) => r,
                        _ = conn_token.cancelled() => return,
                    };
                    // A failed handshake (a client that does not trust the CA) just closes.
                    if let Ok(tls) = handshake {
                        serve_connection(tls, shared, conn_token).await;
                    }
                }
            }
        });
    }
}

/// Serves HTTP/1.1 on one (plain or TLS) connection until it ends or is dropped.
async fn serve_connection<IO>(io: IO, shared: Arc<Shared>, conn_token: CancellationToken)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let token = conn_token.clone();
    let svc = service_fn(move |req| {
        let shared = shared.clone();
        let token = token.clone();
        async move { Ok::<_, Infallible>(handle(shared, req, token).await) }
    });
    let conn = http1::Builder::new().serve_connection(TokioIo::new(io), svc);
    tokio::select! {
        _ = conn => {}
        _ = conn_token.cancelled() => {}
    }
}

/// Whether `token` passes the static token list or the authenticator (any request
/// passes when neither is set).
fn authenticated(shared: &Shared, token: Option<&str>) -> bool {
    let listed = lock(&shared.tokens).clone();
    let authenticator = lock(&shared.authenticator).clone();
    if listed.is_none() && authenticator.is_none() {
        return true;
    }
    let Some(token) = token else { return false };
    if listed.is_some_and(|l| l.iter().any(|t| t == token)) {
        return true;
    }
    match authenticator {
        Some(a) => match a.authenticate(token) {
            Ok(_) => true,
            Err(reason) => {
                tracing::debug!(cluster = %shared.name, %reason, "kubefake: bearer token refused");
                false
            }
        },
        None => false,
    }
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

pub(crate) fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status(), &[])
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
        body: None,
    };
    let accept = header("accept").unwrap_or_default();
    let (latency, injected) = {
        let mut f = lock(&shared.faults);
        (
            f.latency,
            f.take_failure(&format!("{}?{}", ctx.path, ctx.query)),
        )
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => bytes::Bytes::new(),
    };
    let mut ctx = ctx;
    // Protobuf bodies (kubectl's typed clients) become JSON; the log keeps the content type.
    let protobuf = !body.is_empty() && protobuf::is_protobuf(ctx.content_type.as_deref());
    let body = if protobuf {
        match protobuf::decode(&body) {
            Ok(v) => bytes::Bytes::from(v.to_string()),
            Err(e) => return error_response(&e),
        }
    } else {
        body
    };
    if !body.is_empty() {
        ctx.body = serde_json::from_slice(&body)
            .ok()
            .or_else(|| serde_yaml::from_slice(&body).ok());
    }
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
    if !authenticated(&shared, ctx.token.as_deref()) {
        {
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
            .or_else(|| openapi::answer(&shared.registry, &ctx.path))
        {
            return json_response(200, &doc, &[]);
        }
    }
    if ctx.path == format!("/apis/{}/v1/{}", authz::GROUP, authz::SSAR) {
        if ctx.method != Method::POST {
            return error_response(&ApiError::new(
                405,
                "MethodNotAllowed",
                format!(
                    "the server does not allow this method on the requested resource ({})",
                    ctx.method
                ),
            ));
        }
        let review = ctx
            .body
            .as_ref()
            .ok_or_else(|| ApiError::bad_request("the request body is empty"))
            .and_then(|b| authz::review(&lock(&shared.denied), b));
        return match review {
            Ok(r) => json_response(201, &r, &[]),
            Err(e) => error_response(&e),
        };
    }
    let route = match route {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    if let Err(e) = authorize(&shared, &ctx, &route) {
        if mutating {
            record(
                &shared,
                &ctx,
                Some(&route),
                None,
                403,
                Some("Forbidden".into()),
                false,
                false,
            );
        }
        return error_response(&e);
    }
    if protobuf && shared.registry.types[route.rid].custom {
        return error_response(&protobuf::unsupported());
    }
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
        Ok(r) if ctx.method == Method::GET => match table::requested(&accept) {
            Some(v) => json_response(200, &as_table(&shared, &ctx, &route, v, &r.body), &[]),
            None => json_response(r.code, &r.body, &r.warnings),
        },
        Ok(r) => json_response(r.code, &r.body, &r.warnings),
        Err(e) => error_response(&e),
    }
}

/// A GET answer (one object or a list) as the `Table` kubectl asked for.
fn as_table(shared: &Shared, ctx: &Ctx, route: &Route, version: &str, body: &Value) -> Value {
    let rt = &shared.registry.types[route.rid];
    let (objects, meta): (Vec<&Value>, Value) = match body.get("items").and_then(Value::as_array) {
        Some(items) if route.name.is_none() => (items.iter().collect(), body["metadata"].clone()),
        _ => (
            vec![body],
            serde_json::json!({"resourceVersion": body.pointer("/metadata/resourceVersion")}),
        ),
    };
    let include = ctx.params.get("includeObject").map(String::as_str);
    table::table(rt, &route.version, version, &objects, include, meta)
}

/// The Kubernetes verb of a request and whether the test denied it (403 Forbidden).
fn authorize(shared: &Shared, ctx: &Ctx, route: &Route) -> Result<(), ApiError> {
    let rules = lock(&shared.denied);
    if rules.is_empty() {
        return Ok(());
    }
    let verb = match (&ctx.method, route.name.is_some()) {
        (&Method::GET, true) => "get",
        (&Method::GET, false) if is_true(ctx.params.get("watch")) => "watch",
        (&Method::GET, false) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => return Ok(()),
    };
    let rt = &shared.registry.types[route.rid];
    let resource = match &route.sub {
        Some(sub) => format!("{}/{sub}", rt.plural),
        None => rt.plural.clone(),
    };
    let attrs = authz::Attributes {
        verb,
        group: &rt.group,
        resource: &resource,
        namespace: route.namespace.as_deref(),
    };
    if authz::allowed(&rules, &attrs) {
        return Ok(());
    }
    let user = ctx.token.as_deref().unwrap_or("system:anonymous");
    Err(authz::forbidden(user, &attrs))
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
        body: ctx.body.clone(),
        code,
        reason,
        changed,
        validated,
    };
    lock(&shared.log).push(rec);
}
