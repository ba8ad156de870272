//! What one endpoint's probe sends, worked out from its monitor config and target.
//!
//! Turning `(MonitorConfig, Target)` into a request path, headers, a TLS server
//! name and a socket address is pure and can fail on odd input (a header name
//! with spaces, a target with no address). Kept apart from the I/O, and a
//! config that cannot be probed becomes a visible failing probe instead of a
//! panic. A spec is built when its probe starts and dropped when it ends (a
//! few small allocations next to a connection), so an endpoint between two
//! probes holds none.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

use fleetdns_config::secret::Secret;
use fleetdns_config::{MonitorConfig, Protocol, Target};
use rustls::pki_types::ServerName;

/// Why a probe cannot even be attempted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SpecError {
    #[error("the target has no address or host name to probe")]
    NoAddress,
    #[error("target host `{0}` is not a valid host name")]
    Host(String),
    #[error("custom header name `{0}` is not a valid HTTP header name")]
    HeaderName(String),
    #[error("custom header `{0}` has a value that is not valid in HTTP")]
    HeaderValue(String),
}

/// A ready-to-send probe.
#[derive(Clone, Debug)]
pub(crate) struct ProbeSpec {
    /// Whole-probe deadline: connect, TLS handshake and response head.
    pub timeout: Duration,
    pub kind: Kind,
}

/// Protocol-specific part of a [`ProbeSpec`].
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Http {
        connect: TcpTarget,
        /// For HTTPS: the name the certificate is issued to (the target) and
        /// whether to validate it.
        tls: Option<Tls>,
        /// Origin-form request target: `/`, then the path, percent-encoded.
        path: String,
        /// `Host` first (default: the target), then the custom headers, each
        /// name once (a repeated name, in any case, replaces the earlier value).
        /// Redacted in `Debug`: custom header values often carry a key.
        headers: Secret<Vec<(String, String)>>,
        /// Healthy statuses, inclusive ranges (see [`fleetdns_config::is_expected_status`]).
        expected: Vec<(u16, u16)>,
        /// The request bytes, rendered by the probe (it knows the `User-Agent`).
        /// Redacted in `Debug`, as it holds the header values.
        request: Secret<OnceLock<Vec<u8>>>,
    },
    Tcp(TcpTarget),
}

/// The TLS side of an HTTPS probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tls {
    pub server_name: ServerName<'static>,
    /// Validate the server certificate (`verify_tls`).
    pub verify: bool,
}

/// Where a probe connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TcpTarget {
    Addr(SocketAddr),
    /// Resolved at probe time.
    Host(String, u16),
}

impl ProbeSpec {
    /// Builds the probe of `target` under `monitor`. Connects to the IPv4
    /// address if there is one, else the IPv6 address, else the host name.
    pub(crate) fn new(monitor: &MonitorConfig, target: &Target) -> Result<ProbeSpec, SpecError> {
        let ip: Option<IpAddr> = match target {
            Target::Addresses { v4: Some(a), .. } => Some((*a).into()),
            Target::Addresses { v6: Some(a), .. } => Some((*a).into()),
            Target::Addresses { .. } => return Err(SpecError::NoAddress),
            Target::Host(h) if h.is_empty() => return Err(SpecError::NoAddress),
            Target::Host(_) => None,
        };
        let host = target.probe_host();
        let connect = match ip {
            Some(ip) => TcpTarget::Addr(SocketAddr::new(ip, monitor.port)),
            None => {
                if !is_host_name(&host) {
                    return Err(SpecError::Host(host));
                }
                TcpTarget::Host(host.to_ascii_lowercase(), monitor.port)
            }
        };
        let kind = match monitor.protocol {
            Protocol::Tcp => Kind::Tcp(connect),
            Protocol::Http | Protocol::Https => {
                // As it appears in a Host header: IPv6 in brackets.
                let authority = match ip {
                    Some(IpAddr::V6(a)) => format!("[{a}]"),
                    _ => host.clone(),
                };
                let tls = if monitor.protocol == Protocol::Https {
                    let server_name = match ip {
                        Some(ip) => ServerName::IpAddress(ip.into()),
                        None => ServerName::try_from(host.to_ascii_lowercase())
                            .map_err(|_| SpecError::Host(host.clone()))?,
                    };
                    Some(Tls {
                        server_name,
                        verify: monitor.verify_tls,
                    })
                } else {
                    None
                };
                Kind::Http {
                    connect,
                    tls,
                    path: request_path(&monitor.path),
                    headers: Secret::wrap(headers(&authority, &monitor.custom_headers)?),
                    expected: monitor.expected_status.clone(),
                    request: Secret::wrap(OnceLock::new()),
                }
            }
        };
        Ok(ProbeSpec {
            timeout: Duration::from_secs(u64::from(monitor.timeout_seconds.max(1))),
            kind,
        })
    }

    /// The host the probe connects to (tests key fake endpoints on it).
    #[cfg(test)]
    pub(crate) fn host(&self) -> String {
        match &self.kind {
            Kind::Http { connect, .. } | Kind::Tcp(connect) => match connect {
                TcpTarget::Addr(a) => a.ip().to_string(),
                TcpTarget::Host(h, _) => h.clone(),
            },
        }
    }
}

/// A DNS name as a probe can resolve it: letters, digits, `-`, `_` and dots.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The monitor path as a request target: a leading `/` added if missing, any
/// `#fragment` dropped, and bytes that may not appear in a request line
/// (controls, space, non-ASCII, `"<>\`{}` and backslash) percent-encoded, as
/// a URL parser would.
fn request_path(path: &str) -> String {
    let path = path.split('#').next().unwrap_or_default();
    let mut out = String::with_capacity(path.len() + 1);
    if !path.starts_with('/') {
        out.push('/');
    }
    for b in path.bytes() {
        if b <= b' ' || b >= 0x7f || b"\"<>`{}\\".contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// `Host: <default_host>`, then the custom headers in order; a custom `Host`
/// (any case) replaces the default, as does any repeated name. Names must be
/// HTTP tokens and values visible ASCII, spaces or tabs (both trimmed).
fn headers(
    default_host: &str,
    custom: &[(String, Secret)],
) -> Result<Vec<(String, String)>, SpecError> {
    let mut out = Vec::with_capacity(custom.len() + 1);
    out.push(("Host".to_string(), default_host.to_string()));
    for (name, value) in custom {
        let (n, v) = (name.trim(), value.expose().trim());
        if n.is_empty() || !n.bytes().all(is_token_byte) {
            return Err(SpecError::HeaderName(name.clone()));
        }
        if !v.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) {
            return Err(SpecError::HeaderValue(name.clone()));
        }
        match out
            .iter_mut()
            .find(|(existing, _): &&mut (String, String)| existing.eq_ignore_ascii_case(n))
        {
            Some(slot) => *slot = (n.to_string(), v.to_string()),
            None => out.push((n.to_string(), v.to_string())),
        }
    }
    Ok(out)
}

/// A `tchar` of RFC 9110.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn monitor(protocol: Protocol) -> MonitorConfig {
        MonitorConfig {
            protocol,
            port: 8080,
            path: "/healthz".into(),
            interval_seconds: 10,
            timeout_seconds: 5,
            tolerated_failures: 3,
            custom_headers: vec![],
            expected_status: vec![(200, 200)],
            verify_tls: false,
        }
    }

    fn v4(a: [u8; 4]) -> Target {
        Target::Addresses {
            v4: Some(Ipv4Addr::from(a)),
            v6: None,
        }
    }

    /// Where it connects, the TLS side, the path and the headers of an HTTP(S) probe.
    fn http(spec: &ProbeSpec) -> (&TcpTarget, Option<&Tls>, &str, &[(String, String)]) {
        match &spec.kind {
            Kind::Http {
                connect,
                tls,
                path,
                headers,
                ..
            } => (connect, tls.as_ref(), path, headers.expose()),
            Kind::Tcp(_) => panic!("expected an HTTP probe"),
        }
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn addr(s: &str) -> TcpTarget {
        TcpTarget::Addr(s.parse().unwrap())
    }

    #[test]
    fn http_target_path_and_default_host_from_ipv4_target() {
        let s = ProbeSpec::new(&monitor(Protocol::Http), &v4([192, 0, 2, 7])).unwrap();
        let (connect, tls, path, headers) = http(&s);
        assert_eq!(
            (connect, tls, path),
            (&addr("192.0.2.7:8080"), None, "/healthz")
        );
        assert_eq!(header(headers, "host"), ["192.0.2.7"]);
        assert_eq!(s.timeout, Duration::from_secs(5));
    }

    #[test]
    fn ipv4_preferred_over_ipv6_and_ipv6_bracketed() {
        let both = Target::Addresses {
            v4: Some(Ipv4Addr::new(192, 0, 2, 1)),
            v6: Some(Ipv6Addr::LOCALHOST),
        };
        let s = ProbeSpec::new(&monitor(Protocol::Https), &both).unwrap();
        let (connect, tls, _, _) = http(&s);
        assert_eq!(connect, &addr("192.0.2.1:8080"));
        let tls = tls.expect("HTTPS has a TLS side");
        assert_eq!(
            tls.server_name,
            ServerName::IpAddress(IpAddr::from([192, 0, 2, 1]).into())
        );
        assert!(!tls.verify);

        let only6 = Target::Addresses {
            v4: None,
            v6: Some(Ipv6Addr::LOCALHOST),
        };
        let s = ProbeSpec::new(&monitor(Protocol::Http), &only6).unwrap();
        let (connect, _, _, headers) = http(&s);
        assert_eq!(connect, &addr("[::1]:8080"));
        assert_eq!(header(headers, "host"), ["[::1]"]);
        let t = ProbeSpec::new(&monitor(Protocol::Tcp), &only6).unwrap();
        assert!(
            matches!(t.kind, Kind::Tcp(TcpTarget::Addr(a)) if a == "[::1]:8080".parse().unwrap())
        );
    }

    #[test]
    fn host_target_is_connect_host_tls_name_and_host_header() {
        let t = Target::Host("App.example.com".into());
        let mut m = monitor(Protocol::Https);
        m.verify_tls = true;
        let s = ProbeSpec::new(&m, &t).unwrap();
        let (connect, tls, _, headers) = http(&s);
        assert_eq!(connect, &TcpTarget::Host("app.example.com".into(), 8080));
        let tls = tls.expect("HTTPS has a TLS side");
        assert_eq!(
            tls.server_name,
            ServerName::try_from("app.example.com").unwrap()
        );
        assert!(tls.verify);
        assert_eq!(header(headers, "host"), ["App.example.com"]);
        let s = ProbeSpec::new(&monitor(Protocol::Tcp), &t).unwrap();
        assert!(
            matches!(s.kind, Kind::Tcp(TcpTarget::Host(ref h, 8080)) if h == "app.example.com")
        );
    }

    #[test]
    fn custom_host_header_in_any_case_replaces_default() {
        let mut m = monitor(Protocol::Http);
        m.custom_headers = vec![
            ("hOsT".into(), "www.contoso.com".into()),
            ("X-Probe".into(), " fleet ".into()),
            ("x-probe".into(), "again".into()),
        ];
        let s = ProbeSpec::new(&m, &v4([192, 0, 2, 7])).unwrap();
        let headers = http(&s).3;
        assert_eq!(header(headers, "host"), ["www.contoso.com"]);
        assert_eq!(header(headers, "x-probe"), ["again"]);
        assert_eq!(headers.len(), 2);
        assert!(headers[0].0.eq_ignore_ascii_case("host"), "Host goes first");
    }

    #[test]
    fn path_is_made_a_valid_request_target() {
        let mut m = monitor(Protocol::Http);
        for (configured, sent) in [
            ("status?full=1", "/status?full=1"),
            ("/", "/"),
            ("", "/"),
            ("/a b/ü\"x", "/a%20b/%C3%BC%22x"),
            ("/page#section", "/page"),
        ] {
            m.path = configured.into();
            let s = ProbeSpec::new(&m, &v4([192, 0, 2, 7])).unwrap();
            assert_eq!(http(&s).2, sent, "{configured:?}");
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut m = monitor(Protocol::Http);
        m.custom_headers = vec![("bad name".into(), "x".into())];
        assert_eq!(
            ProbeSpec::new(&m, &v4([192, 0, 2, 7])).unwrap_err(),
            SpecError::HeaderName("bad name".into())
        );
        m.custom_headers = vec![("X-Ok".into(), "line\nbreak".into())];
        assert!(matches!(
            ProbeSpec::new(&m, &v4([192, 0, 2, 7])),
            Err(SpecError::HeaderValue(_))
        ));
        let none = Target::Addresses { v4: None, v6: None };
        assert_eq!(
            ProbeSpec::new(&monitor(Protocol::Tcp), &none).unwrap_err(),
            SpecError::NoAddress
        );
        let t = Target::Host("bad host name".into());
        assert!(matches!(
            ProbeSpec::new(&monitor(Protocol::Http), &t),
            Err(SpecError::Host(_))
        ));
    }
}
