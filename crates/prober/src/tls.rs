//! SSL_GET's TLS client settings, as rustls configurations.
//!
//! Layer: driver. Without `verify` any certificate is accepted, as
//! keepalived's check_ssl.c does without a CA, but the handshake signature
//! is still checked against the certificate the server sent (so the
//! server must hold the key of whatever certificate it shows). With
//! `verify` the chain must lead to a CA from `ca_file` and name the SNI
//! name, or the target's IP address when there is no SNI. Every check is a
//! full handshake: resumption is off, since a resumed session would not
//! test the server's certificate and key.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use xvs_probe::TlsParams;

/// The provider and the one configuration every unverified check shares.
#[derive(Debug)]
pub(crate) struct TlsContext {
    provider: Arc<CryptoProvider>,
    unverified: Option<Arc<ClientConfig>>,
}

impl TlsContext {
    pub fn new() -> TlsContext {
        // rustls 0.23.48 deprecates ring's provider for lacking
        // post-quantum key exchange; ring is the provider this workspace
        // chose (it builds without cmake), and a health check's session
        // protects nothing worth recording for later decryption.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        TlsContext {
            provider: Arc::new(provider),
            unverified: None,
        }
    }

    /// The client configuration for `params`. A verifying one is built
    /// afresh each time, so that a replaced `ca_file` counts at the next
    /// check.
    pub fn client_config(&mut self, params: &TlsParams) -> Result<Arc<ClientConfig>, String> {
        if !params.verify {
            if let Some(config) = &self.unverified {
                return Ok(config.clone());
            }
            let verifier = Arc::new(AnyCertificate {
                provider: self.provider.clone(),
            });
            let mut config = self
                .builder()?
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth();
            config.resumption = Resumption::disabled();
            let config = Arc::new(config);
            self.unverified = Some(config.clone());
            return Ok(config);
        }
        let path = params
            .ca_file
            .as_ref()
            .ok_or_else(|| "TLS verify needs a CA file (ca_file)".to_string())?;
        let shown = path.display();
        let mut roots = RootCertStore::empty();
        let certs =
            CertificateDer::pem_file_iter(path).map_err(|e| format!("CA file {shown}: {e}"))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("CA file {shown}: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("CA file {shown}: {e}"))?;
        }
        if roots.is_empty() {
            return Err(format!("CA file {shown}: no certificate in it"));
        }
        let mut config = self
            .builder()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        Ok(Arc::new(config))
    }

    fn builder(
        &self,
    ) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, String> {
        ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))
    }
}

/// The name the client sends (SNI) and verifies: `sni` when set, else the
/// target's address (rustls sends no SNI for an address).
pub(crate) fn server_name(
    params: &TlsParams,
    target: IpAddr,
) -> Result<ServerName<'static>, String> {
    match &params.sni {
        Some(name) => ServerName::try_from(name.clone())
            .map_err(|_| format!("TLS: {name:?} is not a valid server name")),
        None => Ok(ServerName::IpAddress(target.into())),
    }
}

/// Accepts any certificate, but still checks that the server signed the
/// handshake with the key of the certificate it sent.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

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
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
