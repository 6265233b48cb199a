//! What one event puts on screen, decided without I/O: its line from
//! `chat_core::render`, the room it is shown against (a line about another
//! room gets a `[#room] ` prefix), and the lines the REPL adds — a room's
//! topic on joining, where you are after leaving the current room, and the
//! `/rooms` answer with unread counts; a room joined again after a
//! reconnection that is not the current one reads `[#go] * rejoined — …`.

use chat_core::names::{name_key, room_key};
use chat_core::protocol::TopicInfo;
use chat_core::render::{topic_text, who_text};
use chat_core::{render, sanitize, Event, Line, LineKind};

use crate::state::State;

/// One line to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The line.
    pub line: Line,
    /// The current room to show it against: when the line is about another
    /// room, it is prefixed with that room.
    pub current: Option<String>,
    /// A message from a room's history, shown apart from live ones.
    pub history: bool,
}

/// Learns from `event` and says what it shows, in order.
pub fn absorb(state: &mut State, event: &Event) -> Vec<Shown> {
    let before = state.rooms.current().map(str::to_owned);
    state.apply(event);
    let after = state.rooms.current().map(str::to_owned);
    // Joining makes the joined room current and parting leaves the current
    // room: either way the line is about the room being looked at, which is
    // the current room before the event or after it.
    let against = |room: Option<&str>| match (room, &before) {
        (Some(room), Some(was)) if room_key(room) == room_key(was) => before.clone(),
        _ => after.clone(),
    };
    let mut shown = Vec::new();
    let notice = |text: String, room: Option<&str>| Shown {
        line: Line {
            kind: LineKind::Notice,
            time: None,
            from: None,
            to: None,
            text: sanitize(&text),
            room: room.map(sanitize),
        },
        current: against(room),
        history: false,
    };
    if let Event::Rooms(list) = event {
        // One line per room, with what only this client knows: which one is
        // current and what is unread.
        for text in state.rooms.list_lines(list) {
            shown.push(notice(text, None));
        }
    } else if let Some(mut line) = render(event) {
        if let Event::RoomJoined(info) = event {
            if after
                .as_deref()
                .is_none_or(|now| room_key(now) != room_key(&info.room))
            {
                // chat-core joining a room again after a reconnection: the
                // room is back, but it is not where the user talks.
                line.text = sanitize(&format!("rejoined — {}", who_text(&info.users)));
            }
        }
        shown.push(Shown {
            current: against(line.room.as_deref()),
            history: matches!(event, Event::Replay(_)),
            line,
        });
    }
    let topic = |room: &str, topic: &str| {
        topic_text(&TopicInfo {
            room: room.to_owned(),
            topic: topic.to_owned(),
            by: None,
            time: 0,
        })
    };
    match event {
        Event::Welcome(w) => {
            if let Some(t) = w.topic.as_deref().filter(|t| !t.is_empty()) {
                shown.push(notice(topic(&w.room, t), Some(&w.room)));
            }
        }
        Event::RoomJoined(info) => {
            if let Some(t) = info.topic.as_deref().filter(|t| !t.is_empty()) {
                shown.push(notice(topic(&info.room, t), Some(&info.room)));
            }
        }
        Event::Left(d) if name_key(&d.name) == name_key(&state.me) => {
            // Only leaving the current room moves the user somewhere else.
            let left_current = match (&d.room, &before) {
                (Some(room), Some(was)) => room_key(room) == room_key(was),
                (None, _) => true,
                (Some(_), None) => false,
            };
            if left_current {
                let text = match &after {
                    Some(room) => format!("now talking in #{room}"),
                    None => "you are in no room now: /join ROOM".to_owned(),
                };
                shown.push(notice(text, None));
            }
        }
        _ => {}
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::{
        ChatMessage, Departure, Limits, MessageKind, Presence, Replayed, RoomInfo, RoomList,
        RoomSummary, UserList, Welcome,
    };

    /// Each line as piped mode prints it.
    fn texts(shown: &[Shown]) -> Vec<String> {
        shown
            .iter()
            .map(|s| s.line.in_context(s.current.as_deref()))
            .collect()
    }

    fn welcome(topic: Option<&str>) -> Event {
        Event::Welcome(Welcome {
            version: 2,
            name: "al".into(),
            room: "lobby".into(),
            users: vec!["al".into(), "bob".into()],
            topic: topic.map(str::to_owned),
            rooms: vec!["lobby".into()],
            limits: Limits {
                max_rooms: 20,
                max_line: 8192,
                max_name: 32,
                rate_per_sec: 0,
                burst: 0,
            },
        })
    }

    fn message(room: &str, from: &str, text: &str) -> ChatMessage {
        ChatMessage {
            room: Some(room.into()),
            seq: 1,
            time: 0,
            from: from.into(),
            text: text.into(),
            id: None,
        }
    }

    fn part(room: &str, name: &str) -> Event {
        Event::Left(Departure {
            room: Some(room.into()),
            time: 0,
            name: name.into(),
            reason: "part".into(),
        })
    }

    fn in_rust() -> State {
        let mut state = State::new("al");
        absorb(&mut state, &welcome(None));
        state.rooms.asked_to_join("rust");
        absorb(
            &mut state,
            &Event::RoomJoined(RoomInfo {
                room: "rust".into(),
                topic: Some("all things Rust".into()),
                users: vec!["al".into(), "carol".into()],
            }),
        );
        state
    }

    #[test]
    fn joining_shows_the_room_and_its_topic_unprefixed() {
        let mut state = State::new("al");
        assert_eq!(
            texts(&absorb(&mut state, &welcome(Some("be nice")))),
            [
                "* you are al in lobby — online (2): al, bob; /help lists commands",
                "* topic: be nice"
            ]
        );
        let joined = Event::RoomJoined(RoomInfo {
            room: "rust".into(),
            topic: Some("all things Rust".into()),
            users: vec!["al".into(), "carol".into()],
        });
        // chat-core words the join itself; the REPL adds the topic.
        state.rooms.asked_to_join("#rust");
        let first = render(&joined).expect("renders").to_string();
        assert_eq!(
            texts(&absorb(&mut state, &joined)),
            [first.as_str(), "* topic: all things Rust"]
        );
        // No topic, no topic line.
        assert_eq!(absorb(&mut State::new("al"), &welcome(None)).len(), 1);
    }

    #[test]
    fn lines_from_other_rooms_are_prefixed() {
        let mut state = in_rust();
        let event = |e: Event, state: &mut State| texts(&absorb(state, &e));
        assert_eq!(
            event(Event::Message(message("rust", "carol", "hi")), &mut state),
            ["<carol> hi"]
        );
        assert_eq!(
            event(Event::Message(message("lobby", "bob", "yo")), &mut state),
            ["[#lobby] <bob> yo"]
        );
        assert_eq!(
            event(Event::Action(message("lobby", "bob", "waves")), &mut state),
            ["[#lobby] * bob waves"]
        );
        assert_eq!(
            event(
                Event::Joined(Presence {
                    room: Some("lobby".into()),
                    time: 0,
                    name: "dave".into()
                }),
                &mut state
            ),
            ["[#lobby] * dave joined"]
        );
        assert_eq!(
            event(
                Event::Users(UserList {
                    room: Some("lobby".into()),
                    users: vec!["al".into(), "bob".into()]
                }),
                &mut state
            ),
            ["[#lobby] * online (2): al, bob"]
        );
        let replay = absorb(
            &mut state,
            &Event::Replay(Replayed {
                kind: MessageKind::Message,
                message: message("lobby", "bob", "old"),
            }),
        );
        assert!(replay[0].history);
        assert_eq!(texts(&replay), ["[#lobby] <bob> old"]);
        assert_eq!(state.rooms.unread("lobby"), 2, "a message and an action");
    }

    #[test]
    fn parting_says_where_you_are_now() {
        let mut state = in_rust();
        assert_eq!(
            texts(&absorb(&mut state, &part("rust", "AL"))),
            ["* AL left (part)", "* now talking in #lobby"]
        );
        // Someone else's part is only their line.
        assert_eq!(
            texts(&absorb(&mut state, &part("lobby", "bob"))),
            ["* bob left (part)"]
        );
        assert_eq!(
            texts(&absorb(&mut state, &part("lobby", "al"))),
            ["* al left (part)", "* you are in no room now: /join ROOM"]
        );
        assert_eq!(state.rooms.prompt(), "> ");
    }

    #[test]
    fn parting_another_room_keeps_the_current_one() {
        let mut state = in_rust();
        assert_eq!(
            texts(&absorb(&mut state, &part("lobby", "al"))),
            ["[#lobby] * al left (part)"]
        );
        assert_eq!(state.rooms.current(), Some("rust"));
    }

    #[test]
    fn the_room_list_is_one_line_per_room() {
        let mut state = in_rust();
        absorb(
            &mut state,
            &Event::Message(message("lobby", "bob", "unseen")),
        );
        let list = Event::Rooms(RoomList {
            rooms: vec![
                RoomSummary {
                    room: "lobby".into(),
                    members: 2,
                    topic: None,
                },
                RoomSummary {
                    room: "rust".into(),
                    members: 2,
                    topic: Some("all things Rust".into()),
                },
            ],
        });
        assert_eq!(
            texts(&absorb(&mut state, &list)),
            [
                "* #lobby (2 members, joined, 1 unread)",
                "* #rust (2 members, current): all things Rust"
            ]
        );
    }

    #[test]
    fn rooms_joined_again_after_a_reconnection_say_so_unless_current() {
        let mut state = in_rust();
        absorb(
            &mut state,
            &Event::Status(chat_core::Status::Disconnected {
                reason: "lost".into(),
                retry_in: Some(std::time::Duration::from_secs(1)),
            }),
        );
        absorb(&mut state, &welcome(None));
        let again = |room: &str| {
            Event::RoomJoined(RoomInfo {
                room: room.into(),
                topic: None,
                users: vec!["al".into()],
            })
        };
        state.rooms.asked_to_join("go");
        absorb(&mut state, &again("go"));
        let rust = again("rust");
        assert_eq!(
            texts(&absorb(&mut state, &rust)),
            ["[#rust] * rejoined — online (1): al"]
        );
        assert_eq!(state.rooms.current(), Some("go"));
        // The room that was current comes back as current, in core's words.
        let mut state = in_rust();
        absorb(
            &mut state,
            &Event::Status(chat_core::Status::Disconnected {
                reason: "lost".into(),
                retry_in: Some(std::time::Duration::from_secs(1)),
            }),
        );
        absorb(&mut state, &welcome(None));
        assert_eq!(
            texts(&absorb(&mut state, &rust)),
            [render(&rust).expect("renders").to_string()]
        );
    }
}
