//! Response rate limiting (RRL) of UDP answers, in the style of BIND and Knot.
//!
//! A spoofed-source flood turns an authoritative server into a reflector. RRL
//! bounds the answers sent towards any one client network: each (client prefix,
//! response class) has a token bucket refilled at `responses_per_second` with a
//! one-second burst. Over the limit, a response is dropped, except every
//! `slip`th one, which is sent as a minimal truncated answer (TC=1, question
//! only): no larger than the query, so no amplification, and a real resolver
//! behind the prefix retries over TCP, which is never limited.
//!
//! Classes (what the response is, read from its own bytes, so the fast and the
//! general path are judged alike): a positive answer, per query name; NODATA, per
//! query name; NXDOMAIN; a referral; an error (REFUSED, FORMERR, NOTIMP, …).
//! Client prefixes are /24 for IPv4 and /56 for IPv6.
//!
//! Each UDP worker thread owns its [`Limiter`]: a fixed-size, 4-way set-associative
//! table, with the least recently used entry of a set evicted. No locks, no
//! allocation after creation. Since the kernel spreads a client's packets over
//! the workers by source port, a client that varies its port can get up to
//! workers × the rate (Knot shares one table instead; we prefer no shared state).

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::time::Instant;

use ipnet::IpNet;

/// Validated RRL settings, compiled into the zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Whether responses are limited at all.
    pub enabled: bool,
    /// Responses per second allowed per client prefix and response class.
    pub responses_per_second: u32,
    /// Every `slip`-th limited response is sent truncated (TC) instead of
    /// dropped; 0 drops them all.
    pub slip: u32,
    /// Client networks never limited.
    pub exempt: Box<[IpNet]>,
}

impl Settings {
    /// The settings of a validated fleet.
    pub fn from_fleet(rrl: &fleetdns_config::Rrl) -> Self {
        Self {
            enabled: rrl.enabled,
            responses_per_second: rrl.responses_per_second.max(1),
            slip: rrl.slip,
            exempt: rrl.exempt_networks.clone().into_boxed_slice(),
        }
    }

    /// Limiting off.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            responses_per_second: 1,
            slip: 0,
            exempt: Box::new([]),
        }
    }

    fn exempt(&self, client: IpAddr) -> bool {
        self.exempt.iter().any(|n| n.contains(&client))
    }
}

/// What to do with one UDP response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it as it is.
    Send,
    /// Send it truncated: the caller calls [`truncate`].
    Slip,
    /// Send nothing.
    Drop,
}

/// The response class of an answer, as RRL accounts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// An answer with records.
    Positive,
    /// NOERROR without records of the type asked for.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// A delegation (no answer, NS in authority).
    Referral,
    /// REFUSED, FORMERR, NOTIMP and other error codes.
    Error,
}

/// Ways per set of the table.
const WAYS: usize = 4;
/// Default entries per worker: 16,384 (about 400 KiB).
pub const DEFAULT_ENTRIES: usize = 1 << 14;
/// Token unit: one response costs this much; refill is `rate × UNIT` per second.
const UNIT: u64 = 1000;

#[derive(Clone, Copy, Default)]
struct Entry {
    /// Hash of (prefix, class, name); 0 = empty.
    key: u64,
    /// Milliseconds since the limiter started, at the last refill.
    at_ms: u64,
    /// Tokens in `UNIT`s.
    tokens: u64,
    /// Responses limited since the entry was created, for slip counting.
    limited: u32,
}

/// One worker's RRL state.
pub struct Limiter {
    entries: Box<[Entry]>,
    sets: usize,
    hasher: std::collections::hash_map::RandomState,
    start: Instant,
}

impl Limiter {
    /// A limiter with room for about `entries` (client prefix, class) pairs.
    pub fn new(entries: usize) -> Self {
        let sets = (entries / WAYS).max(1).next_power_of_two();
        Self {
            entries: vec![Entry::default(); sets * WAYS].into_boxed_slice(),
            sets,
            hasher: Default::default(),
            start: Instant::now(),
        }
    }

    /// Judges `response` (a complete DNS response) to `client` now.
    pub fn check(&mut self, settings: &Settings, client: IpAddr, response: &[u8]) -> Verdict {
        let now_ms = self.start.elapsed().as_millis() as u64;
        self.check_at(settings, client, response, now_ms)
    }

    /// [`Limiter::check`] at a given time (milliseconds since the limiter started).
    pub fn check_at(
        &mut self,
        settings: &Settings,
        client: IpAddr,
        response: &[u8],
        now_ms: u64,
    ) -> Verdict {
        if !settings.enabled {
            return Verdict::Send;
        }
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
            v4 => v4,
        };
        if settings.exempt(client) {
            return Verdict::Send;
        }
        let Some((class, name)) = classify(response) else {
            return Verdict::Send;
        };
        let mut h = self.hasher.build_hasher();
        match client {
            IpAddr::V4(a) => (4u8, u32::from(a) & 0xFFFF_FF00).hash(&mut h),
            IpAddr::V6(a) => (6u8, u128::from(a) >> 72).hash(&mut h),
        }
        class.hash(&mut h);
        if let Some(name) = name {
            hash_name(response, name, &mut h);
        }
        let key = h.finish().max(1);

        let rate = u64::from(settings.responses_per_second);
        let burst = rate * UNIT;
        let set = (key as usize) & (self.sets - 1);
        let ways = &mut self.entries[set * WAYS..(set + 1) * WAYS];
        let slot = match ways.iter().position(|e| e.key == key) {
            Some(i) => i,
            None => {
                // Evict the least recently refilled way (empty ways have at_ms 0).
                let (i, _) = ways
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, e)| if e.key == 0 { 0 } else { e.at_ms + 1 })
                    .expect("a set has ways");
                ways[i] = Entry {
                    key,
                    at_ms: now_ms,
                    tokens: burst,
                    limited: 0,
                };
                i
            }
        };
        let e = &mut ways[slot];
        let elapsed = now_ms.saturating_sub(e.at_ms);
        e.tokens = (e.tokens + elapsed * rate).min(burst);
        e.at_ms = now_ms;
        if e.tokens >= UNIT {
            e.tokens -= UNIT;
            return Verdict::Send;
        }
        e.limited = e.limited.wrapping_add(1);
        if settings.slip > 0 && e.limited.is_multiple_of(settings.slip) {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }
}

/// The class of a response and, for classes keyed by name, where its question
/// name starts. `None` for what is not a response we produce (never limited).
fn classify(r: &[u8]) -> Option<(Class, Option<usize>)> {
    if r.len() < 12 || r[2] & 0x80 == 0 {
        return None;
    }
    let rcode = r[3] & 0x0F;
    let qd = u16::from_be_bytes([r[4], r[5]]);
    let an = u16::from_be_bytes([r[6], r[7]]);
    let ns = u16::from_be_bytes([r[8], r[9]]);
    let name = (qd == 1).then_some(12);
    Some(match rcode {
        0 if an > 0 => (Class::Positive, name),
        0 if ns > 0 && !authoritative(r) => (Class::Referral, None),
        0 => (Class::NoData, name),
        3 => (Class::NxDomain, None),
        _ => (Class::Error, None),
    })
}

fn authoritative(r: &[u8]) -> bool {
    r[2] & 0x04 != 0
}

/// Hashes the uncompressed question name at `at`, lower-cased, stopping at the
/// end of the name or of the packet.
fn hash_name(r: &[u8], mut at: usize, h: &mut impl Hasher) {
    while let Some(&len) = r.get(at) {
        if len == 0 || len > 63 {
            break;
        }
        let end = (at + 1 + usize::from(len)).min(r.len());
        h.write_u8(len);
        for b in &r[at + 1..end] {
            h.write_u8(b.to_ascii_lowercase());
        }
        at = end;
    }
}

/// Rewrites `response` in place as a minimal truncated answer: the header with
/// TC set and only the question (no records, no OPT). It is never larger than the
/// query it answers.
pub fn truncate(response: &mut Vec<u8>) {
    if response.len() < 12 {
        return;
    }
    let qd = u16::from_be_bytes([response[4], response[5]]);
    // The question's end: its name ends with a zero label or with a compression
    // pointer (an error response may echo the query's question bytes as they
    // were), then come type and class. Anything else: header only.
    let mut end = 12;
    if qd == 1 {
        let mut at = 12;
        end = loop {
            match response.get(at) {
                Some(0) => break at + 1 + 4,
                Some(&len) if len & 0xC0 == 0xC0 => break at + 2 + 4,
                Some(&len) if len <= 63 => at += 1 + usize::from(len),
                _ => break 12,
            }
        };
    }
    if qd > 1 || end > response.len() {
        end = 12;
    }
    let qd_out = u16::from(end > 12);
    response.truncate(end);
    response[2] |= 0x02;
    response[4..6].copy_from_slice(&qd_out.to_be_bytes());
    response[6..12].fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(rcode: u8, an: u16, name: &[u8]) -> Vec<u8> {
        let mut r = vec![0x12, 0x34, 0x84, rcode, 0, 1];
        r.extend_from_slice(&an.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 1]);
        r.extend_from_slice(name);
        r.extend_from_slice(&[0, 1, 0, 1]);
        // A record and an OPT, which truncate must remove.
        r.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        r
    }

    fn settings(rate: u32, slip: u32) -> Settings {
        Settings {
            enabled: true,
            responses_per_second: rate,
            slip,
            exempt: vec!["10.0.0.0/8".parse().unwrap()].into_boxed_slice(),
        }
    }

    const NAME: &[u8] = b"\x03www\x04test\x00";

    #[test]
    fn a_flood_is_limited_after_the_burst_and_every_second_one_slips() {
        let mut l = Limiter::new(64);
        let s = settings(5, 2);
        let client = "192.0.2.9".parse().unwrap();
        let r = response(0, 1, NAME);
        let verdicts: Vec<Verdict> = (0..9).map(|_| l.check_at(&s, client, &r, 1000)).collect();
        use Verdict::*;
        assert_eq!(
            verdicts,
            [Send, Send, Send, Send, Send, Drop, Slip, Drop, Slip]
        );
        // 200 ms later one more response is allowed (5/s).
        assert_eq!(l.check_at(&s, client, &r, 1200), Send);
        assert_ne!(l.check_at(&s, client, &r, 1200), Send);
    }

    #[test]
    fn prefixes_classes_and_names_have_their_own_buckets() {
        let mut l = Limiter::new(1024);
        let s = settings(1, 0);
        let a = "192.0.2.9".parse().unwrap();
        let same_prefix = "192.0.2.200".parse().unwrap();
        let other = "198.51.100.1".parse().unwrap();
        let r = response(0, 1, NAME);
        assert_eq!(l.check_at(&s, a, &r, 0), Verdict::Send);
        assert_eq!(l.check_at(&s, same_prefix, &r, 0), Verdict::Drop);
        assert_eq!(l.check_at(&s, other, &r, 0), Verdict::Send);
        // Another name, NXDOMAIN, REFUSED: separate buckets.
        assert_eq!(
            l.check_at(&s, a, &response(0, 1, b"\x01x\x04test\x00"), 0),
            Verdict::Send
        );
        assert_eq!(l.check_at(&s, a, &response(3, 0, NAME), 0), Verdict::Send);
        assert_eq!(l.check_at(&s, a, &response(5, 0, NAME), 0), Verdict::Send);
        // Case does not make a new name.
        assert_eq!(
            l.check_at(&s, a, &response(0, 1, b"\x03WWW\x04test\x00"), 0),
            Verdict::Drop
        );
    }

    #[test]
    fn exempt_networks_and_disabled_settings_are_never_limited() {
        let mut l = Limiter::new(64);
        let r = response(0, 1, NAME);
        for _ in 0..100 {
            assert_eq!(
                l.check_at(&settings(1, 0), "10.1.2.3".parse().unwrap(), &r, 0),
                Verdict::Send
            );
            assert_eq!(
                l.check_at(&Settings::disabled(), "192.0.2.1".parse().unwrap(), &r, 0),
                Verdict::Send
            );
        }
    }

    #[test]
    fn the_table_stays_bounded_under_many_prefixes() {
        let mut l = Limiter::new(64);
        let s = settings(1, 0);
        let r = response(0, 1, NAME);
        for i in 0..100_000u32 {
            let client = IpAddr::V4((0x0A00_0000u32.wrapping_add(i << 8) | 0xC000_0000).into());
            l.check_at(&s, client, &r, u64::from(i));
        }
        assert_eq!(l.entries.len(), 64);
    }

    #[test]
    fn truncate_keeps_header_and_question_only() {
        let mut r = response(0, 1, NAME);
        truncate(&mut r);
        assert_eq!(r.len(), 12 + NAME.len() + 4);
        assert_eq!(r[2] & 0x02, 0x02, "TC set");
        assert_eq!(&r[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        let mut runt = vec![1, 2, 0x80, 1, 0, 5];
        truncate(&mut runt);
        assert_eq!(runt.len(), 6);
        // A question name ending in a compression pointer (an echoed FORMERR question).
        let mut echoed = vec![
            0, 1, 0x81, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0xC0, 5, 0, 1, 0, 1, 9, 9,
        ];
        truncate(&mut echoed);
        assert_eq!(echoed.len(), 20);
        assert_eq!(&echoed[4..6], &[0, 1]);
    }
}
