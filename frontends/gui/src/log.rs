//! One conversation's lines: [`ChatLine`] (a line ready to draw), [`Log`]
//! (the capped list a view renders) and the opt-in [`Transcript`] file that
//! copies every shown line for tests and logs.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use chat_core::LineKind;
use druid::im::Vector;
use druid::Data;

/// How many lines a conversation keeps; older ones are dropped so memory
/// stays flat in a busy room.
pub const SCROLLBACK: usize = 5_000;

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Data)]
pub enum Kind {
    /// `<alice> hello`
    Message,
    /// `* alice waves`
    Action,
    /// `<alice -> bob> psst`
    Private,
    /// Joins, leaves, renames, user lists, help: muted.
    Notice,
    /// Refusals and local errors: red.
    Error,
    /// The connection's own state: muted.
    Status,
    /// A separator such as "— earlier messages —": centred, muted.
    Marker,
    /// `/help`: muted, in a monospace font so its columns line up.
    Help,
}

impl From<LineKind> for Kind {
    fn from(kind: LineKind) -> Self {
        match kind {
            LineKind::Message => Kind::Message,
            LineKind::Action => Kind::Action,
            LineKind::Private => Kind::Private,
            LineKind::Notice => Kind::Notice,
            LineKind::Error => Kind::Error,
            LineKind::Status => Kind::Status,
        }
    }
}

/// One line of the conversation, ready to draw. All text is sanitised by
/// `chat_core::render`.
#[derive(Debug, Clone, PartialEq, Data)]
pub struct ChatLine {
    /// Rises by one per line for the whole run: views key their caches on it.
    pub id: u64,
    /// How to style it.
    pub kind: Kind,
    /// Local `HH:MM`.
    pub time: Arc<str>,
    /// The sender of a message, action or private message.
    pub from: Option<Arc<str>>,
    /// The recipient of a private message.
    pub to: Option<Arc<str>>,
    /// The text (for notices, the whole notice).
    pub text: Arc<str>,
    /// Sent by this client.
    pub own: bool,
    /// Mentions this client's name.
    pub mention: bool,
    /// The room's sequence number of a message or action.
    pub seq: Option<u64>,
    /// From the room's history (replayed), not live: drawn muted.
    pub history: bool,
}

impl fmt::Display for ChatLine {
    /// The plain-protocol form, like `nc` and the REPL show it:
    /// `<alice> hello`, `* bob joined`, `! refused` — written by
    /// `chat_core`'s own `Line`, so the forms cannot drift apart.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Message => LineKind::Message,
            Kind::Action => LineKind::Action,
            Kind::Private => LineKind::Private,
            Kind::Notice | Kind::Help => LineKind::Notice,
            Kind::Error => LineKind::Error,
            Kind::Status => LineKind::Status,
            Kind::Marker => return f.write_str(&self.text),
        };
        let line = chat_core::Line {
            room: None,
            kind,
            time: None,
            from: self.from.as_deref().map(str::to_owned),
            to: self.to.as_deref().map(str::to_owned),
            text: self.text.to_string(),
        };
        line.fmt(f)
    }
}

impl ChatLine {
    /// The line as copied to the clipboard: `[12:03] <alice> hello`.
    pub fn copy_text(&self) -> String {
        format!("[{}] {self}", self.time)
    }
}

/// A conversation: its last [`SCROLLBACK`] lines. `im::Vector` makes the
/// copies druid keeps for change detection cheap.
#[derive(Debug, Clone, Data)]
pub struct Log {
    lines: Vector<ChatLine>,
    next_id: u64,
    /// Rises on every change other than appending at the end and dropping
    /// from the front (inserting older history, dropping from the end,
    /// replacing a line): the view then re-syncs by id instead of by
    /// position.
    edits: u64,
    #[data(ignore)]
    cap: usize,
}

impl Default for Log {
    fn default() -> Self {
        Self::with_capacity(SCROLLBACK)
    }
}

impl Log {
    /// An empty log keeping at most `cap` lines.
    pub fn with_capacity(cap: usize) -> Self {
        Self {
            lines: Vector::new(),
            next_id: 1,
            edits: 0,
            cap: cap.max(1),
        }
    }

    /// Counts the changes that are not appends or front trims.
    pub fn edits(&self) -> u64 {
        self.edits
    }

    /// The most lines kept.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Inserts `lines` before position `at` (ids are assigned here). The
    /// cap is kept by dropping lines from the *end*: older history is
    /// inserted while the reader is at the top, and the end is the part
    /// farthest from the view. Returns how many were dropped.
    pub fn insert(&mut self, at: usize, lines: Vec<ChatLine>) -> usize {
        let at = at.min(self.lines.len());
        for (i, mut line) in lines.into_iter().enumerate() {
            line.id = self.next_id;
            self.next_id += 1;
            self.lines.insert(at + i, line);
        }
        let mut dropped = 0;
        while self.lines.len() > self.cap {
            self.lines.pop_back();
            dropped += 1;
        }
        self.edits += 1;
        dropped
    }

    /// Removes the line at `at`.
    pub fn remove(&mut self, at: usize) -> Option<ChatLine> {
        (at < self.lines.len()).then(|| {
            self.edits += 1;
            self.lines.remove(at)
        })
    }

    /// The lines, oldest first.
    pub fn lines(&self) -> &Vector<ChatLine> {
        &self.lines
    }

    /// The id the next line will get.
    #[cfg(test)]
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Appends a line (its id is assigned here), dropping the oldest beyond
    /// the cap. Returns the stored line.
    pub fn push(&mut self, mut line: ChatLine) -> &ChatLine {
        line.id = self.next_id;
        self.next_id += 1;
        self.lines.push_back(line);
        while self.lines.len() > self.cap {
            self.lines.pop_front();
        }
        &self.lines[self.lines.len() - 1]
    }

    /// Replaces the last line (appends when there is none); the line
    /// gets a new id, so views see a change. Returns the stored line.
    pub fn replace_last(&mut self, mut line: ChatLine) -> &ChatLine {
        if self.lines.pop_back().is_none() {
            return self.push(line);
        }
        line.id = self.next_id;
        self.next_id += 1;
        self.lines.push_back(line);
        self.edits += 1;
        &self.lines[self.lines.len() - 1]
    }

    /// How many lines are kept.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// An opt-in file that receives every line the conversations show (the
/// end-to-end tests read it: `CHAT_GUI_TRANSCRIPT=path`).
#[derive(Debug, Clone)]
pub struct Transcript(Arc<Mutex<File>>);

impl Transcript {
    /// Appends to `file`.
    pub fn new(file: File) -> Self {
        Self(Arc::new(Mutex::new(file)))
    }

    /// Writes a line as `<alice> hi`, or `(history) <alice> hi` for a
    /// replayed one, after `room_tag` (`"[#rust] "` for a room other than
    /// the server's default one, so the file reads like plain mode). Lines
    /// inserted above others are written when they arrive, so the file is
    /// in arrival order.
    pub fn write(&self, room_tag: &str, line: &ChatLine) {
        let mut file = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let history = if line.history { "(history) " } else { "" };
        // A transcript is a testing aid: failing to write it must not
        // disturb the chat.
        let _ = writeln!(file, "{room_tag}{history}{line}").and_then(|()| file.flush());
    }
}

/// A separator line such as "— earlier messages —".
pub fn marker(text: &str) -> ChatLine {
    ChatLine {
        id: 0,
        kind: Kind::Marker,
        time: "".into(),
        from: None,
        to: None,
        text: text.into(),
        own: false,
        mention: false,
        seq: None,
        history: false,
    }
}

/// A line that did not come from the server (an error, help), timed now.
pub fn local(kind: Kind, text: &str) -> ChatLine {
    ChatLine {
        id: 0,
        kind,
        time: clock(None).into(),
        from: None,
        to: None,
        text: chat_core::sanitize(text).into(),
        own: false,
        mention: false,
        seq: None,
        history: false,
    }
}

/// `HH:MM` for a server time, or for now.
pub fn clock(millis: Option<u64>) -> String {
    match millis {
        Some(ms) => chat_core::render::clock(ms),
        None => chrono::Local::now().format("%H:%M").to_string(),
    }
}
