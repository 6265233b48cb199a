//! The `ChatSession` trait and the runtime-free pieces every session shares:
//! its configuration, the events it reports, and its two halves — a
//! cheap-to-clone [`SessionSender`] and an [`EventStream`].
//!
//! Only `futures` types appear here, so a session on another runtime (or over
//! TLS) can reuse all of it; [`crate::tcp`] is the async-std implementation.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::mpsc;
use futures::{SinkExt, Stream};

use crate::error::ChatError;
use crate::input::Input;
use crate::names::room_key;
use crate::protocol::{
    BanList, ChatMessage, ClientFrame, Departure, ErrorFrame, Headcount, HistoryEnd, Limits,
    Notice, Presence, PrivateMessage, Rename, Replayed, RoomInfo, RoomList, ServerFrame, TopicInfo,
    UserList, Welcome, DEFAULT_MAX_LINE,
};
use crate::split::{split_text, text_budget};
use crate::tls::TlsOptions;

/// How a session waits between reconnection attempts: `initial`, doubling each
/// time up to `max`, each wait varied by up to ±`jitter` so that clients
/// dropped together do not all return in the same instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Fraction of each wait to vary it by (0.1 = ±10 %).
    pub jitter: f64,
}

impl Default for Backoff {
    /// 1 s, 2 s, 4 s … capped at 30 s, ±10 %.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            jitter: 0.1,
        }
    }
}

impl Backoff {
    /// The nominal wait before attempt `attempt` (1-based), without jitter.
    pub fn nominal(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The wait before attempt `attempt`, with jitter applied.
    pub fn delay(&self, attempt: u32) -> Duration {
        let nominal = self.nominal(attempt);
        let spread = (fastrand::f64() * 2.0 - 1.0) * self.jitter;
        nominal.mul_f64((1.0 + spread).max(0.0))
    }
}

/// What a session needs to connect.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// `HOST:PORT` of the server, or several separated by commas (the
    /// nodes of a cluster, `a:8001,b:8002`): the session connects to the
    /// first that answers and, when its server goes away, reconnects to
    /// the next one first.
    pub addr: String,
    /// The name to ask for.
    pub name: String,
    /// Reconnect with this backoff when the server goes away; `None` ends the
    /// session instead.
    pub reconnect: Option<Backoff>,
    /// How long to wait for the TCP connection and for the server's answers
    /// during the handshake.
    pub connect_timeout: Duration,
    /// Longest line accepted from the server.
    pub max_line: usize,
    /// How the client introduces itself in `hello`, for the server's log.
    pub client: String,
    /// Connect over TLS, checking the server's certificate this way.
    pub tls: Option<TlsOptions>,
    /// The room's password, when the server asks for one.
    pub password: Option<String>,
    /// Silence from the server after which the session sends its own
    /// `ping` (anything the server sends counts, its pings included).
    pub ping_after: Duration,
    /// How long after that ping, still without a word, the connection is
    /// taken for dead: closed, reported (`server not responding`) and, when
    /// reconnecting, replaced.
    pub dead_after: Duration,
    /// The newest sequence number already seen per room (by
    /// [`room_key`]): history replayed on joining is delivered only past
    /// it. A client connecting again by hand passes what the session
    /// before saw ([`SessionSender::seen`]), as the session itself does
    /// across its own reconnections.
    pub seen: HashMap<String, u64>,
}

impl SessionConfig {
    /// A configuration with defaults: no reconnection, 10 s handshake
    /// timeout, a ping after 30 s of silence and 30 s more for its answer.
    pub fn new(addr: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            name: name.into(),
            reconnect: None,
            connect_timeout: Duration::from_secs(10),
            // Room for the server's longest line plus the JSON around it.
            max_line: DEFAULT_MAX_LINE * 8,
            client: format!("chat-core/{}", env!("CARGO_PKG_VERSION")),
            tls: None,
            password: None,
            ping_after: Duration::from_secs(30),
            dead_after: Duration::from_secs(30),
            seen: HashMap::new(),
        }
    }

    /// Starts knowing the newest message seen per room (as
    /// [`SessionSender::seen`] reports them), so the history replayed on
    /// joining shows only what came after.
    #[must_use]
    pub fn with_seen(mut self, seen: HashMap<String, u64>) -> Self {
        self.seen = seen
            .into_iter()
            .map(|(room, seq)| (room_key(&room), seq))
            .collect();
        self
    }

    /// Sets when a silent server is pinged, and how long after that ping
    /// it is given up on (defaults: 30 s and 30 s).
    #[must_use]
    pub fn with_liveness(mut self, ping_after: Duration, dead_after: Duration) -> Self {
        self.ping_after = ping_after;
        self.dead_after = dead_after;
        self
    }

    /// Connects over TLS (see [`TlsOptions`]).
    #[must_use]
    pub fn with_tls(mut self, tls: TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Supplies the room's password.
    #[must_use]
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Reconnects with the default backoff (1 s, 2 s, 4 s … 30 s) when the
    /// server goes away, claiming the same name again.
    #[must_use]
    pub fn reconnecting(mut self) -> Self {
        self.reconnect = Some(Backoff::default());
        self
    }

    /// Reconnects with the given backoff.
    #[must_use]
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.reconnect = Some(backoff);
        self
    }

    /// Sets how the client names itself to the server.
    #[must_use]
    pub fn with_client(mut self, client: impl Into<String>) -> Self {
        self.client = client.into();
        self
    }
}

/// The state of the connection, reported as it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Trying to (re)connect; `attempt` counts from 1 after each loss.
    Connecting {
        /// The server's address.
        addr: String,
        /// Which attempt this is since the connection was lost.
        attempt: u32,
    },
    /// Connected and in the room as `name` (a [`Event::Welcome`] follows).
    Connected {
        /// The server's address.
        addr: String,
        /// The name granted.
        name: String,
    },
    /// Still connected, but the server has said nothing for `silent` and
    /// has not answered a ping within 5 s: reported every 5 s until it
    /// answers (a `Connected` follows) or is given up (`Disconnected`).
    Unresponsive {
        /// The server's address.
        addr: String,
        /// How long it has been silent.
        silent: Duration,
    },
    /// The connection is gone.
    Disconnected {
        /// Why, for people.
        reason: String,
        /// When the next attempt starts; `None` means the session has ended.
        retry_in: Option<Duration>,
    },
}

/// Something that happened in the session, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The connection state changed.
    Status(Status),
    /// The server granted a name; sent on every (re)connection.
    Welcome(Welcome),
    /// A message to the room (the session's own included).
    Message(ChatMessage),
    /// An action (`/me`) to the room.
    Action(ChatMessage),
    /// A private message to or from this session.
    Private(PrivateMessage),
    /// A message from the room's history (on joining, or asked for).
    Replay(Replayed),
    /// The end of an answer to a history request.
    HistoryEnd(HistoryEnd),
    /// Someone joined.
    Joined(Presence),
    /// Someone left.
    Left(Departure),
    /// Someone changed name (perhaps this session).
    Renamed(Rename),
    /// Who is in a room, answering `/who`.
    Users(UserList),
    /// A large room's headcount, instead of each join and leave.
    Headcount(Headcount),
    /// This session is now in a room (answering `/join`); it is the current
    /// room from now on.
    RoomJoined(RoomInfo),
    /// The rooms on the server, answering `/rooms`.
    Rooms(RoomList),
    /// A room's topic: answering `/topic`, or changed by someone.
    Topic(TopicInfo),
    /// The bans in force, answering `/bans`.
    Bans(BanList),
    /// A notice from the server, or local help text.
    Notice(Notice),
    /// The server refused a request; nothing was relayed.
    Error(ErrorFrame),
}

impl Event {
    /// The event a server frame reports; `None` for pings and pongs, which a
    /// session answers itself.
    pub fn from_frame(frame: ServerFrame) -> Option<Event> {
        Some(match frame {
            ServerFrame::Welcome(w) => Event::Welcome(w),
            ServerFrame::Message(m) => Event::Message(m),
            ServerFrame::Action(m) => Event::Action(m),
            ServerFrame::Private(p) => Event::Private(p),
            ServerFrame::Replay(r) => Event::Replay(r),
            ServerFrame::HistoryEnd(h) => Event::HistoryEnd(h),
            ServerFrame::Join(p) => Event::Joined(p),
            ServerFrame::Leave(d) => Event::Left(d),
            ServerFrame::Rename(r) => Event::Renamed(r),
            ServerFrame::Users(u) => Event::Users(u),
            ServerFrame::Headcount(h) => Event::Headcount(h),
            ServerFrame::RoomJoined(r) => Event::RoomJoined(r),
            ServerFrame::Rooms(r) => Event::Rooms(r),
            ServerFrame::Topic(t) => Event::Topic(t),
            ServerFrame::Bans(b) => Event::Bans(b),
            ServerFrame::Notice(n) => Event::Notice(n),
            ServerFrame::Error(e) => Event::Error(e),
            ServerFrame::Ping { .. } | ServerFrame::Pong { .. } => return None,
        })
    }

    /// The room the event belongs to, for room-scoped events (`None` for
    /// private messages, renames, notices and the connection's state).
    pub fn room(&self) -> Option<&str> {
        match self {
            Event::Welcome(w) => Some(&w.room),
            Event::Message(m) | Event::Action(m) => m.room.as_deref(),
            Event::Replay(r) => r.message.room.as_deref(),
            Event::HistoryEnd(h) => h.room.as_deref(),
            Event::Joined(p) => p.room.as_deref(),
            Event::Left(d) => d.room.as_deref(),
            Event::Users(u) => u.room.as_deref(),
            Event::Headcount(h) => Some(&h.room),
            Event::RoomJoined(r) => Some(&r.room),
            Event::Topic(t) => Some(&t.room),
            Event::Status(_)
            | Event::Private(_)
            | Event::Renamed(_)
            | Event::Rooms(_)
            | Event::Bans(_)
            | Event::Notice(_)
            | Event::Error(_) => None,
        }
    }
}

/// A request for the session's connection task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Write this frame.
    Frame(ClientFrame),
    /// Write these frames, in order: the pieces of a text too long for one
    /// line, queued as one so that nothing comes between them.
    Frames(Vec<ClientFrame>),
    /// Answer `/help` locally, in the event stream.
    Help,
}

/// The sending half of a session: cheap to clone, usable from any thread.
#[derive(Debug, Clone)]
pub struct SessionSender {
    // One sender shared by every clone: each clone of an `mpsc::Sender` gets
    // a slot of its own, which would make the queue's bound meaningless.
    commands: Arc<futures::lock::Mutex<mpsc::Sender<Command>>>,
    shared: Arc<Shared>,
}

/// State the connection task and every sender see.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) connected: AtomicBool,
    next_id: AtomicU64,
    /// The name the server granted, kept current across renames.
    pub(crate) name: std::sync::Mutex<String>,
    /// The rooms the session is in, in the order it joined them, and the
    /// current one: where plain text goes.
    pub(crate) rooms: std::sync::Mutex<Rooms>,
    /// The limits the server announced in its last welcome: long texts
    /// are split to fit its `max_line`.
    pub(crate) limits: std::sync::Mutex<Option<Limits>>,
    /// The newest message delivered per room (by room key), so a replay
    /// does not deliver again what the consumer has.
    pub(crate) seen: std::sync::Mutex<HashMap<String, u64>>,
}

/// The rooms a session is in.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rooms {
    /// Joined rooms, oldest first.
    pub joined: Vec<String>,
    /// Where messages go; `None` after leaving every room.
    pub current: Option<String>,
    /// The room most recently asked to join: rooms answer independently,
    /// so when several joins are in flight, the one asked last becomes
    /// current, as on the server, whatever order the answers take.
    pub wanted: Option<String>,
}

impl Rooms {
    /// Whether `room` (with or without `#`, any case) is joined.
    pub fn contains(&self, room: &str) -> bool {
        let key = room_key(room);
        self.joined.iter().any(|r| room_key(r) == key)
    }

    /// Records a join, which makes the room current unless a later join
    /// is still waiting for its answer.
    pub fn joined(&mut self, room: &str) {
        if !self.contains(room) {
            self.joined.push(room.to_owned());
        }
        match &self.wanted {
            Some(wanted) if room_key(wanted) != room_key(room) => {}
            _ => self.current = Some(room.to_owned()),
        }
    }

    /// Records leaving a room; when it was the current one, the most
    /// recently joined of those left becomes current (the server does the same).
    pub fn left(&mut self, room: &str) {
        let key = room_key(room);
        self.joined.retain(|r| room_key(r) != key);
        if self.current.as_deref().is_some_and(|c| room_key(c) == key) {
            self.current = self.joined.last().cloned();
        }
    }
}

impl Shared {
    pub(crate) fn set_name(&self, name: &str) {
        let mut held = self
            .name
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        name.clone_into(&mut held);
    }

    pub(crate) fn set_limits(&self, limits: Limits) {
        *self
            .limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(limits);
    }

    /// The longest line the server accepts, as it announced it (a server
    /// that announced none, or nonsense, is taken to keep the default).
    pub(crate) fn max_line(&self) -> usize {
        self.limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .map(|l| l.max_line)
            .filter(|&max| max > 0)
            .unwrap_or(DEFAULT_MAX_LINE)
    }

    pub(crate) fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn rooms(&self) -> std::sync::MutexGuard<'_, Rooms> {
        self.rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SessionSender {
    pub(crate) fn new(commands: mpsc::Sender<Command>, shared: Arc<Shared>) -> Self {
        Self {
            commands: Arc::new(futures::lock::Mutex::new(commands)),
            shared,
        }
    }

    /// Whether the session has ended (a busy queue counts as open).
    fn is_closed(&self) -> bool {
        self.commands
            .try_lock()
            .is_some_and(|commands| commands.is_closed())
    }

    async fn enqueue(&self, command: Command) -> Result<(), ChatError> {
        self.commands
            .lock()
            .await
            .send(command)
            .await
            .map_err(|_| ChatError::Closed)
    }

    /// The name this session holds in the room now (it follows `/nick`).
    pub fn name(&self) -> String {
        self.shared
            .name
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The rooms the session is in and the current one.
    pub fn rooms(&self) -> Rooms {
        self.shared.rooms().clone()
    }

    /// The newest sequence number delivered so far per room (by room key,
    /// see [`room_key`]), live or replayed: give it to the next session
    /// with [`SessionConfig::with_seen`] so it does not replay it again.
    pub fn seen(&self) -> HashMap<String, u64> {
        self.shared.seen().clone()
    }

    /// The current room: where [`say`](Self::say) and plain input go.
    pub fn current_room(&self) -> Option<String> {
        self.shared.rooms().current.clone()
    }

    /// Makes a joined room current without asking the server (it is told
    /// with every message, which names its room).
    ///
    /// # Errors
    /// [`ChatError::NotInRoom`] when the session is not in `room`.
    pub fn switch_room(&self, room: &str) -> Result<(), ChatError> {
        let mut rooms = self.shared.rooms();
        let key = room_key(room);
        match rooms.joined.iter().find(|r| room_key(r) == key).cloned() {
            Some(found) => {
                rooms.current = Some(found);
                Ok(())
            }
            None => Err(ChatError::NotInRoom(room.to_owned())),
        }
    }

    /// Whether the session is connected right now.
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }

    fn prepare(&self, input: Input) -> Result<(Command, Option<String>), ChatError> {
        let room = self.current_room();
        self.prepare_in(input, room.as_deref())
    }

    fn prepare_in(
        &self,
        input: Input,
        room: Option<&str>,
    ) -> Result<(Command, Option<String>), ChatError> {
        if input == Input::Help {
            return Ok((Command::Help, None));
        }
        if self.is_closed() {
            return Err(ChatError::Closed);
        }
        // A quit ends a reconnecting session too, so it is always let through.
        if !self.is_connected() && !matches!(input, Input::Quit(_)) {
            return Err(ChatError::NotConnected);
        }
        if let Input::Join(room) = &input {
            self.shared.rooms().wanted = Some(room.clone());
        }
        let Some(frame) = input.to_frame(None, room) else {
            return Ok((Command::Help, None));
        };
        if !input.carries_id() {
            return Ok((Command::Frame(frame), None));
        }
        // A text longer than the server's line limit goes as several
        // messages, each with its own id; the last id is returned.
        let budget = text_budget(&frame, self.shared.max_line());
        let mut frames = Vec::new();
        let mut last_id = None;
        for piece in split_text(input_text(&input), budget) {
            let n = self.shared.next_id.fetch_add(1, Ordering::Relaxed) + 1;
            let id = n.to_string();
            if let Some(frame) = with_text(&input, piece).to_frame(Some(id.clone()), room) {
                frames.push(frame);
                last_id = Some(id);
            }
        }
        let command = match frames.len() {
            1 => Command::Frame(frames.remove(0)),
            _ => Command::Frames(frames),
        };
        Ok((command, last_id))
    }

    /// Sends one input (a message, `/me`, `/msg`, `/nick`, `/who`, `/quit` or
    /// `/help`), waiting if many are queued. Returns the id given to a
    /// message, action or private message; the server echoes it in the
    /// sender's own copy. A text too long for the server's line limit
    /// (`Welcome.limits.max_line`) is sent as several messages of the same
    /// kind, cut after whitespace where possible (see [`crate::split`]),
    /// each with its own id: the one returned is the last piece's.
    ///
    /// # Errors
    /// [`ChatError::NotConnected`] while disconnected, [`ChatError::Closed`]
    /// once the session has ended.
    pub async fn send(&self, input: Input) -> Result<Option<String>, ChatError> {
        let (command, id) = self.prepare(input)?;
        self.enqueue(command).await?;
        Ok(id)
    }

    /// Like [`send`](Self::send) but never waits: for UI threads.
    ///
    /// # Errors
    /// As `send`, plus [`ChatError::Busy`] when the queue is full.
    pub fn try_send(&self, input: Input) -> Result<Option<String>, ChatError> {
        let (command, id) = self.prepare(input)?;
        let Some(mut commands) = self.commands.try_lock() else {
            // Another thread is waiting for room in the queue.
            return Err(ChatError::Busy);
        };
        commands.try_send(command).map_err(|e| {
            if e.is_disconnected() {
                ChatError::Closed
            } else {
                ChatError::Busy
            }
        })?;
        Ok(id)
    }

    /// Sends one input addressed to `room` rather than the current room.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_in(&self, room: &str, input: Input) -> Result<Option<String>, ChatError> {
        let (command, id) = self.prepare_in(input, Some(room))?;
        self.enqueue(command).await?;
        Ok(id)
    }

    /// Joins `room` (creating it when the server allows); it becomes the
    /// current room when the server's [`Event::RoomJoined`] arrives.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn join(&self, room: impl Into<String>) -> Result<(), ChatError> {
        self.send(Input::Join(room.into())).await.map(drop)
    }

    /// Says `text` in `room`; returns the message's id.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn say_in(
        &self,
        room: &str,
        text: impl Into<String>,
    ) -> Result<Option<String>, ChatError> {
        self.send_in(room, Input::Say(text.into())).await
    }

    /// Says `text` to the current room; returns the message's id.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn say(&self, text: impl Into<String>) -> Result<Option<String>, ChatError> {
        self.send(Input::Say(text.into())).await
    }

    /// Sends `text` privately to `to`.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn tell(
        &self,
        to: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<Option<String>, ChatError> {
        self.send(Input::Msg {
            to: to.into(),
            text: text.into(),
        })
        .await
    }

    /// Asks for up to `limit` messages older than sequence number `before`
    /// (the newest without it); they arrive as [`Event::Replay`] events,
    /// oldest first, then one [`Event::HistoryEnd`].
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn history(&self, before: Option<u64>, limit: u32) -> Result<(), ChatError> {
        let room = self.current_room();
        self.history_in(room.as_deref(), before, limit).await
    }

    /// Like [`history`](Self::history), for a given room.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn history_in(
        &self,
        room: Option<&str>,
        before: Option<u64>,
        limit: u32,
    ) -> Result<(), ChatError> {
        if self.is_closed() {
            return Err(ChatError::Closed);
        }
        if !self.is_connected() {
            return Err(ChatError::NotConnected);
        }
        let room = room.map(str::to_owned);
        self.enqueue(Command::Frame(ClientFrame::History {
            room,
            before,
            limit,
        }))
        .await
    }

    /// Leaves the room; the session ends once the quit is written.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn quit(&self, reason: Option<String>) -> Result<(), ChatError> {
        self.send(Input::Quit(reason)).await.map(drop)
    }
}

/// The text a message, action or private message carries.
fn input_text(input: &Input) -> &str {
    match input {
        Input::Say(text) | Input::Me(text) | Input::Msg { text, .. } => text,
        _ => "",
    }
}

/// The same input with another text.
fn with_text(input: &Input, piece: &str) -> Input {
    match input {
        Input::Say(_) => Input::Say(piece.to_owned()),
        Input::Me(_) => Input::Me(piece.to_owned()),
        Input::Msg { to, .. } => Input::Msg {
            to: to.clone(),
            text: piece.to_owned(),
        },
        other => other.clone(),
    }
}

/// The receiving half of a session: every [`Event`], in order. It ends after
/// a final `Status(Disconnected { retry_in: None, .. })`.
#[derive(Debug)]
pub struct EventStream {
    events: mpsc::Receiver<Event>,
}

impl EventStream {
    pub(crate) fn new(events: mpsc::Receiver<Event>) -> Self {
        Self { events }
    }
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        Pin::new(&mut self.events).poll_next(cx)
    }
}

/// A connection to a chat room.
///
/// `connect` returns once the server has granted the name, so a caller knows
/// at once whether it is in the room. The first event of the stream is the
/// [`Event::Welcome`] that granted it.
pub trait ChatSession: Sized + Send {
    /// Connects to `config.addr` and joins as `config.name`.
    ///
    /// # Errors
    /// [`ChatError::Connect`] or [`ChatError::Timeout`] when the server cannot
    /// be reached, [`ChatError::NameRejected`] when the name is taken or
    /// invalid, [`ChatError::Refused`] when the server turns the client away.
    fn connect(
        config: SessionConfig,
    ) -> impl std::future::Future<Output = Result<Self, ChatError>> + Send;

    /// The welcome the server sent: granted name, room, users, limits.
    fn welcome(&self) -> &Welcome;

    /// Splits into a sending half and the stream of events.
    fn split(self) -> (SessionSender, EventStream);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=7).map(|a| b.nominal(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(b.nominal(u32::MAX), Duration::from_secs(30));
        for attempt in 1..10 {
            let d = b.delay(attempt).as_secs_f64();
            let n = b.nominal(attempt).as_secs_f64();
            assert!(d >= n * 0.9 - 1e-9 && d <= n * 1.1 + 1e-9, "{d} vs {n}");
        }
    }

    #[test]
    fn rooms_follow_joins_and_parts() {
        let mut rooms = Rooms::default();
        rooms.joined("lobby");
        rooms.joined("Rust");
        assert_eq!(rooms.current.as_deref(), Some("Rust"));
        assert!(rooms.contains("#rust"));
        rooms.joined("lobby");
        assert_eq!(rooms.joined, ["lobby", "Rust"]);
        rooms.left("#RUST");
        assert_eq!(rooms.current.as_deref(), Some("lobby"));
        rooms.left("lobby");
        assert_eq!(rooms.current, None);
        // Two joins in flight: the one asked last is current, whichever
        // answer comes first.
        rooms.wanted = Some("#b".into());
        rooms.joined("b");
        rooms.joined("a");
        assert_eq!(rooms.current.as_deref(), Some("b"));
        rooms.joined("c");
        assert_eq!(rooms.current.as_deref(), Some("b"));
    }

    #[test]
    fn sender_refuses_while_disconnected_and_numbers_messages() {
        let (tx, mut rx) = mpsc::channel(4);
        let shared = Arc::new(Shared::default());
        let sender = SessionSender::new(tx, shared.clone());
        assert!(matches!(
            sender.try_send(Input::Say("x".into())),
            Err(ChatError::NotConnected)
        ));
        shared.connected.store(true, Ordering::Release);
        assert_eq!(
            sender.try_send(Input::Say("a".into())).unwrap(),
            Some("1".into())
        );
        assert_eq!(sender.try_send(Input::Who(None)).unwrap(), None);
        assert_eq!(
            sender.clone().try_send(Input::Me("b".into())).unwrap(),
            Some("2".into())
        );
        // The channel holds 4 plus one per sender: clones share one sender,
        // so the bound holds however many clones a program makes.
        let results: Vec<_> = (0..10)
            .map(|_| sender.clone().try_send(Input::Who(None)))
            .collect();
        assert!(
            results.iter().any(|r| matches!(r, Err(ChatError::Busy))),
            "{results:?}"
        );
        let first = rx.try_recv().unwrap();
        assert!(matches!(
            first,
            Command::Frame(ClientFrame::Message { ref id, .. }) if id.as_deref() == Some("1")
        ));
    }

    #[test]
    fn long_texts_go_as_several_messages_within_the_line_limit() {
        let (tx, mut rx) = mpsc::channel(4);
        let shared = Arc::new(Shared::default());
        shared.connected.store(true, Ordering::Release);
        shared.set_limits(Limits {
            max_rooms: 0,
            max_line: 200,
            max_name: 32,
            rate_per_sec: 0,
            burst: 0,
        });
        let sender = SessionSender::new(tx, shared);
        let text = "word \"quoted\" é ".repeat(40);
        let id = sender.try_send(Input::Me(text.clone())).expect("queued");
        let Ok(Command::Frames(frames)) = rx.try_recv() else {
            panic!("several frames expected");
        };
        let mut rejoined = String::new();
        let mut ids = Vec::new();
        for frame in &frames {
            let line = crate::codec::encode_frame(frame);
            assert!(line.len() - 1 <= 200, "{} bytes", line.len() - 1);
            let ClientFrame::Action { text, id, .. } = frame else {
                panic!("an action: {frame:?}");
            };
            rejoined.push_str(text);
            ids.push(id.clone());
        }
        assert_eq!(rejoined, text);
        assert!(frames.len() >= 4, "{}", frames.len());
        assert_eq!(id, ids.last().cloned().flatten());
        // Short texts stay one frame.
        sender.try_send(Input::Say("hi".into())).expect("queued");
        assert!(matches!(rx.try_recv(), Ok(Command::Frame(_))));
    }
}
