//! Parsed documents kept between loads of one file, keyed by their text.
//!
//! Parsing (YAML, the CRD schema check, defaulting) is most of a load's time, and
//! a document's parse depends on its text alone. A reload after a small edit
//! therefore takes the object of every unchanged document from here and parses
//! only the changed ones (of a changed large settings document, only the changed
//! Service entries: [`crate::settings_split`]). What no load took is what the
//! edit removed or changed ([`DocCache::gone`]), which tells the incremental
//! validation which profiles to validate again; the diagnostics, the `Fleet`
//! and its serial are always a cold load's.
//!
//! Only documents whose parse gave one object and no diagnostic are kept (a
//! diagnostic carries the document's position, which an edit elsewhere can move).
//! A kept object has no position: it is given the new document's [`Doc`] on
//! reuse. This is held while serving, so it is kept small (about 40 bytes a
//! document at 100k profiles): a sorted table of text hashes, and the objects
//! and the settings document's Service entries as records ([`crate::doc_record`])
//! stored as differences from the one before ([`crate::delta`]), decoded on
//! reuse; of the settings document only its skeleton (no Services) is decoded.

use std::hash::{BuildHasher, RandomState};

use crate::delta::{Deltas, Reader};
use crate::doc_record::decode;
use crate::document::Doc;
use crate::inputs::Inputs;
use crate::settings::{ServiceSpec, SettingsDocument};
use crate::settings_split::ServiceIndex;

mod store;

/// A document's text as the cache knows it: a keyed 64-bit hash (SipHash with
/// a per-process random key, so no input is built to collide; the length is
/// part of what is hashed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DocKey(u64);

/// The kind of a kept document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Settings,
    Profile,
    Backend,
    Export,
}

const KINDS: [Kind; 4] = [Kind::Settings, Kind::Profile, Kind::Backend, Kind::Export];

/// A kept document's parse: its kind, and which of that kind's records.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parsed {
    kind: Kind,
    id: u32,
}

impl Parsed {
    /// Which record of its kind.
    pub(crate) fn id(self) -> u32 {
        self.id
    }

    fn slot(self) -> u32 {
        (self.kind as u32) << 30 | self.id
    }

    fn of_slot(slot: u32) -> Self {
        Parsed {
            kind: KINDS[(slot >> 30) as usize],
            id: slot & ((1 << 30) - 1),
        }
    }
}

/// A kept settings document: decoded without its Services, which are records.
#[derive(Debug)]
struct KeptSettings {
    skeleton: Box<SettingsDocument>,
    /// Services per cluster.
    counts: Box<[u32]>,
    /// The record of its first Service.
    first: usize,
    index: Option<ServiceIndex>,
}

/// Reads the records of a [`DocCache`] (one per thread: reading in order is fast).
pub(crate) struct Readers<'a> {
    objects: [Reader<'a>; 3],
}

/// The kept documents a load did not take (see [`DocCache::gone`]), by what
/// they touch: `(namespace, name)` of profiles, `(namespace, profile)` of
/// backends, `(namespace, Service)` of exports.
#[derive(Debug, Default)]
pub(crate) struct Gone<'a> {
    pub(crate) settings: Vec<&'a SettingsDocument>,
    pub(crate) profiles: Vec<(String, String)>,
    pub(crate) backends: Vec<(String, String)>,
    pub(crate) exports: Vec<(String, String)>,
    /// A kept object could not be decoded (then nothing is known of it).
    pub(crate) undecodable: bool,
}

/// The parsed documents of a file's last load (see the module doc).
#[derive(Default)]
pub(crate) struct DocCache {
    /// The kept documents' text hashes in document order, beside each its
    /// [`Parsed`] slot, and the documents in the order of their hashes.
    hashes: Vec<u64>,
    slots: Vec<u32>,
    by_hash: Vec<u32>,
    /// Where the next document is looked for first (after the last one taken).
    cursor: usize,
    /// Per slot: taken by this load.
    taken: Vec<bool>,
    settings: Vec<KeptSettings>,
    /// Every kept settings document's Service entries, in order.
    services: Deltas,
    /// Profiles, backends, exports.
    objects: [Deltas; 3],
    /// The kept settings documents this load did not take, decoded
    /// ([`DocCache::decode_gone_settings`]); `None` where one cannot be.
    old_settings: Vec<(usize, Option<SettingsDocument>)>,
    hasher: RandomState,
}

impl std::fmt::Debug for DocCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocCache")
            .field("documents", &self.hashes.len())
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl DocCache {
    /// How many documents are kept.
    pub(crate) fn len(&self) -> usize {
        self.hashes.len()
    }

    /// About how many bytes are kept (the tables, records and Service index).
    pub(crate) fn bytes(&self) -> usize {
        let index: usize = self
            .settings
            .iter()
            .flat_map(|s| s.index.iter().flatten().flatten())
            .map(|h| h.capacity() * 8)
            .sum();
        self.hashes.capacity() * 8
            + (self.slots.capacity() + self.by_hash.capacity()) * 4
            + self.encoded_bytes()
            + index
            + self.settings.len() * std::mem::size_of::<SettingsDocument>()
    }

    /// The key of a document's text.
    pub(crate) fn key(&self, text: &str) -> DocKey {
        DocKey(self.hasher.hash_one(text))
    }

    /// Takes the parse of a document with this text, if kept (and not taken).
    pub(crate) fn take(&mut self, key: &DocKey) -> Option<Parsed> {
        if self.taken.len() != self.hashes.len() {
            self.taken = vec![false; self.hashes.len()];
        }
        let c = self.cursor;
        let at = if self.hashes.get(c) == Some(&key.0) && !self.taken[c] {
            c
        } else {
            let hashes = &self.hashes;
            let from = self
                .by_hash
                .partition_point(|&i| hashes[i as usize] < key.0);
            self.by_hash[from..]
                .iter()
                .map(|&i| i as usize)
                .take_while(|&i| hashes[i] == key.0)
                .find(|&i| !self.taken[i])?
        };
        self.taken[at] = true;
        self.cursor = at + 1;
        Some(Parsed::of_slot(self.slots[at]))
    }

    /// The kept documents no take has taken, by kind and record.
    fn untaken(&self) -> Vec<Parsed> {
        let mut out: Vec<Parsed> = (0..self.slots.len())
            .filter(|&i| !self.taken.get(i).copied().unwrap_or(false))
            .map(|i| Parsed::of_slot(self.slots[i]))
            .collect();
        out.sort_by_key(|p| (p.kind, p.id));
        out
    }

    /// Decodes the kept settings documents this load has not taken (their
    /// text changed): the Service entries of a changed one are taken from the
    /// first ([`DocCache::kept_settings`]) and validation compares them
    /// ([`DocCache::gone`]). Called once all documents are taken.
    pub(crate) fn decode_gone_settings(&mut self) {
        self.old_settings = self
            .untaken()
            .into_iter()
            .filter(|p| p.kind == Kind::Settings)
            .map(|p| {
                let id = p.id as usize;
                (id, decode_settings(self.settings.get(id), &self.services))
            })
            .collect();
    }

    /// The last load's settings document and its Service index, if this load
    /// has not taken it (its text changed).
    pub(crate) fn kept_settings(&self) -> Option<(&SettingsDocument, &ServiceIndex)> {
        self.old_settings
            .iter()
            .find_map(|(id, s)| Some((s.as_ref()?, self.settings.get(*id)?.index.as_ref()?)))
    }

    /// The hasher of document and entry texts.
    pub(crate) fn hasher(&self) -> &RandomState {
        &self.hasher
    }

    /// Bytes of kept records.
    pub(crate) fn encoded_bytes(&self) -> usize {
        self.services.bytes() + self.objects.iter().map(Deltas::bytes).sum::<usize>()
    }

    /// Readers of the kept records.
    pub(crate) fn readers(&self) -> Readers<'_> {
        let [p, b, e] = &self.objects;
        Readers {
            objects: [Reader::new(p), Reader::new(b), Reader::new(e)],
        }
    }

    /// Adds a taken document's object to `inputs`, read from `doc`; a settings
    /// document's Service index is handed back. `Err(doc)` if it cannot be
    /// decoded (then the document is parsed again).
    pub(crate) fn push_into(
        &self,
        parsed: Parsed,
        doc: Doc,
        readers: &mut Readers<'_>,
        inputs: &mut Inputs,
    ) -> Result<Option<ServiceIndex>, Doc> {
        let id = parsed.id as usize;
        let [p, b, e] = &mut readers.objects;
        let done = match parsed.kind {
            Kind::Settings => {
                let kept = self.settings.get(id);
                return match decode_settings(kept, &self.services) {
                    Some(s) => {
                        inputs.settings.push((doc, s));
                        Ok(kept.and_then(|k| k.index.clone()))
                    }
                    None => Err(doc),
                };
            }
            Kind::Profile => p
                .get(id)
                .and_then(|r| decode(r, doc.clone()))
                .map(|o| inputs.profiles.push(o)),
            Kind::Backend => b
                .get(id)
                .and_then(|r| decode(r, doc.clone()))
                .map(|o| inputs.backends.push(o)),
            Kind::Export => e
                .get(id)
                .and_then(|r| decode(r, doc.clone()))
                .map(|o| inputs.exports.push(o)),
        };
        done.map(|()| None).ok_or(doc)
    }

    /// What the last load had and this one no longer has: the kept documents no
    /// load took since [`DocCache::store`] (their text changed or they are gone).
    pub(crate) fn gone(&self) -> Gone<'_> {
        let mut gone = Gone::default();
        // Only the objects' names are read: they need no document.
        let doc = Doc::without_text(std::sync::Arc::from(std::path::Path::new("")));
        let mut readers = self.readers();
        let [p, b, e] = &mut readers.objects;
        let key = |ns: &Option<String>, name: String| {
            (ns.clone().unwrap_or_else(|| "default".to_string()), name)
        };
        for parsed in self.untaken() {
            let id = parsed.id as usize;
            let found = match parsed.kind {
                Kind::Settings => {
                    let old = self.old_settings.iter().find(|(i, _)| *i == id);
                    old.and_then(|(_, s)| s.as_ref())
                        .map(|s| gone.settings.push(s))
                }
                Kind::Profile => p
                    .get(id)
                    .and_then(|r| {
                        decode::<crate::crd::v1beta1::TrafficManagerProfileSpec>(r, doc.clone())
                    })
                    .map(|o| {
                        gone.profiles
                            .push(key(&o.metadata.namespace, o.name().to_string()))
                    }),
                Kind::Backend => b
                    .get(id)
                    .and_then(|r| {
                        decode::<crate::crd::v1beta1::TrafficManagerBackendSpec>(r, doc.clone())
                    })
                    .map(|o| {
                        gone.backends
                            .push(key(&o.metadata.namespace, o.spec.profile.name))
                    }),
                Kind::Export => e
                    .get(id)
                    .and_then(|r| decode::<()>(r, doc.clone()))
                    .map(|o| {
                        gone.exports
                            .push(key(&o.metadata.namespace, o.name().to_string()))
                    }),
            };
            gone.undecodable |= found.is_none();
        }
        gone
    }
}

/// A kept settings document, decoded (many Services on every core).
fn decode_settings(kept: Option<&KeptSettings>, services: &Deltas) -> Option<SettingsDocument> {
    let kept = kept?;
    let total: usize = kept.counts.iter().map(|n| *n as usize).sum();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let read = |from: usize, to: usize| -> Option<Vec<ServiceSpec>> {
        let mut reader = Reader::new(services);
        (from..to)
            .map(|i| serde_json::from_slice(reader.get(i)?).ok())
            .collect()
    };
    let first = kept.first;
    let mut all = if threads < 2 || total < 4096 {
        read(first, first + total)?
    } else {
        let per = total.div_ceil(threads);
        std::thread::scope(|s| {
            let parts: Vec<_> = (0..threads)
                .map(|t| {
                    let from = first + (t * per).min(total);
                    let to = first + ((t + 1) * per).min(total);
                    s.spawn(move || read(from, to))
                })
                .collect();
            let mut all = Vec::with_capacity(total);
            for part in parts {
                match part.join() {
                    Ok(part) => all.extend(part?),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            Some(all)
        })?
    }
    .into_iter();
    let mut doc = (*kept.skeleton).clone();
    for (c, n) in doc.spec.clusters.iter_mut().zip(kept.counts.iter()) {
        c.services = all.by_ref().take(*n as usize).collect();
    }
    Some(doc)
}
