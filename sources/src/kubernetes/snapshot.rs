//! What the watchers hold: per cluster and resource, the objects last listed or
//! watched, and whether each cluster answers. The input of every composition.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use fleetdns_config::ClusterState;

use super::observed::meta_str;

/// Kinds of objects the watchers collect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// TrafficManagerProfiles, watched on the hub.
    Profiles,
    /// TrafficManagerBackends, watched on the hub.
    Backends,
    /// Services, watched on the members; their load-balancer ingress gives endpoint targets.
    Services,
    /// ServiceExports, watched on the members.
    Exports,
    /// ServiceImports, watched on the hub (hub mode).
    ServiceImports,
    /// InternalServiceExports, watched on the hub (hub mode): the members' exports.
    InternalExports,
    /// Fleet's MemberClusters (cluster-scoped), watched on the hub where served (hub mode).
    MemberClusters,
}

impl Resource {
    /// The plural resource name, as in the `resource` label of the metrics.
    pub fn label(self) -> &'static str {
        match self {
            Resource::Profiles => "trafficmanagerprofiles",
            Resource::Backends => "trafficmanagerbackends",
            Resource::Services => "services",
            Resource::Exports => "serviceexports",
            Resource::ServiceImports => "serviceimports",
            Resource::InternalExports => "internalserviceexports",
            Resource::MemberClusters => "memberclusters",
        }
    }
}

/// Objects of one collection, by (namespace, name), as JSON.
pub type Objects = BTreeMap<(String, String), Arc<Value>>;

/// Everything the watchers hold: per (cluster, resource) the objects, and per
/// cluster whether its API server answers.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Per (cluster, resource): the objects last listed or watched.
    pub collections: BTreeMap<(String, Resource), Objects>,
    /// Per cluster name: whether its API server answers.
    pub clusters: BTreeMap<String, ClusterState>,
    /// Hub mode: per public IP resource id, what ARM last said.
    pub public_ips: BTreeMap<String, super::public_ip::PublicIp>,
}

impl Snapshot {
    /// The objects of one collection, created empty on first use.
    pub fn collection_mut(&mut self, cluster: &str, resource: Resource) -> &mut Objects {
        self.collections
            .entry((cluster.to_string(), resource))
            .or_default()
    }

    /// Adds `object` to (cluster, resource), or replaces the one of the same namespace and name.
    pub fn insert(&mut self, cluster: &str, resource: Resource, object: Value) {
        self.collection_mut(cluster, resource)
            .insert(key_of(&object), Arc::new(object));
    }

    /// Replaces the objects of (cluster, resource) in `scope` (a namespace, or `None` for
    /// all) with `objects`, as a completed relist does; returns the namespaces whose
    /// objects were added, changed or removed (the rest compose as before).
    pub fn replace(
        &mut self,
        cluster: &str,
        resource: Resource,
        scope: Option<&str>,
        objects: Vec<Value>,
    ) -> BTreeSet<String> {
        let fresh: Objects = objects
            .into_iter()
            .map(|o| (key_of(&o), Arc::new(o)))
            .collect();
        let in_scope = |ns: &str| scope.is_none_or(|s| s == ns);
        let collection = self.collection_mut(cluster, resource);
        let mut changed = BTreeSet::new();
        for (key, old) in collection.iter().filter(|(k, _)| in_scope(&k.0)) {
            if fresh.get(key) != Some(old) {
                changed.insert(key.0.clone());
            }
        }
        for key in fresh.keys() {
            if !collection.contains_key(key) {
                changed.insert(key.0.clone());
            }
        }
        collection.retain(|(ns, _), _| !in_scope(ns));
        collection.extend(fresh);
        changed
    }

    /// Removes the object of `object`'s namespace and name from (cluster, resource).
    pub fn remove(&mut self, cluster: &str, resource: Resource, object: &Value) {
        self.collection_mut(cluster, resource)
            .remove(&key_of(object));
    }

    /// The objects of (cluster, resource).
    pub fn objects(&self, cluster: &str, resource: Resource) -> impl Iterator<Item = &Value> {
        self.collections
            .get(&(cluster.to_string(), resource))
            .into_iter()
            .flat_map(|m| m.values().map(|v| v.as_ref()))
    }
}

/// (namespace, name) of an object, as collections key it.
pub fn key_of(o: &Value) -> (String, String) {
    (meta_str(o, "namespace"), meta_str(o, "name"))
}
