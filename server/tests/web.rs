//! The web gateway over real sockets: the page and its headers, the
//! WebSocket handshake (and its refusals: wrong Origin, not an upgrade, wrong
//! version), structured frames one per message with a native client in the
//! same room, bad frames answered like bad lines, an over-long message, and
//! a browser that stops reading.

mod common;

use std::net::SocketAddr;

use async_std::io::{ReadExt, WriteExt};
use async_std::net::TcpStream;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use chat_core::Event;
use chat_server::{Config, ServerHandle};
use common::{within, Structured};
use futures::StreamExt;
use serde_json::{json, Value};

fn quiet() -> Config {
    Config {
        rate_limit: None,
        status_interval: None,
        ..Config::default()
    }
}

async fn web_server(config: Config) -> (ServerHandle, SocketAddr) {
    let server = ServerHandle::start_with_web(config)
        .await
        .expect("server starts");
    let web = server.web_addr().expect("a web address");
    (server, web)
}

/// One HTTP exchange on a fresh connection: the request as written, the
/// whole answer as read (the server closes after it).
async fn http(addr: SocketAddr, request: &str) -> String {
    let mut stream = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    within("write", stream.write_all(request.as_bytes()))
        .await
        .expect("write");
    let mut answer = Vec::new();
    within("read answer", stream.read_to_end(&mut answer))
        .await
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

fn get(addr: SocketAddr, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
}

/// A handshake for `/ws` with these extra header lines; the answer's
/// status line and headers.
async fn handshake(addr: SocketAddr, extra: &str) -> String {
    let mut stream = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    handshake_on(&mut stream, addr, extra).await
}

/// A browser's end of the WebSocket, frames as JSON values.
struct Ws {
    ws: WebSocketStream<TcpStream>,
}

impl Ws {
    async fn open(addr: SocketAddr, origin: Option<&str>) -> Ws {
        let stream = within("connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        let mut request = format!("ws://{addr}/ws")
            .into_client_request()
            .expect("request");
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", origin.parse().expect("header"));
        }
        let (ws, response) = within(
            "handshake",
            async_tungstenite::client_async(request, stream),
        )
        .await
        .expect("handshake");
        assert_eq!(response.status(), 101);
        Ws { ws }
    }

    /// Opens the socket as the server's own page would, and says hello.
    async fn join(addr: SocketAddr, name: &str) -> Ws {
        let mut ws = Ws::open(addr, Some(&format!("http://{addr}"))).await;
        ws.send(json!({"type": "hello", "name": name, "version": 2}))
            .await;
        let welcome = ws.frame_of("welcome").await;
        assert_eq!(welcome["name"], name);
        ws
    }

    async fn send(&mut self, frame: Value) {
        self.send_message(Message::text(frame.to_string())).await;
    }

    async fn send_message(&mut self, message: Message) {
        within("send", self.ws.send(message)).await.expect("send");
    }

    /// The next frame; each text message must be exactly one JSON object.
    async fn frame(&mut self) -> Value {
        loop {
            let message = within("next message", self.ws.next())
                .await
                .expect("socket open")
                .expect("a message");
            match message {
                Message::Text(text) => {
                    assert!(!text.contains('\n'), "one line per message: {text:?}");
                    return serde_json::from_str(text.as_str()).expect("a JSON frame");
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("not a text message: {other:?}"),
            }
        }
    }

    async fn frame_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.frame().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Reads until the server closes; whether it sent a close frame.
    async fn until_closed(&mut self) -> bool {
        loop {
            match within("until closed", self.ws.next()).await {
                None | Some(Err(_)) => return false,
                Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => continue,
            }
        }
    }
}

#[async_std::test]
async fn the_page_is_served_with_a_strict_policy() {
    let (_server, web) = web_server(quiet()).await;
    let page = http(web, &get(web, "/")).await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    let lower = page.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: text/html; charset=utf-8"),
        "{page}"
    );
    assert!(
        lower.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{page}"
    );
    assert!(lower.contains("x-content-type-options: nosniff"), "{page}");
    assert!(page.contains(r#"<script src="/app.js""#), "{page}");
    assert!(!page.contains("<script>"), "no inline script");

    let script = http(web, &get(web, "/app.js")).await;
    assert!(script.starts_with("HTTP/1.1 200 OK\r\n"), "{script}");
    assert!(script.contains("textContent"), "the script inserts text");
    assert!(!script.contains("innerHTML"), "and never HTML");
    let style = http(web, &get(web, "/style.css")).await;
    assert!(style
        .to_ascii_lowercase()
        .contains("content-type: text/css"));

    let icon = http(web, &get(web, "/favicon.svg")).await;
    assert!(
        icon.to_ascii_lowercase()
            .contains("content-type: image/svg+xml"),
        "{icon}"
    );

    let missing = http(web, &get(web, "/etc/passwd")).await;
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
    let post = http(
        web,
        &format!(
            "POST / HTTP/1.1\r\nHost: {web}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    // Not HTTP at all: an error, not a hang.
    let garbage = http(web, "hello there\r\n\r\n").await;
    assert!(
        garbage.starts_with("HTTP/1.1 400 ") || garbage.is_empty(),
        "{garbage}"
    );
}

#[async_std::test]
async fn the_handshake_checks_origin_version_and_upgrade() {
    let (_server, web) = web_server(Config {
        web_origins: vec![
            chat_server::web::normalize_origin("https://friend.example").expect("origin")
        ],
        ..quiet()
    })
    .await;
    let own = format!("Origin: http://{web}\r\n");
    let ok = handshake(web, &format!("{own}Sec-WebSocket-Version: 13\r\n")).await;
    assert!(ok.starts_with("HTTP/1.1 101 "), "{ok}");
    // The accept key of RFC 6455's own example.
    assert!(
        ok.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{ok}"
    );

    let evil = handshake(
        web,
        "Origin: http://evil.example\r\nSec-WebSocket-Version: 13\r\n",
    )
    .await;
    assert!(evil.starts_with("HTTP/1.1 403 "), "{evil}");
    let listed = handshake(
        web,
        "Origin: https://friend.example\r\nSec-WebSocket-Version: 13\r\n",
    )
    .await;
    assert!(listed.starts_with("HTTP/1.1 101 "), "{listed}");
    // A program that is not a browser sends no Origin.
    let program = handshake(web, "Sec-WebSocket-Version: 13\r\n").await;
    assert!(program.starts_with("HTTP/1.1 101 "), "{program}");

    let old = handshake(web, &format!("{own}Sec-WebSocket-Version: 8\r\n")).await;
    assert!(old.starts_with("HTTP/1.1 426 "), "{old}");
    assert!(old.contains("sec-websocket-version: 13"), "{old}");
    let plain = http(web, &get(web, "/ws")).await;
    assert!(plain.starts_with("HTTP/1.1 400 "), "{plain}");
    assert!(plain.contains("WebSocket"), "{plain}");
}

#[async_std::test]
async fn a_refused_origin_is_told_why() {
    let (_server, web) = web_server(quiet()).await;
    let stream = TcpStream::connect(web).await.expect("connect");
    let mut request = format!("ws://{web}/ws")
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("Origin", "http://evil.example".parse().expect("header"));
    let refused = within(
        "handshake",
        async_tungstenite::client_async(request, stream),
    )
    .await
    .expect_err("refused");
    let async_tungstenite::tungstenite::Error::Http(response) = refused else {
        panic!("not an HTTP refusal: {refused}");
    };
    assert_eq!(response.status(), 403);
    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
    assert!(
        body.contains("a page from http://evil.example may not open this chat"),
        "{body}"
    );
}

#[async_std::test]
async fn browsers_and_native_clients_talk_in_rooms() {
    let (server, web) = web_server(quiet()).await;
    let mut native = Structured::join(server.addr(), "nat").await;
    let mut web_user = Ws::join(web, "webby").await;
    native
        .next_matching(|e| matches!(e, Event::Joined(p) if p.name == "webby"))
        .await;

    web_user
        .send(json!({"type": "message", "text": "hello from a browser", "id": "7"}))
        .await;
    let echo = web_user.frame_of("message").await;
    assert_eq!(echo["text"], "hello from a browser");
    assert_eq!(echo["id"], "7", "the sender's copy echoes its id");
    native
        .next_matching(|e| matches!(e, Event::Message(m) if m.from == "webby" && m.text == "hello from a browser"))
        .await;

    within("native says", native.sender.say("hi webby"))
        .await
        .expect("say");
    let heard = web_user.frame_of("message").await;
    assert_eq!(heard["from"], "nat");
    assert_eq!(heard["text"], "hi webby");
    assert_eq!(heard["room"], "lobby");

    // Another room, and the protocol's own ping.
    web_user
        .send(json!({"type": "join", "room": "#rust"}))
        .await;
    let joined = web_user.frame_of("room_joined").await;
    assert_eq!(joined["room"], "rust");
    web_user
        .send(json!({"type": "message", "room": "rust", "text": "rusty"}))
        .await;
    assert_eq!(web_user.frame_of("message").await["room"], "rust");
    web_user.send(json!({"type": "ping", "token": "t1"})).await;
    assert_eq!(web_user.frame_of("pong").await["token"], "t1");

    web_user.send(json!({"type": "quit"})).await;
    assert!(web_user.until_closed().await, "closed with a close frame");
    native
        .next_matching(|e| matches!(e, Event::Left(p) if p.name == "webby"))
        .await;
}

#[async_std::test]
async fn bad_messages_are_refused_and_the_client_carries_on() {
    let (_server, web) = web_server(Config {
        max_line: 1000,
        ..quiet()
    })
    .await;
    let mut ws = Ws::open(web, None).await;
    // Structured from the first message: no banner, and a hello first.
    ws.send(json!({"type": "message", "text": "too soon"}))
        .await;
    let early = ws.frame().await;
    assert_eq!(early["type"], "error", "{early}");
    assert_eq!(early["code"], "not_named", "{early}");
    ws.send(json!({"type": "hello", "name": "tess", "version": 2}))
        .await;
    ws.frame_of("welcome").await;
    ws.frame_of("join").await;

    ws.send_message(Message::text(r#"{"type":"message" "text":"hi"}"#))
        .await;
    let malformed = ws.frame().await;
    assert_eq!(malformed["code"], "bad_frame", "{malformed}");
    assert_eq!(
        malformed["message"],
        "malformed frame: invalid JSON at column 19"
    );
    ws.send_message(Message::binary(b"{\"type\":\"ping\"}".to_vec()))
        .await;
    let binary = ws.frame().await;
    assert_eq!(binary["code"], "bad_frame", "{binary}");
    assert!(
        binary["message"]
            .as_str()
            .is_some_and(|m| m.contains("binary message")),
        "{binary}"
    );
    let long = json!({"type": "message", "text": "x".repeat(1001)});
    ws.send(long).await;
    let too_long = ws.frame().await;
    assert_eq!(too_long["code"], "line_too_long", "{too_long}");
    assert_eq!(too_long["message"], "line too long (max 1000 bytes)");
    ws.send(json!({"type": "message", "text": "a\u{1b}[31m"}))
        .await;
    assert_eq!(ws.frame().await["code"], "control_characters");

    // A frame's JSON may span lines inside its message.
    ws.send_message(Message::text(
        "{\"type\":\"message\",\n\"text\":\"still here\"}",
    ))
    .await;
    let said = ws.frame().await;
    assert_eq!(said["type"], "message", "{said}");
    assert_eq!(said["text"], "still here");
}

#[async_std::test]
async fn a_message_past_the_hard_limit_or_not_utf8_closes_the_socket() {
    let (server, web) = web_server(Config {
        max_line: 1000,
        ..quiet()
    })
    .await;
    let mut native = Structured::join(server.addr(), "nat").await;
    let mut big = Ws::join(web, "big").await;
    // Far past what is read at all (64 KiB here): not buffered, closed.
    let huge = json!({"type": "message", "text": "x".repeat(100_000)});
    big.ws.send(Message::text(huge.to_string())).await.ok();
    // The socket is closed (a close frame or not, it ends).
    big.until_closed().await;
    let left = native
        .next_matching(|e| matches!(e, Event::Left(p) if p.name == "big"))
        .await;
    let Event::Left(left) = left else {
        unreachable!()
    };
    assert!(
        left.reason.contains("too big"),
        "the reason says why: {}",
        left.reason
    );

    // A text message that is not UTF-8, written as raw frame bytes.
    let mut raw = TcpStream::connect(web).await.expect("connect");
    let head = handshake_on(&mut raw, web, VERSION_13).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let hello = json!({"type": "hello", "name": "rawr"}).to_string();
    write_frame(&mut raw, 0x1, hello.as_bytes()).await;
    native
        .next_matching(|e| matches!(e, Event::Joined(p) if p.name == "rawr"))
        .await;
    write_frame(
        &mut raw,
        0x1,
        b"{\"type\":\"message\",\"text\":\"\xff\xfe\"}",
    )
    .await;
    let left = native
        .next_matching(|e| matches!(e, Event::Left(p) if p.name == "rawr"))
        .await;
    let Event::Left(left) = left else {
        unreachable!()
    };
    assert!(left.reason.contains("UTF-8"), "{}", left.reason);
    // Then the server closes the socket.
    let mut rest = Vec::new();
    within("socket closes", raw.read_to_end(&mut rest))
        .await
        .expect("read");
}

/// A handshake for `/ws` written on `stream`, with these extra header
/// lines; the answer's head (what came before the server closed, if it
/// did).
async fn handshake_on(stream: &mut TcpStream, addr: SocketAddr, extra: &str) -> String {
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    );
    within("write", stream.write_all(request.as_bytes()))
        .await
        .expect("write");
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        let n = within("read head", stream.read(&mut byte))
            .await
            .expect("read");
        if n == 0 {
            break;
        }
        answer.push(byte[0]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

const VERSION_13: &str = "Sec-WebSocket-Version: 13\r\n";

/// One final, masked client frame (payloads under 64 KiB).
async fn write_frame(stream: &mut TcpStream, opcode: u8, payload: &[u8]) {
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    within("write frame", stream.write_all(&frame))
        .await
        .expect("write");
}

#[async_std::test]
async fn a_browser_that_stops_reading_is_dropped_and_nobody_waits() {
    let (server, web) = web_server(Config {
        max_send_queue: 64 * 1024,
        ..quiet()
    })
    .await;
    let mut alice = Structured::join(server.addr(), "alice").await;
    // `sloth` says hello over raw frames and then never reads again.
    let mut sloth = TcpStream::connect(web).await.expect("connect");
    let head = handshake_on(&mut sloth, web, VERSION_13).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let hello = json!({"type": "hello", "name": "sloth"}).to_string();
    write_frame(&mut sloth, 0x1, hello.as_bytes()).await;
    alice
        .next_matching(|e| matches!(e, Event::Joined(p) if p.name == "sloth"))
        .await;
    let mut bob = Ws::join(web, "bob").await;

    // Far more than the sloth's queue and the kernel's socket buffers hold;
    // bob waits for each of his own messages, so only the sloth falls behind.
    let text = "z".repeat(8000);
    let mut sloth_left = None;
    for i in 0..2000 {
        bob.send(json!({"type": "message", "text": format!("{i} {text}")}))
            .await;
        loop {
            let frame = bob.frame().await;
            if frame["type"] == "leave" && frame["name"] == "sloth" {
                sloth_left = frame["reason"].as_str().map(str::to_owned);
            } else if frame["type"] == "message" {
                assert!(frame["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(&format!("{i} "))));
                break;
            }
        }
        if sloth_left.is_some() {
            break;
        }
    }
    assert_eq!(sloth_left.as_deref(), Some("send queue exceeded"));
    // Everyone else carries on.
    within("alice says", alice.sender.say("still here"))
        .await
        .expect("say");
    let heard = bob.frame_of("message").await;
    assert_eq!(heard["text"], "still here");
    drop(sloth);
}
