//! Events (events.k8s.io/v1) about the objects fleetdns writes status for, so
//! that `kubectl describe` shows what happened: a transition of
//! fleet-networking's conditions (reason = the condition's reason, as upstream
//! names its events `Programmed`, `Accepted`, …), and a conflict with another
//! field manager in owner mode (`StatusConflict`, once per situation).
//!
//! Rate-limited per object like client-go's spam filter: a burst of
//! [`BURST`] events, then one per [`REFILL`]. An event that cannot be created is
//! logged and dropped; it never holds up a status write.

use std::collections::HashMap;
use std::time::Duration;

use fleetdns_config::crd::api_resource;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::time::Instant;
use tracing::debug;

use super::desired::Desired;

/// `reportingController` of every event.
pub const REPORTING_CONTROLLER: &str = "fleetdns.io/status-writer";
/// Events an object may get at once.
pub const BURST: u32 = 5;
/// After the burst, one more event per this long.
pub const REFILL: Duration = Duration::from_secs(30);

/// One event to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// CamelCase reason.
    pub reason: String,
    /// Human-readable note (`kubectl describe`'s Message).
    pub note: String,
}

/// Sends events, at most [`BURST`] at once and then one per [`REFILL`] per object.
#[derive(Debug, Default)]
pub struct Recorder {
    /// `reportingInstance`: this replica's identity.
    pub instance: String,
    buckets: HashMap<String, (f64, Instant)>,
}

impl Recorder {
    /// A recorder reporting as `instance`, with every object's budget full.
    pub fn new(instance: String) -> Self {
        Self {
            instance,
            buckets: HashMap::new(),
        }
    }

    /// Whether an event about `uid` may go now (takes a token if so).
    pub fn allow(&mut self, uid: &str) -> bool {
        let now = Instant::now();
        let (tokens, at) = self
            .buckets
            .entry(uid.to_string())
            .or_insert((f64::from(BURST), now));
        let refill = now.duration_since(*at).as_secs_f64() / REFILL.as_secs_f64();
        *tokens = (*tokens + refill).min(f64::from(BURST));
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Sends `n` about `d` through `client`, if the rate limit allows. Returns
    /// whether it was sent.
    pub async fn send(&mut self, client: &kube::Client, d: &Desired, n: &Note) -> bool {
        if !self.allow(&d.uid) {
            debug!(namespace = %d.namespace, name = %d.name, reason = %n.reason, "event dropped by the rate limit");
            return false;
        }
        let api: Api<Event> = Api::namespaced(client.clone(), &d.namespace);
        let now = Timestamp::now();
        let event = event(d, n, &self.instance, now);
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => true,
            Err(e) => {
                debug!(namespace = %d.namespace, name = %d.name, reason = %n.reason, error = %e, "event not created");
                false
            }
        }
    }
}

/// The events.k8s.io/v1 Event for `n` about `d`.
pub fn event(d: &Desired, n: &Note, instance: &str, now: Timestamp) -> Event {
    let ar = api_resource(d.kind);
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{:x}", d.name, now.as_nanosecond())),
            namespace: Some(d.namespace.clone()),
            ..Default::default()
        },
        event_time: Some(MicroTime(now)),
        reporting_controller: Some(REPORTING_CONTROLLER.into()),
        reporting_instance: Some(instance.to_string()),
        action: Some("UpdateStatus".into()),
        reason: Some(n.reason.clone()),
        note: Some(n.note.chars().take(1024).collect()),
        type_: Some(n.type_.into()),
        regarding: Some(ObjectReference {
            api_version: Some(ar.api_version),
            kind: Some(ar.kind),
            name: Some(d.name.clone()),
            namespace: Some(d.namespace.clone()),
            uid: Some(d.uid.clone()).filter(|u| !u.is_empty()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Events for the transitions from `before` (condition type → (status, reason))
/// to `d`'s fleet-networking conditions: one per condition whose status or
/// reason changed, `Normal` when it is True, else `Warning`.
pub fn transitions(d: &Desired, before: &HashMap<String, (String, String)>) -> Vec<Note> {
    d.conditions
        .iter()
        .filter(|c| matches!(c.type_, "Programmed" | "Accepted" | "Valid"))
        .filter(|c| {
            before
                .get(c.type_)
                .is_none_or(|(s, r)| s != c.status || *r != c.reason)
        })
        .map(|c| Note {
            type_: if c.status == "True" {
                "Normal"
            } else {
                "Warning"
            },
            reason: c.reason.clone(),
            note: format!("{} is {}: {}", c.type_, c.status, c.message),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_one_per_refill_period() {
        let mut r = Recorder::new("me".into());
        for i in 0..BURST {
            assert!(r.allow("u"), "event {i} of the burst");
        }
        assert!(!r.allow("u"), "the burst is spent");
        assert!(r.allow("other"), "other objects have their own budget");
        tokio::time::advance(REFILL).await;
        assert!(r.allow("u"));
        assert!(!r.allow("u"));
    }
}
