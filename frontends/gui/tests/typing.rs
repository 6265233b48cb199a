//! End-to-end, in a real window (Xvfb, keys from xdotool): Tab completes a
//! name and the caret ends up after it, Up recalls the line sent before,
//! and words typed after clicking the conversation all reach the compose
//! box. What arrives is read by a `chat-core` session on the other side.

mod common;

use std::time::Duration;

use async_std::future::timeout;
use chat_core::{ChatSession, Event, EventStream, SessionConfig, TcpSession};
use common::*;
use futures::StreamExt;

/// The next message `from` says, failing after [`DEADLINE`].
async fn next_from(events: &mut EventStream, from: &str) -> String {
    timeout(DEADLINE, async {
        while let Some(event) = events.next().await {
            if let Event::Message(m) = &event {
                if m.from == from {
                    return m.text.clone();
                }
            }
        }
        panic!("the session ended");
    })
    .await
    .unwrap_or_else(|_| panic!("no message from {from} within {DEADLINE:?}"))
}

#[test]
fn tab_up_and_typing_after_a_click_in_a_real_window() {
    async_std::task::block_on(async {
        let display = start_display();
        let server = start_server().await;
        let addr = server.addr().to_string();
        let dir = temp_dir("typing");
        let bobby = timeout(
            Duration::from_secs(10),
            TcpSession::connect(SessionConfig::new(addr.clone(), "bobby")),
        )
        .await
        .expect("bobby connects in time")
        .expect("bobby connects");
        let (_bobby_tx, mut events) = bobby.split();
        let (mut gui, transcript_path) =
            start_gui(&display, &dir, &["-s", &addr, "-n", "gina", "--connect"]);
        wait_for_line(
            &transcript_path,
            &mut gui,
            &format!("* connected as gina to {addr}"),
        );
        let title = format!("chat-gui — gina @ {addr}");
        type_line(&display, &title, "hello");
        assert_eq!(next_from(&mut events, "gina").await, "hello");

        // "bob", Tab: "bobby: " with the caret at its end, so what is typed
        // next follows the name.
        xdotool(&display, &["type", "--delay", "20", "bob"]).expect("type");
        xdotool(&display, &["key", "Tab"]).expect("Tab");
        xdotool(&display, &["type", "--delay", "20", "hi there"]).expect("type");
        xdotool(&display, &["key", "Return"]).expect("Return");
        assert_eq!(next_from(&mut events, "gina").await, "bobby: hi there");

        // Up brings the line back; Enter sends it again.
        xdotool(&display, &["key", "Up"]).expect("Up");
        xdotool(&display, &["key", "Return"]).expect("Return");
        assert_eq!(next_from(&mut events, "gina").await, "bobby: hi there");

        // A click in the conversation (to select a line) takes the focus;
        // every key typed after it still reaches the compose box.
        let window = xdotool(&display, &["search", "--name", &title])
            .and_then(|out| out.lines().next().map(str::to_owned))
            .expect("the window");
        xdotool(
            &display,
            &["mousemove", "--window", &window, "500", "300", "click", "1"],
        )
        .expect("click");
        xdotool(&display, &["type", "--delay", "20", "not lost"]).expect("type");
        xdotool(&display, &["key", "Return"]).expect("Return");
        assert_eq!(next_from(&mut events, "gina").await, "not lost");
        gui.assert_running();
        drop(gui);
        let _ = timeout(Duration::from_secs(10), server.shutdown()).await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}
