//! `echo_bot` against the real server: a private message comes back,
//! privately, once, and nothing reaches the room.

mod common;

use chat_core::{Event, SessionConfig};
use clap::Parser;
use common::{client, server, spawn_bot, within};

// The very file `cargo run --example echo_bot` builds, run in-process.
#[path = "../echo_bot.rs"]
#[allow(dead_code)]
mod echo_bot;

#[async_std::test]
async fn answers_private_messages_privately_and_only_once() {
    let server = server().await;
    let addr = server.addr().to_string();
    let mut bob = client(&addr, "bob").await;
    spawn_bot("echo", echo_bot::run(SessionConfig::new(&addr, "echo")));
    let mut alice = client(&addr, "alice").await;
    alice.wait_for("echo").await;

    for text in ["hello there", "second", "  spaced  out  "] {
        within("sending", alice.sender.tell("echo", text))
            .await
            .expect("connected");
        // Skip alice's own copy (from alice to echo): the answer is the next
        // private message from echo, and it is the text just sent, not a
        // repeat of an earlier one.
        let answer = alice
            .expect(
                "echo's answer",
                |e| matches!(e, Event::Private(p) if p.from == "echo"),
            )
            .await;
        let Event::Private(answer) = answer else {
            unreachable!()
        };
        assert_eq!(answer.to, "alice");
        assert_eq!(answer.text, text);
    }

    // Nothing echo did was public: the first thing bob sees said in the room
    // is alice's marker, which she sent after getting all three answers.
    alice.say("marker").await;
    let first = bob
        .expect("something said", |e| {
            matches!(e, Event::Message(_) | Event::Action(_) | Event::Private(_))
        })
        .await;
    assert!(
        matches!(&first, Event::Message(m) if m.from == "alice" && m.text == "marker"),
        "{first:?}"
    );
    within("stopping the server", server.shutdown())
        .await
        .expect("clean shutdown");
}

#[test]
fn flags_default_to_the_local_server_and_the_name_echo() {
    let args = echo_bot::Args::try_parse_from(["echo_bot"]).expect("no flags needed");
    assert_eq!(args.server, chat_core::DEFAULT_ADDR);
    assert_eq!(args.name, "echo");
    let args = echo_bot::Args::try_parse_from(["echo_bot", "--server", "h:1", "--name", "e2"])
        .expect("both flags");
    assert_eq!((args.server.as_str(), args.name.as_str()), ("h:1", "e2"));
}
