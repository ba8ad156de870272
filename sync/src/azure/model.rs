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
    AzureEndpoints,
    ExternalEndpoints,
    NestedEndpoints,
}

impl EndpointType {
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
    pub subscription: String,
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
    pub location: String,
    pub tags: BTreeMap<String, String>,
    pub properties: ProfileProperties,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileProperties {
    pub profile_status: &'static str,
    pub traffic_routing_method: &'static str,
    pub dns_config: DnsConfig,
    pub monitor_config: MonitorConfig,
    /// Only set when updating a profile: the endpoints it already has, kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<serde_json::Value>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsConfig {
    pub relative_name: String,
    pub ttl: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorConfig {
    pub protocol: &'static str,
    pub port: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub interval_in_seconds: i64,
    pub timeout_in_seconds: i64,
    pub tolerated_number_of_failures: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_headers: Vec<Header>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expected_status_code_ranges: Vec<StatusRange>,
}

/// A custom probe header as ARM takes it. The value goes to ARM as is, but
/// `Debug` shows it as `<redacted>` (it often carries a key).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Header {
    pub name: String,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusRange {
    pub min: i32,
    pub max: i32,
}

/// `Endpoint` as fleetdns writes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointBody {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub properties: EndpointProperties,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_resource_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub endpoint_status: &'static str,
    pub weight: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_serve: Option<&'static str>,
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
