//! Validating again only the profiles a reload's edit can touch.
//!
//! A reload after a small edit has the last fleet (validated with no finding at
//! all) and knows which documents changed: the [`crate::doc_cache::DocCache`]
//! hits are unchanged, its leftovers are gone. A profile's validation depends
//! only on the profile, its backends, the exports of their Services and those
//! Services' entries in the settings; the rules across objects (one object per
//! name, unique owner names) are checked against everything. So only the
//! profiles the edit can touch are validated again, on an `Inputs` holding just
//! what they depend on, and every other profile is the last fleet's `Arc`.
//! Whenever that finds anything at all (an error, a warning, a note) or the edit
//! is not local (settings other than Services, the cluster list, a Kubernetes
//! or Azure section), the caller validates everything: diagnostics and fleet are
//! always a cold load's.

use std::collections::HashSet;
use std::sync::Arc;

use crate::diagnostic::Diagnostics;
use crate::doc_cache::Gone;
use crate::inputs::Inputs;
use crate::model::{Fleet, Profile};
use crate::settings::{ClusterSpec, ServiceSpec, SettingsDocument, SettingsSpec};

use super::{backends, clusters, exports, finish, limits, profiles, sorted, within_limits, zone};

/// What changed since the last load, as the document cache saw it.
pub(crate) struct Change<'a> {
    /// Per object of each kind (settings, profiles, backends, exports), in the
    /// order of [`Inputs`]: whether its document's text is unchanged.
    pub(crate) reused: &'a [Vec<bool>; 4],
    /// The last load's documents this one no longer has.
    pub(crate) gone: &'a Gone<'a>,
}

/// `(namespace, name)`.
type Key<'a> = (&'a str, &'a str);

/// The fleet of `inputs` built from `last` (the fleet of the last load, which
/// had no diagnostic) and the profiles `change` can touch, validated again;
/// `None` when the caller must validate everything (see the module doc).
pub(crate) fn fleet_incremental(
    last: &Fleet,
    inputs: &Inputs,
    change: &Change<'_>,
) -> Option<(Fleet, bool)> {
    let [(settings_doc, settings)] = inputs.settings.as_slice() else {
        return None;
    };
    let reused = change.reused;
    let lengths = [
        inputs.settings.len(),
        inputs.profiles.len(),
        inputs.backends.len(),
        inputs.exports.len(),
    ];
    if change.gone.undecodable
        || settings.spec.kubernetes.is_some()
        || settings.spec.azure.is_some()
        || reused.iter().map(Vec::len).ne(lengths)
    {
        return None;
    }
    let mut diags = Diagnostics::default();
    if !within_limits(inputs, settings_doc, settings, &mut diags) {
        return None;
    }
    // Services whose entries, exports or backends changed.
    let mut services: HashSet<Key<'_>> = HashSet::new();
    if !reused[0][0] {
        let [old] = change.gone.settings.as_slice() else {
            return None;
        };
        changed_services(old, settings, &mut services)?;
    }
    let fresh = |flags: &[bool], i: usize| !flags[i];
    for (i, e) in inputs.exports.iter().enumerate() {
        if fresh(&reused[3], i) {
            services.insert((e.namespace(), e.name()));
        }
    }
    services.extend(
        change
            .gone
            .exports
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_str())),
    );
    // Profiles whose object, backends or Services changed.
    let mut dirty: HashSet<Key<'_>> = HashSet::new();
    for (i, p) in inputs.profiles.iter().enumerate() {
        if fresh(&reused[1], i) {
            dirty.insert((p.namespace(), p.name()));
        }
    }
    dirty.extend(
        change
            .gone
            .profiles
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_str())),
    );
    dirty.extend(
        change
            .gone
            .backends
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_str())),
    );
    let mut fresh_backends: HashSet<Key<'_>> = HashSet::new();
    for (i, b) in inputs.backends.iter().enumerate() {
        let ns = b.namespace();
        if fresh(&reused[2], i) {
            fresh_backends.insert((ns, b.name()));
        }
        if fresh(&reused[2], i) || services.contains(&(ns, b.spec.backend.name.as_str())) {
            dirty.insert((ns, b.spec.profile.name.as_str()));
        }
    }
    if dirty.len() > inputs.profiles.len() / 2 + 1 {
        return None;
    }
    // A new backend's name must be unique among all backends.
    if !fresh_backends.is_empty() {
        let mut seen = HashSet::new();
        for b in &inputs.backends {
            let key = (b.namespace(), b.name());
            if fresh_backends.contains(&key) && !seen.insert(key) {
                return None;
            }
        }
    }
    // What the dirty profiles depend on.
    let backends: Vec<_> = inputs
        .backends
        .iter()
        .filter(|b| dirty.contains(&(b.namespace(), b.spec.profile.name.as_str())))
        .cloned()
        .collect();
    for b in &backends {
        services.insert((b.namespace(), b.spec.backend.name.as_str()));
    }
    let sub = Inputs {
        settings: vec![(
            settings_doc.clone(),
            with_services(settings, |s| {
                services.contains(&(s.namespace.as_str(), s.name.as_str()))
            }),
        )],
        profiles: inputs
            .profiles
            .iter()
            .filter(|p| dirty.contains(&(p.namespace(), p.name())))
            .cloned()
            .collect(),
        exports: inputs
            .exports
            .iter()
            .filter(|e| services.contains(&(e.namespace(), e.name())))
            .cloned()
            .collect(),
        backends,
        too_many_documents: false,
    };
    let zone = zone::zone_settings(settings_doc, settings, &mut diags)?;
    let clusters = clusters::clusters(settings_doc, &sub.settings[0].1, &mut diags);
    let exports = exports::exports(&sub, &clusters, &mut diags);
    let mut validated = profiles::profiles(&sub, &zone, &mut diags);
    backends::backends(&sub, &mut validated, &exports, &mut diags);
    limits::endpoint_limit(&sub, &validated, &mut diags);
    if !diags.0.is_empty() {
        return None;
    }
    let validated = sorted(validated.into_values().map(|(_, p)| p).collect());
    // A new owner name must not be one a kept profile has.
    let is_dirty = |p: &Profile| dirty.contains(&(p.namespace.as_str(), p.name.as_str()));
    for p in &validated {
        if let Ok(i) = last.profiles.binary_search_by(|q| q.owner.cmp(&p.owner)) {
            if !is_dirty(&last.profiles[i]) {
                return None;
            }
        }
    }
    let mut all: Vec<Arc<Profile>> = Vec::with_capacity(inputs.profiles.len());
    all.extend(last.profiles.iter().filter(|p| !is_dirty(p)).cloned());
    all.extend(validated);
    all.sort_by(|a, b| a.owner.cmp(&b.owner));
    let built = finish(settings_doc, settings, &sub, zone, all, &mut diags);
    diags.0.is_empty().then_some(built)
}

/// Adds to `out` the `(namespace, name)` of every Service entry that differs
/// between `old` and `new`; `None` if anything else in the settings differs.
fn changed_services<'a>(
    old: &'a SettingsDocument,
    new: &'a SettingsDocument,
    out: &mut HashSet<Key<'a>>,
) -> Option<()> {
    if with_services(old, |_| false) != with_services(new, |_| false) {
        return None;
    }
    for (o, n) in old.spec.clusters.iter().zip(&new.spec.clusters) {
        // Entries are compared in place; what lies between the common head and
        // tail (an edit, an insertion, a removal) changed.
        let (a, b) = (o.services.as_slice(), n.services.as_slice());
        let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let (a, b) = (&a[head..], &b[head..]);
        let tail = a
            .iter()
            .rev()
            .zip(b.iter().rev())
            .take_while(|(x, y)| x == y)
            .count();
        for s in a[..a.len() - tail].iter().chain(&b[..b.len() - tail]) {
            out.insert((s.namespace.as_str(), s.name.as_str()));
        }
    }
    Some(())
}

/// A copy of `s` whose clusters list only the Services `keep` picks.
fn with_services(s: &SettingsDocument, keep: impl Fn(&ServiceSpec) -> bool) -> SettingsDocument {
    let SettingsSpec {
        zone,
        ttl,
        soa,
        name_servers,
        listen,
        clusters,
        health_view,
        admin,
        rrl,
        tcp,
        azure,
        kubernetes,
        dnssec,
    } = &s.spec;
    let clusters = clusters
        .iter()
        .map(|c| ClusterSpec {
            name: c.name.clone(),
            labels: c.labels.clone(),
            services: c.services.iter().filter(|s| keep(s)).cloned().collect(),
        })
        .collect();
    SettingsDocument {
        api_version: s.api_version.clone(),
        kind: s.kind.clone(),
        metadata: s.metadata.clone(),
        spec: SettingsSpec {
            zone: zone.clone(),
            ttl: *ttl,
            soa: soa.clone(),
            name_servers: name_servers.clone(),
            listen: listen.clone(),
            clusters,
            health_view: health_view.clone(),
            admin: admin.clone(),
            rrl: rrl.clone(),
            tcp: tcp.clone(),
            azure: azure.clone(),
            kubernetes: kubernetes.clone(),
            dnssec: dnssec.clone(),
        },
    }
}
