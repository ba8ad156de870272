//! The SOA serial when the settings give none.
//!
//! It depends only on the content, so every replica fed the same input reports
//! the same serial: FNV-1a over the canonical JSON of the fleet without its
//! profiles, followed by one 64-bit FNV-1a digest of each profile's canonical JSON,
//! in owner order. Digesting profiles one by one lets a fleet that shares most of
//! its profiles with the last one (a watch event, a reload that changed one
//! document) hash only the profiles that are new ([`SerialCache`]): at 100k
//! profiles hashing everything costs ~0.1–0.2 s, hashing one profile microseconds.
//! JSON is hashed as it is written, never held whole.

use std::sync::Arc;

use serde::Serialize;

use crate::model::{Fleet, Profile};

/// The digests of the profiles of the last fleet sealed with it, so the next seal
/// digests only profiles it has not seen (by pointer: profiles are shared `Arc`s).
#[derive(Debug, Default)]
pub struct SerialCache {
    /// The last fleet's profiles (kept alive so their pointers stay unique) and digests.
    profiles: Vec<(Arc<Profile>, u64)>,
    /// Digests computed (not reused) by the last seal.
    computed: usize,
}

impl SerialCache {
    /// Makes each of `fleet`'s profiles equal to one this cache holds (same
    /// owner name) that object.
    pub(super) fn share_into(&self, fleet: &mut Fleet) -> usize {
        crate::model::share_profiles(&mut fleet.profiles, self.profiles.iter().map(|(p, _)| p))
    }

    /// How many profile digests the last seal computed instead of reusing.
    pub fn computed(&self) -> usize {
        self.computed
    }
}

/// The fleet's content serial (never 0), reusing and refreshing `cache`.
pub(super) fn content_serial(fleet: &Fleet, cache: &mut SerialCache) -> u32 {
    let mut h = Fnv32(0x811c_9dc5);
    hash_json(&mut h, &WithoutProfiles(fleet));
    let old = std::mem::take(&mut cache.profiles);
    let mut old = old.into_iter().peekable();
    let mut digests = Vec::with_capacity(fleet.profiles.len());
    let mut computed = 0;
    // One buffer for every profile's JSON.
    let mut json = Vec::with_capacity(4096);
    for p in &fleet.profiles {
        // Both lists are sorted by owner: walk them side by side.
        while old.peek().is_some_and(|(o, _)| o.owner < p.owner) {
            old.next();
        }
        let digest = match old.peek() {
            Some((o, d)) if Arc::ptr_eq(o, p) => *d,
            _ => {
                computed += 1;
                profile_digest(p, &mut json)
            }
        };
        std::io::Write::write_all(&mut h, &digest.to_le_bytes()).expect("hashing never fails");
        digests.push((Arc::clone(p), digest));
    }
    *cache = SerialCache {
        profiles: digests,
        computed,
    };
    h.0.max(1)
}

/// 64-bit FNV-1a of one profile's canonical JSON (written into `json`, reused).
fn profile_digest(p: &Profile, json: &mut Vec<u8>) -> u64 {
    json.clear();
    serde_json::to_writer(&mut *json, p).expect("a profile serializes to JSON");
    json.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Feeds the JSON of `value` to `h`, buffered (the serializer writes a few bytes at a time).
fn hash_json<W: std::io::Write, T: Serialize + ?Sized>(h: &mut W, value: &T) {
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, h);
    serde_json::to_writer(&mut w, value).expect("the fleet serializes to JSON");
    w.into_inner()
        .map_err(|e| e.into_error())
        .expect("hashing never fails");
}

/// The fleet as JSON with an empty profile list (the profiles are digested one by one).
struct WithoutProfiles<'a>(&'a Fleet);

impl Serialize for WithoutProfiles<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Every field of `Fleet` is serialized by its own derive except the profiles:
        // a shallow copy with no profiles (profiles are `Arc`s; the rest is small).
        let Fleet {
            zone,
            listen,
            profiles: _,
            trusted_networks,
            admin_listen,
            rrl,
            tcp,
            azure,
            kubernetes,
            dnssec,
            observed: _,
        } = self.0;
        Fleet {
            zone: zone.clone(),
            listen: listen.clone(),
            profiles: Vec::new(),
            trusted_networks: trusted_networks.clone(),
            admin_listen: *admin_listen,
            rrl: rrl.clone(),
            tcp: tcp.clone(),
            azure: azure.clone(),
            kubernetes: kubernetes.clone(),
            dnssec: dnssec.clone(),
            observed: Default::default(),
        }
        .serialize(s)
    }
}

/// FNV-1a, 32 bits, over everything written to it.
struct Fnv32(u32);

impl std::io::Write for Fnv32 {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &b in buf {
            self.0 ^= u32::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
