//! An Azure Resource Manager emulator for Traffic Manager, for fleetdns tests.
//!
//! One HTTP server on a loopback address plays three parts:
//! - **ARM** (`/subscriptions/…/trafficmanagerprofiles/…?api-version=2022-04-01`):
//!   keeps profiles and endpoints, validates every URL and body against the swagger
//!   ([`swagger`]), fills in server-computed fields (ids, `fqdn`,
//!   `endpointMonitorStatus`, monitor defaults), answers 409 when a relative DNS
//!   name is taken anywhere in the emulated world, and 401 without a valid token.
//! - **Entra ID** (`POST /{tenant}/oauth2/v2.0/token`): client credentials with a
//!   client secret or a federated `client_assertion`.
//! - **IMDS** (`GET /metadata/identity/oauth2/token`, header `Metadata: true`).
//!
//! - **Public IPs** (`GET …/Microsoft.Network/publicIPAddresses/{name}?api-version=2024-05-01`)
//!   registered with [`ArmEmu::add_public_ip`]; an AzureEndpoints endpoint must
//!   point at one that has a DNS label, and its `target` is that label's FQDN.
//!
//! Like ARM, every answer carries `x-ms-request-id`, `x-ms-correlation-request-id`
//! (and echoes `x-ms-client-request-id`) plus `x-ms-ratelimit-remaining-*`. Lists
//! by resource group are paged with `nextLink` ([`ArmEmu::set_page_size`]). The
//! range rules the swagger states only in prose are enforced (weight 1-1000, TTL
//! 0-2147483647, interval 10 or 30 with timeout 5-9 or 5-10, tolerated failures
//! 0-9, at most 8 custom headers and 8 status ranges), and so are the routing
//! methods' (`routing`: priority 1-1000 and unique in a profile, given the next
//! one when unset; maxReturn 1-8 and required for MultiValue; MultiValue takes
//! ExternalEndpoints with IP targets only). With
//! [`ArmEmu::set_echo_defaults`] stored resources carry the defaults real Traffic
//! Manager fills in (expectedStatusCodeRanges 200-200, empty customHeaders,
//! alwaysServe Disabled, trafficViewEnrollmentStatus Disabled).
//!
//! Tokens live for a configurable (short) time and every issue is recorded, so
//! tests can see refreshes. Faults can be queued for the next ARM requests: 429
//! or 503 with Retry-After in any form (later requests before it get 429 too, and
//! are flagged), 500, 403 AuthorizationFailed, a delay, or a connection reset;
//! [`ArmEmu::fail_endpoint`] fails every PUT of matching endpoints, and
//! [`ArmEmu::remove_resource_group`] makes a group answer 404
//! ResourceGroupNotFound. The [`ArmEmu`] handle is synchronous and works from
//! plain `#[test]`s; the server runs on its own thread.

mod arm;
mod http;
pub mod public_ip;
mod routing;
pub mod swagger;
mod tokens;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::oneshot;

use swagger::Swagger;

/// A fault for the next ARM requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: <seconds>`; requests before it elapses get 429 too.
    Throttle(u64),
    /// 429 with `Retry-After` as an HTTP-date this many seconds ahead.
    ThrottleDate(u64),
    /// 429 with `retry-after-ms` (and `x-ms-retry-after-ms`) in milliseconds.
    ThrottleMs(u64),
    /// 503 ServiceUnavailable with `Retry-After: <seconds>`.
    Unavailable(u64),
    /// 403 AuthorizationFailed.
    Forbidden,
    /// 500 InternalServerError.
    ServerError,
    /// Answer normally after this delay.
    Delay(Duration),
    /// Close the connection without an answer.
    Reset,
}

/// One ARM request as received.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    /// Path as sent (percent-encoded).
    pub path: String,
    pub query: String,
    pub body: Option<Value>,
    pub at: Instant,
    /// A bearer token was present.
    pub auth_header: bool,
    /// The status answered (0 for a reset).
    pub status: u16,
    /// Swagger validation errors (the request was answered 400).
    pub invalid: Vec<String>,
    /// Sent while a Retry-After was still running.
    pub early: bool,
    /// The injected fault this request met, if any.
    pub fault: Option<Fault>,
    /// The `x-ms-client-request-id` it carried.
    pub client_request_id: Option<String>,
    /// The `x-ms-request-id` answered.
    pub request_id: String,
    /// How the bearer token was obtained (`clientSecret`, `workloadIdentity`,
    /// `managedIdentity`), read from the token: tells replicas with different
    /// credentials apart.
    pub caller: Option<String>,
}

impl Logged {
    pub fn is_write(&self) -> bool {
        self.method == "PUT" || self.method == "DELETE" || self.method == "PATCH"
    }
}

/// One token handed out.
#[derive(Clone, Debug)]
pub struct Issued {
    /// `clientSecret`, `workloadIdentity` or `managedIdentity`.
    pub method: &'static str,
    pub at: Instant,
    pub expires: Instant,
    /// The federated assertion presented (workload identity).
    pub assertion: Option<String>,
}

#[derive(Default)]
struct World {
    /// Profiles keyed by lower-case (subscription, resource group, name).
    profiles: BTreeMap<(String, String, String), Value>,
    /// Relative names taken by someone else in the world.
    taken: BTreeSet<String>,
    log: Vec<Logged>,
    faults: VecDeque<Fault>,
    throttled_until: Option<Instant>,
    tokens: BTreeMap<String, Instant>,
    /// The audience (resource) each token was issued for.
    audiences: BTreeMap<String, String>,
    issued: Vec<Issued>,
    token_lifetime: u64,
    /// (client id, secret) the token endpoint accepts; any client id when None.
    client: Option<(String, String)>,
    /// Errors found in the emulator's own responses (should stay empty).
    self_errors: Vec<String>,
    /// Public IP addresses: hub mode's lookups and the AzureEndpoints targets.
    pips: public_ip::PublicIps,
    /// Lower-case resource group names that do not exist.
    missing_groups: BTreeSet<String>,
    /// Endpoint name substrings whose PUTs fail: (status, code).
    endpoint_faults: Vec<(String, u16, String)>,
    /// Profiles per list page.
    page_size: usize,
    echo_defaults: bool,
    /// Remaining reads and writes, as sent in `x-ms-ratelimit-remaining-subscription-*`.
    reads_left: i64,
    writes_left: i64,
}

/// A running emulator; stopped when dropped.
pub struct ArmEmu {
    pub addr: SocketAddr,
    world: Arc<Mutex<World>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

const ATM_DOMAIN: &str = "trafficmanager.net";

impl ArmEmu {
    /// Starts on `addr` (e.g. `127.0.90.1:0`). Panics if the swagger cannot be
    /// read or the address not bound.
    pub fn start(addr: &str) -> ArmEmu {
        let swagger = Arc::new(Swagger::load().expect("swagger loads"));
        let world = Arc::new(Mutex::new(World {
            token_lifetime: 3600,
            page_size: 100,
            reads_left: 12_000,
            writes_left: 1_200,
            ..World::default()
        }));
        let std_listener = std::net::TcpListener::bind(addr).expect("bind emulator");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("local addr");
        let (stop, mut stopped) = oneshot::channel::<()>();
        let w = world.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut stopped => return,
                        a = listener.accept() => {
                            let Ok((stream, _)) = a else { continue };
                            let (w, s) = (w.clone(), swagger.clone());
                            tokio::spawn(async move {
                                let svc = hyper::service::service_fn(move |req| http::handle(req, w.clone(), s.clone()));
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        ArmEmu {
            addr,
            world,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://<addr>`: ARM endpoint and authority host.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn w(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().expect("world lock")
    }

    /// Judges a bearer token as a resource server trusting this Entra ID would: issued
    /// here, for `audience` (a scope's resource, such as the AKS AAD server app id), and
    /// not expired. Give it to a fake API server
    /// (`FakeCluster::authenticate_with`); `Ok` holds the method that got the token.
    pub fn token_validator(
        &self,
        audience: &str,
    ) -> impl Fn(&str) -> Result<String, String> + Send + Sync + 'static {
        let world = self.world.clone();
        let audience = audience.trim_end_matches('/').to_string();
        move |token: &str| {
            let w = world.lock().expect("world lock");
            let expires = w
                .tokens
                .get(token)
                .ok_or("token not issued by this Entra ID")?;
            let aud = w.audiences.get(token).map(|a| a.trim_end_matches('/'));
            if aud != Some(audience.as_str()) {
                return Err(format!("token audience {aud:?}, expected {audience}"));
            }
            if Instant::now() >= *expires {
                return Err("token expired".into());
            }
            Ok(format!("entra:{audience}"))
        }
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.w().token_lifetime = seconds;
    }

    /// Only this client id and secret get tokens by client secret.
    pub fn set_client_secret(&self, client_id: &str, secret: &str) {
        self.w().client = Some((client_id.into(), secret.into()));
    }

    /// Queues `fault` for each of the next `n` ARM requests.
    pub fn inject(&self, fault: Fault, n: usize) {
        let mut w = self.w();
        w.faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Marks a relative DNS name as taken by someone else.
    pub fn take_relative_name(&self, name: &str) {
        self.w().taken.insert(name.to_ascii_lowercase());
    }

    /// Every ARM request so far (token requests excluded).
    pub fn requests(&self) -> Vec<Logged> {
        self.w().log.clone()
    }

    pub fn clear_log(&self) {
        self.w().log.clear();
    }

    /// Every token issued so far.
    pub fn issued(&self) -> Vec<Issued> {
        self.w().issued.clone()
    }

    /// All profiles, as a GET would return them.
    pub fn profiles(&self) -> Vec<Value> {
        self.w().profiles.values().cloned().collect()
    }

    /// The profile named `name` (any subscription and resource group).
    pub fn profile(&self, name: &str) -> Option<Value> {
        self.w()
            .profiles
            .iter()
            .find(|((_, _, n), _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// Edits a stored profile by hand (drift, foreign endpoints), as the portal would.
    pub fn edit_profile(&self, name: &str, f: impl FnOnce(&mut Value)) {
        let mut w = self.w();
        let p = w
            .profiles
            .iter_mut()
            .find(|((_, _, n), _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .expect("profile exists");
        f(p);
    }

    /// Errors in the emulator's own responses against the swagger.
    pub fn self_errors(&self) -> Vec<String> {
        self.w().self_errors.clone()
    }

    /// Registers a public IP (`/subscriptions/…/publicIPAddresses/<name>`); with a DNS
    /// label its FQDN is `<label>.emu.cloudapp.azure.com`.
    pub fn add_public_ip(&self, id: &str, dns_label: Option<&str>) {
        let name = id.rsplit('/').next().unwrap_or_default();
        let mut props = json!({"ipAddress": "20.0.0.1", "publicIPAllocationMethod": "Static"});
        if let Some(l) = dns_label {
            props["dnsSettings"] =
                json!({"domainNameLabel": l, "fqdn": format!("{l}.emu.cloudapp.azure.com")});
        }
        let v = json!({"id": id, "name": name, "type": "Microsoft.Network/publicIPAddresses", "location": "eastus", "properties": props});
        self.w().pips.insert(id, v);
    }

    /// Every PUT of an endpoint whose name contains `name_part` fails with `status` and `code`.
    pub fn fail_endpoint(&self, name_part: &str, status: u16, code: &str) {
        self.w()
            .endpoint_faults
            .push((name_part.to_ascii_lowercase(), status, code.into()));
    }

    /// Endpoint PUTs succeed again.
    pub fn clear_endpoint_faults(&self) {
        self.w().endpoint_faults.clear();
    }

    /// Requests under resource group `rg` answer 404 ResourceGroupNotFound.
    pub fn remove_resource_group(&self, rg: &str) {
        self.w().missing_groups.insert(rg.to_ascii_lowercase());
    }

    /// Profiles per page of a list (at least 1).
    pub fn set_page_size(&self, n: usize) {
        self.w().page_size = n.max(1);
    }

    /// Store and echo the defaults real Traffic Manager fills in.
    pub fn set_echo_defaults(&self, on: bool) {
        self.w().echo_defaults = on;
    }

    /// Creates a profile directly, as another tool (or a past fleetdns) would have.
    pub fn put_profile(&self, subscription: &str, rg: &str, name: &str, profile: Value) {
        let mut v = profile;
        v["id"] = format!("/subscriptions/{subscription}/resourceGroups/{rg}/providers/Microsoft.Network/trafficManagerProfiles/{name}").into();
        v["name"] = name.into();
        v["type"] = "Microsoft.Network/trafficManagerProfiles".into();
        self.w().profiles.insert(
            (
                subscription.to_ascii_lowercase(),
                rg.to_ascii_lowercase(),
                name.to_ascii_lowercase(),
            ),
            v,
        );
    }
}

impl Drop for ArmEmu {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
