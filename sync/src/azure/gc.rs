//! Garbage collection by tag: the safety net that deletes what fleetdns created
//! once its object is gone (file mode has no finalizers; a Kubernetes object may
//! vanish while no replica runs).
//!
//! Each writer pass lists the profiles of every resource group the mirror has
//! known (following `nextLink`), and treats as an orphan a profile tagged
//! `fleetdns.io.managedBy: fleetdns` whose ARM id no desired profile has. An
//! orphan is deleted (404 = already gone) once it has been an orphan for the grace
//! period; profiles without fleetdns's tag are never touched. It runs only on a
//! complete fleet: sources publish whole snapshots only, and in Kubernetes mode
//! the mirror waits for the first composed fleet (the `synced` gate).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fleetdns_arm::{ArmClient, Call};
use serde_json::Value;
use tokio::time::Instant;
use tracing::{info, warn};

use super::model::{ProfileRef, API_VERSION, MANAGED_BY, MANAGED_BY_TAG};

/// At most this many list pages per resource group and pass (a bound, not a limit
/// Traffic Manager reaches: 200 profiles per subscription).
const MAX_PAGES: usize = 50;

/// What the collector remembers between passes.
#[derive(Default)]
pub struct Collector {
    /// (subscription, resource group), lower case: every group the mirror has known.
    pub groups: BTreeSet<(String, String)>,
    /// Orphan ARM id (lower case) → when it was first seen orphaned.
    first_seen: BTreeMap<String, Instant>,
}

/// One collection's result.
#[derive(Debug, Default)]
pub struct Report {
    /// Orphans waiting out the grace period (ARM ids).
    pub pending: Vec<String>,
    /// Orphans deleted this pass (ARM ids).
    pub deleted: Vec<String>,
}

impl Collector {
    /// Lists, judges and deletes. `desired`: lower-case ARM ids of desired profiles.
    pub async fn collect(
        &mut self,
        client: &ArmClient,
        arm_endpoint: &str,
        desired: &BTreeSet<String>,
        grace: Duration,
    ) -> Report {
        let mut orphans = Vec::new();
        for (sub, rg) in &self.groups {
            let at = ProfileRef {
                subscription: sub.clone(),
                resource_group: rg.clone(),
                name: String::new(),
            };
            let list_path = at.path().trim_end_matches('/').to_string();
            let mut next = Some(Call::get(list_path, API_VERSION));
            for _ in 0..MAX_PAGES {
                let Some(call) = next.take() else { break };
                let page = match client.send(&call).await {
                    Ok(r) if r.status == 404 => break,
                    Ok(r) => r.body,
                    Err(e) => {
                        warn!(resource_group = %rg, error = %e, "listing profiles for garbage collection failed");
                        break;
                    }
                };
                for p in page
                    .get("value")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let ours = p
                        .get("tags")
                        .and_then(|t| t.get(MANAGED_BY_TAG))
                        .and_then(Value::as_str)
                        == Some(MANAGED_BY);
                    let id = p.get("id").and_then(Value::as_str).unwrap_or_default();
                    let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
                    if ours && !name.is_empty() && !desired.contains(&id.to_ascii_lowercase()) {
                        orphans.push((
                            id.to_ascii_lowercase(),
                            ProfileRef {
                                name: name.to_string(),
                                ..at.clone()
                            },
                        ));
                    }
                }
                next = page
                    .get("nextLink")
                    .and_then(Value::as_str)
                    .filter(|l| !l.is_empty())
                    .and_then(|l| Call::next_link(l, arm_endpoint, API_VERSION));
            }
        }
        let now = Instant::now();
        let mut report = Report::default();
        let seen: BTreeSet<String> = orphans.iter().map(|(id, _)| id.clone()).collect();
        self.first_seen.retain(|id, _| seen.contains(id));
        for (id, at) in orphans {
            let first = *self.first_seen.entry(id.clone()).or_insert(now);
            if now.duration_since(first) < grace {
                report.pending.push(id);
                continue;
            }
            match client.send(&Call::delete(at.path(), API_VERSION)).await {
                Ok(r) => {
                    info!(profile = %at.name, resource_group = %at.resource_group, status = r.status, request_id = r.ids.request.as_deref(), "deleted a fleetdns profile whose object is gone");
                    self.first_seen.remove(&id);
                    report.deleted.push(id);
                }
                Err(e) => {
                    warn!(profile = %at.name, error = %e, "garbage collection could not delete a profile");
                    report.pending.push(id);
                }
            }
        }
        report
    }
}
