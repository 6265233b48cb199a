//! End-to-end, in a real window (Xvfb, keys from xdotool): Tab completes a
//! name and the caret ends up after it, Up recalls the line sent before,
//! and words typed after clicking the conversation all reach the compose
//! box. What arrives is read by a `chat-core` session on the other side.

mod common;

use chat_core::SessionConfig;
use common::*;

#[test]
fn tab_up_and_typing_after_a_click_in_a_real_window() {
    async_std::task::block_on(async {
        let (display, server, addr, dir) = display_and_server("typing").await;
        let (_bobby_tx, mut events) = connect_peer(SessionConfig::new(addr.clone(), "bobby")).await;
        // Short flags here: the other end-to-end tests give the long ones.
        let (mut gui, transcript_path) =
            start_gui(&display, &dir, &["-s", &addr, "-n", "gina", "--connect"]);
        wait_connected(&transcript_path, &mut gui, "gina", &addr);
        let title = window_title("gina", &addr);
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
        stop_server_and_remove(server, &dir).await;
    });
}
