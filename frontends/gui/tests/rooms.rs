//! End-to-end with rooms: the real rooms server, the real `chat-gui` under
//! its own Xvfb display, and a `chat-core` peer. The GUI joins a second room
//! by typing `/join`, shows a peer's message there, talks in the room it
//! shows, goes back with Alt+↑, and joins a third room from the field under
//! the room list. What the window shows is read from its transcript, where
//! lines of rooms other than the default one read `[#rust] <bob> hi`.
//!
//! Needs `Xvfb` and `xdotool` (Debian/Ubuntu: `apt-get install xvfb xdotool`).

mod common;

use std::time::Duration;

use async_std::future::timeout;
use chat_core::{Event, EventStream, Input, SessionConfig};
use common::*;

/// The room and text of the next message from `from`.
async fn message_from(events: &mut EventStream, from: &str) -> (Option<String>, String) {
    next_matching(
        events,
        &format!("a message from {from}"),
        |event| match event {
            Event::Message(m) if m.from == from => Some((m.room.clone(), m.text.clone())),
            _ => None,
        },
    )
    .await
}

#[test]
fn joins_a_second_room_sees_a_peer_there_and_talks_in_the_room_it_shows() {
    async_std::task::block_on(async {
        let (display, server, addr, dir) = display_and_server("rooms").await;

        // A peer in the lobby and in #rust, which has a topic.
        let (peer_tx, mut peer_events) =
            connect_peer(SessionConfig::new(addr.clone(), "peer")).await;
        timeout(Duration::from_secs(10), peer_tx.join("rust"))
            .await
            .expect("join in time")
            .expect("join");
        next_matching(&mut peer_events, "the peer in #rust", |e| {
            matches!(e, Event::RoomJoined(r) if r.room == "rust").then_some(())
        })
        .await;
        timeout(
            Duration::from_secs(10),
            peer_tx.send_in("rust", Input::Topic(Some("all things Rust".into()))),
        )
        .await
        .expect("topic in time")
        .expect("topic");

        let (mut gui, transcript_path) = start_connected_gui(&display, &dir, &addr, "guiuser");
        let title = window_title("guiuser", &addr);

        // /join typed in the compose box: the room's conversation opens.
        type_line(&display, &title, "/join rust");
        wait_for_line_like(&transcript_path, &mut gui, "[#rust] * ", "online (2)");
        wait_for_line(&transcript_path, &mut gui, "[#rust] * guiuser joined");

        // A peer's message in #rust is shown there.
        say_in(&peer_tx, "rust", "hello from rust").await;
        wait_for_line(&transcript_path, &mut gui, "[#rust] <peer> hello from rust");

        // The compose box talks in the room shown: #rust.
        type_line(&display, &title, "typed in rust");
        assert_eq!(
            message_from(&mut peer_events, "guiuser").await,
            (Some("rust".to_owned()), "typed in rust".to_owned())
        );
        wait_for_line(
            &transcript_path,
            &mut gui,
            "[#rust] <guiuser> typed in rust",
        );

        // Alt+↑ shows the lobby again; what is typed goes there.
        xdotool(&display, &["key", "alt+Up"]).expect("xdotool key alt+Up");
        type_line(&display, &title, "back in the lobby");
        assert_eq!(
            message_from(&mut peer_events, "guiuser").await,
            (Some("lobby".to_owned()), "back in the lobby".to_owned())
        );
        wait_for_line(&transcript_path, &mut gui, "<guiuser> back in the lobby");

        // A message in #rust meanwhile still reaches its conversation.
        say_in(&peer_tx, "rust", "while away").await;
        wait_for_line(&transcript_path, &mut gui, "[#rust] <peer> while away");

        // The field under the room list (Shift+Tab from the compose box)
        // joins a new room, and the compose box then talks there.
        xdotool(&display, &["key", "shift+Tab"]).expect("xdotool key shift+Tab");
        xdotool(&display, &["type", "--delay", "20", "#go"]).expect("xdotool type");
        xdotool(&display, &["key", "Return"]).expect("xdotool key Return");
        wait_for_line_like(&transcript_path, &mut gui, "[#go] * ", "online (1)");
        type_line(&display, &title, "first in go");
        wait_for_line(&transcript_path, &mut gui, "[#go] <guiuser> first in go");

        gui.assert_running();
        drop(gui);
        drop(peer_tx);
        stop_server_and_remove(server, &dir).await;
    });
}
