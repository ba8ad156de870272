//! A patched zone answers exactly like a whole compile of the same fleet and
//! health (`dns/src/patch.rs`): a seeded random walk of fleet and health
//! changes, each applied as a patch on top of the last one, compared after
//! every step with `compile()` of the same inputs, names, answer sets, health
//! views and answer counter keys included.

use std::sync::Arc;

use fleetdns_config::testing::{endpoint, fleet, profile};
use fleetdns_config::{EndpointHealth, Fleet, Health, MonitorState, Profile, RoutingMethod};
use fleetdns_dns::patch::{diff, health_changes, Changes};
use fleetdns_dns::{compile, DnsMetrics, Snapshot};

const CLUSTERS: [&str; 3] = ["east", "west", "north"];

fn a_profile(rng: &mut fastrand::Rng, i: u32) -> Profile {
    let n = rng.u32(0..4);
    let routing = match rng.u8(0..3) {
        0 => RoutingMethod::Weighted,
        1 => RoutingMethod::Priority,
        _ => RoutingMethod::MultiValue { max_return: 2 },
    };
    profile("ns", &format!("p{i}"))
        .routing(routing)
        .fail_closed(rng.bool())
        .endpoints((0..n).map(|k| {
            let e = endpoint(&format!("ns/p{i}#svc#{}", CLUSTERS[k as usize]))
                .cluster(CLUSTERS[k as usize])
                .weight(rng.u32(1..5))
                .priority(rng.u32(1..3));
            match rng.u8(0..4) {
                0 => e.host(&format!("lb{k}.example.net")),
                1 => e.ipv6([0x2001, 0xdb8, 0, 0, 0, 0, 0, rng.u16(1..9)]),
                _ => e.ipv4([192, 0, 2, rng.u8(1..250)]),
            }
        }))
        .build()
}

fn health_of(rng: &mut fastrand::Rng, f: &Fleet, mut base: Health) -> Health {
    for p in &f.profiles {
        for e in &p.endpoints {
            if base.get(&e.id).is_none() || rng.u8(0..10) == 0 {
                let state = match rng.u8(0..3) {
                    0 => MonitorState::Degraded,
                    1 => MonitorState::CheckingEndpoint,
                    _ => MonitorState::Online,
                };
                base.insert(
                    e.id.clone(),
                    EndpointHealth {
                        state,
                        consecutive_failures: 0,
                        last: None,
                    },
                );
            }
        }
    }
    base
}

/// The fleet of `profiles`, sharing them (as validation shares the profiles
/// a change did not touch).
fn build(profiles: &[Arc<Profile>], serial: u32) -> Fleet {
    let mut f = fleet().serial(serial).build();
    f.profiles = profiles.to_vec();
    f.profiles.sort_by(|a, b| a.owner.cmp(&b.owner));
    f
}

/// One step: change a few profiles (edit, add, remove) and some health.
fn step(rng: &mut fastrand::Rng, profiles: &mut Vec<Arc<Profile>>, next: &mut u32) {
    for _ in 0..rng.usize(1..4) {
        match rng.u8(0..5) {
            0 if !profiles.is_empty() => {
                let i = rng.usize(..profiles.len());
                profiles.remove(i);
            }
            1 => {
                *next += 1;
                profiles.push(Arc::new(a_profile(rng, *next)));
            }
            4 if !profiles.is_empty() => {
                // An equal copy (a source that built it again).
                let i = rng.usize(..profiles.len());
                profiles[i] = Arc::new((*profiles[i]).clone());
            }
            _ if !profiles.is_empty() => {
                // Same name, new endpoints and settings (some ids stay, some go).
                let i = rng.usize(..profiles.len());
                let name = profiles[i].name.trim_start_matches('p').parse().unwrap();
                profiles[i] = Arc::new(a_profile(rng, name));
            }
            _ => {}
        }
    }
}

#[test]
fn a_patched_zone_answers_like_a_whole_compile() {
    let mut rng = fastrand::Rng::with_seed(20);
    let registry = prometheus::Registry::new();
    let metrics = DnsMetrics::register(&registry).unwrap();
    let mut next = 40;
    let mut profiles: Vec<Arc<Profile>> = (0..next)
        .map(|i| Arc::new(a_profile(&mut rng, i)))
        .collect();
    let mut old_fleet = build(&profiles, 1);
    // The prober's way: one table of states, numbered snapshots published from it.
    let mut table = health_of(&mut rng, &old_fleet, Health::default());
    let mut health = Arc::new(table.publish());
    let mut snapshot = Snapshot::compile(&old_fleet, health.clone(), &metrics);
    let mut index = None;
    let (mut patched_steps, mut changed) = (0, 0);
    for round in 0..150u32 {
        let fleet_changes = round % 3 != 2;
        if fleet_changes {
            step(&mut rng, &mut profiles, &mut next);
        }
        let new_fleet = build(&profiles, 1 + round);
        let new_health = if round % 4 == 0 {
            // Unnumbered, from a copy: found by comparing the slots.
            Arc::new(health_of(&mut rng, &new_fleet, (*health).clone()))
        } else if round % 2 == 0 {
            // Published: the moves since the last snapshot come with it.
            table = health_of(&mut rng, &new_fleet, std::mem::take(&mut table));
            Arc::new(table.publish())
        } else {
            health.clone()
        };
        let mut changes: Changes = diff(&old_fleet, &new_fleet).expect("only profiles changed");
        index = if fleet_changes { None } else { index };
        changes.compile.extend(health_changes(
            &new_fleet,
            snapshot.health(),
            &new_health,
            &mut index,
        ));
        changed += changes.len();
        let whole = compile(&new_fleet, &new_health);
        snapshot = snapshot
            .patch(&new_fleet, new_health.clone(), &changes, &metrics)
            .expect("an unsigned zone patches");
        patched_steps += 1;
        assert!(
            snapshot.zone().shares_profiles_of(&new_fleet),
            "round {round}: the patched zone holds a profile that is not the fleet's own"
        );
        let (got, want) = (snapshot.zone().describe(), whole.describe());
        let only = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter().filter(|l| !b.contains(l)).cloned().collect()
        };
        assert!(
            got == want,
            "round {round}: {changes:?}\nonly in the patched zone: {:#?}\nonly in the whole compile: {:#?}",
            only(&got, &want),
            only(&want, &got)
        );
        old_fleet = new_fleet;
        health = new_health;
    }
    assert_eq!(patched_steps, 150);
    assert!(changed > 150, "the walk changed profiles ({changed})");
}

/// A change to most of a large fleet compiles whole; a few changed profiles patch.
#[test]
fn a_change_to_most_of_a_large_fleet_is_not_patched() {
    let changes = |n: usize| Changes {
        compile: (0..n).collect(),
        removed: Vec::new(),
    };
    assert!(changes(1).worth_patching(100_000));
    assert!(changes(12_500).worth_patching(100_000));
    assert!(!changes(12_501).worth_patching(100_000));
    assert!(!changes(100_000).worth_patching(100_000));
    // Small fleets always patch (a whole compile of them is cheap either way).
    assert!(changes(1_000).worth_patching(1_000));
}
