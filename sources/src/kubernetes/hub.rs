//! Hub mode's exports: InternalServiceExports and ServiceImports on the hub, plus
//! the public IPs read from ARM, → member clusters' Services and their exports.
//!
//! A pure function of the [`Snapshot`], judged as fleet-networking's hub
//! controllers judge (Azure/fleet-networking @ 4fcffcf):
//! - which clusters count: the ServiceImport's `status.clusters`, written by the
//!   hub's InternalServiceExport controller (TMBc = `pkg/controllers/hub/
//!   trafficmanagerbackend/controller.go`:550-560). Where no hub controller has
//!   resolved the ServiceImport (KubeFleet without fleet-networking's hub agent, or
//!   the moment before it does), fleetdns resolves it as that controller would: the
//!   ports of the import (`status.ports`) or of the first export win, every export
//!   whose whole port list differs is a conflict, exports being deleted are skipped
//!   (SIc = `pkg/controllers/hub/serviceimport/controller.go`:101-124;
//!   ISEc = `pkg/controllers/hub/internalserviceexport/controller.go`:225-247);
//! - which exports become endpoints: `isValidTrafficManagerEndpoint`, TMBc:588-601
//!   (LoadBalancer only; never an internal load balancer; a public IP id; a DNS label);
//! - weight: `spec.weight`, nil → 1 (TMBc:606-610); 0 never reaches the hub, since
//!   the member agent unexports it (SEc:199-209), and fleetdns skips it alike.
//!
//! Members are the clusters of the `fleet-member-<cluster>` namespaces the exports
//! live in, plus those the hub's MemberCluster objects name (where it has them: a
//! member that joined and exports nothing yet); one that joins or leaves is just
//! objects appearing or going.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use fleetdns_config::hub::{member_of_namespace, HubMember, PublicIpStatus};
use fleetdns_config::settings::{ClusterSpec, ServiceSpec};
use fleetdns_config::{crd, ObjectKind, ObservedObject};

use super::compose::{Resource, Snapshot};
use super::public_ip::Wanted;

/// What the hub's exports contribute to a composition.
#[derive(Debug, Default)]
pub struct HubExports {
    /// One per member: the Services with a resolved public IP address.
    pub clusters: Vec<ClusterSpec>,
    /// (member, ServiceExport as fleetdns reads it) for every servable export.
    pub exports: Vec<(String, Value)>,
    /// Every export with its verdict (problems say why it is not served).
    pub observed: Vec<ObservedObject>,
    /// The public IPs the exports name, as last read.
    pub public_ips: Vec<PublicIpStatus>,
    /// Every member: of the exports' namespaces and of the MemberClusters.
    pub members: Vec<HubMember>,
}

/// The `Valid` reason fleetdns gives a served export whose public IP address is
/// from an earlier read (ARM failing); the backend's `fleetdns.io/Serving` says so.
pub const PUBLIC_IP_STALE: &str = "PublicIPStale";

/// What the rules said of one export.
#[derive(Default)]
struct Verdict {
    problems: Vec<String>,
    exported: bool,
    weight: Option<u32>,
    conflict: Option<String>,
    endpoint: Option<String>,
    stale: Option<String>,
}

/// One InternalServiceExport, as far as the rules need it.
struct Export<'a> {
    member: String,
    object: &'a Value,
    service: (String, String),
    ports: Value,
    /// Order of export: `serviceReference.exportedSince`, then creation.
    since: (String, String),
}

/// Hub mode's member Services and exports from `snapshot` (hub cluster `hub`).
pub fn exports(snapshot: &Snapshot, hub: &str) -> HubExports {
    let mut out = HubExports::default();
    let mut verdicts: BTreeMap<(String, String, String), Verdict> = BTreeMap::new();
    let mut by_service: BTreeMap<(String, String), Vec<Export<'_>>> = BTreeMap::new();
    let mut members = BTreeSet::new();
    for ise in snapshot.objects(hub, Resource::InternalExports) {
        let ns = text(ise, "/metadata/namespace");
        let Some(member) = member_of_namespace(&ns) else {
            continue;
        };
        members.insert(member.to_string());
        let service = (
            text(ise, "/spec/serviceReference/namespace"),
            text(ise, "/spec/serviceReference/name"),
        );
        let key = (member.to_string(), service.0.clone(), service.1.clone());
        let cluster_id = text(ise, "/spec/serviceReference/clusterId");
        if cluster_id != member {
            verdicts.entry(key).or_default().problems.push(format!("serviceReference.clusterId {cluster_id:?} does not match the namespace {ns} (fleet-member-<cluster>); the member agent of {member} writes both"));
            continue;
        }
        if ise.pointer("/metadata/deletionTimestamp").is_some() {
            continue; // SIc:104-107: being deleted
        }
        by_service.entry(service.clone()).or_default().push(Export {
            member: member.to_string(),
            object: ise,
            service,
            ports: ise.pointer("/spec/ports").cloned().unwrap_or(Value::Null),
            since: (
                text(ise, "/spec/serviceReference/exportedSince"),
                text(ise, "/metadata/creationTimestamp"),
            ),
        });
    }
    // MemberClusters, where the hub has them: members without exports yet count too;
    // one being deleted (leaving the fleet) no longer does by itself.
    let mut joined: BTreeMap<String, Option<String>> = BTreeMap::new();
    for mc in snapshot.objects(hub, Resource::MemberClusters) {
        if mc.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let name = text(mc, "/metadata/name");
        let status = mc
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == "Joined"))
            .and_then(|c| c["status"].as_str())
            .map(str::to_string);
        members.insert(name.clone());
        joined.insert(name, status);
    }
    let mut clusters: BTreeMap<String, Vec<ServiceSpec>> =
        members.iter().map(|m| (m.clone(), Vec::new())).collect();
    let mut ip_users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ((sns, sname), mut list) in by_service {
        list.sort_by(|a, b| (&a.since, &a.member).cmp(&(&b.since, &b.member)));
        let import = snapshot
            .collections
            .get(&(hub.to_string(), Resource::ServiceImports))
            .and_then(|m| m.get(&(sns.clone(), sname.clone())));
        let listed: Option<BTreeSet<String>> = import
            .and_then(|i| i.pointer("/status/clusters"))
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.iter()
                    .filter_map(|c| c.get("cluster").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            });
        let resolved_ports = import
            .and_then(|i| i.pointer("/status/ports"))
            .filter(|p| p.as_array().is_some_and(|a| !a.is_empty()))
            .cloned()
            .or_else(|| list.first().map(|e| e.ports.clone()));
        let first = list.first().map(|e| e.member.clone()).unwrap_or_default();
        for e in &list {
            let key = (e.member.clone(), sns.clone(), sname.clone());
            let accepted = match &listed {
                Some(set) => set.contains(&e.member),
                // ISEc:227 / SIc:119: the whole port list, order included.
                None => Some(&e.ports) == resolved_ports.as_ref(),
            };
            if !accepted {
                let why = if listed.is_some() {
                    format!("Conflict: ServiceImport {sns}/{sname} does not list cluster {}; its ports differ from the ports the import resolved (fleet-networking marks this export Conflict=True)", e.member)
                } else {
                    format!("Conflict: the ports of Service {sns}/{sname} in cluster {} differ from those of cluster {first}, which was exported first; the first resolved spec stays", e.member)
                };
                // It reached the hub (exported) but the import does not take it.
                let v = verdicts.entry(key).or_default();
                v.exported = weight_of(e) != Some(0);
                v.conflict = Some(why.clone());
                v.problems.push(why);
                continue;
            }
            let v = verdicts.entry(key.clone()).or_default();
            v.exported = weight_of(e) != Some(0);
            match endpoint(e, snapshot) {
                Err(Why::Endpoint(why)) => {
                    v.endpoint = Some(why.clone());
                    v.problems.push(why);
                }
                Err(Why::Other(why)) => v.problems.push(why),
                Ok(None) => {} // weight 0: unexported
                Ok(Some((service, weight, stale))) => {
                    v.weight = Some(weight);
                    v.stale = stale;
                    if let Some(id) = &service.public_ip_resource_id {
                        ip_users
                            .entry(id.clone())
                            .or_default()
                            .push(format!("{}/{}/{}", e.member, e.service.0, e.service.1));
                    }
                    clusters.entry(e.member.clone()).or_default().push(service);
                    out.exports
                        .push((e.member.clone(), service_export(e, weight)));
                }
            }
        }
    }
    out.members = members
        .iter()
        .map(|m| HubMember {
            name: m.clone(),
            member_cluster: joined.contains_key(m),
            joined: joined.get(m).cloned().flatten(),
            exports: verdicts.keys().filter(|(c, _, _)| c == m).count(),
            served: out.exports.iter().filter(|(c, _)| c == m).count(),
        })
        .collect();
    for ((member, ns, name), v) in verdicts {
        let mut o = ObservedObject::new(ObjectKind::ServiceExport, &member, &ns, &name);
        o.exported = v.exported;
        o.export_weight = v.weight;
        o.export_conflict = v.conflict;
        o.endpoint_problem = v.endpoint;
        o.export_validity = Some(match v.stale {
            // Served, and the backend's Serving condition says from what.
            Some(why) => (PUBLIC_IP_STALE.to_string(), why),
            None => (
                "ServiceIsValid".to_string(),
                format!("exported service {ns}/{name} reached the hub"),
            ),
        });
        o.problems = v.problems;
        out.observed.push(o);
    }
    // Exports with an unusable public IP name it too, so /status lists every IP.
    for ise in snapshot.objects(hub, Resource::InternalExports) {
        if let Some(id) = ise
            .pointer("/spec/publicIPResourceID")
            .and_then(Value::as_str)
        {
            ip_users.entry(id.to_string()).or_default();
        }
    }
    out.public_ips = ip_users
        .into_iter()
        .map(|(id, exports)| {
            let known = snapshot.public_ips.get(&id);
            PublicIpStatus {
                address: known.and_then(|p| p.address.clone()),
                fqdn: known.and_then(|p| p.fqdn.clone()),
                stale: known.is_some_and(|p| p.stale),
                problem: match known {
                    Some(p) => p.problem.clone(),
                    None => Some("not read from ARM yet".into()),
                },
                id,
                exports,
            }
        })
        .collect();
    out.clusters = clusters
        .into_iter()
        .map(|(name, services)| ClusterSpec {
            name,
            labels: BTreeMap::new(),
            services,
        })
        .collect();
    out
}

/// The public IPs to read: every id an export names, with what identifies the
/// export's current version (a change reads the IP again).
pub fn wanted(snapshot: &Snapshot, hub: &str) -> BTreeMap<String, Wanted> {
    let mut out: BTreeMap<String, Wanted> = BTreeMap::new();
    for ise in snapshot.objects(hub, Resource::InternalExports) {
        let Some(id) = ise
            .pointer("/spec/publicIPResourceID")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let w = out.entry(id.to_string()).or_default();
        w.versions.insert(format!(
            "{}/{}@{}",
            text(ise, "/metadata/namespace"),
            text(ise, "/metadata/name"),
            text(ise, "/metadata/resourceVersion")
        ));
        w.exports.insert(format!(
            "{}/{}",
            text(ise, "/metadata/namespace"),
            text(ise, "/metadata/name")
        ));
    }
    out
}

/// Why an export is not an endpoint.
enum Why {
    /// `isValidTrafficManagerEndpoint` says no: upstream's backend is not Accepted.
    Endpoint(String),
    /// fleetdns cannot serve it (weight out of range, the public IP unread or empty).
    Other(String),
}

/// The weight an export asks for (`None` when absent).
fn weight_of(e: &Export<'_>) -> Option<i64> {
    e.object.pointer("/spec/weight").and_then(Value::as_i64)
}

/// `isValidTrafficManagerEndpoint` (TMBc:588-601), then the address ARM gave:
/// the member Service, the export weight and, when the address is from an earlier
/// read, why it is stale; `None` for weight 0; or why not.
fn endpoint(
    e: &Export<'_>,
    snapshot: &Snapshot,
) -> Result<Option<(ServiceSpec, u32, Option<String>)>, Why> {
    let spec = e.object.get("spec").cloned().unwrap_or(Value::Null);
    let ty = spec.get("type").and_then(Value::as_str).unwrap_or("");
    let (ns, name) = &e.service;
    if ty != "LoadBalancer" {
        return Err(Why::Endpoint(format!("unsupported service type {ty:?}: only LoadBalancer Services become DNS endpoints (Service {ns}/{name} in cluster {})", e.member)));
    }
    if spec.get("isInternalLoadBalancer").and_then(Value::as_bool) == Some(true) {
        return Err(Why::Endpoint(format!("internal load balancer is not supported: Service {ns}/{name} in cluster {} has a private address the hub does not hold; to serve private answers use source: members with the profile annotation {}", e.member, fleetdns_config::hub::SERVE_INTERNAL_ANNOTATION)));
    }
    let Some(id) = spec.get("publicIPResourceID").and_then(Value::as_str) else {
        return Err(Why::Endpoint(format!("in the processing of configuring public IP: the member agent of {} has not found the public IP of Service {ns}/{name} yet", e.member)));
    };
    if spec.get("isDNSLabelConfigured").and_then(Value::as_bool) != Some(true) {
        return Err(Why::Endpoint(format!("DNS label is not configured to the public IP {id}: set the Service annotation service.beta.kubernetes.io/azure-dns-label-name in cluster {}", e.member)));
    }
    let weight = match weight_of(e) {
        None => 1,
        Some(w @ 0..=1000) => w as u32,
        Some(w) => {
            return Err(Why::Other(format!(
                "weight {w} is not allowed; allowed: 0 to 1000"
            )))
        }
    };
    if weight == 0 {
        return Ok(None);
    }
    let Some(ip) = snapshot.public_ips.get(id) else {
        return Err(Why::Other(format!("public IP {id} not read from ARM yet")));
    };
    let Some(address) = &ip.address else {
        return Err(Why::Other(
            ip.problem
                .clone()
                .unwrap_or_else(|| format!("public IP {id} has no address")),
        ));
    };
    let stale = ip.stale.then(|| {
        format!(
            "last known address {address} served; {}",
            ip.problem.as_deref().unwrap_or("the latest read failed")
        )
    });
    Ok(Some((
        ServiceSpec {
            namespace: ns.clone(),
            name: name.clone(),
            load_balancer: vec![address.clone()],
            public_ip_resource_id: Some(id.to_string()),
            internal_load_balancer: None,
        },
        weight,
        stale,
    )))
}

/// The ServiceExport the member holds, as fleetdns reads exports: its weight annotation.
fn service_export(e: &Export<'_>, weight: u32) -> Value {
    json!({
        "apiVersion": format!("{}/v1beta1", crd::GROUP),
        "kind": "ServiceExport",
        "metadata": {
            "name": e.service.1,
            "namespace": e.service.0,
            "uid": text(e.object, "/spec/serviceReference/uid"),
            // The InternalServiceExport's version: the parse cache keys on it.
            "resourceVersion": text(e.object, "/metadata/resourceVersion"),
            "annotations": {crd::WEIGHT_ANNOTATION: weight.to_string()},
        },
    })
}

fn text(o: &Value, pointer: &str) -> String {
    o.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}
