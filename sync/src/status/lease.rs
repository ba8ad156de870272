//! Leader election through a coordination.k8s.io Lease on the hub.
//!
//! Every replica serves DNS; only the holder of the Lease writes status, so two
//! replicas never fight over a condition. The protocol is client-go's
//! leaderelection: renew every third of the lease duration with an
//! optimistic-concurrency replace; step down when renewal has failed for longer
//! than the duration (before anyone may take over); release the lease on
//! shutdown.
//!
//! Expiry is judged as client-go judges it ([`Observed`]): by when *this*
//! replica last saw the record change, on its own monotonic clock, never by the
//! holder's `renewTime` against the local wall clock, so clock skew between
//! replicas cannot elect two leaders or none.
//!
//! Handover: followers watch the Lease, so a release (holder cleared on SIGTERM)
//! is taken over as soon as the watch event arrives (milliseconds), not at the
//! next retry. After a holder dies without releasing, a follower takes over one
//! lease duration after it last saw the record change (15 s by default), at the
//! first attempt after that instant.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::runtime::watcher;
use tokio::sync::watch;
use tokio::time::Instant;
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
    let mut last_renew = Instant::now();
    let mut seen = Observed::default();
    // Changes of the Lease wake the loop at once (a release is taken over now).
    let mut changes = watcher(
        api.clone(),
        watcher::Config::default().fields(&format!("metadata.name={}", cfg.name)),
    )
    .boxed();
    let mut watching = true;
    loop {
        let leading = *leader.borrow();
        match step(&api, &cfg, &mut seen).await {
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
        // A follower also wakes when the holder's lease runs out as it saw it.
        let mut wake = Instant::now() + (retry - jitter);
        if !*leader.borrow() {
            if let Some(at) = seen.expires_at() {
                wake = wake.min(at.max(Instant::now()) + Duration::from_millis(10));
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep_until(wake) => {}
            e = changes.next(), if watching => match e {
                // Our own renewals come back too; only a follower needs to act.
                Some(Ok(_)) if !*leader.borrow() => {}
                Some(_) => {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep_until(wake) => {}
                    }
                }
                None => watching = false,
            },
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

/// The lease record as a follower last saw it, and when (client-go's
/// `observedRecord` / `observedTime`).
#[derive(Debug, Default)]
pub struct Observed {
    record: Option<LeaseSpec>,
    at: Option<Instant>,
}

impl Observed {
    /// Notes the record read at `now`; the time moves only when the record changed.
    pub fn observe(&mut self, spec: &LeaseSpec, now: Instant) {
        if self.record.as_ref() != Some(spec) {
            self.record = Some(spec.clone());
            self.at = Some(now);
        }
    }

    /// When the observed holder's lease runs out on our clock.
    pub fn expires_at(&self) -> Option<Instant> {
        let spec = self.record.as_ref()?;
        let seconds = spec.lease_duration_seconds.unwrap_or(0).max(0) as u64;
        Some(self.at? + Duration::from_secs(seconds))
    }

    /// Whether the observed holder's lease has run out at `now` (client-go:
    /// `observedTime + leaseDuration <= now`).
    pub fn expired(&self, now: Instant) -> bool {
        self.expires_at().is_none_or(|at| at <= now)
    }
}

/// One attempt: create, renew or take over. `Ok(true)` when we hold the lease.
async fn step(
    api: &Api<Lease>,
    cfg: &LeaseConfig,
    seen: &mut Observed,
) -> Result<bool, kube::Error> {
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
    seen.observe(spec, Instant::now());
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let mine = holder == cfg.identity;
    if !mine && !holder.is_empty() && !seen.expired(Instant::now()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renew: &str) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(renew.parse().unwrap())),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_whose_renew_time_is_far_in_the_past_is_not_expired_until_a_lease_duration_passes_here(
    ) {
        let mut seen = Observed::default();
        let s = spec("other", "2001-01-01T00:00:00Z");
        seen.observe(&s, Instant::now());
        assert!(
            !seen.expired(Instant::now()),
            "just seen: the remote clock may be wrong"
        );
        tokio::time::advance(Duration::from_secs(14)).await;
        seen.observe(&s, Instant::now());
        assert!(!seen.expired(Instant::now()));
        tokio::time::advance(Duration::from_secs(1)).await;
        seen.observe(&s, Instant::now());
        assert!(
            seen.expired(Instant::now()),
            "unchanged for 15 s of our clock"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_whose_renew_time_is_far_in_the_future_still_expires_when_it_stops_renewing() {
        let mut seen = Observed::default();
        let s = spec("other", "2099-01-01T00:00:00Z");
        seen.observe(&s, Instant::now());
        tokio::time::advance(Duration::from_secs(10)).await;
        // A renewal (the record changes) restarts the count.
        let renewed = spec("other", "2099-01-01T00:00:10Z");
        seen.observe(&renewed, Instant::now());
        tokio::time::advance(Duration::from_secs(10)).await;
        seen.observe(&renewed, Instant::now());
        assert!(!seen.expired(Instant::now()));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(
            seen.expired(Instant::now()),
            "15 s after the last change we saw"
        );
    }
}
