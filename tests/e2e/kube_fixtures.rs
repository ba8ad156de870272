//! What the Kubernetes-mode tests share: the hub's `demo/web` profile and backend
//! that most of them start from, and reading the A record of answers.

use std::collections::BTreeMap;

use fleetdns_kubefake::FakeCluster;
use fleetdns_testsupport::dns::{Client, Opts};
use hickory_proto::rr::{RData, RecordType};
use serde_json::json;

/// `apiVersion` of the fleet networking objects the tests create.
pub const FLEET: &str = "networking.fleet.azure.com/v1beta1";

/// Profile `demo/web` (monitor port 80) and backend `demo/web` (weight 100,
/// Service `web`) on the hub.
pub fn seed_web(hub: &FakeCluster) {
    hub.create(
        &json!({"apiVersion": FLEET, "kind": "TrafficManagerProfile",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"resourceGroup": "rg", "monitorConfig": {"port": 80}}}),
    )
    .unwrap();
    hub.create(
        &json!({"apiVersion": FLEET, "kind": "TrafficManagerBackend",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"profile": {"name": "web"}, "backend": {"name": "web"}, "weight": 100}}),
    )
    .unwrap();
}

/// The A record of one answer for `name`, if it has one.
pub fn a_record(client: &Client, name: &str) -> Option<String> {
    let m = client.query(name, RecordType::A, &Opts::default());
    m.answers.iter().find_map(|r| match &r.data {
        RData::A(a) => Some(a.to_string()),
        _ => None,
    })
}

/// `n` answers for `name`, counted by their A record ("" for none).
pub fn tally(client: &Client, name: &str, n: usize) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for _ in 0..n {
        *t.entry(a_record(client, name).unwrap_or_default())
            .or_default() += 1;
    }
    t
}
