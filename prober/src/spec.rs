//! What one endpoint's probe sends, worked out once from its monitor config and target.
//!
//! Turning `(MonitorConfig, Target)` into a URL, headers and a socket address is
//! pure and can fail on odd input (a header name with spaces, a target with no
//! address). Doing it once per endpoint, not per probe, keeps the probe loop to
//! I/O, and a config that cannot be probed becomes a visible failing probe
//! instead of a panic.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use fleetdns_config::{MonitorConfig, Protocol, Target};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use reqwest::Url;

/// Why a probe cannot even be attempted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("the target has no address or host name to probe")]
    NoAddress,
    #[error("probe URL `{url}` is invalid: {reason}")]
    Url { url: String, reason: String },
    #[error("custom header name `{0}` is not a valid HTTP header name")]
    HeaderName(String),
    #[error("custom header `{0}` has a value that is not valid in HTTP")]
    HeaderValue(String),
}

/// A ready-to-send probe.
#[derive(Clone, Debug)]
pub struct ProbeSpec {
    /// Whole-probe deadline: connect, TLS handshake and response head.
    pub timeout: Duration,
    pub kind: Kind,
}

/// Protocol-specific part of a [`ProbeSpec`].
#[derive(Clone, Debug)]
pub enum Kind {
    Http {
        url: Url,
        /// `Host` (default: the target) and the custom headers.
        headers: HeaderMap,
        /// Validate the server certificate (HTTPS only).
        verify_tls: bool,
        /// Healthy statuses, inclusive ranges (see [`fleetdns_config::is_expected_status`]).
        expected: Vec<(u16, u16)>,
    },
    Tcp(TcpTarget),
}

/// Where a TCP probe connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpTarget {
    Addr(SocketAddr),
    /// Resolved at probe time.
    Host(String, u16),
}

impl ProbeSpec {
    /// Builds the probe of `target` under `monitor`. Connects to the IPv4
    /// address if there is one, else the IPv6 address, else the host name.
    pub fn new(monitor: &MonitorConfig, target: &Target) -> Result<ProbeSpec, SpecError> {
        let ip: Option<IpAddr> = match target {
            Target::Addresses { v4: Some(a), .. } => Some((*a).into()),
            Target::Addresses { v6: Some(a), .. } => Some((*a).into()),
            Target::Addresses { .. } => return Err(SpecError::NoAddress),
            Target::Host(h) if h.is_empty() => return Err(SpecError::NoAddress),
            Target::Host(_) => None,
        };
        let host = target.probe_host();
        // As it appears in a URL or a Host header: IPv6 in brackets.
        let authority = match ip {
            Some(IpAddr::V6(a)) => format!("[{a}]"),
            _ => host.clone(),
        };
        let kind = match monitor.protocol {
            Protocol::Tcp => Kind::Tcp(match ip {
                Some(ip) => TcpTarget::Addr(SocketAddr::new(ip, monitor.port)),
                None => TcpTarget::Host(host, monitor.port),
            }),
            Protocol::Http | Protocol::Https => {
                let scheme = if monitor.protocol == Protocol::Https {
                    "https"
                } else {
                    "http"
                };
                let slash = if monitor.path.starts_with('/') {
                    ""
                } else {
                    "/"
                };
                let url = format!(
                    "{scheme}://{authority}:{}{slash}{}",
                    monitor.port, monitor.path
                );
                let url = Url::parse(&url).map_err(|e| SpecError::Url {
                    reason: e.to_string(),
                    url,
                })?;
                Kind::Http {
                    url,
                    headers: headers(&authority, &monitor.custom_headers)?,
                    verify_tls: monitor.verify_tls,
                    expected: monitor.expected_status.clone(),
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
    pub fn host(&self) -> String {
        match &self.kind {
            Kind::Http { url, .. } => url.host_str().unwrap_or_default().to_string(),
            Kind::Tcp(TcpTarget::Addr(a)) => a.ip().to_string(),
            Kind::Tcp(TcpTarget::Host(h, _)) => h.clone(),
        }
    }
}

/// `Host: <default_host>`, then the custom headers in order; a custom `Host`
/// (any case) replaces the default, as does any repeated name.
fn headers(default_host: &str, custom: &[(String, String)]) -> Result<HeaderMap, SpecError> {
    let mut map = HeaderMap::with_capacity(custom.len() + 1);
    let host = HeaderValue::from_str(default_host)
        .map_err(|_| SpecError::HeaderValue("Host".to_string()))?;
    map.insert(HOST, host);
    for (name, value) in custom {
        let n = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| SpecError::HeaderName(name.clone()))?;
        let v = HeaderValue::from_str(value.trim())
            .map_err(|_| SpecError::HeaderValue(name.clone()))?;
        map.insert(n, v);
    }
    Ok(map)
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

    fn http(spec: &ProbeSpec) -> (&Url, &HeaderMap) {
        match &spec.kind {
            Kind::Http { url, headers, .. } => (url, headers),
            Kind::Tcp(_) => panic!("expected an HTTP probe"),
        }
    }

    #[test]
    fn http_url_and_default_host_from_ipv4_target() {
        let s = ProbeSpec::new(&monitor(Protocol::Http), &v4([192, 0, 2, 7])).unwrap();
        let (url, headers) = http(&s);
        assert_eq!(url.as_str(), "http://192.0.2.7:8080/healthz");
        assert_eq!(headers[HOST], "192.0.2.7");
        assert_eq!(s.timeout, Duration::from_secs(5));
    }

    #[test]
    fn ipv4_preferred_over_ipv6_and_ipv6_bracketed() {
        let both = Target::Addresses {
            v4: Some(Ipv4Addr::new(192, 0, 2, 1)),
            v6: Some(Ipv6Addr::LOCALHOST),
        };
        let s = ProbeSpec::new(&monitor(Protocol::Https), &both).unwrap();
        assert_eq!(http(&s).0.as_str(), "https://192.0.2.1:8080/healthz");

        let only6 = Target::Addresses {
            v4: None,
            v6: Some(Ipv6Addr::LOCALHOST),
        };
        let s = ProbeSpec::new(&monitor(Protocol::Http), &only6).unwrap();
        let (url, headers) = http(&s);
        assert_eq!(url.as_str(), "http://[::1]:8080/healthz");
        assert_eq!(headers[HOST], "[::1]");
        let t = ProbeSpec::new(&monitor(Protocol::Tcp), &only6).unwrap();
        assert!(
            matches!(t.kind, Kind::Tcp(TcpTarget::Addr(a)) if a == "[::1]:8080".parse().unwrap())
        );
    }

    #[test]
    fn host_target_is_url_host_and_host_header() {
        let t = Target::Host("app.example.com".into());
        let s = ProbeSpec::new(&monitor(Protocol::Http), &t).unwrap();
        let (url, headers) = http(&s);
        assert_eq!(url.as_str(), "http://app.example.com:8080/healthz");
        assert_eq!(headers[HOST], "app.example.com");
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
            ("X-Probe".into(), "fleet".into()),
        ];
        let s = ProbeSpec::new(&m, &v4([192, 0, 2, 7])).unwrap();
        let headers = http(&s).1;
        assert_eq!(headers.get_all(HOST).iter().count(), 1);
        assert_eq!(headers[HOST], "www.contoso.com");
        assert_eq!(headers["x-probe"], "fleet");
    }

    #[test]
    fn path_without_leading_slash_is_accepted() {
        let mut m = monitor(Protocol::Http);
        m.path = "status?full=1".into();
        let s = ProbeSpec::new(&m, &v4([192, 0, 2, 7])).unwrap();
        assert_eq!(http(&s).0.as_str(), "http://192.0.2.7:8080/status?full=1");
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
            Err(SpecError::Url { .. })
        ));
    }
}
