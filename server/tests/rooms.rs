//! Rooms over real sockets: isolation, the `[#room]` prefix, joining,
//! parting, topics, limits, per-room order and history, and a version-1
//! client beside a version-2 one.

mod common;

use std::time::Duration;

use chat_core::protocol::{ErrorCode, ServerFrame};
use chat_core::{Event, Input};
use chat_server::history::Keep;
use chat_server::Config;
use common::{server, server_with, within, Plain, Structured};

fn quiet() -> Config {
    Config {
        rate_limit: None,
        status_interval: None,
        ..Config::default()
    }
}

/// Joins `room` in plain mode and skips to the joiner's own join notice;
/// returns what came before it (the greeting, topic and replay).
async fn plain_join(client: &mut Plain, room: &str) -> Vec<String> {
    client.send(&format!("/join {room}")).await;
    let name = client.name.clone();
    client.expect(&format!("* {name} joined")).await
}

#[async_std::test]
async fn a_message_in_one_room_never_reaches_someone_only_in_another() {
    let server = server().await;
    let mut alice = Plain::join(server.addr(), "alice").await;
    let mut bob = Plain::join(server.addr(), "bob").await;
    alice.next_is("* bob joined").await;
    let greeting = plain_join(&mut bob, "#rust").await;
    assert_eq!(greeting, ["* now talking in #rust — online (1): bob"]);
    let mut carol = Plain::join(server.addr(), "carol").await;
    plain_join(&mut carol, "rust").await;
    bob.next_is("[#lobby] * carol joined").await;
    bob.next_is("* carol joined").await;

    carol.send("borrowck is my friend").await;
    bob.next_is("<carol> borrowck is my friend").await;
    carol.next_is("<carol> borrowck is my friend").await;
    // Alice, only in the lobby, saw carol arrive in the lobby and nothing
    // of #rust: the next thing she reads is the next lobby line.
    alice.next_is("* carol joined").await;
    bob.send("/join lobby").await;
    bob.next_is("* now talking in #lobby — online (3): alice, bob, carol")
        .await;
    alice.send("lobby only").await;
    alice.next_is("<alice> lobby only").await;
    bob.next_is("<alice> lobby only").await;
    // Bob's current room is the lobby now: #rust lines carry their room.
    carol.send("still rusty").await;
    bob.next_is("[#rust] <carol> still rusty").await;
    carol.next_is("[#lobby] <alice> lobby only").await;
    carol.next_is("<carol> still rusty").await;
    let stray = alice.drain(Duration::from_millis(200)).await;
    assert!(stray.is_empty(), "alice saw another room: {stray:?}");
}

#[async_std::test]
async fn part_topic_rooms_and_who_in_plain_mode() {
    let server = server().await;
    let mut alice = Plain::join(server.addr(), "alice").await;
    plain_join(&mut alice, "#Rust").await;
    alice.send("/topic all things Rust").await;
    alice
        .next_is("* alice set the topic: all things Rust")
        .await;
    alice.send("/topic").await;
    alice.next_is("* topic: all things Rust").await;

    let mut bob = Plain::join(server.addr(), "bob").await;
    let greeting = plain_join(&mut bob, "rust").await;
    assert_eq!(
        greeting,
        [
            "* now talking in #Rust — online (2): alice, bob",
            "* topic: all things Rust"
        ]
    );
    alice.next_is("[#lobby] * bob joined").await;
    alice.next_is("* bob joined").await;
    bob.send("/rooms").await;
    bob.next_is("* #lobby (2 members)").await;
    bob.next_is("* #Rust (2 members): all things Rust").await;
    bob.send("/who lobby").await;
    bob.next_is("[#lobby] * online (2): alice, bob").await;
    bob.send("/who").await;
    bob.next_is("* online (2): alice, bob").await;

    bob.send("/part #rust off to bed").await;
    bob.next_is("* bob left (part: off to bed)").await;
    bob.next_is("* now talking in #lobby").await;
    alice.next_is("* bob left (part: off to bed)").await;
    bob.send("/part").await;
    bob.next_is("* bob left (part)").await;
    bob.next_is("* you are in no room now: /join ROOM").await;
    alice.next_is("[#lobby] * bob left (part)").await;
    // Still connected, in no room: talking needs a room first.
    bob.send("anyone?").await;
    bob.next_is("! you are in no room: /join ROOM first").await;
    bob.send("/who").await;
    bob.next_is("! you are in no room: /join ROOM first").await;
    bob.send("/msg alice still here").await;
    bob.next_is("<bob -> alice> still here").await;
    alice.next_is("<bob -> alice> still here").await;
    bob.send("/part rust").await;
    bob.next_is("! you are not in #rust: /join it first").await;
    bob.send("/join no way").await;
    bob.next_is("! usage: /join ROOM").await;
    bob.send("/join a.b").await;
    bob.next_is("! the room name \"a.b\" contains '.': use letters, digits, _ and -")
        .await;
}

#[async_std::test]
async fn created_rooms_go_when_empty_and_configured_ones_stay() {
    let server = server_with(Config {
        rooms: vec!["help".into()],
        replay: 10,
        ..quiet()
    })
    .await;
    let mut alice = Plain::join(server.addr(), "alice").await;
    plain_join(&mut alice, "pop-up").await;
    alice.send("remember me").await;
    alice.next_is("<alice> remember me").await;
    alice.send("/rooms").await;
    assert_eq!(
        alice.drain(Duration::from_millis(300)).await,
        [
            "* #help (0 members)",
            "* #lobby (1 member)",
            "* #pop-up (1 member)"
        ]
    );
    alice.send("/part").await;
    alice.expect("* now talking in #lobby").await;
    alice.send("/rooms").await;
    assert_eq!(
        alice.drain(Duration::from_millis(300)).await,
        ["* #help (0 members)", "* #lobby (1 member)"]
    );
    // Its history stayed: joining again replays it.
    let greeting = plain_join(&mut alice, "pop-up").await;
    assert_eq!(greeting.len(), 2, "{greeting:?}");
    assert!(greeting[1].ends_with("<alice> remember me"), "{greeting:?}");
}

#[async_std::test]
async fn room_limits_are_refused_with_a_reason() {
    let server = server_with(Config {
        max_rooms: 3,
        max_rooms_per_client: 2,
        ..quiet()
    })
    .await;
    let mut alice = Plain::join(server.addr(), "alice").await;
    plain_join(&mut alice, "one").await;
    alice.send("/join two").await;
    alice
        .next_is("! you are in 2 rooms, the most allowed: /part one first")
        .await;
    let mut bob = Plain::join(server.addr(), "bob").await;
    plain_join(&mut bob, "two").await;
    let mut carol = Plain::join(server.addr(), "carol").await;
    carol.send("/join three").await;
    carol
        .next_is("! this server has 3 rooms, the most it allows: join one of them (/rooms)")
        .await;
    // An existing room is fine.
    plain_join(&mut carol, "one").await;
}

#[async_std::test]
async fn each_room_has_its_own_order_and_replay() {
    let server = server_with(Config {
        replay: 5,
        ..quiet()
    })
    .await;
    let mut prog = Structured::join(server.addr(), "prog").await;
    within("join", prog.sender.join("#rust"))
        .await
        .expect("join");
    let joined = prog
        .next_matching(|e| matches!(e, Event::RoomJoined(_)))
        .await;
    assert!(matches!(&joined, Event::RoomJoined(r) if r.room == "rust" && r.users == ["prog"]));
    assert_eq!(prog.sender.current_room().as_deref(), Some("rust"));
    prog.next_matching(|e| matches!(e, Event::Joined(p) if p.room.as_deref() == Some("rust")))
        .await;
    let mut seqs = std::collections::HashMap::<String, Vec<u64>>::new();
    for i in 0..6 {
        let room = if i % 2 == 0 { "lobby" } else { "rust" };
        within("say", prog.sender.say_in(room, format!("{room} {i}")))
            .await
            .expect("say");
    }
    for _ in 0..6 {
        match prog.next_matching(|e| matches!(e, Event::Message(_))).await {
            Event::Message(m) => {
                let room = m.room.clone().expect("a room");
                assert!(m.text.starts_with(&room), "{m:?}");
                seqs.entry(room).or_default().push(m.seq);
            }
            _ => unreachable!(),
        }
    }
    for (room, seqs) in &seqs {
        assert_eq!(seqs.len(), 3, "{room}");
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "{room}: {seqs:?}"
        );
    }
    // A newcomer to #rust is shown #rust's history, not the lobby's.
    let mut late = Plain::join(server.addr(), "late").await;
    let greeting = plain_join(&mut late, "rust").await;
    let replayed: Vec<&String> = greeting.iter().skip(1).collect();
    assert_eq!(replayed.len(), 3, "{greeting:?}");
    assert!(
        replayed.iter().all(|l| l.contains("<prog> rust ")),
        "{greeting:?}"
    );
}

#[async_std::test]
async fn structured_frames_carry_rooms_and_topics() {
    let server = server().await;
    let mut prog = Structured::join(server.addr(), "prog").await;
    within("join", prog.sender.send(Input::Join("ops".into())))
        .await
        .expect("join");
    prog.next_matching(|e| matches!(e, Event::Joined(p) if p.room.as_deref() == Some("ops")))
        .await;
    within(
        "topic",
        prog.sender.send(Input::Topic(Some("on call".into()))),
    )
    .await
    .expect("topic");
    let topic = prog.next_matching(|e| matches!(e, Event::Topic(_))).await;
    assert!(
        matches!(&topic, Event::Topic(t) if t.room == "ops" && t.topic == "on call" && t.by.as_deref() == Some("prog")),
        "{topic:?}"
    );
    within("rooms", prog.sender.send(Input::Rooms))
        .await
        .expect("rooms");
    let rooms = prog.next_matching(|e| matches!(e, Event::Rooms(_))).await;
    let Event::Rooms(list) = rooms else {
        unreachable!()
    };
    let names: Vec<(&str, usize)> = list
        .rooms
        .iter()
        .map(|r| (r.room.as_str(), r.members))
        .collect();
    assert_eq!(names, [("lobby", 1), ("ops", 1)]);
    within(
        "part",
        prog.sender.send(Input::Part {
            room: None,
            reason: None,
        }),
    )
    .await
    .expect("part");
    prog.next_matching(
        |e| matches!(e, Event::Left(d) if d.name == "prog" && d.room.as_deref() == Some("ops")),
    )
    .await;
    assert_eq!(prog.sender.current_room().as_deref(), Some("lobby"));
    within("say", prog.sender.send(Input::Join("#nope nope".into())))
        .await
        .expect("send");
    let refused = prog.next_matching(|e| matches!(e, Event::Error(_))).await;
    assert!(
        matches!(&refused, Event::Error(e) if e.code == ErrorCode::InvalidRoom),
        "{refused:?}"
    );
}

#[async_std::test]
async fn a_version_1_client_keeps_working_beside_version_2() {
    let server = server().await;
    let mut old = Plain::connect(server.addr()).await;
    old.send(r#"{"type":"hello","name":"old","version":1}"#)
        .await;
    let welcome: ServerFrame = serde_json::from_str(&old.line().await).expect("a welcome frame");
    let ServerFrame::Welcome(welcome) = welcome else {
        panic!("not a welcome: {welcome:?}")
    };
    assert_eq!((welcome.version, welcome.room.as_str()), (1, "lobby"));
    assert!(welcome.rooms.is_empty() && welcome.topic.is_none());
    old.line().await; // its own join

    let mut new = Structured::join(server.addr(), "new").await;
    within(
        "topic",
        new.sender.send(Input::Topic(Some("v2 only".into()))),
    )
    .await
    .expect("topic");
    within("join", new.sender.join("rust")).await.expect("join");
    new.next_matching(|e| matches!(e, Event::Joined(p) if p.room.as_deref() == Some("rust")))
        .await;
    within("say", new.sender.say_in("rust", "elsewhere"))
        .await
        .expect("say");
    within("say", new.sender.say_in("lobby", "hello old"))
        .await
        .expect("say");
    // The old client sees the join and the lobby message, and nothing it
    // does not understand (no topic frame) or that is not its room.
    let lines = old.drain(Duration::from_millis(300)).await;
    let frames: Vec<ServerFrame> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("a frame"))
        .collect();
    assert_eq!(frames.len(), 2, "{lines:?}");
    assert!(matches!(&frames[0], ServerFrame::Join(p) if p.name == "new"));
    assert!(matches!(&frames[1], ServerFrame::Message(m) if m.text == "hello old"));
    // Rooms need version 2.
    old.send(r#"{"type":"join","room":"rust"}"#).await;
    assert!(old.line().await.contains("unsupported_version"));
}

#[async_std::test]
async fn renames_reach_each_neighbour_once_and_rooms_follow() {
    let server = server().await;
    let mut alice = Plain::join(server.addr(), "alice").await;
    let mut bob = Plain::join(server.addr(), "bob").await;
    alice.next_is("* bob joined").await;
    plain_join(&mut alice, "rust").await;
    plain_join(&mut bob, "rust").await;
    alice.next_is("* bob joined").await;
    bob.send("/nick rob").await;
    alice.next_is("* bob is now known as rob").await;
    bob.next_is("* bob is now known as rob").await;
    bob.send("new me").await;
    alice.next_is("<rob> new me").await;
    alice.send("/who").await;
    alice.next_is("* online (2): alice, rob").await;
    let stray = alice.drain(Duration::from_millis(200)).await;
    assert!(stray.is_empty(), "{stray:?}");
}

#[async_std::test]
async fn history_keeps_rooms_apart_and_trims_to_the_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("history.sqlite3");
    // A version-1 database: one room, one numbering.
    {
        let conn = rusqlite::Connection::open(&db).expect("create");
        conn.execute_batch(
            "CREATE TABLE messages (seq INTEGER PRIMARY KEY, room TEXT NOT NULL,
                 time INTEGER NOT NULL, kind TEXT NOT NULL, sender TEXT NOT NULL, text TEXT NOT NULL);
             INSERT INTO messages VALUES (7, 'lobby', 1700000000000, 'message', 'ghost', 'from before rooms');",
        )
        .expect("old schema");
    }
    let config = Config {
        replay: 50,
        history_db: Some(db.clone()),
        history_keep: Keep::Count(5),
        ..quiet()
    };
    let server = server_with(config.clone()).await;
    let mut alice = Plain::connect(server.addr()).await;
    alice.send("alice").await;
    let greeting = alice.expect("* alice joined").await;
    assert!(
        greeting
            .iter()
            .any(|l| l.ends_with("<ghost> from before rooms")),
        "{greeting:?}"
    );
    alice.name = "alice".into();
    plain_join(&mut alice, "rust").await;
    for i in 0..12 {
        alice.send(&format!("rust {i}")).await;
    }
    alice.expect("<alice> rust 11").await;
    within("shutdown", server.shutdown()).await.expect("stop");

    let conn = rusqlite::Connection::open(&db).expect("open");
    let count = |room: &str| -> i64 {
        conn.query_row(
            "SELECT COUNT(*) FROM room_messages WHERE room = ?1",
            [room],
            |r| r.get(0),
        )
        .expect("count")
    };
    assert_eq!((count("rust"), count("lobby")), (5, 1));
}
