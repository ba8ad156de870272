//! HTTPS for a fake cluster: a certificate authority generated for each cluster (never
//! reused between runs) and a serving certificate it signs for `localhost` and the
//! cluster's IP address. Kubeconfigs carry the CA as `certificate-authority-data`, so
//! clients verify the server exactly as against a real API server.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::Error;

/// A cluster's CA (PEM, for kubeconfigs) and the acceptor serving its certificate.
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) ca_pem: String,
    pub(crate) acceptor: TlsAcceptor,
}

fn tls_err(e: impl std::fmt::Display) -> Error {
    Error::Runtime(format!("TLS setup: {e}"))
}

impl Tls {
    /// A new CA called `kubefake-<name>-ca` and a serving certificate for `addr`.
    pub(crate) fn generate(name: &str, addr: SocketAddr) -> Result<Tls, Error> {
        let ca_key = KeyPair::generate().map_err(tls_err)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, format!("kubefake-{name}-ca"));
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).map_err(tls_err)?;
        let issuer = Issuer::new(ca, ca_key);
        let leaf_key = KeyPair::generate().map_err(tls_err)?;
        let mut leaf = CertificateParams::new(vec![
            "localhost".to_string(),
            "kubernetes.default.svc".to_string(),
            addr.ip().to_string(),
        ])
        .map_err(tls_err)?;
        leaf.distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(tls_err)?;
        let chain: Vec<CertificateDer<'static>> =
            vec![leaf_cert.der().clone(), ca_cert.der().clone()];
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(tls_err)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            ca_pem: ca_cert.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}
