//! Keeping a load's objects for the next one ([`DocCache::store`]).

use crate::delta::{Deltas, Reader};
use crate::doc_keys::Keys;
use crate::doc_record::encode;
use crate::inputs::{Inputs, Object};
use crate::settings::SettingsDocument;
use crate::settings_split::ServiceIndex;

use super::{DocCache, DocKey, KeptSettings, Kind, Parsed};

impl DocCache {
    /// Replaces what is kept by the objects of `inputs` whose key is set; the
    /// rest (documents no longer in the file, changed or with diagnostics) is
    /// dropped. A reused object's record is copied, a new one is encoded (the
    /// settings document's Services on a thread of their own). The objects are
    /// freed on a thread of their own: at 100k profiles that is over a million
    /// allocations, and the new fleet need not wait for it.
    pub(crate) fn store(&mut self, mut inputs: Inputs, keys: Keys) {
        let hasher = self.hasher.clone();
        let stale = std::mem::take(self);
        self.hasher = hasher;
        let Keys {
            settings: settings_keys,
            profiles,
            backends,
            exports,
            services: indexes,
            from,
            ..
        } = keys;
        let [from_settings, from_p, from_b, from_e] = from;
        let split_against = stale
            .old_settings
            .iter()
            .find(|(id, s)| {
                s.is_some() && stale.settings.get(*id).is_some_and(|k| k.index.is_some())
            })
            .and_then(|(id, _)| stale.settings.get(*id));
        let (kept, mut slots) = std::thread::scope(|s| {
            let settings = s.spawn(|| {
                let mut kept = KeptSettingsOut::default();
                let mut old = Reader::new(&stale.services);
                let all = inputs.settings.iter_mut().zip(settings_keys);
                let all = all.zip(indexes).zip(from_settings);
                for ((((d, doc), k), index), from) in all {
                    let Some(k) = k else { continue };
                    // Its Services are the kept document's it was taken
                    // from, or partly those of the one it was split against.
                    let was = match from {
                        Some(i) => stale.settings.get(i as usize).map(|w| (w, true)),
                        None => split_against.map(|w| (w, false)),
                    };
                    let id = kept.settings.len() as u32;
                    kept.slots.push((
                        d.index,
                        k.0,
                        Parsed {
                            kind: Kind::Settings,
                            id,
                        }
                        .slot(),
                    ));
                    kept.settings.push(keep_settings(
                        doc,
                        index,
                        was,
                        &mut old,
                        &mut kept.services,
                    ));
                }
                kept.services.finish();
                kept
            });
            let mut slots: Vec<(usize, u64, u32)> = Vec::new();
            let [p, b, e] = &mut self.objects;
            let [old_p, old_b, old_e] = &stale.objects;
            let s = &mut slots;
            put(
                p,
                old_p,
                s,
                &inputs.profiles,
                profiles,
                from_p,
                Kind::Profile,
            );
            put(
                b,
                old_b,
                s,
                &inputs.backends,
                backends,
                from_b,
                Kind::Backend,
            );
            put(e, old_e, s, &inputs.exports, exports, from_e, Kind::Export);
            self.objects.iter_mut().for_each(Deltas::finish);
            match settings.join() {
                Ok(kept) => (kept, slots),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        self.settings = kept.settings;
        self.services = kept.services;
        slots.extend(kept.slots);
        slots.sort_unstable_by_key(|(doc, _, _)| *doc);
        self.hashes = slots.iter().map(|(_, h, _)| *h).collect();
        self.slots = slots.iter().map(|(_, _, s)| *s).collect();
        let mut by_hash: Vec<u32> = (0..slots.len() as u32).collect();
        by_hash.sort_unstable_by_key(|&i| self.hashes[i as usize]);
        self.by_hash = by_hash;
        // If no thread can be started, they are freed here.
        let _ = std::thread::Builder::new()
            .name("config-free".into())
            .spawn(move || drop((inputs, stale, slots)));
    }
}

/// The settings documents [`DocCache::store`] keeps.
#[derive(Default)]
struct KeptSettingsOut {
    settings: Vec<KeptSettings>,
    services: Deltas,
    slots: Vec<(usize, u64, u32)>,
}

/// Keeps the settings document `doc` (its Services taken out of it). A
/// Service's record is copied from `was` where it is that document's (read
/// with `old`): all of them when the document was reused, else the entries
/// whose text is unchanged at the head and tail of each cluster's list (as
/// [`crate::settings_split`] reused them); the others are written.
fn keep_settings(
    doc: &mut SettingsDocument,
    index: Option<ServiceIndex>,
    was: Option<(&KeptSettings, bool)>,
    old: &mut Reader<'_>,
    services: &mut Deltas,
) -> KeptSettings {
    let first = services.len();
    let mut counts = Vec::with_capacity(doc.spec.clusters.len());
    let mut buf = Vec::new();
    let mut old_first = was.map_or(0, |(w, _)| w.first);
    for (c, cluster) in doc.spec.clusters.iter_mut().enumerate() {
        let n = cluster.services.len();
        counts.push(u32::try_from(n).unwrap_or(u32::MAX));
        let old_n = was
            .and_then(|(w, _)| w.counts.get(c))
            .map_or(0, |n| *n as usize);
        // How many entries at the head and tail are the old ones.
        let (head, tail) = match was {
            Some((_, true)) if old_n == n => (n, 0),
            Some((w, false)) => {
                let new = index.as_ref().and_then(|i| i.get(c)?.as_deref());
                let was = w.index.as_ref().and_then(|i| i.get(c)?.as_deref());
                match (new, was) {
                    (Some(a), Some(b)) if a.len() == n && b.len() == old_n => {
                        let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
                        let tail = a[head..]
                            .iter()
                            .rev()
                            .zip(b[head..].iter().rev())
                            .take_while(|(x, y)| x == y)
                            .count();
                        (head, tail)
                    }
                    _ => (0, 0),
                }
            }
            _ => (0, 0),
        };
        for (k, svc) in std::mem::take(&mut cluster.services)
            .into_iter()
            .enumerate()
        {
            let from = if k < head {
                Some(old_first + k)
            } else if k >= n - tail {
                Some(old_first + old_n - (n - k))
            } else {
                None
            };
            if !from.is_some_and(|i| services.push_from(old, i)) {
                buf.clear();
                // A Service that cannot be written is read back as none
                // (then the document is parsed again).
                if serde_json::to_writer(&mut buf, &svc).is_err() {
                    buf.clear();
                }
                services.push(&buf);
            }
        }
        old_first += old_n;
    }
    KeptSettings {
        skeleton: Box::new(doc.clone()),
        counts: counts.into_boxed_slice(),
        first,
        index,
    }
}

/// Keeps `objects` whose key is set: a reused one's record (`from`, in `old`)
/// is copied, a new one is encoded.
fn put<S: serde::Serialize>(
    deltas: &mut Deltas,
    old: &Deltas,
    slots: &mut Vec<(usize, u64, u32)>,
    objects: &[Object<S>],
    keys: Vec<Option<DocKey>>,
    from: Vec<Option<u32>>,
    kind: Kind,
) {
    let same = objects.len() == old.len()
        && keys.iter().all(Option::is_some)
        && from.iter().enumerate().all(|(i, f)| *f == Some(i as u32));
    if same {
        // Every object reused, in the same order (a reload after an edit
        // elsewhere): the records are the old ones.
        *deltas = old.clone();
        for (i, (o, k)) in objects.iter().zip(keys.into_iter().flatten()).enumerate() {
            slots.push((o.doc.index, k.0, Parsed { kind, id: i as u32 }.slot()));
        }
        return;
    }
    let mut old = Reader::new(old);
    let mut buf = Vec::new();
    let from = from.into_iter().chain(std::iter::repeat(None));
    for ((o, k), from) in objects.iter().zip(keys).zip(from) {
        let Some(k) = k else { continue };
        let id = deltas.len() as u32;
        if !from.is_some_and(|i| deltas.push_from(&mut old, i as usize)) {
            if !encode(o, &mut buf) {
                continue;
            }
            deltas.push(&buf);
        }
        slots.push((o.doc.index, k.0, Parsed { kind, id }.slot()));
    }
}
