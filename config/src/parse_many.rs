//! Parsing a file's documents on every core, in their order.
//!
//! Documents are independent until validation, so a large file's documents are
//! parsed by a few threads, each taking small runs of consecutive documents; the
//! runs' objects and diagnostics are then appended in document order, so the
//! result is exactly what parsing them one after another gives. Documents whose
//! text is in the [`DocCache`] are not parsed at all.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::diagnostic::Diagnostics;
use crate::doc_cache::{DocCache, DocKey, Parsed};
use crate::doc_keys::{lengths, Keys};
use crate::document::Doc;
use crate::file::{Progress, PROGRESS_EVERY};
use crate::inputs::Inputs;
use crate::parse_doc::{compact, parse_document, parse_whole, says_settings, PEEK_FROM_BYTES};
use crate::settings::SettingsDocument;
use crate::settings_split::{self, ServiceIndex};
use std::hash::RandomState;

/// Consecutive documents one thread parses at a time.
const RUN: usize = 256;
/// Below this many documents to parse, no thread is started.
const THREADS_FROM: usize = 2 * RUN;
/// At most this many parsing threads.
const MAX_THREADS: usize = 8;

/// A document to parse, or its kept parse.
type Item = (Doc, Option<DocKey>, Option<Parsed>);

/// What parsing a run of documents gave.
#[derive(Default)]
struct Run {
    inputs: Inputs,
    keys: Keys,
    diags: Diagnostics,
}

/// Parses `docs` (taking unchanged documents from `cache` when given), reporting
/// [`Progress::Parsed`]. Returns the objects and, for the cache, their keys.
pub(crate) fn parse_documents(
    docs: Vec<Doc>,
    mut cache: Option<&mut DocCache>,
    diags: &mut Diagnostics,
    progress: &mut dyn FnMut(Progress),
) -> (Inputs, Keys) {
    let documents = docs.len();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS);
    let items: Vec<Item> = docs
        .into_iter()
        .map(|doc| match cache.as_deref_mut() {
            Some(c) => {
                let key = c.key(doc.text());
                let hit = c.take(&key);
                (doc, Some(key), hit)
            }
            None => (doc, None, None),
        })
        .collect();
    // Kept objects are decoded from the cache's records (cheaper than parsing,
    // but not free): every document counts.
    if let Some(c) = cache.as_deref_mut() {
        c.decode_gone_settings();
    }
    let kept = Kept {
        cache: cache.as_deref(),
        settings: cache.as_deref().and_then(DocCache::kept_settings),
        hasher: cache.as_deref().map(DocCache::hasher),
    };
    let kept = &kept;
    let runs = if threads > 1 && items.len() >= THREADS_FROM {
        in_parallel(items, threads, kept, progress)
    } else {
        let mut runs = Vec::new();
        let mut items = items.into_iter().peekable();
        let mut parsed = 0;
        while items.peek().is_some() {
            let batch: Vec<Item> = items.by_ref().take(PROGRESS_EVERY).collect();
            parsed += batch.len();
            runs.push(parse_run(batch, kept));
            if parsed < documents {
                progress(Progress::Parsed { parsed, documents });
            }
        }
        runs
    };
    progress(Progress::Parsed {
        parsed: documents,
        documents,
    });
    // Appended once, into vectors of the right size (objects are a few hundred
    // bytes, and growing by doubling would copy them again and again).
    let mut all = Run::default();
    let total = |f: fn(&Inputs) -> usize| runs.iter().map(|r| f(&r.inputs)).sum::<usize>();
    all.inputs
        .settings
        .reserve_exact(total(|i| i.settings.len()));
    all.inputs
        .profiles
        .reserve_exact(total(|i| i.profiles.len()));
    all.inputs
        .backends
        .reserve_exact(total(|i| i.backends.len()));
    all.inputs.exports.reserve_exact(total(|i| i.exports.len()));
    if kept.cache.is_some() {
        all.keys.reserve([
            total(|i| i.settings.len()),
            total(|i| i.profiles.len()),
            total(|i| i.backends.len()),
            total(|i| i.exports.len()),
        ]);
    }
    for run in runs {
        let Run {
            inputs,
            keys,
            diags: found,
        } = run;
        all.inputs.settings.extend(inputs.settings);
        all.inputs.profiles.extend(inputs.profiles);
        all.inputs.backends.extend(inputs.backends);
        all.inputs.exports.extend(inputs.exports);
        all.keys.append(keys);
        diags.0.extend(found.0);
    }
    (all.inputs, all.keys)
}

/// Parses `items` on `threads` threads, each taking the next run of [`RUN`]
/// documents (one slow document, such as a large settings document, delays no
/// other run); returns the runs in document order. This thread reports
/// [`Progress::Parsed`] as the runs finish.
fn in_parallel(
    items: Vec<Item>,
    threads: usize,
    kept: &Kept<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Vec<Run> {
    let documents = items.len();
    let mut chunks: Vec<Mutex<Vec<Item>>> = Vec::with_capacity(documents / RUN + 1);
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(Mutex::new(items.by_ref().take(RUN).collect()));
    }
    let next = AtomicUsize::new(0);
    let parsed = AtomicUsize::new(0);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let mut done: Vec<(usize, Run)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let done_tx = done_tx.clone();
                let (next, parsed, chunks) = (&next, &parsed, &chunks);
                s.spawn(move || {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(chunk) = chunks.get(i) else {
                            return out;
                        };
                        let items =
                            std::mem::take(&mut *chunk.lock().unwrap_or_else(|e| e.into_inner()));
                        let n = items.len();
                        out.push((i, parse_run(items, kept)));
                        parsed.fetch_add(n, Ordering::Relaxed);
                        // The receiver may be gone (a panic elsewhere); nothing to do then.
                        let _ = done_tx.send(());
                    }
                })
            })
            .collect();
        drop(done_tx);
        let mut reported = 0;
        // Each finished run wakes this thread; the channel closes when all workers end.
        while done_rx.recv().is_ok() {
            let now = parsed.load(Ordering::Relaxed);
            while reported + PROGRESS_EVERY <= now && reported + PROGRESS_EVERY < documents {
                reported += PROGRESS_EVERY;
                progress(Progress::Parsed {
                    parsed: reported,
                    documents,
                });
            }
        }
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(runs) => runs,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, run)| run).collect()
}

/// What the cache keeps for a load: the kept objects, the last settings
/// document (when this load's differs) and the hasher of texts.
struct Kept<'a> {
    cache: Option<&'a DocCache>,
    settings: Option<(&'a SettingsDocument, &'a ServiceIndex)>,
    hasher: Option<&'a RandomState>,
}

/// Parses consecutive documents, in order.
fn parse_run(items: Vec<Item>, kept: &Kept<'_>) -> Run {
    let mut run = Run::default();
    let mut readers = kept.cache.map(DocCache::readers);
    for (doc, key, hit) in items {
        let before = lengths(&run.inputs);
        let doc = match (hit, kept.cache, readers.as_mut()) {
            (Some(parsed), Some(cache), Some(readers)) => {
                match cache.push_into(parsed, doc, readers, &mut run.inputs) {
                    Ok(index) => {
                        let from = Some(parsed.id());
                        run.keys.record(before, &run.inputs, key, true, from);
                        set_index(&mut run.keys, index);
                        continue;
                    }
                    Err(doc) => doc,
                }
            }
            _ => doc,
        };
        let found = run.diags.0.len();
        let Some(hasher) = kept.hasher.filter(|_| key.is_some()) else {
            parse_document(doc, &mut run.inputs, &mut run.diags);
            continue;
        };
        // A large settings document: its unchanged Service entries are reused,
        // and its entries are indexed for the next load.
        let settings = doc.span.len() >= PEEK_FROM_BYTES && says_settings(doc.text());
        let split = match settings {
            true => settings_split::parse(doc.text(), kept.settings, hasher),
            false => None,
        };
        let index = match split {
            Some((s, index, parsed)) => {
                if kept.settings.is_some() {
                    run.keys.services_parsed = Some(parsed);
                }
                run.inputs.settings.push((doc, compact(s)));
                Some(index)
            }
            None => {
                let whole = settings.then(|| doc.clone());
                parse_whole(doc, &mut run.inputs, &mut run.diags);
                match (whole, run.inputs.settings.last()) {
                    (Some(whole), Some((_, s))) if run.inputs.settings.len() > before[0] => {
                        settings_split::index(whole.text(), s, hasher)
                    }
                    _ => None,
                }
            }
        };
        let clean = run.diags.0.len() == found;
        run.keys.record(before, &run.inputs, key, clean, None);
        set_index(&mut run.keys, index);
    }
    run
}

/// Gives the settings document `record` just recorded its Service index.
fn set_index(keys: &mut Keys, index: Option<ServiceIndex>) {
    if let (Some(index), Some(last)) = (index, keys.services.last_mut()) {
        *last = Some(index);
    }
}
