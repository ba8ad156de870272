//! `spec.dnssec`: key locations, algorithm and signature lifetimes.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::model::DnssecSettings;
use crate::settings::DnssecSpec;

/// Default signature lifetime: 14 days, as Knot's `rrsig-lifetime`.
pub const DEFAULT_SIGNATURE_VALIDITY: u32 = 14 * 86_400;
/// Default time between re-sign passes.
pub const DEFAULT_RESIGN_INTERVAL: u32 = 3_600;
const MIN_VALIDITY: u32 = 86_400;
const MAX_VALIDITY: u32 = 365 * 86_400;
const MIN_RESIGN: u32 = 60;

pub(super) fn validate(doc: &Doc, d: &DnssecSpec, diags: &mut Diagnostics) -> DnssecSettings {
    let err = |diags: &mut Diagnostics, field: &str, msg: String| {
        diags.push(
            Diagnostic::error(doc.location_of(&["spec", "dnssec", field]), msg)
                .object("FleetDNSConfig")
                .field(format!("spec.dnssec.{field}")),
        );
    };
    match (&d.key_directory, d.key_files.is_empty()) {
        (None, true) => err(
            diags,
            "keyDirectory",
            "no keys: allowed: keyDirectory (a directory of K<zone>.+<alg>+<tag>.key/.private pairs, as `fleetdns dnssec keygen` writes) or keyFiles (a list of .key files)".into(),
        ),
        (Some(_), false) => err(
            diags,
            "keyFiles",
            "both keyDirectory and keyFiles are set; allowed: one of them".into(),
        ),
        _ => {}
    }
    for (i, f) in d.key_files.iter().enumerate() {
        if f.extension().and_then(|e| e.to_str()) != Some("key") {
            err(
                diags,
                "keyFiles",
                format!(
                    "keyFiles[{i}] {:?} does not end in .key; allowed: the public .key file of a pair (its .private must sit beside it)",
                    f.display()
                ),
            );
        }
    }
    let algorithm = match d
        .algorithm
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("ecdsap256sha256") | Some("13") => 13,
        Some("ed25519") | Some("15") => 15,
        Some(other) => {
            err(
                diags,
                "algorithm",
                format!("{other:?} is not an algorithm fleetdns signs with; allowed: \"ecdsap256sha256\" (13, the default) or \"ed25519\" (15)"),
            );
            13
        }
    };
    let validity = d
        .signature_validity_seconds
        .unwrap_or(DEFAULT_SIGNATURE_VALIDITY);
    if !(MIN_VALIDITY..=MAX_VALIDITY).contains(&validity) {
        err(
            diags,
            "signatureValiditySeconds",
            format!("{validity} is not allowed; allowed: {MIN_VALIDITY} (1 day) to {MAX_VALIDITY} (365 days) seconds"),
        );
    }
    let resign = d.resign_interval_seconds.unwrap_or(DEFAULT_RESIGN_INTERVAL);
    // Signatures are renewed once less than half their lifetime is left; a pass at
    // least every quarter lifetime renews each with a quarter lifetime to spare.
    let max_resign = (validity / 4).max(MIN_RESIGN);
    if !(MIN_RESIGN..=max_resign).contains(&resign) {
        err(
            diags,
            "resignIntervalSeconds",
            format!("{resign} is not allowed; allowed: {MIN_RESIGN} to {max_resign} seconds (a quarter of signatureValiditySeconds)"),
        );
    }
    DnssecSettings {
        key_directory: d.key_directory.clone(),
        key_files: d.key_files.clone(),
        algorithm,
        signature_validity_seconds: validity,
        resign_interval_seconds: resign,
    }
}
