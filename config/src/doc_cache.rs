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
//! reuse. Upstream objects are kept encoded (a compact JSON array each, in one
//! buffer) and decoded on reuse; the settings document is kept as decoded.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::ops::Range;

use crate::doc_keys::Keys;
use crate::document::Doc;
use crate::inputs::{Inputs, Meta, Object};
use crate::settings::SettingsDocument;
use crate::settings_split::ServiceIndex;

/// A document's text as the cache knows it: its length and a keyed 64-bit hash
/// (SipHash with a per-process random key, so no input is built to collide).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DocKey {
    len: usize,
    hash: u64,
}

/// One kept document's parse: the settings document as decoded, or an upstream
/// object encoded as a compact JSON array in the cache's arena (a few dozen bytes
/// for most objects, against several hundred for the decoded structs: at 100k
/// profiles this is the difference between ~50 and ~150 MiB held between loads).
pub(crate) enum Parsed {
    Settings(Box<SettingsDocument>, Option<ServiceIndex>),
    Encoded(Kind, std::ops::Range<usize>),
}

/// The kind of an encoded object.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Profile,
    Backend,
    Export,
}

/// The `apiVersion`s nearly every object has, encoded as their index.
const KNOWN_API_VERSIONS: [&str; 2] = [
    "networking.fleet.azure.com/v1beta1",
    "networking.fleet.azure.com/v1alpha1",
];

/// The encoded form: `[api index, api (when not known), name, namespace, uid, annotations, spec]`.
type Encoded<'a, S> = (
    u8,
    Option<&'a str>,
    &'a Option<String>,
    &'a Option<String>,
    &'a Option<String>,
    &'a [(String, String)],
    &'a S,
);

/// [`Encoded`], decoded.
type Decoded<S> = (
    u8,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<(String, String)>,
    S,
);

fn encode<S: serde::Serialize>(o: &Object<S>, arena: &mut Vec<u8>) -> std::ops::Range<usize> {
    let start = arena.len();
    let known = KNOWN_API_VERSIONS.iter().position(|v| *v == o.api_version);
    let m = &o.metadata;
    let value: Encoded<'_, S> = (
        known.map_or(u8::MAX, |i| i as u8),
        known.is_none().then_some(o.api_version.as_str()),
        &m.name,
        &m.namespace,
        &m.uid,
        &m.annotations,
        &o.spec,
    );
    match serde_json::to_writer(&mut *arena, &value) {
        Ok(()) => start..arena.len(),
        Err(_) => {
            arena.truncate(start);
            start..start
        }
    }
}

fn decode<S: serde::de::DeserializeOwned>(bytes: &[u8], doc: Doc) -> Option<Object<S>> {
    let (api, other, name, namespace, uid, annotations, spec): Decoded<S> =
        serde_json::from_slice(bytes).ok()?;
    let api_version = match KNOWN_API_VERSIONS.get(usize::from(api)) {
        Some(v) => (*v).to_string(),
        None => other?,
    };
    Some(Object {
        doc,
        api_version,
        metadata: Meta {
            name,
            namespace,
            uid,
            annotations: annotations.into_boxed_slice(),
        },
        spec,
    })
}

impl Parsed {
    /// Adds the object to `inputs`, read from `doc`, decoding it from `arena`;
    /// a settings document's Service index, or where an object is encoded, is
    /// handed back. `Err(doc)` if it cannot be decoded (then the document is
    /// parsed again).
    pub(crate) fn push_into(
        self,
        doc: Doc,
        arena: &[u8],
        inputs: &mut Inputs,
    ) -> Result<(Option<ServiceIndex>, Option<Range<usize>>), Doc> {
        let (kind, range) = match self {
            Parsed::Settings(s, index) => {
                inputs.settings.push((doc, *s));
                return Ok((index, None));
            }
            Parsed::Encoded(kind, range) => (kind, range),
        };
        let bytes = arena.get(range.clone()).unwrap_or_default();
        match kind {
            Kind::Profile => match decode(bytes, doc.clone()) {
                Some(o) => inputs.profiles.push(o),
                None => return Err(doc),
            },
            Kind::Backend => match decode(bytes, doc.clone()) {
                Some(o) => inputs.backends.push(o),
                None => return Err(doc),
            },
            Kind::Export => match decode(bytes, doc.clone()) {
                Some(o) => inputs.exports.push(o),
                None => return Err(doc),
            },
        }
        Ok((None, Some(range)))
    }
}

/// Hashes a [`DocKey`] by its hash (already keyed and random; hashing it again
/// would cost a second SipHash per document).
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = self.0.rotate_left(17) ^ n as u64;
    }
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
    entries: HashMap<DocKey, Parsed, std::hash::BuildHasherDefault<KeyHasher>>,
    /// The encoded objects, one after another.
    arena: Vec<u8>,
    hasher: RandomState,
}

impl std::fmt::Debug for DocCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocCache")
            .field("documents", &self.entries.len())
            .finish()
    }
}

impl DocCache {
    /// How many documents are kept.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The key of a document's text.
    pub(crate) fn key(&self, text: &str) -> DocKey {
        DocKey {
            len: text.len(),
            hash: self.hasher.hash_one(text),
        }
    }

    /// Takes the parse of a document with this text, if kept. (A second document
    /// with the same text finds nothing and is parsed.)
    pub(crate) fn take(&mut self, key: &DocKey) -> Option<Parsed> {
        self.entries.remove(key)
    }

    /// The last load's settings document and its Service index, if this load
    /// has not taken it (its text changed).
    pub(crate) fn kept_settings(&self) -> Option<(&SettingsDocument, &ServiceIndex)> {
        self.entries.values().find_map(|p| match p {
            Parsed::Settings(s, Some(index)) => Some((&**s, index)),
            _ => None,
        })
    }

    /// The hasher of document and entry texts.
    pub(crate) fn hasher(&self) -> &RandomState {
        &self.hasher
    }

    /// Bytes of encoded objects.
    pub(crate) fn encoded_bytes(&self) -> usize {
        self.arena.len()
    }

    /// The encoded objects [`Parsed::Encoded`] points into.
    pub(crate) fn arena(&self) -> &[u8] {
        &self.arena
    }

    /// What the last load had and this one no longer has: the kept documents no
    /// load took since [`DocCache::store`] (their text changed or they are gone).
    pub(crate) fn gone(&self) -> Gone<'_> {
        let mut gone = Gone::default();
        // Only the objects' names are read: they need no document.
        let doc = Doc {
            file: std::sync::Arc::from(std::path::Path::new("")),
            index: 0,
            start_line: 0,
            source: std::sync::Arc::from(""),
            span: 0..0,
        };
        for parsed in self.entries.values() {
            let (kind, range) = match parsed {
                Parsed::Settings(s, _) => {
                    gone.settings.push(s);
                    continue;
                }
                Parsed::Encoded(kind, range) => (*kind, range.clone()),
            };
            let bytes = self.arena.get(range).unwrap_or_default();
            let key = |ns: &Option<String>, name: String| {
                (ns.clone().unwrap_or_else(|| "default".to_string()), name)
            };
            let found = match kind {
                Kind::Profile => {
                    decode::<crate::crd::v1beta1::TrafficManagerProfileSpec>(bytes, doc.clone())
                        .map(|o| {
                            gone.profiles
                                .push(key(&o.metadata.namespace, o.name().to_string()))
                        })
                }
                Kind::Backend => {
                    decode::<crate::crd::v1beta1::TrafficManagerBackendSpec>(bytes, doc.clone())
                        .map(|o| {
                            gone.backends
                                .push(key(&o.metadata.namespace, o.spec.profile.name))
                        })
                }
                Kind::Export => decode::<()>(bytes, doc.clone()).map(|o| {
                    gone.exports
                        .push(key(&o.metadata.namespace, o.name().to_string()))
                }),
            };
            gone.undecodable |= found.is_none();
        }
        gone
    }

    /// Replaces what is kept by the objects of `inputs` whose key is set; the
    /// rest (documents no longer in the file, changed or with diagnostics) is dropped.
    /// The objects (and the parses no load took) are freed on a thread of their
    /// own: at 100k profiles that is over a million allocations, and the new
    /// fleet need not wait for it.
    pub(crate) fn store(&mut self, inputs: Inputs, keys: Keys) {
        let capacity = self.entries.capacity();
        let stale = std::mem::replace(
            &mut self.entries,
            HashMap::with_capacity_and_hasher(capacity, Default::default()),
        );
        let mut arena = Vec::with_capacity(self.arena.len());
        let entries = &mut self.entries;
        let settings = inputs.settings.into_iter().zip(keys.settings);
        for (((_, s), k), index) in settings.zip(keys.services) {
            if let Some(k) = k {
                entries.insert(k, Parsed::Settings(Box::new(s), index));
            }
        }
        /// Stores `objects` whose key is set: a reused one's encoding (at its
        /// range in `old`) is copied, a new one is encoded.
        #[allow(clippy::too_many_arguments)]
        fn put<S: serde::Serialize>(
            entries: &mut HashMap<DocKey, Parsed, std::hash::BuildHasherDefault<KeyHasher>>,
            arena: &mut Vec<u8>,
            old: &[u8],
            objects: &[Object<S>],
            keys: Vec<Option<DocKey>>,
            at: Vec<Option<Range<usize>>>,
            kind: Kind,
        ) {
            let at = at.into_iter().chain(std::iter::repeat(None));
            for ((o, k), at) in objects.iter().zip(keys).zip(at) {
                if let Some(k) = k {
                    let range = match at.and_then(|r| old.get(r)) {
                        Some(bytes) => {
                            let start = arena.len();
                            arena.extend_from_slice(bytes);
                            start..arena.len()
                        }
                        None => encode(o, arena),
                    };
                    if !range.is_empty() {
                        entries.insert(k, Parsed::Encoded(kind, range));
                    }
                }
            }
        }
        let [at_profiles, at_backends, at_exports] = keys.encoded;
        let old = &self.arena;
        put(
            entries,
            &mut arena,
            old,
            &inputs.profiles,
            keys.profiles,
            at_profiles,
            Kind::Profile,
        );
        put(
            entries,
            &mut arena,
            old,
            &inputs.backends,
            keys.backends,
            at_backends,
            Kind::Backend,
        );
        put(
            entries,
            &mut arena,
            old,
            &inputs.exports,
            keys.exports,
            at_exports,
            Kind::Export,
        );
        arena.shrink_to_fit();
        self.arena = arena;
        let objects = (inputs.profiles, inputs.backends, inputs.exports);
        // If no thread can be started, they are freed here.
        let _ = std::thread::Builder::new()
            .name("config-free".into())
            .spawn(move || drop((objects, stale)));
    }
}
