//! List and watch through kube-runtime's watcher: added/modified/deleted, namespaced scope,
//! 410 Gone (forced and after compaction) and relists, bookmarks, server-side watch
//! timeouts, streaming lists and metadata-only watches.

use std::time::Duration;

use fleetdns_config::crd::v1beta1;
use fleetdns_kubefake::FakeCluster;
use futures::StreamExt;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use serde_json::json;
use tokio::sync::mpsc;

use crate::common::*;

#[tokio::test]
async fn list_watch_sees_added_modified_deleted() {
    let c = start(1, "hub");
    let api: Api<v1beta1::TrafficManagerProfile> = Api::namespaced(client(&c).await, "team-a");
    api.create(&PostParams::default(), &profile("team-a", "before"))
        .await
        .expect("create");
    let mut rx = spawn_watcher(api.clone(), watcher::Config::default());
    let init = until(&mut rx, "InitDone", |e| matches!(e, Ok(Event::InitDone))).await;
    assert!(
        init.iter()
            .any(|e| matches!(e, Ok(Event::InitApply(p)) if name_of(p) == "before")),
        "{init:?}"
    );

    c.create(&profile("team-a", "web")).expect("handle create");
    until(
        &mut rx,
        "ADDED web",
        |e| matches!(e, Ok(Event::Apply(p)) if name_of(p) == "web"),
    )
    .await;

    c.merge_patch(
        TMP,
        "TrafficManagerProfile",
        "team-a",
        "web",
        &json!({"spec": {"monitorConfig": {"path": "/healthz"}}}),
        false,
    )
    .expect("patch");
    let seen = until(&mut rx, "MODIFIED web", |e| {
        matches!(e, Ok(Event::Apply(p)) if name_of(p) == "web"
            && p.spec.monitor_config.as_ref().and_then(|m| m.path.as_deref()) == Some("/healthz"))
    })
    .await;
    let Some(Ok(Event::Apply(p))) = seen.last() else {
        unreachable!()
    };
    assert_eq!(
        p.metadata.generation,
        Some(2),
        "spec change bumps generation"
    );

    // Objects in another namespace are not seen by a namespaced watch.
    c.create(&profile("team-b", "other"))
        .expect("create in team-b");
    c.delete(TMP, "TrafficManagerProfile", "team-a", "web")
        .expect("delete");
    let seen = until(
        &mut rx,
        "DELETED web",
        |e| matches!(e, Ok(Event::Delete(p)) if name_of(p) == "web"),
    )
    .await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Ok(Event::Apply(p)) if name_of(p) == "other")),
        "{seen:?}"
    );

    // An all-namespaces list sees both namespaces, with a list resourceVersion.
    let all: Api<v1beta1::TrafficManagerProfile> = Api::all(client(&c).await);
    let list = all.list(&ListParams::default()).await.expect("list all");
    let names: Vec<String> = list.items.iter().map(name_of).collect();
    assert_eq!(names, ["before", "other"]);
    assert_eq!(
        list.metadata.resource_version,
        Some(c.resource_version().to_string())
    );
}

#[tokio::test]
async fn watch_410_makes_the_watcher_relist_and_continue() {
    let c = start(2, "hub");
    let api: Api<v1beta1::TrafficManagerProfile> = Api::namespaced(client(&c).await, "ns");
    c.create(&profile("ns", "a")).expect("create");
    let mut rx = spawn_watcher(api.clone(), watcher::Config::default());
    until(&mut rx, "InitDone", |e| matches!(e, Ok(Event::InitDone))).await;

    // Forced: every watch resumes into an ERROR event with a 410 Status.
    c.expire_all_watches();
    let seen = until(&mut rx, "relist InitDone", |e| {
        matches!(e, Ok(Event::InitDone))
    })
    .await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, Err(s) if s.contains("Expired"))),
        "410 surfaced as a watch error: {seen:?}"
    );
    assert!(
        seen.iter().any(|e| matches!(e, Ok(Event::Init))),
        "relisted: {seen:?}"
    );

    // History compaction: objects changed while the watcher was away, older resourceVersions
    // are gone, so the resumed watch gets 410 and the watcher relists.
    c.stop();
    c.create(&profile("ns", "b"))
        .expect("create while unreachable");
    c.compact();
    c.resume().expect("resume");
    let seen = until(
        &mut rx,
        "b after relist",
        |e| matches!(e, Ok(Event::InitApply(p)) if name_of(p) == "b"),
    )
    .await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, Err(s) if s.contains("too old resource version"))),
        "{seen:?}"
    );
    until(&mut rx, "InitDone", |e| matches!(e, Ok(Event::InitDone))).await;

    c.create(&profile("ns", "c")).expect("create c");
    until(
        &mut rx,
        "c",
        |e| matches!(e, Ok(Event::Apply(p)) if name_of(p) == "c"),
    )
    .await;
}

#[tokio::test]
async fn bookmarks_timeouts_streaming_lists_and_metadata_watches() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let opts = fleetdns_kubefake::Options {
        bookmark_interval: Duration::from_millis(200),
        ..Default::default()
    };
    let c = FakeCluster::start_with("127.0.120.14:0".parse().unwrap(), "hub", opts).unwrap();
    c.create(&profile("ns", "a")).unwrap();
    let api: Api<v1beta1::TrafficManagerProfile> = Api::namespaced(client(&c).await, "ns");

    // Raw watch: ADDED for the current state (resourceVersion 0), bookmarks, server-side end.
    let t = std::time::Instant::now();
    let events: Vec<_> = api
        .watch(&kube::api::WatchParams::default().timeout(1), "0")
        .await
        .unwrap()
        .collect()
        .await;
    assert!(t.elapsed() >= Duration::from_millis(900) && t.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(&events[0], Ok(kube::api::WatchEvent::Added(p)) if name_of(p) == "a"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Ok(kube::api::WatchEvent::Bookmark(_)))),
        "{events:?}"
    );

    // A forced 410 on the next watch request.
    c.expire_next_watches(1);
    let events: Vec<_> = api
        .watch(
            &kube::api::WatchParams::default().timeout(5),
            &c.resource_version().to_string(),
        )
        .await
        .unwrap()
        .collect()
        .await;
    assert!(
        matches!(&events[..], [Ok(kube::api::WatchEvent::Error(e))] if e.code == 410),
        "{events:?}"
    );

    // A watch from a resourceVersion the history no longer has: one ERROR event, 410.
    c.create(&profile("ns", "b")).unwrap();
    c.compact();
    let events: Vec<_> = api
        .watch(&kube::api::WatchParams::default().timeout(5), "1")
        .await
        .unwrap()
        .collect()
        .await;
    assert!(
        matches!(&events[..], [Ok(kube::api::WatchEvent::Error(e))] if e.code == 410 && e.reason == "Expired"),
        "{events:?}"
    );

    // Streaming lists (sendInitialEvents) and metadata-only watches.
    let mut rx = spawn_watcher(api.clone(), watcher::Config::default().streaming_lists());
    let seen = until(&mut rx, "InitDone (streaming)", |e| {
        matches!(e, Ok(Event::InitDone))
    })
    .await;
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, Ok(Event::InitApply(_))))
            .count(),
        2,
        "{seen:?}"
    );

    let (tx, mut mrx) = mpsc::unbounded_channel();
    let mapi: Api<kube::core::PartialObjectMeta<v1beta1::TrafficManagerProfile>> =
        Api::namespaced(client(&c).await, "ns");
    tokio::spawn(async move {
        let mut s = watcher::watcher(mapi, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(e) = s.next().await {
            if tx.send(e.map_err(|e| e.to_string())).is_err() {
                return;
            }
        }
    });
    until(&mut mrx, "metadata InitDone", |e| {
        matches!(e, Ok(Event::InitDone))
    })
    .await;
    c.create(&profile("ns", "c")).unwrap();
    until(
        &mut mrx,
        "metadata c",
        |e| matches!(e, Ok(Event::Apply(m)) if m.metadata.name.as_deref() == Some("c")),
    )
    .await;
    until(
        &mut rx,
        "streaming c",
        |e| matches!(e, Ok(Event::Apply(p)) if name_of(p) == "c"),
    )
    .await;
}
