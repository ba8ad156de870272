//! A fleet rebuilt whole takes the previous fleet's object for every profile
//! that did not change (`Fleet::share_unchanged`), so the zone patches only the
//! changed ones and the equal copies are freed.
//!
//! Needs the `test-support` feature (on in workspace test builds):
//! `cargo test -p fleetdns-config --features test-support --test share_unchanged`.
#![cfg(feature = "test-support")]

use std::sync::Arc;

use fleetdns_config::testing::{endpoint, fleet, profile};

#[test]
fn equal_profiles_become_the_previous_objects_and_changed_ones_stay_new() {
    let build = |ttl: u32| {
        fleet()
            .profile(profile("ns", "a").endpoint(endpoint("1")))
            .profile(profile("ns", "b").ttl(ttl).endpoint(endpoint("2")))
            .profile(profile("ns", "c").endpoint(endpoint("3")))
            .build()
    };
    let old = build(30);
    let mut new = build(60);
    assert!(new
        .profiles
        .iter()
        .zip(&old.profiles)
        .all(|(n, o)| !Arc::ptr_eq(n, o)));
    assert_eq!(new.share_unchanged(&old), 2);
    let same: Vec<bool> = new
        .profiles
        .iter()
        .zip(&old.profiles)
        .map(|(n, o)| Arc::ptr_eq(n, o))
        .collect();
    assert_eq!(same, [true, false, true], "b changed its TTL");
    assert_eq!(new.profiles[1].ttl, 60);
    assert_eq!(new.share_unchanged(&old), 0, "nothing left to take");
}

#[test]
fn profiles_added_or_removed_do_not_misalign_the_walk() {
    let old = fleet()
        .profile(profile("ns", "a").endpoint(endpoint("1")))
        .profile(profile("ns", "c").endpoint(endpoint("3")))
        .build();
    let mut new = fleet()
        .profile(profile("ns", "b").endpoint(endpoint("2")))
        .profile(profile("ns", "c").endpoint(endpoint("3")))
        .profile(profile("ns", "d").endpoint(endpoint("4")))
        .build();
    assert_eq!(new.share_unchanged(&old), 1);
    assert!(Arc::ptr_eq(&new.profiles[1], &old.profiles[1]), "c");
}

#[test]
fn sealing_with_a_cache_takes_its_equal_profiles_and_their_digests() {
    use fleetdns_config::validate::{seal_cached, SerialCache};
    let build = |ttl: u32| {
        fleet()
            .profile(profile("ns", "a").endpoint(endpoint("1")))
            .profile(profile("ns", "b").ttl(ttl).endpoint(endpoint("2")))
            .build()
    };
    let mut cache = SerialCache::default();
    let mut old = build(30);
    seal_cached(&mut old, &mut cache);
    let mut new = build(60);
    seal_cached(&mut new, &mut cache);
    assert!(
        Arc::ptr_eq(&new.profiles[0], &old.profiles[0]),
        "a is the cached object"
    );
    assert!(
        !Arc::ptr_eq(&new.profiles[1], &old.profiles[1]),
        "b changed"
    );
    assert_eq!(cache.computed(), 1, "only b was digested again");
    // The serial is the content's, as a cold seal gives it.
    let mut cold = build(60);
    fleetdns_config::validate::seal(&mut cold);
    assert_eq!(new.zone.soa.serial, cold.zone.soa.serial);
}
