//! What the REPL knows about the room, kept up to date from events: the name
//! it holds, who is online (for Tab), and whether it is connected (for the
//! prompt). Shared between the event task and the line editor.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chat_core::names::name_key;
use chat_core::{Event, Status};

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

/// The room as this client sees it.
#[derive(Debug)]
pub struct State {
    /// The name this client holds (or last held).
    pub me: String,
    /// Everyone online, by case-folded name, as they spell it.
    users: BTreeMap<String, String>,
    /// The connection.
    pub conn: Conn,
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
        }
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
                self.set_users(&w.users);
            }
            Event::Users(u) => self.set_users(&u.users),
            Event::Joined(p) => self.add(&p.name),
            Event::Left(d) => {
                self.users.remove(&name_key(&d.name));
            }
            Event::Renamed(r) => {
                self.users.remove(&name_key(&r.from));
                self.add(&r.to);
                if name_key(&r.from) == name_key(&self.me) {
                    self.me.clone_from(&r.to);
                }
            }
            _ => {}
        }
    }

    fn set_users(&mut self, users: &[String]) {
        self.users.clear();
        for name in users {
            self.add(name);
        }
    }

    fn add(&mut self, name: &str) {
        self.users.insert(name_key(name), name.to_owned());
    }

    /// Everyone online, sorted.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.values().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::{Departure, Limits, Presence, Rename, UserList, Welcome};

    fn names(s: &State) -> Vec<&str> {
        s.users().collect()
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
}
