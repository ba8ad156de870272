//! An Azure Resource Manager emulator for Traffic Manager, for fleetdns tests.
//!
//! One HTTP server on a loopback address plays three parts:
//! - **ARM** (`/subscriptions/…/trafficmanagerprofiles/…?api-version=2022-04-01`):
//!   keeps profiles and endpoints, validates every URL and body against the swagger
//!   ([`swagger`]), fills in server-computed fields (ids, `fqdn`,
//!   `endpointMonitorStatus`, monitor defaults), answers 409 when a relative DNS
//!   name is taken anywhere in the emulated world, and 401 without a valid token.
//! - **Entra ID** (`POST /{tenant}/oauth2/v2.0/token`): client credentials with a
//!   client secret or a federated `client_assertion`.
//! - **IMDS** (`GET /metadata/identity/oauth2/token`, header `Metadata: true`).
//!
//! Tokens live for a configurable (short) time and every issue is recorded, so
//! tests can see refreshes. Faults can be queued for the next ARM requests: 429
//! with Retry-After (later requests before it get 429 too, and are flagged), 500,
//! a delay, or a connection reset. The [`ArmEmu`] handle is synchronous and
//! works from plain `#[test]`s; the server runs on its own thread.

pub mod public_ip;
pub mod swagger;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use swagger::Swagger;

/// A fault for the next ARM requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: <seconds>`; requests before it elapses get 429 too.
    Throttle(u64),
    /// 500 InternalServerError.
    ServerError,
    /// Answer normally after this delay.
    Delay(Duration),
    /// Close the connection without an answer.
    Reset,
}

/// One ARM request as received.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    /// Path as sent (percent-encoded).
    pub path: String,
    pub query: String,
    pub body: Option<Value>,
    pub at: Instant,
    /// A bearer token was present.
    pub auth_header: bool,
    /// The status answered (0 for a reset).
    pub status: u16,
    /// Swagger validation errors (the request was answered 400).
    pub invalid: Vec<String>,
    /// Sent while a Retry-After was still running.
    pub early: bool,
    /// The injected fault this request met, if any.
    pub fault: Option<Fault>,
}

impl Logged {
    pub fn is_write(&self) -> bool {
        self.method == "PUT" || self.method == "DELETE" || self.method == "PATCH"
    }
}

/// One token handed out.
#[derive(Clone, Debug)]
pub struct Issued {
    /// `clientSecret`, `workloadIdentity` or `managedIdentity`.
    pub method: &'static str,
    pub at: Instant,
    pub expires: Instant,
    /// The federated assertion presented (workload identity).
    pub assertion: Option<String>,
}

#[derive(Default)]
struct World {
    /// Profiles keyed by lower-case (subscription, resource group, name).
    profiles: BTreeMap<(String, String, String), Value>,
    /// Relative names taken by someone else in the world.
    taken: BTreeSet<String>,
    log: Vec<Logged>,
    faults: VecDeque<Fault>,
    throttled_until: Option<Instant>,
    tokens: BTreeMap<String, Instant>,
    issued: Vec<Issued>,
    token_lifetime: u64,
    /// (client id, secret) the token endpoint accepts; any client id when None.
    client: Option<(String, String)>,
    /// Errors found in the emulator's own responses (should stay empty).
    self_errors: Vec<String>,
    /// Public IP addresses (hub mode's lookups).
    pips: public_ip::PublicIps,
}

/// A running emulator; stopped when dropped.
pub struct ArmEmu {
    pub addr: SocketAddr,
    world: Arc<Mutex<World>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

const ATM_DOMAIN: &str = "trafficmanager.net";

impl ArmEmu {
    /// Starts on `addr` (e.g. `127.0.90.1:0`). Panics if the swagger cannot be
    /// read or the address not bound.
    pub fn start(addr: &str) -> ArmEmu {
        let swagger = Arc::new(Swagger::load().expect("swagger loads"));
        let world = Arc::new(Mutex::new(World {
            token_lifetime: 3600,
            ..World::default()
        }));
        let std_listener = std::net::TcpListener::bind(addr).expect("bind emulator");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("local addr");
        let (stop, mut stopped) = oneshot::channel::<()>();
        let w = world.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut stopped => return,
                        a = listener.accept() => {
                            let Ok((stream, _)) = a else { continue };
                            let (w, s) = (w.clone(), swagger.clone());
                            tokio::spawn(async move {
                                let svc = hyper::service::service_fn(move |req| handle(req, w.clone(), s.clone()));
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        ArmEmu {
            addr,
            world,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://<addr>`: ARM endpoint and authority host.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn w(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().expect("world lock")
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.w().token_lifetime = seconds;
    }

    /// Only this client id and secret get tokens by client secret.
    pub fn set_client_secret(&self, client_id: &str, secret: &str) {
        self.w().client = Some((client_id.into(), secret.into()));
    }

    /// Queues `fault` for each of the next `n` ARM requests.
    pub fn inject(&self, fault: Fault, n: usize) {
        let mut w = self.w();
        w.faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Marks a relative DNS name as taken by someone else.
    pub fn take_relative_name(&self, name: &str) {
        self.w().taken.insert(name.to_ascii_lowercase());
    }

    /// Every ARM request so far (token requests excluded).
    pub fn requests(&self) -> Vec<Logged> {
        self.w().log.clone()
    }

    pub fn clear_log(&self) {
        self.w().log.clear();
    }

    /// Every token issued so far.
    pub fn issued(&self) -> Vec<Issued> {
        self.w().issued.clone()
    }

    /// All profiles, as a GET would return them.
    pub fn profiles(&self) -> Vec<Value> {
        self.w().profiles.values().cloned().collect()
    }

    /// The profile named `name` (any subscription and resource group).
    pub fn profile(&self, name: &str) -> Option<Value> {
        self.w()
            .profiles
            .iter()
            .find(|((_, _, n), _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// Edits a stored profile by hand (drift, foreign endpoints), as the portal would.
    pub fn edit_profile(&self, name: &str, f: impl FnOnce(&mut Value)) {
        let mut w = self.w();
        let p = w
            .profiles
            .iter_mut()
            .find(|((_, _, n), _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .expect("profile exists");
        f(p);
    }

    /// Errors in the emulator's own responses against the swagger.
    pub fn self_errors(&self) -> Vec<String> {
        self.w().self_errors.clone()
    }
}

impl Drop for ArmEmu {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Resp = Response<Full<Bytes>>;

fn reply(status: u16, body: &Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn cloud_error(status: u16, code: &str, message: &str) -> Resp {
    reply(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for ResetConnection {}

async fn handle(
    req: Request<Incoming>,
    world: Arc<Mutex<World>>,
    swagger: Arc<Swagger>,
) -> Result<Resp, ResetConnection> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query_raw = req.uri().query().unwrap_or_default().to_string();
    let query: Vec<(String, String)> = form_urlencoded::parse(query_raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let headers = req.headers().clone();
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if path.ends_with("/oauth2/v2.0/token") {
        return Ok(token_endpoint(&world, &bytes));
    }
    if path == "/metadata/identity/oauth2/token" {
        return Ok(imds(&world, &headers, &query));
    }
    let body: Option<Value> = if bytes.is_empty() {
        None
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                return Ok(cloud_error(
                    400,
                    "InvalidRequestContent",
                    &format!("body is not JSON: {e}"),
                ))
            }
        }
    };
    let now = Instant::now();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let mut entry = Logged {
        method: method.clone(),
        path: path.clone(),
        query: query_raw,
        body: body.clone(),
        at: now,
        auth_header: bearer.is_some(),
        status: 0,
        invalid: vec![],
        early: false,
        fault: None,
    };
    let fault = {
        let mut w = world.lock().expect("world lock");
        let early = w.throttled_until.is_some_and(|t| now < t);
        entry.early = early;
        if early {
            let left = w.throttled_until.map_or(1, |t| (t - now).as_secs().max(1));
            entry.status = 429;
            w.log.push(entry);
            let mut r = cloud_error(
                429,
                "TooManyRequests",
                "throttled; retry after the Retry-After interval",
            );
            r.headers_mut().insert("retry-after", left.into());
            return Ok(r);
        }
        let f = w.faults.pop_front();
        entry.fault = f;
        f
    };
    match fault {
        Some(Fault::Throttle(secs)) => {
            let mut w = world.lock().expect("world lock");
            w.throttled_until = Some(now + Duration::from_secs(secs));
            entry.status = 429;
            w.log.push(entry);
            let mut r = cloud_error(429, "TooManyRequests", "Too many requests");
            r.headers_mut().insert("retry-after", secs.into());
            return Ok(r);
        }
        Some(Fault::ServerError) => {
            entry.status = 500;
            world.lock().expect("world lock").log.push(entry);
            return Ok(cloud_error(
                500,
                "InternalServerError",
                "injected server error",
            ));
        }
        Some(Fault::Reset) => {
            world.lock().expect("world lock").log.push(entry);
            return Err(ResetConnection);
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let mut w = world.lock().expect("world lock");
    let authorized = bearer
        .as_ref()
        .and_then(|t| w.tokens.get(t))
        .is_some_and(|exp| Instant::now() < *exp);
    let resp = if !authorized {
        let (code, msg) = if bearer.is_some() {
            (
                "ExpiredAuthenticationToken",
                "The access token expired or is unknown.",
            )
        } else {
            (
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        };
        (401, json!({"error": {"code": code, "message": msg}}))
    } else if let Some(r) = public_ip::route(&mut w.pips, &method, &path, &query) {
        r
    } else {
        match swagger.check_request(&method, &path, &query, body.as_ref()) {
            Err(errors) => {
                entry.invalid = errors.clone();
                (
                    400,
                    json!({"error": {"code": "InvalidRequestContent", "message": errors.join("; ")}}),
                )
            }
            Ok(m) => arm(&mut w, &m, body.unwrap_or(Value::Null)),
        }
    };
    let (status, value) = resp;
    // Public IP answers are checked against their swagger when stored (public_ip::check).
    if (200..300).contains(&status) && !path.to_ascii_lowercase().contains("/publicipaddresses/") {
        let errs = swagger.check_response(&method, &path, status, &value);
        w.self_errors.extend(errs);
    }
    entry.status = status;
    w.log.push(entry);
    Ok(reply(status, &value))
}

fn p<'a>(m: &'a swagger::Matched, k: &str) -> &'a str {
    m.params.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// ARM semantics for the matched operation.
fn arm(w: &mut World, m: &swagger::Matched, body: Value) -> (u16, Value) {
    let key = (
        p(m, "subscriptionId").to_ascii_lowercase(),
        p(m, "resourceGroupName").to_ascii_lowercase(),
        p(m, "profileName").to_ascii_lowercase(),
    );
    let id = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/trafficManagerProfiles/{}",
        p(m, "subscriptionId"),
        p(m, "resourceGroupName"),
        p(m, "profileName")
    );
    let not_found = || {
        (
            404,
            json!({"error": {"code": "NotFound", "message": "The resource was not found."}}),
        )
    };
    match m.operation_id.as_str() {
        "Profiles_Get" => w
            .profiles
            .get(&key)
            .map_or_else(not_found, |v| (200, v.clone())),
        "Profiles_Delete" => match w.profiles.remove(&key) {
            Some(_) => (200, json!({})),
            None => (204, Value::Null),
        },
        "Profiles_CreateOrUpdate" => {
            let relative = body["properties"]["dnsConfig"]["relativeName"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let clash = w.taken.contains(&relative)
                || w.profiles.iter().any(|(k, v)| {
                    *k != key
                        && v["properties"]["dnsConfig"]["relativeName"]
                            .as_str()
                            .is_some_and(|r| r.eq_ignore_ascii_case(&relative))
                });
            if relative.is_empty() {
                return (
                    400,
                    json!({"error": {"code": "BadRequest", "message": "dnsConfig.relativeName is required."}}),
                );
            }
            if clash {
                return (
                    409,
                    json!({"error": {"code": "Conflict", "message": format!("Domain name {relative}.{ATM_DOMAIN} is not available. Please choose a different DNS prefix")}}),
                );
            }
            let old = w.profiles.get(&key).cloned();
            let mut v = body;
            v["id"] = id.clone().into();
            v["name"] = p(m, "profileName").into();
            v["type"] = "Microsoft.Network/trafficManagerProfiles".into();
            let props = &mut v["properties"];
            props["dnsConfig"]["fqdn"] = format!("{relative}.{ATM_DOMAIN}").into();
            let mc = &mut props["monitorConfig"];
            for (k, d) in [
                ("intervalInSeconds", 30),
                ("timeoutInSeconds", 10),
                ("toleratedNumberOfFailures", 3),
            ] {
                if mc.get(k).is_none() {
                    mc[k] = d.into();
                }
            }
            let mut eps = Vec::new();
            for e in props["endpoints"].as_array().cloned().unwrap_or_default() {
                let name = e["name"].as_str().unwrap_or_default().to_string();
                let kind = e["type"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let prev = old.as_ref().and_then(|o| find_endpoint(o, &name)).cloned();
                match endpoint(&id, &kind, &name, e, prev.as_ref()) {
                    Ok(e) => eps.push(e),
                    Err(msg) => {
                        return (
                            400,
                            json!({"error": {"code": "BadRequest", "message": msg}}),
                        )
                    }
                }
            }
            props["endpoints"] = eps.into();
            monitor_status(&mut v);
            let created = old.is_none();
            w.profiles.insert(key, v.clone());
            (if created { 201 } else { 200 }, v)
        }
        "Endpoints_Get" | "Endpoints_CreateOrUpdate" | "Endpoints_Delete" => {
            let Some(profile) = w.profiles.get_mut(&key) else {
                return not_found();
            };
            let name = p(m, "endpointName").to_string();
            let kind = p(m, "endpointType").to_string();
            let list = profile["properties"]["endpoints"]
                .as_array_mut()
                .expect("normalized profile has endpoints");
            let pos = list.iter().position(|e| {
                e["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&name))
                    && e["type"].as_str().is_some_and(|t| {
                        t.to_ascii_lowercase().ends_with(&kind.to_ascii_lowercase())
                    })
            });
            match m.operation_id.as_str() {
                "Endpoints_Get" => pos.map_or_else(not_found, |i| (200, list[i].clone())),
                "Endpoints_Delete" => match pos {
                    Some(i) => {
                        list.remove(i);
                        monitor_status(profile);
                        (200, json!({}))
                    }
                    None => (204, Value::Null),
                },
                _ => {
                    let body_type = body["type"].as_str().unwrap_or_default();
                    if !body_type.is_empty()
                        && !body_type
                            .to_ascii_lowercase()
                            .ends_with(&format!("/{}", kind.to_ascii_lowercase()))
                    {
                        return (
                            400,
                            json!({"error": {"code": "BadRequest", "message": format!("endpoint type {body_type} does not match the URL's {kind}")}}),
                        );
                    }
                    let prev = pos.map(|i| list[i].clone());
                    let e = match endpoint(&id, &kind, &name, body, prev.as_ref()) {
                        Ok(e) => e,
                        Err(msg) => {
                            return (
                                400,
                                json!({"error": {"code": "BadRequest", "message": msg}}),
                            )
                        }
                    };
                    let target = e["properties"]["target"]
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    let dup = list.iter().enumerate().any(|(i, x)| {
                        Some(i) != pos
                            && x["properties"]["target"]
                                .as_str()
                                .is_some_and(|t| t.eq_ignore_ascii_case(&target))
                    });
                    if dup {
                        return (
                            400,
                            json!({"error": {"code": "BadRequest", "message": "Endpoint target must be unique in the profile."}}),
                        );
                    }
                    match pos {
                        Some(i) => list[i] = e.clone(),
                        None => list.push(e.clone()),
                    }
                    monitor_status(profile);
                    (if pos.is_some() { 200 } else { 201 }, e)
                }
            }
        }
        other => (
            400,
            json!({"error": {"code": "NotEmulated", "message": format!("operation {other} is not emulated")}}),
        ),
    }
}

fn find_endpoint<'a>(profile: &'a Value, name: &str) -> Option<&'a Value> {
    profile["properties"]["endpoints"]
        .as_array()?
        .iter()
        .find(|e| {
            e["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
}

/// Normalizes an endpoint as ARM stores it: id, echoed type, defaults, computed status.
fn endpoint(
    profile_id: &str,
    kind: &str,
    name: &str,
    mut e: Value,
    prev: Option<&Value>,
) -> Result<Value, String> {
    let lower = match kind.to_ascii_lowercase().as_str() {
        "azureendpoints" => "azureEndpoints",
        "externalendpoints" => "externalEndpoints",
        "nestedendpoints" => "nestedEndpoints",
        _ => return Err(format!("unknown endpoint type {kind}")),
    };
    let props = &mut e["properties"];
    if !props.is_object() {
        return Err("endpoint properties are required".into());
    }
    let has_rid = props.get("targetResourceId").is_some();
    match lower {
        "externalEndpoints" if has_rid => {
            return Err("targetResourceId is not allowed for ExternalEndpoints.".into())
        }
        "externalEndpoints" if props.get("target").is_none() => {
            return Err("target is required for ExternalEndpoints.".into())
        }
        "azureEndpoints" if !has_rid => {
            return Err("targetResourceId is required for AzureEndpoints.".into())
        }
        "azureEndpoints" => {
            let rid = props["targetResourceId"].as_str().unwrap_or_default();
            let label = rid.rsplit('/').next().unwrap_or("pip").to_ascii_lowercase();
            props["target"] = format!("{label}.emu.cloudapp.azure.com").into();
        }
        _ => {}
    }
    if props.get("weight").is_none() {
        props["weight"] = 1.into();
    }
    if props.get("priority").is_none() {
        props["priority"] = 1.into();
    }
    if props.get("endpointStatus").is_none() {
        props["endpointStatus"] = "Enabled".into();
    }
    let computed = if props["endpointStatus"] == "Disabled" {
        "Disabled".to_string()
    } else if props["alwaysServe"] == "Enabled" {
        "Unmonitored".to_string()
    } else {
        prev.and_then(|p| p["properties"]["endpointMonitorStatus"].as_str())
            .filter(|s| *s != "Disabled" && *s != "Unmonitored")
            .unwrap_or("CheckingEndpoint")
            .to_string()
    };
    props["endpointMonitorStatus"] = computed.into();
    e["name"] = name.into();
    e["type"] = format!("Microsoft.Network/trafficManagerProfiles/{lower}").into();
    e["id"] = format!("{profile_id}/{lower}/{name}").into();
    Ok(e)
}

/// Profile monitor status from its endpoints (Traffic Manager's table).
fn monitor_status(profile: &mut Value) {
    let statuses: Vec<String> = profile["properties"]["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            e["properties"]["endpointMonitorStatus"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let has = |s: &str| statuses.iter().any(|x| x == s);
    let status = if profile["properties"]["profileStatus"] == "Disabled" {
        "Disabled"
    } else if has("Degraded") {
        "Degraded"
    } else if has("Online") {
        "Online"
    } else if has("CheckingEndpoint") {
        "CheckingEndpoints"
    } else {
        "Inactive"
    };
    profile["properties"]["monitorConfig"]["profileMonitorStatus"] = status.into();
}

fn new_token(w: &mut World, method: &'static str, assertion: Option<String>) -> (String, u64) {
    let token = format!("emu-{}-{:016x}", method, fastrand::u64(..));
    let now = Instant::now();
    let expires = now + Duration::from_secs(w.token_lifetime);
    w.tokens.insert(token.clone(), expires);
    w.issued.push(Issued {
        method,
        at: now,
        expires,
        assertion,
    });
    (token, w.token_lifetime)
}

fn token_endpoint(world: &Arc<Mutex<World>>, body: &[u8]) -> Resp {
    let form: BTreeMap<String, String> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let bad = |status: u16, code: &str| {
        reply(
            status,
            &json!({"error": code, "error_description": format!("emulator: {code}")}),
        )
    };
    if get("grant_type") != "client_credentials" {
        return bad(400, "unsupported_grant_type");
    }
    if get("client_id").is_empty() || !get("scope").ends_with("/.default") {
        return bad(400, "invalid_request");
    }
    let mut w = world.lock().expect("world lock");
    let (method, assertion) = if !get("client_secret").is_empty() {
        if let Some((id, secret)) = &w.client {
            if id != get("client_id") || secret != get("client_secret") {
                return bad(401, "invalid_client");
            }
        }
        ("clientSecret", None)
    } else if get("client_assertion_type")
        == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        && !get("client_assertion").is_empty()
    {
        (
            "workloadIdentity",
            Some(get("client_assertion").to_string()),
        )
    } else {
        return bad(401, "invalid_client");
    };
    let (token, life) = new_token(&mut w, method, assertion);
    reply(
        200,
        &json!({"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": token}),
    )
}

fn imds(world: &Arc<Mutex<World>>, headers: &hyper::HeaderMap, query: &[(String, String)]) -> Resp {
    let q = |k: &str| query.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return reply(
            400,
            &json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
        );
    }
    if q("api-version") != Some("2018-02-01") || q("resource").is_none_or(str::is_empty) {
        return reply(
            400,
            &json!({"error": "invalid_request", "error_description": "api-version 2018-02-01 and resource are required"}),
        );
    }
    let mut w = world.lock().expect("world lock");
    let (token, life) = new_token(&mut w, "managedIdentity", None);
    let resource = q("resource").unwrap_or_default();
    reply(
        200,
        &json!({"access_token": token, "expires_in": life.to_string(), "expires_on": "0", "resource": resource, "token_type": "Bearer"}),
    )
}
