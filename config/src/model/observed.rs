//! What a source observed upstream, beside the fleet it built: every object with
//! its verdicts and last-seen status (what status write-back compares with), and
//! whether each cluster answers. Not part of the zone's content.

use std::sync::Arc;

use serde::Serialize;

/// The upstream objects a fleet was built from, with their verdicts, and the state
/// of the clusters they came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Every upstream object the source read, with the problems found in it
    /// (shared, as profiles are).
    pub objects: Vec<Arc<ObservedObject>>,
    /// Whether each watched cluster (the hub and every member) answers.
    pub clusters: Vec<ClusterState>,
    /// Hub mode: the public IPs the exports name, as last read from ARM.
    pub public_ips: Vec<crate::hub::PublicIpStatus>,
    /// Hub mode: the members of the fleet, with or without exports.
    pub members: Vec<crate::hub::HubMember>,
}

/// Kinds of upstream objects that get status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ObjectKind {
    /// A TrafficManagerProfile (read from the hub).
    TrafficManagerProfile,
    /// A TrafficManagerBackend (read from the hub).
    TrafficManagerBackend,
    /// A ServiceExport (read from a member cluster).
    ServiceExport,
}

/// One upstream object as seen by the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedObject {
    /// Which kind of object it is.
    pub kind: ObjectKind,
    /// The cluster it lives in.
    pub cluster: String,
    /// Its `metadata.namespace`.
    pub namespace: String,
    /// Its `metadata.name`.
    pub name: String,
    /// Its `metadata.uid`; when it changes (the object was recreated) the status writer reads its
    /// status afresh.
    pub uid: String,
    /// Its `metadata.generation`, written back as the conditions' `observedGeneration`.
    pub generation: i64,
    /// Errors found in this object (it contributes nothing while there are any).
    pub problems: Vec<String>,
    /// For a ServiceExport: fleet-networking's `Valid` reason
    /// (`ServiceIsValid`, `ServiceNotFound`, `ServiceIneligible`,
    /// `ServiceExportInvalidWeightAnnotation`) and message.
    pub export_validity: Option<(String, String)>,
    /// For a ServiceExport: another cluster exports the same Service with other ports.
    pub export_conflict: Option<String>,
    /// For a TrafficManagerBackend: `spec.backend.name`, the Service it exposes.
    pub backend_service: Option<String>,
    /// For a TrafficManagerBackend: `spec.profile.name`.
    pub backend_profile: Option<String>,
    /// For a TrafficManagerBackend: `spec.weight` (default 1).
    pub backend_weight: Option<i64>,
    /// For a ServiceExport: it reached the hub as fleet-networking's member agent
    /// would export it (valid, weight above 0, or an invalid weight annotation
    /// with a last good weight it keeps being served at).
    pub exported: bool,
    /// For a ServiceExport: the weight it is served at (the last good one while
    /// the annotation is invalid).
    pub export_weight: Option<u32>,
    /// For an exported ServiceExport: why its Service cannot be an endpoint
    /// (fleet-networking's `isValidTrafficManagerEndpoint`).
    pub endpoint_problem: Option<String>,
    /// `metadata.creationTimestamp` (RFC 3339), for first-come decisions.
    pub created: String,
    /// `metadata.resourceVersion` of what was observed.
    pub resource_version: String,
    /// `status.conditions` as the source last saw them (what the status writer
    /// compares with instead of reading before writing).
    pub conditions: Vec<serde_json::Value>,
    /// Status fields other than conditions as last seen (`dnsName`, `endpoints`, …).
    pub status_fields: serde_json::Map<String, serde_json::Value>,
    /// Per condition type: the field managers (from `metadata.managedFields`) that
    /// own it, with the operation (`Apply`/`Update`).
    pub condition_managers: std::collections::BTreeMap<String, Vec<String>>,
    /// `metadata.deletionTimestamp`: set while the object is being deleted (its
    /// finalizers still pending). Such an object is not part of the fleet.
    pub deletion_timestamp: Option<String>,
    /// `metadata.finalizers` as observed.
    pub finalizers: Vec<String>,
    /// For a TrafficManagerProfile: `spec.resourceGroup` (where its Azure profile
    /// lives, needed to delete it once the object is being deleted).
    pub resource_group: Option<String>,
}

impl ObservedObject {
    /// An object with only its identity set.
    pub fn new(kind: ObjectKind, cluster: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind,
            cluster: cluster.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: String::new(),
            generation: 0,
            problems: Vec::new(),
            export_validity: None,
            export_conflict: None,
            backend_service: None,
            backend_profile: None,
            backend_weight: None,
            exported: false,
            export_weight: None,
            endpoint_problem: None,
            created: String::new(),
            resource_version: String::new(),
            conditions: Vec::new(),
            status_fields: serde_json::Map::new(),
            condition_managers: Default::default(),
            deletion_timestamp: None,
            finalizers: Vec::new(),
            resource_group: None,
        }
    }

    /// The object is being deleted (it has a `deletionTimestamp`).
    pub fn deleting(&self) -> bool {
        self.deletion_timestamp.is_some()
    }

    /// `metadata.finalizers` holds `finalizer`.
    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    /// The observed condition of `type_`, if any.
    pub fn condition(&self, type_: &str) -> Option<&serde_json::Value> {
        self.conditions
            .iter()
            .find(|c| c.get("type").and_then(serde_json::Value::as_str) == Some(type_))
    }
}

/// Whether a cluster's API server answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterState {
    /// Cluster name: `hub`, or a member's name from `spec.kubernetes.members`.
    pub name: String,
    /// False from the first watch that got no answer until the API server answers again.
    pub reachable: bool,
    /// When it last became unreachable (wall clock), while it is.
    pub unreachable_since: Option<std::time::SystemTime>,
    /// The error that made it unreachable (no secrets: kube errors carry none).
    pub error: Option<String>,
}
