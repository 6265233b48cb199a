//! What the REPL knows about the server, kept up to date from events: the
//! name it holds, who is in each joined room (for Tab), the rooms (for the
//! prompt, prefixes and unread counts, see [`crate::rooms`]), and whether it
//! is connected (for the prompt's colour). Shared between the event task and
//! the line editor.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chat_core::names::{name_key, room_key};
use chat_core::{Event, Status};

use crate::rooms::RoomView;

/// The connection as the user should see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conn {
    /// In the room.
    Connected,
    /// Trying to get (back) in.
    Connecting,
    /// Out, and maybe waiting to retry.
    Disconnected,
}

/// The server as this client sees it.
#[derive(Debug)]
pub struct State {
    /// The name this client holds (or last held).
    pub me: String,
    /// Who is in each joined room: by room key, then by case-folded name,
    /// as they spell it.
    users: BTreeMap<String, BTreeMap<String, String>>,
    /// The connection.
    pub conn: Conn,
    /// The joined rooms, the current one, unread counts.
    pub rooms: RoomView,
}

/// [`State`] shared between tasks.
pub type SharedState = Arc<Mutex<State>>;

/// Locks the state. A panic elsewhere while holding the lock leaves the
/// state no worse than stale, so poisoning is ignored.
pub fn lock(state: &SharedState) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// A disconnected client that wants to be `me`.
    pub fn new(me: impl Into<String>) -> Self {
        Self {
            me: me.into(),
            users: BTreeMap::new(),
            conn: Conn::Disconnected,
            rooms: RoomView::default(),
        }
    }

    /// The key of the room an event names; the current room when it names
    /// none (a version-1 server).
    pub fn room_key_of(&self, room: Option<&str>) -> String {
        room.or(self.rooms.current())
            .map(room_key)
            .unwrap_or_default()
    }

    /// Learns from one event.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Status(Status::Connected { name, .. }) => {
                self.me.clone_from(name);
                self.conn = Conn::Connected;
            }
            Event::Status(Status::Connecting { .. }) => self.conn = Conn::Connecting,
            Event::Status(Status::Disconnected { .. }) => {
                self.conn = Conn::Disconnected;
                // Who is online is unknown until the next welcome.
                self.users.clear();
            }
            Event::Welcome(w) => {
                self.me.clone_from(&w.name);
                self.users.clear();
                self.set_users(&room_key(&w.room), &w.users);
            }
            Event::Users(u) => {
                let key = self.room_key_of(u.room.as_deref());
                self.set_users(&key, &u.users);
            }
            Event::RoomJoined(info) => self.set_users(&room_key(&info.room), &info.users),
            // A large room that became small again lists everyone.
            Event::Headcount(h) => {
                if let Some(users) = &h.users {
                    self.set_users(&room_key(&h.room), users);
                }
            }
            Event::Joined(p) => {
                let key = self.room_key_of(p.room.as_deref());
                self.users
                    .entry(key)
                    .or_default()
                    .insert(name_key(&p.name), p.name.clone());
            }
            Event::Left(d) => {
                let key = self.room_key_of(d.room.as_deref());
                if name_key(&d.name) == name_key(&self.me) {
                    self.users.remove(&key);
                } else if let Some(users) = self.users.get_mut(&key) {
                    users.remove(&name_key(&d.name));
                }
            }
            Event::Renamed(r) => {
                // Renames are server-wide: in every room that has the name.
                for users in self.users.values_mut() {
                    if users.remove(&name_key(&r.from)).is_some() {
                        users.insert(name_key(&r.to), r.to.clone());
                    }
                }
                if name_key(&r.from) == name_key(&self.me) {
                    self.me.clone_from(&r.to);
                }
            }
            _ => {}
        }
        // After the users: a room named by none is the current one before
        // this event changes it.
        self.rooms.apply(event, &self.me);
    }

    fn set_users(&mut self, room: &str, users: &[String]) {
        let names = users
            .iter()
            .map(|name| (name_key(name), name.clone()))
            .collect();
        self.users.insert(room.to_owned(), names);
    }

    /// Everyone in any joined room, each once, sorted.
    pub fn users(&self) -> Vec<String> {
        let all: BTreeMap<&str, &str> = self
            .users
            .values()
            .flatten()
            .map(|(key, name)| (key.as_str(), name.as_str()))
            .collect();
        all.into_values().map(str::to_owned).collect()
    }
}

/// The name for someone who gives none: `$USER` when it is a valid name,
/// otherwise chat-core's guest name (`guest-4821`), which no ordinary word
/// mentions by chance.
pub fn fallback_name(user: Option<String>) -> String {
    user.map(|u| u.trim().to_owned())
        .filter(|u| chat_core::names::validate_name(u).is_ok())
        .unwrap_or_else(chat_core::names::guest_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::{Departure, Limits, Presence, Rename, RoomInfo, UserList, Welcome};

    fn names(s: &State) -> Vec<String> {
        s.users()
    }

    #[test]
    fn tracks_who_is_online_and_my_name() {
        let mut s = State::new("al");
        s.apply(&Event::Status(Status::Connected {
            addr: "h:1".into(),
            name: "al".into(),
        }));
        s.apply(&Event::Welcome(Welcome {
            rooms: Vec::new(),
            topic: None,
            version: 1,
            name: "al".into(),
            room: "lobby".into(),
            users: vec!["al".into(), "Bob".into()],
            limits: Limits {
                max_rooms: 0,
                max_line: 100,
                max_name: 32,
                rate_per_sec: 0,
                burst: 0,
            },
        }));
        assert_eq!(s.conn, Conn::Connected);
        assert_eq!(names(&s), ["al", "Bob"]);
        s.apply(&Event::Joined(Presence {
            room: None,
            time: 0,
            name: "carol".into(),
        }));
        s.apply(&Event::Left(Departure {
            room: None,
            time: 0,
            name: "bob".into(),
            reason: "quit".into(),
        }));
        assert_eq!(names(&s), ["al", "carol"]);
        s.apply(&Event::Renamed(Rename {
            time: 0,
            from: "AL".into(),
            to: "alan".into(),
        }));
        assert_eq!(s.me, "alan");
        assert_eq!(names(&s), ["alan", "carol"]);
        s.apply(&Event::Users(UserList {
            room: None,
            users: vec!["zed".into()],
        }));
        assert_eq!(names(&s), ["zed"]);
        s.apply(&Event::Status(Status::Disconnected {
            reason: "gone".into(),
            retry_in: None,
        }));
        assert_eq!(s.conn, Conn::Disconnected);
        assert!(names(&s).is_empty());
        assert_eq!(s.me, "alan");
    }

    #[test]
    fn knows_who_is_in_each_joined_room() {
        let mut s = State::new("al");
        s.apply(&Event::Welcome(Welcome {
            rooms: vec!["lobby".into()],
            topic: None,
            version: 2,
            name: "al".into(),
            room: "lobby".into(),
            users: vec!["al".into(), "bob".into()],
            limits: Limits {
                max_rooms: 20,
                max_line: 100,
                max_name: 32,
                rate_per_sec: 0,
                burst: 0,
            },
        }));
        s.rooms.asked_to_join("rust");
        s.apply(&Event::RoomJoined(RoomInfo {
            room: "rust".into(),
            topic: None,
            users: vec!["al".into(), "Bob".into(), "carol".into()],
        }));
        assert_eq!(s.rooms.current(), Some("rust"));
        // Everyone once, whatever rooms they share with us.
        assert_eq!(names(&s).len(), 3);
        assert!(names(&s).contains(&"carol".to_owned()));
        s.apply(&Event::Joined(Presence {
            room: Some("lobby".into()),
            time: 0,
            name: "dave".into(),
        }));
        s.apply(&Event::Left(Departure {
            room: Some("rust".into()),
            time: 0,
            name: "carol".into(),
            reason: "part".into(),
        }));
        assert!(!names(&s).contains(&"carol".to_owned()));
        s.apply(&Event::Renamed(Rename {
            time: 0,
            from: "bob".into(),
            to: "rob".into(),
        }));
        assert_eq!(names(&s), ["al", "dave", "rob"]);
        // Our own part forgets that room's people.
        s.apply(&Event::Joined(Presence {
            room: Some("rust".into()),
            time: 0,
            name: "erin".into(),
        }));
        s.apply(&Event::Left(Departure {
            room: Some("rust".into()),
            time: 0,
            name: "AL".into(),
            reason: "part".into(),
        }));
        assert_eq!(s.rooms.current(), Some("lobby"));
        assert_eq!(names(&s), ["al", "dave", "rob"]);
        // A /who of one room changes only that room.
        s.apply(&Event::Users(UserList {
            room: Some("lobby".into()),
            users: vec!["al".into(), "zed".into()],
        }));
        assert_eq!(names(&s), ["al", "zed"]);
    }

    #[test]
    fn the_fallback_name_is_the_user_or_a_guest_nobody_mentions() {
        assert_eq!(fallback_name(Some("alice".into())), "alice");
        for user in [None, Some(String::new()), Some("john.doe".into())] {
            let guest = fallback_name(user);
            assert!(guest.starts_with("guest-"), "{guest}");
            let line = chat_core::Line {
                room: None,
                kind: chat_core::LineKind::Message,
                time: None,
                from: Some("bob".into()),
                to: None,
                text: "give me the guest list, guest 4821".into(),
            };
            assert!(!line.mentions(&guest), "{guest}");
            let named = chat_core::Line {
                text: format!("hi {guest}: welcome"),
                ..line
            };
            assert!(named.mentions(&guest));
        }
    }
}
