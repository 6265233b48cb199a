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
use chat_core::{render, ChatError, Event, Input, Status};

use crate::log::{clock, ChatLine, Kind};
use crate::state::{AppState, Conn};

impl AppState {
    /// Applies one session event.
    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::Status(status) => {
                if self.on_lag(status) {
                    return;
                }
                if let Some(line) = self.chat_line(event) {
                    // After a loss, each attempt (connecting, failing,
                    // waiting) updates one line; the loss and the return
                    // have their own.
                    let attempt = match status {
                        Status::Connecting { .. } => {
                            matches!(self.conn, Conn::Reconnecting { .. })
                        }
                        Status::Disconnected {
                            retry_in: Some(_), ..
                        } => matches!(self.conn, Conn::Connecting { .. }),
                        _ => false,
                    };
                    if attempt {
                        self.rooms.broadcast_progress(line);
                    } else {
                        self.rooms.broadcast(line);
                    }
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
            Event::Headcount(h) => {
                let i = self.room_of(event);
                let room = self.rooms.get_mut(i);
                match &h.users {
                    // Small again: the whole list, and joins from now on.
                    Some(users) => {
                        room.set_users(users.iter().cloned());
                        room.headcount = None;
                    }
                    None => room.headcount = Some(h.count),
                }
                self.push_event(i, event);
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
            None => self
                .rooms
                .default_index()
                .unwrap_or(self.rooms.shown_index()),
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
        // A welcome puts the session in the default room only; chat-core
        // joins the others again after a reconnection, each answered by
        // its own `RoomJoined`.
        for j in (0..self.rooms.len()).filter(|&j| j != i) {
            self.rooms.get_mut(j).leave();
        }
        self.rooms.mark_joined(i);
        let c = self.rooms.get_mut(i);
        c.set_users(welcome.users.iter().cloned());
        c.headcount = None;
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
        if first {
            for room in self.join_at_start.clone() {
                self.join_room(&room);
            }
        }
    }

    fn on_room_joined(&mut self, info: &RoomInfo, event: &Event) {
        let i = self.rooms.open(&info.room);
        let was_joined = self.rooms.get(i).joined;
        self.rooms.mark_joined(i);
        let c = self.rooms.get_mut(i);
        c.set_users(info.users.iter().cloned());
        c.headcount = None;
        // Joining a room again only makes it current, and the server's
        // answer then has no topic: keep the one known.
        if info.topic.is_some() || !was_joined {
            c.topic = info
                .topic
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(|t| chat_core::sanitize(t).into());
        }
        let asked = self.pending_join.as_deref() == Some(room_key(&info.room).as_str());
        if asked {
            self.pending_join = None;
        }
        if asked {
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
            // The name field shows the name held, so the next Connect
            // (and the remembered config) asks for it.
            to.clone_into(&mut self.name);
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chat_core::protocol::{
        Departure, ErrorCode, ErrorFrame, Headcount, Presence, PrivateMessage, Rename, RoomList,
        RoomSummary, TopicInfo, UserList,
    };
    use chat_core::Status;

    use super::*;
    use crate::rooms::RoomItem;
    use crate::state::testing::{
        joined_v2, recording_outbox_with_rooms, replayed, room_joined, said_in, Recorded,
    };

    /// Connected as alice to a version-2 server, in #lobby (with bob),
    /// then in #rust (with bob and carol), which is shown.
    fn in_two_rooms() -> (AppState, Recorded) {
        let mut state = AppState::new("127.0.0.1:8001", "alice");
        state.connect();
        let (outbox, record) = recording_outbox_with_rooms();
        state.apply(
            state.generation,
            joined_v2(outbox, "alice", &["bob"], Some("general chat")),
        );
        state.compose = "/join #rust".into();
        state.submit();
        assert_eq!(state.compose, "");
        assert_eq!(record.lock().unwrap().sent, [Input::Join("rust".into())]);
        state.on_event(&room_joined(
            "rust",
            &["alice", "bob", "carol"],
            Some("all things Rust"),
        ));
        (state, record)
    }

    fn rows(state: &AppState) -> Vec<String> {
        state
            .rooms
            .items()
            .iter()
            .map(|i: &RoomItem| {
                let mut row = format!("#{}", i.name);
                if i.unread > 0 {
                    row += &format!(" {}", i.unread);
                }
                if i.mentions > 0 {
                    row += " @";
                }
                if i.shown {
                    row += " shown";
                }
                if !i.joined {
                    row += " left";
                }
                row
            })
            .collect()
    }

    fn texts(state: &AppState) -> Vec<String> {
        state.log().lines().iter().map(|l| l.to_string()).collect()
    }

    fn last(state: &AppState) -> String {
        texts(state).last().cloned().unwrap_or_default()
    }

    fn show(state: &mut AppState, room: &str) {
        let i = state.rooms.find(room).expect("a room");
        state.show_room(i);
    }

    #[test]
    fn a_joined_room_is_shown_with_its_topic_and_members() {
        let (state, record) = in_two_rooms();
        assert_eq!(rows(&state), ["#lobby", "#rust shown"]);
        assert_eq!(state.rooms.shown().title(), "#rust");
        assert_eq!(
            state.rooms.shown().topic.as_deref(),
            Some("all things Rust")
        );
        let users: Vec<&String> = state.users().iter().collect();
        assert_eq!(users, ["alice", "bob", "carol"]);
        // The wording is chat-core's.
        assert!(
            last(&state).ends_with("#rust — online (3): alice, bob, carol"),
            "{}",
            last(&state)
        );
        assert_eq!(record.lock().unwrap().switched, ["rust"]);
        // The lobby kept its own conversation, topic and members.
        let lobby = state.rooms.get(state.rooms.find("lobby").unwrap());
        assert_eq!(lobby.topic.as_deref(), Some("general chat"));
        assert_eq!(lobby.users.len(), 2);
        assert!(lobby
            .log
            .lines()
            .iter()
            .any(|l| l.text.contains("you are alice in lobby")));
    }

    #[test]
    fn messages_go_to_their_room_and_count_as_unread_elsewhere() {
        let (mut state, _) = in_two_rooms();
        state.on_event(&said_in("lobby", 7, "bob", "hello lobby"));
        state.on_event(&said_in("lobby", 8, "bob", "alice, look"));
        state.on_event(&said_in("rust", 3, "carol", "borrowck!"));
        state.on_event(&Event::Joined(Presence {
            room: Some("lobby".into()),
            time: 0,
            name: "dave".into(),
        }));
        assert_eq!(rows(&state), ["#lobby 2 @", "#rust shown"]);
        assert_eq!(last(&state), "<carol> borrowck!");
        show(&mut state, "lobby");
        assert_eq!(rows(&state), ["#lobby shown", "#rust"]);
        assert_eq!(
            texts(&state)[texts(&state).len() - 3..],
            ["<bob> hello lobby", "<bob> alice, look", "* dave joined"]
        );
        assert!(state.users().iter().any(|u| u == "dave"));
        assert!(state.log().lines().iter().any(|l| l.mention));
        // Alt+↓ / Alt+↑ walk the list, wrapping.
        state.show_neighbour(1);
        assert_eq!(state.rooms.shown().title(), "#rust");
        state.show_neighbour(1);
        assert_eq!(state.rooms.shown().title(), "#lobby");
    }

    #[test]
    fn the_compose_box_talks_in_the_shown_room() {
        let (mut state, record) = in_two_rooms();
        show(&mut state, "lobby");
        state.compose = "hi lobby".into();
        state.submit();
        show(&mut state, "rust");
        state.compose = "/me waves".into();
        state.submit();
        state.compose = "/topic borrowing".into();
        state.submit();
        {
            let record = record.lock().unwrap();
            assert_eq!(
                record.sent[1..],
                [
                    Input::Say("hi lobby".into()),
                    Input::Me("waves".into()),
                    Input::Topic(Some("borrowing".into())),
                ]
            );
            // Made current on showing, and again before each line.
            assert_eq!(
                record.switched,
                ["rust", "lobby", "lobby", "rust", "rust", "rust"]
            );
        }
        // Someone else's topic change updates the bar.
        state.on_event(&Event::Topic(TopicInfo {
            room: "rust".into(),
            topic: "borrowing".into(),
            by: Some("carol".into()),
            time: 1,
        }));
        assert_eq!(state.rooms.shown().topic.as_deref(), Some("borrowing"));
        assert_eq!(last(&state), "* carol set the topic: borrowing");
    }

    #[test]
    fn leaving_the_shown_room_shows_the_latest_joined_one() {
        let (mut state, record) = in_two_rooms();
        state.compose = "/part".into();
        state.submit();
        assert_eq!(
            record.lock().unwrap().sent.last(),
            Some(&Input::Part {
                room: None,
                reason: None
            })
        );
        state.on_event(&Event::Left(Departure {
            room: Some("rust".into()),
            time: 0,
            name: "alice".into(),
            reason: "part".into(),
        }));
        assert_eq!(rows(&state), ["#lobby shown", "#rust left"]);
        // The room left keeps its conversation, which says how to return.
        show(&mut state, "rust");
        assert!(state.users().is_empty());
        assert!(texts(&state).iter().any(|l| l == "* alice left (part)"));
        state.compose = "still here?".into();
        state.submit();
        assert_eq!(state.compose, "still here?", "kept to be sent elsewhere");
        assert_eq!(
            last(&state),
            "! you are not in #rust: /join rust to talk here again"
        );
        // Private messages are not about a room: they still go.
        state.compose = "/msg bob psst".into();
        state.submit();
        assert_eq!(state.compose, "");
        // Joining it again asks the server, which answers.
        state.compose = "/join rust".into();
        state.submit();
        state.on_event(&room_joined("rust", &["alice", "bob"], None));
        assert_eq!(rows(&state), ["#lobby", "#rust shown"]);
        assert_eq!(state.rooms.shown().topic, None);
    }

    #[test]
    fn connecting_again_starts_in_the_default_room() {
        let (mut state, _) = in_two_rooms();
        state.disconnect();
        assert_eq!(rows(&state), ["#lobby left", "#rust shown left"]);
        assert_eq!(last(&state), "* disconnected");
        state.connect();
        assert_eq!(rows(&state), ["#lobby shown left", "#rust left"]);
        assert_eq!(last(&state), "* connecting to 127.0.0.1:8001…");
        let (outbox, _) = recording_outbox_with_rooms();
        state.apply(state.generation, joined_v2(outbox, "alice", &["bob"], None));
        assert_eq!(rows(&state), ["#lobby shown", "#rust left"]);
        assert!(last(&state).starts_with("* you are alice in lobby"));
    }

    #[test]
    fn joining_is_checked_and_a_room_already_joined_is_only_shown() {
        let (mut state, record) = in_two_rooms();
        let sent = record.lock().unwrap().sent.len();
        state.compose = "/join LOBBY".into();
        state.submit();
        assert_eq!(state.rooms.shown().title(), "#lobby");
        assert_eq!(record.lock().unwrap().sent.len(), sent, "nothing asked");
        state.join_field = "no spaces".into();
        state.submit_join();
        assert_eq!(state.join_field, "no spaces", "kept to be fixed");
        assert!(last(&state).starts_with("! the room name \"no spaces\" contains"));
        state.join_field = "#go".into();
        assert!(state.can_join());
        state.submit_join();
        assert_eq!(state.join_field, "");
        assert_eq!(
            record.lock().unwrap().sent.last(),
            Some(&Input::Join("go".into()))
        );
        // The server refuses: nothing changes but the line saying why.
        state.on_event(&Event::Error(ErrorFrame {
            code: ErrorCode::TooManyRooms,
            message: "you are in too many rooms".into(),
            id: None,
        }));
        assert_eq!(rows(&state), ["#lobby shown", "#rust"]);
        assert_eq!(last(&state), "! you are in too many rooms");
        state.disconnect();
        state.join_field = "go".into();
        assert!(!state.can_join());
        state.submit_join();
        assert_eq!(last(&state), format!("! {}", ChatError::NotConnected));
    }

    #[test]
    fn a_reconnection_keeps_the_shown_room_and_its_topic() {
        let (mut state, record) = in_two_rooms();
        state.on_event(&Event::Status(Status::Disconnected {
            reason: "server closed the connection".into(),
            retry_in: Some(Duration::from_secs(1)),
        }));
        // Both conversations record the gap; nobody is listed meanwhile.
        for i in 0..2 {
            let c = state.rooms.get(i);
            assert!(c.users.is_empty());
            assert!(c
                .log
                .lines()
                .last()
                .unwrap()
                .text
                .starts_with("disconnected"));
        }
        let (outbox, _) = recording_outbox_with_rooms();
        state.apply(
            state.generation,
            joined_v2(outbox, "alice", &["bob"], Some("general chat")),
        );
        // chat-core joins #rust again, then makes the lobby current again
        // by joining it (an answer without a topic).
        state.on_event(&room_joined(
            "rust",
            &["alice", "carol"],
            Some("all things Rust"),
        ));
        state.on_event(&room_joined("lobby", &["alice", "bob"], None));
        assert_eq!(rows(&state), ["#lobby", "#rust shown"]);
        let lobby = state.rooms.get(0);
        assert_eq!(lobby.topic.as_deref(), Some("general chat"));
        assert_eq!(state.users().len(), 2);
        let _ = record;
    }

    #[test]
    fn a_large_room_shows_its_headcount_until_it_is_small_again() {
        let (mut state, _) = in_two_rooms();
        // #rust is shown; it became large: nobody is named, the size is.
        state.on_event(&room_joined("rust", &[], None));
        let count = |state: &AppState| state.rooms.shown().size();
        let headcount = |room: &str, count, joined, left, users: Option<&[&str]>| {
            Event::Headcount(Headcount {
                room: room.into(),
                time: 0,
                count,
                joined,
                left,
                users: users.map(|u| u.iter().map(|n| (*n).to_owned()).collect()),
            })
        };
        state.on_event(&headcount("rust", 1234, 0, 0, None));
        assert_eq!(count(&state), 1234);
        assert!(
            last(&state).contains("1234 here: too many to announce"),
            "{}",
            last(&state)
        );
        state.on_event(&headcount("rust", 1270, 40, 4, None));
        assert_eq!(count(&state), 1270);
        assert!(
            last(&state).ends_with("40 joined, 4 left (1270 here)"),
            "{}",
            last(&state)
        );
        // A headcount about the other room does not touch this one.
        state.on_event(&headcount("lobby", 999, 1, 0, None));
        assert_eq!(count(&state), 1270);
        state.on_event(&headcount("rust", 2, 0, 1268, Some(&["bob", "alice"])));
        assert_eq!(count(&state), 2);
        assert_eq!(state.users().len(), 2);
        // Joins are followed one by one again.
        state.on_event(&Event::Joined(Presence {
            room: Some("rust".into()),
            time: 0,
            name: "dave".into(),
        }));
        assert_eq!(count(&state), 3);
    }

    #[test]
    fn renames_who_answers_and_room_lists_go_where_they_belong() {
        let (mut state, _) = in_two_rooms();
        state.on_event(&Event::Renamed(Rename {
            time: 0,
            from: "bob".into(),
            to: "rob".into(),
        }));
        for i in 0..2 {
            let c = state.rooms.get(i);
            assert!(c.has_user("rob") && !c.has_user("bob"));
            assert_eq!(
                c.log.lines().last().unwrap().to_string(),
                "* bob is now known as rob"
            );
        }
        state.on_event(&Event::Renamed(Rename {
            time: 0,
            from: "carol".into(),
            to: "caz".into(),
        }));
        assert!(state
            .rooms
            .get(0)
            .log
            .lines()
            .iter()
            .all(|l| !l.text.contains("caz")));
        // /who about the other room is answered here, naming it.
        state.on_event(&Event::Users(UserList {
            room: Some("lobby".into()),
            users: vec!["alice".into(), "rob".into(), "zed".into()],
        }));
        assert_eq!(last(&state), "* #lobby: online (3): alice, rob, zed");
        assert_eq!(state.rooms.get(0).users.len(), 3);
        state.on_event(&Event::Private(PrivateMessage {
            time: 0,
            from: "zed".into(),
            to: "alice".into(),
            text: "psst".into(),
            id: None,
        }));
        assert_eq!(last(&state), "<zed -> alice> psst");
        state.on_event(&Event::Rooms(RoomList {
            rooms: vec![
                RoomSummary {
                    room: "lobby".into(),
                    members: 3,
                    topic: Some("general chat".into()),
                },
                RoomSummary {
                    room: "rust".into(),
                    members: 1,
                    topic: None,
                },
            ],
        }));
        assert_eq!(
            texts(&state)[texts(&state).len() - 3..],
            [
                "* rooms (2):",
                "*   #lobby (3 members): general chat",
                "*   #rust (1 member)"
            ]
        );
        assert_eq!(rows(&state), ["#lobby", "#rust shown"], "nothing unread");
    }

    #[test]
    fn history_is_asked_for_and_deduplicated_per_room() {
        let (mut state, record) = in_two_rooms();
        // Each room numbers its own messages: 5 in the lobby does not hide
        // 3 in #rust.
        let replay = |room: &str, seq: u64, text: &str| {
            let mut event = replayed(seq, "bob", text);
            if let Event::Replay(r) = &mut event {
                r.message.room = Some(room.into());
            }
            event
        };
        state.on_event(&replay("lobby", 5, "old lobby"));
        state.on_event(&replay("rust", 3, "old rust"));
        state.on_event(&replay("rust", 3, "old rust"));
        assert_eq!(
            texts(&state)[texts(&state).len() - 2..],
            ["— earlier messages —", "<bob> old rust"]
        );
        assert!(state.load_older(50));
        assert_eq!(
            record.lock().unwrap().asked,
            [("rust".to_owned(), Some(3), 50)]
        );
        // Only #rust is loading: the lobby can ask too.
        show(&mut state, "lobby");
        assert!(!state.loading_older());
        assert!(state.load_older(50));
        assert_eq!(
            record.lock().unwrap().asked.last(),
            Some(&("lobby".to_owned(), Some(5), 50))
        );
    }
}
