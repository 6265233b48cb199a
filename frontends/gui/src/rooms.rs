//! The rooms of the window: one [`Conversation`] per room in the order they
//! were joined, which one is shown, and the short form the room list draws
//! ([`RoomItem`]). How session events reach them is in `route`.

use std::sync::Arc;

use chat_core::names::room_key;
use druid::im::Vector;
use druid::{Data, Lens};

use crate::conversation::Conversation;
use crate::log::{ChatLine, Transcript, SCROLLBACK};

/// Every conversation and which one the window shows.
#[derive(Clone, Data)]
pub struct Rooms {
    list: Vector<Conversation>,
    shown: usize,
    #[data(ignore)]
    next_id: u64,
    #[data(ignore)]
    cap: usize,
    #[data(ignore)]
    transcript: Option<Transcript>,
    /// The server's default room (the welcome's), whose lines the
    /// transcript writes without a `[#room] ` tag.
    #[data(ignore)]
    default_key: String,
    /// Counts joins, so "the most recently joined room" needs no clock.
    #[data(ignore)]
    joins: u64,
}

impl std::fmt::Debug for Rooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rooms")
            .field("list", &self.list)
            .field("shown", &self.shown)
            .finish_non_exhaustive()
    }
}

impl Default for Rooms {
    fn default() -> Self {
        Self::new(SCROLLBACK)
    }
}

/// One row of the room list.
#[derive(Debug, Clone, PartialEq, Eq, Data)]
pub struct RoomItem {
    /// The conversation's id (what a click shows).
    pub id: u64,
    /// The room, without `#`.
    pub name: Arc<str>,
    /// Messages not yet seen.
    pub unread: usize,
    /// Of those, how many mention this client.
    pub mentions: usize,
    /// In the room now (otherwise drawn muted).
    pub joined: bool,
    /// The room shown.
    pub shown: bool,
}

impl Rooms {
    /// One conversation, not yet named after a room, each keeping at most
    /// `cap` lines.
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Self {
            list: Vector::unit(Conversation::new(1, None, cap)),
            shown: 0,
            next_id: 2,
            cap,
            transcript: None,
            default_key: String::new(),
            joins: 0,
        }
    }

    /// The same rooms' settings (transcript included), starting afresh
    /// with each room keeping at most `cap` lines.
    #[must_use]
    pub fn with_cap(&self, cap: usize) -> Self {
        let mut rooms = Self::new(cap);
        if let Some(transcript) = &self.transcript {
            rooms.set_transcript(transcript.clone());
        }
        rooms
    }

    /// Copies every line shown from now on to `transcript`.
    pub fn set_transcript(&mut self, transcript: Transcript) {
        self.transcript = Some(transcript);
        for i in 0..self.list.len() {
            self.retag(i);
        }
    }

    /// How many conversations there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The conversation at `i` (an index from [`find`](Self::find),
    /// [`open`](Self::open) or [`list`](Self::list)).
    pub fn get(&self, i: usize) -> &Conversation {
        &self.list[i.min(self.list.len() - 1)]
    }

    /// The conversation at `i`, to change.
    pub fn get_mut(&mut self, i: usize) -> &mut Conversation {
        let i = i.min(self.list.len() - 1);
        &mut self.list[i]
    }

    /// The shown conversation.
    pub fn shown(&self) -> &Conversation {
        self.get(self.shown)
    }

    /// The shown conversation, to change.
    pub fn shown_mut(&mut self) -> &mut Conversation {
        self.get_mut(self.shown)
    }

    /// Where the shown conversation is in the list.
    pub fn shown_index(&self) -> usize {
        self.shown
    }

    /// Where the conversation with this id is.
    pub fn position(&self, id: u64) -> Option<usize> {
        self.list.iter().position(|c| c.id == id)
    }

    /// Where the conversation of `room` (with or without `#`, any case) is.
    pub fn find(&self, room: &str) -> Option<usize> {
        let key = room_key(room);
        self.list
            .iter()
            .position(|c| c.room.is_some() && c.key() == key)
    }

    /// The conversation of `room`, made if needed. The first room named
    /// takes over the unnamed conversation of the connecting lines, so a
    /// one-room session is one conversation, as before rooms.
    pub fn open(&mut self, room: &str) -> usize {
        let room = room.strip_prefix('#').unwrap_or(room);
        if let Some(i) = self.find(room) {
            return i;
        }
        let i = match self.list.iter().position(|c| c.room.is_none()) {
            Some(i) => {
                self.list[i].room = Some(room.into());
                i
            }
            None => {
                let id = self.next_id;
                self.next_id += 1;
                self.list
                    .push_back(Conversation::new(id, Some(room), self.cap));
                self.list.len() - 1
            }
        };
        self.retag(i);
        i
    }

    /// The server's default room is `room`.
    pub fn set_default(&mut self, room: &str) {
        self.default_key = room_key(room);
        for i in 0..self.list.len() {
            self.retag(i);
        }
    }

    /// Where the default room's conversation is, once a welcome named it.
    pub fn default_index(&self) -> Option<usize> {
        if self.default_key.is_empty() {
            return None;
        }
        self.find(&self.default_key)
    }

    fn retag(&mut self, i: usize) {
        let transcript = self.transcript.clone();
        let default = self.default_key.clone();
        let c = &mut self.list[i];
        c.tag = match &c.room {
            Some(room) if room_key(room) != default => format!("[#{room}] ").into(),
            _ => "".into(),
        };
        c.transcript = transcript;
    }

    /// Shows the conversation at `i`, which has nothing unread from now
    /// on. Returns whether another one was shown before.
    pub fn show(&mut self, i: usize) -> bool {
        if i >= self.list.len() {
            return false;
        }
        let changed = i != self.shown;
        self.shown = i;
        self.list[i].mark_read();
        changed
    }

    /// The session is in the room at `i` (again).
    pub fn mark_joined(&mut self, i: usize) {
        self.joins += 1;
        let joins = self.joins;
        let c = self.get_mut(i);
        c.joined = true;
        c.joined_at = joins;
    }

    /// The room joined most recently of those the session is still in.
    pub fn latest_joined(&self) -> Option<usize> {
        self.list
            .iter()
            .enumerate()
            .filter(|(_, c)| c.joined)
            .max_by_key(|(_, c)| c.joined_at)
            .map(|(i, _)| i)
    }

    /// Adds `line` to every room the session is in and to the shown one
    /// (the connection's state concerns them all); the transcript gets it
    /// once.
    pub fn broadcast(&mut self, line: ChatLine) {
        let shown = self.shown;
        for (i, c) in self.list.iter_mut().enumerate() {
            if c.joined || i == shown {
                c.push_untranscribed(line.clone());
            }
        }
        if let Some(transcript) = &self.transcript {
            transcript.write("", &line);
        }
    }

    /// [`broadcast`](Self::broadcast) for a line about a reconnection
    /// attempt: each conversation replaces its previous one.
    pub fn broadcast_progress(&mut self, line: ChatLine) {
        let shown = self.shown;
        for (i, c) in self.list.iter_mut().enumerate() {
            if c.joined || i == shown {
                c.push_progress(line.clone());
            }
        }
        if let Some(transcript) = &self.transcript {
            transcript.write("", &line);
        }
    }

    /// The session left every room (the connection is gone).
    pub fn leave_all(&mut self) {
        for c in self.list.iter_mut() {
            c.leave();
        }
    }

    /// The room `step` rows away from the shown one in the list, wrapping
    /// around (Alt+↑ / Alt+↓).
    pub fn neighbour(&self, step: isize) -> usize {
        let n = self.list.len() as isize;
        (self.shown as isize + step).rem_euclid(n.max(1)) as usize
    }

    /// The room list's rows (only conversations that have a room).
    pub fn items(&self) -> Vector<RoomItem> {
        self.list
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                Some(RoomItem {
                    id: c.id,
                    name: c.room.clone()?,
                    unread: c.unread,
                    mentions: c.mentions,
                    joined: c.joined,
                    shown: i == self.shown,
                })
            })
            .collect()
    }
}

/// The shown conversation, as a lens: what the conversation view, the topic
/// bar and the user list draw.
#[derive(Debug, Clone, Copy)]
pub struct Shown;

impl Lens<Rooms, Conversation> for Shown {
    fn with<V, F: FnOnce(&Conversation) -> V>(&self, data: &Rooms, f: F) -> V {
        f(data.shown())
    }

    fn with_mut<V, F: FnOnce(&mut Conversation) -> V>(&self, data: &mut Rooms, f: F) -> V {
        // Changed through a copy, written back only when it differs: taking
        // the element mutably would copy the list's node and make druid
        // see a change on every mouse move over the conversation.
        let mut conversation = data.shown().clone();
        let value = f(&mut conversation);
        if !conversation.same(data.shown()) {
            *data.shown_mut() = conversation;
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_room_takes_over_the_unnamed_conversation() {
        let mut rooms = Rooms::new(10);
        rooms
            .shown_mut()
            .push_local(crate::log::Kind::Status, "connecting");
        assert!(rooms.items().is_empty(), "no room yet, no rows");
        let lobby = rooms.open("#Lobby");
        assert_eq!(lobby, 0);
        assert_eq!(rooms.get(lobby).log.len(), 1, "same conversation");
        let rust = rooms.open("rust");
        assert_eq!(
            (rust, rooms.open("RUST"), rooms.find("#rust")),
            (1, 1, Some(1))
        );
        assert_eq!(rooms.find("go"), None);
        let names: Vec<String> = rooms.items().iter().map(|i| i.name.to_string()).collect();
        assert_eq!(names, ["Lobby", "rust"]);
        assert_eq!(rooms.neighbour(1), 1);
        assert_eq!(rooms.neighbour(-1), 1, "wraps around");
    }

    #[test]
    fn showing_a_room_reads_it_and_the_latest_joined_is_known() {
        let mut rooms = Rooms::new(10);
        let lobby = rooms.open("lobby");
        let rust = rooms.open("rust");
        rooms.mark_joined(lobby);
        rooms.mark_joined(rust);
        rooms.get_mut(rust).unread = 3;
        rooms.get_mut(rust).mentions = 1;
        let item = rooms.items()[1].clone();
        assert_eq!((item.unread, item.mentions, item.shown), (3, 1, false));
        assert!(rooms.show(rust));
        assert!(!rooms.show(rust), "already shown");
        assert_eq!(rooms.shown().unread, 0);
        assert!(rooms.items()[1].shown);
        assert_eq!(rooms.latest_joined(), Some(rust));
        rooms.get_mut(rust).leave();
        assert_eq!(rooms.latest_joined(), Some(lobby));
        rooms.mark_joined(rust);
        assert_eq!(rooms.latest_joined(), Some(rust));
        rooms.leave_all();
        assert_eq!(rooms.latest_joined(), None);
    }

    #[test]
    fn transcript_tags_name_rooms_other_than_the_default() {
        let path = std::env::temp_dir().join(format!("chat-gui-rooms-tags-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        let mut rooms = Rooms::new(10);
        rooms.set_transcript(Transcript::new(file));
        rooms
            .shown_mut()
            .push_local(crate::log::Kind::Status, "connecting");
        rooms.set_default("lobby");
        let lobby = rooms.open("lobby");
        let rust = rooms.open("rust");
        rooms
            .get_mut(lobby)
            .push_local(crate::log::Kind::Notice, "in lobby");
        rooms
            .get_mut(rust)
            .push_local(crate::log::Kind::Notice, "in rust");
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(text, "* connecting\n* in lobby\n[#rust] * in rust\n");
    }
}
