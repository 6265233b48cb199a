//! `chat-core` over WebSocket against the real server's web gateway: a bot
//! on `ws://` talks with a TCP client in two rooms, `wss://` with a
//! generated certificate (and the page over HTTPS), reconnection after a
//! restart back into its rooms, and clear errors for a refused handshake.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_std::io::{ReadExt, WriteExt};
use async_std::net::TcpStream;
use chat_core::{
    Backoff, ChatError, ChatSession, Event, SessionConfig, Status, TcpSession, TlsOptions,
    WsSession,
};
use chat_server::{tls, Config, ServerHandle};
use common::{within, Structured};
use rustls_pki_types::pem::PemObject;

fn quiet() -> Config {
    Config {
        rate_limit: None,
        status_interval: None,
        ..Config::default()
    }
}

async fn web_server(config: Config) -> ServerHandle {
    ServerHandle::start_with_web(config)
        .await
        .expect("server starts")
}

async fn over_ws<S: ChatSession>(config: SessionConfig) -> Structured {
    let session = within("connect over WebSocket", S::connect(config))
        .await
        .expect("connects over WebSocket");
    let (sender, events) = session.split();
    Structured { sender, events }
}

#[async_std::test]
async fn a_bot_on_ws_talks_with_a_tcp_client_in_two_rooms() {
    let server = web_server(quiet()).await;
    let web = server.web_addr().expect("web address");
    let mut nat = Structured::join(server.addr(), "nat").await;
    let mut bot = over_ws::<WsSession>(SessionConfig::new(format!("ws://{web}"), "bot")).await;
    let welcome = bot.next().await;
    assert!(matches!(&welcome, Event::Status(Status::Connected { name, .. }) if name == "bot"));
    nat.next_matching(|e| matches!(e, Event::Joined(p) if p.name == "bot"))
        .await;

    within("bot says", bot.sender.say("beep over a WebSocket"))
        .await
        .expect("say");
    nat.next_matching(
        |e| matches!(e, Event::Message(m) if m.from == "bot" && m.text == "beep over a WebSocket"),
    )
    .await;
    within("nat says", nat.sender.say("hello bot"))
        .await
        .expect("say");
    bot.next_matching(
        |e| matches!(e, Event::Message(m) if m.from == "nat" && m.text == "hello bot"),
    )
    .await;

    // Rooms, and TcpSession itself taking a ws:// address with a path.
    let mut other =
        over_ws::<TcpSession>(SessionConfig::new(format!("ws://{web}/ws"), "other")).await;
    within("bot joins", bot.sender.join("rust"))
        .await
        .expect("join");
    bot.next_matching(|e| matches!(e, Event::RoomJoined(r) if r.room == "rust"))
        .await;
    within("other joins", other.sender.join("#rust"))
        .await
        .expect("join");
    bot.next_matching(
        |e| matches!(e, Event::Joined(p) if p.name == "other" && p.room.as_deref() == Some("rust")),
    )
    .await;
    within("other says", other.sender.say_in("rust", "rusty beep"))
        .await
        .expect("say");
    bot.next_matching(|e| matches!(e, Event::Message(m) if m.text == "rusty beep" && m.room.as_deref() == Some("rust")))
        .await;
    // A long text is split to fit the line limit, as over TCP.
    let long = "word ".repeat(3000);
    within("bot says a lot", bot.sender.say_in("rust", long.trim()))
        .await
        .expect("say");
    let mut words = 0;
    while words < 3000 {
        let event = other
            .next_matching(|e| matches!(e, Event::Message(m) if m.from == "bot"))
            .await;
        if let Event::Message(m) = event {
            assert!(m.text.len() <= 8192, "each piece fits a line");
            assert!(m.text.split_whitespace().all(|w| w == "word"));
            words += m.text.split_whitespace().count();
        }
    }
    assert_eq!(words, 3000, "every word arrived once");
}

/// A certificate for 127.0.0.1 and localhost, written to `dir`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = tls::generate_self_signed(&["127.0.0.1".into(), "localhost".into()])
        .expect("generate a certificate");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert).expect("write cert");
    std::fs::write(&key_path, key).expect("write key");
    (cert_path, key_path)
}

#[async_std::test]
async fn wss_and_https_with_a_generated_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path());
    let server = web_server(Config {
        tls: Some(tls::load(&cert, &key).expect("load")),
        ..quiet()
    })
    .await;
    let web = server.web_addr().expect("web address");
    let trusted = TlsOptions {
        ca_file: Some(cert.clone()),
        insecure: false,
    };
    let mut secure = over_ws::<WsSession>(
        SessionConfig::new(format!("wss://{web}"), "secure").with_tls(trusted.clone()),
    )
    .await;
    within("secure says", secure.sender.say("over wss"))
        .await
        .expect("say");
    secure
        .next_matching(|e| matches!(e, Event::Message(m) if m.text == "over wss"))
        .await;

    // Without trusting the certificate: refused.
    let untrusted = within(
        "untrusted",
        WsSession::connect(SessionConfig::new(format!("wss://{web}"), "doubter")),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(
            untrusted,
            ChatError::UntrustedCertificate { .. } | ChatError::Tls { .. }
        ),
        "{untrusted}"
    );

    // The page over HTTPS, checked against the same certificate.
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&cert).expect("read cert");
    for der in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(der.expect("a certificate")).expect("add");
    }
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = futures_rustls::TlsConnector::from(Arc::new(client));
    let stream = TcpStream::connect(web).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let mut secured = within("TLS handshake", connector.connect(name, stream))
        .await
        .expect("handshake");
    let request = format!("GET / HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\n\r\n");
    within("write", secured.write_all(request.as_bytes()))
        .await
        .expect("write");
    let mut page = Vec::new();
    within("read", secured.read_to_end(&mut page)).await.ok();
    let page = String::from_utf8_lossy(&page);
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(page.contains("<title>chat</title>"), "{page}");
}

#[async_std::test]
async fn a_ws_session_comes_back_after_a_restart_into_its_rooms() {
    let server = web_server(quiet()).await;
    let web = server.web_addr().expect("web address");
    let config = SessionConfig::new(format!("ws://{web}"), "phoenix")
        .reconnecting()
        .with_backoff(Backoff {
            jitter: 0.0,
            ..Backoff::default()
        });
    let mut phoenix = over_ws::<WsSession>(config).await;
    within("joins", phoenix.sender.join("ashes"))
        .await
        .expect("join");
    phoenix
        .next_matching(|e| matches!(e, Event::RoomJoined(r) if r.room == "ashes"))
        .await;

    within("stops", server.shutdown()).await.expect("stops");
    phoenix
        .next_matching(|e| {
            matches!(
                e,
                Event::Status(Status::Disconnected {
                    retry_in: Some(_),
                    ..
                })
            )
        })
        .await;
    let again = ServerHandle::start_with_web_on(quiet(), web)
        .await
        .expect("starts again");
    phoenix
        .next_matching(|e| matches!(e, Event::Status(Status::Connected { .. })))
        .await;
    phoenix
        .next_matching(|e| matches!(e, Event::RoomJoined(r) if r.room == "ashes"))
        .await;
    let mut nat = Structured::join(again.addr(), "nat").await;
    within("nat joins", nat.sender.join("ashes"))
        .await
        .expect("join");
    nat.next_matching(|e| matches!(e, Event::RoomJoined(r) if r.room == "ashes"))
        .await;
    within("phoenix says", phoenix.sender.say_in("ashes", "risen"))
        .await
        .expect("say");
    nat.next_matching(
        |e| matches!(e, Event::Message(m) if m.from == "phoenix" && m.text == "risen"),
    )
    .await;
}

#[async_std::test]
async fn a_refused_handshake_says_why() {
    let server = web_server(quiet()).await;
    let web = server.web_addr().expect("web address");
    let wrong_path = within(
        "wrong path",
        WsSession::connect(SessionConfig::new(format!("ws://{web}/nowhere"), "lost")),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(&wrong_path, ChatError::WebSocket { message, .. } if message.contains("404")),
        "{wrong_path}"
    );
    // The chat port speaks lines, not HTTP.
    let chat_port = within(
        "chat port",
        WsSession::connect(SessionConfig::new(
            format!("ws://{}", server.addr()),
            "lost",
        )),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(chat_port, ChatError::WebSocket { .. } | ChatError::Io(_)),
        "{chat_port}"
    );
    let not_ws = within(
        "not a WebSocket address",
        WsSession::connect(SessionConfig::new(server.addr().to_string(), "lost")),
    )
    .await
    .expect_err("refused");
    assert!(
        not_ws.to_string().contains("not a WebSocket address"),
        "{not_ws}"
    );
}
