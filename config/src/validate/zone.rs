//! The zone: its apex, SOA, name servers and glue, the default TTL, and the DNS
//! name rules every owner name must follow.

use std::net::IpAddr;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::model::{NameServer, Soa, ZoneSettings};
use crate::settings::SettingsDocument;

/// Answer TTL when neither the settings nor the profile give one (fleet-networking's).
pub const DEFAULT_TTL: u32 = 60;

/// Largest TTL allowed by RFC 2181 §8.
pub const MAX_TTL: u32 = 2_147_483_647;

/// Checks a DNS name and returns it in lower case without the trailing dot.
pub fn dns_name(raw: &str) -> Result<String, String> {
    const ALLOWED: &str = "allowed: a domain name of dot-separated labels of 1-63 letters, digits, hyphens or underscores (no leading or trailing hyphen), at most 253 characters";
    let name = raw.strip_suffix('.').unwrap_or(raw);
    if name.is_empty() {
        return Err(format!("{raw:?} is empty; {ALLOWED}"));
    }
    if name.len() > 253 {
        return Err(format!(
            "{raw:?} is {} characters long; {ALLOWED}",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("{raw:?} has an empty label; {ALLOWED}"));
        }
        if label.len() > 63 {
            return Err(format!(
                "{raw:?} has the label {label:?} of {} characters; {ALLOWED}",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("{raw:?} contains {c:?}; {ALLOWED}"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "{raw:?} has the label {label:?} starting or ending with a hyphen; {ALLOWED}"
            ));
        }
    }
    Ok(name.to_ascii_lowercase())
}

pub(super) fn is_in_zone(name: &str, apex: &str) -> bool {
    name == apex || name.strip_suffix(apex).is_some_and(|p| p.ends_with('.'))
}

pub(super) fn zone_settings(
    doc: &Doc,
    s: &SettingsDocument,
    diags: &mut Diagnostics,
) -> Option<ZoneSettings> {
    let object = "FleetDNSConfig";
    let err = |diags: &mut Diagnostics, path: &[&str], field: &str, msg: String| {
        diags.push(
            Diagnostic::error(doc.location_of(path), msg)
                .object(object)
                .field(field),
        );
    };
    let apex = match dns_name(&s.spec.zone) {
        Ok(a) => a,
        Err(e) => {
            err(
                diags,
                &["spec", "zone"],
                "spec.zone",
                format!("the zone apex {e}"),
            );
            return None;
        }
    };
    let default_ttl = s.spec.ttl.unwrap_or(DEFAULT_TTL);
    if default_ttl > MAX_TTL {
        err(
            diags,
            &["spec", "ttl"],
            "spec.ttl",
            format!("{default_ttl} is too large; allowed: 0 to {MAX_TTL}"),
        );
    }
    let mut name_servers = Vec::new();
    if s.spec.name_servers.is_empty() {
        err(
            diags,
            &["spec"],
            "spec.nameServers",
            format!("no name servers; allowed: a list of at least one {{name, addresses}}, e.g. [{{name: ns1.{apex}, addresses: [127.0.0.1]}}]"),
        );
    }
    for (i, ns) in s.spec.name_servers.iter().enumerate() {
        let field = format!("spec.nameServers[{i}]");
        let path = ["spec", "nameServers", "name"];
        let name = match dns_name(&ns.name) {
            Ok(n) => n,
            Err(e) => {
                err(diags, &path, &format!("{field}.name"), e);
                continue;
            }
        };
        let mut addresses = Vec::new();
        for a in &ns.addresses {
            match a.parse::<IpAddr>() {
                Ok(ip) => addresses.push(ip),
                Err(_) => err(
                    diags,
                    &["spec", "nameServers", "addresses"],
                    &format!("{field}.addresses"),
                    format!("{a:?} is not an IP address; allowed: IPv4 or IPv6 addresses"),
                ),
            }
        }
        if is_in_zone(&name, &apex) && addresses.is_empty() {
            err(
                diags,
                &path,
                &format!("{field}.addresses"),
                format!("{name} is inside the zone {apex}, so it needs glue; allowed: one or more IP addresses in addresses"),
            );
        }
        if name_servers.iter().any(|n: &NameServer| n.name == name) {
            err(
                diags,
                &path,
                &format!("{field}.name"),
                format!("{name} is listed twice; allowed: each name server once"),
            );
            continue;
        }
        name_servers.push(NameServer { name, addresses });
    }
    let soa_spec = &s.spec.soa;
    let mname = match &soa_spec.mname {
        Some(m) => dns_name(m)
            .map_err(|e| err(diags, &["spec", "soa", "mname"], "spec.soa.mname", e))
            .ok()?,
        None => name_servers
            .first()
            .map(|n| n.name.clone())
            .unwrap_or_else(|| format!("ns1.{apex}")),
    };
    let rname = match &soa_spec.rname {
        Some(r) => {
            let r = match r.split_once('@') {
                Some((local, domain)) if !local.contains('.') => format!("{local}.{domain}"),
                Some(_) => {
                    err(diags, &["spec", "soa", "rname"], "spec.soa.rname", format!("{r:?}: a mailbox with a dot before @ cannot be written as a plain domain name; allowed: hostmaster@{apex} or hostmaster.{apex}"));
                    return None;
                }
                None => r.clone(),
            };
            dns_name(&r)
                .map_err(|e| err(diags, &["spec", "soa", "rname"], "spec.soa.rname", e))
                .ok()?
        }
        None => format!("hostmaster.{apex}"),
    };
    let soa = Soa {
        mname,
        rname,
        serial: soa_spec.serial.unwrap_or(0),
        refresh: soa_spec.refresh.unwrap_or(14_400),
        retry: soa_spec.retry.unwrap_or(3_600),
        expire: soa_spec.expire.unwrap_or(1_209_600),
        minimum: soa_spec.minimum.unwrap_or(60),
        ttl: soa_spec.ttl.unwrap_or(3_600),
    };
    for (field, value) in [("ttl", soa.ttl), ("minimum", soa.minimum)] {
        if value > MAX_TTL {
            err(
                diags,
                &["spec", "soa", field],
                &format!("spec.soa.{field}"),
                format!("{value} is too large; allowed: 0 to {MAX_TTL}"),
            );
        }
    }
    Some(ZoneSettings {
        apex,
        soa,
        name_servers,
        default_ttl,
    })
}
