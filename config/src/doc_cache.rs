//! Parsed documents kept between loads of one file, keyed by their text.
//!
//! Parsing (YAML, the CRD schema check, defaulting) is most of a load's time, and
//! a document's parse depends on its text alone. A reload after a small edit
//! therefore takes the typed object of every unchanged document from here and
//! parses only the changed ones; validation still sees every object, so its
//! diagnostics, the `Fleet` and its serial are the same as a cold load's.
//!
//! Only documents whose parse gave one object and no diagnostic are kept (a
//! diagnostic carries the document's position, which an edit elsewhere can move).
//! A kept object does not hold the file's text: its [`Doc`] is replaced by the
//! new document's on reuse.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use crate::crd::v1beta1::{TrafficManagerBackendSpec, TrafficManagerProfileSpec};
use crate::document::Doc;
use crate::inputs::{Inputs, Meta, Object};
use crate::settings::SettingsDocument;

/// A document's text as the cache knows it: its length and a keyed 64-bit hash
/// (SipHash with a per-process random key, so no input is built to collide).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DocKey {
    len: usize,
    hash: u64,
}

/// One document's parse, without its position in the file (boxed: the map's
/// slots stay small, and each object takes only its own size).
pub(crate) enum Parsed {
    Settings(Box<SettingsDocument>),
    Profile(Box<Kept<TrafficManagerProfileSpec>>),
    Backend(Box<Kept<TrafficManagerBackendSpec>>),
    Export(Box<Kept<()>>),
}

/// An [`Object`] without its [`Doc`].
pub(crate) struct Kept<S> {
    api_version: Cow<'static, str>,
    metadata: Meta,
    spec: S,
}

/// The `apiVersion`s nearly every object has, kept without a copy each.
const KNOWN_API_VERSIONS: [&str; 2] = [
    "networking.fleet.azure.com/v1beta1",
    "networking.fleet.azure.com/v1alpha1",
];

impl<S> Kept<S> {
    fn from(o: Object<S>) -> Box<Self> {
        let known = KNOWN_API_VERSIONS.iter().find(|v| **v == o.api_version);
        Box::new(Self {
            api_version: known.map_or(Cow::Owned(o.api_version), |v| Cow::Borrowed(*v)),
            metadata: o.metadata,
            spec: o.spec,
        })
    }

    fn object(self, doc: Doc) -> Object<S> {
        Object {
            doc,
            api_version: self.api_version.into_owned(),
            metadata: self.metadata,
            spec: self.spec,
        }
    }
}

impl Parsed {
    /// Adds the object to `inputs`, read from `doc`.
    pub(crate) fn push_into(self, doc: Doc, inputs: &mut Inputs) {
        match self {
            Parsed::Settings(s) => inputs.settings.push((doc, *s)),
            Parsed::Profile(o) => inputs.profiles.push(o.object(doc)),
            Parsed::Backend(o) => inputs.backends.push(o.object(doc)),
            Parsed::Export(o) => inputs.exports.push(o.object(doc)),
        }
    }
}

/// Which documents of an [`Inputs`] may be kept: per object of each kind, in
/// order, the key of its document's text (`None`: parse it again next time).
#[derive(Debug, Default)]
pub(crate) struct Keys {
    pub(crate) settings: Vec<Option<DocKey>>,
    pub(crate) profiles: Vec<Option<DocKey>>,
    pub(crate) backends: Vec<Option<DocKey>>,
    pub(crate) exports: Vec<Option<DocKey>>,
}

impl Keys {
    /// Appends `other`'s keys after these (as its objects are appended).
    pub(crate) fn append(&mut self, other: Keys) {
        self.settings.extend(other.settings);
        self.profiles.extend(other.profiles);
        self.backends.extend(other.backends);
        self.exports.extend(other.exports);
    }

    /// Records `key` for whatever one document's parse added to `inputs` (whose
    /// lengths were `before`); `key` is kept only if `clean` (no diagnostic).
    pub(crate) fn record(
        &mut self,
        before: [usize; 4],
        inputs: &Inputs,
        key: Option<DocKey>,
        clean: bool,
    ) {
        let key = key.filter(|_| clean);
        let after = lengths(inputs);
        let lists = [
            &mut self.settings,
            &mut self.profiles,
            &mut self.backends,
            &mut self.exports,
        ];
        for ((list, b), a) in lists.into_iter().zip(before).zip(after) {
            for _ in b..a {
                list.push(key);
            }
        }
    }
}

/// How many objects of each kind `inputs` holds (settings, profiles, backends, exports).
pub(crate) fn lengths(inputs: &Inputs) -> [usize; 4] {
    [
        inputs.settings.len(),
        inputs.profiles.len(),
        inputs.backends.len(),
        inputs.exports.len(),
    ]
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

/// The parsed documents of a file's last load (see the module doc).
#[derive(Default)]
pub(crate) struct DocCache {
    entries: HashMap<DocKey, Parsed, std::hash::BuildHasherDefault<KeyHasher>>,
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

    /// Replaces what is kept by the objects of `inputs` whose key is set; the
    /// rest (documents no longer in the file, changed or with diagnostics) is dropped.
    pub(crate) fn store(&mut self, inputs: Inputs, keys: Keys) {
        self.entries.clear();
        let mut put = |key: Option<DocKey>, parsed: Parsed| {
            if let Some(key) = key {
                self.entries.insert(key, parsed);
            }
        };
        for ((_, s), k) in inputs.settings.into_iter().zip(keys.settings) {
            put(k, Parsed::Settings(Box::new(s)));
        }
        for (o, k) in inputs.profiles.into_iter().zip(keys.profiles) {
            put(k, Parsed::Profile(Kept::from(o)));
        }
        for (o, k) in inputs.backends.into_iter().zip(keys.backends) {
            put(k, Parsed::Backend(Kept::from(o)));
        }
        for (o, k) in inputs.exports.into_iter().zip(keys.exports) {
            put(k, Parsed::Export(Kept::from(o)));
        }
    }
}
