//! `networking.fleet.azure.com/v1alpha1`: the older served version (not stored).
//!
//! Its schemas equal [`super::v1beta1`]'s except that [`MonitorConfig`] has no CEL rules tying
//! `timeoutInSeconds` to `intervalInSeconds`. Types whose schema is identical are re-exported
//! from v1beta1; the spec structs are separate because each derives its own versioned root type.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::v1beta1::{
    FromCluster, MonitorConfigCustomHeader, MonitorProtocol, ServiceExportStatus,
    TrafficManagerBackendRef, TrafficManagerBackendStatus, TrafficManagerEndpointStatus,
    TrafficManagerProfileRef, TrafficManagerProfileStatus,
};

/// Desired state of a v1alpha1 TrafficManagerProfile; the same fields as in v1beta1.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "networking.fleet.azure.com",
    version = "v1alpha1",
    kind = "TrafficManagerProfile",
    namespaced,
    status = "TrafficManagerProfileStatus",
    derive = "PartialEq",
    shortname = "tmp",
    category = "fleet-networking",
    printcolumn(name = "DNS-Name", type_ = "string", json_path = ".status.dnsName"),
    printcolumn(
        name = "Is-Programmed",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Programmed')].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("size(self.metadata.name) < 64").message("metadata.name max length is 63"),
    doc = "TrafficManagerProfile manages a simple Azure Traffic Manager profile (Weighted routing) the cloud native way."
)]
#[serde(rename_all = "camelCase")]
pub struct TrafficManagerProfileSpec {
    /// The resource group holding the Azure Traffic Manager profile; immutable.
    #[schemars(length(min = 1, max = 90))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("resourceGroup is immutable"))]
    pub resource_group: String,

    /// The endpoint monitoring settings of the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_config: Option<MonitorConfig>,
}

/// v1alpha1 probe settings: [`super::v1beta1::MonitorConfig`] without its two CEL rules.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct MonitorConfig {
    /// Probe interval in seconds: 30 (normal) or 10 (fast probing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 30, "enum" = [10, 30]))]
    pub interval_in_seconds: Option<i64>,

    /// Path, relative to the endpoint domain name, probed for endpoint health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "/"))]
    pub path: Option<String>,

    /// TCP port probed for endpoint health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 80))]
    pub port: Option<i64>,

    /// Probe protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "HTTP"))]
    pub protocol: Option<MonitorProtocol>,

    /// Custom headers sent with probes, such as Host headers; names are unique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend(
        "maxItems" = 8,
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["name"]
    ))]
    pub custom_headers: Option<Vec<MonitorConfigCustomHeader>>,

    /// Probe timeout in seconds, 5..=10 (the interval-dependent limit is not enforced in v1alpha1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5, max = 10))]
    pub timeout_in_seconds: Option<i64>,

    /// Consecutive failed probes tolerated before an endpoint is Degraded after the next failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 9), extend("default" = 3))]
    pub tolerated_number_of_failures: Option<i64>,
}

/// Desired state of a v1alpha1 TrafficManagerBackend; the same fields as in v1beta1.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "networking.fleet.azure.com",
    version = "v1alpha1",
    kind = "TrafficManagerBackend",
    namespaced,
    status = "TrafficManagerBackendStatus",
    derive = "PartialEq",
    shortname = "tmb",
    category = "fleet-networking",
    printcolumn(name = "Profile", type_ = "string", json_path = ".spec.profile.name"),
    printcolumn(name = "Backend", type_ = "string", json_path = ".spec.backend.name"),
    printcolumn(
        name = "Is-Accepted",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Accepted')].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("size(self.metadata.name) < 64").message("metadata.name max length is 63"),
    doc = "TrafficManagerBackend manages the Azure Traffic Manager endpoints of one ServiceImport under a profile."
)]
#[serde(rename_all = "camelCase")]
pub struct TrafficManagerBackendSpec {
    /// The TrafficManagerProfile (same namespace) the backend attaches to; immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.profile is immutable"))]
    pub profile: TrafficManagerProfileRef,

    /// The ServiceImport (same namespace) whose exporting clusters become endpoints; immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.backend is immutable"))]
    pub backend: TrafficManagerBackendRef,

    /// Total weight, 0..=1000, spread over the exporting clusters; 0 removes all endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000), extend("default" = 1))]
    pub weight: Option<i64>,
}

/// ServiceExport has no spec; see [`super::v1beta1::ServiceExportSpec`].
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "networking.fleet.azure.com",
    version = "v1alpha1",
    kind = "ServiceExport",
    namespaced,
    no_spec,
    status = "ServiceExportStatus",
    derive = "PartialEq",
    shortname = "svcexport",
    category = "fleet-networking",
    printcolumn(
        name = "Is-Valid",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Valid')].status"
    ),
    printcolumn(
        name = "Is-Conflicted",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Conflict')].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("size(self.metadata.name) < 64").message("metadata.name max length is 63"),
    doc = "ServiceExport declares that the Service of the same name and namespace is exported to the fleet."
)]
pub struct ServiceExportSpec {}

impl From<MonitorConfig> for super::v1beta1::MonitorConfig {
    fn from(m: MonitorConfig) -> Self {
        Self {
            interval_in_seconds: m.interval_in_seconds,
            path: m.path,
            port: m.port,
            protocol: m.protocol,
            custom_headers: m.custom_headers,
            timeout_in_seconds: m.timeout_in_seconds,
            tolerated_number_of_failures: m.tolerated_number_of_failures,
        }
    }
}

impl From<TrafficManagerProfileSpec> for super::v1beta1::TrafficManagerProfileSpec {
    fn from(s: TrafficManagerProfileSpec) -> Self {
        Self {
            resource_group: s.resource_group,
            monitor_config: s.monitor_config.map(Into::into),
        }
    }
}

impl From<TrafficManagerBackendSpec> for super::v1beta1::TrafficManagerBackendSpec {
    fn from(s: TrafficManagerBackendSpec) -> Self {
        Self {
            profile: s.profile,
            backend: s.backend,
            weight: s.weight,
        }
    }
}
