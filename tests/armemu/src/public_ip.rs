//! `Microsoft.Network/publicIPAddresses` (api-version 2024-05-01), read side only:
//! what hub mode's lookups need. Shapes follow the swagger
//! (Azure/azure-rest-api-specs `specification/network/resource-manager/
//! Microsoft.Network/stable/2024-05-01/publicIpAddress.json` @ 1180935: operation
//! `PublicIPAddresses_Get`, path `/subscriptions/{subscriptionId}/resourceGroups/
//! {resourceGroupName}/providers/Microsoft.Network/publicIPAddresses/{publicIpAddressName}`,
//! definitions `PublicIPAddress`, `PublicIPAddressPropertiesFormat`
//! (`publicIPAllocationMethod` Static|Dynamic, `publicIPAddressVersion` IPv4|IPv6,
//! `ipAddress`, `dnsSettings.{domainNameLabel,fqdn}`, `provisioningState` read-only)).
//!
//! Faults of its own: resource groups the caller may not read (403
//! `AuthorizationFailed`, as for a missing Reader role) and "down" (503 to every
//! public IP read), apart from the Traffic Manager faults.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::ArmEmu;

/// The api-version the swagger serves these paths at.
pub const API_VERSION: &str = "2024-05-01";

/// Public IP addresses and their faults.
#[derive(Default)]
pub(crate) struct PublicIps {
    /// By lower-case resource id.
    ips: BTreeMap<String, Value>,
    /// Lower-case `/subscriptions/<s>/resourcegroups/<rg>` the caller may not read.
    denied: BTreeSet<String>,
    down: bool,
    /// Reads answered, by lower-case id.
    reads: BTreeMap<String, u64>,
}

impl PublicIps {
    /// Stores `v` as public IP `id` (as given, not checked against the swagger).
    pub(crate) fn insert(&mut self, id: &str, v: Value) {
        self.ips.insert(id.to_ascii_lowercase(), v);
    }

    /// Every public IP, by lower-case resource id.
    pub(crate) fn all(&self) -> &BTreeMap<String, Value> {
        &self.ips
    }
}

/// Answers a public IP request (`None`: not a public IP path).
pub(crate) fn route(
    p: &mut PublicIps,
    method: &str,
    path: &str,
    query: &[(String, String)],
) -> Option<(u16, Value)> {
    let lower = path.to_ascii_lowercase();
    let i = lower.find("/providers/microsoft.network/publicipaddresses/")?;
    let parts: Vec<&str> = lower.split('/').collect();
    if parts.len() != 9 || parts[1] != "subscriptions" || parts[3] != "resourcegroups" {
        return Some(error(
            400,
            "InvalidResourceId",
            &format!("{path} is not a public IP id"),
        ));
    }
    if method != "GET" {
        return Some(error(
            405,
            "MethodNotAllowed",
            "the emulator serves GET only",
        ));
    }
    let version = query
        .iter()
        .find(|(k, _)| k == "api-version")
        .map(|(_, v)| v.as_str());
    if version != Some(API_VERSION) {
        return Some(error(
            400,
            "InvalidApiVersionParameter",
            &format!("api-version {version:?}; the emulator serves {API_VERSION}"),
        ));
    }
    if p.down {
        return Some(error(
            503,
            "ServiceUnavailable",
            "injected: the network resource provider is unavailable",
        ));
    }
    *p.reads.entry(lower.clone()).or_default() += 1;
    if p.denied.contains(&lower[..i]) {
        return Some(error(403, "AuthorizationFailed", &format!("The client does not have authorization to perform action 'Microsoft.Network/publicIPAddresses/read' over scope '{path}' or the scope is invalid.")));
    }
    Some(match p.ips.get(&lower) {
        Some(v) => (200, v.clone()),
        None => error(404, "ResourceNotFound", &format!("The Resource 'Microsoft.Network/publicIPAddresses/{}' under resource group '{}' was not found.", parts[8], parts[4])),
    })
}

fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!({"error": {"code": code, "message": message}}))
}

/// Checks a `PublicIPAddress` against the swagger's enums and types.
pub fn check(v: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let props = v.get("properties").cloned().unwrap_or(Value::Null);
    for (k, allowed) in [
        ("publicIPAllocationMethod", &["Static", "Dynamic"][..]),
        ("publicIPAddressVersion", &["IPv4", "IPv6"][..]),
        (
            "provisioningState",
            &["Succeeded", "Updating", "Deleting", "Failed"][..],
        ),
    ] {
        if let Some(x) = props.get(k) {
            if !x.as_str().is_some_and(|s| allowed.contains(&s)) {
                errs.push(format!("properties.{k}: {x} not in {allowed:?}"));
            }
        }
    }
    for k in ["ipAddress"] {
        if props.get(k).is_some_and(|x| !x.is_string()) {
            errs.push(format!("properties.{k} must be a string"));
        }
    }
    if let Some(d) = props.get("dnsSettings") {
        for k in ["domainNameLabel", "fqdn", "reverseFqdn"] {
            if d.get(k).is_some_and(|x| !x.is_string()) {
                errs.push(format!("properties.dnsSettings.{k} must be a string"));
            }
        }
    }
    for k in ["id", "name", "type", "location"] {
        if !v.get(k).is_some_and(Value::is_string) {
            errs.push(format!("{k} must be a string"));
        }
    }
    errs
}

/// The ARM id of public IP `name` in resource group `rg` of subscription `sub`.
pub fn public_ip_id(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/publicIPAddresses/{name}")
}

impl ArmEmu {
    /// Creates or replaces public IP `id` with `address` (None: not allocated yet)
    /// and, with `dns_label`, `dnsSettings` (fqdn `<label>.eastus.cloudapp.azure.com`).
    pub fn put_public_ip(&self, id: &str, address: Option<&str>, dns_label: Option<&str>) {
        let name = id.rsplit('/').next().unwrap_or_default();
        let v6 = address.is_some_and(|a| a.contains(':'));
        let mut props = json!({
            "provisioningState": "Succeeded",
            "publicIPAllocationMethod": "Static",
            "publicIPAddressVersion": if v6 { "IPv6" } else { "IPv4" },
        });
        if let Some(a) = address {
            props["ipAddress"] = json!(a);
        }
        if let Some(l) = dns_label {
            props["dnsSettings"] =
                json!({"domainNameLabel": l, "fqdn": format!("{l}.eastus.cloudapp.azure.com")});
        }
        let v = json!({"id": id, "name": name, "type": "Microsoft.Network/publicIPAddresses",
            "location": "eastus", "sku": {"name": "Standard", "tier": "Regional"}, "properties": props});
        let errs = check(&v);
        assert!(
            errs.is_empty(),
            "emulator public IP off the swagger: {errs:?}"
        );
        self.w().pips.ips.insert(id.to_ascii_lowercase(), v);
    }

    /// Deletes public IP `id` (reads answer 404).
    pub fn delete_public_ip(&self, id: &str) {
        self.w().pips.ips.remove(&id.to_ascii_lowercase());
    }

    /// Denies (or allows again) reads in resource group `rg` of `sub`: 403
    /// `AuthorizationFailed`, as without the Reader role.
    pub fn deny_resource_group(&self, sub: &str, rg: &str, denied: bool) {
        let scope = format!("/subscriptions/{sub}/resourcegroups/{rg}").to_ascii_lowercase();
        let mut w = self.w();
        if denied {
            w.pips.denied.insert(scope);
        } else {
            w.pips.denied.remove(&scope);
        }
    }

    /// Public IP reads answer 503 while `down`.
    pub fn set_public_ips_down(&self, down: bool) {
        self.w().pips.down = down;
    }

    /// Reads of public IP `id` answered so far (not counting 503s while down).
    pub fn public_ip_reads(&self, id: &str) -> u64 {
        self.w()
            .pips
            .reads
            .get(&id.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }
}
