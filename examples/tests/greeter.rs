//! `greeter` against the real server: it welcomes newcomers (never itself),
//! notes departures in the room, and welcomes back those it saw leave.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chat_core::Event;
use clap::Parser;
use common::{alice_and_bot, client, restart_drill, server, stop_server, within, Client};

// The very file `cargo run --example greeter` builds, run in-process.
#[path = "../greeter.rs"]
#[allow(dead_code)]
mod greeter;

/// Says "marker" as alice and asserts it is the next thing said that she
/// sees: anything the greeter said to her before it would come first.
async fn marker_comes_next(alice: &mut Client, why: &str) {
    alice.say("marker").await;
    let next = alice
        .expect("something said", |e| matches!(e, Event::Message(_)))
        .await;
    assert!(
        matches!(&next, Event::Message(m) if m.from == "alice" && m.text == "marker"),
        "{why}: {next:?}"
    );
}

#[async_std::test]
async fn welcomes_newcomers_notes_departures_and_welcomes_back() {
    let (server, addr, mut alice) = alice_and_bot("greeter", |config| {
        greeter::run(config, Vec::new(), Duration::ZERO)
    })
    .await;

    // Had the greeter welcomed itself, that would be its first message: it
    // sees its own arrival before bob's.
    let bob = client(&addr, "bob").await;
    assert_eq!(
        alice.next_message_from("greeter").await,
        "welcome, bob! 2 other people are here"
    );

    within("bob quitting", bob.sender.quit(None))
        .await
        .expect("connected");
    alice
        .expect(
            "bob to leave",
            |e| matches!(e, Event::Left(d) if d.name == "bob"),
        )
        .await;
    let note = alice.next_message_from("greeter").await;
    assert!(note.starts_with("bob left ("), "{note}");
    assert!(note.ends_with("); 1 still here"), "{note}");

    let _bob = client(&addr, "bob").await;
    let again = alice.next_message_from("greeter").await;
    assert!(
        again.starts_with("welcome back, bob! you were away for "),
        "{again}"
    );
    assert!(again.ends_with("; 2 other people are here"), "{again}");
    stop_server(server).await;
}

#[async_std::test]
async fn greets_in_the_room_joined_with_that_rooms_count() {
    let (server, addr, mut alice) = alice_and_bot("greeter", |config| {
        greeter::run(config, vec!["rust".into()], Duration::ZERO)
    })
    .await;
    // bob arrives (the lobby: alice, bob, the greeter), then joins #rust
    // once the greeter is there (#rust: bob, the greeter).
    let mut bob = client(&addr, "bob").await;
    bob.join_and_wait_for("rust", "greeter").await;
    let in_rust = bob
        .expect("bob's welcome in #rust", |e| {
            matches!(e, Event::Message(m) if m.from == "greeter" && m.room.as_deref() == Some("rust"))
        })
        .await;
    assert!(
        matches!(&in_rust, Event::Message(m) if m.text == "welcome, bob! 1 other person is here"),
        "{in_rust:?}"
    );
    assert_eq!(
        alice.next_said_by("greeter").await,
        (
            Some("lobby".to_owned()),
            "welcome, bob! 2 other people are here".to_owned()
        )
    );
    // alice, only in the lobby, never hears the welcome in #rust: the next
    // thing said that she sees is her own marker, sent after bob had his.
    marker_comes_next(&mut alice, "the welcome in #rust reached the lobby").await;
    stop_server(server).await;
}

#[async_std::test]
async fn says_nothing_to_someone_back_within_the_grace_window() {
    let (server, addr, mut alice) = alice_and_bot("greeter", |config| {
        greeter::run(config, Vec::new(), Duration::from_secs(60))
    })
    .await;
    let bob = client(&addr, "bob").await;
    assert_eq!(
        alice.next_message_from("greeter").await,
        "welcome, bob! 2 other people are here"
    );
    within("bob quitting", bob.sender.quit(None))
        .await
        .expect("connected");
    let note = alice.next_message_from("greeter").await;
    assert!(note.starts_with("bob left ("), "{note}");
    // Back at once: no welcome back. Had there been one, it would come
    // before carol's welcome, which is the one line carol's join gets.
    let _bob = client(&addr, "bob").await;
    alice
        .expect(
            "bob back",
            |e| matches!(e, Event::Joined(p) if p.name == "bob"),
        )
        .await;
    let _carol = client(&addr, "carol").await;
    assert_eq!(
        alice.next_message_from("greeter").await,
        "welcome, carol! 3 other people are here"
    );
    marker_comes_next(&mut alice, "one line for carol's join, none for bob's").await;
    stop_server(server).await;
}

#[async_std::test]
async fn comes_back_after_a_server_restart_and_fails_when_its_session_ends() {
    let first = server().await;
    let addr = first.addr().to_string();
    let args = greeter::Args::try_parse_from(["greeter", "-s", &addr, "-g", "0"]).expect("flags");
    let grace = Duration::from_secs(args.grace);
    let config =
        chat_examples::bot_config(args.server, args.name, &args.access).expect("no file to read");
    let run = move |config| greeter::run(config, Vec::new(), grace);
    restart_drill(first, ("greeter", "greeter2"), config, run, |alice| {
        Box::pin(async move {
            // Someone joins while alice watches: the greeter welcomes them.
            // A new name each time: someone back is welcomed back instead.
            static PROBES: AtomicUsize = AtomicUsize::new(0);
            let carol = format!("carol{}", PROBES.fetch_add(1, Ordering::Relaxed));
            let _carol = client(&alice.addr.clone(), &carol).await;
            // alice's own welcome may still be on its way: it comes first.
            let mut welcome = alice.next_message_from("greeter").await;
            if welcome.starts_with("welcome, alice! ") {
                welcome = alice.next_message_from("greeter").await;
            }
            assert!(
                welcome.starts_with(&format!("welcome, {carol}! ")),
                "{welcome}"
            );
        })
    })
    .await;
}

#[test]
fn flags_default_to_the_name_greeter() {
    let args = greeter::Args::try_parse_from(["greeter"]).expect("no flags needed");
    assert_eq!(args.name, "greeter");
    assert_eq!(args.server, chat_core::DEFAULT_ADDR);
    assert_eq!(args.grace, 60);
    let args = greeter::Args::try_parse_from(["greeter", "-s", "h:1", "-n", "g", "-r", "go"])
        .expect("short flags");
    assert_eq!((args.server.as_str(), args.name.as_str()), ("h:1", "g"));
    assert_eq!(args.rooms.names, ["go"]);
    common::assert_help_wraps(&<greeter::Args as clap::CommandFactory>::command());
}
