//! The compact answer counters against the `IntCounterVec` they replace.

use std::sync::Arc;

use fleetdns_config::{testing, EndpointHealth, Fleet, Health, MonitorState};
use prometheus::{Encoder, IntCounterVec, Opts, Registry, TextEncoder};

use crate::{DnsMetrics, Snapshot};

const A: &str = "ns/web#svc#a";
const B: &str = "ns/web#svc#b";
const API: &str = "ns/api#svc#a";
const API_B: &str = "ns/api#svc#b";

/// Profiles `web` and `api`, each with the endpoint of cluster a, and of b when `with_b`.
fn fleet(with_b: bool) -> Fleet {
    let profile = |name: &str, ids: [&str; 2]| {
        let clusters = if with_b { &["a", "b"][..] } else { &["a"][..] };
        testing::profile("ns", name).endpoints(
            clusters
                .iter()
                .zip(ids)
                .map(|(c, id)| testing::endpoint(id).service("svc").cluster(c)),
        )
    };
    testing::fleet()
        .profile(profile("web", [A, B]))
        .profile(profile("api", [API, API_B]))
        .build()
}

fn degraded(id: &str) -> Arc<Health> {
    let h: Health = [(
        Arc::from(id),
        EndpointHealth {
            state: MonitorState::Degraded,
            consecutive_failures: 0,
            last: None,
        },
    )]
    .into_iter()
    .collect();
    Arc::new(h)
}

/// Counts `n` answers for the endpoint with id `id` through `s`.
fn count(s: &Snapshot, id: &str, n: u64) {
    let (i, _) = s
        .zone()
        .nodes
        .endpoint_keys()
        .find(|(_, k)| k.id() == id)
        .expect(id);
    for _ in 0..n {
        s.count_answer(i);
    }
}

/// The exposition lines of `fleetdns_dns_answers_total` in `registry`.
fn answer_lines(registry: &Registry) -> String {
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .expect("encode");
    String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .filter(|l| l.contains("fleetdns_dns_answers_total"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn totals(m: &DnsMetrics) -> Vec<(String, u64)> {
    let mut t = m.answer_totals();
    t.sort();
    t
}

#[test]
fn answers_exposition_matches_the_int_counter_vec_format() {
    let registry = Registry::new();
    let metrics = DnsMetrics::register(&registry).expect("register");
    let s = Snapshot::compile(&fleet(true), Arc::new(Health::default()), &metrics);
    count(&s, A, 3);
    count(&s, API, 1);

    // What the IntCounterVec this replaced printed for the same counts.
    let old = Registry::new();
    let vec = IntCounterVec::new(
        Opts::new(
            "fleetdns_dns_answers_total",
            "Answers that returned each endpoint (Traffic Manager's queries by endpoint returned)",
        ),
        &["profile", "endpoint"],
    )
    .expect("vec");
    old.register(Box::new(vec.clone())).expect("register");
    vec.with_label_values(&["ns/web", A]).inc_by(3);
    vec.with_label_values(&["ns/web", B]).inc_by(0);
    vec.with_label_values(&["ns/api", API]).inc_by(1);
    vec.with_label_values(&["ns/api", API_B]).inc_by(0);

    let new = answer_lines(&registry);
    assert_eq!(new, answer_lines(&old));
    assert!(
        new.contains("# TYPE fleetdns_dns_answers_total counter\n"),
        "{new}"
    );
    assert!(
        new.contains(
            "fleetdns_dns_answers_total{endpoint=\"ns/web#svc#a\",profile=\"ns/web\"} 3\n"
        ),
        "{new}"
    );
    assert_eq!(
        new.lines().count(),
        6,
        "HELP, TYPE and one line per endpoint: {new}"
    );
    assert_eq!(
        totals(&metrics),
        [
            (API.to_string(), 1),
            (API_B.to_string(), 0),
            (A.to_string(), 3),
            (B.to_string(), 0)
        ]
    );

    // No zone published yet: no family, as a vector without children.
    let empty = Registry::new();
    let _unused = DnsMetrics::register(&empty).expect("register");
    assert_eq!(answer_lines(&empty), "");
}

#[test]
fn answers_survive_a_recompile_and_go_with_their_endpoint() {
    let metrics = DnsMetrics::unregistered().expect("metrics");
    let first = Snapshot::compile(&fleet(true), Arc::new(Health::default()), &metrics);
    count(&first, A, 5);
    count(&first, B, 2);

    // A recompile (same endpoints) keeps the counts, and an answer counted
    // through the replaced snapshot still lands in the shared counter.
    let second = Snapshot::compile(&fleet(true), Arc::new(Health::default()), &metrics);
    count(&first, A, 1);
    count(&second, A, 1);
    assert_eq!(
        totals(&metrics),
        [
            (API.to_string(), 0),
            (API_B.to_string(), 0),
            (A.to_string(), 7),
            (B.to_string(), 2)
        ]
    );

    // B degraded leaves the answer sets but keeps its series and count, as
    // the IntCounterVec child did.
    let third = Snapshot::compile(&fleet(true), degraded(B), &metrics);
    count(&third, A, 1);
    assert_eq!(
        totals(&metrics),
        [
            (API.to_string(), 0),
            (API_B.to_string(), 0),
            (A.to_string(), 8),
            (B.to_string(), 2)
        ]
    );

    // Cluster b leaves the fleet (the endpoint list changes): its series go, the
    // others keep theirs although their indexes moved.
    let fourth = Snapshot::compile(&fleet(false), Arc::new(Health::default()), &metrics);
    count(&fourth, API, 4);
    assert_eq!(totals(&metrics), [(API.to_string(), 4), (A.to_string(), 8)]);
    // The old snapshots still count into their cells, harmlessly.
    count(&first, B, 1);

    // Once no snapshot that knew B is alive, its freed cell is reused zeroed:
    // B coming back starts from 0, as a removed series did.
    drop((first, second, third));
    let _fifth = Snapshot::compile(&fleet(false), Arc::new(Health::default()), &metrics);
    drop(fourth);
    let sixth = Snapshot::compile(&fleet(true), Arc::new(Health::default()), &metrics);
    assert_eq!(
        totals(&metrics),
        [
            (API.to_string(), 4),
            (API_B.to_string(), 0),
            (A.to_string(), 8),
            (B.to_string(), 0)
        ]
    );
    count(&sixth, B, 1);
    assert_eq!(totals(&metrics)[3], (B.to_string(), 1));
}

/// An endpoint no answer set holds (Degraded, its profile serving others) gets
/// no series, in a profile of few records and in one of many.
#[test]
fn only_answerable_endpoints_get_a_series_in_small_and_large_profiles() {
    let ids = |name: &str, n: usize| -> Vec<String> {
        (0..n).map(|i| format!("ns/{name}#svc#c{i:02}")).collect()
    };
    let profile = |name: &str, n: usize| {
        testing::profile("ns", name).endpoints(ids(name, n).into_iter().enumerate().map(
            |(i, id)| {
                testing::endpoint(&id)
                    .service("svc")
                    .cluster(&format!("c{i:02}"))
            },
        ))
    };
    let f = testing::fleet()
        .profile(profile("small", 3))
        .profile(profile("large", 40))
        .build();
    let down = |id: &str| {
        (
            Arc::from(id),
            EndpointHealth {
                state: MonitorState::Degraded,
                consecutive_failures: 0,
                last: None,
            },
        )
    };
    let (small, large) = (ids("small", 3), ids("large", 40));
    let degraded: Vec<&String> = [&small[1]]
        .into_iter()
        .chain(large.iter().step_by(4))
        .collect();
    let health: Health = degraded.iter().map(|id| down(id)).collect();
    let registry = Registry::new();
    let metrics = DnsMetrics::register(&registry).expect("register");
    let _s = Snapshot::compile(&f, Arc::new(health), &metrics);
    let mut want: Vec<(String, u64)> = small
        .iter()
        .chain(&large)
        .filter(|id| !degraded.contains(id))
        .map(|id| (id.clone(), 0))
        .collect();
    want.sort();
    assert_eq!(totals(&metrics), want);
}
