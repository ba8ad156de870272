//! End-to-end tests: the real `fleetdns` binary on loopback, real sockets, real
//! third-party tools. One test binary, one module per topic.

mod alert_rules;
mod azure;
mod cli;
mod conformance;
mod dashboard;
mod deploy;
mod dns_contract;
mod fixtures;
mod health;
mod hostile;
mod hub_auth;
mod hub_mode;
mod internal_lb;
mod interop;
mod kube_check;
mod kube_fixtures;
mod kube_restart;
mod kubectl;
mod kubernetes;
mod kubernetes_status;
mod reload;
mod routing;
mod seed_check;
mod status_health;
mod status_page;
mod weights;
mod window;
