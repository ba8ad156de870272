//! The content serial digests each profile once: a fleet that shares most of its
//! profiles (`Arc`s) with the last one sealed gets exactly the serial a cold seal
//! gives, having digested only the profiles that are new. What a replica reports
//! must never depend on what it sealed before.
//!
//! Needs the `test-support` feature (on in workspace test builds):
//! `cargo test -p fleetdns-config --features test-support --test serial_cache`.
#![cfg(feature = "test-support")]

use std::sync::Arc;

use fleetdns_config::testing::{endpoint, fleet, profile};
use fleetdns_config::validate::{seal, seal_cached, SerialCache};
use fleetdns_config::Fleet;

fn fleet_of(n: usize) -> Fleet {
    fleet()
        .profiles((0..n).map(|i| {
            profile("ns", &format!("p{i:03}")).endpoint(
                endpoint(&format!("ns/p{i}#s#c1")).address([10, 0, 0, (i % 250) as u8 + 1]),
            )
        }))
        .build()
}

fn cold(f: &Fleet) -> u32 {
    let mut f = f.clone();
    seal(&mut f);
    f.zone.soa.serial
}

#[test]
fn a_cached_seal_equals_a_cold_one_and_digests_only_new_profiles() {
    let mut cache = SerialCache::default();
    let mut a = fleet_of(50);
    seal_cached(&mut a, &mut cache);
    assert_eq!(cache.computed(), 50);
    assert_eq!(a.zone.soa.serial, cold(&a));

    // Same profiles (shared): nothing digested again, same serial.
    let mut same = a.clone();
    seal_cached(&mut same, &mut cache);
    assert_eq!(cache.computed(), 0);
    assert_eq!(same.zone.soa.serial, a.zone.soa.serial);

    // One profile changed: one digest, a new serial, the cold serial.
    let mut edited = a.clone();
    edited.profile_mut(7).endpoints[0].weight = 900;
    seal_cached(&mut edited, &mut cache);
    assert_eq!(cache.computed(), 1);
    assert_ne!(edited.zone.soa.serial, a.zone.soa.serial);
    assert_eq!(edited.zone.soa.serial, cold(&edited));

    // A profile removed and one added (owner order kept): the added one is digested.
    let mut moved = edited.clone();
    moved.profiles.remove(3);
    let mut extra = (*moved.profiles[0]).clone();
    extra.owner = "ns-p999.fleet.example.com".into();
    extra.name = "p999".into();
    moved.profiles.push(Arc::new(extra));
    seal_cached(&mut moved, &mut cache);
    assert_eq!(cache.computed(), 1);
    assert_eq!(moved.zone.soa.serial, cold(&moved));
    assert_ne!(moved.zone.soa.serial, edited.zone.soa.serial);

    // Equal content in new allocations (a cold validation): each takes the
    // cached object and its digest, same serial as before.
    let mut copies = moved.clone();
    for p in &mut copies.profiles {
        *p = Arc::new((**p).clone());
    }
    seal_cached(&mut copies, &mut cache);
    assert_eq!(cache.computed(), 0);
    assert!(copies
        .profiles
        .iter()
        .zip(&moved.profiles)
        .all(|(c, m)| Arc::ptr_eq(c, m)));
    assert_eq!(copies.zone.soa.serial, moved.zone.soa.serial);
}

#[test]
fn zone_wide_settings_change_the_serial_too() {
    let a = fleet_of(3);
    let mut b = a.clone();
    b.zone.default_ttl += 1;
    assert_ne!(cold(&a), cold(&b));
    let mut c = a.clone();
    c.profile_mut(0).ttl += 1;
    assert_ne!(cold(&a), cold(&c));
}
