//! Watcher updates folded into the snapshot: objects listed, applied and
//! deleted, watches failing and working again, and each cluster's reachability.

use std::collections::BTreeSet;
use std::time::SystemTime;

use fleetdns_config::ClusterState;
use tracing::{info, warn};

use super::compose::{self, Resource, Snapshot};
use super::incremental;
use super::metrics::SourceMetrics;
use super::watch::Update;

/// The state of a cluster that answers.
pub(super) fn reachable(name: &str) -> ClusterState {
    ClusterState {
        name: name.to_string(),
        reachable: true,
        unreachable_since: None,
        error: None,
    }
}

/// Folds one watcher update into the snapshot; returns whether anything changed. A
/// cluster is unreachable from the first watch that gets no answer until its API
/// server answers a probe again.
pub(super) fn apply(
    snapshot: &mut Snapshot,
    pending: &mut BTreeSet<(String, Resource, Option<String>)>,
    failing: &mut BTreeSet<(String, Resource)>,
    metrics: &SourceMetrics,
    composer: &mut incremental::Composer,
    update: Update,
) -> bool {
    let (cluster, resource) = match update {
        Update::PublicIps(states) => {
            let changed = snapshot.public_ips != states;
            snapshot.public_ips = states;
            return changed;
        }
        Update::Probed { cluster, error } => return set_reachable(snapshot, &cluster, error),
        Update::Listing { .. } => return false,
        Update::Failed {
            cluster,
            resource,
            error,
            unreachable,
        } => {
            metrics
                .watch_errors
                .with_label_values(&[&cluster, resource.label()])
                .inc();
            if unreachable {
                // A cluster down at start-up: the first fleet waits for it up to
                // INITIAL_SYNC (what readiness promises), then starts without it.
                return set_reachable(snapshot, &cluster, Some(error));
            }
            // A first list the API server refuses counts as done: the fleet starts without it.
            pending.retain(|(c, r, _)| !(*c == cluster && *r == resource));
            // Logged when the watch starts failing, not on every retry.
            if failing.insert((cluster.clone(), resource)) {
                warn!(cluster = %cluster, resource = resource.label(), error = %error, "watch failing; retrying with backoff");
            }
            return false;
        }
        Update::Replace {
            cluster,
            resource,
            scope,
            objects,
        } => {
            pending.remove(&(cluster.clone(), resource, scope.clone()));
            // A relist recomposes the namespaces it changed, as the events it stands
            // for would (at 100k objects a relist after a 410 recomposed everything).
            for ns in snapshot.replace(&cluster, resource, scope.as_deref(), objects) {
                composer.touch(&ns);
            }
            (cluster, resource)
        }
        Update::Apply {
            cluster,
            resource,
            object,
        } => {
            composer.touch(&compose::key_of(&object).0);
            snapshot.insert(&cluster, resource, object);
            (cluster, resource)
        }
        Update::Delete {
            cluster,
            resource,
            object,
        } => {
            composer.touch(&compose::key_of(&object).0);
            snapshot.remove(&cluster, resource, &object);
            (cluster, resource)
        }
    };
    // Data arrived: the cluster answers.
    if failing.remove(&(cluster.clone(), resource)) {
        info!(cluster = %cluster, resource = resource.label(), "watch working again");
    }
    set_reachable(snapshot, &cluster, None);
    let count = snapshot
        .collections
        .get(&(cluster.clone(), resource))
        .map_or(0, |c| c.len());
    metrics
        .objects
        .with_label_values(&[&cluster, resource.label()])
        .set(count as i64);
    true
}

/// Records whether `cluster` answers (`error` = `None`); returns whether that changed.
fn set_reachable(snapshot: &mut Snapshot, cluster: &str, error: Option<String>) -> bool {
    let state = snapshot
        .clusters
        .entry(cluster.to_string())
        .or_insert_with(|| reachable(cluster));
    match error {
        None if !state.reachable => {
            info!(cluster = %cluster, "cluster reachable again");
            *state = reachable(cluster);
            true
        }
        Some(error) if state.reachable => {
            let known = snapshot.collections.keys().any(|(c, _)| c == cluster);
            if known {
                warn!(cluster = %cluster, error = %error, "cluster unreachable; serving its last known state");
            } else {
                warn!(cluster = %cluster, error = %error, "cluster unreachable; nothing known from it yet, so none of its endpoints are served");
            }
            let state = snapshot.clusters.get_mut(cluster).expect("inserted above");
            state.reachable = false;
            state.unreachable_since = Some(SystemTime::now());
            state.error = Some(error);
            true
        }
        _ => false,
    }
}
