//! Request paths and query strings: which resource type, version, namespace, name and
//! subresource an API path names (`/api/v1/...`, `/apis/<group>/<version>/...`), and the
//! decoded query parameters.

use std::collections::HashMap;

use crate::registry::Registry;
use crate::status::ApiError;

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters (last value wins).
pub(crate) fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// A parsed resource path.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    pub rid: usize,
    pub version: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

fn not_found_path() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

/// Parses `/api/v1/...` and `/apis/<g>/<v>/...` resource paths.
pub(crate) fn route(reg: &Registry, path: &str) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found_path()),
    };
    let namespaced_type = |plural: &str| {
        reg.by_plural(group, version, plural)
            .filter(|i| reg.types[*i].namespaced)
    };
    let (rid, namespace, tail) = match rest {
        ["namespaces", ns, plural, tail @ ..] if namespaced_type(plural).is_some() => (
            namespaced_type(plural).expect("checked"),
            Some(ns.to_string()),
            tail,
        ),
        [plural, tail @ ..] => {
            let rid = reg
                .by_plural(group, version, plural)
                .ok_or_else(not_found_path)?;
            if reg.types[rid].namespaced && !tail.is_empty() {
                return Err(not_found_path());
            }
            (rid, None, tail)
        }
        [] => return Err(not_found_path()),
    };
    let (name, sub) = match tail {
        [] => (None, None),
        [n] => (Some(n.to_string()), None),
        [n, "status"] if reg.types[rid].status_subresource => {
            (Some(n.to_string()), Some("status".to_string()))
        }
        _ => return Err(not_found_path()),
    };
    Ok(Route {
        rid,
        version: version.to_string(),
        namespace,
        name,
        sub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query("labelSelector=app%3Dweb%2Ctier&watch=true&x");
        assert_eq!(q["labelSelector"], "app=web,tier");
        assert_eq!(q["watch"], "true");
        assert_eq!(q["x"], "");
    }

    #[test]
    fn routes() {
        let reg = Registry::embedded().unwrap();
        let r = route(&reg, "/apis/networking.fleet.azure.com/v1beta1/namespaces/ns/trafficmanagerprofiles/p/status").unwrap();
        assert_eq!(reg.types[r.rid].kind, "TrafficManagerProfile");
        assert_eq!(
            (r.namespace.as_deref(), r.name.as_deref(), r.sub.as_deref()),
            (Some("ns"), Some("p"), Some("status"))
        );
        let r = route(&reg, "/api/v1/namespaces/ns").unwrap();
        assert_eq!(reg.types[r.rid].kind, "Namespace");
        assert_eq!(r.name.as_deref(), Some("ns"));
        let r = route(&reg, "/api/v1/services").unwrap();
        assert!(r.namespace.is_none() && r.name.is_none());
        assert!(route(
            &reg,
            "/apis/coordination.k8s.io/v1/namespaces/a/leases/l/status"
        )
        .is_err());
        assert!(route(
            &reg,
            "/apis/networking.fleet.azure.com/v2/trafficmanagerprofiles"
        )
        .is_err());
    }
}
