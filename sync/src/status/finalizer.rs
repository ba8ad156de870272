//! fleetdns's finalizer ([`MIRROR_FINALIZER`]) on TrafficManagerProfiles and
//! TrafficManagerBackends: Kubernetes keeps a deleted object until the mirror
//! has deleted what it created in Azure.
//!
//! Same semantics as fleet-networking's own finalizers, which fleetdns never
//! touches:
//! - added only once the Azure profile exists (TMPc:216-225,
//!   pkg/controllers/hub/trafficmanagerprofile/controller.go), so a profile that
//!   could never be created (wrong resource group, 403) never blocks deletion;
//! - removed once the Azure side is deleted, 404 counting as deleted
//!   (TMPc:160-174; TMBc:178-187 for backends' endpoints), which the mirror
//!   reports as `MirrorStatus::finalized`.
//!
//! Only while the mirror is on and the object's status mode is owner: in observer
//! mode fleet-networking owns the Azure side, so fleetdns must not hold up a
//! deletion — its finalizer is then removed, as it is when the mirror is off.
//!
//! Writes are JSON patches of `metadata.finalizers` that first `test` the list as
//! observed (or the `resourceVersion` when there is none) and the uid, so another
//! controller's concurrent change or a re-created object makes the patch fail (and
//! be retried from a fresh observation) instead of being overwritten.

use std::collections::HashMap;

use fleetdns_config::azure::MIRROR_FINALIZER;
use fleetdns_config::crd::api_resource;
use fleetdns_config::{Fleet, ObjectKind, ObservedObject, StatusMode};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{json, Value};
use tracing::info;

use super::desired::Mode;
use super::mode::resolve_observed;
use crate::azure::MirrorStatus;

/// Add or remove fleetdns's finalizer on one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Kind of the object.
    pub kind: ObjectKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The object's uid (tested by the patch).
    pub uid: String,
    /// `true`: add; `false`: remove.
    pub add: bool,
    /// The finalizers as observed.
    pub observed: Vec<String>,
    /// The resourceVersion as observed (tested when there are no finalizers).
    pub resource_version: String,
}

/// The finalizer changes the fleet and the mirror's last pass call for (pure).
pub fn plan(fleet: &Fleet, mirror: &MirrorStatus, setting: StatusMode) -> Vec<Change> {
    let mirror_on = fleet.azure.is_some();
    let objects = &fleet.observed.objects;
    // Live profile objects by namespace and name, for backends to find theirs
    // (first of equal names, as a scan would).
    let mut profiles: HashMap<&str, HashMap<&str, &ObservedObject>> = HashMap::new();
    if mirror_on {
        for x in objects {
            if x.kind == ObjectKind::TrafficManagerProfile && !x.deleting() {
                profiles
                    .entry(&x.namespace)
                    .or_default()
                    .entry(&x.name)
                    .or_insert(x);
            }
        }
    }
    let mut out = Vec::new();
    for o in objects {
        if !matches!(
            o.kind,
            ObjectKind::TrafficManagerProfile | ObjectKind::TrafficManagerBackend
        ) || o.uid.is_empty()
        {
            continue;
        }
        let has = o.has_finalizer(MIRROR_FINALIZER);
        let owner = resolve_observed(setting, o) == Mode::Owner;
        let add = if o.deleting() {
            // Kubernetes refuses new finalizers on an object being deleted.
            false
        } else if mirror_on && owner {
            !has && in_azure(o, &profiles, mirror)
        } else {
            false
        };
        let remove =
            has && (!mirror_on || !owner || (o.deleting() && mirror.finalized.contains(&o.uid)));
        if add || remove {
            out.push(Change {
                kind: o.kind,
                namespace: o.namespace.clone(),
                name: o.name.clone(),
                uid: o.uid.clone(),
                add,
                observed: o.finalizers.clone(),
                resource_version: o.resource_version.clone(),
            });
        }
    }
    out
}

/// Whether the Azure profile of `o` (its own, or for a backend its profile's)
/// exists, as the mirror's last pass read it back.
fn in_azure(
    o: &ObservedObject,
    profiles: &HashMap<&str, HashMap<&str, &ObservedObject>>,
    mirror: &MirrorStatus,
) -> bool {
    let profile = match o.kind {
        ObjectKind::TrafficManagerProfile => Some(o),
        _ => o
            .backend_profile
            .as_deref()
            .and_then(|p| profiles.get(o.namespace.as_str())?.get(p).copied()),
    };
    let Some(p) = profile else { return false };
    mirror
        .profiles
        .get(&format!("{}/{}", p.namespace, p.name))
        .is_some_and(|s| {
            s.dns_name.is_some() && s.name.eq_ignore_ascii_case(&format!("fleet-{}", p.uid))
        })
}

/// The JSON patch carrying out `c`.
pub fn patch_body(c: &Change) -> Value {
    let mut ops = vec![json!({"op": "test", "path": "/metadata/uid", "value": c.uid})];
    let mut next: Vec<String> = c
        .observed
        .iter()
        .filter(|f| *f != MIRROR_FINALIZER)
        .cloned()
        .collect();
    if c.add {
        next.push(MIRROR_FINALIZER.to_string());
    }
    if c.observed.is_empty() {
        ops.push(
            json!({"op": "test", "path": "/metadata/resourceVersion", "value": c.resource_version}),
        );
        ops.push(json!({"op": "add", "path": "/metadata/finalizers", "value": next}));
    } else {
        ops.push(json!({"op": "test", "path": "/metadata/finalizers", "value": c.observed}));
        ops.push(json!({"op": "replace", "path": "/metadata/finalizers", "value": next}));
    }
    Value::Array(ops)
}

/// Sends one change to the hub. A refused test (the object changed) or a 404 is
/// not an error worth logging loudly: the next observation decides again.
pub async fn apply(client: &kube::Client, c: &Change) -> Result<(), kube::Error> {
    let ar = api_resource(c.kind);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &c.namespace, &ar);
    let patch: json_patch::Patch =
        serde_json::from_value(patch_body(c)).map_err(kube::Error::SerdeError)?;
    api.patch(&c.name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await?;
    info!(kind = ar.kind.as_str(), namespace = %c.namespace, name = %c.name, finalizer = MIRROR_FINALIZER, added = c.add, "finalizer written");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::reconcile::ProfileStatus;
    use crate::azure::Programmed;

    fn fleet(mirror_on: bool) -> Fleet {
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
        if !mirror_on {
            f.azure = None;
        }
        let mut p = ObservedObject::new(ObjectKind::TrafficManagerProfile, "hub", "demo", "web");
        p.uid = "p1".into();
        p.resource_version = "7".into();
        let mut b = ObservedObject::new(ObjectKind::TrafficManagerBackend, "hub", "demo", "web");
        b.uid = "b1".into();
        b.backend_profile = Some("web".into());
        f.observed.objects = vec![p.into(), b.into()];
        f
    }

    fn programmed(name: &str) -> MirrorStatus {
        let mut m = MirrorStatus::default();
        m.profiles.insert(
            "demo/web".into(),
            ProfileStatus {
                name: name.into(),
                resource_id: String::new(),
                dns_name: Some("demo-web.trafficmanager.net".into()),
                programmed: Programmed::pending("x"),
                endpoints: Default::default(),
            },
        );
        m
    }

    #[test]
    fn added_in_owner_mode_once_the_azure_profile_exists() {
        let f = fleet(true);
        assert!(plan(&f, &MirrorStatus::default(), StatusMode::Owner).is_empty());
        assert!(plan(&f, &programmed("fleet-other"), StatusMode::Owner).is_empty());
        let c = plan(&f, &programmed("fleet-p1"), StatusMode::Owner);
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.add));
        assert!(plan(&f, &programmed("fleet-p1"), StatusMode::Observer).is_empty());
        assert!(plan(&fleet(false), &programmed("fleet-p1"), StatusMode::Owner).is_empty());
    }

    #[test]
    fn removed_when_the_mirror_finished_or_does_not_own_the_azure_side() {
        let mut f = fleet(true);
        for o in f.observed.objects.iter_mut().map(std::sync::Arc::make_mut) {
            o.finalizers = vec!["other/keep".into(), MIRROR_FINALIZER.into()];
        }
        assert!(plan(&f, &programmed("fleet-p1"), StatusMode::Owner).is_empty());
        let removed = plan(&f, &programmed("fleet-p1"), StatusMode::Observer);
        assert!(removed.len() == 2 && removed.iter().all(|c| !c.add));
        std::sync::Arc::make_mut(&mut f.observed.objects[0]).deletion_timestamp =
            Some("2026-01-01T00:00:00Z".into());
        assert!(plan(&f, &programmed("fleet-p1"), StatusMode::Owner).is_empty());
        let mut m = programmed("fleet-p1");
        m.finalized.push("p1".into());
        let c = plan(&f, &m, StatusMode::Owner);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].name.as_str(), c[0].add), ("web", false));
        assert_eq!(c[0].kind, ObjectKind::TrafficManagerProfile);
    }

    #[test]
    fn patches_test_before_they_write_and_keep_other_finalizers() {
        let mut c = Change {
            kind: ObjectKind::TrafficManagerProfile,
            namespace: "demo".into(),
            name: "web".into(),
            uid: "p1".into(),
            add: true,
            observed: vec![],
            resource_version: "7".into(),
        };
        assert_eq!(
            patch_body(&c),
            json!([
                {"op": "test", "path": "/metadata/uid", "value": "p1"},
                {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
                {"op": "add", "path": "/metadata/finalizers", "value": [MIRROR_FINALIZER]},
            ])
        );
        c.add = false;
        c.observed = vec!["a".into(), MIRROR_FINALIZER.into()];
        assert_eq!(
            patch_body(&c)[2],
            json!({"op": "replace", "path": "/metadata/finalizers", "value": ["a"]})
        );
    }
}
