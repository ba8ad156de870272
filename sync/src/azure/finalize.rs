//! Deleting what the mirror created for an object that is being deleted, at once
//! (not after the garbage collector's grace period), as fleet-networking does in
//! its finalizer handling:
//!
//! - a TrafficManagerProfile: DELETE its Azure profile `fleet-<uid>`; 404 means
//!   already gone (TMPc:160-174, pkg/controllers/hub/trafficmanagerprofile/controller.go);
//! - a TrafficManagerBackend: GET its profile's Azure profile; a missing
//!   TrafficManagerProfile or a 404 means nothing is left; otherwise DELETE each
//!   endpoint named `fleet-<backend uid>#…` (case-insensitive), 404 ignored
//!   (TMBc:178-263, pkg/controllers/hub/trafficmanagerbackend/controller.go).
//!
//! Only objects that carry fleetdns's finalizer ([`MIRROR_FINALIZER`]) are acted
//! on: the finalizer is what says fleetdns owns the object's Azure side. The uids
//! whose deletion is done go into `MirrorStatus::finalized`; the status writer then
//! removes the finalizer (see `crate::status::finalizer`).

use fleetdns_arm::{ArmClient, Call};
use fleetdns_config::azure::MIRROR_FINALIZER;
use fleetdns_config::{Fleet, ObjectKind};
use serde_json::Value;
use tracing::{info, warn};

use super::model::{EndpointType, ProfileRef, API_VERSION};

/// What one object being deleted needs removed from Azure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// Delete the whole profile.
    Profile {
        /// uid of the TrafficManagerProfile.
        uid: String,
        /// `namespace/name`.
        key: String,
        /// Its Azure profile.
        at: ProfileRef,
    },
    /// Delete the backend's endpoints from its profile's Azure profile.
    Endpoints {
        /// uid of the TrafficManagerBackend.
        uid: String,
        /// `namespace/name`.
        key: String,
        /// Its profile's Azure profile; `None` when the profile object is gone
        /// (then nothing is left to delete, TMBc:205-208).
        at: Option<ProfileRef>,
    },
}

impl Deletion {
    /// uid of the object being deleted.
    pub fn uid(&self) -> &str {
        match self {
            Deletion::Profile { uid, .. } | Deletion::Endpoints { uid, .. } => uid,
        }
    }
}

/// The deletions the fleet asks for: every hub object with a `deletionTimestamp`
/// and fleetdns's finalizer. Empty without an `azure` section.
pub fn deletions(fleet: &Fleet) -> Vec<Deletion> {
    let Some(azure) = &fleet.azure else {
        return Vec::new();
    };
    let objects = &fleet.observed.objects;
    let at = |rg: &str, uid: &str| ProfileRef {
        subscription: azure.subscription_id.clone(),
        resource_group: rg.to_string(),
        name: format!("fleet-{uid}"),
    };
    objects
        .iter()
        .filter(|o| o.deleting() && o.has_finalizer(MIRROR_FINALIZER) && !o.uid.is_empty())
        .filter_map(|o| {
            let key = format!("{}/{}", o.namespace, o.name);
            match o.kind {
                ObjectKind::TrafficManagerProfile => Some(Deletion::Profile {
                    uid: o.uid.clone(),
                    key,
                    at: at(o.resource_group.as_deref().unwrap_or_default(), &o.uid),
                }),
                ObjectKind::TrafficManagerBackend => {
                    let profile = o.backend_profile.as_deref().and_then(|p| {
                        objects.iter().find(|x| {
                            x.kind == ObjectKind::TrafficManagerProfile
                                && x.namespace == o.namespace
                                && x.name == p
                        })
                    });
                    Some(Deletion::Endpoints {
                        uid: o.uid.clone(),
                        key,
                        at: profile.and_then(|p| {
                            Some(at(p.resource_group.as_deref()?, &p.uid))
                                .filter(|_| !p.uid.is_empty())
                        }),
                    })
                }
                ObjectKind::ServiceExport => None,
            }
        })
        .collect()
}

/// Whether an endpoint name was made for the backend with `uid`
/// (fleet-networking's `isEndpointOwnedByBackend`, TMBc:265-267; names are case-insensitive).
pub fn endpoint_of_backend(endpoint: &str, uid: &str) -> bool {
    let prefix = format!("fleet-{uid}#");
    endpoint.len() >= prefix.len() && endpoint[..prefix.len()].eq_ignore_ascii_case(&prefix)
}

/// Carries out one deletion. `Ok` when nothing of it is left in Azure.
pub async fn delete(client: &ArmClient, d: &Deletion) -> Result<(), String> {
    match d {
        Deletion::Profile { key, at, .. } => {
            let r = client
                .send(&Call::delete(at.path(), API_VERSION))
                .await
                .map_err(|e| e.to_string())?;
            info!(profile = %key, arm_name = %at.name, status = r.status, request_id = r.ids.request.as_deref(), "deleted the Traffic Manager profile of a profile being deleted");
            Ok(())
        }
        Deletion::Endpoints { key, at: None, .. } => {
            info!(backend = %key, "backend being deleted has no profile: nothing to delete in Azure");
            Ok(())
        }
        Deletion::Endpoints {
            uid,
            key,
            at: Some(at),
        } => {
            let r = client
                .send(&Call::get(at.path(), API_VERSION))
                .await
                .map_err(|e| e.to_string())?;
            if r.status == 404 {
                return Ok(());
            }
            let mut failed = Vec::new();
            for e in r
                .body
                .pointer("/properties/endpoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = e.get("name").and_then(Value::as_str).unwrap_or_default();
                let kind = e
                    .get("type")
                    .and_then(Value::as_str)
                    .and_then(EndpointType::from_resource_type);
                let (true, Some(kind)) = (endpoint_of_backend(name, uid), kind) else {
                    continue;
                };
                match client
                    .send(&Call::delete(at.endpoint_path(kind, name), API_VERSION))
                    .await
                {
                    Ok(r) => {
                        info!(backend = %key, endpoint = name, status = r.status, "deleted an endpoint of a backend being deleted")
                    }
                    Err(e) => {
                        warn!(backend = %key, endpoint = name, error = %e, "deleting an endpoint of a backend being deleted failed");
                        failed.push(format!("{name}: {e}"));
                    }
                }
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(failed.join("; "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetdns_config::ObservedObject;

    fn fleet() -> Fleet {
        let yaml = "apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: tm.test
  nameServers: [{name: ns1.tm.test, addresses: [127.0.0.1]}]
  azure:
    subscriptionId: 00000000-0000-0000-0000-000000000001
    auth: {method: managedIdentity}
";
        let mut f = fleetdns_config::file::load_str(std::path::Path::new("t.yaml"), yaml)
            .expect("valid")
            .0;
        let mut p = ObservedObject::new(ObjectKind::TrafficManagerProfile, "hub", "demo", "web");
        p.uid = "p-uid".into();
        p.resource_group = Some("rg".into());
        let mut b = ObservedObject::new(ObjectKind::TrafficManagerBackend, "hub", "demo", "web");
        b.uid = "b-uid".into();
        b.backend_profile = Some("web".into());
        f.observed.objects = vec![p.into(), b.into()];
        f
    }

    #[test]
    fn only_objects_being_deleted_with_our_finalizer_are_deleted() {
        let mut f = fleet();
        assert!(deletions(&f).is_empty(), "nothing is being deleted");
        for o in f.observed.objects.iter_mut().map(std::sync::Arc::make_mut) {
            o.deletion_timestamp = Some("2026-01-01T00:00:00Z".into());
            o.finalizers =
                vec!["networking.fleet.azure.com/traffic-manager-profile-cleanup".into()];
        }
        assert!(deletions(&f).is_empty(), "another controller's finalizer");
        for o in f.observed.objects.iter_mut().map(std::sync::Arc::make_mut) {
            o.finalizers.push(MIRROR_FINALIZER.into());
        }
        let d = deletions(&f);
        assert_eq!(d.len(), 2);
        let Deletion::Profile { at, .. } = &d[0] else {
            panic!("{d:?}")
        };
        assert_eq!(
            (at.resource_group.as_str(), at.name.as_str()),
            ("rg", "fleet-p-uid")
        );
        assert_eq!(
            d[1],
            Deletion::Endpoints {
                uid: "b-uid".into(),
                key: "demo/web".into(),
                at: Some(at.clone())
            }
        );
        f.azure = None;
        assert!(deletions(&f).is_empty(), "mirror off");
    }

    #[test]
    fn a_backend_whose_profile_object_is_gone_has_nothing_to_delete() {
        let mut f = fleet();
        f.observed.objects.remove(0);
        let b = std::sync::Arc::make_mut(&mut f.observed.objects[0]);
        b.deletion_timestamp = Some("2026-01-01T00:00:00Z".into());
        b.finalizers = vec![MIRROR_FINALIZER.into()];
        assert!(matches!(
            &deletions(&f)[..],
            [Deletion::Endpoints { at: None, .. }]
        ));
    }

    #[test]
    fn endpoint_ownership_by_prefix_ignores_case() {
        assert!(endpoint_of_backend("fleet-ABC#web#member-1", "abc"));
        assert!(!endpoint_of_backend("fleet-abcd#web#member-1", "abc"));
        assert!(!endpoint_of_backend("fleet-ab", "abc"));
    }
}
