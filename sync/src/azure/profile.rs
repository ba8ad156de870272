//! One profile's pass: GET it, check the public IPs its AzureEndpoints need, plan,
//! and (when this replica is the writer) send the plan, one call at a time.
//!
//! Failures stay where they belong (fleet-networking: TMBc:701-728, 335-351): a
//! failed profile GET or PUT decides the profile's `Programmed` and leaves its
//! endpoints alone; a failed endpoint call lands on that endpoint's backend
//! (`Accepted`) and the other endpoints and profiles go on.

use std::collections::BTreeMap;

use fleetdns_arm::{ArmClient, ArmError, Blame, Call};
use serde_json::Value;
use tracing::{info, warn};

use super::desired::{DesiredProfile, Skipped};
use super::diff::{plan, Plan};
use super::model::{prop, ArmCall, Method, API_VERSION};
use super::reconcile::{BackendStatus, ProfileStatus};
use super::status::{Accepted, Programmed};

/// The api-version of `Microsoft.Network/publicIPAddresses` GETs.
pub const PUBLIC_IP_API_VERSION: &str = "2024-05-01";

/// What one profile's pass found and did.
pub struct Outcome {
    /// The profile's status after the pass.
    pub status: ProfileStatus,
    /// Per backend of the profile (`namespace/name`): its endpoints' `Accepted`.
    pub backends: BTreeMap<String, BackendStatus>,
    /// Writes wanted but not sent (this replica is not the writer).
    pub planned: Vec<ArmCall>,
    /// Something may succeed soon: retry the pass before the resync.
    pub retry: bool,
}

/// Per backend: endpoint errors by blame, and how many endpoints went in.
#[derive(Default)]
struct Tally {
    invalid: Vec<String>,
    pending: Vec<String>,
}

/// Brings one profile in line (or, with `write` false, only plans).
pub async fn reconcile(
    client: &ArmClient,
    d: &DesiredProfile,
    adopt: bool,
    write: bool,
) -> Outcome {
    let mut out = Outcome {
        status: ProfileStatus {
            name: d.at.name.clone(),
            resource_id: d.at.resource_id(),
            dns_name: None,
            programmed: Programmed::pending("not reconciled yet"),
            endpoints: BTreeMap::new(),
        },
        backends: BTreeMap::new(),
        planned: Vec::new(),
        retry: false,
    };
    let mut tally: BTreeMap<String, Tally> = d
        .backends
        .values()
        .map(|b| (b.clone(), Tally::default()))
        .collect();
    let observed = match client.send(&Call::get(d.at.path(), API_VERSION)).await {
        Ok(r) if r.status == 404 => None,
        Ok(r) => Some(r.body),
        Err(e) => {
            warn!(profile = %d.key, arm_name = %d.at.name, error = %e, "reading the Traffic Manager profile failed");
            out.status.programmed = Programmed::from_error(&e);
            return finish(out, d, tally, "the profile is not programmed");
        }
    };
    if let Some(o) = &observed {
        read_back(&mut out.status, o, d);
    }
    if let Some(why) = &d.refused {
        warn!(profile = %d.key, reason = %why, "not mirroring a profile Traffic Manager cannot follow");
        out.status.programmed = Programmed::invalid(why);
        return finish(out, d, tally, "the profile is not programmed");
    }
    // AzureEndpoints need a public IP with a DNS label (TMBc:588-600).
    let mut d = d.clone();
    let mut unchecked = Vec::new();
    for e in std::mem::take(&mut d.endpoints) {
        let Some(id) = e.body.properties.target_resource_id.clone() else {
            d.endpoints.push(e);
            continue;
        };
        match dns_label(client, &id).await {
            Ok(true) => d.endpoints.push(e),
            Ok(false) => d.skipped.push(Skipped {
                backend: e.backend.clone(),
                name: e.name.clone(),
                reason: format!("DNS label is not configured to the public IP {id}"),
            }),
            Err(err) => {
                let line = format!("{}: public IP lookup failed: {err}", e.name);
                match err.blame() {
                    Blame::Caller => d.skipped.push(Skipped {
                        backend: e.backend.clone(),
                        name: e.name.clone(),
                        reason: line,
                    }),
                    _ => {
                        tally
                            .entry(e.backend.clone())
                            .or_default()
                            .pending
                            .push(line);
                        unchecked.push(e.name.to_ascii_lowercase());
                        // Keep it desired (no DELETE of what is there), but write nothing for it.
                        d.endpoints.push(e);
                    }
                }
            }
        }
    }
    for s in &d.skipped {
        tally
            .entry(s.backend.clone())
            .or_default()
            .invalid
            .push(format!("{}: {}", s.name, s.reason));
    }
    let mut calls: Plan = match plan(&d, observed.as_ref(), adopt) {
        Ok(c) => c,
        Err(e) => {
            warn!(profile = %d.key, error = %e, "not touching a profile fleetdns does not own");
            out.status.programmed = Programmed::invalid(&e.to_string());
            return finish(out, &d, tally, "the profile is not programmed");
        }
    };
    calls
        .endpoints
        .retain(|(_, c)| !unchecked.contains(&endpoint_name(c).to_ascii_lowercase()));
    if !write {
        out.planned = calls.calls().cloned().collect();
        out.status.programmed = if observed.is_some() && calls.is_empty() {
            Programmed::ok()
        } else {
            Programmed::pending("this replica is not the writer; the Lease holder writes")
        };
        return finish(out, &d, tally, "");
    }
    if let Some(call) = &calls.profile {
        match client.send(call).await {
            Ok(r) => {
                info!(profile = %d.key, method = call.method.as_str(), path = %call.path, status = r.status, request_id = r.ids.request.as_deref(), "ARM write");
                apply(&mut out.status, call, &r.body, &d);
            }
            Err(e) => {
                warn!(profile = %d.key, method = call.method.as_str(), path = %call.path, error = %e, "ARM profile write failed");
                out.status.programmed = Programmed::from_error(&e);
                return finish(out, &d, tally, "the profile is not programmed");
            }
        }
    }
    for (backend, call) in &calls.endpoints {
        match client.send(call).await {
            Ok(r) => {
                info!(profile = %d.key, backend = %backend, method = call.method.as_str(), path = %call.path, status = r.status, request_id = r.ids.request.as_deref(), "ARM write");
                apply(&mut out.status, call, &r.body, &d);
            }
            Err(e) => {
                warn!(profile = %d.key, backend = %backend, method = call.method.as_str(), path = %call.path, error = %e, "ARM endpoint write failed; the other endpoints go on");
                let t = tally.entry(backend.clone()).or_default();
                let line = format!("{} {}: {e}", call.method.as_str(), endpoint_name(call));
                if endpoint_error_retryable(&e) {
                    t.pending.push(line);
                } else {
                    t.invalid.push(line);
                }
            }
        }
    }
    out.status.programmed = Programmed::ok();
    finish(out, &d, tally, "")
}

fn endpoint_error_retryable(e: &ArmError) -> bool {
    e.retryable() || e.code() == Some("AnotherOperationInProgress")
}

fn endpoint_name(call: &ArmCall) -> String {
    let last = call.path.rsplit('/').next().unwrap_or_default();
    percent_encoding::percent_decode_str(last)
        .decode_utf8_lossy()
        .into_owned()
}

/// Turns the tallies into backend conditions. `blocked`: why no endpoint was written.
fn finish(
    mut out: Outcome,
    d: &DesiredProfile,
    tally: BTreeMap<String, Tally>,
    blocked: &str,
) -> Outcome {
    out.retry = out.status.programmed.retry();
    for (backend, t) in tally {
        let total = d.endpoints.iter().filter(|e| e.backend == backend).count();
        let accepted = if !blocked.is_empty() {
            let why = format!("TrafficManagerProfile {:?}: {blocked}", d.key);
            if out.status.programmed.retry() {
                Accepted::pending(&[why])
            } else {
                Accepted::invalid(&[why])
            }
        } else if !t.pending.is_empty() {
            out.retry = true;
            Accepted::pending(&[t.invalid.clone(), t.pending.clone()].concat())
        } else if !t.invalid.is_empty() {
            Accepted::invalid(&t.invalid)
        } else {
            Accepted::ok(total)
        };
        out.backends.insert(
            backend,
            BackendStatus {
                profile: d.key.clone(),
                accepted,
                errors: [t.invalid, t.pending].concat(),
            },
        );
    }
    out
}

/// Whether the public IP `id` has a DNS label (`properties.dnsSettings.fqdn`).
async fn dns_label(client: &ArmClient, id: &str) -> Result<bool, ArmError> {
    let r = client
        .send(&Call::get(id.to_string(), PUBLIC_IP_API_VERSION))
        .await?;
    if r.status == 404 {
        return Ok(false);
    }
    Ok(r.body
        .pointer("/properties/dnsSettings/fqdn")
        .and_then(Value::as_str)
        .is_some_and(|f| !f.is_empty()))
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
