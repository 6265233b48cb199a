//! Widget tests of the window as a whole (`druid::tests::harness::Harness`):
//! at its smallest size every control is on screen, the status bar wraps
//! a long refusal instead of cutting its hint, a silent server's lag shows
//! there, and pasting several lines sends them.

use chat_core::{Event as ChatEvent, Input, Status};
use druid::tests::harness::Harness;
use druid::{KbKey, Modifiers, Rect, Size, WidgetId};

use crate::net::explain;
use crate::state::{AppState, Conn};
use crate::ui::testing::{apply, click, connect, harness, key, window_rect};
use crate::ui::{Ids, MIN_WINDOW, PASTE_TEXT};

fn smallest() -> Size {
    Size::new(MIN_WINDOW.0, MIN_WINDOW.1)
}

/// Every control, named, with the pods from the window's root down to it.
fn controls(ids: Ids) -> Vec<(&'static str, Vec<WidgetId>)> {
    let bar = [ids.toolbar, ids.toolbar_wrap];
    let bar_path = |unit: WidgetId, control| vec![bar[0], bar[1], unit, control];
    vec![
        ("server", bar_path(ids.server_unit, ids.server)),
        ("name", bar_path(ids.name_unit, ids.name)),
        ("password", bar_path(ids.password_unit, ids.password_box)),
        ("CA file", bar_path(ids.ca_unit, ids.ca_file)),
        ("CA file chooser", bar_path(ids.ca_unit, ids.ca_browse)),
        ("TLS", bar_path(ids.connect_unit, ids.tls)),
        ("Connect", bar_path(ids.connect_unit, ids.connect)),
        ("room list", vec![ids.middle, ids.room_panel]),
        ("join field", vec![ids.middle, ids.room_panel, ids.join_row]),
        ("users", vec![ids.middle, ids.users]),
        ("conversation", vec![ids.middle, ids.conversation]),
        (
            "compose",
            vec![
                ids.compose_bar,
                ids.compose_column,
                ids.compose_row,
                ids.compose,
            ],
        ),
        (
            "Send",
            vec![
                ids.compose_bar,
                ids.compose_column,
                ids.compose_row,
                ids.send,
            ],
        ),
        (
            "status text",
            vec![
                ids.status_bar,
                ids.status_column,
                ids.status_row,
                ids.status_text,
            ],
        ),
        (
            "line counter",
            vec![
                ids.status_bar,
                ids.status_column,
                ids.status_row,
                ids.status_lines,
            ],
        ),
    ]
}

fn assert_inside(h: &mut Harness<AppState>, ids: Ids, window: Size) {
    let bounds = Rect::from_origin_size((0.0, 0.0), window);
    for (name, path) in controls(ids) {
        let rect = window_rect(h, &path);
        assert!(
            rect.width() > 0.0 && rect.height() > 0.0,
            "{name} has no size: {rect:?}"
        );
        let inside = rect.intersect(bounds) == rect;
        assert!(inside, "{name} at {rect:?} is not inside {window:?}");
    }
}

#[test]
fn every_control_is_inside_the_smallest_window() {
    // Before connecting the button reads Connect, after it Disconnect.
    for connected in [false, true] {
        let state = AppState::new("127.0.0.1:8001", "alice");
        harness(state, smallest(), |h, ids| {
            if connected {
                connect(h, "alice");
                h.just_layout();
            }
            assert_inside(h, ids, smallest());
            // The toolbar never squeezes the button ("Disco"): it keeps
            // the width that fits "Disconnect".
            let button = window_rect(h, &controls(ids)[6].1);
            assert!(button.width() >= 100.0, "{button:?}");
        });
    }
}

#[test]
fn the_toolbar_wraps_rather_than_cutting_controls_off() {
    for width in [MIN_WINDOW.0, 700.0, 800.0, 980.0, 1400.0] {
        let size = Size::new(width, 640.0);
        harness(AppState::new("127.0.0.1:8001", "alice"), size, |h, ids| {
            assert_inside(h, ids, size);
            let tls = window_rect(h, &controls(ids)[5].1);
            let connect = window_rect(h, &controls(ids)[6].1);
            assert!(
                (connect.center().y - tls.center().y).abs() < 1.0,
                "TLS and Connect stay on one line at {width}"
            );
        });
    }
}

/// The text the status bar draws, and its rect and the line counter's.
fn status(h: &mut Harness<AppState>, ids: Ids) -> (Rect, Rect) {
    let path = |name: &str| {
        controls(ids)
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, path)| path)
            .expect("a control of that name")
    };
    let text = window_rect(h, &path("status text"));
    let lines = window_rect(h, &path("line counter"));
    (text, lines)
}

#[test]
fn a_long_refusal_wraps_in_the_status_bar_and_keeps_its_hint() {
    let refusal = explain(&chat_core::ChatError::Tls {
        addr: "chat.example.org:8001".into(),
        message: "invalid peer certificate: UnknownIssuer".into(),
    });
    assert!(refusal.ends_with("certificate"), "{refusal}");
    harness(
        AppState::new("127.0.0.1:8001", "alice"),
        smallest(),
        |h, ids| {
            let (one_line, _) = status(h, ids);
            let reason = refusal.clone();
            apply(h, move |d| {
                d.push_local(crate::log::Kind::Error, &reason);
                d.conn = Conn::Disconnected {
                    reason: Some(reason),
                };
            });
            h.just_layout();
            assert_inside(h, ids, smallest());
            let (text, lines) = status(h, ids);
            assert!(
                text.height() > 2.5 * one_line.height(),
                "wrapped onto several lines: {text:?} (one line: {one_line:?})"
            );
            assert!(
                text.x1 <= lines.x0,
                "the text {text:?} stays left of the line counter {lines:?}"
            );
            // The label lays out all of its text (druid wraps at word
            // boundaries and never drops any): what it draws is the whole
            // refusal, hint included.
            let drawn = h.get_debug_state(ids.status_text);
            let shown = crate::ui::testing::find(&drawn, "Label")
                .map(|s| s.main_value.clone())
                .unwrap_or_default();
            assert_eq!(shown, format!("disconnected: {refusal}"));
        },
    );
}

#[test]
fn a_silent_server_shows_in_the_status_bar_until_it_answers() {
    harness(
        AppState::new("127.0.0.1:8001", "alice"),
        smallest(),
        |h, ids| {
            connect(h, "alice");
            let label = |h: &mut Harness<AppState>| {
                let drawn = h.get_debug_state(ids.status_text);
                crate::ui::testing::find(&drawn, "Label")
                    .map(|s| s.main_value.clone())
                    .unwrap_or_default()
            };
            let lag = |secs| {
                ChatEvent::Status(Status::Unresponsive {
                    addr: "127.0.0.1:8001".into(),
                    silent: std::time::Duration::from_secs(secs),
                })
            };
            apply(h, move |d| {
                d.on_event(&lag(30));
                d.on_event(&lag(35));
            });
            h.just_layout();
            assert_eq!(label(h), "server 127.0.0.1:8001 not responding for 35 s…");
            apply(h, |d| {
                d.on_event(&ChatEvent::Status(Status::Connected {
                    addr: "127.0.0.1:8001".into(),
                    name: "alice".into(),
                }));
            });
            h.just_layout();
            assert_eq!(label(h), "connected as alice to 127.0.0.1:8001");
        },
    );
}

#[test]
fn pasting_three_lines_sends_three_messages_and_many_ask_first() {
    harness(
        AppState::new("127.0.0.1:8001", "alice"),
        Size::new(800.0, 500.0),
        |h, ids| {
            let sent = connect(h, "alice");
            h.submit_command(
                PASTE_TEXT
                    .with("one\ntwo\nthree".to_owned())
                    .to(ids.compose),
            );
            let said = |lines: &[&str]| -> Vec<Input> {
                lines.iter().map(|l| Input::Say((*l).to_owned())).collect()
            };
            assert_eq!(*sent.lock().unwrap(), said(&["one", "two", "three"]));
            // One line goes into the box, as the stock paste does.
            h.submit_command(PASTE_TEXT.with("draft".to_owned()).to(ids.compose));
            assert_eq!(h.data().compose, "draft");
            assert_eq!(sent.lock().unwrap().len(), 3);

            let eight: String = (1..=8).map(|i| format!("p{i}\n")).collect();
            h.submit_command(PASTE_TEXT.with(eight.clone()).to(ids.compose));
            h.just_layout();
            assert_eq!(sent.lock().unwrap().len(), 3, "eight lines wait");
            let bar = window_rect(h, &[ids.compose_bar, ids.compose_column, ids.paste_bar]);
            assert!(bar.height() > 20.0, "the question shows: {bar:?}");
            // Escape in the box cancels; the box keeps its draft.
            key(h, Modifiers::empty(), KbKey::Escape);
            h.just_layout();
            assert_eq!(sent.lock().unwrap().len(), 3);
            assert!(h.data().pending_paste.is_empty());
            assert_eq!(h.data().compose, "draft");
            // Asked again, the button sends all eight, in order.
            h.submit_command(PASTE_TEXT.with(eight).to(ids.compose));
            h.just_layout();
            let button = window_rect(
                h,
                &[
                    ids.compose_bar,
                    ids.compose_column,
                    ids.paste_bar,
                    ids.paste_send,
                ],
            );
            click(h, button.center());
            let mut expected = vec!["one", "two", "three"];
            let eight: Vec<String> = (1..=8).map(|i| format!("p{i}")).collect();
            expected.extend(eight.iter().map(String::as_str));
            assert_eq!(*sent.lock().unwrap(), said(&expected));
            assert_eq!(h.data().compose, "draft", "the draft was not sent");
        },
    );
}
