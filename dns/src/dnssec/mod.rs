//! DNSSEC: the zone signed when it is compiled, never per query.
//!
//! Why it is shaped this way (decisions, recorded here and in the README):
//! - **Offline-style signing at compile time.** A weighted answer carries one
//!   endpoint, so each endpoint's A/AAAA/CNAME is its own one-record RRset with
//!   its own RRSIG, made when the zone is compiled. Whichever endpoint a query
//!   draws, its signature is already there: the query path only appends
//!   precomputed RRSIG bytes when the query has DO=1, on the fast path too, and
//!   never signs, locks or allocates for it. A MultiValue answer holds several
//!   records, one RRset: its profile gets up to 16 subsets drawn and signed
//!   here instead, and a DO=1 query serves one of them
//!   (`multivalue::signable`). Signatures live in a [`SigCache`]
//!   keyed by the canonical RRset, so a recompile re-signs only what changed,
//!   and a periodic re-sign renews signatures with less than half their
//!   lifetime left.
//! - **Precomputed NSEC, not online compact denial.** RFC 9824 compact denial
//!   (and "black lies") needs a signature per negative answer, made online;
//!   that contradicts the rule above. NSEC3 would hide names only against a
//!   casual walk (offline dictionary attacks on the hashes are cheap for names
//!   like `<namespace>-<name>`), costs hashing per query and is harder for
//!   validators; NSEC is simplest and cheapest. What zone walking exposes: the
//!   public names — the apex, in-zone name servers, every profile owner name
//!   (`<namespace>-<name>.<zone>`, already published in each profile's
//!   `status.dnsName`) and their empty non-terminals. The health view's
//!   `_health` and `_cluster` names are *not* in the public chain: untrusted
//!   clients get NXDOMAIN for them, proven by the public chain. Trusted clients
//!   (the health view's networks) get a second chain over all names, so their
//!   proofs match what they can see.
//! - **The health view** is rendered per query with ages and states that change
//!   without a recompile; those cannot be signed ahead. A DO=1 query gets the
//!   view as compiled instead (endpoints, targets, weights, served), signed.
//! - **Keys** are plain `ring` (already in the tree): ECDSA P-256 (13) by
//!   default, Ed25519 (15) as an option; one CSK, or KSK + ZSK. hickory-proto's
//!   `dnssec-ring` feature would add RRSIG types and its own signer, but the
//!   zone needs precomputed wire bytes and a signature cache of its own, and the
//!   few formats involved (DNSKEY, DS, RRSIG, NSEC) are short, so records are
//!   written here and carried as raw RDATA.
//!
//! Modules: [`key`] (key material, DNSKEY, DS), [`rrsig`] (signing and the
//! cache), `nsec` (the chain and proofs), `sign` (the compile-time pass).

pub mod key;
mod nsec;
pub mod rrsig;
mod sign;

pub use key::{Algorithm, KeyError, SigningKey, FLAGS_KSK, FLAGS_ZSK};
pub use rrsig::{SigCache, Validity};
pub use sign::sign_zone;

use hickory_proto::rr::RecordType;

use crate::decide::Decision;
use crate::names::At;
use crate::zone::{Rrset, Zone};

/// What a signed zone holds beyond its RRsets' own signatures.
#[derive(Debug, Default)]
pub(crate) struct Signed {
    pub(crate) dnskey: Rrset,
    pub(crate) cds: Rrset,
    pub(crate) cdnskey: Rrset,
    /// The chain over names every client may see.
    pub(crate) public: nsec::Chain,
    /// The chain over all names, for clients that may see the health view.
    pub(crate) all: nsec::Chain,
}

/// The DNSSEC RRset of `qtype` at `node` (`qname`), if the zone is signed and
/// has one: DNSKEY, CDS, CDNSKEY at the apex, NSEC anywhere.
pub(crate) fn rrset<'z>(
    zone: &'z Zone,
    node: &At<'_>,
    qname: &[u8],
    qtype: RecordType,
) -> Option<&'z Rrset> {
    let signed = zone.dnssec.as_deref()?;
    match qtype {
        RecordType::DNSKEY if node.apex => Some(&signed.dnskey),
        RecordType::CDS if node.apex => Some(&signed.cds),
        RecordType::CDNSKEY if node.apex => Some(&signed.cdnskey),
        RecordType::NSEC if node.private => signed.all.at(qname),
        RecordType::NSEC => signed.public.at(qname),
        _ => None,
    }
    .filter(|r| !r.is_empty())
}

/// What DNSSEC adds to the answer of a DO=1 query.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Extras<'z> {
    /// RRSIGs of the answer (owner = the question).
    pub(crate) answer: Option<&'z Rrset>,
    /// Authority section additions, in order: the negative SOA's RRSIG, then
    /// NSECs each followed by its RRSIG.
    pub(crate) authority: [Option<&'z Rrset>; 5],
}

/// The DNSSEC additions to `decision` for `qname` (lower-case wire form), or
/// `None` when the zone is not signed. `trusted`: whether the client may see
/// the health view (it picks the NSEC chain).
pub(crate) fn extras<'z>(
    zone: &'z Zone,
    decision: &Decision<'z>,
    qname: &[u8],
    trusted: impl FnOnce() -> bool,
) -> Option<Extras<'z>> {
    let signed = zone.dnssec.as_deref()?;
    let mut x = Extras::default();
    let sig = |r: &'z Rrset| r.sig.as_deref();
    match *decision {
        Decision::Refused => {}
        Decision::Records { answer, .. } => x.answer = sig(answer),
        Decision::Endpoint { pick, index } => x.answer = pick.sigs(index),
        // A precomputed subset's RRSIGs (`multivalue::signable` chose it).
        Decision::Endpoints { signed, .. } => x.answer = signed,
        Decision::HealthView(view) => x.answer = view.health_signed.as_deref().and_then(sig),
        Decision::NxDomain | Decision::NoData => {
            let chain = if trusted() {
                &signed.all
            } else {
                &signed.public
            };
            let (first, second) = match decision {
                Decision::NoData => (chain.at(qname), None),
                _ => chain.nxdomain(qname),
            };
            x.authority = [
                sig(&zone.soa_negative),
                first,
                first.and_then(sig),
                second,
                second.and_then(sig),
            ];
        }
    }
    Some(x)
}
