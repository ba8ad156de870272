//! What the clusters hold → `Fleet`: a pure function.
//!
//! The watchers keep, per cluster and resource, the objects last listed or watched.
//! [`compose`] turns that snapshot plus the settings document into the same
//! [`Inputs`] the file source builds, so one validator judges both sources. Member
//! clusters contribute their LoadBalancer Services (as `spec.clusters[].services`)
//! and their ServiceExports (scoped to the cluster they live in); the hub
//! contributes profiles and backends. Unlike the file source, an invalid object
//! does not reject the rest: it is left out, and its problems travel in
//! [`Observed`] to the status writer.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use fleetdns_config::document::Doc;
use fleetdns_config::hub::INTERNAL_LB_ANNOTATION;
use fleetdns_config::inputs::{self, Inputs};
use fleetdns_config::settings::{ClusterSpec, ServiceSpec, SettingsDocument};
use fleetdns_config::validate::{self, CLUSTERS_ANNOTATION};
use fleetdns_config::weight;
use fleetdns_config::{Diagnostics, Fleet, ObjectKind, Observed, Severity};

pub use super::snapshot::{key_of, Objects, Resource, Snapshot};

use super::observed::{
    endpoint_problem, export_validity, load_balancer_ingress, meta_str, observed as observe,
    port_conflicts, weight_annotation, ExportKey,
};

/// Annotation on a member Service: the ARM id of its public IP, for the Azure
/// mirror's AzureEndpoints (fleet-networking looks the IP up in Azure; fleetdns is told).
pub const PUBLIC_IP_ANNOTATION: &str = "fleetdns.io/public-ip-resource-id";

/// The roles of the clusters: the hub's name and the members' names.
#[derive(Clone, Debug)]
pub struct Topology {
    /// The hub cluster's name.
    pub hub: String,
    /// The member clusters' names, as in `spec.kubernetes.members`.
    pub members: Vec<String>,
}

/// Parsed upstream objects by (cluster, kind, namespace, name), valid while their
/// `resourceVersion` is the same: most objects do not change between two
/// compositions, and each parse is a schema check plus defaulting.
#[derive(Default)]
pub struct ParseCache {
    /// Per object: its resourceVersion, what parsing it gave, and the last composition
    /// that used it (the others' entries are dropped after each composition; a counter
    /// rather than a set of used keys, which was a second copy of every key).
    entries: HashMap<ObjectKey, (String, Inputs, Diagnostics, u64)>,
    /// The current composition's number.
    round: u64,
    /// The last valid weight annotation of each ServiceExport: an invalid
    /// annotation keeps the export served at it, as fleet-networking's member
    /// agent does (serviceexport/controller.go:176-197).
    last_weights: HashMap<ExportKey, u32>,
}

impl ParseCache {
    /// Takes the last good export weights out (they move with the composition that
    /// judges their exports next: see [`super::incremental`]).
    pub(super) fn take_last_weights(&mut self) -> HashMap<ExportKey, u32> {
        std::mem::take(&mut self.last_weights)
    }

    /// Adds last good export weights.
    pub(super) fn add_last_weights(&mut self, weights: impl IntoIterator<Item = (ExportKey, u32)>) {
        self.last_weights.extend(weights);
    }
}

/// (cluster, kind, namespace, name).
type ObjectKey = (String, &'static str, String, String);

/// Builds the fleet from `snapshot` under `settings`. `None` only when the
/// settings themselves are unusable (they were checked at start, so this is rare).
pub fn compose(
    settings: &(Doc, SettingsDocument),
    topology: &Topology,
    snapshot: &Snapshot,
) -> (Option<Fleet>, Diagnostics) {
    compose_cached(settings, topology, snapshot, &mut ParseCache::default())
}

/// [`compose`], reusing the parses of unchanged objects from `cache` (and updating it).
pub fn compose_cached(
    settings: &(Doc, SettingsDocument),
    topology: &Topology,
    snapshot: &Snapshot,
    cache: &mut ParseCache,
) -> (Option<Fleet>, Diagnostics) {
    cache.round += 1;
    let mut diags = Diagnostics::default();
    let mut inputs = Inputs::default();
    let mut observed = Observed::default();
    let mut settings_doc = settings.1.clone();

    // Member clusters: Services with their load balancers, and exports.
    for member in &topology.members {
        let services: BTreeMap<(String, String), &Value> = snapshot
            .objects(member, Resource::Services)
            .map(|s| ((meta_str(s, "namespace"), meta_str(s, "name")), s))
            .collect();
        let mut cluster = ClusterSpec {
            name: member.clone(),
            labels: BTreeMap::new(),
            services: Vec::new(),
        };
        for ((ns, name), svc) in &services {
            let ingress = load_balancer_ingress(svc);
            if svc.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer")
                && !ingress.is_empty()
            {
                // fleet-networking SEc:348: exactly "true" (case-sensitive).
                let internal = svc
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(INTERNAL_LB_ANNOTATION))
                    .and_then(Value::as_str)
                    == Some("true");
                cluster.services.push(ServiceSpec {
                    internal_load_balancer: internal.then_some(true),
                    namespace: ns.clone(),
                    name: name.clone(),
                    load_balancer: ingress,
                    public_ip_resource_id: svc
                        .pointer("/metadata/annotations")
                        .and_then(|a| a.get(PUBLIC_IP_ANNOTATION))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                });
            }
        }
        settings_doc.spec.clusters.push(cluster);
    }
    if settings_doc
        .spec
        .kubernetes
        .as_ref()
        .is_some_and(|k| k.source.as_deref() == Some("hub"))
    {
        let hub = super::hub::exports(snapshot, &topology.hub);
        settings_doc.spec.clusters.extend(hub.clusters);
        observed
            .objects
            .extend(hub.observed.into_iter().map(Arc::new));
        observed.public_ips = hub.public_ips;
        observed.members = hub.members;
        for (member, export) in &hub.exports {
            upstream(
                member,
                export,
                "ServiceExport",
                cache,
                &mut inputs,
                &mut diags,
            );
        }
    }
    let conflicts = port_conflicts(topology, snapshot);
    let mut weights_seen = std::collections::HashSet::new();
    for member in &topology.members {
        for export in snapshot.objects(member, Resource::Exports) {
            let (ns, name) = (meta_str(export, "namespace"), meta_str(export, "name"));
            let key: ExportKey = (member.clone(), ns.clone(), name.clone());
            let service = snapshot
                .collections
                .get(&(member.clone(), Resource::Services))
                .and_then(|m| m.get(&(ns.clone(), name.clone())));
            let validity = export_validity(export, service.map(|s| s.as_ref()));
            // The weight it is served at: the annotation, or while that is
            // invalid the last good one.
            let served_weight = match weight::parse_export_weight(weight_annotation(export)) {
                Ok(w) => {
                    cache.last_weights.insert(key.clone(), w);
                    Some(w)
                }
                Err(_) => cache.last_weights.get(&key).copied(),
            };
            weights_seen.insert(key.clone());
            let conflict = conflicts.get(&key).cloned();
            let mut x = observe(ObjectKind::ServiceExport, member, export);
            let bad_weight = validity.0 == "ServiceExportInvalidWeightAnnotation";
            let valid = validity.0 == "ServiceIsValid" || bad_weight;
            x.exported = valid && served_weight.is_some_and(|w| w > 0);
            x.export_weight = served_weight.filter(|_| x.exported);
            if x.exported {
                x.endpoint_problem = service.and_then(|s| endpoint_problem(s));
            }
            let mut problems = Vec::new();
            if !valid || (bad_weight && !x.exported) {
                problems.push(validity.1.clone());
            } else if let Some(c) = &conflict {
                problems.push(c.clone());
            } else if let Some(p) = &x.endpoint_problem {
                problems.push(p.clone());
            }
            x.problems = problems.clone();
            x.export_validity = Some(validity);
            x.export_conflict = conflict;
            observed.objects.push(Arc::new(x));
            if !problems.is_empty() {
                continue;
            }
            let mut export = export.clone();
            if bad_weight {
                // Served at the last good weight.
                if let (Some(w), Some(a)) = (
                    served_weight,
                    export
                        .pointer_mut("/metadata/annotations")
                        .and_then(Value::as_object_mut),
                ) {
                    a.insert(
                        fleetdns_config::crd::WEIGHT_ANNOTATION.into(),
                        Value::String(w.to_string()),
                    );
                }
            }
            upstream(
                member,
                &export,
                "ServiceExport",
                cache,
                &mut inputs,
                &mut diags,
            );
        }
    }
    cache.last_weights.retain(|k, _| weights_seen.contains(k));
    // The hub: profiles and backends.
    for (resource, kind, object_kind) in [
        (
            Resource::Profiles,
            "TrafficManagerProfile",
            ObjectKind::TrafficManagerProfile,
        ),
        (
            Resource::Backends,
            "TrafficManagerBackend",
            ObjectKind::TrafficManagerBackend,
        ),
    ] {
        // First come, first served: an owner name two profiles map to stays
        // with the older one (fleet-networking's names are taken in order of
        // creation), whatever their names' sort order.
        let mut objects: Vec<&Value> = snapshot.objects(&topology.hub, resource).collect();
        objects.sort_by_cached_key(|o| {
            (
                meta_str(o, "creationTimestamp"),
                meta_str(o, "namespace"),
                meta_str(o, "name"),
            )
        });
        for o in objects {
            let mut x = observe(object_kind, &topology.hub, o);
            x.backend_service = o
                .pointer("/spec/backend/name")
                .and_then(Value::as_str)
                .map(str::to_string);
            x.backend_profile = o
                .pointer("/spec/profile/name")
                .and_then(Value::as_str)
                .map(str::to_string);
            if object_kind == ObjectKind::TrafficManagerBackend {
                x.backend_weight = Some(
                    o.pointer("/spec/weight")
                        .and_then(Value::as_i64)
                        .unwrap_or(1),
                );
            }
            // Being deleted: listed (the mirror deletes its Azure side, then the
            // finalizer goes), but not part of the fleet: no answers, nothing desired.
            let deleting = x.deleting();
            observed.objects.push(Arc::new(x));
            if !deleting {
                upstream(&topology.hub, o, kind, cache, &mut inputs, &mut diags);
            }
        }
    }
    let round = cache.round;
    cache.entries.retain(|_, e| e.3 == round);
    inputs.settings.push((settings.0.clone(), settings_doc));
    let fleet = validate::fleet(&inputs, &mut diags);
    // Attach every error to the object it names (looked up by label: a scan of every
    // object per error was quadratic in the fleet's size).
    let mut by_label: HashMap<String, Vec<usize>> = HashMap::new();
    if diags
        .iter()
        .any(|d| d.severity == Severity::Error && d.object.is_some())
    {
        for (i, o) in observed.objects.iter().enumerate() {
            by_label
                .entry(format!("{:?} {}/{}", o.kind, o.namespace, o.name))
                .or_default()
                .push(i);
        }
    }
    for d in diags.iter() {
        let Some(label) = &d.object else { continue };
        if d.severity != Severity::Error {
            continue;
        }
        for &i in by_label.get(label).into_iter().flatten() {
            let o = Arc::make_mut(&mut observed.objects[i]);
            let text = match &d.field {
                Some(f) => format!("{f}: {}", d.message),
                None => d.message.clone(),
            };
            if !o.problems.contains(&text) {
                o.problems.push(text);
            }
        }
    }
    observed.clusters = snapshot.clusters.values().cloned().collect();
    let fleet = fleet.map(|mut f| {
        f.observed = observed;
        f
    });
    (fleet, diags)
}

/// Parses one upstream object as the file source would (schema check, defaults),
/// or takes the parse of the same `resourceVersion` from `cache`.
fn upstream(
    cluster: &str,
    value: &Value,
    kind: &'static str,
    cache: &mut ParseCache,
    inputs: &mut Inputs,
    diags: &mut Diagnostics,
) {
    let version = value
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    let key: ObjectKey = (
        cluster.to_string(),
        kind,
        meta_str(value, "namespace"),
        meta_str(value, "name"),
    );
    if let Some(rv) = &version {
        if let Some((cached_rv, parsed, found, used)) = cache.entries.get_mut(&key) {
            if cached_rv == rv {
                *used = cache.round;
                append(inputs, diags, parsed, found);
                return;
            }
        }
    }
    let (mut parsed, mut found) = (Inputs::default(), Diagnostics::default());
    let mut value = value.clone();
    if kind == "ServiceExport" {
        // Scope the export to the cluster it lives in.
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(a) = annotations.as_object_mut() {
                a.insert(
                    CLUSTERS_ANNOTATION.to_string(),
                    Value::String(cluster.to_string()),
                );
            }
        }
    }
    parse_one(cluster, value, kind, &mut parsed, &mut found);
    append(inputs, diags, &parsed, &found);
    if let Some(rv) = version {
        // Kept for as long as the object is: one element each, not a vector's first
        // allocation of four (most of the cache's size at 100k objects).
        parsed.profiles.shrink_to_fit();
        parsed.backends.shrink_to_fit();
        parsed.exports.shrink_to_fit();
        found.0.shrink_to_fit();
        cache.entries.insert(key, (rv, parsed, found, cache.round));
    }
}

fn append(inputs: &mut Inputs, diags: &mut Diagnostics, parsed: &Inputs, found: &Diagnostics) {
    inputs.profiles.extend(parsed.profiles.iter().cloned());
    inputs.backends.extend(parsed.backends.iter().cloned());
    inputs.exports.extend(parsed.exports.iter().cloned());
    diags.0.extend(found.0.iter().cloned());
}

fn parse_one(
    cluster: &str,
    value: Value,
    kind: &str,
    inputs: &mut Inputs,
    diags: &mut Diagnostics,
) {
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("networking.fleet.azure.com/v1beta1")
        .to_string();
    let version = api_version
        .rsplit_once('/')
        .map_or("v1beta1", |(_, v)| v)
        .to_string();
    let object = inputs::object_label(kind, value.get("metadata"));
    let doc = Doc::without_text(Arc::from(Path::new(&format!("kubernetes:{cluster}"))));
    inputs::parse_upstream(
        doc,
        &api_version,
        &version,
        kind,
        value,
        &object,
        inputs,
        diags,
    );
}
