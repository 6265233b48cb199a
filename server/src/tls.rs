//! TLS for the server: loading a certificate, making a self-signed one for a
//! LAN, and telling a plain-text client on a TLS port what went wrong.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_std::io::WriteExt;
use async_std::net::TcpStream;
use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tracing::info;

/// How long a TLS client has to start its handshake. A plain client waits
/// for the banner and sends nothing, so silence means "not TLS".
const FIRST_BYTE: Duration = Duration::from_secs(2);
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Every TLS connection opens with a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// What a plain-text client on a TLS port is told.
pub const PLAIN_ON_TLS_PORT: &str = "! this server requires TLS: connect with --tls";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is missing or unreadable.
    #[error("cannot read TLS certificate {path}: {message}")]
    Certificate {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The key file is missing or unreadable.
    #[error("cannot read TLS key {path}: {message}")]
    Key {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The certificate and key do not make a usable configuration.
    #[error("unusable TLS certificate or key: {0}")]
    Config(#[from] rustls::Error),
    /// A self-signed certificate could not be made.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The server configuration for a PEM certificate chain and private key.
///
/// # Errors
/// A [`TlsError`] naming the file and what is wrong with it.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_error = |message: String| TlsError::Certificate {
        path: cert.display().to_string(),
        message,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_error("no certificate in the file".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.display().to_string(),
        message: e.to_string(),
    })?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// A self-signed certificate and its key, as PEM, valid for `hosts` (DNS
/// names or IP addresses).
///
/// # Errors
/// [`TlsError::Generate`] when a host name is not acceptable.
pub fn generate_self_signed(hosts: &[String]) -> Result<(String, String), TlsError> {
    let certified = rcgen::generate_simple_self_signed(hosts.to_vec())?;
    Ok((certified.cert.pem(), certified.signing_key.serialize_pem()))
}

/// The two halves of an accepted connection.
pub type Halves = (
    Box<dyn AsyncRead + Send + Sync + Unpin>,
    Box<dyn AsyncWrite + Send + Unpin>,
);

/// Completes the TLS handshake, or tells a plain-text client to use TLS and
/// returns why the connection is refused.
pub async fn accept(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    peer: SocketAddr,
) -> Result<Halves, String> {
    let mut first = [0u8; 1];
    let peeked = async_std::future::timeout(FIRST_BYTE, stream.peek(&mut first)).await;
    let speaks_tls = matches!(peeked, Ok(Ok(1))) && first[0] == TLS_HANDSHAKE_RECORD;
    if !speaks_tls {
        let mut stream = stream;
        let line = format!("{PLAIN_ON_TLS_PORT}\n");
        let _ =
            async_std::future::timeout(Duration::from_secs(2), stream.write_all(line.as_bytes()))
                .await;
        let _ = stream.shutdown(std::net::Shutdown::Both);
        info!(%peer, "refused connection: plain text on a TLS port");
        return Err("plain text on a TLS port".to_owned());
    }
    let acceptor = futures_rustls::TlsAcceptor::from(config);
    match async_std::future::timeout(HANDSHAKE, acceptor.accept(stream.clone())).await {
        Ok(Ok(secured)) => {
            let (reader, writer) = secured.split();
            Ok((Box::new(reader), Box::new(writer)))
        }
        Ok(Err(e)) => {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            info!(%peer, error = %e, "TLS handshake failed");
            Err(format!("TLS handshake failed: {e}"))
        }
        Err(_) => {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            info!(%peer, "TLS handshake timed out");
            Err("TLS handshake timed out".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_loads() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) =
            generate_self_signed(&["localhost".into(), "127.0.0.1".into()]).expect("generate");
        let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert_path, cert).expect("write");
        std::fs::write(&key_path, key).expect("write");
        load(&cert_path, &key_path).expect("loads");
        let err = load(&key_path, &cert_path).expect_err("swapped files");
        assert!(err.to_string().contains("cannot read TLS"), "{err}");
    }
}
