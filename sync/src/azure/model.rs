//! ARM paths, calls, and the JSON bodies fleetdns writes (api-version 2022-04-01).
//!
//! Bodies are built from typed structs, so a misspelt property cannot be sent;
//! observed state is read as `serde_json::Value`, because Azure may hold fields
//! (set by hand or by newer API versions) that fleetdns neither knows nor touches.

use std::collections::BTreeMap;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;

/// The Traffic Manager api-version fleetdns speaks.
pub const API_VERSION: &str = "2022-04-01";
/// Profile tag fleet-networking writes: value `<namespace>/<name>`.
pub const PROFILE_TAG: &str = "networking.fleet.azure.com.trafficManagerProfile";
/// Profile tag fleetdns adds: value `fleetdns`.
pub const MANAGED_BY_TAG: &str = "fleetdns.io.managedBy";
/// Value of [`MANAGED_BY_TAG`].
pub const MANAGED_BY: &str = "fleetdns";

/// Endpoint kinds (the `{endpointType}` path segment).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EndpointType {
    /// An Azure resource (`targetResourceId`): fleetdns uses it for Services with a known public
    /// IP.
    AzureEndpoints,
    /// An IP address or host name (`target`): every other Service.
    ExternalEndpoints,
    /// A child profile; fleetdns never creates one, but recognises it in observed profiles.
    NestedEndpoints,
}

impl EndpointType {
    /// The path segment, also the last part of the `type`: `AzureEndpoints`, `ExternalEndpoints` or
    /// `NestedEndpoints`.
    pub fn segment(self) -> &'static str {
        match self {
            EndpointType::AzureEndpoints => "AzureEndpoints",
            EndpointType::ExternalEndpoints => "ExternalEndpoints",
            EndpointType::NestedEndpoints => "NestedEndpoints",
        }
    }

    /// The `type` property: `Microsoft.Network/trafficManagerProfiles/<segment>`.
    pub fn resource_type(self) -> String {
        format!(
            "Microsoft.Network/trafficManagerProfiles/{}",
            self.segment()
        )
    }

    /// Parses a `type` as ARM echoes it (any case, e.g. `.../externalEndpoints`).
    pub fn from_resource_type(t: &str) -> Option<Self> {
        let last = t.rsplit('/').next()?.to_ascii_lowercase();
        match last.as_str() {
            "azureendpoints" => Some(EndpointType::AzureEndpoints),
            "externalendpoints" => Some(EndpointType::ExternalEndpoints),
            "nestedendpoints" => Some(EndpointType::NestedEndpoints),
            _ => None,
        }
    }
}

/// Characters escaped in a path segment (endpoint names contain `#`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Where a profile lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileRef {
    /// Subscription id.
    pub subscription: String,
    /// Resource group: the TrafficManagerProfile's `spec.resourceGroup`.
    pub resource_group: String,
    /// `fleet-<uid>`.
    pub name: String,
}

impl ProfileRef {
    /// Path of the profile, without api-version.
    pub fn path(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/trafficmanagerprofiles/{}",
            seg(&self.subscription),
            seg(&self.resource_group),
            seg(&self.name)
        )
    }

    /// Path of one endpoint, without api-version.
    pub fn endpoint_path(&self, kind: EndpointType, name: &str) -> String {
        format!("{}/{}/{}", self.path(), kind.segment(), seg(name))
    }

    /// The resource id ARM reports (`status.resourceID` in fleet-networking).
    pub fn resource_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/trafficManagerProfiles/{}",
            self.subscription, self.resource_group, self.name
        )
    }
}

/// One ARM request fleetdns would make (the generic call of `fleetdns-arm`).
pub type ArmCall = fleetdns_arm::Call;
pub use fleetdns_arm::Method;

// === bodies fleetdns writes ===

/// `Profile` as fleetdns writes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileBody {
    /// Azure location (`global` unless configured).
    pub location: String,
    /// [`PROFILE_TAG`] with `<namespace>/<name>`, [`MANAGED_BY_TAG`], and on update the foreign
    /// tags the profile already has.
    pub tags: BTreeMap<String, String>,
    /// The profile's `properties`.
    pub properties: ProfileProperties,
}

/// `properties` of a profile as fleetdns writes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileProperties {
    /// `profileStatus`: always `Enabled`.
    pub profile_status: &'static str,
    /// `trafficRoutingMethod`: `Weighted` (fleet-networking's), or the profile's
    /// `fleetdns.io/routing-method` (`Priority`, `MultiValue`).
    pub traffic_routing_method: &'static str,
    /// `maxReturn`: endpoints per answer, MultiValue only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_return: Option<i64>,
    /// `dnsConfig`: the relative name and TTL.
    pub dns_config: DnsConfig,
    /// `monitorConfig`: the profile's probe settings in Traffic Manager's terms.
    pub monitor_config: MonitorConfig,
    /// Only set when updating a profile: the endpoints it already has, kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<serde_json::Value>>,
}

/// `dnsConfig` of a profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsConfig {
    /// `<namespace>-<name>`, lower case: the profile's name under `trafficmanager.net`.
    pub relative_name: String,
    /// DNS TTL of answers, in seconds (the profile's TTL).
    pub ttl: i64,
}

/// `monitorConfig` of a profile: fleetdns' probe settings mapped into what Traffic Manager allows.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorConfig {
    /// `HTTP`, `HTTPS` or `TCP`.
    pub protocol: &'static str,
    /// Port probed.
    pub port: i64,
    /// Path probed; absent for TCP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// 10 or 30: a fleetdns interval under 30 s maps to 10 (never probing slower than asked), 30 to 30.
    pub interval_in_seconds: i64,
    /// Probe timeout in seconds, clamped into 5..=9 (10 s interval) or 5..=10 (30 s interval).
    pub timeout_in_seconds: i64,
    /// Failures in a row tolerated before an endpoint is Degraded, 0..=9.
    pub tolerated_number_of_failures: i64,
    /// Custom probe headers, sorted; omitted when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_headers: Vec<Header>,
    /// Status codes counted as healthy; omitted for TCP and for the default (200 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expected_status_code_ranges: Vec<StatusRange>,
}

/// A custom probe header as ARM takes it. The value goes to ARM as is, but
/// `Debug` shows it as `<redacted>` (it often carries a key).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Header {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("name", &self.name)
            .field("value", &fleetdns_config::secret::REDACTED)
            .finish()
    }
}

/// An inclusive range of HTTP status codes counted as healthy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusRange {
    /// Lowest code of the range.
    pub min: i32,
    /// Highest code of the range.
    pub max: i32,
}

/// `Endpoint` as fleetdns writes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointBody {
    /// ARM name of the endpoint, as in its path.
    pub name: String,
    /// `type`: `Microsoft.Network/trafficManagerProfiles/<segment>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The endpoint's `properties`.
    pub properties: EndpointProperties,
}

/// `properties` of an endpoint as fleetdns writes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointProperties {
    /// ARM id of the Service's public IP (AzureEndpoints only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_resource_id: Option<String>,
    /// The IPv4 address, else the IPv6 address, else the host name (ExternalEndpoints only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `endpointStatus`: always `Enabled`.
    pub endpoint_status: &'static str,
    /// The endpoint's effective weight, 1..=1000.
    pub weight: i64,
    /// `Enabled` for an always-serve endpoint; omitted otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_serve: Option<&'static str>,
    /// `priority` (1-1000, lower first): Priority profiles only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

/// `properties.<key>` of an observed resource.
pub fn prop<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    v.get("properties").and_then(|p| p.get(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names_are_escaped_in_paths() {
        let p = ProfileRef {
            subscription: "s".into(),
            resource_group: "rg".into(),
            name: "fleet-x".into(),
        };
        assert!(p
            .endpoint_path(EndpointType::ExternalEndpoints, "fleet-u#svc#c1")
            .ends_with("/trafficmanagerprofiles/fleet-x/ExternalEndpoints/fleet-u%23svc%23c1"));
    }
}
