//! The IRC gateway over real sockets: registration and its numerics, IRC
//! and native clients talking both ways in rooms and in private, names
//! shared with native clients, and the error numerics.

mod common;

use std::time::Duration;

use chat_server::Config;
use common::irc::{config, irc_addr, native_then_irc, server, server_with, Irc};
use common::Plain;

#[async_std::test]
async fn registration_with_cap_negotiation_and_honest_isupport() {
    let server = server().await;
    let mut irc = Irc::connect(irc_addr(&server)).await;
    irc.send("CAP LS 302").await;
    irc.next_is(":chat-server CAP * LS :echo-message message-tags multi-prefix server-time")
        .await;
    irc.send("NICK alice").await;
    irc.send("USER alice 0 * :Alice Liddell").await;
    // Registration waits for CAP END.
    irc.send("CAP REQ :sasl").await;
    irc.next_is(":chat-server CAP alice NAK sasl").await;
    irc.send("CAP END").await;
    irc.next_is(":chat-server 001 alice :Welcome to the chat network, alice")
        .await;
    assert!(irc
        .line()
        .await
        .starts_with(":chat-server 002 alice :Your host is chat-server"));
    assert!(irc.line().await.starts_with(":chat-server 003 alice :"));
    assert!(irc
        .line()
        .await
        .starts_with(":chat-server 004 alice chat-server "));
    let isupport = irc.line().await;
    for token in [
        " NETWORK=chat ",
        " CHANTYPES=# ",
        " NICKLEN=32 ",
        " CHANNELLEN=33 ",
        " CASEMAPPING=",
        " PREFIX=(o)@ ",
        " CHANLIMIT=#:20 ",
        " CHANMODES=b,,, ",
    ] {
        assert!(isupport.contains(token), "{token} missing: {isupport}");
    }
    assert!(isupport.starts_with(":chat-server 005 alice "));
    assert!(isupport.ends_with(" :are supported by this server"));
    irc.next_is(":chat-server 422 alice :MOTD File is missing")
        .await;
    // Joined to the default room, as every client is.
    irc.next_is(":alice!alice@chat JOIN #lobby").await;
    irc.next_is(":chat-server 353 alice = #lobby alice").await;
    irc.next_is(":chat-server 366 alice #lobby :End of /NAMES list")
        .await;
    irc.send("PING :abc").await;
    irc.next_is(":chat-server PONG chat-server abc").await;
    irc.send("QUIT :see you").await;
    irc.next_is("ERROR :Closing link: quit: see you").await;
    assert_eq!(irc.try_line().await, None);
}

#[async_std::test]
async fn native_and_irc_clients_talk_both_ways_in_rooms() {
    let server = server().await;
    let (mut bob, mut alice, welcome) = native_then_irc(&server, "bob", "alice").await;
    assert!(
        welcome.contains(&":chat-server 353 alice = #lobby :alice bob".to_owned()),
        "{welcome:?}"
    );

    bob.send("hi alice").await;
    bob.next_is("<bob> hi alice").await;
    alice
        .next_is(":bob!bob@chat PRIVMSG #lobby :hi alice")
        .await;
    alice.send("PRIVMSG #lobby :hello bob").await;
    bob.next_is("<alice> hello bob").await;
    alice.send("PRIVMSG #lobby :\u{1}ACTION waves\u{1}").await;
    bob.next_is("* alice waves").await;
    bob.send("/me bows").await;
    bob.next_is("* bob bows").await;
    // Alice's own words did not come back to her: the next line is bob's.
    alice
        .next_is(":bob!bob@chat PRIVMSG #lobby :\u{1}ACTION bows\u{1}")
        .await;

    // Another room, created from the IRC side.
    alice.send("JOIN #rust").await;
    alice.next_is(":alice!alice@chat JOIN #rust").await;
    alice.next_is(":chat-server 353 alice = #rust alice").await;
    alice
        .next_is(":chat-server 366 alice #rust :End of /NAMES list")
        .await;
    bob.send("/join #rust").await;
    bob.expect("* bob joined").await;
    alice.next_is(":bob!bob@chat JOIN #rust").await;
    alice.send("TOPIC #rust :all things Rust").await;
    alice
        .next_is(":alice!alice@chat TOPIC #rust :all things Rust")
        .await;
    bob.next_is("* alice set the topic: all things Rust").await;
    alice.send("PRIVMSG #rust :borrowck is my friend").await;
    bob.next_is("<alice> borrowck is my friend").await;
    bob.send("indeed").await;
    bob.next_is("<bob> indeed").await;
    alice.next_is(":bob!bob@chat PRIVMSG #rust indeed").await;
    // Bob's current room is #rust: lobby lines carry their room for him,
    // and reach alice in #lobby.
    bob.send("/part #rust off to the lobby").await;
    bob.expect("* bob left (part: off to the lobby)").await;
    alice
        .next_is(":bob!bob@chat PART #rust :off to the lobby")
        .await;
    alice.send("PART #rust :bye").await;
    alice.next_is(":alice!alice@chat PART #rust bye").await;

    // Queries: NAMES, WHO, LIST, TOPIC.
    alice.send("NAMES #lobby").await;
    alice
        .next_is(":chat-server 353 alice = #lobby :alice bob")
        .await;
    alice
        .next_is(":chat-server 366 alice #lobby :End of /NAMES list")
        .await;
    alice.send("WHO #lobby").await;
    alice
        .next_is(":chat-server 352 alice #lobby alice chat chat-server alice H :0 alice")
        .await;
    alice
        .next_is(":chat-server 352 alice #lobby bob chat chat-server bob H :0 bob")
        .await;
    alice
        .next_is(":chat-server 315 alice #lobby :End of WHO list")
        .await;
    alice.send("LIST").await;
    alice
        .next_is(":chat-server 321 alice Channel :Users  Name")
        .await;
    alice.next_is(":chat-server 322 alice #lobby 2 :").await;
    alice.next_is(":chat-server 323 alice :End of /LIST").await;
    alice.send("TOPIC #lobby").await;
    alice
        .next_is(":chat-server 331 alice #lobby :No topic is set")
        .await;
    alice.send("WHOIS Bob").await;
    alice
        .next_is(":chat-server 311 alice bob bob chat * bob")
        .await;
    alice.next_is(":chat-server 319 alice bob #lobby").await;
    alice
        .next_is(":chat-server 312 alice bob chat-server :a chat relay with an IRC gateway")
        .await;
    alice
        .next_is(":chat-server 318 alice Bob :End of /WHOIS list")
        .await;
    alice.send("ISON nobody BOB alice").await;
    alice.next_is(":chat-server 303 alice :bob alice").await;
    alice.send("USERHOST bob nobody").await;
    alice.next_is(":chat-server 302 alice bob=+bob@chat").await;
    alice.send("ISON").await;
    alice
        .next_is(":chat-server 461 alice ISON :Not enough parameters")
        .await;
    alice.send("WHOIS nobody").await;
    alice
        .next_is(":chat-server 401 alice nobody :No such nick/channel")
        .await;
    alice
        .next_is(":chat-server 318 alice nobody :End of /WHOIS list")
        .await;

    alice.send("QUIT :bye now").await;
    alice.next_is("ERROR :Closing link: quit: bye now").await;
    bob.expect("* alice left (quit: bye now)").await;
}

#[async_std::test]
async fn private_messages_and_renames_cross_both_ways() {
    let server = server().await;
    let (mut bob, mut alice, _) = native_then_irc(&server, "bob", "alice").await;

    bob.send("/msg alice psst").await;
    bob.next_is("<bob -> alice> psst").await;
    alice.next_is(":bob!bob@chat PRIVMSG alice psst").await;
    alice.send("PRIVMSG bob :psst back").await;
    bob.next_is("<alice -> bob> psst back").await;

    alice.send("NICK carol").await;
    alice.next_is(":alice!alice@chat NICK carol").await;
    bob.next_is("* alice is now known as carol").await;
    bob.send("/nick robert").await;
    bob.next_is("* bob is now known as robert").await;
    alice.next_is(":bob!bob@chat NICK robert").await;
    // The echo of her own private message is not shown to an IRC client.
    alice.send("PRIVMSG robert :hi robert").await;
    bob.next_is("<carol -> robert> hi robert").await;
    alice.send("PING :x").await;
    alice.next_is(":chat-server PONG chat-server x").await;
}

#[async_std::test]
async fn one_namespace_with_native_clients() {
    let server = server().await;
    let mut bob = Plain::join(server.addr(), "bob").await;
    let mut irc = Irc::connect(irc_addr(&server)).await;
    irc.send("NICK Bob").await;
    irc.send("USER x 0 * :x").await;
    irc.next_is(":chat-server 433 * Bob :the name \"Bob\" is taken")
        .await;
    irc.send("NICK b0b").await;
    irc.next_is(":chat-server 433 * b0b :the name \"b0b\" looks like \"bob\", who is online")
        .await;
    irc.send("NICK has space").await;
    // A middle parameter ends at the space: "has" is a fine name.
    irc.until_registered("has").await;
    bob.next_is("* has joined").await;
    irc.send("NICK bob").await;
    irc.next_is(":chat-server 433 has bob :the name \"bob\" is taken")
        .await;
    irc.send("NICK :bad.name").await;
    let refused = irc.line().await;
    assert!(
        refused.starts_with(":chat-server 432 has bad.name :"),
        "{refused}"
    );
    // A native client cannot take an IRC user's name either.
    let mut other = Plain::connect(server.addr()).await;
    other.send("HAS").await;
    other.next_is("! the name \"HAS\" is taken").await;
}

#[async_std::test]
async fn error_numerics() {
    let server = server().await;
    let mut irc = Irc::connect(irc_addr(&server)).await;
    irc.send("JOIN #rust").await;
    irc.next_is(":chat-server 451 * :You have not registered")
        .await;
    irc.send("NICK").await;
    irc.next_is(":chat-server 431 * :No nickname given").await;
    irc.send("USER x").await;
    irc.next_is(":chat-server 461 * USER :Not enough parameters")
        .await;
    irc.finish_registration("dave").await;

    let cases = [
        ("FROB x", ":chat-server 421 dave FROB :Unknown command"),
        (
            "USER a b c d",
            ":chat-server 462 dave :You may not reregister",
        ),
        (
            "PASS secret",
            ":chat-server 462 dave :You may not reregister",
        ),
        (
            "PRIVMSG",
            ":chat-server 411 dave :No recipient given (PRIVMSG)",
        ),
        ("PRIVMSG #lobby", ":chat-server 412 dave :No text to send"),
        (
            "PRIVMSG nobody :hi",
            ":chat-server 401 dave nobody :nobody called \"nobody\" is online",
        ),
        (
            "PRIVMSG #rust :hi",
            ":chat-server 404 dave #rust :Cannot send to channel",
        ),
        (
            "PART #rust",
            ":chat-server 442 dave #rust :You're not on that channel",
        ),
        (
            "TOPIC #rust",
            ":chat-server 442 dave #rust :You're not on that channel",
        ),
        ("JOIN rust", ":chat-server 403 dave rust :No such channel"),
        ("JOIN #a.b", ":chat-server 403 dave #a.b :No such channel"),
        ("JOIN", ":chat-server 461 dave JOIN :Not enough parameters"),
        (
            "TOPIC",
            ":chat-server 461 dave TOPIC :Not enough parameters",
        ),
        ("NICK", ":chat-server 431 dave :No nickname given"),
        ("MODE dave", ":chat-server 221 dave +"),
        ("MODE #lobby", ":chat-server 324 dave #lobby +"),
        ("MOTD", ":chat-server 422 dave :MOTD File is missing"),
    ];
    for (send, want) in cases {
        irc.send(send).await;
        irc.next_is(want).await;
    }
    // Bad bytes are refused and the connection goes on.
    irc.send_raw(b"PRIVMSG #lobby :\xff\xfe\r\n").await;
    irc.next_is(":chat-server NOTICE dave :line is not valid UTF-8; nothing was sent")
        .await;
    let long = format!("PRIVMSG #lobby :{}\r\n", "x".repeat(10_000));
    irc.send_raw(long.as_bytes()).await;
    irc.next_is(":chat-server 417 dave :line too long (max 8192 bytes)")
        .await;
    irc.send("PRIVMSG #lobby :\u{1b}[31mred").await;
    let refused = irc.line().await;
    assert!(
        refused.starts_with(":chat-server NOTICE dave :message contains a control character"),
        "{refused}"
    );
    irc.send("PING :still here").await;
    irc.next_is(":chat-server PONG chat-server :still here")
        .await;
    let stray = irc.drain(Duration::from_millis(200)).await;
    assert!(stray.is_empty(), "{stray:?}");
}

#[async_std::test]
async fn the_room_password_is_pass() {
    let server = server_with(Config {
        password: Some(chat_server::Secret::new("sesame")),
        refusal_delay: Duration::from_millis(10),
        ..config()
    })
    .await;
    let mut wrong = Irc::connect(irc_addr(&server)).await;
    wrong.send("PASS guess").await;
    wrong.send_nick_and_user("eve").await;
    wrong.next_is(":chat-server 464 eve :wrong password").await;
    wrong.next_is("ERROR :Closing link: wrong password").await;
    assert_eq!(wrong.try_line().await, None);

    let mut alice = Irc::connect(irc_addr(&server)).await;
    alice.send("PASS sesame").await;
    alice.finish_registration("alice").await;
    alice.send("PING :in").await;
    alice.next_is(":chat-server PONG chat-server in").await;
}

#[async_std::test]
async fn a_flood_is_slowed_then_disconnected_like_any_client() {
    // Rate limiting on, as for any client.
    let server = server_with(Config {
        status_interval: None,
        ..Config::default()
    })
    .await;
    let (mut bob, mut irc, _) = native_then_irc(&server, "bob", "flood").await;
    let burst: String = (0..200)
        .map(|i| format!("PRIVMSG #lobby :spam {i}\r\n"))
        .collect();
    irc.send_raw(burst.as_bytes()).await;
    let mut seen = Vec::new();
    while let Some(line) = irc.try_line().await {
        seen.push(line);
    }
    assert!(
        seen.contains(&":chat-server NOTICE flood :slow down".to_owned()),
        "{seen:?}"
    );
    let end = &seen[seen.len().saturating_sub(2)..];
    assert_eq!(
        end,
        [
            ":chat-server NOTICE flood :flooding: disconnected",
            "ERROR :Closing link: flooding"
        ],
        "{seen:?}"
    );
    // Only the burst the rate allows reached the room.
    let lines = bob.expect("* flood left (flooding)").await;
    // The burst of 10, and maybe one or two refilled on a slow machine.
    assert!((10..=12).contains(&lines.len()), "{lines:?}");
}

#[async_std::test]
async fn a_native_operator_can_kick_an_irc_user() {
    let server = server_with(Config {
        operator_password: Some(chat_server::Secret::new("root")),
        ..config()
    })
    .await;
    let (mut op, mut irc, _) = native_then_irc(&server, "op", "rude").await;
    op.send("/oper root").await;
    op.next_is("* op is now an operator").await;
    irc.next_is(":chat-server NOTICE rude :op is now an operator")
        .await;
    irc.next_is(":chat-server MODE #lobby +o op").await;
    op.send("/kick rude enough").await;
    irc.next_is(":op!op@chat KICK #lobby rude :kicked by op: enough")
        .await;
    irc.next_is("ERROR :you were kicked by op: enough").await;
    assert_eq!(irc.try_line().await, None);
    op.expect("* rude left (kicked by op: enough)").await;
}

#[async_std::test]
async fn a_long_native_message_is_split_into_lines_that_fit() {
    let server = server().await;
    let (mut bob, mut alice, _) = native_then_irc(&server, "bob", "alice").await;
    let long: String = "ünïcödé words ".repeat(300);
    let long = long.trim_end().to_owned();
    bob.send(&long).await;
    let mut joined = String::new();
    while joined.len() < long.len() {
        let line = alice.line().await;
        assert!(line.len() + 2 <= 512, "{} bytes: {line}", line.len());
        let text = line
            .strip_prefix(":bob!bob@chat PRIVMSG #lobby ")
            .unwrap_or_else(|| panic!("not bob's message: {line}"));
        joined.push_str(text.strip_prefix(':').unwrap_or(text));
    }
    assert_eq!(joined, long);
}

#[async_std::test]
async fn joining_shows_the_topic_and_join_0_leaves_everything() {
    let server = server().await;
    let mut bob = Plain::join(server.addr(), "bob").await;
    bob.send("/join #rust").await;
    bob.expect("* bob joined").await;
    bob.send("/topic all things Rust").await;
    bob.next_is("* bob set the topic: all things Rust").await;
    let (mut alice, _) = Irc::register(irc_addr(&server), "alice").await;
    alice.send("JOIN #rust,#go").await;
    alice.next_is(":alice!alice@chat JOIN #rust").await;
    alice
        .next_is(":chat-server 332 alice #rust :all things Rust")
        .await;
    alice
        .next_is(":chat-server 353 alice = #rust :alice bob")
        .await;
    alice
        .next_is(":chat-server 366 alice #rust :End of /NAMES list")
        .await;
    alice.next_is(":alice!alice@chat JOIN #go").await;
    alice.next_is(":chat-server 353 alice = #go alice").await;
    alice
        .next_is(":chat-server 366 alice #go :End of /NAMES list")
        .await;
    // Joining a channel one is on is ignored, as IRC servers do.
    alice.send("JOIN #rust").await;
    alice.send("JOIN 0").await;
    alice.next_is(":alice!alice@chat PART #lobby").await;
    alice.next_is(":alice!alice@chat PART #rust").await;
    alice.next_is(":alice!alice@chat PART #go").await;
    bob.expect("* alice left (part)").await;
    alice.send("PING :done").await;
    alice.next_is(":chat-server PONG chat-server done").await;
}

#[async_std::test]
async fn a_silent_irc_client_is_pinged_then_dropped() {
    let server = server_with(Config {
        ping_interval: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(900),
        ..config()
    })
    .await;
    let (mut answers, _) = Irc::register(irc_addr(&server), "awake").await;
    answers.next_is("PING chat-server").await;
    answers.send("PONG chat-server").await;
    answers.next_is("PING chat-server").await;
    let (mut silent, _) = Irc::register(irc_addr(&server), "asleep").await;
    silent.next_is("PING chat-server").await;
    // (Awake, no longer answering either, may quit first.)
    silent.until("ERROR :").await;
    assert_eq!(
        silent.last.as_deref(),
        Some("ERROR :Closing link: ping timeout")
    );
    assert_eq!(silent.try_line().await, None);
}

/// `@time=…` from the IRCv3 `server-time` tag, checked for shape.
fn untagged(line: &str) -> &str {
    let (tag, rest) = line.split_once(' ').expect("a tagged line");
    let time = tag.strip_prefix("@time=").expect("a time tag");
    assert_eq!(time.len(), "2026-12-01T22:58:00.000Z".len(), "{time}");
    assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
    rest
}

#[async_std::test]
async fn server_time_and_echo_message_capabilities() {
    let server = server().await;
    let mut bob = Plain::join(server.addr(), "bob").await;
    let mut alice = Irc::connect(irc_addr(&server)).await;
    alice.send("CAP LS 302").await;
    alice
        .next_is(":chat-server CAP * LS :echo-message message-tags multi-prefix server-time")
        .await;
    alice.send("CAP REQ :server-time echo-message").await;
    alice
        .next_is(":chat-server CAP * ACK :server-time echo-message")
        .await;
    alice.send("CAP LIST").await;
    alice
        .next_is(":chat-server CAP * LIST :echo-message server-time")
        .await;
    alice.end_negotiation("alice").await;
    bob.next_is("* alice joined").await;

    bob.send("hi alice").await;
    bob.next_is("<bob> hi alice").await;
    let line = alice.line().await;
    assert_eq!(untagged(&line), ":bob!bob@chat PRIVMSG #lobby :hi alice");
    // Her own message comes back, as echo-message promises.
    alice.send("PRIVMSG #lobby :hello").await;
    bob.next_is("<alice> hello").await;
    let line = alice.line().await;
    assert_eq!(untagged(&line), ":alice!alice@chat PRIVMSG #lobby hello");
    alice.send("PRIVMSG bob :psst").await;
    bob.next_is("<alice -> bob> psst").await;
    let line = alice.line().await;
    assert_eq!(untagged(&line), ":alice!alice@chat PRIVMSG bob psst");
    // Capabilities are fixed once registered.
    alice.send("CAP REQ :-echo-message").await;
    alice
        .next_is(":chat-server CAP alice NAK -echo-message")
        .await;
}
