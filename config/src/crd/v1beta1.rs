//! `networking.fleet.azure.com/v1beta1`: the storage version of the fleet networking objects.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a TrafficManagerProfile: one Azure Traffic Manager profile using the
/// Weighted routing method (the only one fleet supports).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "networking.fleet.azure.com",
    version = "v1beta1",
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

/// How Traffic Manager probes the endpoints of a profile.
///
/// Schema defaults (interval 30, path "/", port 80, protocol HTTP, 3 tolerated failures) fill
/// in only when the object is present; the timeout has no schema default (10 s for a 30 s
/// interval, 9 s for a 10 s interval, applied by the controller).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.intervalInSeconds) && self.intervalInSeconds == 30 ? (!has(self.timeoutInSeconds) || (self.timeoutInSeconds >= 5 && self.timeoutInSeconds <= 10)) : true")
        .message("timeoutInSeconds must be between 5 and 10 when intervalInSeconds is 30"),
    validation = Rule::new("has(self.intervalInSeconds) && self.intervalInSeconds == 10 ? (!has(self.timeoutInSeconds) || (self.timeoutInSeconds >= 5 && self.timeoutInSeconds <= 9)) : true")
        .message("timeoutInSeconds must be between 5 and 9 when intervalInSeconds is 10"),
)]
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

    /// Probe timeout in seconds: 5..=10 with a 30 s interval, 5..=9 with a 10 s interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5, max = 10))]
    pub timeout_in_seconds: Option<i64>,

    /// Consecutive failed probes tolerated before an endpoint is Degraded after the next failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 9), extend("default" = 3))]
    pub tolerated_number_of_failures: Option<i64>,
}

/// Protocol used to probe endpoint health.
#[allow(clippy::upper_case_acronyms)]
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MonitorProtocol {
    /// Probe with an HTTP GET of the monitor path.
    HTTP,
    /// Probe with an HTTPS GET of the monitor path.
    HTTPS,
    /// Probe by opening a TCP connection to the monitor port.
    TCP,
}

/// A custom header sent with endpoint probes.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MonitorConfigCustomHeader {
    /// Name of the header.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Value of the header.
    #[schemars(length(min = 1))]
    pub value: String,
}

/// Observed state of a TrafficManagerProfile, written by the hub controller.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TrafficManagerProfileStatus {
    /// FQDN of the profile, `<namespace>-<name>.trafficmanager.net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,

    /// ARM id of the Azure Traffic Manager profile.
    #[serde(
        default,
        rename = "resourceID",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_id: Option<String>,

    /// Current profile conditions (type `Programmed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
}

/// Desired state of a TrafficManagerBackend: attach the clusters exporting a ServiceImport
/// as weighted endpoints of a profile.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "networking.fleet.azure.com",
    version = "v1beta1",
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

    /// Total weight, 0..=1000, spread over the exporting clusters by their ServiceExport
    /// weights (each endpoint gets the ceiling of its share); 0 removes all endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000), extend("default" = 1))]
    pub weight: Option<i64>,
}

/// Reference to a TrafficManagerProfile by name.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrafficManagerProfileRef {
    /// Name of the referenced TrafficManagerProfile.
    pub name: String,
}

/// Reference to a backend, a ServiceImport, by name.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrafficManagerBackendRef {
    /// Name of the ServiceImport in the same namespace as the TrafficManagerBackend.
    pub name: String,
}

/// Observed state of a TrafficManagerBackend, written by the hub controller.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TrafficManagerBackendStatus {
    /// Endpoints accepted (created or updated) under the Azure Traffic Manager profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<TrafficManagerEndpointStatus>>,

    /// Current backend conditions (type `Accepted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
}

/// One Azure Traffic Manager endpoint accepted for a backend.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TrafficManagerEndpointStatus {
    /// Endpoint name (lower-cased `fleet-<tmb uid>#<serviceImport>#<cluster>`).
    pub name: String,

    /// ARM id of the endpoint.
    #[serde(
        default,
        rename = "resourceID",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_id: Option<String>,

    /// Computed endpoint weight, 0..=1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,

    /// FQDN or IP address of the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,

    /// Where the endpoint is exported from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<FromCluster>,
}

/// The exporting cluster of an endpoint and its ServiceExport weight.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FromCluster {
    /// Name of the exporting cluster (an RFC 1123 DNS label).
    pub cluster: String,

    /// Weight configured on the ServiceExport in that cluster, 0..=1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}

/// ServiceExport has no spec upstream: this empty struct is flattened into the root object
/// (`#[kube(no_spec)]`), so neither the wire form nor the schema has a `spec` property.
/// The cluster weight is the [`super::WEIGHT_ANNOTATION`] annotation.
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "networking.fleet.azure.com",
    version = "v1beta1",
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

/// Observed state of a ServiceExport, written by the member controller.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ServiceExportStatus {
    /// Export conditions (types `Valid` and `Conflict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
}
