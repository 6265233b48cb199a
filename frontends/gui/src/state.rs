//! The window's data ([`AppState`]) and what changes it: connect and
//! disconnect, the connection's state, the compose box. How each session
//! event reaches its room is in `route`. Pure logic with no widgets, so
//! every transition is unit-tested without a display.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chat_core::render::status_text;
use chat_core::{parse_input, Event, Input, InputError, Status, TlsOptions};
use druid::im::Vector;
use druid::{Data, Lens};

use crate::compose::{Completion, Recall};
use crate::log::{local, Kind, Log, Transcript};
use crate::mask::Masked;
use crate::rooms::Rooms;

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
        /// Whole seconds the server has been silent since chat-core pinged
        /// it and got no answer yet (`Status::Unresponsive`); `None` while
        /// it answers.
        lag: Option<u64>,
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
            Conn::Connected {
                addr,
                lag: Some(secs),
                ..
            } => status_text(&Status::Unresponsive {
                addr: addr.clone(),
                silent: std::time::Duration::from_secs(*secs),
            }),
            Conn::Connected { addr, name, .. } => status_text(&Status::Connected {
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
            Conn::Disconnected { reason: Some(_) }
                | Conn::Reconnecting { .. }
                | Conn::Connected { lag: Some(_), .. }
        )
    }

    /// Whether a session exists (connected, connecting or waiting to retry):
    /// the button then reads "Disconnect".
    pub fn is_active(&self) -> bool {
        !matches!(self, Conn::Disconnected { .. })
    }
}

type SendFn = Arc<dyn Fn(Input) -> Result<(), String> + Send + Sync>;
type SwitchFn = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;
type HistoryFn = Arc<dyn Fn(&str, Option<u64>, u32) -> Result<(), String> + Send + Sync>;

/// Where typed input goes: the session's sender in the app, a recorder in tests.
#[derive(Clone)]
pub struct Outbox {
    send: SendFn,
    switch: SwitchFn,
    history: HistoryFn,
}

impl Outbox {
    /// Wraps a send function (switching rooms always works; history
    /// requests are refused).
    pub fn new(send: impl Fn(Input) -> Result<(), String> + Send + Sync + 'static) -> Self {
        Self {
            send: Arc::new(send),
            switch: Arc::new(|_| Ok(())),
            history: Arc::new(|_, _, _| Err("history is not available".to_owned())),
        }
    }

    /// Makes a room current with `switch(room)` (chat-core's
    /// `SessionSender::switch_room`), so plain input goes there.
    #[must_use]
    pub fn with_switch(
        mut self,
        switch: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.switch = Arc::new(switch);
        self
    }

    /// Also asks for history with `history(room, before, limit)`.
    #[must_use]
    pub fn with_history(
        mut self,
        history: impl Fn(&str, Option<u64>, u32) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.history = Arc::new(history);
        self
    }

    /// Sends one input; `Err` says why nothing was sent.
    pub fn send(&self, input: Input) -> Result<(), String> {
        (self.send)(input)
    }

    /// Makes `room` the session's current room.
    pub fn switch(&self, room: &str) -> Result<(), String> {
        (self.switch)(room)
    }

    /// Asks for up to `limit` messages of `room` older than `before`.
    pub fn history(&self, room: &str, before: Option<u64>, limit: u32) -> Result<(), String> {
        (self.history)(room, before, limit)
    }
}

/// What a connection needs besides the server and name fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectSpec {
    /// `HOST:PORT`.
    pub addr: String,
    /// The name to ask for.
    pub name: String,
    /// The room's password, when one was typed.
    pub password: Option<String>,
    /// TLS, when the box is ticked.
    pub tls: Option<TlsOptions>,
    /// When to ping a silent server and when to give it up
    /// (`SessionConfig::with_liveness`); `None` keeps chat-core's defaults.
    pub liveness: Option<(Duration, Duration)>,
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
    fn start(&self, generation: u64, spec: ConnectSpec) -> Box<dyn Cancel>;
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
    /// A history request could not be sent; the text says why.
    HistoryFailed(String),
    /// An event of the session.
    Event(Event),
}

/// Everything the window shows.
#[derive(Clone, Data, Lens)]
pub struct AppState {
    /// The server field.
    pub server: String,
    /// The name field.
    pub name: String,
    /// The password field: shown as bullets, never saved.
    pub password: Masked,
    /// The TLS box (remembered).
    pub tls: bool,
    /// The CA file field: with TLS, trust only the certificates in this
    /// PEM file (a self-signed server's own). Filling it in implies TLS.
    pub ca_file: String,
    /// The compose box.
    pub compose: String,
    /// The field under the room list: a room to join.
    pub join_field: String,
    /// Pasted lines waiting for "send them all?" (empty when none).
    pub pending_paste: Vector<String>,
    /// The connection.
    pub conn: Conn,
    /// The name the server granted ("" when not in a room): for highlights.
    pub me: String,
    /// One conversation per room, and which one is shown.
    pub rooms: Rooms,
    /// Rises with every connect and disconnect, so events of an abandoned
    /// session are recognised and dropped.
    pub generation: u64,
    /// Rises when the compose box should take the keyboard focus.
    pub focus_compose: u64,
    /// Rises with every line sent: the conversation scrolls to the bottom,
    /// so one's own line is seen arriving.
    pub sent: u64,
    /// Rises when the password field should take the keyboard focus (the
    /// server refused the password).
    pub focus_password: u64,
    /// How certificates are checked when TLS is on: only `insecure` (from
    /// `--insecure`) is used; the CA file is the field's.
    #[data(ignore)]
    #[lens(ignore)]
    pub tls_options: TlsOptions,
    /// From `--ping-after` / `--dead-after`: see [`ConnectSpec::liveness`].
    #[data(ignore)]
    #[lens(ignore)]
    pub liveness: Option<(Duration, Duration)>,
    /// Up/Down in the compose box.
    #[data(ignore)]
    #[lens(ignore)]
    pub(crate) recall: Recall,
    /// Tab in the compose box.
    #[data(ignore)]
    #[lens(ignore)]
    pub(crate) completion: Completion,
    /// From `--room`: joined on each new session's welcome, in order (the
    /// last one is shown).
    #[data(ignore)]
    #[lens(ignore)]
    pub join_at_start: Vec<String>,
    /// This session was welcomed already: a later welcome is a
    /// reconnection, after which chat-core joins the other rooms again.
    #[data(ignore)]
    #[lens(ignore)]
    pub(crate) welcomed: bool,
    /// The room (key) the user asked to join: shown once the server says
    /// it is joined. Other joins (chat-core rejoining after a reconnection)
    /// leave the shown room alone.
    #[data(ignore)]
    #[lens(ignore)]
    pub(crate) pending_join: Option<String>,
    /// chat-core has reported a silent server (see `on_lag`): its next
    /// `Connected` ends the lag rather than starting a connection.
    #[data(ignore)]
    #[lens(ignore)]
    pinged: bool,
    #[data(ignore)]
    #[lens(ignore)]
    pub(crate) outbox: Option<Outbox>,
    #[data(ignore)]
    #[lens(ignore)]
    cancel: Option<Arc<Mutex<Box<dyn Cancel>>>>,
    #[data(ignore)]
    #[lens(ignore)]
    connector: Option<Arc<dyn Connector>>,
    #[data(ignore)]
    #[lens(ignore)]
    config_path: Option<PathBuf>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("server", &self.server)
            .field("name", &self.name)
            .field("password", &self.password)
            .field("tls", &self.tls)
            .field("conn", &self.conn)
            .field("me", &self.me)
            .field("rooms", &self.rooms)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// A disconnected window with the fields filled in.
    pub fn new(server: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            name: name.into(),
            password: Masked::default(),
            tls: false,
            ca_file: String::new(),
            compose: String::new(),
            join_field: String::new(),
            pending_paste: Vector::new(),
            conn: Conn::Disconnected { reason: None },
            me: String::new(),
            rooms: Rooms::default(),
            generation: 0,
            focus_compose: 0,
            sent: 0,
            focus_password: 0,
            tls_options: TlsOptions::default(),
            liveness: None,
            join_at_start: Vec::new(),
            recall: Recall::default(),
            completion: Completion::default(),
            welcomed: false,
            pending_join: None,
            pinged: false,
            outbox: None,
            cancel: None,
            connector: None,
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
        self.rooms.set_transcript(transcript);
        self
    }

    /// Keeps at most `cap` lines per room (tests use small caps). Called
    /// before anything is shown: it starts the rooms afresh.
    #[must_use]
    pub fn with_scrollback(mut self, cap: usize) -> Self {
        self.rooms = self.rooms.with_cap(cap);
        self
    }

    /// The shown room's conversation.
    pub fn log(&self) -> &Log {
        &self.rooms.shown().log
    }

    /// Who is in the shown room.
    pub fn users(&self) -> &Vector<String> {
        &self.rooms.shown().users
    }

    /// Whether older messages of the shown room are being fetched.
    pub fn loading_older(&self) -> bool {
        self.rooms.shown().loading_older
    }

    /// The oldest sequence number shown in the shown room.
    #[cfg(test)]
    pub fn oldest_seq(&self) -> Option<u64> {
        self.rooms.shown().oldest_seq()
    }

    /// Whether the shown conversation starts with its room's first message.
    pub fn at_beginning(&self) -> bool {
        self.rooms.shown().at_beginning()
    }

    /// Whether connected (and so in at least the default room).
    pub fn is_connected(&self) -> bool {
        matches!(self.conn, Conn::Connected { .. })
    }

    /// Whether Send is enabled: connected and something typed.
    pub fn can_send(&self) -> bool {
        self.is_connected() && !self.compose.trim().is_empty()
    }

    /// Whether Join is enabled: connected and a room typed.
    pub fn can_join(&self) -> bool {
        self.is_connected() && !self.join_field.trim().is_empty()
    }

    /// Whether the server and name fields may be edited.
    pub fn fields_editable(&self) -> bool {
        !self.conn.is_active()
    }

    /// The window title.
    pub fn title(&self) -> String {
        match &self.conn {
            Conn::Connected { addr, name, .. } => format!("chat-gui — {name} @ {addr}"),
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
            // The password is deliberately not part of the config.
            let remembered = crate::config::Config {
                server: addr.clone(),
                name: name.clone(),
                tls: self.tls || !self.ca_file.trim().is_empty(),
                ca_file: self.ca_file.trim().to_owned(),
            };
            if let Err(e) = remembered.save(path) {
                self.push_local(Kind::Error, &format!("{e:#}"));
            }
        }
        self.generation += 1;
        self.welcomed = false;
        self.pending_join = None;
        // A new session starts in the server's default room: show it now,
        // so its conversation also holds the connecting lines, as with one
        // room.
        if let Some(i) = self.rooms.default_index() {
            self.rooms.show(i);
        }
        self.conn = Conn::Connecting {
            addr: addr.clone(),
            attempt: 1,
        };
        self.push_local(Kind::Status, &self.conn.describe());
        if let Some(warning) = self.insecure_warning() {
            self.push_local(Kind::Error, warning);
        }
        let spec = ConnectSpec {
            addr,
            name,
            password: Some(self.password.secret().to_owned()).filter(|p| !p.is_empty()),
            tls: self.tls_spec(),
            liveness: self.liveness,
        };
        if let Some(connector) = &self.connector {
            let cancel = connector.start(self.generation, spec);
            self.cancel = Some(Arc::new(Mutex::new(cancel)));
        }
    }

    /// A CA file picked in the file chooser: it fills the field and ticks
    /// TLS, as `--ca` implies it.
    pub fn choose_ca_file(&mut self, path: &std::path::Path) {
        if self.fields_editable() {
            self.ca_file = path.display().to_string();
            self.tls = true;
        }
    }

    /// How certificates are checked: the CA file field (filled in, it
    /// implies TLS) and `--insecure`; `None` without TLS.
    fn tls_spec(&mut self) -> Option<TlsOptions> {
        let ca_file = self.ca_file.trim();
        if !ca_file.is_empty() {
            self.tls = true;
        }
        self.tls.then(|| TlsOptions {
            ca_file: Some(PathBuf::from(ca_file)).filter(|_| !ca_file.is_empty()),
            insecure: self.tls_options.insecure,
        })
    }

    /// The status bar's text: the connection, and how it is protected.
    pub fn status_line(&self) -> String {
        let describe = self.conn.describe();
        match (&self.conn, self.tls, self.tls_options.insecure) {
            (Conn::Connected { .. }, true, false) => format!("{describe} · TLS"),
            (Conn::Connected { .. }, true, true) => {
                format!("{describe} · TLS, certificate NOT checked")
            }
            _ => describe,
        }
    }

    /// The warning shown while TLS is on without checking certificates.
    pub fn insecure_warning(&self) -> Option<&'static str> {
        (self.tls && self.tls_options.insecure).then_some(INSECURE_WARNING)
    }

    /// Leaves every room (politely when connected) and stops reconnecting.
    pub fn disconnect(&mut self) {
        if !self.conn.is_active() {
            return;
        }
        if let Some(outbox) = self.outbox.take() {
            // chat-core lets a quit through while reconnecting too. The
            // cancel below is still needed for a first connection that has
            // no sender yet, and it makes sure the task is gone.
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
        // Every room's conversation records the end, as each records the
        // connection's other changes.
        self.rooms.broadcast(local(Kind::Status, "disconnected"));
        self.rooms.leave_all();
        self.me.clear();
        self.welcomed = false;
        self.pending_join = None;
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
                    if reason.contains(BAD_PASSWORD_HINT) {
                        self.focus_password += 1;
                    }
                    self.push_local(Kind::Error, &reason);
                    self.conn = Conn::Disconnected {
                        reason: Some(reason),
                    };
                }
                NetMsg::HistoryFailed(reason) => {
                    for i in 0..self.rooms.len() {
                        self.rooms.get_mut(i).drop_history_request();
                    }
                    self.push_local(Kind::Error, &reason);
                }
                NetMsg::Event(event) => self.on_event(&event),
            }
        }
    }

    /// The server field as a key for "what this server numbered".
    pub(crate) fn server_key(&self) -> String {
        self.server.trim().to_owned()
    }

    /// A silent server's lag (`Status::Unresponsive`) and its end (a
    /// `Connected` while lagging): the session never dropped, so the
    /// rooms, a pending history request and the focus stay as they are.
    ///
    /// chat-core reports a silence only once its ping has gone 5 s without
    /// an answer, so a quiet but healthy server leaves no trace. The lag is
    /// shown in the status bar only, as it is reported every few
    /// seconds; when the server answers after that, one line in every room
    /// records the gap. Returns whether `status` was one of those.
    pub(crate) fn on_lag(&mut self, status: &Status) -> bool {
        let Conn::Connected { addr, lag, .. } = &mut self.conn else {
            self.pinged = false;
            // Not connected: a late report of a connection already gone.
            return matches!(status, Status::Unresponsive { .. });
        };
        match status {
            Status::Unresponsive { silent, .. } => {
                self.pinged = true;
                *lag = Some(silent.as_secs());
                true
            }
            Status::Connected { .. } => {
                let was_pinged = std::mem::take(&mut self.pinged);
                if let Some(secs) = lag.take() {
                    let text = format!("server {addr} answered again after {secs} s of silence");
                    self.rooms.broadcast(local(Kind::Status, &text));
                }
                was_pinged
            }
            Status::Connecting { .. } | Status::Disconnected { .. } => {
                self.pinged = false;
                false
            }
        }
    }

    pub(crate) fn on_status(&mut self, status: &Status) {
        // An answer to a history request does not survive the connection.
        for i in 0..self.rooms.len() {
            self.rooms.get_mut(i).drop_history_request();
        }
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
                    lag: None,
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
                // The rooms stay joined: chat-core joins them again. Who is
                // in them is unknown until then.
                for i in 0..self.rooms.len() {
                    self.rooms.get_mut(i).users.clear();
                }
            }
            // Handled by `on_lag`.
            Status::Unresponsive { .. } => {}
            Status::Disconnected {
                reason,
                retry_in: None,
            } => {
                self.conn = Conn::Disconnected {
                    reason: (reason != "you left").then(|| reason.clone()),
                };
                self.outbox = None;
                self.cancel = None;
                self.rooms.leave_all();
                self.me.clear();
                self.welcomed = false;
                self.pending_join = None;
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

    /// Enter in the compose box: parses the line with `chat_core`, answers
    /// `/help` locally, joins with `/join`, sends the rest (what belongs to
    /// a room goes to the shown one). The box is cleared when the line was
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
        // Up brings back what was entered, sent or refused, as in a shell.
        self.recall.remember(&self.compose);
        if let Input::History(limit) = input {
            // In the window, /history N means "N more, above": the same as
            // scrolling to the top, so nothing is shown twice.
            if self.at_beginning() {
                self.push_local(
                    Kind::Notice,
                    "the conversation starts at the beginning of the room's history",
                );
            } else if self.loading_older() || self.load_older(limit) {
                // Asked (or already asking): the answer appears above.
                self.compose.clear();
            } else if !self.is_connected() {
                self.push_local(Kind::Error, &chat_core::ChatError::NotConnected.to_string());
            } else if let Err(why) = self.shown_room_joined() {
                self.push_local(Kind::Error, &why);
            }
            self.focus_compose += 1;
            return;
        }
        if input == Input::Help {
            for text in chat_core::input::help_lines() {
                self.push_local(Kind::Help, &text);
            }
            self.push_local(
                Kind::Help,
                "click a line to select it, shift-click to extend, Ctrl+C copies; \
                 Alt+↑/↓ shows the room above/below",
            );
            self.compose.clear();
            return;
        }
        if let Input::Join(room) = &input {
            if self.join_room(room) {
                self.compose.clear();
            }
            self.focus_compose += 1;
            return;
        }
        // What is said (or asked) about "the room" is about the shown one,
        // whatever chat-core last made current (a rejoin after a
        // reconnection moves it).
        let in_shown_room = matches!(
            input,
            Input::Say(_)
                | Input::Me(_)
                | Input::Topic(_)
                | Input::Who(None)
                | Input::Part { room: None, .. }
        );
        let sent = match &self.outbox {
            Some(outbox) if self.is_connected() => {
                if in_shown_room {
                    self.make_shown_current().and_then(|()| outbox.send(input))
                } else {
                    outbox.send(input)
                }
            }
            _ => Err(chat_core::ChatError::NotConnected.to_string()),
        };
        match sent {
            Ok(()) => {
                self.compose.clear();
                self.sent += 1;
            }
            Err(why) => self.push_local(Kind::Error, &why),
        }
        self.focus_compose += 1;
    }

    /// Adds a line that did not come from the server, to the shown room.
    pub fn push_local(&mut self, kind: Kind, text: &str) {
        self.rooms.shown_mut().push_local(kind, text);
    }
}

/// Shown while TLS is on with `--insecure`.
pub const INSECURE_WARNING: &str =
    "INSECURE: --insecure is on, the server's certificate is NOT checked; \
anyone on the path can pose as the server and read this chat and the password";

/// Part of the message shown when the server refuses the password.
pub const BAD_PASSWORD_HINT: &str = "wrong room password";

/// Whole seconds left, as people count: 1.9 s is "2 s", and never "0 s"
/// while waiting.
fn seconds_left(ms: u64) -> u64 {
    ms.saturating_add(500).div_euclid(1000).max(1)
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

    /// History requests an [`Outbox`] recorded: `(before, limit)`.
    pub type Asked = Arc<Mutex<Vec<(Option<u64>, u32)>>>;

    /// An outbox that records what is sent and which history is asked for.
    pub fn recording_outbox_with_history() -> (Outbox, Sent, Asked) {
        let (outbox, sent) = recording_outbox();
        let asked = Asked::default();
        let record = asked.clone();
        let outbox = outbox.with_history(move |_room, before, limit| {
            record.lock().expect("recorder lock").push((before, limit));
            Ok(())
        });
        (outbox, sent, asked)
    }

    /// A replayed message with sequence number `seq`.
    pub fn replayed(seq: u64, from: &str, text: &str) -> Event {
        Event::Replay(chat_core::protocol::Replayed {
            kind: chat_core::protocol::MessageKind::Message,
            message: chat_core::protocol::ChatMessage {
                room: None,
                seq,
                time: 0,
                from: from.into(),
                text: text.into(),
                id: None,
            },
        })
    }

    /// The end of a history answer.
    pub fn history_end(count: u32, more: bool) -> Event {
        Event::HistoryEnd(chat_core::protocol::HistoryEnd {
            room: None,
            count,
            more,
        })
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
                rooms: Vec::new(),
                topic: None,
                version: 1,
                name: me.into(),
                room: "lobby".into(),
                users,
                limits: chat_core::protocol::Limits {
                    max_rooms: 0,
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
            room: None,
            seq: 1,
            time: 0,
            from: from.into(),
            text: text.into(),
            id: None,
        })
    }

    /// What a session with rooms records: inputs sent, rooms made current,
    /// and history asked for as `(room, before, limit)`.
    #[derive(Debug, Default)]
    pub struct Record {
        /// Inputs sent.
        pub sent: Vec<Input>,
        /// Rooms made current, in order.
        pub switched: Vec<String>,
        /// History requests.
        pub asked: Vec<(String, Option<u64>, u32)>,
    }

    /// A shared [`Record`].
    pub type Recorded = Arc<Mutex<Record>>;

    /// An outbox that records everything into a [`Record`].
    pub fn recording_outbox_with_rooms() -> (Outbox, Recorded) {
        let record = Recorded::default();
        let (sent, switched, asked) = (record.clone(), record.clone(), record.clone());
        let outbox = Outbox::new(move |input| {
            sent.lock().expect("recorder lock").sent.push(input);
            Ok(())
        })
        .with_switch(move |room| {
            switched
                .lock()
                .expect("recorder lock")
                .switched
                .push(room.to_owned());
            Ok(())
        })
        .with_history(move |room, before, limit| {
            asked
                .lock()
                .expect("recorder lock")
                .asked
                .push((room.to_owned(), before, limit));
            Ok(())
        });
        (outbox, record)
    }

    /// What the network side reports when `me` has joined a version-2
    /// server: Ready, Connected and a Welcome to `lobby` (with `topic`)
    /// listing `others` and `me`.
    pub fn joined_v2(
        outbox: Outbox,
        me: &str,
        others: &[&str],
        topic: Option<&str>,
    ) -> Vec<NetMsg> {
        let mut msgs = joined(outbox, me, others);
        if let Some(NetMsg::Event(Event::Welcome(w))) = msgs.last_mut() {
            w.version = 2;
            w.topic = topic.map(str::to_owned);
            w.rooms = vec!["lobby".to_owned()];
        }
        msgs
    }

    /// The server's answer to joining `room`.
    pub fn room_joined(room: &str, users: &[&str], topic: Option<&str>) -> Event {
        Event::RoomJoined(chat_core::protocol::RoomInfo {
            room: room.into(),
            topic: topic.map(str::to_owned),
            users: users.iter().map(|u| (*u).to_owned()).collect(),
        })
    }

    /// A message to `room`, numbered `seq` there.
    pub fn said_in(room: &str, seq: u64, from: &str, text: &str) -> Event {
        Event::Message(chat_core::protocol::ChatMessage {
            room: Some(room.into()),
            seq,
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
    use crate::conversation::{BEGINNING, EARLIER, HISTORY_PAGE, MISSED};
    use crate::log::ChatLine;
    use chat_core::protocol::*;
    use std::fs::File;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn welcome(name: &str, users: &[&str]) -> Event {
        Event::Welcome(Welcome {
            rooms: Vec::new(),
            topic: None,
            version: 1,
            name: name.into(),
            room: "lobby".into(),
            users: users.iter().map(|u| (*u).to_owned()).collect(),
            limits: Limits {
                max_rooms: 0,
                max_line: 8192,
                max_name: 32,
                rate_per_sec: 0,
                burst: 0,
            },
        })
    }

    fn message(from: &str, text: &str) -> Event {
        Event::Message(ChatMessage {
            room: None,
            seq: 1,
            time: 0,
            from: from.into(),
            text: text.into(),
            id: None,
        })
    }

    fn users(state: &AppState) -> Vec<&str> {
        state.users().iter().map(String::as_str).collect()
    }

    fn last(state: &AppState) -> &ChatLine {
        state.log().lines().last().expect("a line")
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
        let shown: Vec<String> = state.log().lines().iter().map(|l| l.to_string()).collect();
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
            room: None,
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
            room: None,
            time: 0,
            name: "CAROL".into(),
            reason: "quit".into(),
        }));
        assert_eq!(users(&state), ["alice", "rob"]);
        state.on_event(&Event::Users(UserList {
            room: None,
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
    fn a_guest_name_is_mentioned_only_whole() {
        // The fallback name is a guest name, and mentions are chat-core's
        // whole-name match: "me", "guest" or "guest-48" are not it.
        let (mut state, _) = connected("guest-4821");
        for text in ["tell me", "hi guest", "guest-48 here", "guest-48210"] {
            state.on_event(&message("bob", text));
            assert!(!last(&state).mention, "{text}");
        }
        state.on_event(&message("bob", "welcome, Guest-4821!"));
        assert!(last(&state).mention);
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
        let before = state.log().len();
        state.compose = "/help".into();
        state.submit();
        assert_eq!(state.compose, "");
        assert!(state.log().len() > before + 5);
        assert!(state
            .log()
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
        assert!(state.users().is_empty());
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

    fn lagging(secs: u64) -> Event {
        Event::Status(Status::Unresponsive {
            addr: "127.0.0.1:8001".into(),
            silent: Duration::from_millis(secs * 1000 + 400),
        })
    }

    #[test]
    fn a_silent_server_shows_its_lag_until_it_answers() {
        let (mut state, _) = connected("alice");
        let (asked_before, lines_before) = (state.focus_compose, state.log().len());
        // A ping unanswered for 5 s: the lag shows, and grows.
        state.on_event(&lagging(35));
        assert_eq!(
            state.status_line(),
            "server 127.0.0.1:8001 not responding for 35 s…"
        );
        assert_eq!(state.focus_compose, asked_before);
        state.on_event(&lagging(35));
        assert!(state.conn.is_trouble() && state.is_connected());
        assert_eq!(
            state.status_line(),
            "server 127.0.0.1:8001 not responding for 35 s…"
        );
        assert_eq!(
            state.log().len(),
            lines_before,
            "the lag is reported every 5 s: the status bar shows it, not the conversation"
        );
        assert_eq!(users(&state), ["alice", "bob"], "still in the room");
        state.on_event(&Event::Status(Status::Connected {
            addr: "127.0.0.1:8001".into(),
            name: "alice".into(),
        }));
        assert_eq!(state.status_line(), "connected as alice to 127.0.0.1:8001");
        assert!(!state.conn.is_trouble());
        assert_eq!(
            last(&state).to_string(),
            "* server 127.0.0.1:8001 answered again after 35 s of silence"
        );
        assert_eq!(state.log().len(), lines_before + 1);
        assert_eq!(state.focus_compose, asked_before, "the focus stays put");
        assert_eq!(users(&state), ["alice", "bob"]);
    }

    #[test]
    fn a_server_given_up_on_reconnects_and_the_lag_goes() {
        let (mut state, _) = connected("alice");
        state.on_event(&lagging(30));
        state.on_event(&lagging(55));
        assert_eq!(
            state.status_line(),
            "server 127.0.0.1:8001 not responding for 55 s…"
        );
        state.on_event(&Event::Status(Status::Disconnected {
            reason: "server not responding".into(),
            retry_in: Some(Duration::from_secs(1)),
        }));
        assert_eq!(
            state.status_line(),
            "disconnected: server not responding; reconnecting in 1 s"
        );
        // A report that crossed the give-up changes nothing.
        state.on_event(&lagging(60));
        assert!(matches!(state.conn, Conn::Reconnecting { .. }));
        state.on_event(&Event::Status(Status::Connected {
            addr: "127.0.0.1:8001".into(),
            name: "alice".into(),
        }));
        assert_eq!(state.status_line(), "connected as alice to 127.0.0.1:8001");
        assert_eq!(
            last(&state).to_string(),
            "* connected as alice to 127.0.0.1:8001"
        );
    }

    #[test]
    fn the_session_ending_returns_to_disconnected() {
        let (mut state, _) = connected("alice");
        state.on_event(&Event::Status(Status::Disconnected {
            reason: "you left".into(),
            retry_in: None,
        }));
        assert_eq!(state.conn, Conn::Disconnected { reason: None });
        assert!(state.outbox.is_none() && state.users().is_empty());
        state.compose = "hi".into();
        state.submit();
        assert_eq!(last(&state).kind, Kind::Error);
    }

    struct CountingConnector {
        started: AtomicUsize,
        cancelled: Arc<AtomicUsize>,
        specs: Mutex<Vec<ConnectSpec>>,
    }

    struct CountingCancel(Arc<AtomicUsize>);

    impl Cancel for CountingCancel {
        fn cancel(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Connector for CountingConnector {
        fn start(&self, _generation: u64, spec: ConnectSpec) -> Box<dyn Cancel> {
            self.started.fetch_add(1, Ordering::SeqCst);
            self.specs.lock().unwrap().push(spec);
            Box::new(CountingCancel(self.cancelled.clone()))
        }
    }

    #[test]
    fn disconnect_quits_cancels_and_ignores_late_events() {
        let connector = Arc::new(CountingConnector {
            started: AtomicUsize::new(0),
            cancelled: Arc::new(AtomicUsize::new(0)),
            specs: Mutex::default(),
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
        let lines = state.log().len();
        state.apply(old, [NetMsg::Event(message("bob", "late"))]);
        assert_eq!(
            state.log().len(),
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
        assert_eq!(state.log().len(), 3);
        let texts: Vec<&str> = state
            .log()
            .lines()
            .iter()
            .map(|l| l.text.as_ref())
            .collect();
        assert_eq!(texts, ["m7", "m8", "m9"]);
        let ids: Vec<u64> = state.log().lines().iter().map(|l| l.id).collect();
        assert_eq!(ids, [8, 9, 10]);
        assert_eq!(state.log().next_id(), 11);
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

    use crate::state::testing::{history_end, recording_outbox_with_history, replayed, Asked};

    /// Connected as alice with an outbox that records history requests.
    fn connected_with_history() -> (AppState, Asked) {
        let mut state = AppState::new("127.0.0.1:8001", "alice");
        state.connect();
        let (outbox, _sent, asked) = recording_outbox_with_history();
        state.apply(state.generation, testing::joined(outbox, "alice", &["bob"]));
        (state, asked)
    }

    fn own_join() -> Event {
        Event::Joined(Presence {
            room: None,
            time: 0,
            name: "alice".into(),
        })
    }

    /// The log as text, history lines tagged.
    fn shown(state: &AppState) -> Vec<String> {
        state
            .log()
            .lines()
            .iter()
            .filter(|l| l.kind != Kind::Status)
            .map(|l| {
                let tag = if l.history { "h " } else { "" };
                format!("{tag}{l}")
            })
            .collect()
    }

    #[test]
    fn the_join_replay_is_shown_apart_and_never_twice() {
        let (mut state, _) = connected_with_history();
        for seq in 1..=3 {
            state.on_event(&replayed(seq, "bob", &format!("old {seq}")));
        }
        state.on_event(&own_join());
        state.on_event(&Event::Message(ChatMessage {
            room: None,
            seq: 4,
            time: 0,
            from: "bob".into(),
            text: "live".into(),
            id: None,
        }));
        let lines = shown(&state);
        assert_eq!(
            lines[1..],
            [
                EARLIER,
                "h <bob> old 1",
                "h <bob> old 2",
                "h <bob> old 3",
                "* alice joined",
                "<bob> live",
            ]
        );
        // The connection drops and comes back; the server replays what it
        // has, some of which is already shown.
        state.on_event(&Event::Status(Status::Disconnected {
            reason: "server closed the connection".into(),
            retry_in: Some(Duration::from_secs(1)),
        }));
        state.on_event(&Event::Status(Status::Connected {
            addr: "127.0.0.1:8001".into(),
            name: "alice".into(),
        }));
        state.on_event(&welcome("alice", &["alice", "bob"]));
        for seq in 2..=5 {
            state.on_event(&replayed(seq, "bob", &format!("old {seq}")));
        }
        state.on_event(&own_join());
        let lines = shown(&state);
        let tail: Vec<&str> = lines
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(String::as_str)
            .collect();
        assert_eq!(tail, [MISSED, "h <bob> old 5", "* alice joined"]);
        assert_eq!(lines.iter().filter(|l| l.contains("old 3")).count(), 1);
        // Disconnect and connect again by hand: a new session replays all
        // of it; nothing is new, so nothing (not even a separator) is added.
        state.disconnect();
        state.connect();
        let (outbox, _, _) = recording_outbox_with_history();
        state.apply(state.generation, testing::joined(outbox, "alice", &["bob"]));
        let before = state.log().len();
        for seq in 1..=5 {
            state.on_event(&replayed(seq, "bob", &format!("old {seq}")));
        }
        assert_eq!(state.log().len(), before);
        // Another server has its own numbering: its replay is shown.
        state.disconnect();
        state.server = "127.0.0.1:9999".into();
        state.connect();
        let (outbox, _, _) = recording_outbox_with_history();
        state.apply(state.generation, testing::joined(outbox, "alice", &["bob"]));
        state.on_event(&replayed(1, "zed", "elsewhere"));
        assert_eq!(shown(&state).last().unwrap(), "h <zed> elsewhere");
    }

    #[test]
    fn older_messages_are_asked_for_and_inserted_above_until_the_beginning() {
        let (mut state, asked) = connected_with_history();
        for seq in 10..=12 {
            state.on_event(&replayed(seq, "bob", &format!("m{seq}")));
        }
        state.on_event(&own_join());
        assert!(state.load_older(HISTORY_PAGE));
        assert!(state.loading_older());
        assert!(!state.load_older(HISTORY_PAGE), "one request at a time");
        assert_eq!(*asked.lock().unwrap(), [(Some(10), HISTORY_PAGE)]);
        // The answer: oldest first, then its end. Nothing shows until the end.
        let edits = state.log().edits();
        for seq in 7..=9 {
            state.on_event(&replayed(seq, "carol", &format!("m{seq}")));
        }
        assert_eq!(state.log().edits(), edits);
        state.on_event(&history_end(3, true));
        assert!(!state.loading_older());
        assert!(state.log().edits() > edits, "the view must re-sync");
        let lines = shown(&state);
        assert_eq!(
            lines[1..],
            [
                EARLIER,
                "h <carol> m7",
                "h <carol> m8",
                "h <carol> m9",
                "h <bob> m10",
                "h <bob> m11",
                "h <bob> m12",
                "* alice joined",
            ]
        );
        assert_eq!(state.oldest_seq(), Some(7));
        // The next page reaches the first message; a duplicate is dropped.
        assert!(state.load_older(HISTORY_PAGE));
        assert_eq!(asked.lock().unwrap().last(), Some(&(Some(7), HISTORY_PAGE)));
        for seq in [5, 6, 7] {
            state.on_event(&replayed(seq, "dave", &format!("m{seq}")));
        }
        state.on_event(&history_end(3, false));
        let lines = shown(&state);
        assert_eq!(
            lines[1..5],
            [BEGINNING, "h <dave> m5", "h <dave> m6", "h <carol> m7"]
        );
        assert!(!lines.iter().any(|l| l == EARLIER), "one separator");
        assert!(state.at_beginning());
        assert!(!state.load_older(HISTORY_PAGE), "nothing older exists");
        assert_eq!(asked.lock().unwrap().len(), 2);
        // Typed /history says so too.
        state.compose = "/history 10".into();
        state.submit();
        assert_eq!(
            last(&state).text.as_ref(),
            "the conversation starts at the beginning of the room's history"
        );
    }

    #[test]
    fn typed_history_asks_for_older_messages_and_an_empty_room_is_handled() {
        let (mut state, asked) = connected_with_history();
        state.on_event(&own_join());
        state.compose = "/history 5".into();
        state.submit();
        assert_eq!(state.compose, "");
        assert_eq!(*asked.lock().unwrap(), [(None, 5)], "nothing shown yet");
        state.on_event(&history_end(0, false));
        assert_eq!(shown(&state).last().unwrap(), BEGINNING);
        assert!(state.at_beginning());
    }

    #[test]
    fn a_request_lost_with_the_connection_is_forgotten() {
        let (mut state, asked) = connected_with_history();
        state.on_event(&replayed(3, "bob", "m3"));
        state.on_event(&own_join());
        assert!(state.load_older(HISTORY_PAGE));
        state.on_event(&replayed(2, "bob", "m2"));
        state.on_event(&Event::Status(Status::Disconnected {
            reason: "gone".into(),
            retry_in: Some(Duration::from_secs(1)),
        }));
        assert!(!state.loading_older());
        assert!(!state.load_older(HISTORY_PAGE), "not while disconnected");
        let lines = state.log().len();
        state.on_event(&history_end(1, true));
        assert_eq!(state.log().len(), lines, "a stray end changes nothing");
        assert_eq!(asked.lock().unwrap().len(), 1);
        // A refused request says why.
        let (mut state, _) = connected("alice");
        assert!(!state.load_older(HISTORY_PAGE));
        assert_eq!(last(&state).to_string(), "! history is not available");
        // A failure reported later clears the request.
        let (mut state, _) = connected_with_history();
        assert!(state.load_older(HISTORY_PAGE));
        state.apply(
            state.generation,
            [NetMsg::HistoryFailed("cannot ask".into())],
        );
        assert!(!state.loading_older());
        assert_eq!(last(&state).to_string(), "! cannot ask");
    }

    #[test]
    fn inserting_history_keeps_the_cap_by_dropping_the_newest_lines() {
        let mut state = AppState::new("127.0.0.1:8001", "alice").with_scrollback(8);
        state.connect();
        let (outbox, _, _) = recording_outbox_with_history();
        state.apply(state.generation, testing::joined(outbox, "alice", &["bob"]));
        // connecting, connected, welcome + 5 messages = 8 lines.
        for seq in 20..25 {
            state.on_event(&Event::Message(ChatMessage {
                room: None,
                seq,
                time: 0,
                from: "bob".into(),
                text: format!("m{seq}"),
                id: None,
            }));
        }
        assert_eq!(state.log().len(), 8);
        assert!(state.load_older(HISTORY_PAGE));
        for seq in 17..20 {
            state.on_event(&replayed(seq, "bob", &format!("m{seq}")));
        }
        state.on_event(&history_end(3, true));
        assert_eq!(state.log().len(), 8, "the cap holds");
        let texts: Vec<String> = state.log().lines().iter().map(|l| l.to_string()).collect();
        // The oldest lines (where the reader is) are kept; the newest went,
        // and a note at the end says so.
        assert_eq!(
            texts[3..7],
            [EARLIER, "<bob> m17", "<bob> m18", "<bob> m19"]
        );
        assert_eq!(
            texts[7],
            "— 5 newer lines were dropped to keep 8 lines; they are not shown —"
        );
        // Live lines go on dropping from the front, as before.
        state.on_event(&message("bob", "new"));
        assert_eq!(state.log().len(), 8);
        assert_eq!(last(&state).text.as_ref(), "new");
    }

    #[test]
    fn password_and_tls_reach_the_connection_but_not_the_config_file() {
        let dir = std::env::temp_dir().join(format!("chat-gui-secret-{}", std::process::id()));
        let path = dir.join("config.json");
        let connector = Arc::new(CountingConnector {
            started: AtomicUsize::new(0),
            cancelled: Arc::new(AtomicUsize::new(0)),
            specs: Mutex::default(),
        });
        let mut state = AppState::new("chat.example:8001", "alice")
            .with_connector(connector.clone())
            .with_config_path(Some(path.clone()));
        state.password = Masked::new("hunter2");
        // The CA file field, filled in, implies TLS (as --ca does).
        state.ca_file = " /etc/chat/ca.pem ".into();
        assert!(!format!("{state:?}").contains("hunter2"));
        assert_eq!(state.insecure_warning(), None);
        state.connect();
        let spec = connector.specs.lock().unwrap()[0].clone();
        assert_eq!(spec.password.as_deref(), Some("hunter2"));
        assert_eq!(
            spec.tls,
            Some(TlsOptions {
                ca_file: Some("/etc/chat/ca.pem".into()),
                insecure: false,
            })
        );
        assert!(state.tls, "the box is ticked");
        assert_eq!(state.status_line(), "connecting to chat.example:8001…");
        let (outbox, _) = testing::recording_outbox();
        state.apply(state.generation, testing::joined(outbox, "alice", &[]));
        assert_eq!(
            state.status_line(),
            "connected as alice to 127.0.0.1:8001 · TLS"
        );
        let saved = std::fs::read_to_string(&path).unwrap();
        assert!(!saved.contains("hunter2"), "{saved}");
        assert!(saved.contains("\"tls\": true"), "{saved}");
        assert!(
            saved.contains("\"ca_file\": \"/etc/chat/ca.pem\""),
            "{saved}"
        );
        let _ = std::fs::remove_dir_all(&dir);
        // No password typed: none is sent. TLS unticked: plain TCP.
        state.disconnect();
        state.password = Masked::default();
        state.ca_file.clear();
        state.tls = false;
        state.tls_options.insecure = true;
        assert_eq!(state.insecure_warning(), None, "only matters with TLS");
        state.connect();
        let spec = connector.specs.lock().unwrap()[1].clone();
        assert_eq!((spec.password, spec.tls), (None, None));
        // --insecure with TLS: warned in the window.
        state.disconnect();
        state.tls = true;
        assert_eq!(state.insecure_warning(), Some(INSECURE_WARNING));
        state.connect();
        assert!(state
            .log()
            .lines()
            .iter()
            .any(|l| l.kind == Kind::Error && l.text.as_ref() == INSECURE_WARNING));
    }

    #[test]
    fn refusals_are_explained_and_a_wrong_password_focuses_the_field() {
        use crate::net::explain;
        let bad = explain(&chat_core::ChatError::Refused {
            code: ErrorCode::BadPassword,
            message: "wrong password".into(),
        });
        assert!(bad.starts_with(BAD_PASSWORD_HINT), "{bad}");
        let mut state = AppState::new("127.0.0.1:8001", "alice");
        state.connect();
        state.apply(state.generation, [NetMsg::Failed(bad.clone())]);
        assert_eq!(state.focus_password, 1);
        assert_eq!(state.conn.describe(), format!("disconnected: {bad}"));
        assert!(state.conn.is_trouble());
        let not_tls = explain(&chat_core::ChatError::NotTls { addr: "h:1".into() });
        assert!(not_tls.contains("untick TLS"), "{not_tls}");
        let needs_tls = explain(&chat_core::ChatError::Refused {
            code: ErrorCode::ServerFull,
            message: "this server requires TLS: connect with --tls".into(),
        });
        assert!(
            needs_tls.ends_with("tick TLS and connect again"),
            "{needs_tls}"
        );
        let untrusted = explain(&chat_core::ChatError::Tls {
            addr: "h:1".into(),
            message: "invalid peer certificate: UnknownIssuer".into(),
        });
        assert!(untrusted.contains("--ca FILE"), "{untrusted}");
        let untrusted = explain(&chat_core::ChatError::UntrustedCertificate {
            addr: "h:1".into(),
            message: "invalid peer certificate: UnknownIssuer".into(),
        });
        assert!(
            untrusted.ends_with("in the CA file field (… picks it) and connect again"),
            "{untrusted}"
        );
    }
}
