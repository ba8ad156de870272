//! Signing a compiled zone: every RRset gets its RRSIGs, and the NSEC chains
//! are built, all before the zone is published.
//!
//! Signed: SOA (and the negative SOA, same signature, the negative TTL), NS,
//! DNSKEY, CDS, CDNSKEY, the name servers' A/AAAA, each weighted endpoint's
//! A/AAAA/CNAME as its own one-record RRset (an answer carries one endpoint, so
//! one signature per endpoint answer), each MultiValue profile's precomputed
//! subsets as RRsets of up to `maxReturn` records ([`crate::multivalue::Subsets`]),
//! the health view as compiled, and every NSEC. Glue in the additional section of NS answers goes unsigned there (it
//! is signed where it is authoritative, at its own name).

use hickory_proto::rr::rdata::{NULL, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::key::SigningKey;
use super::nsec::{canonical_cmp, type_bitmap, Chain};
use super::rrsig::{SigCache, Signer, Validity};
use super::Signed;
use crate::multivalue::{self, Subset, Subsets};
use crate::names::{self, At};
use crate::pick::PickSigs;
use crate::wire::canonical_rdata;
use crate::zone::{Cluster, HealthView, Pick, Rrset, Zone};

/// A record holding raw RDATA of a DNSSEC type.
fn raw(owner: &Name, ttl: u32, rtype: RecordType, rdata: Vec<u8>) -> Record {
    Record::from_rdata(
        owner.clone(),
        ttl,
        RData::Unknown {
            code: rtype,
            rdata: NULL::with(rdata),
        },
    )
}

/// The name of a lower-case wire name.
fn name_of(key: &[u8]) -> Name {
    let mut labels = Vec::new();
    let mut at = 0;
    while let Some(&len) = key.get(at) {
        if len == 0 {
            break;
        }
        labels.push(&key[at + 1..at + 1 + usize::from(len)]);
        at += 1 + usize::from(len);
    }
    let mut name = Name::from_labels(labels).unwrap_or_else(|_| Name::root());
    name.set_fqdn(true);
    name
}

struct Ctx<'a, 'k> {
    signer: &'a Signer<'k>,
    cache: &'a mut SigCache,
}

impl Ctx<'_, '_> {
    /// The RRSIG RRset over `records` (owner `key`), written with `ttl`; the
    /// original TTL is the records' own.
    fn sig(
        &mut self,
        key: &[u8],
        records: &[Record],
        ttl: Option<u32>,
        at_question: bool,
    ) -> Option<Box<Rrset>> {
        let first = records.first()?;
        let rdatas = records
            .iter()
            .filter_map(|r| canonical_rdata(&r.data))
            .collect();
        let sigs = self.signer.sign(
            self.cache,
            key,
            u16::from(first.record_type()),
            first.ttl,
            rdatas,
        );
        let owner = first.name.clone();
        let records = sigs
            .into_iter()
            .map(|s| {
                raw(
                    &owner,
                    ttl.unwrap_or(first.ttl),
                    RecordType::RRSIG,
                    s.into_vec(),
                )
            })
            .collect();
        Some(Box::new(Rrset::new(records, at_question)))
    }

    fn sign_set(&mut self, key: &[u8], set: &mut Rrset, at_question: bool) {
        set.sig = self.sig(key, &set.records, None, at_question);
    }

    /// Weighted and Priority: one RRSIG per endpoint record (an answer holds
    /// one). MultiValue: one per precomputed subset instead.
    fn sign_pick(&mut self, key: &[u8], pick: &mut Pick) {
        pick.signed = None;
        if pick.max_return > 1 {
            self.sign_subsets(key, pick);
            return;
        }
        let owner = name_of(key);
        let sigs: Vec<Rrset> = (0..pick.len())
            .map(|i| {
                self.sig(key, &[pick.record(i, &owner)], None, true)
                    .map(|b| *b)
                    .unwrap_or_default()
            })
            .collect();
        pick.signed = Some(Box::new(PickSigs {
            sigs: sigs.into(),
            subsets: None,
        }));
    }

    /// The records of a profile's per-cluster names (`owner` its owner): one
    /// RRSIG per record, each under its cluster's name.
    fn sign_clusters(
        &mut self,
        owner: &[u8],
        clusters: &[Cluster],
        labels: &[Box<[u8]>],
        pick: &mut Pick,
    ) {
        let mut sigs: Vec<Rrset> = (0..pick.len()).map(|_| Rrset::default()).collect();
        for c in clusters {
            let label = labels.get(c.label as usize).map_or(&[][..], |l| l);
            let key = names::cluster_key(label, owner);
            let name = name_of(&key);
            for i in c.ranges().into_iter().flat_map(|r| r.indices()) {
                sigs[i] = self
                    .sig(&key, &[pick.record(i, &name)], None, true)
                    .map(|b| *b)
                    .unwrap_or_default();
            }
        }
        pick.signed = Some(Box::new(PickSigs {
            sigs: sigs.into(),
            subsets: None,
        }));
    }

    /// MultiValue: the subsets DO=1 queries get, each signed once as one RRset
    /// (drawn deterministically, so unchanged subsets come from the cache).
    fn sign_subsets(&mut self, key: &[u8], pick: &mut Pick) {
        let (sets, slots) = multivalue::sample_subsets(pick, multivalue::seed(key, pick));
        let owner = name_of(key);
        // Empty when the pick is (nothing to answer, so nothing to sign).
        let drawn = sets.len();
        let subsets: Vec<Subset> = sets
            .into_iter()
            .filter_map(|drawn| {
                let records: Vec<Record> = drawn
                    .as_slice()
                    .iter()
                    .map(|&i| pick.record(usize::from(i), &owner))
                    .collect();
                let sig = self.sig(key, &records, None, true)?;
                Some(Subset { drawn, sig: *sig })
            })
            .collect();
        // Every slot indexes a set that got its signature (a drawn set is never empty).
        if drawn > 0 && subsets.len() == drawn {
            pick.signed = Some(Box::new(PickSigs {
                sigs: Box::default(),
                subsets: Some(Box::new(Subsets {
                    subsets: subsets.into(),
                    slots,
                })),
            }));
        }
    }

    /// The health view as compiled: what does not change without a recompile.
    fn sign_view(&mut self, key: &[u8], view: &mut HealthView) {
        let owner = name_of(key);
        let cut = |s: String| -> String {
            let mut s = s;
            while s.len() > 255 {
                s.pop();
            }
            s
        };
        let serving = view.endpoints().filter(|e| e.served).count();
        let mode = if view.fail_closed() {
            "fail-closed"
        } else {
            "fail-open"
        };
        let mut records = vec![Record::from_rdata(
            owner.clone(),
            0,
            RData::TXT(TXT::new(vec![
                cut(format!("profile={}", view.profile())),
                format!("endpoints={}", view.endpoints().len()),
                format!("serving={serving}"),
                format!("mode={mode}"),
                "signed=as-compiled".to_string(),
            ])),
        )];
        for e in view.endpoints() {
            records.push(Record::from_rdata(
                owner.clone(),
                0,
                RData::TXT(TXT::new(vec![
                    cut(format!("endpoint={}", e.id)),
                    cut(format!("cluster={}", e.cluster)),
                    cut(format!("target={}", e.target)),
                    format!("weight={}", e.weight),
                    format!("served={}", if e.served { "yes" } else { "no" }),
                ])),
            ));
        }
        let mut set = Rrset::new(records, true);
        self.sign_set(key, &mut set, true);
        view.health_signed = Some(Box::new(set));
    }
}

/// The types at a node, as its NSEC lists them.
fn node_types(node: &At<'_>, apex: bool) -> Vec<u16> {
    let mut types = vec![u16::from(RecordType::RRSIG), u16::from(RecordType::NSEC)];
    if apex {
        types.extend(
            [
                RecordType::SOA,
                RecordType::NS,
                RecordType::DNSKEY,
                RecordType::CDS,
                RecordType::CDNSKEY,
            ]
            .map(u16::from),
        );
    }
    if node.a().is_some() {
        types.push(u16::from(RecordType::A));
    }
    if node.aaaa().is_some() {
        types.push(u16::from(RecordType::AAAA));
    }
    if let Some(p) = node.answers {
        for pick in p.picks() {
            types.extend((0..pick.len()).map(|i| u16::from(pick.record_type(i))));
        }
    }
    if let Some((pick, c)) = node.cluster {
        for range in c.ranges() {
            types.extend(range.indices().map(|i| u16::from(pick.record_type(i))));
        }
    }
    if node.health.is_some() {
        types.push(u16::from(RecordType::TXT));
    }
    types
}

/// Signs `zone` in place with `keys` at `now` (unix seconds), reusing what
/// `cache` holds. `keys` must not be empty.
pub fn sign_zone(
    zone: &mut Zone,
    keys: &[SigningKey],
    validity: Validity,
    now: u32,
    cache: &mut SigCache,
) {
    let signer = Signer::new(keys, &zone.apex_key, validity, now);
    cache.begin();
    let mut cx = Ctx {
        signer: &signer,
        cache,
    };
    let apex_name = name_of(&zone.apex_key);
    let apex_key = zone.apex_key.clone();
    let ttl = zone.soa.records.first().map_or(3600, |r| r.ttl);

    // Apex keys: DNSKEY (every key), CDS and CDNSKEY (the SEP keys, RFC 7344).
    let apex_set = |rtype, rdatas: Vec<Vec<u8>>| {
        let records = rdatas
            .into_iter()
            .map(|r| raw(&apex_name, ttl, rtype, r))
            .collect();
        Rrset::new(records, true)
    };
    let mut dnskey = apex_set(
        RecordType::DNSKEY,
        keys.iter().map(SigningKey::dnskey_rdata).collect(),
    );
    let sep = keys.iter().filter(|k| k.is_sep());
    let mut cds = apex_set(
        RecordType::CDS,
        sep.clone().map(|k| k.ds_rdata(&apex_key)).collect(),
    );
    let mut cdnskey = apex_set(
        RecordType::CDNSKEY,
        sep.map(SigningKey::dnskey_rdata).collect(),
    );
    for set in [&mut dnskey, &mut cds, &mut cdnskey] {
        cx.sign_set(&apex_key, set, true);
    }
    cx.sign_set(&apex_key, &mut zone.soa, true);
    let negative_ttl = zone.soa_negative.records.first().map_or(ttl, |r| r.ttl);
    // Same signed data as the SOA (original TTL = the SOA's), written with the negative TTL.
    let with_soa_ttl: Vec<Record> = zone.soa.records.to_vec();
    zone.soa_negative.sig = cx.sig(&apex_key, &with_soa_ttl, Some(negative_ttl), false);
    cx.sign_set(&apex_key, &mut zone.ns, true);

    let labels = zone.nodes.labels();
    for (key, node) in zone.nodes.iter_mut() {
        if let Some(glue) = &mut node.glue {
            cx.sign_set(key, &mut glue.a, true);
            cx.sign_set(key, &mut glue.aaaa, true);
        }
        if let Some(p) = &mut node.profile {
            for pick in p.answers.picks_mut() {
                cx.sign_pick(key, pick);
            }
            cx.sign_clusters(key, &p.clusters, &labels, &mut p.cluster_records);
            if p.health {
                cx.sign_view(&names::health_key(key), p);
            }
        }
    }
    let mut public = Vec::new();
    let mut all = Vec::new();
    for key in names::all(&zone.nodes) {
        let Some(node) = names::lookup(&zone.nodes, &key) else {
            continue;
        };
        let types = node_types(&node, *key == *apex_key);
        if !node.private {
            public.push((key.clone(), types.clone()));
        }
        all.push((key, types));
    }
    let public = chain(&mut cx, public, negative_ttl);
    let all = chain(&mut cx, all, negative_ttl);
    cx.cache.sweep();
    zone.dnssec = Some(Box::new(Signed {
        dnskey,
        cds,
        cdnskey,
        public,
        all,
    }));
}

/// The NSEC chain over `names` (with their types), NSEC TTL `ttl` (RFC 9077:
/// the negative TTL).
fn chain(cx: &mut Ctx<'_, '_>, mut names: Vec<(Box<[u8]>, Vec<u16>)>, ttl: u32) -> Chain {
    names.sort_by(|a, b| canonical_cmp(&a.0, &b.0));
    let mut nsec = Vec::with_capacity(names.len());
    for i in 0..names.len() {
        let next = &names[(i + 1) % names.len()].0;
        let mut rdata = next.to_vec();
        rdata.extend(type_bitmap(&mut names[i].1));
        let owner = name_of(&names[i].0);
        let mut set = Rrset::new(vec![raw(&owner, ttl, RecordType::NSEC, rdata)], false);
        cx.sign_set(&names[i].0, &mut set, false);
        nsec.push(set);
    }
    Chain {
        names: names.into_iter().map(|(n, _)| n).collect(),
        nsec: nsec.into(),
    }
}
