//! Leader election through a coordination.k8s.io Lease on the hub.
//!
//! Every replica serves DNS; only the holder of the Lease writes status, so two
//! replicas never fight over a condition. The protocol is client-go's: renew every
//! third of the lease duration with an optimistic-concurrency replace; take over a
//! lease whose renew time is older than its duration; step down when renewal has
//! failed for longer than the duration (before anyone may take over); release the
//! lease on shutdown so the next replica takes over at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Where the lease is and who we are.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// Namespace of the Lease on the hub.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's `spec.holderIdentity`.
    pub identity: String,
    /// Lease duration: renewed every third of it, taken over by another replica when not renewed
    /// for that long.
    pub duration: Duration,
}

/// Runs the election until `shutdown`, publishing whether we lead on `leader`.
pub async fn run(
    client: kube::Client,
    cfg: LeaseConfig,
    leader: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    let api: Api<Lease> = Api::namespaced(client, &cfg.namespace);
    let retry = cfg.duration / 3;
    let mut last_renew = tokio::time::Instant::now();
    loop {
        let leading = *leader.borrow();
        match step(&api, &cfg).await {
            Ok(true) => {
                last_renew = tokio::time::Instant::now();
                if !leading {
                    info!(lease = %cfg.name, namespace = %cfg.namespace, identity = %cfg.identity, "became the status writer");
                    leader.send_replace(true);
                }
            }
            Ok(false) => {
                if leading {
                    info!(lease = %cfg.name, "another replica holds the lease; not writing status");
                    leader.send_replace(false);
                }
            }
            Err(e) => {
                // Step down before the lease can expire for the others.
                if leading && last_renew.elapsed() + retry >= cfg.duration {
                    warn!(lease = %cfg.name, error = %e, "cannot renew the lease; not writing status");
                    leader.send_replace(false);
                } else {
                    warn!(lease = %cfg.name, error = %e, "lease renewal failed; retrying");
                }
            }
        }
        let jitter = retry.mul_f64(fastrand::f64() * 0.2);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(retry - jitter) => {}
        }
    }
    if *leader.borrow() {
        leader.send_replace(false);
        if let Err(e) = release(&api, &cfg).await {
            warn!(lease = %cfg.name, error = %e, "cannot release the lease; the next replica takes over when it expires");
        } else {
            info!(lease = %cfg.name, "lease released");
        }
    }
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

/// One attempt: create, renew or take over. `Ok(true)` when we hold the lease.
async fn step(api: &Api<Lease>, cfg: &LeaseConfig) -> Result<bool, kube::Error> {
    let seconds = cfg.duration.as_secs().max(1) as i32;
    let Some(mut lease) = api.get_opt(&cfg.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(cfg.name.clone()),
                namespace: Some(cfg.namespace.clone()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(cfg.identity.clone()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(now()),
                renew_time: Some(now()),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.get_or_insert_with(Default::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let mine = holder == cfg.identity;
    let expired = match (&spec.renew_time, spec.lease_duration_seconds) {
        (Some(MicroTime(t)), Some(d)) => {
            let age = Timestamp::now().as_millisecond() - t.as_millisecond();
            age > i64::from(d) * 1000
        }
        _ => true,
    };
    if !mine && !holder.is_empty() && !expired {
        return Ok(false);
    }
    if !mine {
        spec.holder_identity = Some(cfg.identity.clone());
        spec.acquire_time = Some(now());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.lease_duration_seconds = Some(seconds);
    spec.renew_time = Some(now());
    // The resourceVersion in `lease` makes this fail with 409 if anyone wrote since our read.
    match api.replace(&cfg.name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives the lease up: no holder, so the next replica's next attempt takes it.
async fn release(api: &Api<Lease>, cfg: &LeaseConfig) -> Result<(), kube::Error> {
    let Some(mut lease) = api.get_opt(&cfg.name).await? else {
        return Ok(());
    };
    let spec = lease.spec.get_or_insert_with(Default::default);
    if spec.holder_identity.as_deref() != Some(cfg.identity.as_str()) {
        return Ok(());
    }
    spec.holder_identity = None;
    spec.renew_time = Some(now());
    spec.lease_duration_seconds = Some(1);
    api.replace(&cfg.name, &PostParams::default(), &lease)
        .await
        .map(|_| ())
}
