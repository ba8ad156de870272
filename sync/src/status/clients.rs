//! The status writer's Kubernetes clients: its own, one per cluster it writes to.

use std::collections::BTreeMap;

use fleetdns_config::ObjectKind;

use super::desired::Desired;

/// The writer's clients: its own, one per cluster it writes to.
#[derive(Clone)]
pub struct Clients {
    /// Profiles and backends live on the hub.
    pub hub: kube::Client,
    /// ServiceExports live on the members, by cluster name.
    pub members: BTreeMap<String, kube::Client>,
}

impl Clients {
    pub(super) fn for_object(&self, d: &Desired) -> Option<&kube::Client> {
        match d.kind {
            ObjectKind::ServiceExport => self.members.get(&d.cluster),
            _ => Some(&self.hub),
        }
    }
}
