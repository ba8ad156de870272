//! Authentication: which bearer tokens a fake cluster accepts.
//!
//! By default every request is accepted. A test can list static tokens
//! ([`crate::FakeCluster::require_tokens`]) or install an [`Authenticator`]
//! ([`crate::FakeCluster::authenticate_with`]) that judges each token the way a real API
//! server's token webhook or OIDC authenticator does: signature (or issuer) and expiry.
//! A refused request gets 401 `Unauthorized`, as from kube-apiserver.
//!
//! [`TokenAuthority`] is such an authenticator for kubeconfig `exec` plugins: tokens are
//! `kfa.<expiry unix seconds>.<nonce>.<sha256 hex of "<secret>:<expiry>:<nonce>">`, so a
//! shell script that knows the secret (`tests/kubefake/fake-exec-plugin.sh`) can mint
//! them, and the authority accepts them only until their expiry.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::shared::lock;

/// Judges a bearer token; `Err` carries why it is refused (for the test, never the client).
pub trait Authenticator: Send + Sync {
    /// `Ok` with the user name if `token` is valid now.
    fn authenticate(&self, token: &str) -> Result<String, String>;
}

impl<F> Authenticator for F
where
    F: Fn(&str) -> Result<String, String> + Send + Sync,
{
    fn authenticate(&self, token: &str) -> Result<String, String> {
        self(token)
    }
}

/// Mints and verifies short-lived tokens signed with a secret shared with exec plugins.
pub struct TokenAuthority {
    secret: String,
    accepted: Mutex<BTreeSet<String>>,
    expired: AtomicU64,
    forged: AtomicU64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hex_sha256(text: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Default for TokenAuthority {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenAuthority {
    /// An authority with a random secret.
    pub fn new() -> TokenAuthority {
        TokenAuthority {
            secret: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            accepted: Mutex::new(BTreeSet::new()),
            expired: AtomicU64::new(0),
            forged: AtomicU64::new(0),
        }
    }

    /// The signing secret (give it to the exec plugin as `KUBEFAKE_TOKEN_SECRET`).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// A token valid for `lifetime` (rounded up to whole seconds).
    pub fn mint(&self, lifetime: Duration) -> String {
        let expiry = unix_now() + lifetime.as_secs().max(1);
        let nonce = format!("{:016x}", fastrand::u64(..));
        let sig = hex_sha256(&format!("{}:{expiry}:{nonce}", self.secret));
        format!("kfa.{expiry}.{nonce}.{sig}")
    }

    /// How many different tokens were accepted (each refresh of a plugin adds one).
    pub fn distinct_accepted(&self) -> usize {
        lock(&self.accepted).len()
    }

    /// How many requests came with a correctly signed but expired token.
    pub fn expired_presented(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }

    /// How many requests came with a token this authority did not sign.
    pub fn forged_presented(&self) -> u64 {
        self.forged.load(Ordering::Relaxed)
    }
}

impl Authenticator for TokenAuthority {
    fn authenticate(&self, token: &str) -> Result<String, String> {
        let parts: Vec<&str> = token.split('.').collect();
        let signed = match parts.as_slice() {
            ["kfa", expiry, nonce, sig] => {
                let want = hex_sha256(&format!("{}:{expiry}:{nonce}", self.secret));
                (want == *sig).then(|| expiry.parse::<u64>().ok()).flatten()
            }
            _ => None,
        };
        let Some(expiry) = signed else {
            self.forged.fetch_add(1, Ordering::Relaxed);
            return Err("token not signed by this authority".into());
        };
        if unix_now() >= expiry {
            self.expired.fetch_add(1, Ordering::Relaxed);
            return Err(format!("token expired at {expiry}"));
        }
        lock(&self.accepted).insert(token.to_string());
        Ok("kubefake-exec-user".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_pass_until_expiry_and_forgeries_fail() {
        let a = TokenAuthority::new();
        let t = a.mint(Duration::from_secs(30));
        assert!(a.authenticate(&t).is_ok());
        let mut forged = t.clone();
        forged.pop();
        forged.push('x');
        assert!(a.authenticate(&forged).is_err());
        assert!(a.authenticate("kfa.1.2.3").is_err());
        let sig = hex_sha256(&format!("{}:1:n", a.secret()));
        assert_eq!(
            a.authenticate(&format!("kfa.1.n.{sig}")),
            Err("token expired at 1".into())
        );
        assert_eq!((a.distinct_accepted(), a.expired_presented()), (1, 1));
        assert_eq!(a.forged_presented(), 2);
    }
}
