//! The incremental composer gives the same `Fleet` (and the same diagnostics) as a
//! whole composition after every event of a sequence that adds, changes and deletes
//! profiles, backends, Services and exports across namespaces and members; and it
//! recomposes only the namespaces touched, except where namespaces meet.

use std::path::Path;

use fleetdns_config::{file, ClusterState, Diagnostics, Fleet};
use fleetdns_sources::kubernetes::compose::{
    compose_cached, ParseCache, Resource, Snapshot, Topology,
};
use fleetdns_sources::kubernetes::incremental::{Composer, Path as How};
use serde_json::{json, Value};

const SETTINGS: &str = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: fleet.example.com
  nameServers:
    - {name: ns1.fleet.example.com, addresses: [127.0.0.1]}
  kubernetes:
    hub: {context: hub}
    members:
      - {name: member-1, context: m1}
      - {name: member-2, context: m2}
";

type Settings = (
    fleetdns_config::document::Doc,
    fleetdns_config::settings::SettingsDocument,
);

fn settings(text: &str) -> Settings {
    let mut diags = Default::default();
    let inputs = file::parse(Path::new("fleet.yaml"), text, &mut diags);
    inputs.settings.into_iter().next().expect("settings parse")
}

fn topology() -> Topology {
    Topology {
        hub: "hub".into(),
        members: vec!["member-1".into(), "member-2".into()],
    }
}

/// Objects get a fresh resourceVersion on every write, as from an API server.
struct Clock(u64);

impl Clock {
    fn meta(&mut self, ns: &str, name: &str, created: &str) -> Value {
        self.0 += 1;
        json!({"namespace": ns, "name": name, "uid": format!("uid-{ns}-{name}"), "generation": 1,
               "resourceVersion": self.0.to_string(), "creationTimestamp": created})
    }
}

fn profile(c: &mut Clock, ns: &str, name: &str, created: &str) -> Value {
    json!({"apiVersion": "networking.fleet.azure.com/v1beta1", "kind": "TrafficManagerProfile",
           "metadata": c.meta(ns, name, created),
           "spec": {"resourceGroup": "rg", "monitorConfig": {"port": 80}}})
}

fn backend(c: &mut Clock, ns: &str, name: &str, profile: &str, service: &str) -> Value {
    json!({"apiVersion": "networking.fleet.azure.com/v1beta1", "kind": "TrafficManagerBackend",
           "metadata": c.meta(ns, name, "2026-01-01T00:00:00Z"),
           "spec": {"profile": {"name": profile}, "backend": {"name": service}, "weight": 100}})
}

fn service(c: &mut Clock, ns: &str, name: &str, ip: &str, port: i64) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": c.meta(ns, name, "2026-01-01T00:00:00Z"),
           "spec": {"type": "LoadBalancer", "ports": [{"port": port, "protocol": "TCP"}]},
           "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
}

fn export(c: &mut Clock, ns: &str, name: &str, weight: &str) -> Value {
    let mut m = c.meta(ns, name, "2026-01-01T00:00:00Z");
    m["annotations"] = json!({"networking.fleet.azure.com/weight": weight});
    json!({"apiVersion": "networking.fleet.azure.com/v1alpha1", "kind": "ServiceExport", "metadata": m})
}

/// One event, as the source folds it: into the snapshot, and the namespace touched.
enum Event {
    Put(&'static str, Resource, Value),
    Delete(&'static str, Resource, &'static str, &'static str),
    Unreachable(&'static str),
    Settings(&'static str),
    /// A completed relist of (cluster, resource) in a namespace (or all).
    Relist(&'static str, Resource, Option<&'static str>, Vec<Value>),
}

struct Run {
    snapshot: Snapshot,
    settings: Settings,
    composer: Composer,
    reference: ParseCache,
}

impl Run {
    fn new() -> Self {
        let mut snapshot = Snapshot::default();
        for c in ["hub", "member-1", "member-2"] {
            snapshot.clusters.insert(c.into(), state(c, true));
        }
        Run {
            snapshot,
            settings: settings(SETTINGS),
            composer: Composer::default(),
            reference: ParseCache::default(),
        }
    }

    /// Applies `event`, composes both ways, checks they agree; returns how the
    /// incremental composer made it.
    fn step(&mut self, what: &str, event: Event) -> How {
        match event {
            Event::Put(cluster, r, o) => {
                let ns = o["metadata"]["namespace"].as_str().unwrap().to_string();
                self.snapshot.insert(cluster, r, o);
                self.composer.touch(&ns);
            }
            Event::Delete(cluster, r, ns, name) => {
                let o = json!({"metadata": {"namespace": ns, "name": name}});
                self.snapshot.remove(cluster, r, &o);
                self.composer.touch(ns);
            }
            Event::Unreachable(cluster) => {
                self.snapshot
                    .clusters
                    .insert(cluster.into(), state(cluster, false));
            }
            Event::Settings(text) => {
                self.settings = settings(text);
                self.composer.touch_all();
            }
            Event::Relist(cluster, r, scope, objects) => {
                for ns in self.snapshot.replace(cluster, r, scope, objects) {
                    self.composer.touch(&ns);
                }
            }
        }
        let (got, got_diags, how) =
            self.composer
                .compose(&self.settings, &topology(), &self.snapshot);
        let (want, want_diags) = compose_cached(
            &self.settings,
            &topology(),
            &self.snapshot,
            &mut self.reference,
        );
        same(what, got.as_ref(), want.as_ref());
        assert_eq!(
            sorted(&got_diags),
            sorted(&want_diags),
            "{what}: the diagnostics differ"
        );
        how
    }
}

fn same(what: &str, got: Option<&Fleet>, want: Option<&Fleet>) {
    let (Some(got), Some(want)) = (got, want) else {
        assert_eq!(got.is_some(), want.is_some(), "{what}: one has no fleet");
        return;
    };
    // Field by field first, for a readable failure; then the whole value.
    assert_eq!(got.profiles, want.profiles, "{what}: profiles differ");
    assert_eq!(
        got.observed.objects, want.observed.objects,
        "{what}: observed objects differ"
    );
    assert_eq!(got.observed, want.observed, "{what}: observed differs");
    assert_eq!(got.zone, want.zone, "{what}: zone (serial) differs");
    assert_eq!(got, want, "{what}: fleets differ");
}

fn sorted(d: &Diagnostics) -> Vec<String> {
    let mut v: Vec<String> = d.iter().map(|d| format!("{d:?}")).collect();
    v.sort();
    v
}

fn state(name: &str, reachable: bool) -> ClusterState {
    ClusterState {
        name: name.into(),
        reachable,
        unreachable_since: None,
        error: (!reachable).then(|| "connection refused".into()),
    }
}

const T0: &str = "2026-01-01T00:00:00Z";

#[test]
fn incremental_composition_equals_a_whole_one_after_every_event() {
    use Event::*;
    use Resource::*;
    let mut r = Run::new();
    let c = &mut Clock(0);
    // Start: two namespaces, each with a profile served by both members.
    for ns in ["team-a", "team-b"] {
        for (cl, ip) in [("member-1", "192.0.2.1"), ("member-2", "192.0.2.2")] {
            r.step("seed", Put(cl, Services, service(c, ns, "web", ip, 80)));
            r.step("seed", Put(cl, Exports, export(c, ns, "web", "50")));
        }
        r.step("seed", Put("hub", Profiles, profile(c, ns, "web", T0)));
        let how = r.step(
            "seed",
            Put("hub", Backends, backend(c, ns, "web-be", "web", "web")),
        );
        assert_eq!(how, How::Parts(1), "one event, one namespace");
    }
    let steps: Vec<(&str, Event)> = vec![
        (
            "a Service's address changes",
            Put(
                "member-1",
                Services,
                service(c, "team-a", "web", "192.0.2.9", 80),
            ),
        ),
        (
            "an export's weight changes",
            Put("member-2", Exports, export(c, "team-b", "web", "200")),
        ),
        (
            "an export's weight becomes invalid (served at the last good one)",
            Put("member-2", Exports, export(c, "team-b", "web", "heavy")),
        ),
        (
            "the port of one member's Service conflicts",
            Put(
                "member-2",
                Services,
                service(c, "team-a", "web", "192.0.2.2", 8080),
            ),
        ),
        (
            "a backend names a profile that does not exist",
            Put("hub", Backends, backend(c, "team-a", "lost", "nope", "web")),
        ),
        (
            "a new namespace with an older profile",
            Put(
                "hub",
                Profiles,
                profile(c, "team-c", "web", "2025-06-01T00:00:00Z"),
            ),
        ),
        (
            "its backend",
            Put(
                "hub",
                Backends,
                backend(c, "team-c", "web-be", "web", "web"),
            ),
        ),
        (
            "its Service",
            Put(
                "member-1",
                Services,
                service(c, "team-c", "web", "2001:db8::1", 80),
            ),
        ),
        (
            "its export",
            Put("member-1", Exports, export(c, "team-c", "web", "1")),
        ),
        (
            "a profile being deleted",
            Put("hub", Profiles, {
                let mut p = profile(c, "team-b", "web", T0);
                p["metadata"]["deletionTimestamp"] = json!("2026-02-01T00:00:00Z");
                p["metadata"]["finalizers"] =
                    json!(["networking.fleet.azure.com/traffic-manager-profile-cleanup"]);
                p
            }),
        ),
        (
            "the export of a Service is deleted",
            Delete("member-1", Exports, "team-a", "web"),
        ),
        (
            "a backend is deleted",
            Delete("hub", Backends, "team-a", "lost"),
        ),
        ("a member becomes unreachable", Unreachable("member-2")),
        (
            "a Service is deleted",
            Delete("member-2", Services, "team-a", "web"),
        ),
    ];
    for (what, event) in steps {
        let how = r.step(what, event);
        assert!(matches!(how, How::Parts(n) if n <= 1), "{what}: {how:?}");
    }
    // Two namespaces whose profiles map to one owner name: composed whole, first come
    // first served across namespaces, until the clash goes.
    r.step(
        "team-a-x/y",
        Put(
            "hub",
            Profiles,
            profile(c, "team-a-x", "y", "2026-03-01T00:00:00Z"),
        ),
    );
    let how = r.step(
        "team-a/x-y, older",
        Put("hub", Profiles, profile(c, "team-a", "x-y", T0)),
    );
    assert_eq!(
        how,
        How::Whole,
        "a clash between namespaces is composed whole"
    );
    let how = r.step(
        "an event while the clash lasts",
        Put(
            "member-1",
            Services,
            service(c, "team-c", "web", "192.0.2.7", 80),
        ),
    );
    assert_eq!(how, How::Whole);
    let how = r.step("the clash goes", Delete("hub", Profiles, "team-a-x", "y"));
    assert!(
        matches!(how, How::Parts(n) if n >= 3),
        "every part again: {how:?}"
    );
    let how = r.step(
        "parts again",
        Put(
            "member-1",
            Services,
            service(c, "team-c", "web", "192.0.2.8", 80),
        ),
    );
    assert_eq!(how, How::Parts(1));
    // Settings change: every part again, and the fleet follows.
    let ttl = SETTINGS.replace(
        "  zone: fleet.example.com\n",
        "  zone: fleet.example.com\n  ttl: 42\n",
    );
    let ttl: &'static str = Box::leak(ttl.into_boxed_str());
    let how = r.step("settings change", Settings(ttl));
    assert!(matches!(how, How::Parts(n) if n >= 3), "{how:?}");
    // A namespace emptied entirely.
    for (cl, r_, name) in [
        ("hub", Backends, "web-be"),
        ("hub", Profiles, "web"),
        ("member-1", Exports, "web"),
        ("member-1", Services, "web"),
    ] {
        r.step("team-c emptied", Delete(cl, r_, "team-c", name));
    }
    assert!(
        r.composer.parts_composed() > 0,
        "the incremental path was taken"
    );
}

#[test]
fn a_relist_recomposes_only_the_namespaces_it_changed() {
    use Event::*;
    use Resource::*;
    let mut r = Run::new();
    let c = &mut Clock(0);
    let mut services = Vec::new();
    for ns in ["team-a", "team-b", "team-c"] {
        let s = service(c, ns, "web", "192.0.2.1", 80);
        services.push(s.clone());
        r.step("seed", Put("member-1", Services, s));
        r.step("seed", Put("member-1", Exports, export(c, ns, "web", "50")));
        r.step("seed", Put("hub", Profiles, profile(c, ns, "web", T0)));
        r.step(
            "seed",
            Put("hub", Backends, backend(c, ns, "web-be", "web", "web")),
        );
    }
    let how = r.step(
        "a relist that finds what was there",
        Relist("member-1", Services, None, services.clone()),
    );
    assert_eq!(how, How::Parts(0));
    // team-b's address changed, team-c's Service is gone, team-d has a new one.
    let mut relisted = vec![
        services[0].clone(),
        service(c, "team-b", "web", "192.0.2.7", 80),
    ];
    relisted.push(service(c, "team-d", "web", "192.0.2.8", 80));
    let how = r.step(
        "a relist with a change, a deletion and an addition",
        Relist("member-1", Services, None, relisted),
    );
    assert_eq!(how, How::Parts(3), "team-b, team-c and team-d");
    let how = r.step(
        "a relist of one namespace leaves the others",
        Relist("member-1", Services, Some("team-a"), vec![]),
    );
    assert_eq!(how, How::Parts(1));
    assert!(r
        .snapshot
        .objects("member-1", Services)
        .all(|s| s["metadata"]["namespace"] != "team-a"));
    assert_eq!(r.snapshot.objects("member-1", Services).count(), 2);
}
