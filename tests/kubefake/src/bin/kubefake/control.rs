//! The control API of the `kubefake` binary: the write log and the fault switches of
//! [`FakeCluster`], reachable with curl while kubectl and fleetdns use the clusters.
//! Served on its own address so that the fake API servers' paths stay those of a real one.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use fleetdns_kubefake::FakeCluster;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// Serves the control API until the process exits.
pub async fn serve(listener: tokio::net::TcpListener, clusters: Arc<Vec<FakeCluster>>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let clusters = clusters.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                let clusters = clusters.clone();
                async move {
                    // The cluster handle blocks briefly (stop waits for its listener).
                    let answer = tokio::task::spawn_blocking(move || handle(&clusters, &req))
                        .await
                        .unwrap_or_else(|_| (500, json!({"error": "control handler panicked"})));
                    Ok::<_, Infallible>(reply(answer))
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

fn reply((code, body): (u16, Value)) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(format!("{body}\n"))))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn query(req: &Request<hyper::body::Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('=').or(Some((p, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.replace("%2F", "/").replace("%2f", "/")))
        .collect()
}

fn handle(clusters: &[FakeCluster], req: &Request<hyper::body::Incoming>) -> (u16, Value) {
    let segs: Vec<&str> = req
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if segs == ["clusters"] {
        let list: Vec<Value> = clusters
            .iter()
            .map(|c| json!({"name": c.name(), "url": c.url(), "listening": c.is_listening(),
                            "resourceVersion": c.resource_version(), "openWatches": c.open_watches()}))
            .collect();
        return (200, Value::Array(list));
    }
    let ["clusters", name, action] = segs.as_slice() else {
        return (
            404,
            json!({"error": "paths: /clusters, /clusters/NAME/ACTION"}),
        );
    };
    let Some(c) = clusters.iter().find(|c| c.name() == *name) else {
        return (404, json!({"error": format!("no cluster {name}")}));
    };
    let q = query(req);
    let num = |k: &str, default: u64| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(default);
    let s = |k: &str| q.get(k).cloned().unwrap_or_default();
    match (req.method(), *action) {
        (&Method::GET, "writes") => (
            200,
            Value::Array(c.write_log().iter().map(|w| w.to_json()).collect()),
        ),
        (&Method::POST, "stop") => {
            c.stop();
            (200, json!({"stopped": c.name()}))
        }
        (&Method::POST, "resume") => match c.resume() {
            Ok(()) => (200, json!({"resumed": c.name()})),
            Err(e) => (500, json!({"error": e.to_string()})),
        },
        (&Method::POST, "restart") => {
            let down = Duration::from_millis(num("downMillis", 1000));
            if s("empty") == "true" {
                c.restart_empty(down);
            } else {
                c.restart(down, s("compact") == "true");
            }
            (200, json!({"restarting": c.name()}))
        }
        (&Method::POST, "drop-connections") => {
            c.drop_connections();
            (200, json!({}))
        }
        (&Method::POST, "expire-watches") => {
            c.expire_all_watches();
            (200, json!({}))
        }
        (&Method::POST, "fail") => {
            let path = q.get("path").map(String::as_str);
            c.fail_next_with(num("n", 1) as u32, num("code", 500) as u16, path);
            (200, json!({}))
        }
        (&Method::POST, "latency") => {
            c.set_latency(Duration::from_millis(num("ms", 0)));
            (200, json!({}))
        }
        (&Method::POST, "deny") => {
            c.deny(&s("verb"), &s("group"), &s("resource"));
            (200, json!({}))
        }
        (&Method::POST, "allow-all") => {
            c.allow_all();
            (200, json!({}))
        }
        _ => (
            404,
            json!({"error": format!("unknown action {} {action}", req.method())}),
        ),
    }
}
