//! TLS end to end: a chat over TLS with a generated certificate, a wrong CA
//! refused, and the plain/TLS mix-ups failing cleanly on both sides.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chat_core::{ChatError, ChatSession, Event, SessionConfig, TcpSession, TlsOptions};
use chat_server::{tls, Config, ServerHandle};
use common::{within, Plain, Structured};

/// A certificate for 127.0.0.1 and localhost, written to `dir`.
fn certificate(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = tls::generate_self_signed(&["127.0.0.1".into(), "localhost".into()])
        .expect("generate a certificate");
    let cert_path = dir.join(format!("{stem}-cert.pem"));
    let key_path = dir.join(format!("{stem}-key.pem"));
    std::fs::write(&cert_path, cert).expect("write cert");
    std::fs::write(&key_path, key).expect("write key");
    (cert_path, key_path)
}

async fn tls_server(cert: &Path, key: &Path) -> ServerHandle {
    ServerHandle::start(Config {
        rate_limit: None,
        status_interval: None,
        tls: Some(tls::load(cert, key).expect("load certificate")),
        ..Config::default()
    })
    .await
    .expect("server starts")
}

fn trusting(addr: std::net::SocketAddr, name: &str, ca: &Path) -> SessionConfig {
    SessionConfig::new(addr.to_string(), name).with_tls(TlsOptions {
        ca_file: Some(ca.to_owned()),
        insecure: false,
    })
}

#[async_std::test]
async fn a_chat_over_tls_with_a_generated_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path(), "server");
    let server = tls_server(&cert, &key).await;

    let alice = within(
        "alice connects",
        TcpSession::connect(trusting(server.addr(), "alice", &cert)),
    )
    .await
    .expect("alice over TLS");
    let (alice_tx, alice_events) = alice.split();
    let mut alice = Structured {
        sender: alice_tx,
        events: alice_events,
    };
    let bob = within(
        "bob connects",
        TcpSession::connect(trusting(server.addr(), "bob", &cert)),
    )
    .await
    .expect("bob over TLS");
    let (bob_tx, _bob_events) = bob.split();
    bob_tx.say("secret plans").await.expect("say");
    let got = alice
        .next_matching(|e| matches!(e, Event::Message(_)))
        .await;
    assert!(matches!(got, Event::Message(m) if m.from == "bob" && m.text == "secret plans"));
    alice.sender.quit(None).await.expect("quit");
}

#[async_std::test]
async fn a_certificate_from_the_wrong_ca_is_refused_unless_insecure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path(), "server");
    let (other_ca, _) = certificate(dir.path(), "stranger");
    let server = tls_server(&cert, &key).await;

    let err = within(
        "connect",
        TcpSession::connect(trusting(server.addr(), "eve", &other_ca)),
    )
    .await
    .expect_err("an unknown issuer is refused");
    assert!(
        matches!(err, ChatError::UntrustedCertificate { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("to trust a self-signed server, connect with --ca FILE"),
        "{err}"
    );

    let insecure = SessionConfig::new(server.addr().to_string(), "tester").with_tls(TlsOptions {
        ca_file: None,
        insecure: true,
    });
    within("insecure connect", TcpSession::connect(insecure))
        .await
        .expect("--insecure accepts any certificate");
}

#[async_std::test]
async fn plain_text_on_a_tls_port_is_told_to_use_tls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path(), "server");
    let server = tls_server(&cert, &key).await;

    // A person with nc gets one readable line.
    let stream = async_std::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    let mut reader = async_std::io::BufReader::new(stream);
    let mut line = String::new();
    within(
        "the refusal",
        async_std::io::prelude::BufReadExt::read_line(&mut reader, &mut line),
    )
    .await
    .expect("read");
    assert_eq!(line, format!("{}\n", tls::PLAIN_ON_TLS_PORT));

    // A program on chat-core gets a typed error with the same words.
    let err = within(
        "plain connect",
        TcpSession::connect(SessionConfig::new(server.addr().to_string(), "plain")),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(&err, ChatError::Refused { message, .. } if message.contains("requires TLS")),
        "{err:?}"
    );
    // And TLS clients are unaffected.
    within(
        "tls still works",
        TcpSession::connect(trusting(server.addr(), "fine", &cert)),
    )
    .await
    .expect("connect");
}

#[async_std::test]
async fn tls_to_a_plain_port_fails_cleanly_on_both_sides() {
    let server = ServerHandle::start(Config {
        rate_limit: None,
        status_interval: None,
        ..Config::default()
    })
    .await
    .expect("server");
    let mut alice = Plain::join(server.addr(), "alice").await;
    let err = within(
        "tls connect",
        TcpSession::connect(
            SessionConfig::new(server.addr().to_string(), "confused").with_tls(TlsOptions {
                ca_file: None,
                insecure: true,
            }),
        ),
    )
    .await
    .expect_err("a plain server");
    assert!(matches!(err, ChatError::NotTls { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the server at {} does not speak TLS (it answered in plain text); connect without --tls",
            server.addr()
        )
    );
    // The server dropped it without fuss and the room carries on.
    let mut bob = Plain::join(server.addr(), "bob").await;
    alice.next_is("* bob joined").await;
    bob.send("all fine").await;
    alice.next_is("<bob> all fine").await;
}

/// Kills the child when the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[async_std::test]
async fn gen_cert_makes_a_pair_the_binary_serves_with() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let bin = env!("CARGO_BIN_EXE_chat-server");
    let out = Command::new(bin)
        .args(["gen-cert", "--host", "127.0.0.1", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .output()
        .expect("run gen-cert");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key is private to its owner");
    }
    // It refuses to overwrite.
    let again = Command::new(bin)
        .args(["gen-cert", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .output()
        .expect("run");
    assert!(!again.status.success());

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let _server = Child(
        Command::new(bin)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--no-history",
                "--tls-cert",
            ])
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    loop {
        match TcpSession::connect(trusting(addr, "first", &cert)).await {
            Ok(session) => {
                assert_eq!(session.welcome().name, "first");
                break;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                async_std::task::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the TLS server never answered: {e}"),
        }
    }
}

/// The subject's common name, the names and addresses, and the validity
/// (Unix seconds) of the PEM certificate at `path`.
fn read_certificate(path: &Path) -> (String, Vec<String>, i64, i64) {
    use x509_parser::extensions::GeneralName;
    let pem = std::fs::read(path).expect("read the certificate");
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).expect("PEM");
    let cert = pem.parse_x509().expect("X.509");
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .expect("a common name")
        .to_owned();
    let names = cert
        .subject_alternative_name()
        .expect("one SAN extension")
        .expect("names")
        .value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => (*dns).to_owned(),
            GeneralName::IPAddress(&[a, b, c, d]) => {
                std::net::Ipv4Addr::new(a, b, c, d).to_string()
            }
            other => panic!("unexpected name {other:?}"),
        })
        .collect();
    let validity = cert.validity();
    (
        common_name,
        names,
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    )
}

#[test]
fn gen_cert_names_the_certificate_after_its_hosts_and_dates_it_from_today() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let today = chrono::Utc::now().date_naive();
    let out = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .args(["gen-cert", "--name", "chat.lan", "--host", "192.168.1.10"])
        .args(["--name", "localhost", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .output()
        .expect("run gen-cert");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (common_name, names, not_before, not_after) = read_certificate(&cert);
    assert_eq!(common_name, "chat.lan");
    assert_eq!(names, ["chat.lan", "192.168.1.10", "localhost"]);
    let midnight = |date: chrono::NaiveDate| {
        date.and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp()
    };
    let until = today
        .checked_add_months(chrono::Months::new(24))
        .expect("two years on");
    // Made today (the test could straddle midnight UTC: either day is fine).
    let yesterday = today.pred_opt().expect("a day before");
    assert!(
        [midnight(today), midnight(yesterday)].contains(&not_before),
        "not before {not_before}, today {today}"
    );
    assert!(
        not_after - not_before >= 2 * 365 * 86_400 && not_after - not_before <= 2 * 366 * 86_400,
        "{not_before}..{not_after}"
    );
    if not_before == midnight(today) {
        assert_eq!(not_after, midnight(until));
        // The dates are shown, as they are in the certificate.
        assert!(
            stdout.contains(&format!("valid:   from {today} to {until} (00:00 UTC)")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("(subject CN=chat.lan)"), "{stdout}");
}

#[test]
fn gen_cert_without_names_covers_this_machine_and_loopback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("c.pem");
    let out = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .arg("gen-cert")
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(dir.path().join("k.pem"))
        .output()
        .expect("run gen-cert");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (common_name, names, _, _) = read_certificate(&cert);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    if host.is_empty() || host == "localhost" {
        assert_eq!(names, ["localhost", "127.0.0.1"]);
        assert_eq!(common_name, "localhost");
    } else {
        assert_eq!(names, [host.as_str(), "localhost", "127.0.0.1"]);
        assert_eq!(common_name, host, "named after this machine");
    }
}

#[async_std::test]
async fn irc_over_tls_with_the_servers_certificate() {
    use async_std::io::prelude::BufReadExt;
    use futures::io::AsyncWriteExt;

    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path(), "server");
    let server = ServerHandle::start_with_irc(Config {
        rate_limit: None,
        status_interval: None,
        tls: Some(tls::load(&cert, &key).expect("load certificate")),
        ..Config::default()
    })
    .await
    .expect("server starts");
    let irc_tls = server.irc_tls_addr().expect("an IRC-over-TLS port");

    let options = TlsOptions {
        ca_file: Some(cert.clone()),
        insecure: false,
    };
    let addr = irc_tls.to_string();
    let connector = futures_rustls::TlsConnector::from(
        chat_core::tls::client_config(&options, &addr).expect("client config"),
    );
    let tcp = within("connect", async_std::net::TcpStream::connect(irc_tls))
        .await
        .expect("connect");
    let stream = within(
        "TLS handshake",
        connector.connect(chat_core::tls::server_name(&addr).expect("name"), tcp),
    )
    .await
    .expect("the handshake succeeds with the server's certificate");
    let (reader, mut writer) = futures::io::AsyncReadExt::split(stream);
    let mut lines = async_std::io::BufReader::new(reader).lines();
    writer
        .write_all(b"NICK ivy\r\nUSER ivy 0 * :Ivy\r\n")
        .await
        .expect("register");
    writer.flush().await.expect("flush");
    loop {
        let line = next_line(&mut lines).await;
        if line.contains(" 001 ivy ") {
            break;
        }
    }
    // In the default room with the native clients, over TLS both sides.
    let bob = within(
        "bob connects",
        TcpSession::connect(trusting(server.addr(), "bob", &cert)),
    )
    .await
    .expect("bob over TLS");
    let (bob_tx, _bob_events) = bob.split();
    loop {
        if next_line(&mut lines).await.contains("JOIN #lobby") {
            break;
        }
    }
    bob_tx.say("hello ivy").await.expect("say");
    loop {
        let line = next_line(&mut lines).await;
        if line.contains("PRIVMSG #lobby :hello ivy") {
            assert!(line.starts_with(":bob!"), "{line}");
            break;
        }
    }
}

async fn next_line(
    lines: &mut (impl futures::Stream<Item = std::io::Result<String>> + Unpin),
) -> String {
    within("an IRC line", futures::StreamExt::next(lines))
        .await
        .expect("a line")
        .expect("readable")
}
