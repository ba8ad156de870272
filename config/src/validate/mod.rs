//! Inputs → `Fleet`, or precise diagnostics.
//!
//! This is the only place input is judged. It applies fleet-networking's defaults
//! and rules (monitorConfig, the weight annotation, the weight formula, the
//! one-namespace rule between backend, profile and service) plus what a DNS zone
//! needs (valid names, unique owner names, glue). Everything found is reported at
//! once; any error means no `Fleet`, and the caller keeps its last good one.
//!
//! One (private) module per subject: `settings`, `zone`, `clusters`, `exports`,
//! `profiles` (with `monitor` and `routing`), `backends`, `limits`, `serial`, `azure` and `hub`;
//! [`fleet`] runs them in order.

mod annotations;
mod azure;
mod backends;
mod clusters;
mod credential;
mod dnssec;
mod exports;
mod hub;
mod incremental;
mod limits;
mod monitor;
mod profiles;
mod routing;
mod serial;
mod settings;
mod zone;

pub use dnssec::{DEFAULT_RESIGN_INTERVAL, DEFAULT_SIGNATURE_VALIDITY};
pub use exports::{ALWAYS_SERVE_ANNOTATION, CLUSTERS_ANNOTATION};
pub(crate) use incremental::{fleet_incremental, Change};
pub use monitor::{
    status_ranges, EXPECTED_STATUS_ANNOTATION, PROBE_INTERVAL_ANNOTATION, PROBE_TIMEOUT_ANNOTATION,
    VERIFY_TLS_ANNOTATION,
};
pub use profiles::{FAIL_CLOSED_ANNOTATION, TTL_ANNOTATION};
pub use serial::SerialCache;
pub use settings::{
    DEFAULT_ADMIN_LISTEN, DEFAULT_LEASE_NAME, DEFAULT_LEASE_SECONDS, DEFAULT_LISTEN,
    DEFAULT_TRUSTED_NETWORKS,
};
pub use zone::{dns_name, DEFAULT_TTL, MAX_TTL};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::inputs::Inputs;
use crate::limits as caps;
use crate::model::{Fleet, Profile};
use std::sync::Arc;

/// Builds the `Fleet`, pushing every finding into `diags`. Returns `None` when
/// nothing usable could be built; the caller must still check `diags.has_errors()`.
pub fn fleet(inputs: &Inputs, diags: &mut Diagnostics) -> Option<Fleet> {
    let (mut fleet, content_serial) = fleet_unsealed(inputs, diags)?;
    if content_serial {
        seal(&mut fleet);
    }
    Some(fleet)
}

/// Sets the content serial (for settings that give none): a hash of the whole
/// fleet, taken with the serial at 0. Public so a fleet assembled from parts
/// (the Kubernetes source's per-namespace composition) gets the serial a whole
/// validation would give it.
pub fn seal(fleet: &mut Fleet) {
    seal_cached(fleet, &mut SerialCache::default());
}

/// [`seal`], digesting only the profiles `cache` has not seen (the ones the last
/// fleet sealed with it did not share), and keeping this fleet's digests in it.
pub fn seal_cached(fleet: &mut Fleet, cache: &mut SerialCache) {
    // A profile equal to one the cache holds (rebuilt by a cold validation)
    // becomes that object: its digest is reused, and the zone patches it as
    // unchanged.
    cache.share_into(fleet);
    fleet.zone.soa.serial = 0;
    fleet.zone.soa.serial = serial::content_serial(fleet, cache);
}

/// [`fleet`] without its content serial; `true` when [`seal`] must set it (so a
/// caller can hash the fleet while it does other work).
pub(crate) fn fleet_unsealed(inputs: &Inputs, diags: &mut Diagnostics) -> Option<(Fleet, bool)> {
    let (settings_doc, settings) = match inputs.settings.as_slice() {
        [one] => one,
        [] => {
            let file = inputs
                .profiles
                .first()
                .map(|p| p.doc.file.to_path_buf())
                .unwrap_or_default();
            diags.push(Diagnostic::error(
                crate::diagnostic::Location { file, ..Default::default() },
                "no FleetDNSConfig document: add one with apiVersion: fleetdns.io/v1alpha1, kind: FleetDNSConfig and spec.zone (see examples/fleet.yaml)",
            ));
            return None;
        }
        [first, rest @ ..] => {
            for (doc, _) in rest {
                diags.push(Diagnostic::error(
                    doc.location(),
                    format!(
                        "a second FleetDNSConfig document; allowed: exactly one (the first is document {})",
                        first.0.index
                    ),
                ));
            }
            return None;
        }
    };
    if !within_limits(inputs, settings_doc, settings, diags) {
        return None;
    }
    let zone = zone::zone_settings(settings_doc, settings, diags)?;
    let clusters = clusters::clusters(settings_doc, settings, diags);
    let exports = exports::exports(inputs, &clusters, diags);
    let mut profiles = profiles::profiles(inputs, &zone, diags);
    backends::backends(inputs, &mut profiles, &exports, diags);
    limits::endpoint_limit(inputs, &profiles, diags);

    let profiles = sorted(profiles.into_values().map(|(_, p)| p).collect());
    Some(finish(
        settings_doc,
        settings,
        inputs,
        zone,
        profiles,
        diags,
    ))
}

/// The object-count and cluster-count caps; `false` (with an error) when over.
fn within_limits(
    inputs: &Inputs,
    settings_doc: &crate::document::Doc,
    settings: &crate::settings::SettingsDocument,
    diags: &mut Diagnostics,
) -> bool {
    let counts = [
        (
            "TrafficManagerProfile",
            inputs.profiles.len(),
            caps::MAX_PROFILES,
            inputs.profiles.get(caps::MAX_PROFILES).map(|o| &o.doc),
        ),
        (
            "TrafficManagerBackend",
            inputs.backends.len(),
            caps::MAX_BACKENDS,
            inputs.backends.get(caps::MAX_BACKENDS).map(|o| &o.doc),
        ),
        (
            "ServiceExport",
            inputs.exports.len(),
            caps::MAX_EXPORTS,
            inputs.exports.get(caps::MAX_EXPORTS).map(|o| &o.doc),
        ),
    ];
    let mut within = true;
    for (kind, found, max, first_over) in counts {
        within &= limits::count(kind, found, max, first_over, diags);
    }
    if settings.spec.clusters.len() > caps::MAX_CLUSTERS {
        diags.push(
            Diagnostic::error(
                settings_doc.location_of(&["spec", "clusters"]),
                format!(
                    "{} member clusters; allowed: at most {}",
                    settings.spec.clusters.len(),
                    caps::MAX_CLUSTERS
                ),
            )
            .object("FleetDNSConfig")
            .field("spec.clusters"),
        );
        within = false;
    }
    within
}

/// Profiles in owner order, each with its endpoints in id order, shared.
fn sorted(mut profiles: Vec<Profile>) -> Vec<Arc<Profile>> {
    for p in &mut profiles {
        p.endpoints.sort_by(|a, b| a.id.cmp(&b.id));
        // Pushed one by one, a profile's endpoints have room for more (4 for 3:
        // ~11 MiB at 100k profiles), which a validated fleet never uses.
        p.endpoints.shrink_to_fit();
    }
    profiles.sort_by(|a, b| a.owner.cmp(&b.owner));
    // A new vector: `collect` would reuse the profiles' allocation (in-place
    // iteration), keeping a profile's size per pointer (~20 MiB at 100k).
    let mut shared = Vec::with_capacity(profiles.len());
    shared.extend(profiles.into_iter().map(Arc::new));
    shared
}

/// The fleet of `profiles` with everything the settings document alone gives;
/// `true` when [`seal`] must set its serial.
fn finish(
    settings_doc: &crate::document::Doc,
    settings: &crate::settings::SettingsDocument,
    inputs: &Inputs,
    zone: crate::model::ZoneSettings,
    profiles: Vec<Arc<Profile>>,
    diags: &mut Diagnostics,
) -> (Fleet, bool) {
    let listen = settings::listen(settings);
    let trusted_networks = settings::trusted_networks(settings_doc, settings, diags);
    let admin_listen = settings.spec.admin.listen.unwrap_or_else(|| {
        DEFAULT_ADMIN_LISTEN
            .parse()
            .expect("DEFAULT_ADMIN_LISTEN is a socket address")
    });
    let rrl = limits::rrl(settings_doc, settings, &trusted_networks, diags);
    let tcp = limits::tcp(settings_doc, settings, diags);
    let kubernetes = settings.spec.kubernetes.as_ref().map(|k| {
        let mut ks = settings::kubernetes(settings_doc, k, diags);
        ks.hub_mode = hub::hub_mode(settings_doc, settings, diags);
        ks.hub_auth = hub::hub_auth(settings_doc, settings, diags);
        ks
    });
    let azure = azure::validate(settings_doc, settings, inputs, diags);
    let dnssec = settings
        .spec
        .dnssec
        .as_ref()
        .map(|d| dnssec::validate(settings_doc, d, diags));
    let fleet = Fleet {
        zone,
        listen,
        profiles,
        trusted_networks,
        admin_listen,
        rrl,
        tcp,
        kubernetes,
        observed: Default::default(),
        azure,
        dnssec,
    };
    (fleet, settings.spec.soa.serial.is_none())
}
