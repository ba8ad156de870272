//! Hub mode's members as `fleetdns check` shows them: the clusters of the
//! `fleet-member-<cluster>` namespaces holding InternalServiceExports, and those
//! Fleet's MemberCluster objects name (where the hub serves them), read once.

use std::collections::BTreeMap;

use fleetdns_config::hub::member_of_namespace;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::compose::Resource;
use super::preflight::REQUEST_TIMEOUT;
use super::watch::api_resource;

/// What was seen of one member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    /// The cluster's name.
    pub name: String,
    /// InternalServiceExports in its namespace.
    pub exports: usize,
    /// `Some` when a MemberCluster names it: its `Joined` condition status, if any.
    pub member_cluster: Option<Option<String>>,
}

impl std::fmt::Display for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.exports {
            0 => write!(f, "{} (no exports yet", self.name)?,
            1 => write!(f, "{} (1 export", self.name)?,
            n => write!(f, "{} ({n} exports", self.name)?,
        }
        match &self.member_cluster {
            Some(Some(joined)) => write!(f, ", MemberCluster Joined={joined})"),
            Some(None) => write!(f, ", MemberCluster)"),
            None => write!(f, ")"),
        }
    }
}

async fn list(client: &kube::Client, r: Resource) -> Option<Vec<Value>> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource(r));
    let listed = tokio::time::timeout(REQUEST_TIMEOUT, api.list(&ListParams::default()))
        .await
        .ok()?
        .ok()?;
    Some(
        listed
            .items
            .into_iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .collect(),
    )
}

fn entry<'a>(out: &'a mut BTreeMap<String, Member>, name: &str) -> &'a mut Member {
    out.entry(name.to_string()).or_insert_with(|| Member {
        name: name.to_string(),
        ..Member::default()
    })
}

/// The members the hub shows, by name; empty when nothing could be listed.
pub async fn members(client: &kube::Client) -> Vec<Member> {
    let mut out: BTreeMap<String, Member> = BTreeMap::new();
    for ise in list(client, Resource::InternalExports)
        .await
        .unwrap_or_default()
    {
        let ns = ise
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(m) = member_of_namespace(ns) {
            entry(&mut out, m).exports += 1;
        }
    }
    // A hub without the MemberCluster CRD (or without leave to list them): none.
    for mc in list(client, Resource::MemberClusters)
        .await
        .unwrap_or_default()
    {
        if mc.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let Some(name) = mc.pointer("/metadata/name").and_then(Value::as_str) else {
            continue;
        };
        let joined = mc
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == "Joined"))
            .and_then(|c| c["status"].as_str())
            .map(str::to_string);
        entry(&mut out, name).member_cluster = Some(joined);
    }
    out.into_values().collect()
}
