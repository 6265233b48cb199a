//! The IRC gateway's informational commands and IRCv3 tags over real
//! sockets: `AWAY` seen by IRC and native senders and in `WHOIS`,
//! `LUSERS`, `VERSION`, `TIME`, `INFO`, `ADMIN`, `OPER` on a server without
//! operators, `message-tags` and `multi-prefix`, IRC's line and tag
//! limits, and 10 KB of garbage that harms nobody.

mod common;

use std::time::Duration;

use common::irc::{irc_addr, native_then_irc, server, Irc};
use common::Plain;

#[async_std::test]
async fn away_is_told_to_irc_and_native_senders_and_in_whois() {
    let server = server().await;
    let irc = irc_addr(&server);
    let (mut alice, _) = Irc::register(irc, "alice").await;
    let (mut eve, _) = Irc::register(irc, "eve").await;
    let mut bob = Plain::join(server.addr(), "bob").await;
    alice.until(":bob!bob@chat JOIN #lobby").await;
    eve.until(":bob!bob@chat JOIN #lobby").await;

    alice.send("AWAY :at lunch").await;
    alice
        .next_is(":chat-server 306 alice :You have been marked as being away")
        .await;
    eve.send("PRIVMSG alice :are you there?").await;
    eve.next_is(":chat-server 301 eve alice :at lunch").await;
    alice
        .next_is(":eve!eve@chat PRIVMSG alice :are you there?")
        .await;
    bob.send("/msg alice hello").await;
    bob.next_is("<bob -> alice> hello").await;
    bob.next_is("* alice is away: at lunch").await;
    alice.next_is(":bob!bob@chat PRIVMSG alice hello").await;
    // Gone (`G`) in WHO, where the others are here (`H`).
    eve.send("WHO #lobby").await;
    for want in [
        ":chat-server 352 eve #lobby alice chat chat-server alice G :0 alice",
        ":chat-server 352 eve #lobby bob chat chat-server bob H :0 bob",
        ":chat-server 352 eve #lobby eve chat chat-server eve H :0 eve",
        ":chat-server 315 eve #lobby :End of WHO list",
    ] {
        eve.next_is(want).await;
    }
    eve.send("WHOIS alice").await;
    for want in [
        ":chat-server 311 eve alice alice chat * alice",
        ":chat-server 301 eve alice :at lunch",
        ":chat-server 319 eve alice #lobby",
    ] {
        eve.next_is(want).await;
    }
    eve.until(" 318 eve alice ").await;
    // A notice gets no reply, away or not.
    eve.send("NOTICE alice :fyi").await;
    alice.next_is(":eve!eve@chat PRIVMSG alice fyi").await;

    alice.send("AWAY :\u{7}bell").await;
    let refused = alice.line().await;
    assert!(
        refused.starts_with(":chat-server NOTICE alice :message contains a control character"),
        "{refused}"
    );
    alice.send("AWAY").await;
    alice
        .next_is(":chat-server 305 alice :You are no longer marked as being away")
        .await;
    eve.send("PRIVMSG alice :back?").await;
    alice.next_is(":eve!eve@chat PRIVMSG alice back?").await;
    assert_eq!(
        eve.drain(Duration::from_millis(200)).await,
        Vec::<String>::new()
    );
}

#[async_std::test]
async fn lusers_version_time_info_admin_and_oper_without_operators() {
    let server = server().await;
    let (mut alice, _) = Irc::register(irc_addr(&server), "alice").await;
    let _bob = Plain::join(server.addr(), "bob").await;
    // Connected, not yet named: an unknown connection.
    let _anonymous = Plain::connect(server.addr()).await;
    alice.until(":bob!bob@chat JOIN #lobby").await;
    alice.send("LUSERS").await;
    for want in [
        ":chat-server 251 alice :There are 2 users and 0 invisible on 1 servers",
        ":chat-server 252 alice 0 :operator(s) online",
        ":chat-server 253 alice 1 :unknown connection(s)",
        ":chat-server 254 alice 1 :channels formed",
        ":chat-server 255 alice :I have 2 clients and 0 servers",
        ":chat-server 265 alice 2 2 :Current local users 2",
        ":chat-server 266 alice 2 2 :Current global users 2",
    ] {
        alice.next_is(want).await;
    }
    alice.send("VERSION").await;
    let version = env!("CARGO_PKG_VERSION");
    alice
        .next_is(&format!(
            ":chat-server 351 alice {version} chat-server :a chat relay with an IRC gateway"
        ))
        .await;
    let isupport = alice.line().await;
    assert!(
        isupport.starts_with(":chat-server 005 alice NETWORK=chat ")
            && isupport.contains(" PREFIX=(o)@ "),
        "{isupport}"
    );
    alice.send("TIME").await;
    let time = alice.line().await;
    let stamp = time
        .strip_prefix(":chat-server 391 alice chat-server ")
        .unwrap_or_else(|| panic!("{time}"));
    assert!(stamp.starts_with("20") && stamp.ends_with('Z'), "{time}");
    alice.send("INFO").await;
    alice
        .next_is(&format!(
            ":chat-server 371 alice :chat-server {version}: a chat relay with an IRC gateway"
        ))
        .await;
    alice
        .next_is(":chat-server 374 alice :End of INFO list")
        .await;
    alice.send("ADMIN").await;
    alice
        .next_is(":chat-server 423 alice chat-server :No administrative info available")
        .await;
    alice.send("OPER alice anything").await;
    alice
        .next_is(":chat-server 491 alice :No O-lines for your host")
        .await;
    alice.send("FOO bar").await;
    alice
        .next_is(":chat-server 421 alice FOO :Unknown command")
        .await;
    // No error answers a NOTICE that the gateway can refuse itself.
    for notice in [
        "NOTICE",
        "NOTICE #lobby",
        "NOTICE #rust :hi",
        "NOTICE rust :hi",
        "NOTICE alice :\u{7}",
    ] {
        alice.send(notice).await;
    }
    alice.send("PING :quiet").await;
    alice.next_is(":chat-server PONG chat-server quiet").await;
}

#[async_std::test]
async fn client_tags_are_read_and_dropped_within_their_limits() {
    let server = server().await;
    let irc = irc_addr(&server);
    let mut bob = Plain::join(server.addr(), "bob").await;
    let (mut eve, _) = Irc::register(irc, "eve").await;
    let mut alice = Irc::connect(irc).await;
    alice.send("CAP LS 302").await;
    alice.line().await;
    alice.send("CAP REQ :message-tags multi-prefix").await;
    alice
        .next_is(":chat-server CAP * ACK :message-tags multi-prefix")
        .await;
    alice.end_negotiation("alice").await;
    bob.expect("* eve joined").await;
    bob.expect("* alice joined").await;
    eve.until(":alice!alice@chat JOIN #lobby").await;

    // Client tags are accepted and not relayed (none is supported).
    alice
        .send("@+draft/reply=123;+example.org/x=a\\sb PRIVMSG #lobby :tagged")
        .await;
    bob.next_is("<alice> tagged").await;
    eve.next_is(":alice!alice@chat PRIVMSG #lobby tagged").await;
    // A typing notice is only tags: nobody reads anything.
    alice.send("@+typing=active TAGMSG #lobby").await;
    // Tags up to their budget, then over it.
    let tags = format!("@+example.org/pad={}", "p".repeat(4000));
    alice.send(&format!("{tags} PRIVMSG #lobby :padded")).await;
    bob.next_is("<alice> padded").await;
    eve.next_is(":alice!alice@chat PRIVMSG #lobby padded").await;
    let tags = format!("@+example.org/pad={}", "p".repeat(5000));
    alice
        .send(&format!("{tags} PRIVMSG #lobby :too much"))
        .await;
    alice
        .next_is(":chat-server 417 alice :Tags too long; nothing was done")
        .await;
    // The rest of a line fits IRC's 512 bytes, `\r\n` included.
    let fits = format!("PRIVMSG #lobby :{}", "f".repeat(510 - 16));
    alice.send(&fits).await;
    bob.next_is(&format!("<alice> {}", "f".repeat(494))).await;
    let over = format!("PRIVMSG #lobby :{}", "o".repeat(511 - 16));
    alice.send(&over).await;
    alice
        .next_is(":chat-server 417 alice :Input line too long; nothing was done")
        .await;
    assert_eq!(
        bob.drain(Duration::from_millis(200)).await,
        Vec::<String>::new()
    );
    // Relayed with a longer prefix, it takes two lines, cut, not lost.
    let relayed: String = eve
        .drain(Duration::from_millis(200))
        .await
        .iter()
        .map(|l| {
            l.strip_prefix(":alice!alice@chat PRIVMSG #lobby ")
                .unwrap_or_else(|| panic!("{l}"))
        })
        .collect();
    assert_eq!(relayed, "f".repeat(494));
}

/// Deterministic noise: every byte but `\r` and `\n`.
fn garbage(len: usize, mut seed: u32) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            match (seed >> 16) as u8 {
                b'\r' | b'\n' => 0,
                b => b,
            }
        })
        .collect()
}

#[async_std::test]
async fn ten_kilobytes_of_garbage_harm_nobody() {
    let server = server().await;
    let (mut bob, mut alice, _) = native_then_irc(&server, "bob", "alice").await;

    let mut line = garbage(10 * 1024, 7);
    line.extend_from_slice(b"\r\n");
    alice.send_raw(&line).await;
    alice
        .next_is(":chat-server 417 alice :line too long (max 8192 bytes)")
        .await;
    let mut line = garbage(400, 11);
    line.extend_from_slice(b"\r\n");
    alice.send_raw(&line).await;
    alice
        .next_is(":chat-server NOTICE alice :line is not valid UTF-8; nothing was sent")
        .await;
    alice.send("\u{0}\u{1}\u{2}garbage\u{7f} :x").await;
    alice
        .next_is(r#":chat-server NOTICE alice :not an IRC line: the command "\0\u{1}\u{2}garbage\u{7f}" is neither letters nor a three-digit numeric"#)
        .await;
    // Still registered, still heard; the room saw none of it.
    alice.send("PRIVMSG #lobby :still here").await;
    bob.next_is("<alice> still here").await;
    alice.send("PING :ok").await;
    alice.next_is(":chat-server PONG chat-server ok").await;
}
