//! A simulated fleet-networking hub controller that writes status the way
//! controller-runtime does: read the object from its cache, set its condition
//! with `meta.SetStatusCondition` semantics, PUT `/status` with the
//! resourceVersion it read (no fieldManager: the apiserver names the manager
//! after the User-Agent), retry on 409, every 200 ms until stopped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use fleetdns_kubefake::FakeCluster;
use serde_json::{json, Value};

/// The manager name the apiserver derives from the User-Agent below.
pub const MANAGER: &str = "hub-net-controller-manager";
pub const PROFILE_MESSAGE: &str = "Successfully configured the Azure Traffic Manager profile";
pub const DNS_NAME: &str = "demo-web.trafficmanager.net";

/// The running simulator.
pub struct Upstream {
    stop: Arc<AtomicBool>,
    /// PUTs that changed something (resourceVersion moved).
    pub changes: Arc<AtomicU64>,
    /// 409s it retried.
    pub conflicts: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Upstream {
    pub fn start(hub: &FakeCluster) -> Upstream {
        let stop = Arc::new(AtomicBool::new(false));
        let changes = Arc::new(AtomicU64::new(0));
        let conflicts = Arc::new(AtomicU64::new(0));
        let addr = hub.addr();
        let thread = std::thread::spawn({
            let (stop, changes, conflicts) = (stop.clone(), changes.clone(), conflicts.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    for (kind, plural, ty, reason, message) in [
                        ("TrafficManagerProfile", "trafficmanagerprofiles", "Programmed", "Programmed", PROFILE_MESSAGE),
                        ("TrafficManagerBackend", "trafficmanagerbackends", "Accepted", "Accepted",
                         "2 service(s) exported from clusters have been accepted as Traffic Manager endpoints"),
                    ] {
                        // Bounded retries on 409, as the workqueue's requeue would.
                        for _ in 0..5 {
                            let path = format!("/apis/networking.fleet.azure.com/v1beta1/namespaces/demo/{plural}/web");
                            let (code, mut obj) = request(addr, "GET", &path, None);
                            if code != 200 || obj["kind"] != kind {
                                break;
                            }
                            let rv = obj["metadata"]["resourceVersion"].clone();
                            set_status_condition(&mut obj, ty, "True", reason, message);
                            if kind == "TrafficManagerProfile" {
                                obj["status"]["dnsName"] = json!(DNS_NAME);
                            }
                            let (code, body) = request(addr, "PUT", &format!("{path}/status"), Some(&obj));
                            if code == 409 {
                                conflicts.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            if code == 200 && body["metadata"]["resourceVersion"] != rv {
                                changes.fetch_add(1, Ordering::Relaxed);
                            }
                            break;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        });
        Upstream {
            stop,
            changes,
            conflicts,
            thread: Some(thread),
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `meta.SetStatusCondition`: add, or update in place; `lastTransitionTime`
/// moves only when the status changes.
fn set_status_condition(obj: &mut Value, ty: &str, status: &str, reason: &str, message: &str) {
    let generation = obj["metadata"]["generation"].clone();
    if !obj["status"].is_object() {
        obj["status"] = json!({});
    }
    if !obj["status"]["conditions"].is_array() {
        obj["status"]["conditions"] = json!([]);
    }
    let list = obj["status"]["conditions"].as_array_mut().unwrap();
    let now = "2026-12-01T00:00:00Z";
    match list.iter_mut().find(|c| c["type"] == ty) {
        Some(c) => {
            if c["status"] != status {
                c["lastTransitionTime"] = json!(now);
            }
            c["status"] = json!(status);
            c["reason"] = json!(reason);
            c["message"] = json!(message);
            c["observedGeneration"] = generation;
        }
        None => list.push(
            json!({"type": ty, "status": status, "reason": reason, "message": message,
                                 "observedGeneration": generation, "lastTransitionTime": now}),
        ),
    }
}

fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    obj: Option<&Value>,
) -> (u16, Value) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, Value::Null);
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let body = obj.map(Value::to_string).unwrap_or_default();
    let _ = write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: x\r\nUser-Agent: {MANAGER}/v1.2.3 (linux/amd64) kubernetes/4fcffcf\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (code, body)
}
