//! `spec.clusters` (file mode): each member cluster's Services and the
//! load-balancer addresses they answer with.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::model::Target;
use crate::settings::SettingsDocument;

use super::zone::dns_name;

/// Per cluster (in name order): its services' targets, keyed by (namespace, name)
/// (a hash map: at 100k profiles there are 300,000 Services to look up). Keys
/// borrow the settings document: owned, they were ~30 MiB of the load's peak.
pub(super) type Clusters<'a> = BTreeMap<&'a str, HashMap<(&'a str, &'a str), Target>>;

pub(super) fn clusters<'a>(
    doc: &Doc,
    s: &'a SettingsDocument,
    diags: &mut Diagnostics,
) -> Clusters<'a> {
    let mut out = Clusters::new();
    for (i, c) in s.spec.clusters.iter().enumerate() {
        let field = format!("spec.clusters[{i}]");
        let err = |diags: &mut Diagnostics, path: &[&str], f: String, msg: String| {
            diags.push(
                Diagnostic::error(doc.location_of(path), msg)
                    .object("FleetDNSConfig")
                    .field(f),
            );
        };
        if let Err(e) = dns_name(&c.name) {
            err(
                diags,
                &["spec", "clusters", "name"],
                format!("{field}.name"),
                format!("cluster name {e}"),
            );
            continue;
        }
        if out.contains_key(c.name.as_str()) {
            err(
                diags,
                &["spec", "clusters", "name"],
                format!("{field}.name"),
                format!(
                    "cluster {:?} is listed twice; allowed: unique cluster names",
                    c.name
                ),
            );
            continue;
        }
        let mut services = HashMap::with_capacity(c.services.len());
        for (j, svc) in c.services.iter().enumerate() {
            // Formatted only for a diagnostic: there may be 300,000 Services.
            let sfield = || format!("{field}.services[{j}]");
            let key = (svc.namespace.as_str(), svc.name.as_str());
            if services.contains_key(&key) {
                err(
                    diags,
                    &["spec", "clusters", "services", "name"],
                    format!("{}.name", sfield()),
                    format!(
                        "Service {}/{} is listed twice in cluster {}",
                        svc.namespace, svc.name, c.name
                    ),
                );
                continue;
            }
            match target(&svc.load_balancer) {
                Ok(t) => {
                    services.insert(key, t);
                }
                Err(e) => err(
                    diags,
                    &["spec", "clusters", "services", "loadBalancer"],
                    format!("{}.loadBalancer", sfield()),
                    format!(
                        "Service {}/{} in cluster {}: {e}",
                        svc.namespace, svc.name, c.name
                    ),
                ),
            }
        }
        out.insert(c.name.as_str(), services);
    }
    out
}

/// Turns load-balancer ingress entries into a target.
pub(super) fn target(entries: &[String]) -> Result<Target, String> {
    const ALLOWED: &str = "allowed: one IPv4 address, one IPv6 address, both, or one host name";
    let mut v4: Option<Ipv4Addr> = None;
    let mut v6: Option<Ipv6Addr> = None;
    let mut host: Option<String> = None;
    for e in entries {
        match e.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) if v4.is_none() => v4 = Some(a),
            Ok(IpAddr::V6(a)) if v6.is_none() => v6 = Some(a),
            Ok(_) => {
                return Err(format!(
                    "more than one address of the same family ({e}); {ALLOWED}"
                ))
            }
            Err(_) => {
                let h = dns_name(e)
                    .map_err(|m| format!("{e:?} is neither an IP address nor a host name: {m}"))?;
                if host.is_some() {
                    return Err(format!("more than one host name; {ALLOWED}"));
                }
                host = Some(h);
            }
        }
    }
    match (v4, v6, host) {
        (None, None, None) => Err(format!("no load-balancer address; {ALLOWED}")),
        (None, None, Some(h)) => Ok(Target::Host(h)),
        (_, _, Some(_)) => Err(format!("a host name mixed with addresses; {ALLOWED}")),
        (v4, v6, None) => Ok(Target::Addresses { v4, v6 }),
    }
}
