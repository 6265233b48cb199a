//! A large room (past `--large-room`) counts arrivals and departures in a
//! headcount instead of announcing each one, and becomes small again: over
//! real sockets, for structured (versions 2 and 3), plain and IRC clients.

mod common;

use async_std::net::TcpStream;
use chat_core::protocol::Headcount;
use chat_core::{ChatSession, Event, Input, SessionConfig, TcpSession};
use chat_server::{Config, ServerHandle};
use common::{within, Plain, Structured};

/// A server whose rooms are large past 3 people, with an IRC listener.
async fn server() -> ServerHandle {
    let config = Config {
        rate_limit: None,
        status_interval: None,
        large_room: Some(3),
        ..Config::default()
    };
    ServerHandle::start_with_irc(config)
        .await
        .expect("server starts")
}

/// The next headcount `client` reads, skipping anything else; fails on a
/// join or leave of someone other than `me`, which a large room must not
/// send.
async fn headcount(client: &mut Structured, me: &str) -> Headcount {
    loop {
        match client.next().await {
            Event::Headcount(h) => return h,
            Event::Joined(p) if p.name != me => panic!("{me} was told {} joined", p.name),
            Event::Left(d) if d.name != me => panic!("{me} was told {} left", d.name),
            _ => {}
        }
    }
}

#[async_std::test]
async fn a_large_room_counts_arrivals_and_lists_everyone_when_small_again() {
    let server = server().await;
    let addr = server.addr();
    let mut alice = Structured::join(addr, "alice").await;
    let _bob = Structured::join(addr, "bob").await;
    let carol = Structured::join(addr, "carol").await;
    for name in ["bob", "carol"] {
        alice
            .next_matching(|e| matches!(e, Event::Joined(p) if p.name == name))
            .await;
    }

    // The fourth makes the room large: announced once more, then counted.
    let dave = Structured::join(addr, "dave").await;
    alice
        .next_matching(|e| matches!(e, Event::Joined(p) if p.name == "dave"))
        .await;
    let became = headcount(&mut alice, "alice").await;
    assert_eq!((became.count, became.joined, became.left), (4, 0, 0));
    assert_eq!(became.users, None);

    // A newcomer is told the size, not everyone's name, and still sees its
    // own join; the others see a headcount within a second or so.
    let session = within(
        "erin connects",
        TcpSession::connect(SessionConfig::new(addr.to_string(), "erin")),
    )
    .await
    .expect("erin joins");
    let (sender, events) = session.split();
    let mut erin = Structured { sender, events };
    let welcome = erin.next_matching(|e| matches!(e, Event::Welcome(_))).await;
    assert!(
        matches!(&welcome, Event::Welcome(w) if w.users.is_empty()),
        "{welcome:?}"
    );
    let size = headcount(&mut erin, "erin").await;
    assert_eq!((size.count, size.joined, size.left), (5, 0, 0));
    erin.next_matching(|e| matches!(e, Event::Joined(p) if p.name == "erin"))
        .await;
    let counted = headcount(&mut alice, "alice").await;
    assert_eq!((counted.count, counted.joined, counted.left), (5, 1, 0));

    // Whoever asks still gets everyone.
    alice.sender.send(Input::Who(None)).await.expect("who");
    let users = alice.next_matching(|e| matches!(e, Event::Users(_))).await;
    let Event::Users(users) = users else {
        unreachable!()
    };
    assert_eq!(users.users, ["alice", "bob", "carol", "dave", "erin"]);

    // Two leave: counted, and at 3 the room is small again, with the list.
    for client in [&erin, &dave] {
        client.sender.quit(None).await.expect("quit");
    }
    let mut left = 0;
    let small = loop {
        let h = headcount(&mut alice, "alice").await;
        left += h.left;
        if h.users.is_some() {
            break h;
        }
    };
    assert_eq!(left, 2, "{small:?}");
    assert_eq!(small.count, 3);
    let everyone = ["alice", "bob", "carol"].map(String::from);
    assert_eq!(small.users.as_deref(), Some(&everyone[..]));
    // From now on each leave and join is announced again.
    carol.sender.quit(None).await.expect("quit");
    alice
        .next_matching(|e| matches!(e, Event::Left(d) if d.name == "carol"))
        .await;
    let _frank = Structured::join(addr, "frank").await;
    alice
        .next_matching(|e| matches!(e, Event::Joined(p) if p.name == "frank"))
        .await;
    server.shutdown().await.expect("server stops");
}

#[async_std::test]
async fn plain_irc_and_version_2_clients_in_a_large_room() {
    let server = server().await;
    let addr = server.addr();
    let (mut irc, _) = common::irc::Irc::register(common::irc::irc_addr(&server), "ivan").await;
    let mut ann = Plain::join(addr, "ann").await;
    // A version-2 program: no headcounts, and everyone listed on joining.
    let stream = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    let mut old = Plain::over(stream).await;
    old.send(r#"{"type":"hello","name":"olga","version":2}"#)
        .await;
    let welcome = old.line().await;
    assert!(
        welcome.contains(r#""users":["ann","ivan","olga"]"#),
        "{welcome}"
    );
    let _bo = Plain::join(addr, "bo").await;
    ann.expect("* bo joined").await;

    // A plain newcomer to the large room reads its size.
    let mut cy = Plain::connect(addr).await;
    cy.send("cy").await;
    let welcome = cy.line().await;
    assert_eq!(
        welcome,
        "* you are cy in lobby — too many here to list (/who lists them); /help lists commands"
    );
    cy.expect("* 5 here: too many to announce each arrival (counted once a second instead)")
        .await;
    cy.expect("* cy joined").await;
    let skipped = ann.expect("* 1 joined, 0 left (5 here)").await;
    assert!(!skipped.iter().any(|l| l.contains("cy")), "{skipped:?}");
    // IRC has no headcount: a notice to the channel.
    let lines = irc.until("1 joined, 0 left (5 here)").await;
    let notice = irc.last.take().unwrap_or_default();
    assert_eq!(
        notice, ":chat-server NOTICE #lobby :1 joined, 0 left (5 here)",
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("JOIN") && l.contains("bo!")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("cy!")), "{lines:?}");
    // The version-2 client saw bo's join, but neither cy's nor a headcount.
    let seen = old.drain(std::time::Duration::from_millis(300)).await;
    assert!(
        seen.iter().any(|l| l.contains(r#""name":"bo""#)),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("headcount") || l.contains(r#""name":"cy""#)),
        "{seen:?}"
    );
    old.send(r#"{"type":"who"}"#).await;
    let users = old.expect_prefix(r#"{"type":"users""#).await;
    assert!(users.contains("\"cy\""), "{users}");
    server.shutdown().await.expect("server stops");
}
