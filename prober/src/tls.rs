//! The two TLS client configurations HTTPS probes use, built once.
//!
//! Traffic Manager checks only that a certificate is presented, never that it
//! is valid, so the default configuration accepts any server certificate
//! ([`AnyCertificate`]). A monitor with `verify_tls` gets the platform's
//! verifier instead (the system roots, as browsers and curl on the host).
//! Both use the process-wide rustls crypto provider (ring in the binary),
//! speak TLS 1.2 and 1.3, offer no ALPN (HTTP/1.1 only) and send SNI for host
//! names, never for IP addresses. Session resumption is off: a resumed
//! session skips the certificate, and every probe must see (and with
//! `verify_tls` check) the certificate the endpoint serves now.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// A client configuration per `verify_tls` setting.
#[derive(Clone, Debug)]
pub(crate) struct TlsConfigs {
    pub trusting: Arc<ClientConfig>,
    pub verifying: Arc<ClientConfig>,
}

impl TlsConfigs {
    /// Builds both with `provider`; fails only if the platform verifier cannot
    /// load the system roots.
    pub fn new(provider: Arc<CryptoProvider>) -> Result<TlsConfigs, rustls::Error> {
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
