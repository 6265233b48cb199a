//! Widget tests (`druid::tests::harness::Harness`) of what people typing
//! every day do: Tab completes a name and Up recalls a line, typing after
//! clicking the conversation goes to the compose box, sending while
//! scrolled up shows one's own line, `/nick` shows in the name field,
//! `/help` lines up, reconnection attempts update one line, and the CA
//! file can be picked in the window.

use std::path::PathBuf;
use std::time::Duration;

use chat_core::protocol::Rename;
use chat_core::{Event as ChatEvent, Input, Status};
use druid::{Event, FileInfo, KbKey, Modifiers, MouseButton, Point, Size, Vec2};

use crate::log::Kind;
use crate::state::testing::said;
use crate::state::AppState;
use crate::ui::testing::{apply, click, connect, harness, key, mouse, view_state};

fn typed(h: &mut druid::tests::harness::Harness<AppState>, text: &str) {
    apply(h, {
        let text = text.to_owned();
        move |d| d.compose = text
    });
}

#[test]
fn tab_completes_names_and_up_recalls_lines_from_the_keyboard() {
    harness(
        AppState::new("127.0.0.1:8001", "gina"),
        Size::new(800.0, 500.0),
        |h, _ids| {
            // The room: gina and bob (from `connect`), then bobby joins.
            let sent = connect(h, "gina");
            apply(h, |d| {
                d.on_event(&ChatEvent::Joined(chat_core::protocol::Presence {
                    room: None,
                    time: 0,
                    name: "bobby".into(),
                }))
            });
            typed(h, "bo");
            key(h, Modifiers::empty(), KbKey::Tab);
            assert_eq!(h.data().compose, "bob: ");
            key(h, Modifiers::empty(), KbKey::Tab);
            assert_eq!(h.data().compose, "bobby: ", "a second Tab, the next name");
            // Tab kept the focus in the box: Enter sends from there.
            typed(h, "bobby: hi");
            key(h, Modifiers::empty(), KbKey::Enter);
            typed(h, "/me waves");
            key(h, Modifiers::empty(), KbKey::Enter);
            assert_eq!(
                *sent.lock().unwrap(),
                [Input::Say("bobby: hi".into()), Input::Me("waves".into())]
            );
            typed(h, "half");
            key(h, Modifiers::empty(), KbKey::ArrowUp);
            assert_eq!(h.data().compose, "/me waves");
            key(h, Modifiers::empty(), KbKey::ArrowUp);
            assert_eq!(h.data().compose, "bobby: hi");
            key(h, Modifiers::empty(), KbKey::ArrowDown);
            key(h, Modifiers::empty(), KbKey::ArrowDown);
            assert_eq!(h.data().compose, "half", "back to what was being typed");
        },
    );
}

#[test]
fn keys_typed_after_clicking_the_conversation_go_to_the_compose_box() {
    harness(
        AppState::new("127.0.0.1:8001", "gina"),
        Size::new(800.0, 500.0),
        |h, _ids| {
            let sent = connect(h, "gina");
            apply(h, |d| d.on_event(&said("bob", "select me")));
            h.just_layout();
            // A click in the conversation (to select a line) takes the focus.
            click(h, Point::new(400.0, 150.0));
            // The key is not lost: it is the compose box's first letter.
            // (The keys after it reach the box itself, through the
            // platform's text input, which the harness has not got: the
            // real-window test types whole words.)
            key(h, Modifiers::empty(), KbKey::Character("k".into()));
            assert_eq!(h.data().compose, "k");
            // The harness delivers the focus request with the next event
            // (the app's run loop does it at once).
            apply(h, |_| {});
            // Enter reaches the compose box: the focus is back there.
            key(h, Modifiers::empty(), KbKey::Enter);
            assert_eq!(*sent.lock().unwrap(), [Input::Say("k".into())]);
            // Shortcuts stay the conversation's.
            click(h, Point::new(400.0, 150.0));
            key(h, Modifiers::CONTROL, KbKey::Character("a".into()));
            assert_eq!(h.data().compose, "");
        },
    );
}

#[test]
fn sending_while_scrolled_up_scrolls_to_the_bottom() {
    harness(
        AppState::new("127.0.0.1:8001", "gina"),
        Size::new(800.0, 400.0),
        |h, ids| {
            connect(h, "gina");
            apply(h, |d| {
                for i in 0..100 {
                    d.on_event(&said("bob", &format!("line {i}")));
                }
            });
            h.just_layout();
            let mut wheel = mouse(Point::new(200.0, 150.0), MouseButton::None);
            wheel.wheel_delta = Vec2::new(0.0, -600.0);
            h.event(Event::Wheel(wheel));
            assert_eq!(view_state(h, ids, "follow"), "false", "scrolled up");
            typed(h, "my own line");
            key(h, Modifiers::empty(), KbKey::Enter);
            assert_eq!(view_state(h, ids, "follow"), "true", "back at the bottom");
            // The echo then arrives in view, not under "new messages below".
            apply(h, |d| d.on_event(&said("gina", "my own line")));
            h.just_layout();
            assert_eq!(view_state(h, ids, "unseen"), "0");
        },
    );
}

#[test]
fn a_rename_of_oneself_shows_in_the_name_field() {
    harness(
        AppState::new("127.0.0.1:8001", "gina"),
        Size::new(800.0, 500.0),
        |h, _ids| {
            connect(h, "gina");
            apply(h, |d| {
                d.on_event(&ChatEvent::Renamed(Rename {
                    time: 0,
                    from: "bob".into(),
                    to: "rob".into(),
                }));
            });
            assert_eq!(h.data().name, "gina", "someone else's rename");
            apply(h, |d| {
                d.on_event(&ChatEvent::Renamed(Rename {
                    time: 0,
                    from: "gina".into(),
                    to: "gina2".into(),
                }));
            });
            assert_eq!(h.data().name, "gina2");
            assert_eq!(h.data().me, "gina2");
        },
    );
}

#[test]
fn help_is_drawn_in_columns_that_line_up() {
    let mut state = AppState::new("127.0.0.1:8001", "gina");
    state.compose = "/help".into();
    state.submit();
    let help: Vec<_> = state
        .log()
        .lines()
        .iter()
        .filter(|l| l.kind == Kind::Help)
        .cloned()
        .collect();
    let commands = chat_core::input::help_lines().count();
    assert!(
        help.len() > commands,
        "every command, then the window's keys"
    );
    // Where the explanation starts on each line: the same x on every one.
    let column = chat_core::input::help_lines()
        .next()
        .and_then(|l| {
            l.find("  ")
                .map(|i| i + l[i..].len() - l[i..].trim_start().len())
        })
        .expect("a padded line");
    let xs = crate::view::text_x_positions(&help[..commands], column);
    let first = xs[0];
    assert!(
        xs.iter().all(|x| (x - first).abs() < 0.5),
        "the explanations start at {xs:?}"
    );
}

#[test]
fn reconnection_attempts_update_one_line() {
    let mut state = AppState::new("127.0.0.1:8001", "gina");
    let (outbox, _) = crate::state::testing::recording_outbox();
    state.connect();
    let generation = state.generation;
    state.apply(
        generation,
        crate::state::testing::joined(outbox, "gina", &["bob"]),
    );
    let before = state.log().len();
    state.on_event(&ChatEvent::Status(Status::Disconnected {
        reason: "server closed the connection".into(),
        retry_in: Some(Duration::from_secs(1)),
    }));
    for attempt in 1..=5 {
        state.on_event(&ChatEvent::Status(Status::Connecting {
            addr: "127.0.0.1:8001".into(),
            attempt,
        }));
        state.on_event(&ChatEvent::Status(Status::Disconnected {
            reason: "connection refused".into(),
            retry_in: Some(Duration::from_secs(2)),
        }));
    }
    let lines: Vec<String> = state.log().lines().iter().map(|l| l.to_string()).collect();
    assert_eq!(
        lines[before..],
        [
            "* disconnected: server closed the connection; reconnecting in 1 s",
            "* disconnected: connection refused; reconnecting in 2 s",
        ],
        "the loss, then one line for all five attempts"
    );
    state.on_event(&ChatEvent::Status(Status::Connecting {
        addr: "127.0.0.1:8001".into(),
        attempt: 6,
    }));
    assert_eq!(state.log().len(), before + 2, "the same line again");
    state.on_event(&ChatEvent::Status(Status::Connected {
        addr: "127.0.0.1:8001".into(),
        name: "gina".into(),
    }));
    let lines: Vec<String> = state.log().lines().iter().map(|l| l.to_string()).collect();
    assert_eq!(lines.len(), before + 3, "{lines:#?}");
    assert!(lines[before + 1].contains("(attempt 6)"), "{lines:#?}");
    assert!(
        lines[before + 2].starts_with("* connected as gina"),
        "{lines:#?}"
    );
}

#[test]
fn the_ca_file_is_picked_in_the_window() {
    harness(
        AppState::new("127.0.0.1:8001", "gina"),
        Size::new(980.0, 640.0),
        |h, _ids| {
            // What the file chooser ("…" beside the field) answers.
            let info = FileInfo {
                path: PathBuf::from("/etc/chat/server.pem"),
                format: None,
            };
            h.submit_command(druid::commands::OPEN_FILE.with(info));
            assert_eq!(h.data().ca_file, "/etc/chat/server.pem");
            assert!(h.data().tls, "a CA file implies TLS");
        },
    );
}

#[test]
fn room_flags_are_joined_on_connecting() {
    let mut state = AppState::new("127.0.0.1:8001", "gina");
    state.join_at_start = vec!["rust".into(), "go".into()];
    let (outbox, sent) = crate::state::testing::recording_outbox();
    state.connect();
    let generation = state.generation;
    state.apply(
        generation,
        crate::state::testing::joined(outbox, "gina", &["bob"]),
    );
    assert_eq!(
        *sent.lock().unwrap(),
        [Input::Join("rust".into()), Input::Join("go".into())]
    );
}
