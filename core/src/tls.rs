//! TLS for clients: which certificates to trust, and how to tell people
//! clearly when a server does not speak TLS at all.
//!
//! Pure-Rust rustls with the `ring` provider, driven through
//! `futures-rustls`, so it works over any `futures` I/O stream and keeps the
//! runtime out of this module.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::ChatError;

/// How a client checks the server's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Trust only the certificates in this PEM file (a private CA or a
    /// self-signed server certificate) instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. Anyone on the path can then read the chat:
    /// for testing only, and front ends must warn loudly when it is on.
    pub insecure: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls configuration for these options.
///
/// # Errors
/// [`ChatError::Tls`] when the CA file cannot be read or holds no
/// certificate, or no system roots can be found.
pub fn client_config(options: &TlsOptions, addr: &str) -> Result<Arc<ClientConfig>, ChatError> {
    let fail = |message: String| ChatError::Tls {
        addr: addr.to_owned(),
        message,
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?;
    if options.insecure {
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider())))
            .with_no_client_auth();
        return Ok(Arc::new(config));
    }
    let mut roots = RootCertStore::empty();
    match &options.ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| fail(format!("cannot read CA file {}: {e}", path.display())))?;
            for cert in certs {
                let cert =
                    cert.map_err(|e| fail(format!("bad certificate in {}: {e}", path.display())))?;
                roots.add(cert).map_err(|e| {
                    fail(format!("unusable certificate in {}: {e}", path.display()))
                })?;
            }
            if roots.is_empty() {
                return Err(fail(format!(
                    "no certificate in CA file {}",
                    path.display()
                )));
            }
        }
        None => {
            // Unreadable entries in the system store are skipped, not fatal.
            let native = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                return Err(fail(
                    "no trusted root certificates found on this system; pass --ca FILE".to_owned(),
                ));
            }
        }
    }
    Ok(Arc::new(
        builder.with_root_certificates(roots).with_no_client_auth(),
    ))
}

/// The name the certificate must carry: the host part of `HOST:PORT`.
///
/// # Errors
/// [`ChatError::Tls`] when the host is neither a DNS name nor an IP address.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, ChatError> {
    let host = match addr.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|e| ChatError::Tls {
        addr: addr.to_owned(),
        message: format!("{host:?} is not a valid server name: {e}"),
    })
}

/// Turns a failed handshake into an error people understand.
pub(crate) fn handshake_error(addr: &str, err: &std::io::Error) -> ChatError {
    let text = err.to_string();
    // A plain server's banner is not a TLS record.
    if text.contains("InvalidContentType") || text.contains("corrupt message") {
        return ChatError::NotTls {
            addr: addr.to_owned(),
        };
    }
    // futures-rustls hands rustls's own error inside the I/O error. An
    // unknown issuer is a certificate nobody here vouched for; a bad
    // signature, with a self-signed trust anchor of the same name, is the
    // same trouble: a certificate from another (or an earlier) gen-cert.
    let rustls_error = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    if let Some(rustls::Error::InvalidCertificate(
        rustls::CertificateError::UnknownIssuer | rustls::CertificateError::BadSignature,
    )) = rustls_error
    {
        return ChatError::UntrustedCertificate {
            addr: addr.to_owned(),
            message: text,
        };
    }
    ChatError::Tls {
        addr: addr.to_owned(),
        message: text,
    }
}

/// The `--insecure` verifier: checks signatures, trusts any certificate.
#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_from_addresses() {
        assert!(matches!(
            server_name("127.0.0.1:8001"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            server_name("[::1]:8001"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            server_name("chat.example.org:8001"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(server_name("bad name:1").is_err());
    }

    #[test]
    fn an_unknown_issuer_says_how_to_trust_a_self_signed_server() {
        // As futures-rustls reports it.
        let failed = |error: rustls::CertificateError| {
            let io = std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(error),
            );
            handshake_error("h:1", &io)
        };
        for (error, said) in [
            (rustls::CertificateError::UnknownIssuer, "UnknownIssuer"),
            (rustls::CertificateError::BadSignature, "BadSignature"),
        ] {
            let err = failed(error);
            assert!(
                matches!(err, ChatError::UntrustedCertificate { .. }),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "TLS with h:1 failed: invalid peer certificate: {said}. The server's \
                     certificate is not trusted: to trust a self-signed server, connect with \
                     --ca FILE holding the very certificate it serves (the chat-cert.pem \
                     written by chat-server gen-cert), or the certificate of the CA that signed it"
                )
            );
        }
        // Other certificate troubles stay as they were: no hint that misleads.
        assert!(matches!(
            failed(rustls::CertificateError::Expired),
            ChatError::Tls { .. }
        ));
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error() {
        let options = TlsOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            insecure: false,
        };
        let err = client_config(&options, "h:1").expect_err("missing file");
        assert!(
            err.to_string()
                .contains("cannot read CA file /nonexistent/ca.pem"),
            "{err}"
        );
    }
}
