//! Entra ID's token endpoint and IMDS.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::http::{reply, Resp};
use crate::{Issued, World};

fn new_token(
    w: &mut World,
    method: &'static str,
    assertion: Option<String>,
    audience: &str,
) -> (String, u64) {
    let token = format!("emu-{}-{:016x}", method, fastrand::u64(..));
    w.audiences.insert(token.clone(), audience.to_string());
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

pub(crate) fn token_endpoint(world: &Arc<Mutex<World>>, body: &[u8]) -> Resp {
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
    let audience = get("scope").trim_end_matches("/.default").to_string();
    let (token, life) = new_token(&mut w, method, assertion, &audience);
    reply(
        200,
        &json!({"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": token}),
    )
}

pub(crate) fn imds(
    world: &Arc<Mutex<World>>,
    headers: &hyper::HeaderMap,
    query: &[(String, String)],
) -> Resp {
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
    let resource = q("resource").unwrap_or_default();
    let (token, life) = new_token(&mut w, "managedIdentity", None, resource);
    reply(
        200,
        &json!({"access_token": token, "expires_in": life.to_string(), "expires_on": "0", "resource": resource, "token_type": "Bearer"}),
    )
}
