//! The HTTP side: routing (token, IMDS, public IPs, ARM), injected faults, the
//! request log, request-id and rate-limit headers, swagger validation.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};

use crate::swagger::Swagger;
use crate::{arm, public_ip, tokens, Fault, Logged, World};

pub(crate) type Resp = Response<Full<Bytes>>;

pub(crate) fn reply(status: u16, body: &Value) -> Resp {
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
pub(crate) struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for ResetConnection {}

fn uuid() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// An IMF-fixdate `secs` seconds from now.
fn http_date_in(secs: u64) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        + secs;
    let (days, rem) = (t / 86_400, t % 86_400);
    // Civil from days (H. Hinnant).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Adds ARM's id and quota headers to an ARM answer.
fn arm_headers(mut r: Resp, entry: &Logged, w: &World) -> Resp {
    let h = r.headers_mut();
    let v = |s: &str| hyper::header::HeaderValue::from_str(s).expect("header value");
    h.insert("x-ms-request-id", v(&entry.request_id));
    h.insert("x-ms-correlation-request-id", v(&uuid()));
    if let Some(c) = &entry.client_request_id {
        h.insert("x-ms-client-request-id", v(c));
    }
    let (name, left) = if entry.is_write() {
        (
            "x-ms-ratelimit-remaining-subscription-writes",
            w.writes_left,
        )
    } else {
        ("x-ms-ratelimit-remaining-subscription-reads", w.reads_left)
    };
    h.insert(name, v(&left.to_string()));
    r
}

pub(crate) async fn handle(
    req: Request<Incoming>,
    world: Arc<Mutex<World>>,
    swagger: Arc<Swagger>,
) -> Result<Resp, ResetConnection> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query_raw = req.uri().query().unwrap_or_default().to_string();
    let mut query: Vec<(String, String)> = form_urlencoded::parse(query_raw.as_bytes())
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
        return Ok(tokens::token_endpoint(&world, &bytes));
    }
    if path == "/metadata/identity/oauth2/token" {
        return Ok(tokens::imds(&world, &headers, &query));
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
    let base = format!(
        "http://{}",
        headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost")
    );
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
        client_request_id: headers
            .get("x-ms-client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        request_id: uuid(),
        caller: bearer
            .as_deref()
            .and_then(|t| t.strip_prefix("emu-"))
            .and_then(|t| t.rsplit_once('-'))
            .map(|(m, _)| m.to_string()),
    };
    let fault = {
        let mut w = world.lock().expect("world lock");
        if entry.is_write() {
            w.writes_left -= 1;
        } else {
            w.reads_left -= 1;
        }
        let early = w.throttled_until.is_some_and(|t| now < t);
        entry.early = early;
        if early {
            let left = w.throttled_until.map_or(1, |t| (t - now).as_secs().max(1));
            entry.status = 429;
            let mut r = cloud_error(
                429,
                "TooManyRequests",
                "throttled; retry after the Retry-After interval",
            );
            r.headers_mut().insert("retry-after", left.into());
            let r = arm_headers(r, &entry, &w);
            w.log.push(entry);
            return Ok(r);
        }
        let f = w.faults.pop_front();
        entry.fault = f;
        f
    };
    let mut throttle = |status: u16, code: &str, wait: Duration, header: (&'static str, String)| {
        let mut w = world.lock().expect("world lock");
        w.throttled_until = Some(now + wait);
        entry.status = status;
        let mut r = cloud_error(status, code, "injected: retry later");
        r.headers_mut().insert(
            header.0,
            hyper::header::HeaderValue::from_str(&header.1).expect("header"),
        );
        if header.0 == "retry-after-ms" {
            r.headers_mut().insert(
                "x-ms-retry-after-ms",
                hyper::header::HeaderValue::from_str(&header.1).expect("header"),
            );
        }
        let r = arm_headers(r, &entry, &w);
        w.log.push(entry.clone());
        r
    };
    match fault {
        Some(Fault::Throttle(secs)) => {
            return Ok(throttle(
                429,
                "TooManyRequests",
                Duration::from_secs(secs),
                ("retry-after", secs.to_string()),
            ))
        }
        Some(Fault::ThrottleDate(secs)) => {
            // The date has whole seconds: the wait ends at the next second boundary at the latest.
            return Ok(throttle(
                429,
                "TooManyRequests",
                Duration::from_secs(secs.saturating_sub(1)),
                ("retry-after", http_date_in(secs)),
            ));
        }
        Some(Fault::ThrottleMs(ms)) => {
            return Ok(throttle(
                429,
                "TooManyRequests",
                Duration::from_millis(ms),
                ("retry-after-ms", ms.to_string()),
            ))
        }
        Some(Fault::Unavailable(secs)) => {
            return Ok(throttle(
                503,
                "ServiceUnavailable",
                Duration::from_secs(secs),
                ("retry-after", secs.to_string()),
            ))
        }
        Some(f @ (Fault::ServerError | Fault::Forbidden)) => {
            let (status, code, msg) = match f {
                Fault::Forbidden => (
                    403,
                    "AuthorizationFailed",
                    "The client does not have authorization to perform this action (injected).",
                ),
                _ => (500, "InternalServerError", "injected server error"),
            };
            entry.status = status;
            let mut w = world.lock().expect("world lock");
            let r = arm_headers(cloud_error(status, code, msg), &entry, &w);
            w.log.push(entry);
            return Ok(r);
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
    let lower = path.to_ascii_lowercase();
    let group = lower
        .split('/')
        .skip_while(|s| *s != "resourcegroups")
        .nth(1)
        .map(str::to_string);
    let page: usize = query
        .iter()
        .find(|(k, _)| k == "$skiptoken")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    query.retain(|(k, _)| k != "$skiptoken");
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
    } else if group.as_ref().is_some_and(|g| w.missing_groups.contains(g)) {
        (
            404,
            json!({"error": {"code": "ResourceGroupNotFound", "message": format!("Resource group '{}' could not be found.", group.unwrap_or_default())}}),
        )
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
            Ok(m) => arm::arm(&mut w, &m, body.unwrap_or(Value::Null), &base, page),
        }
    };
    let (status, value) = resp;
    if (200..300).contains(&status) && !lower.contains("/publicipaddresses/") {
        let errs = swagger.check_response(&method, &path, status, &value);
        w.self_errors.extend(errs);
    }
    entry.status = status;
    let mut r = arm_headers(reply(status, &value), &entry, &w);
    if status == 503 && lower.contains("/publicipaddresses/") {
        // "Down" public IP reads say when to come back, as ARM's 503s do.
        r.headers_mut()
            .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
    }
    w.log.push(entry);
    Ok(r)
}
