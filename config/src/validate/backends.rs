//! TrafficManagerBackends: each backend's exports become the profile's endpoints,
//! weighted by fleet-networking's formula, with their backend's priority.

use std::collections::HashMap;

use crate::crd::v1beta1::TrafficManagerBackendSpec;
use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::hub::{INTERNAL_LB_ANNOTATION, SERVE_INTERNAL_ANNOTATION};
use crate::inputs::Inputs;
use crate::model::{Endpoint, Target};
use crate::routing::RoutingMethod;
use crate::weight;

use super::exports::Exports;
use super::profiles::Profiles;

pub(super) fn backends(
    inputs: &Inputs,
    profiles: &mut Profiles,
    exports: &Exports,
    diags: &mut Diagnostics,
) {
    let mut seen = HashMap::with_capacity(inputs.backends.len());
    // Profiles that opt in to internal load balancers, looked up per backend (a scan of
    // every profile per backend was quadratic in the fleet's size).
    let serves_internal: std::collections::HashSet<(&str, &str)> = inputs
        .profiles
        .iter()
        .filter(|p| p.annotation(SERVE_INTERNAL_ANNOTATION) == Some("true"))
        .map(|p| (p.namespace(), p.name()))
        .collect();
    for b in &inputs.backends {
        let ns = b.namespace().to_string();
        let name = b.name().to_string();
        let object = format!("TrafficManagerBackend {ns}/{name}");
        if let Some(prev) = seen.insert((ns.clone(), name.clone()), b.doc.index) {
            diags.push(Diagnostic::error(b.doc.location_of(&["metadata", "name"]), format!("defined twice (first in document {prev}); allowed: one object per namespace and name")).object(object).field("metadata.name"));
            continue;
        }
        let TrafficManagerBackendSpec {
            profile,
            backend,
            weight,
        } = &b.spec;
        let Some((_, target_profile)) = profiles.get_mut(&(ns.clone(), profile.name.clone()))
        else {
            let known: Vec<String> = inputs
                .profiles
                .iter()
                .filter(|p| p.namespace() == ns)
                .map(|p| p.name().to_string())
                .collect();
            let known = if known.is_empty() {
                format!("none in namespace {ns}")
            } else {
                format!("profiles in namespace {ns}: {}", known.join(", "))
            };
            diags.push(
                Diagnostic::error(b.doc.location_of(&["spec", "profile", "name"]), format!("no TrafficManagerProfile named {:?} in namespace {ns} (a backend must be in its profile's namespace); {known}", profile.name))
                    .object(object)
                    .field("spec.profile.name"),
            );
            continue;
        };
        let routing = target_profile.routing;
        let Some(priority) = super::routing::priority(b, &object, routing, diags) else {
            continue;
        };
        let backend_weight = weight.unwrap_or(i64::from(weight::DEFAULT_BACKEND_WEIGHT)) as u32;
        let service_key = (ns.clone(), backend.name.clone());
        let Some(list) = exports.get(&service_key) else {
            let any_export = inputs
                .exports
                .iter()
                .any(|e| e.namespace() == ns && e.name() == backend.name);
            if any_export {
                diags.push(
                    Diagnostic::error(b.doc.location_of(&["spec", "backend", "name"]), format!("every ServiceExport of Service {ns}/{} has weight 0, so the backend has no endpoints", backend.name))
                        .severity(Severity::Warning)
                        .object(object)
                        .field("spec.backend.name"),
                );
            } else {
                diags.push(
                    Diagnostic::error(b.doc.location_of(&["spec", "backend", "name"]), format!("no member cluster exports Service {ns}/{}; needed: a ServiceExport named {:?} in namespace {ns} and a cluster listing that Service under spec.clusters[].services", backend.name, backend.name))
                        .object(object)
                        .field("spec.backend.name"),
                );
            }
            continue;
        };
        if backend_weight == 0 {
            diags.push(
                Diagnostic::error(
                    b.doc.location_of(&["spec", "weight"]),
                    "weight 0: the backend contributes no endpoints",
                )
                .severity(Severity::Note)
                .object(object)
                .field("spec.weight"),
            );
            continue;
        }
        // Internal load balancers are never served publicly (fleet-networking
        // TMBc:592-594, before the weights are summed at TMBc:576); a profile opts in
        // with SERVE_INTERNAL_ANNOTATION.
        let serve_internal = serves_internal.contains(&(ns.as_str(), profile.name.as_str()));
        let list: Vec<_> = list
            .iter()
            .filter(|e| {
                if e.internal && !serve_internal {
                    diags.push(
                        Diagnostic::error(b.doc.location_of(&["spec", "backend", "name"]), format!("InternalLoadBalancer: Service {ns}/{} in cluster {} is an internal load balancer ({INTERNAL_LB_ANNOTATION}: \"true\"), not served by profile {ns}/{}; to serve its private address, annotate the profile {SERVE_INTERNAL_ANNOTATION}: \"true\"", backend.name, e.cluster, profile.name))
                            .severity(Severity::Warning)
                            .object(object.clone())
                            .field("spec.backend.name"),
                    );
                    false
                } else {
                    true
                }
            })
            .collect();
        let total: u64 = list.iter().map(|e| u64::from(e.weight)).sum();
        let backend_name: std::sync::Arc<str> = std::sync::Arc::from(name.as_str());
        let service_name: std::sync::Arc<str> = if backend.name == name {
            backend_name.clone()
        } else {
            std::sync::Arc::from(backend.name.as_str())
        };
        for e in list {
            if let (RoutingMethod::MultiValue { .. }, Target::Host(h)) = (routing, &e.target) {
                diags.push(
                    Diagnostic::error(b.doc.location_of(&["spec", "backend", "name"]), format!("Service {ns}/{} in cluster {} has the host name {h}, which profile {ns}/{} does not answer: MultiValue answers IPv4/IPv6 addresses only, as Traffic Manager (a CNAME cannot be mixed with addresses); use Weighted or Priority for host names", backend.name, e.cluster, profile.name))
                        .severity(Severity::Warning)
                        .object(object.clone())
                        .field("spec.backend.name"),
                );
            }
            target_profile.endpoints.push(Endpoint {
                id: format!("{ns}/{name}#{}#{}", backend.name, e.cluster).into(),
                backend: backend_name.clone(),
                service: service_name.clone(),
                cluster: e.cluster.clone(),
                target: e.target.clone(),
                weight: weight::endpoint_weight(backend_weight, e.weight, total),
                export_weight: e.weight,
                always_serve: e.always_serve,
                priority,
            });
        }
    }
}
