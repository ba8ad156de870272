//! The two TLS client configurations HTTPS probes use, built once.
//!
//! Traffic Manager checks only that a certificate is presented, never that it
//! is valid, so the default configuration accepts any server certificate
//! ([`AnyCertificate`]). A monitor with `verify_tls` gets the platform's
//! verifier instead (the system roots, as browsers and curl on the host).
//! Both use the process-wide rustls crypto provider (ring in the binary),
//! speak TLS 1.2 and 1.3, offer no ALPN (HTTP/1.1 only) and send SNI for host
//! names, never for IP addresses. They offer the provider's cipher suites
//! with the SHA-256 ones first ([`prefer_sha256`]). Session resumption is off: a resumed
//! session skips the certificate, and every probe must see (and with
//! `verify_tls` check) the certificate the endpoint serves now.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::hash::HashAlgorithm;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme, SupportedCipherSuite};

/// A client configuration per `verify_tls` setting.
#[derive(Clone, Debug)]
pub(crate) struct TlsConfigs {
    pub trusting: Arc<ClientConfig>,
    pub verifying: Arc<ClientConfig>,
}

impl TlsConfigs {
    /// Builds both with `provider`; fails only if the platform verifier cannot
    /// load the system roots.
    pub(crate) fn new(provider: Arc<CryptoProvider>) -> Result<TlsConfigs, rustls::Error> {
        let provider = Arc::new(prefer_sha256(&provider));
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone())?;
        let builder = |provider: Arc<CryptoProvider>| {
            ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()
        };
        let mut verifying = builder(provider.clone())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let mut trusting = builder(provider.clone())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        verifying.resumption = Resumption::disabled();
        trusting.resumption = Resumption::disabled();
        Ok(TlsConfigs {
            trusting: Arc::new(trusting),
            verifying: Arc::new(verifying),
        })
    }
}

/// `provider` with the cipher suites that hash with SHA-256 moved to the
/// front (otherwise in the provider's order; none removed).
///
/// A probe's handshake is its largest cost, and rustls's default order puts
/// `TLS13_AES_256_GCM_SHA384` first, so servers that honour the client's
/// preference (rustls, and OpenSSL-based ones by default) pick SHA-384, which
/// x86 CPUs compute in software while SHA-256 has instructions of its own.
/// In the probe benchmark SHA-512 blocks were 11.5 % of the prober's CPU. A
/// probe carries no secret, and `TLS13_AES_128_GCM_SHA256` is the suite every
/// TLS 1.3 server must support (RFC 8446 §9.1).
fn prefer_sha256(provider: &CryptoProvider) -> CryptoProvider {
    let mut provider = provider.clone();
    provider
        .cipher_suites
        .sort_by_key(|s| hash(s) != HashAlgorithm::SHA256);
    provider
}

fn hash(suite: &SupportedCipherSuite) -> HashAlgorithm {
    match suite {
        SupportedCipherSuite::Tls13(s) => s.common.hash_provider.algorithm(),
        SupportedCipherSuite::Tls12(s) => s.common.hash_provider.algorithm(),
    }
}

/// Accepts whatever certificate the server presents (Traffic Manager's rule:
/// presence only). Handshake signatures are not checked either: without a
/// trusted certificate they would prove nothing.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CipherSuite;

    #[test]
    fn sha256_suites_are_offered_first_and_none_is_dropped() {
        let ring = rustls::crypto::ring::default_provider();
        let configs = TlsConfigs::new(Arc::new(ring.clone())).unwrap();
        for config in [&configs.trusting, &configs.verifying] {
            let offered: Vec<CipherSuite> = config
                .crypto_provider()
                .cipher_suites
                .iter()
                .map(|s| s.suite())
                .collect();
            assert_eq!(offered[0], CipherSuite::TLS13_AES_128_GCM_SHA256);
            let first_sha384 = offered
                .iter()
                .position(|s| format!("{s:?}").ends_with("SHA384"))
                .unwrap();
            assert!(offered[first_sha384..]
                .iter()
                .all(|s| format!("{s:?}").ends_with("SHA384")));
            let mut all: Vec<_> = ring.cipher_suites.iter().map(|s| s.suite()).collect();
            let mut sorted = offered.clone();
            all.sort_by_key(|s| u16::from(*s));
            sorted.sort_by_key(|s| u16::from(*s));
            assert_eq!(sorted, all, "every suite of the provider is still offered");
        }
    }
}
