//! The room's behaviour, against the real server on 127.0.0.1:0: order,
//! notices, names, private messages, both modes, split and vanished writes.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use async_std::task;
use chat_core::protocol::{ChatMessage, ErrorCode};
use chat_core::{ChatError, ChatSession, Event, Input, SessionConfig, TcpSession};
use common::{server, within, Plain, Structured};

/// alice and bob in the lobby, alice past bob's join, so the next line
/// either reads is the test's own.
async fn alice_and_bob(addr: SocketAddr) -> (Plain, Plain) {
    let mut alice = Plain::join(addr, "alice").await;
    let bob = Plain::join(addr, "bob").await;
    alice.next_is("* bob joined").await;
    (alice, bob)
}

/// alice, bob and carol in the lobby, alice and bob past carol's join, so
/// the next line each of them reads is the test's own.
async fn alice_bob_and_carol(addr: SocketAddr) -> (Plain, Plain, Plain) {
    let mut alice = Plain::join(addr, "alice").await;
    let mut bob = Plain::join(addr, "bob").await;
    let carol = Plain::join(addr, "carol").await;
    alice.expect("* carol joined").await;
    bob.expect("* carol joined").await;
    (alice, bob, carol)
}

/// A raw socket that said hello as a structured client, past its welcome
/// and join frames: what it reads next answers what the test sends.
async fn structured_by_hand(addr: SocketAddr) -> Plain {
    let mut raw = Plain::connect(addr).await;
    raw.send(r#"{"type":"hello","name":"raw"}"#).await;
    assert!(raw.line().await.starts_with(r#"{"type":"welcome""#));
    assert!(raw.line().await.starts_with(r#"{"type":"join""#));
    raw
}

/// The next message to the room that `program` sees.
async fn next_message(program: &mut Structured) -> ChatMessage {
    let event = program
        .next_matching(|e| matches!(e, Event::Message(_)))
        .await;
    let Event::Message(message) = event else {
        unreachable!()
    };
    message
}

#[async_std::test]
async fn three_clients_see_every_message_in_one_order() {
    let server = server().await;
    let (alice, bob, carol) = alice_bob_and_carol(server.addr()).await;

    // All three talk at once, from three tasks, so the server must order them.
    let per_client = 30;
    let talk = |mut client: Plain| {
        task::spawn(async move {
            for i in 0..per_client {
                client.send(&format!("{} says {i}", client.name)).await;
            }
            let mut seen = Vec::new();
            while seen.len() < 3 * per_client {
                let line = client.line().await;
                if line.starts_with('<') {
                    seen.push(line);
                }
            }
            seen
        })
    };
    let (a, b, c) = (talk(alice), talk(bob), talk(carol));
    let a = within("alice's view", a).await;
    let b = within("bob's view", b).await;
    let c = within("carol's view", c).await;
    assert_eq!(a, b);
    assert_eq!(b, c);
    for name in ["alice", "bob", "carol"] {
        // Each sender's own messages arrive, in the order sent.
        let own: Vec<_> = a
            .iter()
            .filter(|l| l.starts_with(&format!("<{name}> ")))
            .cloned()
            .collect();
        let want: Vec<_> = (0..per_client)
            .map(|i| format!("<{name}> {name} says {i}"))
            .collect();
        assert_eq!(own, want);
    }
}

#[async_std::test]
async fn join_leave_and_rename_notices() {
    let server = server().await;
    let (mut alice, mut bob) = alice_and_bob(server.addr()).await;
    bob.send("/nick rob").await;
    alice.next_is("* bob is now known as rob").await;
    bob.next_is("* bob is now known as rob").await;
    bob.send("hi").await;
    alice.next_is("<rob> hi").await;
    bob.send("/quit see you").await;
    alice.next_is("* rob left (quit: see you)").await;
    let carol = Plain::join(server.addr(), "carol").await;
    alice.next_is("* carol joined").await;
    carol.vanish();
    alice.next_is("* carol left (closed by peer)").await;
    alice.send("/who").await;
    alice.next_is("* online (1): alice").await;
}

#[async_std::test]
async fn taken_and_invalid_names_can_be_retried() {
    let server = server().await;
    let mut alice = Plain::join(server.addr(), "alice").await;
    let mut newcomer = Plain::connect(server.addr()).await;
    newcomer.send("ALICE").await;
    newcomer.next_is("! the name \"ALICE\" is taken").await;
    newcomer.send("bad name").await;
    newcomer
        .next_is("! the name \"bad name\" contains a space: use letters, digits, _ and -")
        .await;
    newcomer.send(&"x".repeat(33)).await;
    let too_long = newcomer.line().await;
    assert!(
        too_long.starts_with("! the name")
            && too_long.ends_with("is too long (at most 32 characters)")
    );
    newcomer.send("zoë").await;
    assert!(newcomer.line().await.starts_with("* you are zoë in lobby"));
    newcomer.next_is("* zoë joined").await;
    // Nothing of the refusals reached the room: the join is the first thing alice sees.
    alice.next_is("* zoë joined").await;

    // A structured client gets the same refusal as a typed error.
    let err = TcpSession::connect(SessionConfig::new(server.addr().to_string(), "Alice"))
        .await
        .expect_err("name is taken");
    assert!(
        matches!(
            err,
            ChatError::NameRejected {
                code: ErrorCode::NameTaken,
                ..
            }
        ),
        "{err:?}"
    );
    // Renaming onto a taken name is refused too, and changes nothing.
    newcomer.send("/nick Alice").await;
    newcomer.next_is("! the name \"Alice\" is taken").await;
    newcomer.send("still zoë").await;
    alice.next_is("<zoë> still zoë").await;
}

#[async_std::test]
async fn private_messages_reach_only_their_target_and_sender() {
    let server = server().await;
    let (mut alice, mut bob, mut carol) = alice_bob_and_carol(server.addr()).await;

    alice.send("/msg Bob psst, bob").await;
    bob.next_is("<alice -> bob> psst, bob").await;
    alice.next_is("<alice -> bob> psst, bob").await;
    alice.send("/msg dave anyone?").await;
    alice.next_is("! nobody called \"dave\" is online").await;
    // A public marker after the private one: carol's next line must be it.
    alice.send("public").await;
    carol.next_is("<alice> public").await;
    bob.next_is("<alice> public").await;
}

#[async_std::test]
async fn plain_and_structured_clients_share_a_room() {
    let server = server().await;
    let mut plain = Plain::join(server.addr(), "nc_user").await;
    let mut program = Structured::join(server.addr(), "bot").await;
    plain.next_is("* bot joined").await;

    let id = program
        .sender
        .say("hello from json")
        .await
        .expect("say")
        .expect("messages get ids");
    plain.next_is("<bot> hello from json").await;
    let echo = next_message(&mut program).await;
    assert_eq!(
        echo.id.as_deref(),
        Some(id.as_str()),
        "own copy carries the id"
    );
    assert_eq!(echo.from, "bot");

    plain.send("hello from nc").await;
    plain.next_is("<nc_user> hello from nc").await;
    let got = next_message(&mut program).await;
    assert_eq!(
        (got.from.as_str(), got.text.as_str(), got.id),
        ("nc_user", "hello from nc", None)
    );
    assert!(got.seq > echo.seq, "sequence numbers rise");

    plain.send("/me waves").await;
    let action = program
        .next_matching(|e| matches!(e, Event::Action(_)))
        .await;
    assert!(matches!(action, Event::Action(m) if m.text == "waves" && m.from == "nc_user"));

    program
        .sender
        .send(Input::Msg {
            to: "NC_USER".into(),
            text: "private".into(),
        })
        .await
        .expect("send");
    plain.expect("<bot -> nc_user> private").await;
}

#[async_std::test]
async fn a_message_split_at_every_byte_is_still_one_message() {
    let server = server().await;
    let (mut alice, mut bob) = alice_and_bob(server.addr()).await;
    let line = "héllo wörld\r\n".as_bytes();
    for cut in 1..line.len() {
        alice.send_raw(&line[..cut]).await;
        // Long enough for the first part to leave as its own segment.
        task::sleep(Duration::from_millis(3)).await;
        alice.send_raw(&line[cut..]).await;
        bob.next_is("<alice> héllo wörld").await;
    }
    // And byte by byte.
    for byte in line {
        alice.send_raw(std::slice::from_ref(byte)).await;
        task::sleep(Duration::from_millis(1)).await;
    }
    bob.next_is("<alice> héllo wörld").await;
}

#[async_std::test]
async fn a_client_that_vanishes_mid_line_harms_nobody() {
    let server = server().await;
    let (mut alice, mut bob) = alice_and_bob(server.addr()).await;
    bob.send_raw(b"this line never ends").await;
    bob.vanish();
    alice.next_is("* bob left (closed by peer)").await;
    let mut carol = Plain::join(server.addr(), "carol").await;
    alice.next_is("* carol joined").await;
    carol.send("still here?").await;
    alice.next_is("<carol> still here?").await;
    // The half line was not relayed to anyone.
    carol.next_is("<carol> still here?").await;
}

#[async_std::test]
async fn bad_input_gets_a_specific_error_and_is_not_relayed() {
    let server = server().await;
    let (mut alice, mut bob) = alice_and_bob(server.addr()).await;

    bob.send("/foo").await;
    bob.next_is("! unknown command /foo — try /help").await;
    bob.send("/msg alice").await;
    bob.next_is("! usage: /msg NAME TEXT").await;
    bob.send("red \u{1b}[31malert").await;
    bob.next_is("! message contains a control character (U+001B); nothing was sent")
        .await;
    bob.send_raw(b"bad \xff utf8\n").await;
    bob.next_is("! line is not valid UTF-8; nothing was sent")
        .await;
    bob.send(&"x".repeat(9000)).await;
    bob.next_is("! line too long (max 8192 bytes)").await;
    bob.send("/help").await;
    let help = bob.line().await;
    assert!(help.starts_with("* /nick NAME"), "{help}");
    bob.expect(&format!("* {:<22} show this list", "/help"))
        .await;
    // The connection still works, and alice saw none of it.
    bob.send("ok now").await;
    alice.next_is("<bob> ok now").await;
}

#[async_std::test]
async fn structured_errors_carry_a_code_and_the_request_id() {
    let server = server().await;
    let mut program = Structured::join(server.addr(), "prog").await;
    let id = program
        .sender
        .say("tab\tis fine, bell \u{7} is not")
        .await
        .expect("send")
        .expect("id");
    let error = program
        .next_matching(|e| matches!(e, Event::Error(_)))
        .await;
    let Event::Error(error) = error else {
        unreachable!()
    };
    assert_eq!(error.code, ErrorCode::ControlCharacters);
    assert_eq!(error.id.as_deref(), Some(id.as_str()));

    let id = program
        .sender
        .tell("ghost", "boo")
        .await
        .expect("send")
        .expect("id");
    let error = program
        .next_matching(|e| matches!(e, Event::Error(_)))
        .await;
    assert!(
        matches!(&error, Event::Error(e) if e.code == ErrorCode::UnknownUser && e.id.as_deref() == Some(id.as_str())),
        "{error:?}"
    );
}

#[async_std::test]
async fn malformed_frames_in_structured_mode_get_bad_frame() {
    let server = server().await;
    let mut raw = structured_by_hand(server.addr()).await;
    raw.send("not json at all").await;
    let error = raw.line().await;
    assert!(
        error.starts_with(r#"{"type":"error","code":"bad_frame""#),
        "{error}"
    );
    raw.send(r#"{"type":"message","text":"fine"}"#).await;
    let message = raw.line().await;
    assert!(message.contains(r#""text":"fine""#), "{message}");
    raw.send(r#"{"type":"ping","token":"t1"}"#).await;
    raw.next_is(r#"{"type":"pong","token":"t1"}"#).await;
}

#[async_std::test]
async fn a_malformed_frame_is_explained_in_the_protocols_words() {
    let server = server().await;
    let mut raw = structured_by_hand(server.addr()).await;
    for (line, why) in [
        ("not json at all", "invalid JSON at column 2"),
        ("[1,2]", "not a JSON object"),
        (r#"{"text":"hi"}"#, r#"missing field "type""#),
        (r#"{"type":"foo"}"#, r#"unknown type "foo""#),
        (r#"{"type":"message"}"#, r#"missing field "text""#),
        (
            r#"{"type":"message","text":5}"#,
            r#""text" must be a string"#,
        ),
    ] {
        raw.send(line).await;
        let error: serde_json::Value =
            serde_json::from_str(&raw.line().await).expect("an error frame");
        assert_eq!(
            error,
            serde_json::json!({
                "type": "error",
                "code": "bad_frame",
                "message": format!("malformed frame: {why}"),
            }),
            "{line}"
        );
    }
}

/// Lines sent together to a quiet room reach each member in one write: the
/// room waits its linger for the rest before it writes. Without the linger
/// ("--linger 0") the first line goes out alone, 100 ms before the second.
#[async_std::test]
async fn a_quiet_room_writes_lines_sent_together_in_one_write() {
    let server = common::server_with(chat_server::Config {
        rate_limit: None,
        status_interval: None,
        linger: Duration::from_secs(2),
        ..chat_server::Config::default()
    })
    .await;
    let (mut alice, mut bob, mut carol) = alice_bob_and_carol(server.addr()).await;
    // Everything alice reads from here on, one read at a time.
    let reads = task::spawn(async move {
        let mut reads = Vec::new();
        let mut seen = String::new();
        while !seen.contains("<carol> two\n") {
            let mut buf = [0u8; 4096];
            let n = alice.read_some(&mut buf).await;
            assert!(n > 0, "alice's connection closed after {reads:?}");
            let chunk = String::from_utf8_lossy(&buf[..n]).into_owned();
            seen.push_str(&chunk);
            reads.push(chunk);
        }
        reads
    });
    bob.send("one").await;
    task::sleep(Duration::from_millis(100)).await;
    carol.send("two").await;
    let reads = within("alice reads both lines", reads).await;
    assert_eq!(reads, ["<bob> one\n<carol> two\n"], "lines went out apart");
}
