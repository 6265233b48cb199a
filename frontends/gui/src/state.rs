//! The window's data ([`AppState`]) and everything that changes it: session
//! events, the compose box, connect and disconnect. Pure logic with no
//! widgets, so every transition is unit-tested without a display.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use chat_core::names::name_key;
use chat_core::render::status_text;
use chat_core::{parse_input, render, Event, Input, InputError, LineKind, Status};
use druid::im::Vector;
use druid::{Data, Lens};

/// How many lines the conversation keeps; older ones are dropped so memory
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
}

impl fmt::Display for ChatLine {
    /// The plain-protocol form, like `nc` and the REPL show it:
    /// `<alice> hello`, `* bob joined`, `! refused`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self.from.as_deref().unwrap_or("?");
        match self.kind {
            Kind::Message => write!(f, "<{from}> {}", self.text),
            Kind::Action => write!(f, "* {from} {}", self.text),
            Kind::Private => {
                let to = self.to.as_deref().unwrap_or("?");
                write!(f, "<{from} -> {to}> {}", self.text)
            }
            Kind::Notice | Kind::Status => write!(f, "* {}", self.text),
            Kind::Error => write!(f, "! {}", self.text),
        }
    }
}

impl ChatLine {
    /// The line as copied to the clipboard: `[12:03] <alice> hello`.
    pub fn copy_text(&self) -> String {
        format!("[{}] {self}", self.time)
    }
}

/// The conversation: the last [`SCROLLBACK`] lines. `im::Vector` makes the
/// copies druid keeps for change detection cheap.
#[derive(Debug, Clone, Data)]
pub struct Log {
    lines: Vector<ChatLine>,
    next_id: u64,
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
            cap: cap.max(1),
        }
    }

    /// The lines, oldest first.
    pub fn lines(&self) -> &Vector<ChatLine> {
        &self.lines
    }

    /// The id the next line will get.
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

    /// How many lines are kept.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// The state of the connection, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq, Data)]
pub enum Conn {
    /// Not connected; `reason` says why when it was not the user's choice.
    Disconnected {
        /// Why, when something went wrong.
        reason: Option<String>,
    },
    /// A connection attempt is under way.
    Connecting {
        /// The server.
        addr: String,
        /// Which attempt (1 for the first).
        attempt: u32,
    },
    /// In the room.
    Connected {
        /// The server.
        addr: String,
        /// The granted name.
        name: String,
    },
    /// Lost; the next attempt starts in `secs` seconds.
    Reconnecting {
        /// Why it was lost.
        reason: String,
        /// Seconds until the next attempt, counted down by [`AppState::tick`].
        secs: u64,
        /// When the next attempt starts, in milliseconds since the epoch.
        at_ms: u64,
    },
}

impl Conn {
    /// The status bar's text.
    pub fn describe(&self) -> String {
        match self {
            Conn::Disconnected { reason: None } => "disconnected".to_owned(),
            Conn::Disconnected {
                reason: Some(reason),
            } => format!("disconnected: {reason}"),
            Conn::Connecting { addr, attempt } => status_text(&Status::Connecting {
                addr: addr.clone(),
                attempt: *attempt,
            }),
            Conn::Connected { addr, name } => status_text(&Status::Connected {
                addr: addr.clone(),
                name: name.clone(),
            }),
            Conn::Reconnecting { reason, secs, .. } => {
                format!("disconnected: {reason}; reconnecting in {secs} s")
            }
        }
    }

    /// Whether the status is bad news (shown in red).
    pub fn is_trouble(&self) -> bool {
        matches!(
            self,
            Conn::Disconnected { reason: Some(_) } | Conn::Reconnecting { .. }
        )
    }

    /// Whether a session exists (connected, connecting or waiting to retry):
    /// the button then reads "Disconnect".
    pub fn is_active(&self) -> bool {
        !matches!(self, Conn::Disconnected { .. })
    }
}

/// Where typed input goes: the session's sender in the app, a recorder in tests.
#[derive(Clone)]
pub struct Outbox(Arc<dyn Fn(Input) -> Result<(), String> + Send + Sync>);

impl Outbox {
    /// Wraps a send function.
    pub fn new(send: impl Fn(Input) -> Result<(), String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(send))
    }

    /// Sends one input; `Err` says why nothing was sent.
    pub fn send(&self, input: Input) -> Result<(), String> {
        (self.0)(input)
    }
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Outbox")
    }
}

/// Starts and stops the network side; `net::Net` in the app, absent in tests.
pub trait Connector: Send + Sync {
    /// Starts a session for `generation`; its events come back through
    /// [`AppState::apply`] tagged with the same generation.
    fn start(&self, generation: u64, addr: String, name: String) -> Box<dyn Cancel>;
}

/// Stops a session's network task.
pub trait Cancel: Send {
    /// Stops it; the task drops the session, which then ends.
    fn cancel(&self);
}

/// What the network side reports to the UI.
#[derive(Debug)]
pub enum NetMsg {
    /// The name was granted: the session's sending half.
    Ready(Outbox),
    /// The first connection failed; the text says why.
    Failed(String),
    /// An event of the session.
    Event(Event),
}

/// An opt-in file that receives every line the conversation shows (the
/// end-to-end test reads it: `CHAT_GUI_TRANSCRIPT=path`).
#[derive(Debug, Clone)]
pub struct Transcript(Arc<Mutex<File>>);

impl Transcript {
    /// Appends to `file`.
    pub fn new(file: File) -> Self {
        Self(Arc::new(Mutex::new(file)))
    }

    fn write(&self, line: &ChatLine) {
        let mut file = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // A transcript is a testing aid: failing to write it must not
        // disturb the chat.
        let _ = writeln!(file, "{line}").and_then(|()| file.flush());
    }
}

/// Everything the window shows.
#[derive(Clone, Data, Lens)]
pub struct AppState {
    /// The server field.
    pub server: String,
    /// The name field.
    pub name: String,
    /// The compose box.
    pub compose: String,
    /// The connection.
    pub conn: Conn,
    /// The name the server granted ("" when not in a room): for highlights.
    pub me: String,
    /// Who is online, sorted case-insensitively.
    pub users: Vector<String>,
    /// The conversation.
    pub log: Log,
    /// Rises with every connect and disconnect, so events of an abandoned
    /// session are recognised and dropped.
    pub generation: u64,
    /// Rises when the compose box should take the keyboard focus.
    pub focus_compose: u64,
    #[data(ignore)]
    #[lens(ignore)]
    outbox: Option<Outbox>,
    #[data(ignore)]
    #[lens(ignore)]
    cancel: Option<Arc<Mutex<Box<dyn Cancel>>>>,
    #[data(ignore)]
    #[lens(ignore)]
    connector: Option<Arc<dyn Connector>>,
    #[data(ignore)]
    #[lens(ignore)]
    transcript: Option<Transcript>,
    #[data(ignore)]
    #[lens(ignore)]
    config_path: Option<PathBuf>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("server", &self.server)
            .field("name", &self.name)
            .field("conn", &self.conn)
            .field("me", &self.me)
            .field("users", &self.users)
            .field("lines", &self.log.len())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// A disconnected window with the fields filled in.
    pub fn new(server: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            name: name.into(),
            compose: String::new(),
            conn: Conn::Disconnected { reason: None },
            me: String::new(),
            users: Vector::new(),
            log: Log::default(),
            generation: 0,
            focus_compose: 0,
            outbox: None,
            cancel: None,
            connector: None,
            transcript: None,
            config_path: None,
        }
    }

    /// Remembers the server and name in this file on every connect.
    #[must_use]
    pub fn with_config_path(mut self, path: Option<PathBuf>) -> Self {
        self.config_path = path;
        self
    }

    /// Uses `connector` to reach servers.
    #[must_use]
    pub fn with_connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.connector = Some(connector);
        self
    }

    /// Copies every shown line to `transcript`.
    #[must_use]
    pub fn with_transcript(mut self, transcript: Transcript) -> Self {
        self.transcript = Some(transcript);
        self
    }

    /// Keeps at most `cap` lines (tests use small caps).
    #[must_use]
    pub fn with_scrollback(mut self, cap: usize) -> Self {
        self.log = Log::with_capacity(cap);
        self
    }

    /// Whether Send is enabled: connected and something typed.
    pub fn can_send(&self) -> bool {
        matches!(self.conn, Conn::Connected { .. }) && !self.compose.trim().is_empty()
    }

    /// Whether the server and name fields may be edited.
    pub fn fields_editable(&self) -> bool {
        !self.conn.is_active()
    }

    /// The window title.
    pub fn title(&self) -> String {
        match &self.conn {
            Conn::Connected { addr, name } => format!("chat-gui — {name} @ {addr}"),
            _ => "chat-gui".to_owned(),
        }
    }

    /// The Connect / Disconnect button.
    pub fn toggle_connection(&mut self) {
        if self.conn.is_active() {
            self.disconnect();
        } else {
            self.connect();
        }
    }

    /// Starts connecting with the server and name fields.
    pub fn connect(&mut self) {
        if self.conn.is_active() {
            return;
        }
        let addr = self.server.trim().to_owned();
        let name = self.name.trim().to_owned();
        if addr.is_empty() || name.is_empty() {
            let why = "enter a server address and a name first";
            self.conn = Conn::Disconnected {
                reason: Some(why.to_owned()),
            };
            self.push_local(Kind::Error, why);
            return;
        }
        if let Some(path) = &self.config_path {
            let remembered = crate::config::Config {
                server: addr.clone(),
                name: name.clone(),
            };
            if let Err(e) = remembered.save(path) {
                self.push_local(Kind::Error, &format!("{e:#}"));
            }
        }
        self.generation += 1;
        self.conn = Conn::Connecting {
            addr: addr.clone(),
            attempt: 1,
        };
        self.push_local(Kind::Status, &self.conn.describe());
        if let Some(connector) = &self.connector {
            let cancel = connector.start(self.generation, addr, name);
            self.cancel = Some(Arc::new(Mutex::new(cancel)));
        }
    }

    /// Leaves the room (politely when connected) and stops reconnecting.
    pub fn disconnect(&mut self) {
        if !self.conn.is_active() {
            return;
        }
        if let Some(outbox) = self.outbox.take() {
            // Refused while reconnecting; cancelling below ends it anyway.
            let _ = outbox.send(Input::Quit(None));
        }
        if let Some(cancel) = self.cancel.take() {
            cancel
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .cancel();
        }
        self.generation += 1;
        self.conn = Conn::Disconnected { reason: None };
        self.users.clear();
        self.me.clear();
        self.push_local(Kind::Status, "disconnected");
    }

    /// Applies what the network side reported for `generation`; reports of
    /// an abandoned session are ignored.
    pub fn apply(&mut self, generation: u64, msgs: impl IntoIterator<Item = NetMsg>) {
        if generation != self.generation {
            return;
        }
        for msg in msgs {
            match msg {
                NetMsg::Ready(outbox) => self.outbox = Some(outbox),
                NetMsg::Failed(reason) => {
                    self.outbox = None;
                    self.cancel = None;
                    self.push_local(Kind::Error, &reason);
                    self.conn = Conn::Disconnected {
                        reason: Some(reason),
                    };
                }
                NetMsg::Event(event) => self.on_event(&event),
            }
        }
    }

    /// Applies one session event.
    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::Status(status) => self.on_status(status),
            Event::Welcome(w) => {
                self.me = w.name.clone();
                self.set_users(w.users.iter().cloned());
            }
            Event::Joined(p) if !self.users.iter().any(|u| name_key(u) == name_key(&p.name)) => {
                let users: Vec<String> = self.users.iter().cloned().collect();
                self.set_users(users.into_iter().chain([p.name.clone()]));
            }
            Event::Left(d) => {
                let key = name_key(&d.name);
                self.users.retain(|u| name_key(u) != key);
            }
            Event::Renamed(r) => {
                let key = name_key(&r.from);
                let users: Vec<String> = self
                    .users
                    .iter()
                    .filter(|u| name_key(u) != key)
                    .cloned()
                    .chain([r.to.clone()])
                    .collect();
                self.set_users(users);
                if name_key(&self.me) == key {
                    self.me = r.to.clone();
                    if let Conn::Connected { name, .. } = &mut self.conn {
                        name.clone_from(&r.to);
                    }
                }
            }
            Event::Users(u) => self.set_users(u.users.iter().cloned()),
            _ => {}
        }
        // The status bar carries the connection state; the conversation
        // still records it, like the REPL does.
        if let Some(line) = render(event) {
            let own = !self.me.is_empty() && line.is_from(&self.me);
            let mention = line.mentions(&self.me);
            self.push(ChatLine {
                id: 0,
                kind: line.kind.into(),
                time: clock(line.time).into(),
                from: line.from.map(Into::into),
                to: line.to.map(Into::into),
                text: line.text.into(),
                own,
                mention,
            });
        }
    }

    fn on_status(&mut self, status: &Status) {
        match status {
            Status::Connecting { addr, attempt } => {
                self.conn = Conn::Connecting {
                    addr: addr.clone(),
                    attempt: *attempt,
                };
            }
            Status::Connected { addr, name } => {
                self.conn = Conn::Connected {
                    addr: addr.clone(),
                    name: name.clone(),
                };
                self.me = name.clone();
                self.focus_compose += 1;
            }
            Status::Disconnected {
                reason,
                retry_in: Some(delay),
            } => {
                let now = chat_core::protocol::now_millis();
                let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                self.conn = Conn::Reconnecting {
                    reason: reason.clone(),
                    secs: seconds_left(delay_ms),
                    at_ms: now.saturating_add(delay_ms),
                };
                self.users.clear();
            }
            Status::Disconnected {
                reason,
                retry_in: None,
            } => {
                self.conn = Conn::Disconnected {
                    reason: (reason != "you left").then(|| reason.clone()),
                };
                self.outbox = None;
                self.cancel = None;
                self.users.clear();
                self.me.clear();
            }
        }
    }

    /// Counts the reconnection countdown down to `now_ms`; the status bar
    /// calls it every second while reconnecting. Returns whether the
    /// countdown is still running.
    pub fn tick(&mut self, now_ms: u64) -> bool {
        match &mut self.conn {
            Conn::Reconnecting { secs, at_ms, .. } => {
                *secs = seconds_left(at_ms.saturating_sub(now_ms));
                true
            }
            _ => false,
        }
    }

    fn set_users(&mut self, users: impl IntoIterator<Item = String>) {
        let mut users: Vec<String> = users.into_iter().collect();
        users.sort_by_key(|u| name_key(u));
        users.dedup_by_key(|u| name_key(u));
        self.users = users.into_iter().collect();
    }

    /// Enter in the compose box: parses the line with `chat_core`, answers
    /// `/help` locally, sends the rest. The box is cleared when the line was
    /// handled and kept (so it can be fixed) when it was refused.
    pub fn submit(&mut self) {
        let input = match parse_input(&self.compose) {
            Ok(input) => input,
            Err(InputError::Empty) => return,
            Err(e) => {
                self.push_local(Kind::Error, &e.to_string());
                return;
            }
        };
        if input == Input::Help {
            for text in chat_core::input::help_lines() {
                self.push_local(Kind::Notice, &text);
            }
            self.push_local(
                Kind::Notice,
                "click a line to select it, shift-click to extend, Ctrl+C copies",
            );
            self.compose.clear();
            return;
        }
        let sent = match &self.outbox {
            Some(outbox) if matches!(self.conn, Conn::Connected { .. }) => outbox.send(input),
            _ => Err(chat_core::ChatError::NotConnected.to_string()),
        };
        match sent {
            Ok(()) => self.compose.clear(),
            Err(why) => self.push_local(Kind::Error, &why),
        }
        self.focus_compose += 1;
    }

    /// Adds a line that did not come from the server.
    pub fn push_local(&mut self, kind: Kind, text: &str) {
        self.push(ChatLine {
            id: 0,
            kind,
            time: clock(None).into(),
            from: None,
            to: None,
            text: chat_core::sanitize(text).into(),
            own: false,
            mention: false,
        });
    }

    fn push(&mut self, line: ChatLine) {
        let line = self.log.push(line);
        if let Some(transcript) = &self.transcript {
            transcript.write(line);
        }
    }
}

/// Whole seconds left, as people count: 1.9 s is "2 s", and never "0 s"
/// while waiting.
fn seconds_left(ms: u64) -> u64 {
    ms.saturating_add(500).div_euclid(1000).max(1)
}

/// `HH:MM` for a server time, or for now.
fn clock(millis: Option<u64>) -> String {
    match millis {
        Some(ms) => chat_core::render::clock(ms),
        None => chrono::Local::now().format("%H:%M").to_string(),
    }
}

/// Helpers for tests in other modules.
#[cfg(test)]
pub mod testing {
    use super::*;

    /// Inputs an [`Outbox`] recorded.
    pub type Sent = Arc<Mutex<Vec<Input>>>;

    /// An outbox that records what is sent.
    pub fn recording_outbox() -> (Outbox, Sent) {
        let sent = Sent::default();
        let record = sent.clone();
        let outbox = Outbox::new(move |input| {
            record.lock().expect("recorder lock").push(input);
            Ok(())
        });
        (outbox, sent)
    }

    /// What the network side reports when `me` has joined: Ready, Connected
    /// and a Welcome listing `others` and `me`.
    pub fn joined(outbox: Outbox, me: &str, others: &[&str]) -> Vec<NetMsg> {
        let users = others
            .iter()
            .map(|u| (*u).to_owned())
            .chain([me.to_owned()])
            .collect();
        vec![
            NetMsg::Ready(outbox),
            NetMsg::Event(Event::Status(Status::Connected {
                addr: "127.0.0.1:8001".into(),
                name: me.into(),
            })),
            NetMsg::Event(Event::Welcome(chat_core::protocol::Welcome {
                version: 1,
                name: me.into(),
                room: "lobby".into(),
                users,
                limits: chat_core::protocol::Limits {
                    max_line: 8192,
                    max_name: 32,
                    rate_per_sec: 0,
                    burst: 0,
                },
            })),
        ]
    }

    /// A message event.
    pub fn said(from: &str, text: &str) -> Event {
        Event::Message(chat_core::protocol::ChatMessage {
            seq: 1,
            time: 0,
            from: from.into(),
            text: text.into(),
            id: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn welcome(name: &str, users: &[&str]) -> Event {
        Event::Welcome(Welcome {
            version: 1,
            name: name.into(),
            room: "lobby".into(),
            users: users.iter().map(|u| (*u).to_owned()).collect(),
            limits: Limits {
                max_line: 8192,
                max_name: 32,
                rate_per_sec: 0,
                burst: 0,
            },
        })
    }

    fn message(from: &str, text: &str) -> Event {
        Event::Message(ChatMessage {
            seq: 1,
            time: 0,
            from: from.into(),
            text: text.into(),
            id: None,
        })
    }

    fn users(state: &AppState) -> Vec<&str> {
        state.users.iter().map(String::as_str).collect()
    }

    fn last(state: &AppState) -> &ChatLine {
        state.log.lines().last().expect("a line")
    }

    /// A state connected as `me`, with a recording outbox.
    fn connected(me: &str) -> (AppState, Arc<Mutex<Vec<Input>>>) {
        let mut state = AppState::new("127.0.0.1:8001", me);
        state.connect();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = sent.clone();
        let outbox = Outbox::new(move |input| {
            record.lock().unwrap().push(input);
            Ok(())
        });
        let generation = state.generation;
        state.apply(
            generation,
            [
                NetMsg::Ready(outbox),
                NetMsg::Event(Event::Status(Status::Connected {
                    addr: "127.0.0.1:8001".into(),
                    name: me.into(),
                })),
                NetMsg::Event(welcome(me, &["bob", me])),
            ],
        );
        (state, sent)
    }

    #[test]
    fn starts_disconnected_and_send_is_disabled() {
        let mut state = AppState::new("127.0.0.1:8001", "alice");
        assert_eq!(state.conn.describe(), "disconnected");
        assert!(!state.conn.is_trouble());
        state.compose = "hi".into();
        assert!(!state.can_send());
        assert!(state.fields_editable());
        assert_eq!(state.title(), "chat-gui");
    }

    #[test]
    fn connect_then_welcome_fills_users_and_focuses_compose() {
        let (mut state, _) = connected("alice");
        assert_eq!(
            state.conn.describe(),
            "connected as alice to 127.0.0.1:8001"
        );
        assert_eq!(users(&state), ["alice", "bob"]);
        assert_eq!(state.me, "alice");
        assert_eq!(state.focus_compose, 1);
        assert!(!state.fields_editable());
        assert_eq!(state.title(), "chat-gui — alice @ 127.0.0.1:8001");
        assert!(!state.can_send(), "nothing typed yet");
        state.compose = "  ".into();
        assert!(!state.can_send(), "blanks are nothing");
        state.compose = "hello".into();
        assert!(state.can_send());
        let shown: Vec<String> = state.log.lines().iter().map(|l| l.to_string()).collect();
        assert_eq!(
            shown,
            [
                "* connecting to 127.0.0.1:8001…",
                "* connected as alice to 127.0.0.1:8001",
                "* you are alice in lobby — online (2): bob, alice; /help lists commands",
            ]
        );
    }

    #[test]
    fn empty_fields_refuse_to_connect() {
        let mut state = AppState::new("", "alice");
        state.connect();
        assert!(state.conn.is_trouble());
        assert_eq!(last(&state).kind, Kind::Error);
        assert_eq!(state.generation, 0);
    }

    #[test]
    fn failed_connect_says_why() {
        let mut state = AppState::new("127.0.0.1:1", "alice");
        state.connect();
        let why = "cannot connect to 127.0.0.1:1: connection refused";
        state.apply(state.generation, [NetMsg::Failed(why.into())]);
        assert_eq!(state.conn.describe(), format!("disconnected: {why}"));
        assert!(state.conn.is_trouble());
        assert!(!state.conn.is_active(), "the button offers Connect again");
        assert_eq!(last(&state).kind, Kind::Error);
        assert_eq!(last(&state).to_string(), format!("! {why}"));
    }

    #[test]
    fn presence_events_keep_the_user_list_live() {
        let (mut state, _) = connected("alice");
        let presence = |name: &str| Presence {
            time: 0,
            name: name.into(),
        };
        state.on_event(&Event::Joined(presence("Carol")));
        assert_eq!(users(&state), ["alice", "bob", "Carol"]);
        state.on_event(&Event::Joined(presence("carol")));
        assert_eq!(users(&state), ["alice", "bob", "Carol"], "no duplicates");
        state.on_event(&Event::Renamed(Rename {
            time: 0,
            from: "bob".into(),
            to: "rob".into(),
        }));
        assert_eq!(users(&state), ["alice", "Carol", "rob"]);
        assert_eq!(last(&state).to_string(), "* bob is now known as rob");
        assert_eq!(last(&state).kind, Kind::Notice);
        state.on_event(&Event::Left(Departure {
            time: 0,
            name: "CAROL".into(),
            reason: "quit".into(),
        }));
        assert_eq!(users(&state), ["alice", "rob"]);
        state.on_event(&Event::Users(UserList {
            users: vec!["zed".into(), "alice".into()],
        }));
        assert_eq!(users(&state), ["alice", "zed"]);
        assert_eq!(last(&state).to_string(), "* online (2): zed, alice");
    }

    #[test]
    fn renaming_myself_changes_the_highlight_name() {
        let (mut state, _) = connected("alice");
        state.on_event(&Event::Renamed(Rename {
            time: 0,
            from: "alice".into(),
            to: "ally".into(),
        }));
        assert_eq!(state.me, "ally");
        assert_eq!(state.conn.describe(), "connected as ally to 127.0.0.1:8001");
        state.on_event(&message("bob", "hi ally"));
        assert!(last(&state).mention);
        state.on_event(&message("ally", "hello"));
        assert!(last(&state).own);
    }

    #[test]
    fn own_messages_and_mentions_are_marked() {
        let (mut state, _) = connected("alice");
        state.on_event(&message("alice", "hello all"));
        let own = last(&state).clone();
        assert!(own.own && !own.mention);
        assert_eq!(own.to_string(), "<alice> hello all");
        assert_eq!(own.from.as_deref(), Some("alice"));
        state.on_event(&message("bob", "Alice: look"));
        assert!(!last(&state).own && last(&state).mention);
        state.on_event(&message("bob", "malice"));
        assert!(!last(&state).mention, "whole words only");
        state.on_event(&Event::Error(ErrorFrame {
            code: ErrorCode::Other,
            message: "no".into(),
            id: None,
        }));
        assert_eq!(last(&state).kind, Kind::Error);
        assert_eq!(
            last(&state).copy_text(),
            format!("[{}] ! no", last(&state).time)
        );
    }

    #[test]
    fn enter_sends_parsed_input_and_clears_the_box() {
        let (mut state, sent) = connected("alice");
        state.compose = "hello there".into();
        state.submit();
        assert_eq!(state.compose, "");
        state.compose = "/me waves".into();
        state.submit();
        state.compose = "/msg bob psst".into();
        state.submit();
        assert_eq!(
            *sent.lock().unwrap(),
            [
                Input::Say("hello there".into()),
                Input::Me("waves".into()),
                Input::Msg {
                    to: "bob".into(),
                    text: "psst".into()
                }
            ]
        );
        assert_eq!(state.focus_compose, 4, "focus stays in the box");
    }

    #[test]
    fn help_is_local_and_bad_commands_stay_in_the_box() {
        let (mut state, sent) = connected("alice");
        let before = state.log.len();
        state.compose = "/help".into();
        state.submit();
        assert_eq!(state.compose, "");
        assert!(state.log.len() > before + 5);
        assert!(state
            .log
            .lines()
            .iter()
            .any(|l| l.text.starts_with("/msg NAME TEXT")));
        state.compose = "/frobnicate".into();
        state.submit();
        assert_eq!(state.compose, "/frobnicate", "kept so it can be fixed");
        assert_eq!(last(&state).kind, Kind::Error);
        assert_eq!(
            last(&state).text.as_ref(),
            "unknown command /frobnicate — try /help"
        );
        state.compose = "   ".into();
        state.submit();
        assert!(sent.lock().unwrap().is_empty());
    }

    #[test]
    fn sending_while_disconnected_is_refused_in_the_window() {
        let mut state = AppState::new("127.0.0.1:8001", "alice");
        state.compose = "hello".into();
        state.submit();
        assert_eq!(state.compose, "hello");
        assert_eq!(
            last(&state).to_string(),
            "! not connected: nothing was sent"
        );
        // /help works anyway.
        state.compose = "/help".into();
        state.submit();
        assert_eq!(state.compose, "");
    }

    #[test]
    fn a_refused_send_keeps_the_text() {
        let (mut state, _) = connected("alice");
        state.outbox = Some(Outbox::new(|_| Err("too many unsent messages".into())));
        state.compose = "hi".into();
        state.submit();
        assert_eq!(state.compose, "hi");
        assert_eq!(last(&state).to_string(), "! too many unsent messages");
    }

    #[test]
    fn losing_the_server_shows_reconnecting_then_recovers() {
        let (mut state, _) = connected("alice");
        state.on_event(&Event::Status(Status::Disconnected {
            reason: "server closed the connection".into(),
            retry_in: Some(Duration::from_millis(1_900)),
        }));
        assert_eq!(
            state.conn.describe(),
            "disconnected: server closed the connection; reconnecting in 2 s"
        );
        assert!(state.conn.is_trouble() && state.conn.is_active());
        assert!(state.users.is_empty());
        state.compose = "hi".into();
        assert!(!state.can_send());
        let Conn::Reconnecting { at_ms, .. } = state.conn else {
            panic!("reconnecting");
        };
        assert!(state.tick(at_ms - 1_000));
        assert_eq!(
            state.conn.describe(),
            "disconnected: server closed the connection; reconnecting in 1 s"
        );
        assert!(state.tick(at_ms + 5_000), "still waiting for Connecting");
        assert_eq!(
            state.conn.describe(),
            "disconnected: server closed the connection; reconnecting in 1 s"
        );
        state.on_event(&Event::Status(Status::Connecting {
            addr: "127.0.0.1:8001".into(),
            attempt: 2,
        }));
        assert!(!state.tick(at_ms), "no countdown while connecting");
        assert_eq!(
            state.conn.describe(),
            "connecting to 127.0.0.1:8001 (attempt 2)…"
        );
        state.on_event(&Event::Status(Status::Connected {
            addr: "127.0.0.1:8001".into(),
            name: "alice".into(),
        }));
        state.on_event(&welcome("alice", &["alice"]));
        assert!(state.can_send());
        assert_eq!(users(&state), ["alice"]);
    }

    #[test]
    fn the_session_ending_returns_to_disconnected() {
        let (mut state, _) = connected("alice");
        state.on_event(&Event::Status(Status::Disconnected {
            reason: "you left".into(),
            retry_in: None,
        }));
        assert_eq!(state.conn, Conn::Disconnected { reason: None });
        assert!(state.outbox.is_none() && state.users.is_empty());
        state.compose = "hi".into();
        state.submit();
        assert_eq!(last(&state).kind, Kind::Error);
    }

    struct CountingConnector {
        started: AtomicUsize,
        cancelled: Arc<AtomicUsize>,
    }

    struct CountingCancel(Arc<AtomicUsize>);

    impl Cancel for CountingCancel {
        fn cancel(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Connector for CountingConnector {
        fn start(&self, _generation: u64, _addr: String, _name: String) -> Box<dyn Cancel> {
            self.started.fetch_add(1, Ordering::SeqCst);
            Box::new(CountingCancel(self.cancelled.clone()))
        }
    }

    #[test]
    fn disconnect_quits_cancels_and_ignores_late_events() {
        let connector = Arc::new(CountingConnector {
            started: AtomicUsize::new(0),
            cancelled: Arc::new(AtomicUsize::new(0)),
        });
        let mut state = AppState::new("127.0.0.1:8001", "alice").with_connector(connector.clone());
        state.toggle_connection();
        assert_eq!(connector.started.load(Ordering::SeqCst), 1);
        let old = state.generation;
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = sent.clone();
        state.apply(
            old,
            [
                NetMsg::Ready(Outbox::new(move |i| {
                    record.lock().unwrap().push(i);
                    Ok(())
                })),
                NetMsg::Event(Event::Status(Status::Connected {
                    addr: "127.0.0.1:8001".into(),
                    name: "alice".into(),
                })),
            ],
        );
        state.toggle_connection();
        assert_eq!(*sent.lock().unwrap(), [Input::Quit(None)]);
        assert_eq!(connector.cancelled.load(Ordering::SeqCst), 1);
        assert_eq!(state.conn, Conn::Disconnected { reason: None });
        let lines = state.log.len();
        state.apply(old, [NetMsg::Event(message("bob", "late"))]);
        assert_eq!(
            state.log.len(),
            lines,
            "events of the old session are dropped"
        );
        state.toggle_connection();
        assert_eq!(connector.started.load(Ordering::SeqCst), 2);
        assert!(state.generation > old);
    }

    #[test]
    fn scrollback_is_capped_and_ids_keep_rising() {
        let mut state = AppState::new("a:1", "me").with_scrollback(3);
        for i in 0..10 {
            state.on_event(&message("bob", &format!("m{i}")));
        }
        assert_eq!(state.log.len(), 3);
        let texts: Vec<&str> = state.log.lines().iter().map(|l| l.text.as_ref()).collect();
        assert_eq!(texts, ["m7", "m8", "m9"]);
        let ids: Vec<u64> = state.log.lines().iter().map(|l| l.id).collect();
        assert_eq!(ids, [8, 9, 10]);
        assert_eq!(state.log.next_id(), 11);
    }

    #[test]
    fn peer_text_is_sanitised() {
        let (mut state, _) = connected("alice");
        state.on_event(&message("bob", "\u{1b}[2Jboom"));
        assert_eq!(last(&state).text.as_ref(), "␛[2Jboom");
    }

    #[test]
    fn transcript_gets_every_line() {
        let path = std::env::temp_dir().join(format!("chat-gui-transcript-{}", std::process::id()));
        let file = File::create(&path).unwrap();
        let mut state = AppState::new("a:1", "alice").with_transcript(Transcript::new(file));
        state.on_event(&message("bob", "one"));
        state.on_event(&message("bob", "two"));
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(text, "<bob> one\n<bob> two\n");
    }
}
