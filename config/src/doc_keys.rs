//! What a load tells the [`crate::doc_cache::DocCache`] about each object it
//! read: the key of its document's text (to keep its parse), whether it was
//! reused, and a settings document's Service index.

use crate::doc_cache::DocKey;
use crate::inputs::Inputs;
use crate::settings_split::ServiceIndex;

/// Which documents of an [`Inputs`] may be kept: per object of each kind, in
/// order, the key of its document's text (`None`: parse it again next time).
#[derive(Debug, Default)]
pub(crate) struct Keys {
    pub(crate) settings: Vec<Option<DocKey>>,
    pub(crate) profiles: Vec<Option<DocKey>>,
    pub(crate) backends: Vec<Option<DocKey>>,
    pub(crate) exports: Vec<Option<DocKey>>,
    /// Per object of each kind (settings, profiles, backends, exports), in order:
    /// whether it was taken from the cache (its document's text is unchanged).
    pub(crate) reused: [Vec<bool>; 4],
    /// Per settings document: its Service index (see [`crate::settings_split`]).
    pub(crate) services: Vec<Option<ServiceIndex>>,
    /// Service entries parsed one by one (the others reused), when a settings
    /// document was parsed so.
    pub(crate) services_parsed: Option<usize>,
    /// Per object of each kind: the record it was taken from, when reused
    /// (kept again by copying that record, not by encoding the object).
    pub(crate) from: [Vec<Option<u32>>; 4],
}

impl Keys {
    /// Room for this many more objects of each kind (settings, profiles,
    /// backends, exports): at 100k profiles the keys are several MB, and
    /// growing by doubling would hold up to twice that at the load's peak.
    pub(crate) fn reserve(&mut self, n: [usize; 4]) {
        let lists = [
            &mut self.settings,
            &mut self.profiles,
            &mut self.backends,
            &mut self.exports,
        ];
        for (((list, reused), from), n) in lists
            .into_iter()
            .zip(&mut self.reused)
            .zip(&mut self.from)
            .zip(n)
        {
            list.reserve_exact(n);
            reused.reserve_exact(n);
            from.reserve_exact(n);
        }
        self.services.reserve_exact(n[0]);
    }

    /// Appends `other`'s keys after these (as its objects are appended).
    pub(crate) fn append(&mut self, other: Keys) {
        self.settings.extend(other.settings);
        self.profiles.extend(other.profiles);
        self.backends.extend(other.backends);
        self.exports.extend(other.exports);
        self.services.extend(other.services);
        self.services_parsed = self.services_parsed.or(other.services_parsed);
        for (mine, theirs) in self.reused.iter_mut().zip(other.reused) {
            mine.extend(theirs);
        }
        for (mine, theirs) in self.from.iter_mut().zip(other.from) {
            mine.extend(theirs);
        }
    }

    /// Records `key` for whatever one document's parse added to `inputs` (whose
    /// lengths were `before`); `key` is kept only if `clean` (no diagnostic);
    /// `reused`: the objects came from the cache (its record given).
    pub(crate) fn record(
        &mut self,
        before: [usize; 4],
        inputs: &Inputs,
        key: Option<DocKey>,
        clean: bool,
        reused: Option<u32>,
    ) {
        let key = key.filter(|_| clean);
        let after = lengths(inputs);
        let lists = [
            &mut self.settings,
            &mut self.profiles,
            &mut self.backends,
            &mut self.exports,
        ];
        for ((((list, flags), from), b), a) in lists
            .into_iter()
            .zip(&mut self.reused)
            .zip(&mut self.from)
            .zip(before)
            .zip(after)
        {
            for _ in b..a {
                list.push(key);
                flags.push(reused.is_some());
                from.push(reused);
            }
        }
        self.services.resize(self.settings.len(), None);
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
