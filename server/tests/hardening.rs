//! Nothing one client does hurts the others: slow readers, floods,
//! connection limits, silent peers and churn, against the real server.

mod common;

use std::time::Duration;

use async_std::task;
use chat_core::protocol::ErrorCode;
use chat_core::{ChatError, ChatSession, SessionConfig, TcpSession};
use chat_server::{Config, RateLimit};
use common::{server_with, within, Plain};

fn quiet() -> Config {
    Config {
        rate_limit: None,
        status_interval: None,
        ..Config::default()
    }
}

#[async_std::test]
async fn a_client_that_stops_reading_is_dropped_and_nobody_waits() {
    let server = server_with(Config {
        max_send_queue: 64 * 1024,
        ..quiet()
    })
    .await;
    let mut alice = Plain::join(server.addr(), "alice").await;
    // `sloth` joins and then never reads again.
    let _sloth = Plain::join(server.addr(), "sloth").await;
    alice.next_is("* sloth joined").await;
    let mut bob = Plain::join(server.addr(), "bob").await;
    alice.next_is("* bob joined").await;

    // Far more than the sloth's queue and the kernel's socket buffers hold.
    // Bob waits for alice to see each message, so only the sloth falls behind.
    let text = "z".repeat(8000);
    let mut sloth_left = false;
    for i in 0..2000 {
        bob.send(&format!("{i} {text}")).await;
        loop {
            let line = alice.line().await;
            if line == "* sloth left (send queue exceeded)" {
                sloth_left = true;
            } else if line.starts_with("<bob> ") {
                assert!(
                    line.starts_with(&format!("<bob> {i} ")),
                    "order: {}",
                    &line[..20]
                );
                break;
            }
        }
        if sloth_left && i > 100 {
            break;
        }
    }
    assert!(sloth_left, "the slow reader was dropped with its reason");
}

#[async_std::test]
async fn a_flood_is_slowed_then_disconnected() {
    let server = server_with(Config {
        rate_limit: Some(RateLimit {
            burst: 3,
            per_sec: 0.5,
        }),
        flood_disconnect: 5,
        ..quiet()
    })
    .await;
    let mut alice = Plain::join(server.addr(), "alice").await;
    let mut flood = Plain::join(server.addr(), "flood").await;
    alice.next_is("* flood joined").await;
    for i in 0..3 {
        flood.send(&format!("burst {i}")).await;
    }
    for i in 0..3 {
        flood.next_is(&format!("<flood> burst {i}")).await;
    }
    flood.send("one too many").await;
    flood.next_is("! slow down").await;
    for _ in 0..3 {
        flood.send("more").await;
        flood.next_is("! slow down").await;
    }
    flood.send("and more").await;
    flood.next_is("! flooding: disconnected").await;
    assert_eq!(flood.try_line().await, None, "the flooder is disconnected");
    // Alice saw the burst, none of the refused lines, and the reason.
    for i in 0..3 {
        alice.next_is(&format!("<flood> burst {i}")).await;
    }
    alice.next_is("* flood left (flooding)").await;
}

#[async_std::test]
async fn connection_limits_refuse_newcomers_with_one_line() {
    let server = server_with(Config {
        max_clients: 3,
        max_per_ip: 2,
        ..quiet()
    })
    .await;
    let _a = Plain::join(server.addr(), "a").await;
    let _b = Plain::join(server.addr(), "b").await;
    let mut third = async_std::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    let mut refusal = String::new();
    within(
        "refusal",
        async_std::io::ReadExt::read_to_string(&mut third, &mut refusal),
    )
    .await
    .expect("read");
    assert_eq!(refusal, "! too many connections from 127.0.0.1 (max 2)\n");

    // chat-core turns the refusal into a typed error that says why.
    let err = TcpSession::connect(SessionConfig::new(server.addr().to_string(), "c"))
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, ChatError::Refused { message, .. } if message.contains("too many connections")),
        "{err}"
    );
    // A slot freed is a slot usable again.
    drop(_b);
    task::sleep(Duration::from_millis(100)).await;
    let _c = within("join after a slot frees", Plain::join(server.addr(), "c")).await;
}

#[async_std::test]
async fn a_connection_that_never_names_itself_is_closed() {
    let server = server_with(Config {
        name_timeout: Duration::from_millis(300),
        ..quiet()
    })
    .await;
    let mut mute = Plain::connect(server.addr()).await;
    mute.next_is("! no name given within 0.3 s; closing").await;
    assert_eq!(mute.try_line().await, None);
}

#[async_std::test]
async fn a_silent_structured_peer_is_pinged_then_dropped() {
    let server = server_with(Config {
        ping_interval: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(500),
        ..quiet()
    })
    .await;
    let mut alice = Plain::join(server.addr(), "alice").await;
    let mut ghost = Plain::connect(server.addr()).await;
    ghost.send(r#"{"type":"hello","name":"ghost"}"#).await;
    ghost.expect(r#"{"type":"ping"}"#).await;
    // Never answers: dropped, and the room is told why.
    alice.expect("* ghost left (ping timeout)").await;

    // A client that answers stays.
    let session = TcpSession::connect(SessionConfig::new(server.addr().to_string(), "alive"))
        .await
        .expect("connect");
    let (sender, _events) = session.split();
    task::sleep(Duration::from_millis(1200)).await;
    assert!(sender.is_connected());
    sender.say("still here").await.expect("say");
    alice.expect("<alive> still here").await;
}

#[async_std::test]
async fn churn_does_not_disturb_the_people_who_stay() {
    let server = server_with(quiet()).await;
    let addr = server.addr();
    let mut alice = Plain::join(addr, "alice").await;
    let mut bob = Plain::join(addr, "bob").await;
    alice.next_is("* bob joined").await;

    let churn = task::spawn(async move {
        for i in 0..300 {
            let mut c = Plain::join(addr, &format!("churn{i}")).await;
            if i % 2 == 0 {
                c.send("/quit").await;
                let _ = c.until_closed().await;
            } else {
                c.vanish();
            }
        }
    });
    for i in 0..200 {
        bob.send(&format!("steady {i}")).await;
        if i % 20 == 0 {
            task::sleep(Duration::from_millis(5)).await;
        }
    }
    within("churn finishes", churn).await;
    for who in [&mut alice, &mut bob] {
        let mut next = 0;
        while next < 200 {
            let line = who.line().await;
            if let Some(rest) = line.strip_prefix("<bob> steady ") {
                assert_eq!(rest, next.to_string());
                next += 1;
            }
        }
    }
    // Vanished connections are noticed when their sockets report it, each
    // in its own time: ask until the last of them is gone.
    within("the churners are all gone", async {
        loop {
            bob.send("/who").await;
            let who = bob.expect_prefix("* online (").await;
            if who == "* online (2): alice, bob" {
                break;
            }
            task::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[async_std::test]
async fn the_structured_refusal_code_for_rate_limits() {
    let server = server_with(Config {
        rate_limit: Some(RateLimit {
            burst: 1,
            per_sec: 0.1,
        }),
        ..quiet()
    })
    .await;
    let mut raw = Plain::connect(server.addr()).await;
    raw.send(r#"{"type":"hello","name":"fast"}"#).await;
    raw.line().await;
    raw.line().await;
    raw.send(r#"{"type":"message","text":"one","id":"a"}"#)
        .await;
    assert!(raw.line().await.contains(r#""text":"one""#));
    raw.send(r#"{"type":"message","text":"two","id":"b"}"#)
        .await;
    let refusal = raw.line().await;
    let frame: chat_core::protocol::ServerFrame =
        chat_core::codec::decode_server_frame(&refusal).expect("a frame");
    assert!(
        matches!(&frame, chat_core::protocol::ServerFrame::Error(e) if e.code == ErrorCode::RateLimited && e.id.as_deref() == Some("b")),
        "{refusal}"
    );
}

#[async_std::test]
async fn renames_and_lookups_count_against_the_rate_limit() {
    let server = server_with(Config {
        rate_limit: Some(RateLimit {
            burst: 2,
            per_sec: 0.1,
        }),
        ..quiet()
    })
    .await;
    let mut alice = Plain::join(server.addr(), "alice").await;
    let mut flip = Plain::join(server.addr(), "flip").await;
    alice.next_is("* flip joined").await;
    flip.send("/nick flop").await;
    flip.next_is("* flip is now known as flop").await;
    flip.send("/who").await;
    flip.next_is("* online (2): alice, flop").await;
    flip.send("/nick flip").await;
    flip.next_is("! slow down").await;
    flip.send("/history 5").await;
    flip.next_is("! slow down").await;
    // The room saw one rename, not a flood of them.
    alice.next_is("* flip is now known as flop").await;
    flip.send("/quit").await;
    alice.next_is("* flop left (quit)").await;
}
