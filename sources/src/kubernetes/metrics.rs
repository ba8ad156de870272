//! Prometheus series of the Kubernetes source: is each cluster answering, how
//! many objects it holds, how often its watches fail.

use fleetdns_arm::ArmMetrics;
use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

/// The source's Prometheus series; clones share them.
#[derive(Clone)]
pub struct SourceMetrics {
    /// `fleetdns_kubernetes_cluster_reachable{cluster}`: 1 while the cluster answers, 0 while its
    /// last known objects are served.
    pub reachable: IntGaugeVec,
    /// `fleetdns_kubernetes_objects{cluster,resource}`: objects held per collection.
    pub objects: IntGaugeVec,
    /// `fleetdns_kubernetes_watch_errors_total{cluster,resource}`: watch or list failures (each
    /// retried with backoff).
    pub watch_errors: IntCounterVec,
    /// `fleetdns_kubernetes_compositions_total`: times the fleet was recomposed from watched
    /// objects.
    pub compositions: IntCounter,
    /// `fleetdns_kubernetes_excluded_endpoints{reason}`: exports left out of a profile
    /// although valid, by reason (`internal_load_balancer`: no opt-in on the profile).
    pub excluded: IntGaugeVec,
    /// Hub mode's public IP lookups.
    pub public_ips: super::public_ip::PublicIpMetrics,
    /// `fleetdns_hub_token_requests_total{method,result}`: Entra ID tokens for the hub
    /// (`spec.kubernetes.hub.auth`), of every hub client in the process.
    pub hub_tokens: IntCounterVec,
    /// `fleetdns_hub_token_refused_total{hub}`: the hub answered 401 to a request
    /// carrying that token.
    pub hub_refused: IntCounterVec,
}

/// The ARM client's series under other names (`requests` and `tokens`: name, help),
/// registered in `registry`; the rate-limit gauge stays unregistered (the mirror's is
/// the one to watch).
pub(super) fn arm_metrics(
    registry: &Registry,
    requests: (&str, &str),
    tokens: (&str, &str),
) -> Result<ArmMetrics, prometheus::Error> {
    let m = ArmMetrics {
        requests: IntCounterVec::new(Opts::new(requests.0, requests.1), &["method", "code"])?,
        tokens: IntCounterVec::new(Opts::new(tokens.0, tokens.1), &["method", "result"])?,
        rate_limit: ArmMetrics::unregistered().rate_limit,
    };
    registry.register(Box::new(m.requests.clone()))?;
    registry.register(Box::new(m.tokens.clone()))?;
    Ok(m)
}

impl SourceMetrics {
    /// Creates the series and registers them in `registry` (an error if they are already there).
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self {
            reachable: IntGaugeVec::new(
                Opts::new(
                    "fleetdns_kubernetes_cluster_reachable",
                    "1 when every watch on the cluster works, 0 while its last known state is served",
                ),
                &["cluster"],
            )?,
            objects: IntGaugeVec::new(
                Opts::new("fleetdns_kubernetes_objects", "Objects held from a cluster, by resource"),
                &["cluster", "resource"],
            )?,
            watch_errors: IntCounterVec::new(
                Opts::new(
                    "fleetdns_kubernetes_watch_errors_total",
                    "Watch or list failures (each is retried with backoff)",
                ),
                &["cluster", "resource"],
            )?,
            compositions: IntCounter::new(
                "fleetdns_kubernetes_compositions_total",
                "Times the fleet was recomposed from watched objects",
            )?,
            excluded: IntGaugeVec::new(
                Opts::new(
                    "fleetdns_kubernetes_excluded_endpoints",
                    "Valid exports a profile leaves out, by reason (internal_load_balancer: the profile has no fleetdns.io/serve-internal-load-balancers opt-in)",
                ),
                &["reason"],
            )?,
            public_ips: super::public_ip::PublicIpMetrics::register(registry)?,
            hub_tokens: super::entra::hub_token_metrics().tokens,
            hub_refused: super::entra::hub_refused_metric(),
        };
        registry.register(Box::new(m.hub_tokens.clone()))?;
        registry.register(Box::new(m.hub_refused.clone()))?;
        m.excluded.with_label_values(&["internal_load_balancer"]);
        registry.register(Box::new(m.excluded.clone()))?;
        registry.register(Box::new(m.reachable.clone()))?;
        registry.register(Box::new(m.objects.clone()))?;
        registry.register(Box::new(m.watch_errors.clone()))?;
        registry.register(Box::new(m.compositions.clone()))?;
        Ok(m)
    }

    /// Creates the series of one watched collection at zero, so that they exist before
    /// the first event (a rate or an alert on a series that appears late sees nothing).
    pub fn init(&self, cluster: &str, resource: super::compose::Resource) {
        self.reachable.with_label_values(&[cluster]);
        self.objects.with_label_values(&[cluster, resource.label()]);
        self.watch_errors
            .with_label_values(&[cluster, resource.label()]);
    }
}
