//! DNSSEC key files in BIND's format: `K<zone>.+<alg>+<tag>.key` (the DNSKEY
//! record) and `.private` (`Private-key-format: v1.3`, the raw private key).
//!
//! The only module that reads or writes key files. Private files are secrets:
//! written mode 0600, refused when group or others may read them, and their
//! content never appears in an error or a log line.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use data_encoding::BASE64;
use fleetdns_config::DnssecSettings;
use fleetdns_dns::dnssec::{Algorithm, SigningKey};

/// The zone name as BIND writes it in file names and records: lower case, trailing dot.
pub fn zone_fqdn(zone: &str) -> String {
    format!("{}.", zone.trim_end_matches('.').to_ascii_lowercase())
}

/// The zone apex in lower-case wire form.
pub fn zone_wire(zone: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in zone
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(label.len() as u8);
        out.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    out.push(0);
    out
}

/// `YYYYMMDDHHMMSS` (UTC) of unix seconds, as BIND's timing fields.
fn timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Writes a new key pair for `zone` into `dir`; returns the base path (without
/// `.key`/`.private`).
pub fn write_new(
    dir: &Path,
    zone: &str,
    algorithm: Algorithm,
    flags: u16,
) -> anyhow::Result<(PathBuf, SigningKey)> {
    let (key, private) = SigningKey::generate(algorithm, flags)?;
    let fqdn = zone_fqdn(zone);
    let base = dir.join(format!(
        "K{fqdn}+{:03}+{:05}",
        algorithm.number(),
        key.tag()
    ));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let created = timestamp(now);
    let kind = if key.is_sep() {
        "key-signing"
    } else {
        "zone-signing"
    };
    let public = format!(
        "; This is a {kind} key, keyid {tag}, for {fqdn}\n; Created: {created}\n{fqdn} IN DNSKEY {flags} 3 {alg} {b64}\n",
        tag = key.tag(),
        alg = algorithm.number(),
        b64 = BASE64.encode(key.public_key()),
    );
    let secret = format!(
        "Private-key-format: v1.3\nAlgorithm: {} ({})\nPrivateKey: {}\nCreated: {created}\nPublish: {created}\nActivate: {created}\n",
        algorithm.number(),
        algorithm.mnemonic(),
        BASE64.encode(&private),
    );
    let private_path = with_suffix(&base, ".private");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private_path)
        .with_context(|| format!("cannot create {}", private_path.display()))?;
    f.write_all(secret.as_bytes())
        .with_context(|| format!("cannot write {}", private_path.display()))?;
    let key_path = with_suffix(&base, ".key");
    fs::write(&key_path, public).with_context(|| format!("cannot write {}", key_path.display()))?;
    Ok((base, key))
}

/// `base` with `suffix` appended (the base name already has dots in it).
fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The `.key` files of `zone` in `dir`, sorted.
fn key_files_in(dir: &Path, zone: &str) -> anyhow::Result<Vec<PathBuf>> {
    let prefix = format!("K{}+", zone_fqdn(zone));
    let mut out = Vec::new();
    let entries = fs::read_dir(dir)
        .with_context(|| format!("spec.dnssec.keyDirectory {}: cannot read it", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name
            .to_ascii_lowercase()
            .starts_with(&prefix.to_ascii_lowercase())
            && name.ends_with(".key")
        {
            out.push(path);
        }
    }
    out.sort();
    if out.is_empty() {
        bail!(
            "spec.dnssec.keyDirectory {}: no key for {} (expected files named {prefix}<alg>+<tag>.key with a .private beside each; `fleetdns dnssec keygen --zone {} --dir {}` makes one)",
            dir.display(),
            zone_fqdn(zone),
            zone.trim_end_matches('.'),
            dir.display()
        );
    }
    Ok(out)
}

/// Reads the key pair whose public half is `key_path`, for `zone`.
pub fn read_pair(key_path: &Path, zone: &str) -> anyhow::Result<SigningKey> {
    let text = fs::read_to_string(key_path)
        .with_context(|| format!("{}: cannot read the key file", key_path.display()))?;
    // Comments start with ';', also after the record (ldns-keygen writes `;{id = …}`).
    let line = text
        .lines()
        .map(|l| l.split(';').next().unwrap_or("").trim())
        .find(|l| !l.is_empty())
        .with_context(|| format!("{}: no DNSKEY record in it", key_path.display()))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let at = fields
        .iter()
        .position(|f| f.eq_ignore_ascii_case("DNSKEY"))
        .filter(|&at| fields.len() > at + 4)
        .with_context(|| {
            format!(
                "{}: not a DNSKEY record; allowed: `<zone>. [ttl] [IN] DNSKEY <flags> 3 <algorithm> <base64 key>`",
                key_path.display()
            )
        })?;
    let owner = fields[0].to_ascii_lowercase();
    if zone_fqdn(&owner) != zone_fqdn(zone) {
        bail!(
            "{}: the key is for {owner}, not for the zone {}",
            key_path.display(),
            zone_fqdn(zone)
        );
    }
    let flags: u16 = match fields[at + 1].parse() {
        Ok(f @ (256 | 257)) => f,
        _ => bail!(
            "{}: DNSKEY flags {:?}; allowed: 257 (KSK or CSK) or 256 (ZSK)",
            key_path.display(),
            fields[at + 1]
        ),
    };
    let alg_number: u8 = fields[at + 3].parse().unwrap_or(0);
    let algorithm = Algorithm::from_number(alg_number).with_context(|| {
        format!(
            "{}: DNSKEY algorithm {:?}; allowed: 13 (ECDSAP256SHA256) or 15 (ED25519)",
            key_path.display(),
            fields[at + 3]
        )
    })?;
    let public = BASE64
        .decode(fields[at + 4..].concat().as_bytes())
        .with_context(|| format!("{}: the public key is not base64", key_path.display()))?;

    let private_path = key_path.with_extension("private");
    let meta = fs::metadata(&private_path).with_context(|| {
        format!(
            "{}: cannot read the private key beside {}",
            private_path.display(),
            key_path.display()
        )
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{}: private key file has mode {mode:04o}, readable by group or others; allowed: 0600 or 0400 (run `chmod 600 {}`)",
            private_path.display(),
            private_path.display()
        );
    }
    let secret = fs::read_to_string(&private_path)
        .with_context(|| format!("{}: cannot read the private key", private_path.display()))?;
    let mut private_alg = None;
    let mut private = None;
    for l in secret.lines() {
        if let Some(v) = l.strip_prefix("Algorithm:") {
            private_alg = v
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u8>().ok());
        } else if let Some(v) = l.strip_prefix("PrivateKey:") {
            // The key material stays out of every message below.
            private = Some(BASE64.decode(v.trim().as_bytes()).ok().with_context(|| {
                format!("{}: PrivateKey is not base64", private_path.display())
            })?);
        }
    }
    if private_alg != Some(alg_number) {
        bail!(
            "{}: Algorithm does not match the DNSKEY's algorithm {alg_number} in {}",
            private_path.display(),
            key_path.display()
        );
    }
    let private = private.with_context(|| {
        format!(
            "{}: no PrivateKey line; allowed: BIND's Private-key-format v1.2/v1.3",
            private_path.display()
        )
    })?;
    SigningKey::from_parts(algorithm, flags, &private, &public)
        .with_context(|| format!("{}: {}", private_path.display(), key_path.display()))
}

/// Reads every key `settings` names for `zone`, checking the algorithm (unless
/// it is 0: any).
pub fn load(settings: &DnssecSettings, zone: &str) -> anyhow::Result<Vec<SigningKey>> {
    let files = match &settings.key_directory {
        Some(dir) => key_files_in(dir, zone)?,
        None => settings.key_files.clone(),
    };
    let mut keys = Vec::new();
    for f in &files {
        let key = read_pair(f, zone)?;
        if settings.algorithm != 0 && key.algorithm().number() != settings.algorithm {
            bail!(
                "{}: algorithm {} ({}), but spec.dnssec.algorithm is {}; allowed: keys of the configured algorithm only",
                f.display(),
                key.algorithm().number(),
                key.algorithm().mnemonic(),
                settings.algorithm
            );
        }
        keys.push(key);
    }
    if !keys.iter().any(SigningKey::is_sep) {
        bail!(
            "spec.dnssec: no key with flags 257 among {} file(s); allowed: one CSK (257), or KSKs (257) with ZSKs (256)",
            files.len()
        );
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnssec_timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(0), "19700101000000");
        assert_eq!(timestamp(1_798_761_599), "20261231235959");
        assert_eq!(timestamp(951_782_400), "20000229000000");
    }
}
