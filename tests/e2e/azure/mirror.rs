//! The mirror as something you can leave running: one writer (`mirror_leader`),
//! full lifecycle (`mirror_lifecycle`), isolated failures (`mirror_isolation`),
//! no write loop against echoed defaults (`mirror_resync`). Each also sends 2,000
//! DNS queries while the fault or change is under way and expects every one answered.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use fleetdns_armemu::{ArmEmu, Logged};
use fleetdns_kubefake::{write_kubeconfig_with_token, FakeCluster};
use fleetdns_testsupport::{dns, wait, Fleetdns};
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use hickory_proto::serialize::binary::BinDecodable;
use serde_json::{json, Value};

use super::{
    converged, endpoint, endpoint_name, endpoints, http_get, profile_name, summary, wait_reason,
    writes, Auth, World, BIN, SUB,
};

/// `/status` → `azure`.
pub(super) fn mirror_status(f: &Fleetdns) -> Value {
    serde_json::from_str::<Value>(&http_get(f.admin, "/status")).unwrap_or_default()["azure"]
        .clone()
}

/// 2,000 A queries for `name` at `dns`, one every 2 ms, each waiting up to 2 s; the
/// number lost: unanswered, or (with `want_records`) answered without records.
pub(super) fn lost_queries(
    from: &str,
    dns_addr: SocketAddr,
    name: &str,
    want_records: bool,
) -> u32 {
    let sock = UdpSocket::bind(format!("{from}:0")).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut lost = 0;
    for _ in 0..2000u32 {
        let q = dns::build(name, RecordType::A, &dns::Opts::default());
        sock.send_to(&q, dns_addr).unwrap();
        let id = u16::from_be_bytes([q[0], q[1]]);
        let mut buf = [0u8; 1500];
        let ok = loop {
            match sock.recv_from(&mut buf) {
                Ok((n, _)) => match Message::from_bytes(&buf[..n]) {
                    Ok(m) if m.metadata.id == id => break !want_records || !m.answers.is_empty(),
                    _ => continue,
                },
                Err(_) => break false,
            }
        };
        lost += u32::from(!ok);
        std::thread::sleep(Duration::from_millis(2));
    }
    lost
}

/// The config without the TrafficManagerProfile and its backends (the profile removed).
fn without_profile(config: &str) -> String {
    config
        .split("---\n")
        .filter(|d| {
            !d.contains("kind: TrafficManagerProfile") && !d.contains("kind: TrafficManagerBackend")
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn mirror_isolation_one_failing_endpoint_leaves_the_other_endpoints_programmed() {
    let w = World::new(Auth::ClientSecret, 1);
    // api on c1 is refused by Traffic Manager (400); svc on c1 and c2 are fine.
    w.emu.fail_endpoint("#api#c1", 400, "BadRequest");
    let f = w.start(&w.config(10, &["c1", "c2"]));
    let lost = lost_queries(
        &format!("127.0.91.{}", w.octet),
        f.addr,
        "ns-web.tm.test.",
        true,
    );
    let st = wait_reason(&f, "Programmed", Duration::from_secs(15));
    assert_eq!(
        st["programmed"]["status"], "True",
        "the profile is programmed: {st:#}"
    );
    let p = wait::eventually(
        "both svc endpoints",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || {
            let p = w.emu.profile(&profile_name());
            p.filter(|p| endpoints(p).len() == 2)
        },
    );
    assert!(endpoint(&p, &endpoint_name("web-svc", "svc", "c1")).is_some());
    assert!(endpoint(&p, &endpoint_name("web-svc", "svc", "c2")).is_some());
    let backends = wait::eventually(
        "both backends judged",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let b = mirror_status(&f)["backends"].clone();
            (b["ns/web-api"]["accepted"]["reason"] == "Invalid").then_some(b)
        },
    );
    assert_eq!(
        backends["ns/web-svc"]["accepted"]["status"], "True",
        "{backends:#}"
    );
    let api = &backends["ns/web-api"]["accepted"];
    assert_eq!(api["status"], "False", "{backends:#}");
    let message = api["message"].as_str().unwrap();
    let log = w.emu.requests();
    assert!(
        message.contains("BadRequest")
            && log
                .iter()
                .any(|l| l.status == 400 && message.contains(&l.request_id)),
        "the error and ARM's request id on the backend: {message}"
    );
    let metrics = http_get(f.admin, "/metrics");
    assert!(
        metrics.contains(
            "fleetdns_azure_backend_accepted{backend=\"ns/web-api\",reason=\"Invalid\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "fleetdns_azure_backend_accepted{backend=\"ns/web-svc\",reason=\"Accepted\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "fleetdns_azure_endpoint_errors_total{backend=\"ns/web-api\",blame=\"caller\"}"
        ),
        "{metrics}"
    );
    assert!(
        !metrics.contains("backend=\"ns/web-svc\",blame="),
        "no errors counted on the healthy backend"
    );
    assert_eq!(
        lost, 0,
        "{lost} of 2000 queries unanswered while an endpoint failed"
    );
}

#[test]
fn mirror_resync_against_echoed_defaults_makes_zero_puts() {
    let w = World::new(Auth::ClientSecret, 1);
    w.emu.set_echo_defaults(true);
    let f = w.start(&w.config(10, &["c1", "c2"]));
    let p = converged(&w.emu);
    assert_eq!(
        p["properties"]["monitorConfig"]["expectedStatusCodeRanges"],
        json!([{"min": 200, "max": 200}]),
        "the emulator echoes defaults"
    );
    wait_reason(&f, "Programmed", Duration::from_secs(10));
    w.emu.clear_log();
    // Three resyncs (one a second): each GETs the profile; none may write.
    wait::eventually(
        "three resync passes",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || {
            let log = w.emu.requests();
            let gets = log
                .iter()
                .filter(|l| l.method == "GET" && l.path.ends_with(&profile_name()))
                .count();
            (gets >= 3).then_some(())
        },
    );
    let log = w.emu.requests();
    assert!(
        writes(&log).is_empty(),
        "no write on resync: {:#?}",
        summary(&log)
    );
}

#[test]
fn mirror_lifecycle_file_mode_gc_deletes_a_removed_profile_after_the_grace_period_and_recreation_programs_it(
) {
    let mut w = World::new(Auth::ClientSecret, 1);
    w.grace = 2;
    // A foreign profile in the same group (fleet-networking's tag, not fleetdns's),
    // listed first, one profile per page, so the orphan is found only through nextLink.
    w.emu.set_page_size(1);
    w.emu.put_profile(SUB, "rg-fleet", "a-foreign", json!({
        "location": "global",
        "tags": {"networking.fleet.azure.com.trafficManagerProfile": "ns/other"},
        "properties": {"profileStatus": "Enabled", "trafficRoutingMethod": "Weighted",
            "dnsConfig": {"relativeName": "ns-other", "ttl": 60, "fqdn": "ns-other.trafficmanager.net"},
            "monitorConfig": {"protocol": "HTTP", "port": 80, "path": "/"}, "endpoints": []}
    }));
    let config = w.config(10, &["c1", "c2"]);
    let f = w.start(&config);
    converged(&w.emu);
    wait_reason(&f, "Programmed", Duration::from_secs(10));
    w.emu.clear_log();
    std::fs::write(&f.config, without_profile(&config)).unwrap();
    // First reported as an orphan waiting out the grace period, then deleted.
    let id = format!("/subscriptions/{SUB}/resourcegroups/rg-fleet/providers/microsoft.network/trafficmanagerprofiles/{}", profile_name()).to_ascii_lowercase();
    wait::eventually(
        "the orphan reported",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || {
            let o = mirror_status(&f)["orphans"].clone();
            o.as_array()
                .is_some_and(|a| a.iter().any(|x| x == id.as_str()))
                .then_some(())
        },
    );
    // Queries while the profile leaves the zone and the collector waits: all answered
    // (NXDOMAIN once it is gone).
    let lost = lost_queries(
        &format!("127.0.91.{}", w.octet),
        f.addr,
        "ns-web.tm.test.",
        false,
    );
    assert_eq!(
        lost, 0,
        "{lost} of 2000 queries unanswered during garbage collection"
    );
    wait::eventually(
        "the orphan deleted",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || w.emu.profile(&profile_name()).is_none(),
    );
    let log = w.emu.requests();
    let deletes: Vec<&Logged> = log.iter().filter(|l| l.method == "DELETE").collect();
    assert_eq!(deletes.len(), 1, "{:#?}", summary(&log));
    assert!(deletes[0].path.ends_with(&profile_name()));
    let first_orphan_list = log
        .iter()
        .position(|l| l.method == "GET" && l.query.contains("skiptoken"))
        .expect("a nextLink page was read");
    assert!(first_orphan_list < log.iter().position(|l| l.method == "DELETE").unwrap());
    assert!(
        w.emu.profile("a-foreign").is_some(),
        "a profile fleetdns does not own is never deleted"
    );
    assert!(!log
        .iter()
        .any(|l| l.is_write() && l.path.contains("a-foreign")));

    // Re-created: programmed again under the same DNS name.
    std::fs::write(&f.config, &config).unwrap();
    let st = wait_reason(&f, "Programmed", Duration::from_secs(15));
    assert_eq!(st["dnsName"], "ns-web.trafficmanager.net");
    assert_eq!(endpoints(&converged(&w.emu)).len(), 3);
}

/// Kubernetes mode, two replicas with different ARM credentials against one
/// emulator: only the Lease holder writes; when it stops the other takes over.
#[test]
fn mirror_leader_only_the_lease_holder_writes_to_arm_and_the_other_takes_over() {
    let emu = ArmEmu::start("127.0.94.9:0");
    emu.set_client_secret("client-1", "pw-1");
    let at = |h: u8| -> SocketAddr { format!("127.0.94.{h}:0").parse().unwrap() };
    let hub = FakeCluster::start(at(1), "hub").expect("hub");
    let m1 = FakeCluster::start(at(2), "member-1").expect("member-1");
    let dir = fleetdns_testsupport::process::scratch_dir("azure-leader");
    std::fs::write(dir.join("secret"), "pw-1").unwrap();
    const FLEET: &str = "networking.fleet.azure.com/v1beta1";
    hub.create(&json!({"apiVersion": FLEET, "kind": "TrafficManagerProfile",
        "metadata": {"name": "web", "namespace": "demo", "uid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"},
        "spec": {"resourceGroup": "rg", "monitorConfig": {"port": 80}}})).unwrap();
    hub.create(
        &json!({"apiVersion": FLEET, "kind": "TrafficManagerBackend",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"profile": {"name": "web"}, "backend": {"name": "web"}, "weight": 10}}),
    )
    .unwrap();
    m1.create_with_status(&json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}))
        .unwrap();
    m1.create(&json!({"apiVersion": FLEET, "kind": "ServiceExport",
        "metadata": {"name": "web", "namespace": "demo", "annotations": {"fleetdns.io/always-serve": "true"}}})).unwrap();
    let config = |token: &str, auth: String| {
        let kubeconfig = dir.join(format!("kubeconfig-{token}"));
        write_kubeconfig_with_token(&kubeconfig, &[&hub, &m1], token).unwrap();
        format!(
            "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.test
  nameServers: [{{name: ns1.fleet.test, addresses: [127.0.0.1]}}]
  azure:
    subscriptionId: {SUB}
    armEndpoint: '{url}'
    authorityHost: '{url}'
    resyncIntervalSeconds: 1
    auth: {auth}
  kubernetes:
    kubeconfig: {}
    hub: {{context: hub}}
    members:
      - {{name: member-1, context: member-1}}
    status:
      leaseNamespace: fleetdns-system
      leaseDurationSeconds: 3
",
            kubeconfig.display(),
            url = emu.url()
        )
    };
    let url = emu.url();
    let a = Fleetdns::start_with(
        BIN.as_ref(),
        &config(
            "replica-a",
            format!(
                "{{method: managedIdentity, imdsEndpoint: '{url}/metadata/identity/oauth2/token'}}"
            ),
        ),
        "127.0.94.10:0",
        &["--identity", "replica-a"],
    );
    let b = Fleetdns::start_with(
        BIN.as_ref(),
        &config(
            "replica-b",
            format!(
                "{{method: clientSecret, tenantId: t, clientId: client-1, clientSecretFile: {}}}",
                dir.join("secret").display()
            ),
        ),
        "127.0.94.11:0",
        &["--identity", "replica-b"],
    );
    let method = |replica: &str| {
        if replica == "replica-a" {
            "managedIdentity"
        } else {
            "clientSecret"
        }
    };
    let holder = || -> String {
        hub.get(
            "coordination.k8s.io/v1",
            "Lease",
            "fleetdns-system",
            "fleetdns-status-writer",
        )
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
        .unwrap_or_default()
    };
    let leader = wait::eventually(
        "a lease holder",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || Some(holder()).filter(|h| !h.is_empty()),
    );
    wait::eventually(
        "the profile mirrored",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || emu.profiles().into_iter().find(|p| endpoints(p).len() == 1),
    );
    // Several resync passes on both replicas, while DNS is queried on the follower.
    let (gone, stays, other) = if leader == "replica-a" {
        (a, b, "replica-b")
    } else {
        (b, a, "replica-a")
    };
    let lost = lost_queries("127.0.94.12", stays.addr, "demo-web.fleet.test.", true);
    let log = emu.requests();
    let writers: std::collections::BTreeSet<_> = writes(&log)
        .iter()
        .filter_map(|l| l.caller.clone())
        .collect();
    assert_eq!(
        writers,
        [method(&leader).to_string()].into_iter().collect(),
        "only the leader writes: {:#?}",
        summary(&log)
    );
    assert!(
        log.iter()
            .any(|l| l.caller.as_deref() == Some(method(other))),
        "the follower reads and plans"
    );
    let planned = wait::eventually(
        "the follower reports itself not the writer",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let s = mirror_status(&stays);
            (s["writer"] == false).then_some(s)
        },
    );
    assert!(
        planned["planned"].as_array().is_some_and(|p| p.is_empty()),
        "nothing left to write: {planned:#}"
    );
    assert!(http_get(stays.admin, "/metrics").contains("fleetdns_azure_writer 0"));
    assert_eq!(lost, 0, "{lost} of 2000 queries unanswered on the follower");

    // The leader stops; within the lease duration the other holds the lease and writes.
    gone.terminate();
    wait::eventually(
        "the other replica holds the lease",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || (holder() == other).then_some(()),
    );
    emu.clear_log();
    hub.merge_patch(
        FLEET,
        "TrafficManagerBackend",
        "demo",
        "web",
        &json!({"spec": {"weight": 20}}),
        false,
    )
    .unwrap();
    wait::eventually(
        "the new leader writes the change",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || {
            let log = emu.requests();
            log.iter()
                .any(|l| l.is_write() && l.caller.as_deref() == Some(method(other)))
                .then_some(())
        },
    );
    assert!(http_get(stays.admin, "/metrics").contains("fleetdns_azure_writer 1"));
    stays.terminate();
    let _ = std::fs::remove_dir_all(&dir);
}
