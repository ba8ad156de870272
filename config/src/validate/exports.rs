//! ServiceExports: which clusters export each Service, with what weight
//! (fleet-networking's weight annotation) and the fleetdns export annotations.

use std::collections::{BTreeSet, HashMap};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::inputs::Inputs;
use crate::model::Target;
use crate::weight;

use super::annotations::bool_annotation;

use super::clusters::Clusters;

/// Annotation on a ServiceExport: `"true"` never probes its endpoints and always serves them.
pub const ALWAYS_SERVE_ANNOTATION: &str = "fleetdns.io/always-serve";
/// Annotation on a ServiceExport: comma-separated member clusters it applies to
/// (default: every cluster that runs the Service), standing in for per-cluster placement.
pub const CLUSTERS_ANNOTATION: &str = "fleetdns.io/clusters";

/// One exporting cluster of a Service.
#[derive(Clone, Debug)]
pub(super) struct Export {
    pub(super) cluster: std::sync::Arc<str>,
    pub(super) target: Target,
    pub(super) weight: u32,
    pub(super) always_serve: bool,
    /// Restricted to named clusters (wins over an export for all clusters).
    pub(super) scoped: bool,
    /// The Service is an internal load balancer: served only by profiles that opt in.
    pub(super) internal: bool,
}

/// Exports per (namespace, service): the clusters that export it.
pub(super) type Exports = HashMap<(String, String), Vec<Export>>;

pub(super) fn exports(inputs: &Inputs, clusters: &Clusters, diags: &mut Diagnostics) -> Exports {
    let mut out = Exports::new();
    let mut seen = HashMap::with_capacity(inputs.exports.len());
    // Each cluster's name once, shared by every endpoint in it.
    let cluster_names: HashMap<&str, std::sync::Arc<str>> = clusters
        .keys()
        .map(|c| (c.as_str(), std::sync::Arc::from(c.as_str())))
        .collect();
    // (cluster, namespace, service) of internal load balancers.
    let internal: BTreeSet<(String, String, String)> = inputs
        .settings
        .iter()
        .flat_map(|(_, s)| &s.spec.clusters)
        .flat_map(|c| {
            c.services
                .iter()
                .filter(|s| s.internal_load_balancer == Some(true))
                .map(|s| (c.name.clone(), s.namespace.clone(), s.name.clone()))
        })
        .collect();
    for e in &inputs.exports {
        let ns = e.namespace().to_string();
        let name = e.name().to_string();
        let object = format!("ServiceExport {ns}/{name}");
        let weight_path = ["metadata", "annotations", crate::crd::WEIGHT_ANNOTATION];
        let weight_field = || format!("metadata.annotations[{:?}]", crate::crd::WEIGHT_ANNOTATION);
        if let Some(prev) = seen.insert(
            (
                ns.clone(),
                name.clone(),
                e.annotation(CLUSTERS_ANNOTATION).map(str::to_string),
            ),
            e.doc.index,
        ) {
            diags.push(Diagnostic::error(e.doc.location_of(&["metadata", "name"]), format!("defined twice (first in document {prev}); allowed: one ServiceExport per Service (per cluster set)")).object(object).field("metadata.name"));
            continue;
        }
        let weight = match weight::parse_export_weight(e.annotation(crate::crd::WEIGHT_ANNOTATION))
        {
            Ok(w) => w,
            Err(msg) => {
                diags.push(
                    Diagnostic::error(e.doc.location_of(&weight_path), msg)
                        .object(object)
                        .field(weight_field()),
                );
                continue;
            }
        };
        let always_serve = match bool_annotation(e, ALWAYS_SERVE_ANNOTATION, &object, diags) {
            Some(b) => b,
            None => continue,
        };
        let scope: Option<Vec<String>> = e.annotation(CLUSTERS_ANNOTATION).map(|v| {
            v.split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect()
        });
        if let Some(scope) = &scope {
            let unknown: Vec<&String> = scope
                .iter()
                .filter(|c| !clusters.contains_key(*c))
                .collect();
            if !unknown.is_empty() || scope.is_empty() {
                let known: Vec<&String> = clusters.keys().collect();
                diags.push(
                    Diagnostic::error(e.doc.location_of(&["metadata", "annotations", CLUSTERS_ANNOTATION]), format!("unknown cluster(s) {unknown:?}; allowed: a comma-separated list of clusters from spec.clusters: {known:?}"))
                        .object(object)
                        .field(format!("metadata.annotations[{CLUSTERS_ANNOTATION:?}]")),
                );
                continue;
            }
        }
        let in_scope = |c: &String| scope.as_ref().is_none_or(|s| s.contains(c));
        let key = (ns.clone(), name.clone());
        let running: Vec<(&String, &Target)> = clusters
            .iter()
            .filter(|(c, _)| in_scope(c))
            .filter_map(|(c, svcs)| svcs.get(&key).map(|t| (c, t)))
            .collect();
        if running.is_empty() {
            let there: BTreeSet<&String> = clusters
                .values()
                .flat_map(|svcs| svcs.keys())
                .filter(|(sns, _)| *sns == ns)
                .map(|(_, n)| n)
                .collect();
            let hint = if there.is_empty() {
                format!("no member cluster runs any Service in namespace {ns}")
            } else {
                format!(
                    "Services in namespace {ns}: {}",
                    there
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            // fleet-networking reports this on the export alone (Valid=False,
            // ServiceNotFound) and keeps serving everything else; so does fleetdns.
            diags.push(
                Diagnostic::error(
                    e.doc.location_of(&["metadata", "name"]),
                    format!("ServiceNotFound: in fleet a ServiceExport must carry its Service's name, and no member cluster has a Service named {name:?} in namespace {ns} ({hint}); rename the ServiceExport to the Service it exports, or add the Service with its loadBalancer addresses under spec.clusters[].services of the FleetDNSConfig; this export is not served"),
                )
                .severity(crate::diagnostic::Severity::Warning)
                .object(object)
                .field("metadata.name"),
            );
            continue;
        }
        if weight == 0 {
            // Weight 0 unexports the service (fleet-networking §1.4).
            continue;
        }
        let list = out.entry(key).or_default();
        for (cluster, target) in running {
            let export = Export {
                cluster: cluster_names
                    .get(cluster.as_str())
                    .cloned()
                    .unwrap_or_else(|| std::sync::Arc::from(cluster.as_str())),
                target: target.clone(),
                weight,
                always_serve,
                scoped: scope.is_some(),
                internal: !internal.is_empty()
                    && internal.contains(&(cluster.clone(), ns.clone(), name.clone())),
            };
            match list.iter_mut().find(|x| *x.cluster == **cluster) {
                Some(existing) if existing.scoped && export.scoped => {
                    diags.push(Diagnostic::error(e.doc.location_of(&["metadata", "annotations", CLUSTERS_ANNOTATION]), format!("cluster {cluster} is already named by another ServiceExport {ns}/{name}; allowed: each cluster in at most one cluster-scoped ServiceExport per Service")).object(object.clone()).field(format!("metadata.annotations[{CLUSTERS_ANNOTATION:?}]")));
                }
                Some(existing) if export.scoped => *existing = export,
                Some(_) => {}
                None => list.push(export),
            }
        }
    }
    out
}
