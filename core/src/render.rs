//! Turning events into text people read, with everything from peers made
//! safe for a terminal.
//!
//! The server's plain mode, the REPL, the GUI and the bots all print events
//! through [`render`], so `<alice> hello` looks the same everywhere. Text from
//! peers passes through [`sanitize`] whatever the server let through: no
//! escape sequence from a peer ever reaches a terminal.

use std::fmt;

use crate::names::{name_key, room_key};
use crate::protocol::{BanInfo, BanList, Headcount, MessageKind, RoomList};
use crate::session::{Event, Status};

/// What kind of line an event became, so front ends can style it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// `<alice> hello`
    Message,
    /// `* alice waves`
    Action,
    /// `<alice -> bob> psst`
    Private,
    /// Joins, leaves, renames, user lists, server notices: `* bob joined`.
    Notice,
    /// `! the name "alice" is taken`
    Error,
    /// The connection's own state: connecting, disconnected...
    Status,
}

/// An event rendered for display. Every string in it is sanitised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// How to style it.
    pub kind: LineKind,
    /// Server time in milliseconds since the Unix epoch, when the event has one.
    pub time: Option<u64>,
    /// Who said it, for messages, actions and private messages.
    pub from: Option<String>,
    /// The recipient of a private message.
    pub to: Option<String>,
    /// The body: the message text, or the whole notice.
    pub text: String,
    /// The room it happened in, for room-scoped events (without `#`).
    pub room: Option<String>,
}

impl Line {
    /// Whether `name` is mentioned in the text (whole word, any case), so a
    /// front end can highlight it. One's own messages never count.
    pub fn mentions(&self, name: &str) -> bool {
        if name.is_empty() || self.is_from(name) {
            return false;
        }
        if !matches!(
            self.kind,
            LineKind::Message | LineKind::Action | LineKind::Private
        ) {
            return false;
        }
        let key = name_key(name);
        self.text
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .any(|word| name_key(word) == key)
    }

    /// Whether `name` sent it.
    pub fn is_from(&self, name: &str) -> bool {
        self.from
            .as_deref()
            .is_some_and(|from| name_key(from) == name_key(name))
    }
}

impl Line {
    /// The plain-mode form prefixed with its room when that is not the
    /// `current` one: `[#rust] <alice> hi`.
    pub fn in_context(&self, current: Option<&str>) -> String {
        match &self.room {
            Some(room) if current.is_none_or(|c| room_key(c) != room_key(room)) => {
                format!("[#{room}] {self}")
            }
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for Line {
    /// The plain-mode form, without time: `<alice> hello`, `* bob joined`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self.from.as_deref().unwrap_or("?");
        match self.kind {
            LineKind::Message => write!(f, "<{from}> {}", self.text),
            LineKind::Action => write!(f, "* {from} {}", self.text),
            LineKind::Private => {
                let to = self.to.as_deref().unwrap_or("?");
                write!(f, "<{from} -> {to}> {}", self.text)
            }
            LineKind::Notice | LineKind::Status => write!(f, "* {}", self.text),
            LineKind::Error => write!(f, "! {}", self.text),
        }
    }
}

/// Renders one event; `None` for events with nothing to show.
pub fn render(event: &Event) -> Option<Line> {
    let line = |kind, time, from: Option<&str>, to: Option<&str>, text: &str| Line {
        kind,
        time,
        from: from.map(sanitize),
        to: to.map(sanitize),
        text: sanitize(text),
        room: event.room().map(sanitize),
    };
    let notice = |time, text: String| line(LineKind::Notice, time, None, None, &text);
    Some(match event {
        Event::Message(m) => line(
            LineKind::Message,
            Some(m.time),
            Some(&m.from),
            None,
            &m.text,
        ),
        Event::Action(m) => line(LineKind::Action, Some(m.time), Some(&m.from), None, &m.text),
        Event::Replay(r) => {
            let m = &r.message;
            let kind = match r.kind {
                MessageKind::Message => LineKind::Message,
                MessageKind::Action => LineKind::Action,
            };
            line(kind, Some(m.time), Some(&m.from), None, &m.text)
        }
        Event::HistoryEnd(h) if h.more => notice(
            None,
            format!("{} older messages shown; more are stored", h.count),
        ),
        Event::HistoryEnd(h) => notice(
            None,
            format!("{} older messages shown; that is all", h.count),
        ),
        Event::Private(p) => line(
            LineKind::Private,
            Some(p.time),
            Some(&p.from),
            Some(&p.to),
            &p.text,
        ),
        Event::Joined(p) => notice(Some(p.time), format!("{} joined", p.name)),
        Event::Left(d) => notice(Some(d.time), format!("{} left ({})", d.name, d.reason)),
        Event::Renamed(r) => notice(Some(r.time), format!("{} is now known as {}", r.from, r.to)),
        Event::Users(u) => notice(None, who_text(&u.users)),
        Event::Headcount(h) => notice(Some(h.time), headcount_text(h)),
        Event::RoomJoined(r) => notice(
            None,
            format!("now talking in #{} — {}", r.room, who_text(&r.users)),
        ),
        Event::Topic(t) => notice(Some(t.time).filter(|&t| t > 0), topic_text(t)),
        Event::Rooms(list) => notice(None, rooms_text(list)),
        Event::Bans(list) => notice(None, bans_text(list)),
        Event::Welcome(w) => notice(
            None,
            format!(
                "you are {} in {} — {}; /help lists commands",
                w.name,
                w.room,
                who_text(&w.users)
            ),
        ),
        Event::Notice(n) => notice(None, n.text.clone()),
        Event::Error(e) => line(LineKind::Error, None, None, None, &e.message),
        Event::Status(status) => line(LineKind::Status, None, None, None, &status_text(status)),
    })
}

/// A topic as people read it: set (`alice set the topic: …`) or shown
/// (`topic: …`).
pub fn topic_text(t: &crate::protocol::TopicInfo) -> String {
    match (&t.by, t.topic.is_empty()) {
        (Some(by), false) => format!("{by} set the topic: {}", t.topic),
        (Some(by), true) => format!("{by} cleared the topic"),
        (None, false) => format!("topic: {}", t.topic),
        (None, true) => "no topic is set".to_owned(),
    }
}

/// `rooms (2): #lobby (3), #rust (1)` — the one-line form; see [`room_lines`].
pub fn rooms_text(list: &RoomList) -> String {
    let rooms: Vec<String> = list
        .rooms
        .iter()
        .map(|r| format!("#{} ({})", sanitize(&r.room), r.members))
        .collect();
    format!("rooms ({}): {}", rooms.len(), rooms.join(", "))
}

/// One line per room, as plain mode shows `/rooms`:
/// `#rust (2 members): all things Rust`.
pub fn room_lines(list: &RoomList) -> Vec<String> {
    list.rooms
        .iter()
        .map(|r| {
            let members = match r.members {
                1 => "1 member".to_owned(),
                n => format!("{n} members"),
            };
            match &r.topic {
                Some(topic) if !topic.is_empty() => {
                    format!("#{} ({members}): {}", sanitize(&r.room), sanitize(topic))
                }
                _ => format!("#{} ({members})", sanitize(&r.room)),
            }
        })
        .collect()
}

/// `bans (2): bob, 203.0.113.7` — the one-line form; see [`ban_lines`].
pub fn bans_text(list: &BanList) -> String {
    if list.bans.is_empty() {
        return "nobody is banned".to_owned();
    }
    let bans: Vec<String> = list.bans.iter().map(|b| sanitize(&b.target)).collect();
    format!("bans ({}): {}", bans.len(), bans.join(", "))
}

/// One line per ban, as plain mode shows `/bans`:
/// `bob — by oscar at 12:04, until 13:04: spamming`.
pub fn ban_lines(list: &BanList) -> Vec<String> {
    if list.bans.is_empty() {
        return vec!["nobody is banned".to_owned()];
    }
    list.bans.iter().map(ban_line).collect()
}

fn ban_line(ban: &BanInfo) -> String {
    let what = if ban.address { "address " } else { "" };
    let until = match ban.until {
        Some(until) => format!(", until {}", clock(until)),
        None => String::new(),
    };
    let reason = match &ban.reason {
        Some(reason) => format!(": {}", sanitize(reason)),
        None => String::new(),
    };
    format!(
        "{what}{} — by {} at {}{until}{reason}",
        sanitize(&ban.target),
        sanitize(&ban.by),
        clock(ban.time)
    )
}

/// `online (2): alice, bob`
pub fn who_text(users: &[String]) -> String {
    if users.is_empty() {
        // Only a large room's `welcome` or `room_joined` lists nobody; its
        // headcount follows.
        return "too many here to list (/who lists them)".to_owned();
    }
    format!("online ({}): {}", users.len(), users.join(", "))
}

/// A large room's headcount: `37 joined, 5 left (1234 here)`.
pub fn headcount_text(h: &Headcount) -> String {
    let here = match h.count {
        1 => "1 here".to_owned(),
        n => format!("{n} here"),
    };
    match (h.joined, h.left, &h.users) {
        (_, _, Some(_)) => format!(
            "{} joined, {} left; {here}, few enough to announce each arrival again",
            h.joined, h.left
        ),
        (0, 0, None) => {
            format!("{here}: too many to announce each arrival (counted once a second instead)")
        }
        (joined, left, None) => format!("{joined} joined, {left} left ({here})"),
    }
}

/// The connection state in words: `connected as alice to 127.0.0.1:8001`.
pub fn status_text(status: &Status) -> String {
    match status {
        Status::Connecting { addr, attempt: 1 } => format!("connecting to {addr}…"),
        Status::Connecting { addr, attempt } => {
            format!("connecting to {addr} (attempt {attempt})…")
        }
        Status::Connected { addr, name } => format!("connected as {name} to {addr}"),
        Status::Unresponsive { addr, silent } => {
            format!("server {addr} not responding for {} s…", silent.as_secs())
        }
        Status::Disconnected {
            reason,
            retry_in: Some(delay),
        } if delay.as_millis() < 1000 => format!(
            "disconnected: {reason}; reconnecting in {} ms",
            delay.as_millis()
        ),
        Status::Disconnected {
            reason,
            retry_in: Some(delay),
        } => format!(
            "disconnected: {reason}; reconnecting in {} s",
            delay.as_secs_f64().round()
        ),
        Status::Disconnected {
            reason,
            retry_in: None,
        } => format!("disconnected: {reason}"),
    }
}

/// Makes text from a peer safe to print: control characters (escape
/// sequences, carriage returns, C1 controls) become visible symbols, tabs
/// become spaces, and bidirectional overrides that could disguise text are
/// dropped.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' => out.push(' '),
            // C0 controls have "control picture" symbols: ESC shows as ␛.
            '\0'..='\u{1f}' => out.push(char::from_u32(0x2400 + u32::from(c)).unwrap_or('�')),
            '\u{7f}' => out.push('␡'),
            c if c.is_control() => out.push('�'),
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `HH:MM` in local time for a server timestamp.
pub fn clock(millis: u64) -> String {
    use chrono::TimeZone;
    i64::try_from(millis)
        .ok()
        .and_then(|ms| chrono::Local.timestamp_millis_opt(ms).single())
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_else(|| "--:--".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::*;
    use std::time::Duration;

    fn msg(from: &str, text: &str) -> ChatMessage {
        ChatMessage {
            room: None,
            seq: 1,
            time: 0,
            from: from.into(),
            text: text.into(),
            id: None,
        }
    }

    fn shown(event: Event) -> String {
        render(&event).unwrap().to_string()
    }

    #[test]
    fn plain_forms() {
        assert_eq!(
            shown(Event::Message(msg("alice", "hello"))),
            "<alice> hello"
        );
        assert_eq!(shown(Event::Action(msg("alice", "waves"))), "* alice waves");
        assert_eq!(
            shown(Event::Joined(Presence {
                room: None,
                time: 0,
                name: "bob".into()
            })),
            "* bob joined"
        );
        assert_eq!(
            shown(Event::Left(Departure {
                room: None,
                time: 0,
                name: "bob".into(),
                reason: "quit".into()
            })),
            "* bob left (quit)"
        );
        assert_eq!(
            shown(Event::Renamed(Rename {
                time: 0,
                from: "bob".into(),
                to: "rob".into()
            })),
            "* bob is now known as rob"
        );
        assert_eq!(
            shown(Event::Private(PrivateMessage {
                time: 0,
                from: "alice".into(),
                to: "bob".into(),
                text: "psst".into(),
                id: None
            })),
            "<alice -> bob> psst"
        );
        assert_eq!(
            shown(Event::Error(ErrorFrame {
                code: ErrorCode::NameTaken,
                message: "the name \"alice\" is taken".into(),
                id: None
            })),
            "! the name \"alice\" is taken"
        );
        assert_eq!(
            shown(Event::Users(UserList {
                room: None,
                users: vec!["alice".into(), "bob".into()]
            })),
            "* online (2): alice, bob"
        );
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            shown(Event::Status(Status::Disconnected {
                reason: "server closed the connection".into(),
                retry_in: Some(Duration::from_secs(2))
            })),
            "* disconnected: server closed the connection; reconnecting in 2 s"
        );
        assert_eq!(
            status_text(&Status::Connected {
                addr: "h:1".into(),
                name: "al".into()
            }),
            "connected as al to h:1"
        );
    }

    #[test]
    fn peers_cannot_send_escape_sequences() {
        let line = render(&Event::Message(msg(
            "ev\u{1b}il",
            "\u{1b}[2J\u{1b}]0;pwned\u{7}\r\u{9b}31m\u{202e}txt\tok",
        )))
        .unwrap();
        let text = line.to_string();
        assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        assert_eq!(text, "<ev␛il> ␛[2J␛]0;pwned␇␍�31mtxt ok");
    }

    #[test]
    fn mentions_are_whole_words_in_any_case() {
        let line = render(&Event::Message(msg("bob", "hey Alice, look"))).unwrap();
        assert!(line.mentions("alice"));
        assert!(!line.mentions("ali"));
        let own = render(&Event::Message(msg("alice", "I am alice"))).unwrap();
        assert!(!own.mentions("alice"));
        assert!(own.is_from("ALICE"));
    }
}
