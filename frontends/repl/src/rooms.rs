//! The rooms as this REPL sees them: which are joined and which one is
//! current (for the prompt and for prefixing lines from the others), how many
//! messages each joined room got since the user last made it current, and
//! the rooms the last `/rooms` answer named (for Tab). Kept from events in
//! the order they are shown, so a line and the room it is shown against
//! never disagree; and what the user types goes to the current room as kept
//! here, so the prompt always names the room a line goes to.

use std::collections::HashMap;

use chat_core::names::{name_key, room_key};
use chat_core::protocol::RoomList;
use chat_core::session::Rooms;
use chat_core::{sanitize, Event, Status};

/// The prompt when the REPL is in no room (before the first welcome, after
/// leaving every room, after the session ended).
pub const NO_ROOM_PROMPT: &str = "> ";

/// What the REPL knows about rooms.
#[derive(Debug, Default)]
pub struct RoomView {
    /// Joined rooms and the current one. chat-core keeps the same in the
    /// session, but updates it when a frame arrives, possibly before the
    /// lines that came earlier have been shown.
    rooms: Rooms,
    /// After a reconnection: the room that was current, current again when
    /// its answer comes, whatever order chat-core's joins are answered in.
    restore: Option<String>,
    /// Messages per joined room (by key) since the user last made it current.
    unread: HashMap<String, usize>,
    /// The rooms named by the last `/rooms` answer.
    listed: Vec<String>,
    /// Rooms (by key) the user asked to join and whose answer has not come:
    /// when it does, the user made the room current and its count starts
    /// over. Joins chat-core sends itself after a reconnection neither make
    /// their room current (but the one that was) nor touch counts.
    asked: Vec<String>,
}

impl RoomView {
    /// The current room, without `#`.
    pub fn current(&self) -> Option<&str> {
        self.rooms.current.as_deref()
    }

    /// The joined rooms, oldest first.
    #[cfg(test)]
    pub fn joined(&self) -> &[String] {
        &self.rooms.joined
    }

    /// Whether `room` (with or without `#`, any case) is joined.
    pub fn is_joined(&self, room: &str) -> bool {
        self.rooms.contains(room)
    }

    /// Whether `room` is the current room.
    pub fn is_current(&self, room: &str) -> bool {
        self.current()
            .is_some_and(|current| room_key(current) == room_key(room))
    }

    /// Messages that arrived in `room` while another room was current, since
    /// the user last made it current.
    pub fn unread(&self, room: &str) -> usize {
        self.unread.get(&room_key(room)).copied().unwrap_or(0)
    }

    /// Notes that the user is asking to join `room`: its answer makes the
    /// room current by the user's doing.
    pub fn asked_to_join(&mut self, room: &str) {
        let key = room_key(room);
        if !self.asked.contains(&key) {
            self.asked.push(key);
        }
    }

    /// Forgets [`asked_to_join`](Self::asked_to_join) when the join could
    /// not be sent.
    pub fn join_not_sent(&mut self, room: &str) {
        let key = room_key(room);
        self.asked.retain(|k| *k != key);
    }

    /// The prompt: `#lobby> `, or `> ` in no room.
    pub fn prompt(&self) -> String {
        match self.current() {
            // A server could send anything as a room name; the prompt goes
            // to the terminal as it is.
            Some(room) => format!("#{}> ", sanitize(room)),
            None => NO_ROOM_PROMPT.to_owned(),
        }
    }

    /// Room names for Tab: the joined rooms, then those the last `/rooms`
    /// answer named, each once.
    pub fn known(&self) -> Vec<String> {
        let mut seen = Vec::new();
        let mut names = Vec::new();
        for room in self.rooms.joined.iter().chain(&self.listed) {
            let key = room_key(room);
            if !seen.contains(&key) {
                seen.push(key);
                names.push(sanitize(room));
            }
        }
        names
    }

    /// Learns from one event. `me` is the name this client holds.
    pub fn apply(&mut self, event: &Event, me: &str) {
        match event {
            Event::Welcome(w) => {
                // A (re)connection starts in the default room. After a
                // reconnection chat-core joins the others again; the room
                // that was current (or was to be, if the last reconnection
                // did not get that far) becomes current with its answer.
                let before = std::mem::take(&mut self.rooms);
                self.rooms.joined(&w.room);
                let restore = self.restore.take().or(before.current);
                self.restore = restore.filter(|r| room_key(r) != room_key(&w.room));
            }
            Event::RoomJoined(info) => {
                let key = room_key(&info.room);
                if !self.rooms.contains(&info.room) {
                    self.rooms.joined.push(info.room.clone());
                }
                let restored = self.restore.as_deref().is_some_and(|r| room_key(r) == key);
                if let Some(i) = self.asked.iter().position(|k| *k == key) {
                    // The user's join wins over any room still to restore.
                    self.asked.remove(i);
                    self.unread.remove(&key);
                    self.restore = None;
                    self.rooms.current = Some(info.room.clone());
                } else if restored || self.rooms.current.is_none() {
                    self.restore = None;
                    self.rooms.current = Some(info.room.clone());
                }
            }
            Event::Left(d) if name_key(&d.name) == name_key(me) => {
                // A version-1 server names no room: it is the current one.
                let Some(room) = d.room.clone().or_else(|| self.rooms.current.clone()) else {
                    return;
                };
                let was_current = self.is_current(&room);
                self.rooms.left(&room);
                self.unread.remove(&room_key(&room));
                if was_current {
                    // Parting the current room shows the next one: what
                    // arrives there from now on is seen.
                    if let Some(now) = &self.rooms.current {
                        self.unread.remove(&room_key(now));
                    }
                }
            }
            Event::Message(m) | Event::Action(m) => {
                if let Some(room) = &m.room {
                    if self.is_joined(room)
                        && !self.is_current(room)
                        && name_key(&m.from) != name_key(me)
                    {
                        *self.unread.entry(room_key(room)).or_default() += 1;
                    }
                }
            }
            Event::Rooms(list) => {
                self.listed = list.rooms.iter().map(|r| r.room.clone()).collect();
            }
            Event::Status(Status::Disconnected { retry_in, .. }) => {
                // Joins asked on a lost connection are never answered.
                self.asked.clear();
                if retry_in.is_none() {
                    // The session ended: a new one starts in the default room.
                    self.rooms = Rooms::default();
                    self.restore = None;
                    self.unread.clear();
                }
            }
            _ => {}
        }
    }

    /// The `/rooms` answer, one line per room, as the server's plain mode
    /// writes it (`#rust (2 members): topic`) with the current room marked
    /// and, for the other joined rooms, their unread count:
    /// `#rust (2 members, joined, 4 unread): topic`.
    pub fn list_lines(&self, list: &RoomList) -> Vec<String> {
        if list.rooms.is_empty() {
            return vec!["no rooms".to_owned()];
        }
        list.rooms
            .iter()
            .map(|r| {
                let mut marks = vec![match r.members {
                    1 => "1 member".to_owned(),
                    n => format!("{n} members"),
                }];
                if self.is_current(&r.room) {
                    marks.push("current".to_owned());
                } else if self.is_joined(&r.room) {
                    marks.push("joined".to_owned());
                    match self.unread(&r.room) {
                        0 => {}
                        n => marks.push(format!("{n} unread")),
                    }
                }
                let head = format!("#{} ({})", sanitize(&r.room), marks.join(", "));
                match r.topic.as_deref().filter(|t| !t.is_empty()) {
                    Some(topic) => format!("{head}: {}", sanitize(topic)),
                    None => head,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::{ChatMessage, Departure, Limits, RoomInfo, RoomSummary, Welcome};
    use std::time::Duration;

    fn welcome(room: &str) -> Event {
        Event::Welcome(Welcome {
            version: 2,
            name: "me".into(),
            room: room.into(),
            users: vec!["me".into()],
            topic: None,
            rooms: vec![room.into()],
            limits: Limits {
                max_rooms: 20,
                max_line: 8192,
                max_name: 32,
                rate_per_sec: 0,
                burst: 0,
            },
        })
    }

    fn joined(room: &str) -> Event {
        Event::RoomJoined(RoomInfo {
            room: room.into(),
            topic: None,
            users: vec!["me".into()],
        })
    }

    fn said(room: &str, from: &str) -> Event {
        Event::Message(ChatMessage {
            room: Some(room.into()),
            seq: 1,
            time: 0,
            from: from.into(),
            text: "hi".into(),
            id: None,
        })
    }

    fn left(room: &str, name: &str) -> Event {
        Event::Left(Departure {
            room: Some(room.into()),
            time: 0,
            name: name.into(),
            reason: "part".into(),
        })
    }

    fn list(rooms: &[(&str, usize, Option<&str>)]) -> Event {
        Event::Rooms(RoomList {
            rooms: rooms
                .iter()
                .map(|(room, members, topic)| RoomSummary {
                    room: (*room).into(),
                    members: *members,
                    topic: topic.map(str::to_owned),
                })
                .collect(),
        })
    }

    /// In #lobby, then #rust (asked for), so #lobby is the room not looked at.
    fn in_lobby_and_rust() -> RoomView {
        let mut v = RoomView::default();
        v.apply(&welcome("lobby"), "me");
        v.asked_to_join("#Rust");
        v.apply(&joined("rust"), "me");
        v
    }

    #[test]
    fn the_prompt_names_the_current_room() {
        let mut v = RoomView::default();
        assert_eq!(v.prompt(), "> ");
        v.apply(&welcome("lobby"), "me");
        assert_eq!(v.prompt(), "#lobby> ");
        v.asked_to_join("rust");
        v.apply(&joined("rust"), "me");
        assert_eq!(v.prompt(), "#rust> ");
        v.apply(&left("rust", "me"), "me");
        assert_eq!(v.prompt(), "#lobby> ");
        v.apply(&left("lobby", "me"), "me");
        assert_eq!(v.prompt(), "> ");
        // A hostile server's room name cannot reach the terminal raw.
        v.apply(&joined("x\x1b[2J"), "me");
        assert_eq!(v.prompt(), "#x␛[2J> ");
    }

    #[test]
    fn messages_in_other_joined_rooms_are_unread_until_made_current() {
        let mut v = in_lobby_and_rust();
        v.apply(&said("lobby", "bob"), "me");
        v.apply(&said("LOBBY", "carol"), "me");
        // Not counted: the current room, one's own, rooms not joined.
        v.apply(&said("rust", "bob"), "me");
        v.apply(&said("lobby", "ME"), "me");
        v.apply(&said("elsewhere", "bob"), "me");
        assert_eq!(v.unread("#lobby"), 2);
        assert_eq!(v.unread("rust"), 0);
        assert_eq!(v.unread("elsewhere"), 0);
        // /join of a joined room makes it current: seen.
        v.asked_to_join("lobby");
        v.apply(&joined("lobby"), "me");
        assert_eq!(v.unread("lobby"), 0);
        v.apply(&said("rust", "bob"), "me");
        assert_eq!(v.unread("rust"), 1);
    }

    #[test]
    fn parting_the_current_room_shows_the_next_and_forgets_the_parted() {
        let mut v = in_lobby_and_rust();
        v.apply(&said("lobby", "bob"), "me");
        v.apply(&left("lobby", "bob"), "me");
        assert_eq!(v.unread("lobby"), 1, "someone else leaving changes nothing");
        v.apply(&left("rust", "me"), "me");
        assert_eq!(v.current(), Some("lobby"));
        assert_eq!(v.unread("lobby"), 0);
        // Parting a room that is not current keeps the current one.
        v.asked_to_join("go");
        v.apply(&joined("go"), "me");
        v.apply(&said("lobby", "bob"), "me");
        v.apply(&left("lobby", "me"), "me");
        assert_eq!(v.current(), Some("go"));
        assert_eq!(v.unread("lobby"), 0);
        assert_eq!(v.joined(), ["go"]);
    }

    #[test]
    fn a_reconnection_keeps_counts_and_an_ended_session_drops_them() {
        let mut v = in_lobby_and_rust();
        v.apply(&said("lobby", "bob"), "me");
        v.apply(
            &Event::Status(Status::Disconnected {
                reason: "lost".into(),
                retry_in: Some(Duration::from_secs(1)),
            }),
            "me",
        );
        assert_eq!(v.prompt(), "#rust> ", "still the room it will rejoin");
        // chat-core rejoins: welcome to the default room, then the others.
        // The user asked for none of it.
        v.apply(&welcome("lobby"), "me");
        v.apply(&joined("rust"), "me");
        assert_eq!(v.current(), Some("rust"));
        assert_eq!(v.unread("lobby"), 1);
        v.apply(
            &Event::Status(Status::Disconnected {
                reason: "you left".into(),
                retry_in: None,
            }),
            "me",
        );
        assert_eq!(v.prompt(), "> ");
        assert!(v.joined().is_empty());
        assert_eq!(v.unread("lobby"), 0);
    }

    #[test]
    fn the_room_list_marks_the_current_room_and_counts_unread() {
        let mut v = in_lobby_and_rust();
        v.apply(&said("lobby", "bob"), "me");
        v.apply(&said("lobby", "bob"), "me");
        v.asked_to_join("go");
        v.apply(&joined("go"), "me");
        let answer = list(&[
            ("go", 1, None),
            ("lobby", 3, Some("general chat")),
            ("rust", 2, Some("")),
            ("zig", 5, Some("all\x1b[31m zig")),
        ]);
        v.apply(&answer, "me");
        let Event::Rooms(rooms) = &answer else {
            unreachable!("built as a room list")
        };
        assert_eq!(
            v.list_lines(rooms),
            [
                "#go (1 member, current)",
                "#lobby (3 members, joined, 2 unread): general chat",
                "#rust (2 members, joined)",
                "#zig (5 members): all␛[31m zig",
            ]
        );
        assert_eq!(v.list_lines(&RoomList { rooms: Vec::new() }), ["no rooms"]);
    }

    #[test]
    fn tab_knows_joined_rooms_then_listed_ones_once() {
        let mut v = in_lobby_and_rust();
        v.apply(&list(&[("Lobby", 2, None), ("zig", 1, None)]), "me");
        assert_eq!(v.known(), ["lobby", "rust", "zig"]);
        // A newer answer replaces the older one.
        v.apply(&list(&[("go", 1, None)]), "me");
        assert_eq!(v.known(), ["lobby", "rust", "go"]);
    }

    #[test]
    fn after_a_reconnection_the_current_room_comes_back_whatever_the_order() {
        let mut v = in_lobby_and_rust();
        v.asked_to_join("go");
        v.apply(&joined("go"), "me");
        v.asked_to_join("rust");
        v.apply(&joined("rust"), "me");
        v.apply(
            &Event::Status(Status::Disconnected {
                reason: "lost".into(),
                retry_in: Some(Duration::from_secs(1)),
            }),
            "me",
        );
        v.apply(&welcome("lobby"), "me");
        assert_eq!(v.current(), Some("lobby"));
        // #rust answers before #go: #go's answer does not take over.
        v.apply(&joined("rust"), "me");
        v.apply(&joined("go"), "me");
        assert_eq!(v.current(), Some("rust"));
        assert_eq!(v.known(), ["lobby", "rust", "go"]);
        // And the other way round; a connection lost again before #rust
        // came back still restores #rust.
        for lost_again in [false, true] {
            v.apply(&welcome("lobby"), "me");
            if lost_again {
                v.apply(&joined("go"), "me");
                v.apply(&welcome("lobby"), "me");
            }
            v.apply(&joined("go"), "me");
            assert_eq!(v.current(), Some("lobby"));
            v.apply(&joined("rust"), "me");
            assert_eq!(v.current(), Some("rust"));
        }
        // The user's own join wins over a room still to restore.
        v.apply(&welcome("lobby"), "me");
        v.asked_to_join("go");
        v.apply(&joined("go"), "me");
        v.apply(&joined("rust"), "me");
        assert_eq!(v.current(), Some("go"));
        // A first welcome (or the same one twice) restores nothing.
        let mut fresh = RoomView::default();
        fresh.apply(&welcome("lobby"), "me");
        fresh.apply(&welcome("lobby"), "me");
        assert_eq!(fresh.restore, None);
    }

    #[test]
    fn a_join_that_was_not_sent_is_forgotten() {
        let mut v = in_lobby_and_rust();
        v.asked_to_join("#Go");
        v.join_not_sent("go");
        // An answer nobody asked for is not made current.
        v.apply(&joined("go"), "me");
        assert_eq!(v.current(), Some("rust"));
        assert!(v.is_joined("go"));
    }
}
