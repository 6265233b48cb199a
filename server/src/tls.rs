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
    /// A certificate was asked for no host at all.
    #[error("cannot generate a certificate: it needs at least one host name or address")]
    NoHost,
    /// The validity period does not fit the calendar certificates use.
    #[error("cannot generate a certificate valid from {0}: out of the years 1 to 9999")]
    Dates(chrono::NaiveDate),
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

/// How long a certificate from [`self_signed`] is valid: long enough not to
/// bother a LAN often, short enough that a lost key does not last forever.
pub const VALIDITY_MONTHS: u32 = 24;

/// A self-signed certificate and its key, made by [`self_signed`].
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
    /// The name in its subject (`CN`): the first host name it covers.
    pub common_name: String,
    /// Valid from 00:00 UTC on this day…
    pub not_before: chrono::NaiveDate,
    /// …until 00:00 UTC on this one.
    pub not_after: chrono::NaiveDate,
}

/// A self-signed certificate for `hosts` (DNS names or IP addresses), named
/// after the first DNS name among them (the first host if all are
/// addresses), valid for [`VALIDITY_MONTHS`] from `valid_from`. Validity
/// starts at 00:00 UTC, so a client whose clock is a few hours behind still
/// accepts a certificate made today.
///
/// # Errors
/// [`TlsError::NoHost`] without hosts, [`TlsError::Generate`] when a host
/// name is not acceptable, [`TlsError::Dates`] for a start out of range.
pub fn self_signed(
    hosts: &[String],
    valid_from: chrono::NaiveDate,
) -> Result<SelfSigned, TlsError> {
    use chrono::Datelike;
    let common_name = hosts
        .iter()
        .find(|host| host.parse::<std::net::IpAddr>().is_err())
        .or(hosts.first())
        .ok_or(TlsError::NoHost)?
        .clone();
    let not_after = valid_from
        .checked_add_months(chrono::Months::new(VALIDITY_MONTHS))
        .filter(|end| valid_from.year() >= 1 && end.year() <= 9999)
        .ok_or(TlsError::Dates(valid_from))?;
    let day = |date: chrono::NaiveDate| {
        // A valid date in years 1 to 9999, so rcgen's checks (which panic)
        // hold: month 1-12 and day 1-31 fit in u8.
        rcgen::date_time_ymd(date.year(), date.month() as u8, date.day() as u8)
    };
    let mut params = rcgen::CertificateParams::new(hosts.to_vec())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name.as_str());
    params.not_before = day(valid_from);
    params.not_after = day(not_after);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(SelfSigned {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        common_name,
        not_before: valid_from,
        not_after,
    })
}

/// A self-signed certificate and its key, as PEM, valid from today for
/// `hosts` (DNS names or IP addresses): [`self_signed`] for tests and
/// callers that need no dates.
///
/// # Errors
/// As [`self_signed`].
pub fn generate_self_signed(hosts: &[String]) -> Result<(String, String), TlsError> {
    let made = self_signed(hosts, chrono::Utc::now().date_naive())?;
    Ok((made.cert_pem, made.key_pem))
}

/// The names `chat-server gen-cert` covers unless told: this machine's host
/// name (when it has a usable one), `localhost` and `127.0.0.1`.
pub fn default_cert_hosts() -> Vec<String> {
    let mut hosts: Vec<String> = host_name().into_iter().collect();
    for local in ["localhost", "127.0.0.1"] {
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(local)) {
            hosts.push(local.to_owned());
        }
    }
    hosts
}

/// The machine's host name, from the kernel (Linux) or `/etc/hostname`;
/// `None` when neither says, or it could not be a certificate's DNS name.
fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().to_owned())
        .find(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        })
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

    fn date(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    #[test]
    fn a_certificate_is_named_after_its_first_host_name_and_lasts_two_years() {
        let hosts = ["10.0.0.2".to_owned(), "chat.lan".to_owned()];
        let made = self_signed(&hosts, date(2025, 3, 14)).expect("generate");
        assert_eq!(made.common_name, "chat.lan", "a name, not an address");
        assert_eq!(made.not_before, date(2025, 3, 14));
        assert_eq!(made.not_after, date(2027, 3, 14));
        let (_, pem) = x509_parser::pem::parse_x509_pem(made.cert_pem.as_bytes()).expect("PEM");
        let cert = pem.parse_x509().expect("X.509");
        assert_eq!(cert.subject().to_string(), "CN=chat.lan");
        assert_eq!(
            cert.validity().not_before.to_string(),
            "Mar 14 00:00:00 2025 +00:00"
        );
        assert_eq!(
            cert.validity().not_after.to_string(),
            "Mar 14 00:00:00 2027 +00:00"
        );

        let only_addresses = self_signed(&["127.0.0.1".to_owned()], date(2025, 1, 1));
        assert_eq!(only_addresses.expect("generate").common_name, "127.0.0.1");
        // The 29th of February two years on does not exist: the 28th.
        let leap = self_signed(&hosts, date(2024, 2, 29)).expect("generate");
        assert_eq!(leap.not_after, date(2026, 2, 28));
        assert!(matches!(
            self_signed(&[], date(2025, 1, 1)),
            Err(TlsError::NoHost)
        ));
        assert!(matches!(
            self_signed(&hosts, date(9998, 6, 1)),
            Err(TlsError::Dates(_))
        ));
    }

    #[test]
    fn the_default_hosts_end_with_loopback() {
        // Whatever this machine is called (or if it has no usable name).
        let hosts = default_cert_hosts();
        assert!(
            hosts.ends_with(&["localhost".to_owned(), "127.0.0.1".to_owned()]),
            "{hosts:?}"
        );
        assert!(hosts.len() <= 3, "{hosts:?}");
    }
}
