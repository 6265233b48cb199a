//! Where each session event goes, and the room actions of the window.
//!
//! An event about a room (`Event::room()`) goes to that room's
//! conversation, which counts it as unread when another room is shown.
//! The rest goes where the reader is looking: private messages, notices,
//! errors and `/rooms` to the shown conversation; the connection's state to
//! every room the session is in (each conversation then shows its gap); a
//! rename to every room the person shares with us. Showing a room makes it
//! chat-core's current room, so what is typed goes there.

use chat_core::names::{name_key, parse_room, room_key};
use chat_core::protocol::{RoomInfo, Welcome};
use chat_core::render::room_lines;
use chat_core::{render, ChatError, Event, Input};

use crate::log::{clock, ChatLine, Kind};
use crate::state::AppState;

impl AppState {
    /// Applies one session event.
    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::Status(status) => {
                if let Some(line) = self.chat_line(event) {
                    self.rooms.broadcast(line);
                }
                self.on_status(status);
            }
            Event::Welcome(welcome) => self.on_welcome(welcome, event),
            Event::RoomJoined(info) => self.on_room_joined(info, event),
            Event::Replay(replayed) => {
                let i = self.room_of(event);
                if let Some(line) = self.chat_line(event) {
                    let server = self.server_key();
                    self.rooms
                        .get_mut(i)
                        .replay(line, replayed.message.seq, &server);
                }
            }
            Event::HistoryEnd(end) => {
                let i = self.room_of(event);
                self.rooms.get_mut(i).history_end(end.more);
            }
            Event::Message(m) | Event::Action(m) => {
                let i = self.room_of(event);
                let server = self.server_key();
                self.rooms.get_mut(i).saw_seq(&server, m.seq);
                self.push_event(i, event);
            }
            Event::Joined(p) => {
                let i = self.room_of(event);
                self.rooms.get_mut(i).add_user(&p.name);
                self.push_event(i, event);
            }
            Event::Left(d) => {
                let i = self.room_of(event);
                self.rooms.get_mut(i).remove_user(&d.name);
                self.push_event(i, event);
                if !self.me.is_empty() && name_key(&d.name) == name_key(&self.me) {
                    self.left_room(i);
                }
            }
            Event::Renamed(r) => self.on_renamed(&r.from, &r.to, event),
            Event::Users(u) => {
                let i = self.room_of(event);
                self.rooms.get_mut(i).set_users(u.users.iter().cloned());
                // An answer to /who: shown where it was asked, naming the
                // room when it is another one.
                if let Some(mut line) = self.chat_line(event) {
                    if i != self.rooms.shown_index() {
                        let title = self.rooms.get(i).title();
                        line.text = format!("{title}: {}", line.text).into();
                    }
                    self.rooms.shown_mut().push(line);
                }
            }
            Event::Topic(t) => {
                let i = self.room_of(event);
                self.rooms.get_mut(i).topic = Some(t.topic.as_str())
                    .filter(|t| !t.is_empty())
                    .map(|t| chat_core::sanitize(t).into());
                self.push_event(i, event);
            }
            Event::Rooms(list) => {
                let mut lines = vec![format!("rooms ({}):", list.rooms.len())];
                lines.extend(room_lines(list).into_iter().map(|l| format!("  {l}")));
                for text in lines {
                    self.push_local(Kind::Notice, &text);
                }
            }
            _ => {
                if let Some(line) = self.chat_line(event) {
                    self.rooms.shown_mut().push(line);
                }
            }
        }
    }

    /// The line for `event`, marked with its sequence number.
    pub(crate) fn chat_line(&self, event: &Event) -> Option<ChatLine> {
        let line = render(event)?;
        let seq = match event {
            Event::Message(m) | Event::Action(m) => Some(m.seq),
            Event::Replay(r) => Some(r.message.seq),
            _ => None,
        };
        Some(ChatLine {
            id: 0,
            kind: line.kind.into(),
            time: clock(line.time).into(),
            own: !self.me.is_empty() && line.is_from(&self.me),
            mention: line.mentions(&self.me),
            from: line.from.map(Into::into),
            to: line.to.map(Into::into),
            text: line.text.into(),
            seq,
            history: matches!(event, Event::Replay(_)),
        })
    }

    /// The conversation of a room-scoped event. Without a room (a version-1
    /// server has one room) it is the default room's.
    fn room_of(&mut self, event: &Event) -> usize {
        match event.room() {
            Some(room) => self.rooms.open(room),
            None => {
                let default = self.rooms.default_key().to_owned();
                self.rooms
                    .find(&default)
                    .filter(|_| !default.is_empty())
                    .unwrap_or(self.rooms.shown_index())
            }
        }
    }

    /// Adds the line for `event` to the conversation at `i`, counting it
    /// as unread there when another room is shown.
    fn push_event(&mut self, i: usize, event: &Event) {
        let Some(line) = self.chat_line(event) else {
            return;
        };
        let shown = self.rooms.shown_index();
        let c = self.rooms.get_mut(i);
        if i != shown {
            c.count_unread(&line);
        }
        c.push(line);
    }

    fn on_welcome(&mut self, welcome: &Welcome, event: &Event) {
        self.me.clone_from(&welcome.name);
        let first = !std::mem::replace(&mut self.welcomed, true);
        self.rooms.set_default(&welcome.room);
        let i = self.rooms.open(&welcome.room);
        self.rooms.mark_joined(i);
        let c = self.rooms.get_mut(i);
        c.set_users(welcome.users.iter().cloned());
        c.topic = welcome
            .topic
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| chat_core::sanitize(t).into());
        // A new session starts in the default room; a reconnection keeps
        // the room the reader is in (chat-core joins it again).
        if first && !self.rooms.shown().joined {
            self.rooms.show(i);
        }
        self.push_event(i, event);
    }

    fn on_room_joined(&mut self, info: &RoomInfo, event: &Event) {
        let i = self.rooms.open(&info.room);
        self.rooms.mark_joined(i);
        let c = self.rooms.get_mut(i);
        c.set_users(info.users.iter().cloned());
        c.topic = info
            .topic
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| chat_core::sanitize(t).into());
        let asked = self.pending_join.as_deref() == Some(room_key(&info.room).as_str());
        if asked {
            self.pending_join = None;
        }
        if asked || !self.rooms.shown().joined {
            self.show_room(i);
        }
        self.push_event(i, event);
    }

    /// This session left the room at `i` (`/part`, or put out of it).
    fn left_room(&mut self, i: usize) {
        self.rooms.get_mut(i).leave();
        if i == self.rooms.shown_index() {
            // The server now sends plain text to the room joined most
            // recently of those left; show that one.
            if let Some(next) = self.rooms.latest_joined() {
                self.show_room(next);
            }
        }
    }

    fn on_renamed(&mut self, from: &str, to: &str, event: &Event) {
        let mut shared = false;
        for i in 0..self.rooms.len() {
            if self.rooms.get_mut(i).rename_user(from, to) {
                shared = true;
                if let Some(line) = self.chat_line(event) {
                    self.rooms.get_mut(i).push(line);
                }
            }
        }
        if !shared {
            if let Some(line) = self.chat_line(event) {
                self.rooms.shown_mut().push(line);
            }
        }
        if name_key(&self.me) == name_key(from) {
            self.me = to.to_owned();
            if let crate::state::Conn::Connected { name, .. } = &mut self.conn {
                to.clone_into(name);
            }
        }
    }

    /// Shows the conversation at `i` and makes its room current, so the
    /// compose box (which takes the focus) sends there.
    pub fn show_room(&mut self, i: usize) {
        self.rooms.show(i);
        // A failure here (chat-core has not joined the room again yet)
        // is reported when something is sent, where it matters.
        let _ = self.make_shown_current();
        self.focus_compose += 1;
    }

    /// Shows the conversation with this id (a click in the room list).
    pub fn show_room_id(&mut self, id: u64) {
        if let Some(i) = self.rooms.position(id) {
            self.show_room(i);
        }
    }

    /// Shows the room `step` rows away in the list (Alt+↑ / Alt+↓).
    pub fn show_neighbour(&mut self, step: isize) {
        let i = self.rooms.neighbour(step);
        self.show_room(i);
    }

    /// `Ok` when the session is in the shown room; otherwise what to do.
    pub(crate) fn shown_room_joined(&self) -> Result<(), String> {
        let c = self.rooms.shown();
        match &c.room {
            Some(room) if !c.joined => Err(format!(
                "you are not in #{room}: /join {room} to talk here again"
            )),
            Some(_) => Ok(()),
            None => Err(ChatError::NotConnected.to_string()),
        }
    }

    /// Makes the shown room chat-core's current room.
    pub(crate) fn make_shown_current(&self) -> Result<(), String> {
        self.shown_room_joined()?;
        let room = self.rooms.shown().room.clone().unwrap_or_default();
        match &self.outbox {
            Some(outbox) if self.is_connected() => outbox.switch(&room),
            _ => Err(ChatError::NotConnected.to_string()),
        }
    }

    /// Joins `room` (`/join`, or the field under the room list): shows it
    /// at once when already in it, else asks the server and shows it when
    /// it answers. Returns whether the request was accepted (the field can
    /// be cleared); otherwise the reason is in the conversation.
    pub fn join_room(&mut self, room: &str) -> bool {
        let room = match parse_room(room.trim()) {
            Ok(room) => room.to_owned(),
            Err(e) => {
                self.push_local(Kind::Error, &e.to_string());
                return false;
            }
        };
        if let Some(i) = self.rooms.find(&room).filter(|&i| self.rooms.get(i).joined) {
            self.show_room(i);
            return true;
        }
        let sent = match &self.outbox {
            Some(outbox) if self.is_connected() => outbox.send(Input::Join(room.clone())),
            _ => Err(ChatError::NotConnected.to_string()),
        };
        match sent {
            Ok(()) => {
                self.pending_join = Some(room_key(&room));
                true
            }
            Err(why) => {
                self.push_local(Kind::Error, &why);
                false
            }
        }
    }

    /// Enter or the Join button under the room list.
    pub fn submit_join(&mut self) {
        if self.join_field.trim().is_empty() {
            return;
        }
        let room = self.join_field.clone();
        if self.join_room(&room) {
            self.join_field.clear();
            self.focus_compose += 1;
        }
    }

    /// Asks for up to `limit` messages of the shown room older than the
    /// oldest it shows (the view calls it when the reader scrolls to the
    /// top). Returns whether a request was sent.
    pub fn load_older(&mut self, limit: u32) -> bool {
        let c = self.rooms.shown();
        if c.loading_older || c.at_beginning() || !c.joined || !self.is_connected() {
            return false;
        }
        let (Some(room), Some(outbox)) = (&c.room, &self.outbox) else {
            return false;
        };
        match outbox.history(room, c.oldest_seq(), limit) {
            Ok(()) => {
                self.rooms.shown_mut().start_loading();
                true
            }
            Err(why) => {
                self.push_local(Kind::Error, &why);
                false
            }
        }
    }
}
