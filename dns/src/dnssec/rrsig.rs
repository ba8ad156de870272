//! RRSIGs over RRsets (RFC 4034 §3, §6), with a cache that keeps signatures
//! across recompiles.
//!
//! The signed data is the RRSIG RDATA without its signature followed by the
//! RRset in canonical form: owner in lower case, uncompressed, the original
//! TTL, RRs sorted by their canonical RDATA. The cache key is that canonical
//! RRset plus the key's tag and algorithm, so an RRset that did not change
//! between two compiles keeps its signature until it has less than half of its
//! validity left; then it is signed afresh. Entries not used by the latest
//! compile are dropped.

use std::collections::HashMap;

use super::key::SigningKey;

/// Signature lifetimes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// Seconds from signing to expiration.
    pub lifetime: u32,
    /// Seconds the inception is back-dated, for validators whose clock is behind.
    pub skew: u32,
}

impl Validity {
    /// A signature is renewed once less than this is left of it.
    pub fn refresh(&self) -> u32 {
        self.lifetime / 2
    }

    /// How much earlier than `lifetime` the signature over `rrset` expires: up to
    /// a tenth of the lifetime, fixed per RRset and key. Signatures made together
    /// (a cold start signs the whole zone) then fall due over that tenth instead
    /// of all in one re-sign pass; it stays well inside the refresh margin.
    pub(crate) fn spread(&self, rrset: &[u8]) -> u32 {
        let mut h = crate::fnv::Fnv::default();
        h.eat(rrset);
        (h.finish() % (u64::from(self.lifetime / 10) + 1)) as u32
    }
}

#[derive(Debug)]
struct Cached {
    expiration: u32,
    rdata: Box<[u8]>,
    generation: u64,
}

/// Signatures kept between compiles. Owned by whoever compiles (one task).
#[derive(Debug, Default)]
pub struct SigCache {
    entries: HashMap<Box<[u8]>, Cached>,
    generation: u64,
    /// Signatures made (not reused) since the cache was created.
    signed: u64,
    /// Signatures reused since the cache was created.
    reused: u64,
}

impl SigCache {
    /// Starts a compile: entries used from now on survive [`SigCache::sweep`].
    pub(crate) fn begin(&mut self) {
        self.generation += 1;
    }

    /// Drops entries the compile since [`SigCache::begin`] did not use.
    pub(crate) fn sweep(&mut self) {
        let generation = self.generation;
        self.entries.retain(|_, c| c.generation == generation);
    }

    /// Signatures in the cache.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(made, reused)` signature counts since the cache was created.
    pub fn counts(&self) -> (u64, u64) {
        (self.signed, self.reused)
    }

    /// The earliest expiration among cached signatures (unix seconds).
    pub fn earliest_expiration(&self) -> Option<u32> {
        self.entries.values().map(|c| c.expiration).min()
    }
}

/// Number of labels of a lower-case wire name, the root not counted.
pub(crate) fn labels(name: &[u8]) -> u8 {
    let (mut at, mut n) = (0, 0u8);
    while let Some(&len) = name.get(at) {
        if len == 0 {
            break;
        }
        n += 1;
        at += 1 + usize::from(len);
    }
    n
}

/// The canonical form of an RRset: `rdatas` sorted and deduplicated, each RR
/// as owner | type | class IN | TTL | RDLENGTH | RDATA.
fn canonical_rrset(owner: &[u8], rtype: u16, ttl: u32, rdatas: &mut Vec<Vec<u8>>) -> Vec<u8> {
    rdatas.sort();
    rdatas.dedup();
    let mut out = Vec::with_capacity(rdatas.iter().map(|r| owner.len() + 10 + r.len()).sum());
    for r in rdatas.iter() {
        out.extend_from_slice(owner);
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(r.len() as u16).to_be_bytes());
        out.extend_from_slice(r);
    }
    out
}

/// What signs one compile: keys, the signer's name, lifetimes and the time.
pub struct Signer<'k> {
    /// Keys that sign the DNSKEY, CDS and CDNSKEY RRsets.
    pub(crate) ksks: Vec<&'k SigningKey>,
    /// Keys that sign everything else.
    pub(crate) zsks: Vec<&'k SigningKey>,
    /// The zone apex, lower-case wire form (the RRSIG signer name).
    pub(crate) apex: Box<[u8]>,
    pub(crate) validity: Validity,
    /// Unix seconds (RFC 4034 serial arithmetic keeps working past 2106).
    pub(crate) now: u32,
}

impl<'k> Signer<'k> {
    /// Splits `keys` into roles: with any non-SEP key, SEP keys sign only the
    /// DNSKEY, CDS and CDNSKEY RRsets (KSK + ZSK); otherwise every key signs
    /// everything (CSK).
    pub(crate) fn new(keys: &'k [SigningKey], apex: &[u8], validity: Validity, now: u32) -> Self {
        let (ksks, zsks): (Vec<_>, Vec<_>) = keys.iter().partition(|k| k.is_sep());
        let (ksks, zsks) = if zsks.is_empty() {
            (ksks.clone(), ksks)
        } else {
            (ksks, zsks)
        };
        Self {
            ksks,
            zsks,
            apex: apex.into(),
            validity,
            now,
        }
    }

    /// The RRSIG RDATAs (one per key) over the RRset `owner`/`rtype` with
    /// original TTL `ttl` and `rdatas` (canonical RDATA).
    pub(crate) fn sign(
        &self,
        cache: &mut SigCache,
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        mut rdatas: Vec<Vec<u8>>,
    ) -> Vec<Box<[u8]>> {
        let rrset = canonical_rrset(owner, rtype, ttl, &mut rdatas);
        let keys = match rtype {
            48 | 59 | 60 => &self.ksks,
            _ => &self.zsks,
        };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let mut cache_key = rrset.clone();
            cache_key.extend_from_slice(&key.tag().to_be_bytes());
            cache_key.push(key.algorithm().number());
            // Expiration after now, with at least the refresh margin left.
            let fresh = |c: &Cached| {
                c.expiration.wrapping_sub(self.now) as i32 > self.validity.refresh() as i32
            };
            if let Some(c) = cache.entries.get_mut(cache_key.as_slice()) {
                if fresh(c) {
                    c.generation = cache.generation;
                    cache.reused += 1;
                    out.push(c.rdata.clone());
                    continue;
                }
            }
            let expiration = self
                .now
                .wrapping_add(self.validity.lifetime - self.validity.spread(&cache_key));
            let inception = self.now.wrapping_sub(self.validity.skew);
            let mut rdata = Vec::with_capacity(18 + self.apex.len() + 64 + rrset.len());
            rdata.extend_from_slice(&rtype.to_be_bytes());
            rdata.push(key.algorithm().number());
            rdata.push(labels(owner));
            rdata.extend_from_slice(&ttl.to_be_bytes());
            rdata.extend_from_slice(&expiration.to_be_bytes());
            rdata.extend_from_slice(&inception.to_be_bytes());
            rdata.extend_from_slice(&key.tag().to_be_bytes());
            rdata.extend_from_slice(&self.apex);
            let prefix = rdata.len();
            rdata.extend_from_slice(&rrset);
            let signature = key.sign(&rdata);
            rdata.truncate(prefix);
            rdata.extend_from_slice(&signature);
            let rdata: Box<[u8]> = rdata.into();
            cache.signed += 1;
            cache.entries.insert(
                cache_key.into(),
                Cached {
                    expiration,
                    rdata: rdata.clone(),
                    generation: cache.generation,
                },
            );
            out.push(rdata);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::key::{Algorithm, SigningKey};

    /// The expiration field of an RRSIG RDATA (type 2, alg 1, labels 1, TTL 4).
    fn expiration(rdata: &[u8]) -> u32 {
        u32::from_be_bytes(rdata[8..12].try_into().unwrap())
    }

    #[test]
    fn dnssec_signatures_made_together_expire_spread_over_a_tenth_of_their_lifetime() {
        let (key, _) = SigningKey::generate(Algorithm::EcdsaP256Sha256, 257).unwrap();
        let keys = [key];
        let lifetime = 14 * 86_400;
        let validity = Validity {
            lifetime,
            skew: 3_600,
        };
        let now = 1_800_000_000;
        let apex = b"\x07example\x00";
        let signer = Signer::new(&keys, apex, validity, now);
        let mut cache = SigCache::default();
        let expirations: std::collections::BTreeSet<u32> = (0u8..50)
            .map(|i| {
                let sig = signer.sign(&mut cache, apex, 1, 60, vec![vec![192, 0, 2, i]]);
                expiration(&sig[0])
            })
            .collect();
        let (first, last) = (*expirations.first().unwrap(), *expirations.last().unwrap());
        assert!(first >= now + lifetime - lifetime / 10, "{first}");
        assert!(last <= now + lifetime, "{last}");
        assert!(
            expirations.len() > 40,
            "spread, not one instant: {expirations:?}"
        );
        // The same RRset signed again (by a replica, or after expiry) gets the same offset.
        let mut other = SigCache::default();
        let again = signer.sign(&mut other, apex, 1, 60, vec![vec![192, 0, 2, 0]]);
        let once = signer.sign(
            &mut SigCache::default(),
            apex,
            1,
            60,
            vec![vec![192, 0, 2, 0]],
        );
        assert_eq!(expiration(&again[0]), expiration(&once[0]));
    }
}
