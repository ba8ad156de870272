//! How long one status pass's desired statuses take at scale: N profiles, each
//! with one backend and one Service exported from three member clusters (the
//! shape `scripts/kube_scale_probe.py` seeds, plus clusters), as the Kubernetes
//! source observes them. The status writer recomputes this after every change
//! it sees, so it must grow with the fleet, not with its square.
//!
//! `cargo run --release -p fleetdns-sync --example status_scale -- 1000 10000 100000`

use std::sync::Arc;
use tokio::time::Instant;

use fleetdns_config::testing::{endpoint, fleet, profile};
use fleetdns_config::{Fleet, ObjectKind, ObservedObject};
use fleetdns_sync::status::desired::desired_with_health;

const CLUSTERS: [&str; 3] = ["member-1", "member-2", "member-3"];

fn scale_fleet(n: usize) -> Fleet {
    let ns = |i: usize| format!("ns{}", i / 100);
    let mut f = fleet()
        .profiles((0..n).map(|i| {
            let mut p = profile(&ns(i), &format!("p{i}"));
            for (c, cluster) in CLUSTERS.iter().enumerate() {
                p = p.endpoint(
                    endpoint(&format!("{}/b{i}#s{i}#{cluster}", ns(i)))
                        .backend(&format!("b{i}"))
                        .service(&format!("s{i}"))
                        .cluster(cluster)
                        .address([10, c as u8, (i / 250 % 250) as u8, (i % 250) as u8 + 1]),
                );
            }
            p
        }))
        .build();
    f.profiles.sort_by(|a, b| a.owner.cmp(&b.owner));
    let mut objects = Vec::new();
    for i in 0..n {
        let mut p = ObservedObject::new(
            ObjectKind::TrafficManagerProfile,
            "hub",
            &ns(i),
            &format!("p{i}"),
        );
        p.uid = format!("uid-p{i}");
        let mut b = ObservedObject::new(
            ObjectKind::TrafficManagerBackend,
            "hub",
            &ns(i),
            &format!("b{i}"),
        );
        b.uid = format!("uid-b{i}");
        b.backend_profile = Some(format!("p{i}"));
        b.backend_service = Some(format!("s{i}"));
        b.backend_weight = Some(1);
        objects.push(p);
        objects.push(b);
        for cluster in CLUSTERS {
            let mut x =
                ObservedObject::new(ObjectKind::ServiceExport, cluster, &ns(i), &format!("s{i}"));
            x.exported = true;
            x.export_weight = Some(1);
            x.export_validity = Some(("ServiceIsValid".into(), "exported".into()));
            objects.push(x);
        }
    }
    f.observed.objects = objects.into_iter().map(Arc::new).collect();
    f
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("sizes are numbers"))
        .collect();
    for n in if sizes.is_empty() {
        vec![1000, 10_000]
    } else {
        sizes
    } {
        let f = scale_fleet(n);
        let t = Instant::now();
        let want = desired_with_health(&f, None, true, None);
        let took = t.elapsed();
        let serving = want
            .iter()
            .filter(|d| d.own.as_ref().is_some_and(|c| c.status == "True"))
            .count();
        println!(
            "{n:>7} profiles: {:>7} desired statuses ({serving} Serving True) in {:>9.1} ms",
            want.len(),
            took.as_secs_f64() * 1e3
        );
    }
}
