//! A profile's `monitorConfig`: fleet-networking's defaults and CEL rules, then
//! the fleetdns probe annotations (fast intervals, expected codes, TLS).

use crate::crd::v1beta1::{MonitorProtocol, TrafficManagerProfileSpec};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::inputs::Object;
use crate::model::{MonitorConfig, Protocol};
use crate::secret::Secret;

use super::annotations::bool_annotation;

/// Annotation on a TrafficManagerProfile: probe interval in seconds, 1-30, overriding
/// `intervalInSeconds` (which only allows 10 or 30) for failover in a few seconds.
pub const PROBE_INTERVAL_ANNOTATION: &str = "fleetdns.io/probe-interval-seconds";
/// Annotation on a TrafficManagerProfile: probe timeout in seconds, 1 to the interval.
pub const PROBE_TIMEOUT_ANNOTATION: &str = "fleetdns.io/probe-timeout-seconds";
/// Annotation on a TrafficManagerProfile: HTTP status codes counted as healthy, as
/// Traffic Manager's expectedStatusCodeRanges: `"200-299,301"` (at most 8 ranges).
pub const EXPECTED_STATUS_ANNOTATION: &str = "fleetdns.io/expected-status-codes";
/// Annotation on a TrafficManagerProfile: `"true"` validates HTTPS certificates.
pub const VERIFY_TLS_ANNOTATION: &str = "fleetdns.io/verify-tls";

/// Applies fleet-networking's defaulter and the v1beta1 CEL rules, then the
/// fleetdns annotations (fast intervals, expected status codes, TLS verification).
pub(super) fn monitor_config(
    p: &Object<TrafficManagerProfileSpec>,
    object: &str,
    diags: &mut Diagnostics,
) -> Option<MonitorConfig> {
    let m = p.spec.monitor_config.clone().unwrap_or_default();
    let path = |f: &'static str| ["spec", "monitorConfig", f];
    let fail = |diags: &mut Diagnostics, at: &[&str], field: String, msg: String| {
        diags.push(
            Diagnostic::error(p.doc.location_of(at), msg)
                .object(object.to_string())
                .field(field),
        );
    };
    let interval = m.interval_in_seconds.unwrap_or(30);
    let max_timeout = if interval == 10 { 9 } else { 10 };
    let timeout = m.timeout_in_seconds.unwrap_or(max_timeout);
    if !(5..=max_timeout).contains(&timeout) {
        fail(diags, &path("timeoutInSeconds"), "spec.monitorConfig.timeoutInSeconds".into(), format!("{timeout} is not allowed with intervalInSeconds {interval}; allowed: 5 to {max_timeout} (interval 30 allows 5-10, interval 10 allows 5-9)"));
        return None;
    }
    let port = m.port.unwrap_or(80);
    let Ok(port) =
        u16::try_from(port)
            .map_err(|_| ())
            .and_then(|p| if p == 0 { Err(()) } else { Ok(p) })
    else {
        fail(
            diags,
            &path("port"),
            "spec.monitorConfig.port".into(),
            format!("{port} is not a port; allowed: 1 to 65535"),
        );
        return None;
    };
    let protocol = match m.protocol.unwrap_or(MonitorProtocol::HTTP) {
        MonitorProtocol::HTTP => Protocol::Http,
        MonitorProtocol::HTTPS => Protocol::Https,
        MonitorProtocol::TCP => Protocol::Tcp,
    };

    let ann_path = |key: &'static str| ["metadata", "annotations", key];
    let ann_field = |key: &str| format!("metadata.annotations[{key:?}]");
    let seconds = |diags: &mut Diagnostics,
                   key: &'static str,
                   max: u32|
     -> Result<Option<u32>, ()> {
        match p.annotation(key) {
            None => Ok(None),
            Some(raw) => match raw.parse::<u32>() {
                Ok(v) if (1..=max).contains(&v) => Ok(Some(v)),
                _ => {
                    fail(diags, &ann_path(key), ann_field(key), format!("{raw:?} is not allowed; allowed: an integer number of seconds from 1 to {max}"));
                    Err(())
                }
            },
        }
    };
    let (mut interval, mut timeout) = (interval as u32, timeout as u32);
    if let Some(fast) = seconds(diags, PROBE_INTERVAL_ANNOTATION, 30).ok()? {
        interval = fast;
        timeout = timeout.min(fast);
    }
    if let Some(t) = seconds(diags, PROBE_TIMEOUT_ANNOTATION, interval).ok()? {
        timeout = t;
    }
    let expected_status = match p.annotation(EXPECTED_STATUS_ANNOTATION) {
        None => vec![(200, 200)],
        Some(raw) => match status_ranges(raw) {
            Ok(r) if protocol != Protocol::Tcp => r,
            Ok(_) => {
                fail(diags, &ann_path(EXPECTED_STATUS_ANNOTATION), ann_field(EXPECTED_STATUS_ANNOTATION), "expected status codes apply to HTTP and HTTPS probes only; remove the annotation or use protocol HTTP/HTTPS".into());
                return None;
            }
            Err(e) => {
                fail(
                    diags,
                    &ann_path(EXPECTED_STATUS_ANNOTATION),
                    ann_field(EXPECTED_STATUS_ANNOTATION),
                    e,
                );
                return None;
            }
        },
    };
    let verify_tls = bool_annotation(p, VERIFY_TLS_ANNOTATION, object, diags)?;
    let custom_headers = m
        .custom_headers
        .unwrap_or_default()
        .into_iter()
        .map(|h| (h.name, Secret::new(h.value)))
        .collect();
    Some(MonitorConfig {
        protocol,
        port,
        path: m.path.unwrap_or_else(|| "/".to_string()),
        interval_seconds: interval,
        timeout_seconds: timeout,
        tolerated_failures: m.tolerated_number_of_failures.unwrap_or(3) as u32,
        custom_headers,
        expected_status,
        verify_tls,
    })
}

/// Parses `"200-299,301"` into inclusive ranges (Traffic Manager: at most 8, codes 100-599).
pub fn status_ranges(raw: &str) -> Result<Vec<(u16, u16)>, String> {
    const ALLOWED: &str = "allowed: up to 8 comma-separated codes or ranges of codes from 100 to 599, like \"200-299,301\"";
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let parse = |s: &str| {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
        };
        match (parse(lo), parse(hi)) {
            (Some(lo), Some(hi)) if lo <= hi => out.push((lo, hi)),
            _ => {
                return Err(format!(
                    "{part:?} in {raw:?} is not a status code or range; {ALLOWED}"
                ))
            }
        }
    }
    if out.len() > 8 {
        return Err(format!("{} ranges given; {ALLOWED}", out.len()));
    }
    Ok(out)
}
