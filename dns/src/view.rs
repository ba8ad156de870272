//! The `_health` TXT records: how an operator sees endpoint health with `dig`.
//!
//! Rendered per query from one [`crate::Snapshot`]: whether the zone serves each
//! endpoint comes from its compiled zone, the state and the last observation from
//! the health it pairs with that zone, so the two always agree. Only trusted
//! clients get here, so the strings built per query are not on the hot path.

use std::time::SystemTime;

use fleetdns_config::{Health, MonitorState, RoutingMethod};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record};

use crate::zone::HealthView;

/// Appends the records of `view` to `out`: a summary, then one record per
/// endpoint. TTL 0, so resolvers never cache the health view.
pub(crate) fn health_txt(owner: &Name, view: &HealthView, health: &Health, out: &mut Vec<Record>) {
    let now = SystemTime::now();
    let serving = view.endpoints().filter(|e| e.served).count();
    let mode = if view.fail_closed() {
        "fail-closed"
    } else {
        "fail-open"
    };
    let routing = view.routing();
    let priority = routing == RoutingMethod::Priority;
    let mut summary = vec![
        format!("profile={}", view.profile()),
        format!("endpoints={}", view.endpoints().len()),
        format!("serving={serving}"),
        format!("mode={mode}"),
        format!("routing={}", routing.name()),
    ];
    match routing {
        RoutingMethod::MultiValue { max_return } => {
            summary.push(format!("max-return={max_return}"))
        }
        RoutingMethod::Priority => {
            // The served endpoints are the active priority's (best first).
            let active = view
                .endpoints()
                .filter(|e| e.served)
                .map(|e| e.priority)
                .min();
            summary.push(match active {
                Some(p) => format!("active-priority={p}"),
                None => "active-priority=none".to_string(),
            });
        }
        RoutingMethod::Weighted => {}
    }
    out.push(Record::from_rdata(
        owner.clone(),
        0,
        RData::TXT(TXT::new(summary)),
    ));
    for e in view.endpoints() {
        let h = health.get(e.id);
        let state = match (e.always_serve, h) {
            (true, _) => MonitorState::Unmonitored,
            (false, Some(h)) => h.state,
            (false, None) => MonitorState::CheckingEndpoint,
        };
        let mut strings = vec![
            format!("endpoint={}", e.id),
            format!("cluster={}", e.cluster),
            format!("target={}", e.target),
            format!("weight={}", e.weight),
            format!("state={state:?}"),
            format!("served={}", if e.served { "yes" } else { "no" }),
        ];
        if priority {
            strings.push(format!("priority={}", e.priority));
            strings.push(format!("active={}", if e.served { "yes" } else { "no" }));
        }
        match h.and_then(|h| h.last.as_ref()) {
            Some(last) => {
                let age = now.duration_since(last.at).unwrap_or_default().as_secs();
                strings.push(format!("last={}", last.detail));
                strings.push(format!("age={age}s"));
                strings.push(format!(
                    "failures={}",
                    h.map_or(0, |h| h.consecutive_failures)
                ));
            }
            None => strings.push("last=none".to_string()),
        }
        out.push(Record::from_rdata(
            owner.clone(),
            0,
            RData::TXT(TXT::new(strings)),
        ));
    }
}
