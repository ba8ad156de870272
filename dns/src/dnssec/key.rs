//! Signing keys: the DNSKEY a key publishes, its key tag and DS, and signing.
//!
//! A [`SigningKey`] is built from raw key material (the BIND `.private` file's
//! `PrivateKey:` and the `.key` file's public key, read by the binary) or made by
//! [`SigningKey::generate`]. Only `ring` does cryptography: ECDSA P-256 with
//! SHA-256 (algorithm 13, RFC 6605; `r || s`, 64 octets, exactly ring's
//! `FIXED` encoding) and Ed25519 (algorithm 15, RFC 8080). No file I/O here.

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};

/// DNSKEY flags of a zone key without SEP (a ZSK).
pub const FLAGS_ZSK: u16 = 256;
/// DNSKEY flags of a zone key with SEP (a KSK, or a CSK that signs everything).
pub const FLAGS_KSK: u16 = 257;

/// A DNSSEC algorithm fleetdns signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// 13, ECDSAP256SHA256 (the default; what most signed zones use).
    EcdsaP256Sha256,
    /// 15, ED25519.
    Ed25519,
}

impl Algorithm {
    /// The IANA number.
    pub fn number(self) -> u8 {
        match self {
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }

    /// The algorithm of an IANA number, if fleetdns signs with it.
    pub fn from_number(n: u8) -> Option<Self> {
        match n {
            13 => Some(Algorithm::EcdsaP256Sha256),
            15 => Some(Algorithm::Ed25519),
            _ => None,
        }
    }

    /// The mnemonic BIND writes (`ECDSAP256SHA256`, `ED25519`).
    pub fn mnemonic(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ECDSAP256SHA256",
            Algorithm::Ed25519 => "ED25519",
        }
    }

    /// Length of the public key in a DNSKEY (and of the raw private key).
    fn key_len(self) -> (usize, usize) {
        match self {
            Algorithm::EcdsaP256Sha256 => (64, 32),
            Algorithm::Ed25519 => (32, 32),
        }
    }
}

/// Why key material was rejected (never contains the material).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Wrong length of the public or private key.
    #[error("{what} is {got} octets; algorithm {alg} needs {want}")]
    Length {
        /// `public key` or `private key`.
        what: &'static str,
        /// The algorithm's mnemonic.
        alg: &'static str,
        /// Octets given.
        got: usize,
        /// Octets needed.
        want: usize,
    },
    /// ring refused the pair (the private key does not match the public key).
    #[error("the private key does not match the public key, or is not a valid {0} key")]
    Mismatch(&'static str),
    /// Key generation failed.
    #[error("generating a key failed")]
    Generate,
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// One zone key: its DNSKEY and the means to sign with it.
pub struct SigningKey {
    algorithm: Algorithm,
    flags: u16,
    /// The DNSKEY public key field.
    public: Box<[u8]>,
    pair: Pair,
    tag: u16,
}

impl std::fmt::Debug for SigningKey {
    // Never prints key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("flags", &self.flags)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from its raw private key (BIND `PrivateKey:`: the P-256 scalar, or
    /// the Ed25519 seed) and its DNSKEY public key field.
    pub fn from_parts(
        algorithm: Algorithm,
        flags: u16,
        private: &[u8],
        public: &[u8],
    ) -> Result<Self, KeyError> {
        let (pub_len, priv_len) = algorithm.key_len();
        let len = |what, got, want| KeyError::Length {
            what,
            alg: algorithm.mnemonic(),
            got,
            want,
        };
        if public.len() != pub_len {
            return Err(len("public key", public.len(), pub_len));
        }
        if private.len() != priv_len {
            return Err(len("private key", private.len(), priv_len));
        }
        let pair = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(public);
                EcdsaKeyPair::from_private_key_and_public_key(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    private,
                    &point,
                    &SystemRandom::new(),
                )
                .map(Pair::Ecdsa)
            }
            Algorithm::Ed25519 => {
                Ed25519KeyPair::from_seed_and_public_key(private, public).map(Pair::Ed25519)
            }
        }
        .map_err(|_| KeyError::Mismatch(algorithm.mnemonic()))?;
        let mut key = Self {
            algorithm,
            flags,
            public: public.into(),
            pair,
            tag: 0,
        };
        key.tag = key_tag(&key.dnskey_rdata());
        Ok(key)
    }

    /// A new random key; also returns its raw private key (for the `.private` file).
    pub fn generate(algorithm: Algorithm, flags: u16) -> Result<(Self, Vec<u8>), KeyError> {
        let rng = SystemRandom::new();
        let (private, public) = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
                let doc =
                    EcdsaKeyPair::generate_pkcs8(alg, &rng).map_err(|_| KeyError::Generate)?;
                let pair = EcdsaKeyPair::from_pkcs8(alg, doc.as_ref(), &rng)
                    .map_err(|_| KeyError::Generate)?;
                // ring's PKCS#8 holds RFC 5915's ECPrivateKey: version 1 (02 01 01), then
                // the scalar as an OCTET STRING of 32 (04 20).
                let d = after(doc.as_ref(), &[0x02, 0x01, 0x01, 0x04, 0x20], 32)?;
                (d, pair.public_key().as_ref()[1..].to_vec())
            }
            Algorithm::Ed25519 => {
                let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generate)?;
                let pair =
                    Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|_| KeyError::Generate)?;
                // RFC 8410: privateKey OCTET STRING (04 22) wrapping the seed (04 20).
                let seed = after(doc.as_ref(), &[0x04, 0x22, 0x04, 0x20], 32)?;
                (seed, pair.public_key().as_ref().to_vec())
            }
        };
        let key = Self::from_parts(algorithm, flags, &private, &public)?;
        Ok((key, private))
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// DNSKEY flags (256 or 257).
    pub fn flags(&self) -> u16 {
        self.flags
    }

    /// Whether the SEP flag is set (a KSK or CSK: its DS goes to the parent).
    pub fn is_sep(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The key tag (RFC 4034 appendix B).
    pub fn tag(&self) -> u16 {
        self.tag
    }

    /// The DNSKEY public key field.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The DNSKEY RDATA: flags, protocol 3, algorithm, public key.
    pub fn dnskey_rdata(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.public.len());
        out.extend_from_slice(&self.flags.to_be_bytes());
        out.push(3);
        out.push(self.algorithm.number());
        out.extend_from_slice(&self.public);
        out
    }

    /// The DS RDATA with a SHA-256 digest (digest type 2) for `owner` (the zone
    /// apex in lower-case wire form).
    pub fn ds_rdata(&self, owner: &[u8]) -> Vec<u8> {
        let mut data = owner.to_vec();
        data.extend_from_slice(&self.dnskey_rdata());
        let digest = ring::digest::digest(&ring::digest::SHA256, &data);
        let mut out = Vec::with_capacity(4 + 32);
        out.extend_from_slice(&self.tag.to_be_bytes());
        out.push(self.algorithm.number());
        out.push(2);
        out.extend_from_slice(digest.as_ref());
        out
    }

    /// Signs `data`; 64 octets for both algorithms.
    pub(crate) fn sign(&self, data: &[u8]) -> Vec<u8> {
        match &self.pair {
            Pair::Ecdsa(p) => p
                .sign(&SystemRandom::new(), data)
                .map(|s| s.as_ref().to_vec())
                // ring fails only when the system RNG does; nothing to sign with then.
                .unwrap_or_default(),
            Pair::Ed25519(p) => p.sign(data).as_ref().to_vec(),
        }
    }
}

/// The `len` octets after the first occurrence of `marker` in `doc`.
fn after(doc: &[u8], marker: &[u8], len: usize) -> Result<Vec<u8>, KeyError> {
    doc.windows(marker.len())
        .position(|w| w == marker)
        .and_then(|at| doc.get(at + marker.len()..at + marker.len() + len))
        .map(<[u8]>::to_vec)
        .ok_or(KeyError::Generate)
}

/// The key tag of a DNSKEY RDATA (RFC 4034 appendix B).
pub fn key_tag(rdata: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, &b) in rdata.iter().enumerate() {
        ac += if i & 1 == 1 {
            u32::from(b)
        } else {
            u32::from(b) << 8
        };
    }
    ac += (ac >> 16) & 0xFFFF;
    (ac & 0xFFFF) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnssec_generated_keys_round_trip_through_their_parts() {
        for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
            let (key, private) = SigningKey::generate(alg, FLAGS_KSK).unwrap();
            let again = SigningKey::from_parts(alg, FLAGS_KSK, &private, key.public_key()).unwrap();
            assert_eq!(again.tag(), key.tag());
            assert_eq!(key.sign(b"x").len(), 64);
            let (other, _) = SigningKey::generate(alg, FLAGS_KSK).unwrap();
            assert!(
                SigningKey::from_parts(alg, FLAGS_KSK, &private, other.public_key()).is_err(),
                "a private key with someone else's public key is refused"
            );
        }
    }

    #[test]
    fn dnssec_key_tag_matches_rfc_4034_example() {
        // RFC 4034 §5.4: the DNSKEY of dskey.example.com with key tag 60485.
        let key = data_encoding_free_base64(
            "AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
        );
        let mut rdata = vec![1, 0, 3, 5];
        rdata.extend_from_slice(&key);
        assert_eq!(key_tag(&rdata), 60485);
    }

    /// A tiny base64 decoder for the test vector (the crate has no base64 dependency).
    fn data_encoding_free_base64(s: &str) -> Vec<u8> {
        let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in s.bytes().filter(|&c| c != b'=') {
            let v = table.iter().position(|&t| t == c).unwrap() as u32;
            bits = bits << 6 | v;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
            }
        }
        out
    }
}
