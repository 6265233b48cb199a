//! Who may enter: the room password, operators with /kick and /ban, and
//! names that only look alike.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use chat_core::protocol::ErrorCode;
use chat_core::{ChatError, ChatSession, SessionConfig, TcpSession};
use chat_server::{Config, Secret};
use common::{server_with, within, Plain};

fn config() -> Config {
    Config {
        rate_limit: None,
        status_interval: None,
        refusal_delay: Duration::from_millis(50),
        ..Config::default()
    }
}

/// A plain client whose connection comes from another loopback address.
async fn join_from(source: &str, server: SocketAddr, name: &str) -> Plain {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let source: SocketAddr = format!("{source}:0").parse().expect("source address");
    socket
        .bind(&source.into())
        .expect("bind the source address");
    socket.connect(&server.into()).expect("connect");
    let stream = async_std::net::TcpStream::from(std::net::TcpStream::from(socket));
    let mut client = Plain::over(stream).await;
    client.send(name).await;
    assert!(client.line().await.starts_with("* you are"));
    client.expect(&format!("* {name} joined")).await;
    client.name = name.to_owned();
    client
}

#[async_std::test]
async fn the_room_password_is_asked_for_and_checked() {
    let server = server_with(Config {
        password: Some(Secret::new("open sesame")),
        ..config()
    })
    .await;
    // nc: name, then the password.
    let mut alice = Plain::connect(server.addr()).await;
    alice.send("alice").await;
    alice
        .next_is("* room \"lobby\" needs a password: type it and press Enter")
        .await;
    alice.send("open sesame").await;
    assert!(alice.line().await.starts_with("* you are alice"));
    alice.next_is("* alice joined").await;

    let mut mallory = Plain::connect(server.addr()).await;
    mallory.send("mallory").await;
    mallory.line().await;
    mallory.send("guess").await;
    mallory.next_is("! wrong password").await;
    assert_eq!(
        mallory.try_line().await,
        None,
        "closed after a wrong password"
    );

    // chat-core: typed errors, and in with the right one.
    let addr = server.addr().to_string();
    let err = within(
        "no password",
        TcpSession::connect(SessionConfig::new(&addr, "nopw")),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(&err, ChatError::Refused { code: ErrorCode::BadPassword, message } if message == "this room needs a password"),
        "{err:?}"
    );
    let err = within(
        "wrong password",
        TcpSession::connect(SessionConfig::new(&addr, "wrong").with_password("nope")),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(
            &err,
            ChatError::Refused {
                code: ErrorCode::BadPassword,
                ..
            }
        ),
        "{err:?}"
    );
    within(
        "right password",
        TcpSession::connect(SessionConfig::new(&addr, "bob").with_password("open sesame")),
    )
    .await
    .expect("admitted");
    // Nobody refused ever reached the room.
    alice.next_is("* bob joined").await;
}

#[async_std::test]
async fn operators_kick_and_ban_and_nobody_else_can() {
    let server = server_with(Config {
        operator_password: Some(Secret::new("op-secret")),
        ..config()
    })
    .await;
    let addr = server.addr();
    let mut alice = Plain::join(addr, "alice").await;
    let mut carol = Plain::join(addr, "carol").await;
    let mut bob = join_from("127.0.0.2", addr, "bob").await;
    alice.expect("* bob joined").await;
    carol.expect("* bob joined").await;

    alice.send("/kick bob").await;
    alice
        .next_is("! only operators may kick: /oper PASSWORD first")
        .await;
    alice.send("/oper guess").await;
    alice.next_is("! wrong operator password").await;
    alice.send("/oper op-secret").await;
    alice.next_is("* alice is now an operator").await;
    bob.next_is("* alice is now an operator").await;

    // A kick: out, told why, and the room told too; they may come back.
    alice.send("/kick carol being rude").await;
    carol.expect("* you were kicked by alice: being rude").await;
    assert_eq!(carol.try_line().await, None);
    alice
        .next_is("* carol left (kicked by alice: being rude)")
        .await;
    bob.expect("* carol left (kicked by alice: being rude)")
        .await;
    let _carol = Plain::join(addr, "carol").await;
    alice.next_is("* carol joined").await;

    // A connection from bob's address, not yet named, and a bystander
    // behind the same address (one NAT, one machine).
    let lurker = connect_from("127.0.0.2", addr).await;
    let mut dave = join_from("127.0.0.2", addr, "dave").await;
    alice.next_is("* dave joined").await;
    // A name ban: bob is out, his name and its look-alikes are refused,
    // and nobody else at his address is touched.
    alice.send("/ban bob 1h spamming").await;
    alice.next_is("* bob is banned for 1 h").await;
    bob.expect("* you were banned by alice for 1 h: spamming")
        .await;
    assert_eq!(bob.try_line().await, None);
    alice
        .next_is("* bob left (banned by alice for 1 h: spamming)")
        .await;
    dave.expect("* bob left (banned by alice for 1 h: spamming)")
        .await;
    let mut again = join_from_unnamed("127.0.0.2", addr).await;
    again.send("bob").await;
    again
        .next_is("! the name \"bob\" is banned from this server")
        .await;
    // A look-alike of the banned name (Cyrillic о) is refused too.
    again.send("b\u{43e}b").await;
    again
        .next_is("! the name \"b\u{43e}b\" looks like \"bob\", which is banned from this server")
        .await;
    again.send("erin").await;
    again.expect("* erin joined").await;
    alice.send("/bans").await;
    let listed = alice.expect_prefix("* bob — by alice at ").await;
    assert!(
        listed.ends_with(": spamming") && listed.contains(", until "),
        "{listed}"
    );

    // An address ban, asked for explicitly: every connection from it goes,
    // named or not, and new ones are refused at the door.
    alice.send("/ban --address dave").await;
    alice.next_is("* 127.0.0.2 is banned").await;
    let mut gone = vec![alice.line().await, alice.line().await];
    gone.sort();
    assert_eq!(
        gone,
        [
            "* dave left (banned by alice)",
            "* erin left (banned by alice)"
        ]
    );
    dave.expect("* you were banned by alice").await;
    assert_eq!(dave.try_line().await, None);
    let mut lurker = lurker;
    assert_eq!(
        lurker.until_closed().await,
        ["* you were banned by alice"],
        "a connection from the banned address opened before the ban is closed too"
    );
    let mut refused = raw_from("127.0.0.2", addr);
    let mut line = String::new();
    within(
        "refusal",
        async_std::io::ReadExt::read_to_string(&mut refused, &mut line),
    )
    .await
    .expect("read");
    assert_eq!(line, "! you are banned from this server\n");

    // Lifted, both: bob and the address are welcome again.
    alice.send("/unban 127.0.0.2").await;
    alice.next_is("* 127.0.0.2 is no longer banned").await;
    alice.send("/unban bob").await;
    alice.next_is("* bob is no longer banned").await;
    alice.send("/bans").await;
    alice.next_is("* nobody is banned").await;
    let _bob = join_from("127.0.0.2", addr, "bob").await;
}

/// A raw connection from `source` (a loopback address of its own).
fn raw_from(source: &str, server: SocketAddr) -> async_std::net::TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let source: SocketAddr = format!("{source}:0").parse().expect("source address");
    socket
        .bind(&source.into())
        .expect("bind the source address");
    socket.connect(&server.into()).expect("connect");
    async_std::net::TcpStream::from(std::net::TcpStream::from(socket))
}

/// Connected from `source`, banner read, no name given.
async fn connect_from(source: &str, server: SocketAddr) -> Plain {
    Plain::over(raw_from(source, server)).await
}

async fn join_from_unnamed(source: &str, server: SocketAddr) -> Plain {
    connect_from(source, server).await
}

#[async_std::test]
async fn without_an_operator_password_there_are_no_operators() {
    let server = server_with(config()).await;
    let mut alice = Plain::join(server.addr(), "alice").await;
    alice.send("/oper anything").await;
    alice.next_is("! this server has no operators").await;
    alice.send("/ban alice").await;
    alice
        .next_is("! only operators may ban: /oper PASSWORD first")
        .await;
}

#[async_std::test]
async fn names_that_only_look_alike_are_the_same_name() {
    let server = server_with(config()).await;
    let _alice = Plain::join(server.addr(), "alice").await;
    let mut impostor = Plain::connect(server.addr()).await;
    // Cyrillic а, then capitals: both are "alice".
    impostor.send("\u{430}lice").await;
    impostor
        .next_is("! the name \"\u{430}lice\" looks like \"alice\", who is online")
        .await;
    impostor.send("ALICE").await;
    impostor.next_is("! the name \"ALICE\" is taken").await;
    // Capital I is drawn like l; dotted İ like I.
    for name in ["aIice", "ALİCE", "ａｌｉｃｅ"] {
        impostor.send(name).await;
        impostor
            .next_is(&format!(
                "! the name \"{name}\" looks like \"alice\", who is online"
            ))
            .await;
    }
}

#[async_std::test]
async fn bans_outlast_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        operator_password: Some(Secret::new("op-secret")),
        history_db: Some(dir.path().join("history.sqlite3")),
        ..config()
    };
    let server = server_with(config.clone()).await;
    let mut alice = Plain::join(server.addr(), "alice").await;
    alice.send("/oper op-secret").await;
    alice.expect("* alice is now an operator").await;
    alice.send("/ban mallory 2d phishing").await;
    alice.next_is("* mallory is banned for 2 d").await;
    drop(alice);
    within("shutdown", server.shutdown()).await.expect("stop");

    let server = server_with(config).await;
    let mut mallory = Plain::connect(server.addr()).await;
    mallory.send("mallory").await;
    mallory
        .next_is("! the name \"mallory\" is banned from this server")
        .await;
}
