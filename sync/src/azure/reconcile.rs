//! The mirror loop: on every fleet change and every resync interval, GET each
//! desired profile, [`plan`] the difference and send it.
//!
//! It runs in its own task and only reads the `Fleet` watch channel, so a slow,
//! throttled or failing ARM never delays DNS answers. A pass that ends with a
//! `Pending` profile (429, 5xx, transport or token errors) is retried with
//! exponential backoff and jitter (1 s doubling to 60 s), never earlier than a
//! `Retry-After` (the client enforces that for every request).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fleetdns_config::azure::AzureMirror;
use fleetdns_config::backoff::Backoff;
use fleetdns_config::Fleet;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::desired::{desired, DesiredProfile};
use super::diff::plan;
use super::metrics::Metrics;
use super::model::{prop, ArmCall, Method, API_VERSION};
use super::status::{Programmed, Reason};
use fleetdns_arm::{ArmClient, Resource, TokenSource};

/// What the mirror last saw and did, per profile (`namespace/name`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorStatus {
    /// Per profile (`namespace/name`): what the last pass saw and did.
    pub profiles: BTreeMap<String, ProfileStatus>,
    /// End of the last pass.
    pub last_pass: Option<SystemTime>,
    /// Passes completed since start.
    pub passes: u64,
}

/// One mirrored profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileStatus {
    /// ARM name, `fleet-<uid>`.
    pub name: String,
    /// ARM resource id (fleet-networking's `status.resourceID`).
    pub resource_id: String,
    /// `properties.dnsConfig.fqdn` as ARM reports it.
    pub dns_name: Option<String>,
    /// The `Programmed` condition the last pass arrived at.
    pub programmed: Programmed,
    /// `endpointMonitorStatus` per endpoint name, as ARM reports it.
    pub endpoints: BTreeMap<String, String>,
}

/// How to run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// One pass, then return.
    pub once: bool,
}

/// The calls a first sync into an empty subscription would make (`--dry-run`).
pub fn dry_run(fleet: &Fleet) -> Vec<ArmCall> {
    desired(fleet)
        .iter()
        .flat_map(|d| plan(d, None).unwrap_or_default())
        .collect()
}

struct Mirror {
    settings: AzureMirror,
    client: ArmClient,
}

fn same_client(a: &AzureMirror, b: &AzureMirror) -> bool {
    a.arm_endpoint == b.arm_endpoint
        && a.authority_host == b.authority_host
        && a.auth == b.auth
        && a.max_requests_per_second == b.max_requests_per_second
}

fn mirror(a: &AzureMirror, metrics: &Metrics) -> Result<Mirror, reqwest::Error> {
    let http = ArmClient::http()?;
    let tokens = Arc::new(TokenSource::new(
        a.auth.clone(),
        a.authority_host.clone(),
        Resource::arm(&a.arm_endpoint),
        http.clone(),
        metrics.arm.clone(),
    ));
    TokenSource::spawn_refresher(&tokens);
    Ok(Mirror {
        settings: a.clone(),
        client: ArmClient::new(
            http,
            a.arm_endpoint.clone(),
            tokens,
            metrics.arm.clone(),
            a.max_requests_per_second,
        ),
    })
}

/// Runs until `shutdown` (or after one pass with `once`). Returns the last status.
pub async fn run(
    mut fleet: watch::Receiver<Arc<Fleet>>,
    status: watch::Sender<Arc<MirrorStatus>>,
    metrics: Metrics,
    options: Options,
    shutdown: CancellationToken,
) -> Arc<MirrorStatus> {
    let mut current: Option<Mirror> = None;
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
        .expect("1 s to 60 s is a valid backoff");
    let mut passes = 0u64;
    loop {
        let f = fleet.borrow_and_update().clone();
        let wait = match &f.azure {
            None => None,
            Some(a) => {
                if !current
                    .as_ref()
                    .is_some_and(|m| same_client(&m.settings, a))
                {
                    match mirror(a, &metrics) {
                        Ok(m) => current = Some(m),
                        Err(e) => warn!(error = %e, "cannot build the ARM HTTP client"),
                    }
                }
                match &mut current {
                    None => Some(backoff.next_delay()),
                    Some(m) => {
                        m.settings = a.clone();
                        let tick = tokio::select! {
                            _ = shutdown.cancelled() => return status.borrow().clone(),
                            r = pass(&m.client, &f, &metrics) => r,
                        };
                        passes += 1;
                        let (profiles, retry) = tick;
                        status.send_replace(Arc::new(MirrorStatus {
                            profiles,
                            last_pass: Some(SystemTime::now()),
                            passes,
                        }));
                        if retry {
                            metrics.reconciles.with_label_values(&["retry"]).inc();
                            Some(backoff.next_delay())
                        } else {
                            metrics.reconciles.with_label_values(&["converged"]).inc();
                            backoff.reset();
                            Some(Duration::from_secs(a.resync_seconds))
                        }
                    }
                }
            }
        };
        if options.once {
            return status.borrow().clone();
        }
        let sleep = async {
            match wait {
                Some(w) => tokio::time::sleep(w).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return status.borrow().clone(),
            r = fleet.changed() => if r.is_err() { return status.borrow().clone() },
            _ = sleep => {}
        }
    }
}

/// One pass over every desired profile. Returns the statuses and whether to retry soon.
async fn pass(
    client: &ArmClient,
    fleet: &Fleet,
    metrics: &Metrics,
) -> (BTreeMap<String, ProfileStatus>, bool) {
    let mut out = BTreeMap::new();
    let mut retry = false;
    for d in desired(fleet) {
        let s = profile(client, &d).await;
        retry |= s.programmed.retry();
        for r in Reason::ALL {
            metrics
                .programmed
                .with_label_values(&[&d.key, r.as_str()])
                .set(i64::from(r == s.programmed.reason));
        }
        out.insert(d.key.clone(), s);
    }
    metrics.monitor.reset();
    for (key, s) in &out {
        for (ep, st) in &s.endpoints {
            metrics.monitor.with_label_values(&[key, ep, st]).set(1);
        }
    }
    (out, retry)
}

/// Brings one profile in line and reports its status.
async fn profile(client: &ArmClient, d: &DesiredProfile) -> ProfileStatus {
    let mut st = ProfileStatus {
        name: d.at.name.clone(),
        resource_id: d.at.resource_id(),
        dns_name: None,
        programmed: Programmed::pending("not reconciled yet"),
        endpoints: BTreeMap::new(),
    };
    let observed = match client.send(&ArmCall::get(d.at.path(), API_VERSION)).await {
        Ok(r) if r.status == 404 => None,
        Ok(r) => Some(r.body),
        Err(e) => {
            warn!(profile = %d.key, arm_name = %d.at.name, error = %e, "reading the Traffic Manager profile failed");
            st.programmed = Programmed::from_error(&e);
            return st;
        }
    };
    if let Some(o) = &observed {
        read_back(&mut st, o, d);
    }
    let calls = match plan(d, observed.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            warn!(profile = %d.key, error = %e, "not touching a profile fleetdns does not own");
            st.programmed = Programmed::invalid(&e.to_string());
            return st;
        }
    };
    for call in &calls {
        match client.send(call).await {
            Ok(r) => {
                info!(profile = %d.key, method = call.method.as_str(), path = %call.path, status = r.status, "ARM write");
                apply(&mut st, call, &r.body, d);
            }
            Err(e) => {
                warn!(profile = %d.key, method = call.method.as_str(), path = %call.path, error = %e, "ARM write failed");
                st.programmed = Programmed::from_error(&e);
                return st;
            }
        }
    }
    st.programmed = Programmed::ok();
    st
}

fn is_desired(d: &DesiredProfile, name: &str) -> bool {
    d.endpoints
        .iter()
        .any(|e| e.name.eq_ignore_ascii_case(name))
}

/// Reads fqdn and the desired endpoints' monitor status from a profile GET body.
fn read_back(st: &mut ProfileStatus, profile: &Value, d: &DesiredProfile) {
    st.dns_name = prop(profile, "dnsConfig")
        .and_then(|c| c.get("fqdn"))
        .and_then(Value::as_str)
        .map(str::to_string);
    for e in prop(profile, "endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        endpoint_back(st, e, d);
    }
}

fn endpoint_back(st: &mut ProfileStatus, e: &Value, d: &DesiredProfile) {
    let Some(name) = e.get("name").and_then(Value::as_str) else {
        return;
    };
    if !is_desired(d, name) {
        return;
    }
    let ms = prop(e, "endpointMonitorStatus")
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    st.endpoints.insert(name.to_string(), ms.to_string());
}

/// Folds a write's response into the status.
fn apply(st: &mut ProfileStatus, call: &ArmCall, body: &Value, d: &DesiredProfile) {
    match call.method {
        Method::Put if call.path == d.at.path() => {
            if let Some(f) = prop(body, "dnsConfig").and_then(|c| c.get("fqdn")) {
                st.dns_name = f.as_str().map(str::to_string);
            }
        }
        Method::Put => endpoint_back(st, body, d),
        Method::Delete | Method::Get => {}
    }
}
