//! Preflight for Kubernetes mode (`fleetdns check`): before `serve` binds a socket, can
//! each cluster be reached the way the settings say, and may fleetdns do there what it
//! will do?
//!
//! Per cluster, in order, stopping at the first failure (later checks depend on earlier
//! ones): the kubeconfig context resolves to a client; the API server answers `/version`
//! (unreachable) and accepts the credentials (401); the fleet networking CRDs the cluster
//! is read for are served (discovery); and a `SelfSubjectAccessReview` allows every verb on
//! every resource the source reads (list, watch) and, with status write-back, the status
//! writer and its Lease write. An access review is a question, not a change: the source
//! still writes nothing.

use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use super::compose::Resource;
use super::{connect, watch};
use fleetdns_config::{ClusterConnection, KubernetesSettings};

/// How long one API request of the preflight may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong with one cluster, most fundamental first (the order of the checks).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum Problem {
    /// The kubeconfig or its context cannot be used (missing context, unreadable file).
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// No answer from the API server.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The API server rejected the credentials (401).
    #[error("credentials rejected: {0}")]
    Credentials(String),
    /// A CRD fleetdns reads is not installed (not served).
    #[error("CRD missing: {0}")]
    MissingCrd(String),
    /// RBAC does not allow something fleetdns does.
    #[error("permission missing: {0}")]
    Forbidden(String),
}

/// The verdict on one cluster.
#[derive(Clone, Debug)]
pub struct Report {
    /// Cluster name in the settings.
    pub cluster: String,
    /// kubeconfig context (`<current>` when none is named).
    pub context: String,
    /// The API server's version, when it answered.
    pub server_version: Option<String>,
    /// What is wrong, empty when all is well.
    pub problems: Vec<Problem>,
    /// Hub mode, on the hub: the members it shows (exports' namespaces, MemberClusters).
    pub members: Vec<super::roster::Member>,
}

/// One (verb, resource) fleetdns needs, for an access review.
struct Need {
    verb: &'static str,
    group: String,
    resource: String,
    subresource: Option<&'static str>,
    namespace: Option<String>,
    /// The one object the verb is asked for (RBAC `resourceNames`), if any.
    name: Option<String>,
}

/// Checks every cluster of `k` (the hub, then the members).
pub async fn check(k: &KubernetesSettings) -> Vec<Report> {
    let mut out = vec![check_cluster(k, &k.hub, true).await];
    for m in &k.members {
        out.push(check_cluster(k, m, false).await);
    }
    out
}

async fn check_cluster(k: &KubernetesSettings, c: &ClusterConnection, hub: bool) -> Report {
    let mut report = Report {
        cluster: c.name.clone(),
        context: c.context.clone().unwrap_or_else(|| "<current>".into()),
        server_version: None,
        problems: Vec::new(),
        members: Vec::new(),
    };
    let auth = if hub { k.hub_auth.as_ref() } else { None };
    let client =
        match connect::hub_client(k.kubeconfig.as_deref(), c.context.as_deref(), &c.name, auth)
            .await
        {
            Ok(client) => client,
            Err(e) => {
                report.problems.push(Problem::Kubeconfig(e.to_string()));
                return report;
            }
        };
    match tokio::time::timeout(REQUEST_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(v)) => report.server_version = Some(v.git_version),
        Ok(Err(kube::Error::Api(s))) if s.code == 401 => {
            report
                .problems
                .push(Problem::Credentials(s.message.clone()));
            return report;
        }
        // Any other API answer (403 on /version, say) means the server is there.
        Ok(Err(kube::Error::Api(_))) => {}
        Ok(Err(e)) => {
            report.problems.push(Problem::Unreachable(e.to_string()));
            return report;
        }
        Err(_) => {
            report.problems.push(Problem::Unreachable(format!(
                "no answer within {REQUEST_TIMEOUT:?}"
            )));
            return report;
        }
    }
    let read: &[Resource] = if hub && k.hub_mode.is_some() {
        // Hub mode reads the members' exports from the hub too.
        &[
            Resource::Profiles,
            Resource::Backends,
            Resource::ServiceImports,
            Resource::InternalExports,
        ]
    } else if hub {
        &[Resource::Profiles, Resource::Backends]
    } else {
        &[Resource::Services, Resource::Exports]
    };
    for r in read {
        if let Some(p) = missing_crd(&client, *r).await {
            report.problems.push(p);
        }
    }
    if !report.problems.is_empty() {
        return report;
    }
    for need in needs(k, c, hub, read) {
        if let Some(p) = review(&client, &need).await {
            report.problems.push(p);
        }
    }
    if hub && k.hub_mode.is_some() && report.problems.is_empty() {
        report.members = super::roster::members(&client).await;
    }
    report
}

/// Whether the resource of `r` is served (core types always are).
async fn missing_crd(client: &kube::Client, r: Resource) -> Option<Problem> {
    let ar = watch::api_resource(r);
    if ar.group.is_empty() {
        return None;
    }
    let what = format!("{}.{} ({})", ar.plural, ar.group, ar.api_version);
    let listed = tokio::time::timeout(
        REQUEST_TIMEOUT,
        client.list_api_group_resources(&ar.api_version),
    )
    .await;
    match listed {
        Ok(Ok(list)) if list.resources.iter().any(|x| x.name == ar.plural) => None,
        Ok(Ok(_)) => Some(Problem::MissingCrd(format!("{what} is not served"))),
        Ok(Err(kube::Error::Api(s))) if s.code == 404 => Some(Problem::MissingCrd(format!(
            "{what}: the API group version is not served"
        ))),
        Ok(Err(e)) => Some(Problem::Unreachable(format!("discovery of {what}: {e}"))),
        Err(_) => Some(Problem::Unreachable(format!(
            "discovery of {what}: no answer within {REQUEST_TIMEOUT:?}"
        ))),
    }
}

fn needs(k: &KubernetesSettings, c: &ClusterConnection, hub: bool, read: &[Resource]) -> Vec<Need> {
    let scopes: Vec<Option<String>> = if c.namespaces.is_empty() {
        vec![None]
    } else {
        c.namespaces.iter().cloned().map(Some).collect()
    };
    let mut out = Vec::new();
    for r in read {
        let ar = watch::api_resource(*r);
        for ns in &scopes {
            for verb in ["list", "watch"] {
                out.push(Need {
                    verb,
                    group: ar.group.clone(),
                    resource: ar.plural.clone(),
                    subresource: None,
                    namespace: ns.clone(),
                    name: None,
                });
            }
            let writes_status =
                k.write_status && (hub || (k.manage_service_exports && *r == Resource::Exports));
            if writes_status && *r != Resource::Services {
                out.push(Need {
                    verb: "patch",
                    group: ar.group.clone(),
                    resource: ar.plural.clone(),
                    subresource: Some("status"),
                    namespace: ns.clone(),
                    name: None,
                });
            }
            // fleetdns's finalizer (`fleetdns.io/azure-mirror`) on profiles and
            // backends, written by the status writer unless in observer mode.
            if hub
                && k.write_status
                && k.status_mode != fleetdns_config::StatusMode::Observer
                && matches!(r, Resource::Profiles | Resource::Backends)
            {
                out.push(Need {
                    verb: "patch",
                    group: ar.group.clone(),
                    resource: ar.plural.clone(),
                    subresource: None,
                    namespace: ns.clone(),
                    name: None,
                });
            }
        }
    }
    if hub && k.write_status {
        // Events on status transitions and conflicts, where the objects are.
        for ns in &scopes {
            out.push(Need {
                verb: "create",
                group: "events.k8s.io".into(),
                resource: "events".into(),
                subresource: None,
                namespace: ns.clone(),
                name: None,
            });
        }
        // The Lease by its name (the installs grant these on that one Lease);
        // create cannot be limited to a name in RBAC.
        for verb in ["get", "list", "watch", "update", "create"] {
            out.push(Need {
                verb,
                group: "coordination.k8s.io".into(),
                resource: "leases".into(),
                subresource: None,
                namespace: Some(k.lease_namespace.clone()),
                name: (verb != "create").then(|| k.lease_name.clone()),
            });
        }
    }
    out
}

async fn review(client: &kube::Client, n: &Need) -> Option<Problem> {
    let ssar = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(n.verb.into()),
                group: Some(n.group.clone()),
                resource: Some(n.resource.clone()),
                subresource: n.subresource.map(String::from),
                namespace: n.namespace.clone(),
                name: n.name.clone(),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let resource = match n.subresource {
        Some(s) => format!("{}/{s}", n.resource),
        None => n.resource.clone(),
    };
    let qualified = if n.group.is_empty() {
        resource
    } else {
        format!("{resource}.{}", n.group)
    };
    let scope = n.namespace.as_ref().map_or_else(
        || "in all namespaces".to_string(),
        |ns| format!("in namespace {ns}"),
    );
    let what = match &n.name {
        Some(name) => format!("{} {qualified} {name:?} {scope}", n.verb),
        None => format!("{} {qualified} {scope}", n.verb),
    };
    let answer =
        tokio::time::timeout(REQUEST_TIMEOUT, api.create(&PostParams::default(), &ssar)).await;
    match answer {
        Ok(Ok(r)) if r.status.as_ref().is_some_and(|s| s.allowed) => None,
        Ok(Ok(r)) => {
            let why = r
                .status
                .and_then(|s| s.reason)
                .filter(|r| !r.is_empty())
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            Some(Problem::Forbidden(format!("may not {what}{why}")))
        }
        Ok(Err(e)) => Some(Problem::Forbidden(format!(
            "cannot ask whether it may {what}: {e}"
        ))),
        Err(_) => Some(Problem::Unreachable(format!(
            "access review of {what}: no answer within {REQUEST_TIMEOUT:?}"
        ))),
    }
}
