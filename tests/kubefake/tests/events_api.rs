//! Events created through events.k8s.io/v1 are listed by core v1 with the field
//! selector `kubectl describe` uses, as on a real apiserver (one storage).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use fleetdns_kubefake::FakeCluster;
use serde_json::{json, Value};

fn get(c: &FakeCluster, path: &str) -> Value {
    let mut s = TcpStream::connect(c.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn events_k8s_io_events_are_listed_by_core_v1_for_kubectl_describe() {
    let c = FakeCluster::start("127.0.0.1:0".parse().unwrap(), "c").unwrap();
    for (name, regarding) in [("web.1", "web"), ("other.1", "other")] {
        c.create(&json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "demo"},
            "eventTime": "2026-12-01T00:00:00.000000Z", "reportingController": "fleetdns.io/status-writer",
            "reportingInstance": "a", "action": "UpdateStatus", "reason": "Programmed", "type": "Normal",
            "note": "Programmed is True",
            "regarding": {"apiVersion": "networking.fleet.azure.com/v1beta1", "kind": "TrafficManagerProfile",
                          "name": regarding, "namespace": "demo", "uid": "u"}}))
            .unwrap();
    }
    let list = get(&c, "/api/v1/namespaces/demo/events?fieldSelector=involvedObject.name%3Dweb,involvedObject.namespace%3Ddemo,involvedObject.kind%3DTrafficManagerProfile");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list:#}");
    let e = &items[0];
    assert_eq!(e["message"], "Programmed is True");
    assert_eq!(e["reason"], "Programmed");
    assert_eq!(e["source"]["component"], "fleetdns.io/status-writer");
    assert_eq!(e["involvedObject"]["name"], "web");
    let new = get(&c, "/apis/events.k8s.io/v1/namespaces/demo/events");
    assert_eq!(new["items"].as_array().unwrap().len(), 2);
}
