//! One connection's rooms as its reader sees them: the way into each room
//! it is in, in the order it joined them, and which one is current.
//!
//! The reader uses it to send what the client says straight to the right
//! room's broker, and to answer "you are not in #x" without asking anyone.
//! The current room is shared with the rooms themselves (an atomic room id),
//! so they can tell whether a plain line needs its `[#room] ` prefix.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chat_core::names::{parse_room, room_key};
use chat_core::protocol::ErrorCode;

use crate::directory::{Refusal, RoomLink};

/// No room is current (after leaving the last one).
pub const NO_ROOM: u64 = 0;

/// The rooms a connection is in.
#[derive(Debug)]
pub struct Membership {
    /// Oldest first.
    links: Vec<RoomLink>,
    current: Arc<AtomicU64>,
}

impl Membership {
    pub fn new(current: Arc<AtomicU64>) -> Self {
        Self {
            links: Vec::new(),
            current,
        }
    }

    /// Records a room joined; the directory has made it current.
    pub fn joined(&mut self, link: RoomLink) {
        self.links.retain(|l| l.key != link.key);
        // Most connections stay in one room for good: room for exactly the
        // links they have, not the four a growing `Vec` would keep.
        self.links.reserve_exact(1);
        self.links.push(link);
    }

    /// The room a client named, if it is in it.
    pub fn find(&self, room: &str) -> Option<&RoomLink> {
        let key = room_key(room);
        self.links.iter().find(|l| l.key == key)
    }

    /// The names of the rooms it is in, oldest first.
    pub fn names(&self) -> Vec<String> {
        self.links.iter().map(|l| l.name.clone()).collect()
    }

    /// The current room.
    pub fn current(&self) -> Option<&RoomLink> {
        let id = self.current.load(Ordering::Relaxed);
        self.links.iter().find(|l| l.id == id)
    }

    /// Makes a joined room current.
    pub fn make_current(&self, link: &RoomLink) {
        self.current.store(link.id, Ordering::Relaxed);
    }

    /// The room a request is for: the one it names, or the current one.
    ///
    /// # Errors
    /// A refusal that says what is wrong: a bad name, a room the client is
    /// not in, or no room at all.
    pub fn target(&self, room: Option<&str>) -> Result<&RoomLink, Refusal> {
        match room {
            Some(room) => {
                let name = parse_room(room).map_err(|e| (ErrorCode::InvalidRoom, e.to_string()))?;
                self.find(name).ok_or_else(|| {
                    (
                        ErrorCode::NotInRoom,
                        format!("you are not in #{name}: /join it first"),
                    )
                })
            }
            None => self.current().ok_or_else(|| {
                (
                    ErrorCode::NotInRoom,
                    "you are in no room: /join ROOM first".to_owned(),
                )
            }),
        }
    }

    /// The room that becomes current if `key` is left: unchanged when it is
    /// not the current one, else the most recently joined of the others.
    pub fn after_leaving(&self, key: &str) -> Option<&RoomLink> {
        match self.current() {
            Some(current) if current.key != key => Some(current),
            _ => self.links.iter().rev().find(|l| l.key != key),
        }
    }

    /// Forgets a room left, making `next` current.
    pub fn left(&mut self, key: &str, next: Option<u64>) {
        self.links.retain(|l| l.key != key);
        self.current
            .store(next.unwrap_or(NO_ROOM), Ordering::Relaxed);
    }

    /// Forgets a room that went away under the client (its broker stopped).
    pub fn lost(&mut self, key: &str) {
        let next = self.after_leaving(key).map(|l| l.id);
        self.left(key, next);
    }
}
