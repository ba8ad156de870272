//! The fleetdns file format: one multi-document YAML text → [`Inputs`] → `Fleet`.
//!
//! The text holds one `FleetDNSConfig` settings document plus the upstream objects
//! exactly as users write them for Fleet (TrafficManagerProfile,
//! TrafficManagerBackend, ServiceExport). Objects fleetdns does not use
//! (Deployments, Services, placements, …) are accepted and listed as ignored, so
//! the manifests from the Fleet docs can be pasted in unchanged. Reading the file
//! from disk and watching it for changes is the sources crate's job; this module
//! only judges text.

use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::doc_cache::DocCache;
use crate::doc_keys::Keys;
use crate::document;
use crate::inputs::Inputs;
use crate::model::Fleet;
use crate::parse_many;
use crate::validate;

/// What [`load_shared`] reports as it goes, so a large file's load can be logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The file holds this many non-empty documents.
    Split {
        /// Documents found.
        documents: usize,
    },
    /// `parsed` of `documents` documents are parsed and schema-checked; reported
    /// every [`PROGRESS_EVERY`] documents and once at the end.
    Parsed {
        /// Documents parsed so far.
        parsed: usize,
        /// Documents in the file.
        documents: usize,
    },
    /// The objects were validated into a fleet.
    Validated {
        /// Profiles in the fleet.
        profiles: usize,
        /// Endpoints of all its profiles.
        endpoints: usize,
        /// Only the profiles the changed documents touch were validated again
        /// (a [`Loader`]'s reload; the others are the last fleet's).
        incremental: bool,
    },
}

/// How many documents [`Progress::Parsed`] waits between reports.
pub const PROGRESS_EVERY: usize = 50_000;

/// Validates `text` as if read from `path`.
pub fn load_str(path: &Path, text: &str) -> Result<(Fleet, Diagnostics), Diagnostics> {
    load_shared(path, Arc::from(text), &mut |_| {})
}

/// [`load_str`] on text the documents share (no copy per document), reporting
/// [`Progress`]. The parsed documents are dropped before this returns: only the
/// `Fleet` stays.
pub fn load_shared(
    path: &Path,
    text: Arc<str>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Fleet, Diagnostics), Diagnostics> {
    load_with(path, text, progress, None)
}

/// Loads one file again and again (a reload on change or SIGHUP), keeping each
/// document's parse between loads: a reload parses only the documents whose text
/// changed. The result of every load is exactly [`load_shared`]'s on the same
/// text, diagnostics included.
///
/// After a load with no diagnostic at all, the fleet is kept too, and the next
/// load validates again only the profiles its changed documents can touch
/// (`validate::fleet_incremental`), sharing every other profile with the last
/// fleet; the content serial digests only the profiles it has not seen.
#[derive(Debug, Default)]
pub struct Loader {
    cache: DocCache,
    /// The last load's fleet, when it had no diagnostic and `cache` holds every
    /// one of its objects (else the next load validates everything).
    last: Option<Fleet>,
    serial: validate::SerialCache,
    /// Whether the last load took the incremental path.
    incremental: bool,
    /// Service entries the last load parsed one by one, if it did.
    services_parsed: Option<usize>,
}

impl Loader {
    /// [`load_shared`], reusing the parses of the documents the last load had.
    /// Whether the file is valid or not, what is kept afterwards is this load's
    /// documents (a broken file's good documents are not parsed again either).
    pub fn load(
        &mut self,
        path: &Path,
        text: Arc<str>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(Fleet, Diagnostics), Diagnostics> {
        load_with(path, text, progress, Some(self))
    }

    /// How many Service entries of a changed settings document the last load
    /// parsed one by one, reusing the others' parses; `None` when it parsed no
    /// settings document so (unchanged, first load, or read whole).
    pub fn last_parsed_service_entries(&self) -> Option<usize> {
        self.services_parsed
    }

    /// Whether the last load validated only what changed (see [`Loader`]).
    pub fn last_was_incremental(&self) -> bool {
        self.incremental
    }

    /// How many documents' parses are kept for the next load.
    pub fn kept_documents(&self) -> usize {
        self.cache.len()
    }

    /// How many bytes the kept objects and Service entries take encoded.
    pub fn kept_encoded_bytes(&self) -> usize {
        self.cache.encoded_bytes()
    }

    /// About how many bytes are kept for the next load (the documents' table,
    /// the encoded objects and Service entries, the settings document's
    /// skeleton and Service index; not the last fleet, which is the one served).
    pub fn kept_bytes(&self) -> usize {
        self.cache.bytes()
    }
}

fn load_with(
    path: &Path,
    text: Arc<str>,
    progress: &mut dyn FnMut(Progress),
    loader: Option<&mut Loader>,
) -> Result<(Fleet, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::default();
    let (mut cache, mut last, serial, was_incremental, services_parsed) = match loader {
        Some(Loader {
            cache,
            last,
            serial,
            incremental,
            services_parsed,
        }) => {
            *incremental = false;
            let parsed = Some(services_parsed);
            (
                Some(cache),
                Some(last),
                Some(serial),
                Some(incremental),
                parsed,
            )
        }
        None => (None, None, None, None, None),
    };
    let (inputs, keys) = parse_with(path, text, &mut diags, progress, cache.as_deref_mut());
    if let Some(parsed) = services_parsed {
        *parsed = keys.services_parsed;
    }
    // What the last fleet can be reused for is judged on this load's documents.
    let previous = last.as_deref_mut().and_then(Option::take);
    if inputs.too_many_documents {
        return Err(diags);
    }
    kubernetes_mode_has_no_objects(&inputs, &mut diags);
    let quick = match (&previous, cache.as_deref()) {
        (Some(previous), Some(cache)) if diags.0.is_empty() => {
            let gone = cache.gone();
            let change = validate::Change {
                reused: &keys.reused,
                gone: &gone,
            };
            validate::fleet_incremental(previous, &inputs, &change)
        }
        _ => None,
    };
    let incremental = quick.is_some();
    let mut fleet = quick.or_else(|| validate::fleet_unsealed(&inputs, &mut diags));
    let objects = inputs.settings.len()
        + inputs.profiles.len()
        + inputs.backends.len()
        + inputs.exports.len();
    // The parsed objects are kept (or freed) while the fleet is hashed for its serial.
    std::thread::scope(|s| {
        s.spawn(|| match cache.as_deref_mut() {
            Some(cache) => cache.store(inputs, keys),
            None => drop(inputs),
        });
        if let Some((fleet, true)) = &mut fleet {
            if !diags.has_errors() {
                match serial {
                    Some(serial) => validate::seal_cached(fleet, serial),
                    None => validate::seal(fleet),
                }
            }
        }
    });
    match fleet.map(|(fleet, _)| fleet) {
        Some(fleet) if !diags.has_errors() => {
            progress(Progress::Validated {
                profiles: fleet.profiles.len(),
                endpoints: fleet.profiles.iter().map(|p| p.endpoints.len()).sum(),
                incremental,
            });
            // Kept for the next load only if every object's parse is kept too.
            if let (Some(last), Some(cache)) = (last, cache) {
                if diags.0.is_empty() && cache.len() == objects {
                    *last = Some(fleet.clone());
                }
            }
            if let Some(was) = was_incremental {
                *was = incremental;
            }
            Ok((fleet, diags))
        }
        _ => Err(diags),
    }
}

/// With `spec.kubernetes`, the fleet comes from the clusters: objects and static
/// clusters in the file would be silently shadowed, so they are errors.
fn kubernetes_mode_has_no_objects(inputs: &Inputs, diags: &mut Diagnostics) {
    let [(doc, settings)] = inputs.settings.as_slice() else {
        return;
    };
    if settings.spec.kubernetes.is_none() {
        return;
    }
    if !settings.spec.clusters.is_empty() {
        diags.push(
            Diagnostic::error(doc.location_of(&["spec", "clusters"]), "spec.clusters is not used with spec.kubernetes (Services and their load balancers are read from the member clusters); allowed: remove spec.clusters, or remove spec.kubernetes to serve from this file")
                .object("FleetDNSConfig")
                .field("spec.clusters"),
        );
    }
    let objects = inputs
        .profiles
        .iter()
        .map(|o| (&o.doc, "TrafficManagerProfile", o.namespace(), o.name()))
        .chain(
            inputs
                .backends
                .iter()
                .map(|o| (&o.doc, "TrafficManagerBackend", o.namespace(), o.name())),
        )
        .chain(
            inputs
                .exports
                .iter()
                .map(|o| (&o.doc, "ServiceExport", o.namespace(), o.name())),
        );
    for (doc, kind, ns, name) in objects {
        diags.push(
            Diagnostic::error(doc.location(), format!("{kind} objects come from the clusters when spec.kubernetes is set; allowed: apply it with kubectl to the hub (profiles, backends) or a member (exports), or remove spec.kubernetes to serve from this file"))
                .object(format!("{kind} {ns}/{name}")),
        );
    }
}

/// Splits and classifies the documents of `text`.
pub fn parse(path: &Path, text: &str, diags: &mut Diagnostics) -> Inputs {
    parse_shared(path, Arc::from(text), diags, &mut |_| {})
}

/// [`parse`] on shared text, reporting [`Progress`]. Each document is parsed on
/// its own (a large file's on several threads) and its YAML tree dropped once the
/// typed object is built.
pub fn parse_shared(
    path: &Path,
    text: Arc<str>,
    diags: &mut Diagnostics,
    progress: &mut dyn FnMut(Progress),
) -> Inputs {
    parse_with(path, text, diags, progress, None).0
}

fn parse_with(
    path: &Path,
    text: Arc<str>,
    diags: &mut Diagnostics,
    progress: &mut dyn FnMut(Progress),
    cache: Option<&mut DocCache>,
) -> (Inputs, Keys) {
    let file: Arc<Path> = Arc::from(path);
    let docs = document::split(&file, &text);
    drop(text);
    if let Some(over) = docs.get(crate::limits::MAX_DOCUMENTS) {
        diags.push(Diagnostic::error(
            over.location(),
            format!(
                "{} YAML documents; allowed: at most {} per config file (this is the first one over the limit)",
                docs.len(),
                crate::limits::MAX_DOCUMENTS
            ),
        ));
        let inputs = Inputs {
            too_many_documents: true,
            ..Inputs::default()
        };
        return (inputs, Keys::default());
    }
    progress(Progress::Split {
        documents: docs.len(),
    });
    parse_many::parse_documents(docs, cache, diags, progress)
}
