//! `dice_bot` against the real server: rolls within range that add up, a
//! refused flood, the time, who is here, and a clear "I don't understand".
//! Including the bot's file also runs its parser's unit and property tests.

mod common;

use chat_core::Event;
use clap::Parser;
use common::{alice_and_bot, client, restart_drill, server, stop_server, Client};

// The very file `cargo run --example dice_bot` builds, run in-process.
#[path = "../dice_bot.rs"]
#[allow(dead_code)]
mod dice_bot;

/// Says `text` and returns the bot's next message. The bot answers in order,
/// so this is the answer to `text` (or to something that got no answer).
async fn ask(alice: &mut Client, text: &str) -> String {
    alice.say(text).await;
    alice.next_message_from("dice").await
}

/// The numbers of `alice rolled 2d6: 3 + 5 = 8`: the dice, then the total.
fn numbers(answer: &str, prefix: &str) -> Vec<u32> {
    let rest = answer
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{answer:?} does not start with {prefix:?}"));
    rest.split([' ', '+', '='])
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap_or_else(|_| panic!("{w:?} in {answer:?}")))
        .collect()
}

#[async_std::test]
async fn answers_commands_in_the_room() {
    let (server, _, mut alice) =
        alice_and_bot("dice", |config| dice_bot::run(config, Vec::new())).await;

    // Small talk gets no answer: the next answer is the roll's.
    alice.say("hello everyone").await;
    let roll = ask(&mut alice, "!roll 2d6").await;
    let n = numbers(&roll, "alice rolled 2d6: ");
    assert_eq!(n.len(), 3, "{roll}");
    assert!(n[..2].iter().all(|d| (1..=6).contains(d)), "{roll}");
    assert_eq!(n[0] + n[1], n[2], "{roll}");

    let d20 = ask(&mut alice, "!roll d20").await;
    let n = numbers(&d20, "alice rolled d20: ");
    assert!(n.len() == 1 && (1..=20).contains(&n[0]), "{d20}");

    assert_eq!(
        ask(&mut alice, "!roll 1000000d6").await,
        "alice: no: I roll at most 20 dice at once"
    );
    assert_eq!(
        ask(&mut alice, "!roll 2d1000000").await,
        "alice: no: my dice have at most 1000 sides"
    );

    let time = ask(&mut alice, "!time").await;
    let year = chrono::Utc::now().format("%Y").to_string();
    assert!(
        time.starts_with("it is ") && time.contains(" UTC on "),
        "{time}"
    );
    assert!(time.ends_with(&year), "{time}");

    assert_eq!(ask(&mut alice, "!who").await, "online (2): alice, dice");

    assert_eq!(
        ask(&mut alice, "!dance").await,
        "alice: I don't understand !dance; try !roll 2d6, !roll d20+1, !time or !who"
    );
    stop_server(server).await;
}

#[async_std::test]
async fn answers_in_the_room_it_was_asked_in_and_no_other() {
    // alice is only in the lobby; bob is in #games too.
    let (server, addr, mut alice) =
        alice_and_bot("dice", |config| dice_bot::run(config, vec!["games".into()])).await;
    let mut bob = client(&addr, "bob").await;
    bob.join_and_wait_for("games", "dice").await;

    bob.say_in("games", "!roll 2d6").await;
    let (room, answer) = bob.next_said_by("dice").await;
    assert_eq!(room.as_deref(), Some("games"), "{answer}");
    assert!(answer.starts_with("bob rolled 2d6: "), "{answer}");

    // Had the answer in #games reached alice as well, it would have been
    // queued for her before anything she asks now, and come first.
    alice.say("!roll d20").await;
    let (room, answer) = alice.next_said_by("dice").await;
    assert_eq!(room.as_deref(), Some("lobby"), "{answer}");
    assert!(answer.starts_with("alice rolled d20: "), "{answer}");
    // bob is in both rooms: he sees that answer, in the lobby.
    let (room, answer) = bob.next_said_by("dice").await;
    assert_eq!(room.as_deref(), Some("lobby"), "{answer}");
    assert!(answer.starts_with("alice rolled d20: "), "{answer}");

    // `!who` answers for the room it was asked in.
    bob.say_in("games", "!who").await;
    assert_eq!(
        bob.next_said_by("dice").await,
        (Some("games".to_owned()), "online (2): bob, dice".to_owned())
    );
    alice.say("!who").await;
    assert_eq!(
        alice.next_said_by("dice").await,
        (
            Some("lobby".to_owned()),
            "online (3): alice, bob, dice".to_owned()
        )
    );
    stop_server(server).await;
}

/// Tells the bot `text` privately and returns its private answer.
async fn ask_privately(alice: &mut Client, text: &str) -> String {
    let answer = alice.private_answer("dice", text).await;
    assert_eq!(answer.to, "alice");
    answer.text
}

#[async_std::test]
async fn answers_private_messages_privately_and_rolls_with_modifiers() {
    let (server, addr, mut alice) =
        alice_and_bot("dice", |config| dice_bot::run(config, Vec::new())).await;
    let mut bob = client(&addr, "bob").await;

    let roll = ask_privately(&mut alice, "!roll 2d6+3").await;
    let n = numbers(&roll, "alice rolled 2d6+3: ");
    assert_eq!(n.len(), 4, "{roll}");
    assert!(n[..2].iter().all(|d| (1..=6).contains(d)), "{roll}");
    assert_eq!((n[2], n[0] + n[1] + 3), (3, n[3]), "{roll}");
    let roll = ask_privately(&mut alice, "!roll d20-1").await;
    let rest = roll.strip_prefix("alice rolled d20-1: ").expect(&roll);
    let (die, total) = rest.split_once(" - 1 = ").expect(&roll);
    let die: i64 = die.parse().expect(&roll);
    assert!(
        (1..=20).contains(&die) && total == (die - 1).to_string(),
        "{roll}"
    );
    assert_eq!(
        ask_privately(&mut alice, "!roll 2d6+").await,
        "alice: \"2d6+\" is not dice; try !roll 2d6, !roll d20 or !roll 2d6+3"
    );
    assert_eq!(
        ask_privately(&mut alice, "!roll d6+5000").await,
        "alice: no: I add or take at most 1000"
    );
    assert_eq!(
        ask_privately(&mut alice, "!who").await,
        "online (3): alice, bob, dice"
    );
    // In the room, too.
    let roll = ask(&mut alice, "!roll 3d4+2").await;
    assert!(roll.starts_with("alice rolled 3d4+2: "), "{roll}");

    // None of the private answers reached the room: the first thing bob
    // sees said is the room's roll.
    let first = bob
        .expect("something said", |e| {
            matches!(e, Event::Message(_) | Event::Private(_))
        })
        .await;
    assert!(
        matches!(&first, Event::Message(m) if m.from == "alice" && m.text == "!roll 3d4+2"),
        "{first:?}"
    );
    stop_server(server).await;
}

#[async_std::test]
async fn comes_back_after_a_server_restart_and_fails_when_its_session_ends() {
    let first = server().await;
    let addr = first.addr().to_string();
    let args = dice_bot::Args::try_parse_from(["dice_bot", "-s", &addr]).expect("flags");
    let config =
        chat_examples::bot_config(args.server, args.name, &args.access).expect("no file to read");
    let run = |config| dice_bot::run(config, Vec::new());
    restart_drill(first, ("dice", "dice2"), config, run, |alice| {
        Box::pin(async move {
            let answer = ask(alice, "!roll d6").await;
            assert!(answer.starts_with("alice rolled d6: "), "{answer}");
        })
    })
    .await;
}

#[test]
fn flags_default_to_the_name_dice() {
    let args = dice_bot::Args::try_parse_from(["dice_bot"]).expect("no flags needed");
    assert_eq!(args.name, "dice");
    assert!(args.rooms.names.is_empty());
    let args = dice_bot::Args::try_parse_from(["dice_bot", "--room", "games"]).expect("a room");
    assert_eq!(args.rooms.names, ["games"]);
    assert!(dice_bot::Args::try_parse_from(["dice_bot", "--room", "no/such"]).is_err());
    let args = dice_bot::Args::try_parse_from(["dice_bot", "-s", "h:1", "-n", "d", "-r", "go"])
        .expect("short flags");
    assert_eq!((args.server.as_str(), args.name.as_str()), ("h:1", "d"));
    assert_eq!(args.rooms.names, ["go"]);
    common::assert_help_wraps(&<dice_bot::Args as clap::CommandFactory>::command());
}
