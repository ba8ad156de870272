//! Hub mode's public IP lookups: each export's `publicIPResourceID` read through
//! ARM (`GET …/Microsoft.Network/publicIPAddresses/{name}?api-version=2024-05-01`),
//! with the same client, token chain and throttling as the Azure mirror
//! ([`fleetdns_arm`]).
//!
//! The composer says which ids it wants ([`Wanted`], through a `watch`); this task
//! reads new ones at once, reads one again when an export naming it changes, reads
//! every id on the refresh interval, and retries failures with backoff. What it
//! learnt goes back to the composer as [`Update::PublicIps`]. ARM trouble (down,
//! throttled, 403) keeps the last known address serving, marked stale; an IP that
//! is gone (404) or has no address yet is not served. Each change of an IP's
//! problem is logged once, naming the IP and the exports that use it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use fleetdns_arm::{ArmClient, ArmError, ArmMetrics, Call, ClientOptions, Resource, TokenSource};
use fleetdns_config::backoff::Backoff;
use fleetdns_config::hub::{PublicIpLookup, PUBLIC_IP_API_VERSION};
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Each public IP read, from connect to the last body byte (the mirror's default).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

use super::watch::Update;

/// Which exports name one public IP, and their versions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    /// `namespace/name@resourceVersion` of each InternalServiceExport naming it.
    pub versions: BTreeSet<String>,
    /// `namespace/name` of each, for log lines.
    pub exports: BTreeSet<String>,
}

/// What ARM said of one public IP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicIp {
    /// `properties.ipAddress`: served while set (also when stale).
    pub address: Option<String>,
    /// `properties.publicIPAddressVersion` (`IPv4`, `IPv6`).
    pub version: Option<String>,
    /// `properties.dnsSettings.fqdn`.
    pub fqdn: Option<String>,
    /// The address is from an earlier read; the latest failed.
    pub stale: bool,
    /// What is wrong, and what to fix or grant.
    pub problem: Option<String>,
}

/// The lookups' Prometheus series.
#[derive(Clone)]
pub struct PublicIpMetrics {
    /// `fleetdns_public_ip_lookups_total{result}`: `ok`, `no_address`, `not_found`,
    /// `forbidden`, `error`.
    pub lookups: IntCounterVec,
    /// `fleetdns_public_ips{state}`: `resolved`, `stale`, `unresolved`.
    pub states: IntGaugeVec,
    /// The ARM client's series for these reads under names of their own (the mirror's
    /// `fleetdns_azure_*` stay the mirror's): `fleetdns_public_ip_arm_requests_total{method,code}`
    /// (every attempt, `code` the HTTP status or `error`) and
    /// `fleetdns_public_ip_token_requests_total{method,result}` (ARM tokens for them).
    pub arm: ArmMetrics,
}

impl PublicIpMetrics {
    /// Registers the series in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let arm = super::metrics::arm_metrics(
            registry,
            (
                "fleetdns_public_ip_arm_requests_total",
                "ARM requests of the public IP reads (hub mode), by method and HTTP status (error: no answer)",
            ),
            (
                "fleetdns_public_ip_token_requests_total",
                "ARM token requests of the public IP reads (hub mode), by auth method and result",
            ),
        )?;
        let m = Self {
            lookups: IntCounterVec::new(
                Opts::new(
                    "fleetdns_public_ip_lookups_total",
                    "Public IP reads from ARM (hub mode), by result",
                ),
                &["result"],
            )?,
            states: IntGaugeVec::new(
                Opts::new(
                    "fleetdns_public_ips",
                    "Public IPs named by exports (hub mode): resolved, stale (last known address served, ARM read failing) or unresolved (not served)",
                ),
                &["state"],
            )?,
            arm,
        };
        registry.register(Box::new(m.lookups.clone()))?;
        registry.register(Box::new(m.states.clone()))?;
        for r in ["ok", "no_address", "not_found", "forbidden", "error"] {
            m.lookups.with_label_values(&[r]);
        }
        for s in ["resolved", "stale", "unresolved"] {
            m.states.with_label_values(&[s]);
        }
        Ok(m)
    }
}

/// Per id: the versions last read, when, and the result.
struct Entry {
    versions: BTreeSet<String>,
    read_at: Instant,
    ip: PublicIp,
    failing: bool,
}

/// Reads the wanted public IPs until `shutdown`, sending every change to `tx`.
pub async fn run(
    lookup: PublicIpLookup,
    mut wanted: watch::Receiver<BTreeMap<String, Wanted>>,
    tx: mpsc::Sender<Update>,
    metrics: PublicIpMetrics,
    shutdown: CancellationToken,
) {
    let http = match ArmClient::http(REQUEST_TIMEOUT) {
        Ok(h) => h,
        Err(e) => {
            warn!(error = %e, "no HTTP client for ARM; public IPs are not read");
            return;
        }
    };
    let tokens = Arc::new(TokenSource::new(
        lookup.auth.clone(),
        lookup.authority_host.clone(),
        Resource::arm(&lookup.arm_endpoint),
        http.clone(),
        metrics.arm.clone(),
    ));
    TokenSource::spawn_refresher(&tokens);
    let client = ArmClient::new(
        http,
        lookup.arm_endpoint.clone(),
        tokens,
        metrics.arm.clone(),
        ClientOptions {
            max_requests_per_second: lookup.max_requests_per_second,
            // Two tries per read: the lookup loop retries on its own backoff, and the
            // last address keeps serving meanwhile, so an outage should be *said*
            // (stale) soon rather than waited out inside one read (a 503 without
            // Retry-After holds the client back 10 s per try).
            attempts: 2,
            ..ClientOptions::default()
        },
    );
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
        .expect("1 s to 60 s is a valid backoff");
    let mut retry_at: Option<Instant> = None;
    let mut cache: BTreeMap<String, Entry> = BTreeMap::new();
    loop {
        let want = wanted.borrow_and_update().clone();
        cache.retain(|id, _| want.contains_key(id));
        let now = Instant::now();
        let retrying = retry_at.is_some_and(|t| now >= t);
        let due: Vec<String> = want
            .iter()
            .filter(|(id, w)| match cache.get(*id) {
                None => true,
                Some(e) => {
                    e.versions != w.versions
                        || now >= e.read_at + lookup.refresh
                        || (e.failing && retrying)
                }
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut any_failed = false;
        // ARM itself failing (down, throttling, no token): the other reads of this round
        // would only wait out the same trouble one by one, so they are marked stale at
        // once and retried together with backoff.
        let mut outage: Option<String> = None;
        for id in &due {
            let previous = cache.get(id).map(|e| e.ip.clone());
            let (ip, failing) = match &outage {
                Some(why) => (
                    kept(
                        previous.as_ref(),
                        format!("public IP {id} not read: ARM is failing ({why}); retrying"),
                    ),
                    true,
                ),
                None => {
                    let (ip, how) = read(&client, id, previous.as_ref(), &metrics).await;
                    let failing = how != Read::Ok;
                    if let Read::Outage(why) = how {
                        outage = Some(why);
                    }
                    (ip, failing)
                }
            };
            any_failed |= failing;
            if previous.as_ref().map(|p| &p.problem) != Some(&ip.problem) {
                let exports: Vec<&String> = want[id].exports.iter().collect();
                match &ip.problem {
                    Some(p) => {
                        warn!(public_ip = %id, exports = ?exports, stale = ip.stale, problem = %p, "public IP not usable")
                    }
                    None => {
                        info!(public_ip = %id, exports = ?exports, address = ?ip.address, "public IP read")
                    }
                }
            }
            cache.insert(
                id.clone(),
                Entry {
                    versions: want[id].versions.clone(),
                    read_at: Instant::now(),
                    ip,
                    failing,
                },
            );
        }
        if let Some(why) = &outage {
            // The rest of the IPs: their last addresses are stale too, until ARM answers.
            for (id, e) in cache.iter_mut().filter(|(id, _)| !due.contains(id)) {
                if !e.failing {
                    e.ip = kept(
                        Some(&e.ip),
                        format!("public IP {id} not read: ARM is failing ({why}); retrying"),
                    );
                    e.failing = true;
                    warn!(public_ip = %id, exports = ?want.get(id).map(|w| &w.exports), stale = e.ip.stale, problem = ?e.ip.problem, "public IP not usable");
                }
            }
        }
        if !due.is_empty() {
            retry_at = if any_failed || cache.values().any(|e| e.failing) {
                Some(Instant::now() + backoff.next_delay())
            } else {
                backoff.reset();
                None
            };
            let states: BTreeMap<String, PublicIp> = cache
                .iter()
                .map(|(id, e)| (id.clone(), e.ip.clone()))
                .collect();
            for (state, n) in [
                (
                    "resolved",
                    states
                        .values()
                        .filter(|p| p.address.is_some() && !p.stale)
                        .count(),
                ),
                ("stale", states.values().filter(|p| p.stale).count()),
                (
                    "unresolved",
                    states.values().filter(|p| p.address.is_none()).count(),
                ),
            ] {
                metrics.states.with_label_values(&[state]).set(n as i64);
            }
            if tx.send(Update::PublicIps(states)).await.is_err() {
                return;
            }
        }
        let next_refresh = cache
            .values()
            .map(|e| e.read_at + lookup.refresh)
            .min()
            .into_iter()
            .chain(retry_at)
            .min()
            .unwrap_or(Instant::now() + lookup.refresh)
            // Never spin.
            .max(Instant::now() + Duration::from_millis(100));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = wanted.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep_until(next_refresh) => {}
        }
    }
}

/// How one read went.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    /// ARM answered about the IP (an address, none yet, or 404).
    Ok,
    /// This IP could not be read (403 on its resource group); retry with backoff.
    Failed,
    /// ARM itself failed (transport, token, 429, 5xx): the other reads would too.
    Outage(String),
}

/// The last known state of an IP kept, stale if it had an address, with `problem`.
fn kept(previous: Option<&PublicIp>, problem: String) -> PublicIp {
    PublicIp {
        address: previous.and_then(|p| p.address.clone()),
        version: previous.and_then(|p| p.version.clone()),
        fqdn: previous.and_then(|p| p.fqdn.clone()),
        stale: previous.is_some_and(|p| p.address.is_some()),
        problem: Some(problem),
    }
}

/// One read of `id`: the new state and how the read went.
async fn read(
    client: &ArmClient,
    id: &str,
    previous: Option<&PublicIp>,
    metrics: &PublicIpMetrics,
) -> (PublicIp, Read) {
    let call = Call::get(id.to_string(), PUBLIC_IP_API_VERSION);
    let count = |r: &str| metrics.lookups.with_label_values(&[r]).inc();
    match client.send(&call).await {
        Ok(r) if r.status == 404 => {
            count("not_found");
            (PublicIp { address: None, version: None, fqdn: None, stale: false,
                problem: Some(format!("public IP {id} does not exist (ARM 404): the member's Service lost its public IP; recreate the Service's load balancer or remove its ServiceExport")) }, Read::Ok)
        }
        Ok(r) => {
            let p = |k: &str| {
                r.body
                    .pointer(&format!("/properties/{k}"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let address = p("ipAddress");
            let ip = PublicIp {
                version: p("publicIPAddressVersion"),
                fqdn: p("dnsSettings/fqdn"),
                stale: false,
                problem: address.is_none().then(|| format!("public IP {id} has no address yet (provisioningState {}); it is served once Azure assigns one", p("provisioningState").unwrap_or_else(|| "unknown".into()))),
                address,
            };
            count(if ip.address.is_some() {
                "ok"
            } else {
                "no_address"
            });
            (ip, Read::Ok)
        }
        Err(ArmError::Status {
            status: 403, code, ..
        }) => {
            count("forbidden");
            (kept(previous, format!("ARM denied reading public IP {id} (HTTP 403 {code}): grant fleetdns's identity the Reader role on resource group {} (or the public IP itself)", resource_group_scope(id))), Read::Failed)
        }
        Err(e) => {
            count("error");
            let outage = match &e {
                ArmError::Status { status, .. } => *status == 429 || *status >= 500,
                ArmError::Transport { .. } | ArmError::Auth(_) => true,
            };
            let ip = kept(
                previous,
                format!("reading public IP {id} from ARM failed, retrying: {e}"),
            );
            (
                ip,
                if outage {
                    Read::Outage(summary(&e))
                } else {
                    Read::Failed
                },
            )
        }
    }
}

/// What went wrong, in a few words, for the IPs not read because of it.
fn summary(e: &ArmError) -> String {
    match e {
        ArmError::Status {
            status, code, path, ..
        } => format!("HTTP {status} {code} reading {path}"),
        ArmError::Transport { error, .. } => format!("no answer: {error}"),
        ArmError::Auth(a) => format!("no ARM token: {a}"),
    }
}

/// `/subscriptions/<sub>/resourceGroups/<rg>` of a resource id, for the role hint.
fn resource_group_scope(id: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    match parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("providers"))
    {
        Some(i) => parts[..i].join("/"),
        None => id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hub_mode_reader_role_hint_names_the_resource_group() {
        assert_eq!(
            super::resource_group_scope("/subscriptions/s/resourceGroups/mc_rg/providers/Microsoft.Network/publicIPAddresses/ip"),
            "/subscriptions/s/resourceGroups/mc_rg"
        );
    }
}
