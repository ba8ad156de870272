//! fleetdns's own condition, `fleetdns.io/Serving`: what fleetdns answers, which
//! endpoints are Degraded and why, and why each export that is not an endpoint is
//! left out (weight 0 included). Written in both modes; never changes the
//! meaning of fleet-networking's conditions.
//!
//! The profile's message names a routing method other than Weighted and, for
//! Priority, the backends/clusters of the active priority.
//!
//! Reasons: `Serving` (True: some endpoint is available), `FailOpen` (True: all
//! Degraded, answered anyway), `AllDegraded` (False: all Degraded and the profile
//! fails closed), `NoEndpoints` (False: in the zone, nothing to answer with),
//! `NotServed` (False: not in the zone, with the problems that keep it out).

use fleetdns_config::routing::{self, RoutingMethod};
use fleetdns_config::{Endpoint, Health, MonitorState, ObservedObject, Profile};

use super::index::Index;
use super::{bounded, problems_text, Condition, SERVING};

pub(super) fn profile(
    ix: &Index<'_>,
    health: Option<&Health>,
    o: &ObservedObject,
    served: Option<&Profile>,
) -> Condition {
    let Some(p) = served.filter(|_| o.problems.is_empty()) else {
        return Condition::new(
            SERVING,
            "False",
            "NotServed",
            format!(
                "fleetdns does not answer for this profile: {}",
                problems_text(&o.problems)
            ),
        );
    };
    let eps: Vec<&Endpoint> = p.endpoints.iter().collect();
    let mut left_out = Vec::new();
    for b in ix.backends_of(&o.namespace, &o.name) {
        left_out.extend(
            left_out_of(ix, b)
                .into_iter()
                .map(|w| format!("backend {}: {w}", b.name)),
        );
    }
    judge(
        health,
        &format!("fleetdns answers {}{}", p.owner, routing(p, health)),
        &eps,
        p.fail_closed,
        &left_out,
    )
}

/// The routing method as the message says it (nothing for Weighted, the
/// default), with the active clusters of a Priority profile.
fn routing(p: &Profile, health: Option<&Health>) -> String {
    match p.routing {
        RoutingMethod::Weighted => String::new(),
        RoutingMethod::MultiValue { max_return } => {
            format!(" (MultiValue, up to {max_return} addresses per answer)")
        }
        RoutingMethod::Priority => {
            let none = Health::default();
            let active =
                routing::active_endpoints(&p.endpoints, health.unwrap_or(&none), p.fail_closed);
            match active.first() {
                None => " (Priority: no endpoint active)".to_string(),
                Some(first) => {
                    let clusters: Vec<String> = active
                        .iter()
                        .map(|e| format!("{}/{}", e.backend, e.cluster))
                        .collect();
                    format!(
                        " (Priority: active priority {}: {})",
                        first.priority,
                        clusters.join(", ")
                    )
                }
            }
        }
    }
}

pub(super) fn backend(ix: &Index<'_>, health: Option<&Health>, o: &ObservedObject) -> Condition {
    let profile = o
        .backend_profile
        .as_deref()
        .and_then(|name| ix.profile(&o.namespace, name));
    let left_out = left_out_of(ix, o);
    let Some(p) = profile else {
        let mut why = o.problems.clone();
        why.extend(left_out);
        return Condition::new(
            SERVING,
            "False",
            "NotServed",
            format!(
                "profile {:?} is not in the fleetdns zone: {}",
                o.backend_profile.as_deref().unwrap_or(""),
                problems_text(&why)
            ),
        );
    };
    let eps: Vec<&Endpoint> = p
        .endpoints
        .iter()
        .filter(|e| *e.backend == *o.name)
        .collect();
    judge(
        health,
        &format!("fleetdns answers {} with this backend", p.owner),
        &eps,
        p.fail_closed,
        &left_out,
    )
}

/// Why exports of the backend's Service are not endpoints, one line per cluster.
fn left_out_of(ix: &Index<'_>, b: &ObservedObject) -> Vec<String> {
    let mut out = Vec::new();
    if b.backend_weight == Some(0) {
        out.push("weight 0: the backend has no endpoints".to_string());
    }
    let service = b.backend_service.as_deref().unwrap_or("");
    for x in ix.exports_of(&b.namespace, service) {
        let validity = x.export_validity.as_ref();
        let why = if !x.problems.is_empty() {
            problems_text(&x.problems)
        } else if !x.exported {
            match validity {
                Some((_, m)) if m.contains("with 0 weight") => "weight 0: not exported".to_string(),
                Some((_, m)) => m.clone(),
                None => "not exported".to_string(),
            }
        } else if let Some((_, m)) = validity.filter(|(r, _)| r == "PublicIPStale") {
            // Hub mode, ARM failing: served, from the last address read.
            out.push(format!("cluster {}: stale: {m}", x.cluster));
            continue;
        } else if let Some((r, m)) = validity.filter(|(r, _)| r != "ServiceIsValid") {
            // Served, but say so: an invalid weight keeps the last good one.
            let w = x.export_weight.unwrap_or(0);
            out.push(format!(
                "cluster {}: served at its last good weight {w} ({r}: {m})",
                x.cluster
            ));
            continue;
        } else {
            continue;
        };
        out.push(format!("cluster {}: {why}", x.cluster));
    }
    for c in ix.fleet.observed.clusters.iter().filter(|c| !c.reachable) {
        out.push(format!(
            "cluster {} is unreachable; its last known state is served",
            c.name
        ));
    }
    out
}

fn judge(
    health: Option<&Health>,
    what: &str,
    eps: &[&Endpoint],
    fail_closed: bool,
    left_out: &[String],
) -> Condition {
    let state = |e: &Endpoint| health.map_or(MonitorState::CheckingEndpoint, |h| h.state_of(e));
    let available = eps.iter().filter(|e| state(e).is_available()).count();
    let degraded: Vec<String> = eps
        .iter()
        .filter(|e| state(e) == MonitorState::Degraded)
        .map(|e| {
            let detail = health
                .and_then(|h| h.get(&e.id))
                .and_then(|h| h.last.as_ref())
                .map(|l| l.detail.to_string())
                .unwrap_or_else(|| "probe failed".into());
            format!("cluster {} ({detail})", e.cluster)
        })
        .collect();
    let mut message = format!("{what} with {available} of {} endpoint(s)", eps.len());
    if !degraded.is_empty() {
        message.push_str(&format!("; Degraded: {}", degraded.join(", ")));
    }
    if !left_out.is_empty() {
        message.push_str(&format!("; left out: {}", left_out.join("; ")));
    }
    let message = bounded(message);
    let (status, reason) = if eps.is_empty() {
        ("False", "NoEndpoints")
    } else if available > 0 {
        ("True", "Serving")
    } else if fail_closed {
        ("False", "AllDegraded")
    } else {
        ("True", "FailOpen")
    };
    Condition::new(SERVING, status, reason, message)
}

#[cfg(test)]
mod routing_method {
    use std::sync::Arc;

    use fleetdns_config::testing::{endpoint, profile};
    use fleetdns_config::{EndpointHealth, Health, MonitorState, RoutingMethod};

    use super::routing;

    #[test]
    fn the_message_names_the_method_and_the_active_priority() {
        let p = profile("ns", "web")
            .routing(RoutingMethod::Priority)
            .endpoint(endpoint("a").backend("primary").cluster("east").priority(1))
            .endpoint(
                endpoint("b")
                    .backend("secondary")
                    .cluster("west")
                    .priority(2),
            )
            .build();
        assert_eq!(
            routing(&p, None),
            " (Priority: active priority 1: primary/east)"
        );
        let down: Health = [(
            Arc::from("a"),
            EndpointHealth {
                state: MonitorState::Degraded,
                consecutive_failures: 4,
                last: None,
            },
        )]
        .into_iter()
        .collect();
        assert_eq!(
            routing(&p, Some(&down)),
            " (Priority: active priority 2: secondary/west)"
        );
        let mv = profile("ns", "web")
            .routing(RoutingMethod::MultiValue { max_return: 4 })
            .build();
        assert_eq!(
            routing(&mv, None),
            " (MultiValue, up to 4 addresses per answer)"
        );
        assert_eq!(routing(&profile("ns", "web").build(), None), "");
    }
}
