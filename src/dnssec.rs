//! `fleetdns dnssec keygen` and `fleetdns dnssec ds`, and what `serve` keeps to
//! sign the zone ([`ZoneSigner`]).

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use fleetdns_config::{DnssecSettings, Fleet};
use fleetdns_dns::dnssec::{Algorithm, SigCache, SigningKey, Validity, FLAGS_KSK, FLAGS_ZSK};
use fleetdns_dns::Signing;
use tracing::{error, info};

use crate::cli::{DnssecCommand, KeyAlgorithm, KeyRole};
use crate::dnssec_keys;

pub fn run(cmd: DnssecCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DnssecCommand::Keygen(a) => {
            let algorithm = match a.algorithm {
                KeyAlgorithm::Ecdsap256sha256 => Algorithm::EcdsaP256Sha256,
                KeyAlgorithm::Ed25519 => Algorithm::Ed25519,
            };
            let flags = match a.role {
                KeyRole::Csk | KeyRole::Ksk => FLAGS_KSK,
                KeyRole::Zsk => FLAGS_ZSK,
            };
            let (base, _) = dnssec_keys::write_new(&a.dir, &a.zone, algorithm, flags)?;
            println!("{}", base.display());
        }
        DnssecCommand::Ds(a) => {
            let (zone, settings) = match (a.config, a.zone, a.key_dir) {
                (Some(config), _, _) => {
                    let (fleet, _) = fleetdns_sources::file::load(&config)
                        .map_err(|d| anyhow::anyhow!("{}: not valid:\n{d}", config.display()))?;
                    let settings = fleet
                        .dnssec
                        .clone()
                        .with_context(|| format!("{}: no spec.dnssec section", config.display()))?;
                    (fleet.zone.apex.clone(), settings)
                }
                (None, Some(zone), Some(dir)) => (
                    zone,
                    DnssecSettings {
                        key_directory: Some(dir),
                        key_files: Vec::new(),
                        algorithm: 0,
                        signature_validity_seconds: 0,
                        resign_interval_seconds: 0,
                    },
                ),
                _ => bail!("give --config FILE, or --zone ZONE with --key-dir DIR"),
            };
            let keys = dnssec_keys::load(&settings, &zone)?;
            let wire = dnssec_keys::zone_wire(&zone);
            for key in keys.iter().filter(|k| k.is_sep()) {
                let ds = key.ds_rdata(&wire);
                let hex: String = ds[4..].iter().map(|b| format!("{b:02X}")).collect();
                println!(
                    "{} {} IN DS {} {} 2 {hex}",
                    dnssec_keys::zone_fqdn(&zone),
                    a.ttl,
                    key.tag(),
                    key.algorithm().number()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `serve` keeps to sign each compile: the keys, the settings they were
/// read for, and the signatures kept between compiles.
pub struct ZoneSigner {
    zone: String,
    settings: DnssecSettings,
    keys: Vec<SigningKey>,
    cache: SigCache,
}

impl ZoneSigner {
    /// Reads the keys `fleet.dnssec` names; `None` when the zone is not signed.
    pub fn load(fleet: &Fleet) -> anyhow::Result<Option<Self>> {
        let Some(settings) = &fleet.dnssec else {
            return Ok(None);
        };
        let keys = dnssec_keys::load(settings, &fleet.zone.apex)?;
        let tags: Vec<u16> = keys.iter().map(SigningKey::tag).collect();
        info!(zone = %fleet.zone.apex, algorithm = settings.algorithm, key_tags = ?tags, "dnssec keys loaded");
        Ok(Some(Self {
            zone: fleet.zone.apex.clone(),
            settings: settings.clone(),
            keys,
            cache: SigCache::default(),
        }))
    }

    /// Follows a new fleet's settings: reads the keys again when the zone or
    /// `spec.dnssec` changed. A failure keeps the keys in use (and is logged).
    pub fn follow(current: &mut Option<Self>, fleet: &Fleet) {
        let same = match (current.as_ref(), &fleet.dnssec) {
            (Some(s), Some(d)) => s.settings == *d && s.zone == fleet.zone.apex,
            (None, None) => true,
            _ => false,
        };
        if same {
            return;
        }
        match Self::load(fleet) {
            Ok(next) => {
                if next.is_none() {
                    info!(zone = %fleet.zone.apex, "dnssec off: the zone is served unsigned");
                }
                *current = next;
            }
            Err(e) => {
                error!(error = %format!("{e:#}"), "dnssec keys not reloaded; the keys in use keep signing")
            }
        }
    }

    /// How often signatures are renewed.
    pub fn resign_interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.settings.resign_interval_seconds))
    }

    /// The signing inputs of one compile, now.
    pub fn signing(&mut self) -> Signing<'_> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as u32;
        Signing {
            keys: &self.keys,
            validity: Validity {
                lifetime: self.settings.signature_validity_seconds,
                skew: CLOCK_SKEW,
            },
            now,
            cache: &mut self.cache,
        }
    }

    /// `(made, reused)` signatures so far, and signatures held.
    pub fn counts(&self) -> (u64, u64, usize) {
        let (made, reused) = self.cache.counts();
        (made, reused, self.cache.len())
    }
}

/// Inception is back-dated by an hour, for validators whose clock is behind.
const CLOCK_SKEW: u32 = 3_600;
