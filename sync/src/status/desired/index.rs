//! The fleet's relations, looked up instead of scanned: a profile by its object,
//! a profile's backends, a Service's exports, a backend's endpoints.
//!
//! Each object's status names its relatives (a profile's backends, a backend's
//! exports and endpoints). Finding them by scanning every observed object made a
//! status pass quadratic in the fleet (31 s at 10,000 profiles; see
//! `cargo run --release -p fleetdns-sync --example status_scale`). Built once per
//! pass; every list keeps the order of the scan it replaces, so the statuses are
//! the same.

use std::collections::HashMap;

use fleetdns_config::{Endpoint, Fleet, ObjectKind, ObservedObject, Profile};

/// Namespace → name → `V` (two levels, so a lookup borrows its key only for the call).
type ByName<'a, V> = HashMap<&'a str, HashMap<&'a str, V>>;

/// Lookups over one fleet.
pub(super) struct Index<'a> {
    /// The fleet itself (zone, clusters).
    pub(super) fleet: &'a Fleet,
    /// Served profiles by (namespace, name); the first of equal keys.
    profiles: ByName<'a, &'a Profile>,
    /// TrafficManagerBackend objects by (namespace, `spec.profile.name`), in observed order.
    backends: ByName<'a, Vec<&'a ObservedObject>>,
    /// ServiceExport objects by (namespace, Service name), in observed order.
    exports: ByName<'a, Vec<&'a ObservedObject>>,
    /// Endpoints by (namespace, backend name), in profile then endpoint order.
    endpoints: ByName<'a, Vec<(&'a Profile, &'a Endpoint)>>,
}

impl<'a> Index<'a> {
    /// The lookups of `fleet` (every observed object, those being deleted included).
    pub(super) fn new(fleet: &'a Fleet) -> Self {
        let mut ix = Index {
            fleet,
            profiles: HashMap::new(),
            backends: HashMap::new(),
            exports: HashMap::new(),
            endpoints: HashMap::new(),
        };
        for p in &fleet.profiles {
            at(&mut ix.profiles, &p.namespace, &p.name).or_insert(p);
            for e in &p.endpoints {
                at(&mut ix.endpoints, &p.namespace, &e.backend)
                    .or_default()
                    .push((p, e));
            }
        }
        for o in &fleet.observed.objects {
            match o.kind {
                ObjectKind::TrafficManagerBackend => {
                    if let Some(profile) = o.backend_profile.as_deref() {
                        at(&mut ix.backends, &o.namespace, profile)
                            .or_default()
                            .push(o);
                    }
                }
                ObjectKind::ServiceExport => at(&mut ix.exports, &o.namespace, &o.name)
                    .or_default()
                    .push(o),
                ObjectKind::TrafficManagerProfile => {}
            }
        }
        ix
    }

    /// The served profile `namespace/name`, if any.
    pub(super) fn profile(&self, namespace: &str, name: &str) -> Option<&'a Profile> {
        get(&self.profiles, namespace, name).copied()
    }

    /// The backends naming profile `namespace/profile`.
    pub(super) fn backends_of(&self, namespace: &str, profile: &str) -> &[&'a ObservedObject] {
        get(&self.backends, namespace, profile).map_or(&[], Vec::as_slice)
    }

    /// The exports of Service `namespace/service`, from every cluster.
    pub(super) fn exports_of(&self, namespace: &str, service: &str) -> &[&'a ObservedObject] {
        get(&self.exports, namespace, service).map_or(&[], Vec::as_slice)
    }

    /// The endpoints of backend `namespace/backend`, with their profiles.
    pub(super) fn endpoints_of(
        &self,
        namespace: &str,
        backend: &str,
    ) -> &[(&'a Profile, &'a Endpoint)] {
        get(&self.endpoints, namespace, backend).map_or(&[], Vec::as_slice)
    }
}

fn at<'m, 'a, V>(
    map: &'m mut ByName<'a, V>,
    namespace: &'a str,
    name: &'a str,
) -> std::collections::hash_map::Entry<'m, &'a str, V> {
    map.entry(namespace).or_default().entry(name)
}

fn get<'m, V>(map: &'m ByName<'_, V>, namespace: &str, name: &str) -> Option<&'m V> {
    map.get(namespace)?.get(name)
}
