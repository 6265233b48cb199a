//! The REPL's connection, shared by both modes: one `chat-core` session at a
//! time (replaced by `/connect`, ended by `/disconnect` and `/quit`), a task
//! that turns its events into lines, and the handling of typed commands.
//!
//! The REPL opens no socket itself; everything goes through `TcpSession`,
//! with the TLS and password settings of [`Access`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_std::future::timeout;
use async_std::task::{self, JoinHandle};
use chat_core::names::{name_key, parse_room, room_key};
use chat_core::protocol::ErrorCode;
use chat_core::{
    render, sanitize, ChatError, ChatSession, Event, EventStream, Input, Line, LineKind,
    SessionConfig, SessionSender, Status, TcpSession,
};
use futures::channel::oneshot;
use futures::StreamExt;

use crate::access::{self, Access};
use crate::commands::{help, Command};
use crate::shown::{absorb, Shown};
use crate::state::{lock, Conn, SharedState};

/// How long leaving may take before the REPL gives up waiting for the
/// session to confirm it (the process exits either way).
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a `/join` or `/part` waits for the server's answer before the
/// next line is read anyway.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Where lines go: the terminal above the prompt, or stdout and stderr.
/// `me` is the name held now; `current` the current room to show a line
/// against (a line about another room is prefixed with its room).
pub trait Output: Send + Sync + 'static {
    /// A line from the session.
    fn event(&self, line: &Line, me: &str, current: Option<&str>);
    /// A line from the REPL itself: help, refused input, failed `/connect`.
    fn local(&self, line: &Line, me: &str);
    /// A message from a room's history (on joining, or for `/history`),
    /// to be shown apart from live ones.
    fn history(&self, line: &Line, me: &str, current: Option<&str>);
}

/// Whether to keep reading input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// The user left.
    Quit,
}

/// Answers the event task must recognise: `/who` and `/rooms` replies the
/// user asked for, the ones the REPL uses to know that the server has
/// answered everything sent before them, `/history` answers still to come
/// (the server reads those from its database on the side, so they may
/// arrive after a later `who` answer), and the answer to a `/join` or
/// `/part`.
#[derive(Debug, Default)]
struct Pending {
    /// The rooms (by key) of the `/who` answers the user asked for.
    whos: Vec<String>,
    /// `/rooms` answers the user asked for.
    room_lists: usize,
    histories: usize,
    barrier: Option<Barrier>,
    room_change: Option<RoomChange>,
}

/// Waiting for hidden answers: until the server has answered everything
/// sent so far.
#[derive(Debug)]
struct Barrier {
    /// The barrier's `rooms` request is unanswered.
    directory: bool,
    /// The rooms (by key) whose barrier `who` is still unanswered.
    rooms: Vec<String>,
    done: oneshot::Sender<()>,
}

/// A `/join` or `/part` waiting for its answer: until it comes, the next
/// line would go to (and the prompt would show) the room before it.
#[derive(Debug)]
struct RoomChange {
    expect: Expect,
    done: oneshot::Sender<()>,
}

/// The answer that ends a [`RoomChange`] (an error or a lost connection
/// ends it too).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// The server's `room_joined` for this room key.
    Joined(String),
    /// Our own `leave` from this room key.
    Left(String),
}

impl Pending {
    fn open_barrier_if_done(&mut self) {
        if self.histories == 0
            && self
                .barrier
                .as_ref()
                .is_some_and(|b| !b.directory && b.rooms.is_empty())
        {
            if let Some(barrier) = self.barrier.take() {
                let _ = barrier.done.send(());
            }
        }
    }

    /// Whether a `/who` answer for `room` belongs to the barrier (and is
    /// not shown). The user's own questions are answered first.
    fn take_who(&mut self, room: &str) -> bool {
        if let Some(i) = self.whos.iter().position(|r| r == room) {
            self.whos.remove(i);
            return false;
        }
        let Some(barrier) = &mut self.barrier else {
            return false;
        };
        let Some(i) = barrier.rooms.iter().position(|r| r == room) else {
            return false;
        };
        barrier.rooms.remove(i);
        self.open_barrier_if_done();
        true
    }

    /// Whether a `/rooms` answer belongs to the barrier (and is not shown).
    /// The server as a whole answers in order: the user's come first.
    fn take_room_list(&mut self) -> bool {
        if self.room_lists > 0 {
            self.room_lists -= 1;
            return false;
        }
        match &mut self.barrier {
            Some(barrier) if barrier.directory => {
                barrier.directory = false;
                self.open_barrier_if_done();
                true
            }
            _ => false,
        }
    }

    /// Ends a waiting `/join` or `/part` when `event` answers it.
    fn answer_room_change(&mut self, event: &Event, me: &str) {
        let answered = match (&event, self.room_change.as_ref().map(|c| &c.expect)) {
            (_, None) => false,
            (Event::Error(_) | Event::Status(Status::Disconnected { .. }), Some(_)) => true,
            (Event::RoomJoined(info), Some(Expect::Joined(key))) => room_key(&info.room) == *key,
            (Event::Left(d), Some(Expect::Left(key))) => {
                name_key(&d.name) == name_key(me)
                    && d.room.as_deref().is_none_or(|room| room_key(room) == *key)
            }
            _ => false,
        };
        if answered {
            if let Some(change) = self.room_change.take() {
                let _ = change.done.send(());
            }
        }
    }
}

/// Locks the pending answers. A panic elsewhere while holding the lock
/// leaves them no worse than stale, so poisoning is ignored.
fn lock_pending(pending: &Mutex<Pending>) -> MutexGuard<'_, Pending> {
    pending.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The live session.
#[derive(Debug)]
struct Session {
    sender: SessionSender,
    pump: JoinHandle<()>,
}

/// The REPL's side of the conversation.
pub struct Client {
    addr: String,
    access: Access,
    state: SharedState,
    out: Arc<dyn Output>,
    pending: Arc<Mutex<Pending>>,
    session: Option<Session>,
    /// Before quitting, wait until the server has answered what was sent
    /// (piped mode: a script's last lines still get their replies printed).
    settle_before_quit: bool,
    /// The server of the last session and the newest message it delivered
    /// per room: `/connect` to the same server shows only history past it.
    seen: Option<(String, HashMap<String, u64>)>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr)
            .field("access", &self.access)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client that will connect to `addr` under the name in `state`.
    pub fn new(addr: String, access: Access, state: SharedState, out: Arc<dyn Output>) -> Self {
        Self {
            addr,
            access,
            state,
            out,
            pending: Arc::default(),
            session: None,
            settle_before_quit: false,
            seen: None,
        }
    }

    /// What the REPL knows, kept up to date from the session's events.
    pub fn state(&self) -> &SharedState {
        &self.state
    }

    /// Waits for the server's answers to everything sent before quitting.
    #[must_use]
    pub fn settling_before_quit(mut self) -> Self {
        self.settle_before_quit = true;
        self
    }

    /// Connects (after leaving any current session), to `addr` if given,
    /// otherwise to the last address, under the current name, with the same
    /// TLS and password settings every time. When the room wants a password
    /// that was not given and the terminal can be asked, asks once (without
    /// echo) and tries again.
    ///
    /// # Errors
    /// As [`TcpSession::connect`]; the client is then disconnected.
    pub async fn connect(&mut self, addr: Option<String>) -> Result<(), ChatError> {
        self.leave(None).await;
        if let Some(addr) = addr {
            self.addr = addr;
        }
        let name = lock(&self.state).me.clone();
        self.local_status(Status::Connecting {
            addr: self.addr.clone(),
            attempt: 1,
        });
        let mut asked = false;
        // Sequence numbers are one server's: another starts afresh.
        let seen = match &self.seen {
            Some((addr, seen)) if *addr == self.addr => seen.clone(),
            _ => HashMap::new(),
        };
        let session = loop {
            let config = SessionConfig::new(self.addr.clone(), name.clone())
                .reconnecting()
                .with_seen(seen.clone())
                .with_client(format!("chat-repl/{}", env!("CARGO_PKG_VERSION")));
            match TcpSession::connect(self.access.apply(config)).await {
                Ok(session) => break session,
                Err(e)
                    if access::is_bad_password(&e)
                        && self.access.password.is_none()
                        && self.access.can_ask
                        && !asked =>
                {
                    asked = true;
                    self.local(LineKind::Error, &e.to_string());
                    let Some(password) = access::ask(format!("password for {}: ", self.addr)).await
                    else {
                        lock(&self.state).conn = Conn::Disconnected;
                        return Err(e);
                    };
                    self.access.password = Some(password);
                    self.access.source = Some("the terminal".to_owned());
                }
                Err(e) => {
                    if asked && access::is_bad_password(&e) {
                        // A mistyped password is asked for again next time.
                        self.access.password = None;
                        self.access.source = None;
                    }
                    lock(&self.state).conn = Conn::Disconnected;
                    return Err(e);
                }
            }
        };
        {
            // The first prompt is drawn before the event task gets to the
            // welcome, and keeps its text until Enter: it must already name
            // the room. The welcome event then finds the same room.
            let mut state = lock(&self.state);
            let me = session.welcome().name.clone();
            state
                .rooms
                .apply(&Event::Welcome(session.welcome().clone()), &me);
        }
        let (sender, events) = session.split();
        *self.pending() = Pending::default();
        let pump = task::spawn(pump(
            events,
            self.state.clone(),
            self.pending.clone(),
            self.out.clone(),
        ));
        self.session = Some(Session { sender, pump });
        Ok(())
    }

    /// Acts on one typed command. `/clear` is the caller's business.
    pub async fn handle(&mut self, command: Command) -> Flow {
        match command {
            Command::Chat(Input::Quit(reason)) => {
                if self.settle_before_quit {
                    self.settle().await;
                }
                self.leave(reason).await;
                return Flow::Quit;
            }
            Command::Chat(input) => self.send(input).await,
            Command::Help => {
                for text in help() {
                    self.local(LineKind::Notice, &text);
                }
            }
            Command::Connect(addr) => {
                if let Err(e) = self.connect(addr).await {
                    self.local(LineKind::Error, &self.explain(&e));
                }
            }
            Command::Disconnect => {
                if self.session.is_some() {
                    self.leave(None).await;
                } else {
                    self.local(LineKind::Error, "not connected (/connect to join again)");
                }
            }
            Command::OperAsk => self.oper().await,
            Command::Clear => {}
        }
        Flow::Continue
    }

    /// A failed connection as one line for people.
    pub fn explain(&self, err: &ChatError) -> String {
        self.access.explain(err)
    }

    /// Leaves for good: what `/quit` and end of input do.
    pub async fn quit(&mut self) {
        let _ = self.handle(Command::Chat(Input::Quit(None))).await;
    }

    /// Shows a line of the REPL's own.
    pub fn local(&self, kind: LineKind, text: &str) {
        let line = Line {
            room: None,
            kind,
            time: None,
            from: None,
            to: None,
            text: sanitize(text),
        };
        let me = lock(&self.state).me.clone();
        self.out.local(&line, &me);
    }

    fn local_status(&self, status: Status) {
        let event = Event::Status(status);
        let me = {
            let mut state = lock(&self.state);
            state.apply(&event);
            state.me.clone()
        };
        if let Some(line) = render(&event) {
            self.out.local(&line, &me);
        }
    }

    /// `/oper` typed alone: the password is asked for without echo, so it
    /// is neither on screen nor in the input history.
    async fn oper(&mut self) {
        if !self.access.can_ask {
            self.local(LineKind::Error, "usage: /oper PASSWORD");
            return;
        }
        match access::ask("operator password: ".to_owned()).await {
            Some(password) => self.send(Input::Oper(password)).await,
            None => self.local(LineKind::Error, "no password typed: nothing was sent"),
        }
    }

    async fn send(&mut self, input: Input) {
        let Some(session) = &self.session else {
            if let Input::Nick(name) = input {
                // Out of the room a new name is only a wish, for /connect
                // (the way out when the old one was taken meanwhile).
                self.local(
                    LineKind::Notice,
                    &format!("/connect will ask for the name {name}"),
                );
                lock(&self.state).me = name;
                return;
            }
            self.local(
                LineKind::Error,
                "not connected: nothing was sent (/connect to join again)",
            );
            return;
        };
        let sender = session.sender.clone();
        // Lines go to the current room as the REPL shows it (the prompt),
        // not as chat-core last heard of it: the two differ while answers
        // are on their way, and while chat-core joins rooms again after a
        // reconnection.
        let current = lock(&self.state).rooms.current().map(str::to_owned);
        let expect = match check(&input, current.as_deref()) {
            Ok(expect) => expect,
            Err(refusal) => {
                self.local(LineKind::Error, &refusal);
                return;
            }
        };
        // Registered before sending, so the event task cannot miss the answer.
        let who = match &input {
            Input::Who(room) => Some(
                room.as_deref()
                    .or(current.as_deref())
                    .map(room_key)
                    .unwrap_or_default(),
            ),
            _ => None,
        };
        let history = matches!(input, Input::History(_));
        let room_list = input == Input::Rooms;
        if let Some(room) = &who {
            self.pending().whos.push(room.clone());
        }
        if room_list {
            self.pending().room_lists += 1;
        }
        if history {
            self.pending().histories += 1;
        }
        let answered = expect.map(|expect| {
            if let Input::Join(room) = &input {
                lock(&self.state).rooms.asked_to_join(room);
            }
            let (done, answered) = oneshot::channel();
            self.pending().room_change = Some(RoomChange { expect, done });
            answered
        });
        let joining = match &input {
            Input::Join(room) => Some(room.clone()),
            _ => None,
        };
        let result = match &current {
            Some(room) => sender.send_in(room, input).await,
            None => sender.send(input).await,
        };
        if let (Err(_), Some(room)) = (&result, &joining) {
            lock(&self.state).rooms.join_not_sent(room);
        }
        if result.is_err() {
            let mut pending = self.pending();
            if let Some(room) = &who {
                if let Some(i) = pending.whos.iter().rposition(|r| r == room) {
                    pending.whos.remove(i);
                }
            }
            pending.histories = pending.histories.saturating_sub(usize::from(history));
            pending.room_lists = pending.room_lists.saturating_sub(usize::from(room_list));
            pending.room_change = None;
        }
        match result {
            Ok(_) => {
                if let Some(answered) = answered {
                    // The next line goes to the room this one leaves us in,
                    // and the next prompt names it. A server that never
                    // answers only delays the prompt.
                    let _ = timeout(ANSWER_TIMEOUT, answered).await;
                    self.pending().room_change = None;
                }
            }
            Err(ChatError::NotConnected) => self.local(
                LineKind::Error,
                "not connected: nothing was sent (reconnecting by itself; /connect tries now)",
            ),
            Err(ChatError::Closed) => self.local(
                LineKind::Error,
                "the session has ended: nothing was sent (/connect to join again)",
            ),
            Err(e) => self.local(LineKind::Error, &e.to_string()),
        }
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        lock_pending(&self.pending)
    }

    /// Waits until the server has answered everything sent so far. Each
    /// part of the server answers in order: the server as a whole (names,
    /// private messages, topics, the room list), which hands a room what is
    /// for it before it answers the next request, and each room. So first one
    /// more `rooms` (not shown), and once it is answered, one more `who` per
    /// joined room (not shown either): when those are answered too, so is
    /// everything before them.
    async fn settle(&mut self) {
        let Some(session) = &self.session else { return };
        let sender = session.sender.clone();
        let (tx, rx) = oneshot::channel();
        self.pending().barrier = Some(Barrier {
            directory: true,
            rooms: Vec::new(),
            done: tx,
        });
        if sender.send(Input::Rooms).await.is_err() || timeout(LEAVE_TIMEOUT, rx).await.is_err() {
            self.pending().barrier = None;
            return;
        }
        let rooms = sender.rooms().joined;
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.pending();
            pending.barrier = Some(Barrier {
                directory: false,
                rooms: rooms.iter().map(|r| room_key(r)).collect(),
                done: tx,
            });
            // In no room there is nothing more to ask, only histories to
            // wait for.
            pending.open_barrier_if_done();
        }
        let mut sent = true;
        for room in &rooms {
            sent &= sender.send(Input::Who(Some(room.clone()))).await.is_ok();
        }
        if sent {
            let _ = timeout(LEAVE_TIMEOUT, rx).await;
        }
        self.pending().barrier = None;
    }

    /// Ends the current session, if any: sends a quit and waits until the
    /// session reports that it closed the connection. Core takes a quit
    /// while it is reconnecting too, and then ends the session at once.
    async fn leave(&mut self, reason: Option<String>) {
        let Some(session) = self.session.take() else {
            return;
        };
        let Session { sender, pump } = session;
        let seen_by = sender.clone();
        if !quit_session(sender, pump, reason).await {
            self.local_status(Status::Disconnected {
                reason: "you left".to_owned(),
                retry_in: None,
            });
        }
        // Read once the session has stopped delivering: everything shown
        // is counted.
        self.seen = Some((self.addr.clone(), seen_by.seen()));
    }
}

/// Sends the quit and waits for the session to end; `false` when it was
/// stuck (say, in a connection attempt that takes its time) and had to be
/// dropped without its last status line.
async fn quit_session(
    sender: SessionSender,
    mut pump: JoinHandle<()>,
    reason: Option<String>,
) -> bool {
    match sender.send(Input::Quit(reason)).await {
        // Ended already: its last status line has been shown.
        Err(ChatError::Closed) => {
            let _ = timeout(LEAVE_TIMEOUT, &mut pump).await;
            return true;
        }
        Ok(_) if timeout(LEAVE_TIMEOUT, &mut pump).await.is_ok() => return true,
        _ => {}
    }
    // There is nobody to say goodbye to. Dropping the event stream makes
    // the session stop at its next step.
    drop(sender);
    pump.cancel().await;
    false
}

/// Turns the session's events into lines until the session ends.
async fn pump(
    mut events: EventStream,
    state: SharedState,
    pending: Arc<Mutex<Pending>>,
    out: Arc<dyn Output>,
) {
    while let Some(event) = events.next().await {
        if matches!(event, Event::Status(Status::Disconnected { .. })) {
            // Questions asked on a lost connection are never answered.
            let mut waiting = lock_pending(&pending);
            waiting.whos.clear();
            waiting.room_lists = 0;
            waiting.histories = 0;
            if let Some(barrier) = &mut waiting.barrier {
                barrier.directory = false;
                barrier.rooms.clear();
            }
            waiting.open_barrier_if_done();
        }
        if let Event::Error(e) = &event {
            if matches!(e.code, ErrorCode::NotInRoom | ErrorCode::InvalidRoom) {
                // A `/who` of a room we are not in may be refused rather
                // than answered: those questions are over.
                let state = lock(&state);
                lock_pending(&pending)
                    .whos
                    .retain(|room| state.rooms.is_joined(room));
            }
        }
        if matches!(event, Event::Rooms(_)) && lock_pending(&pending).take_room_list() {
            continue;
        }
        if let Event::Users(u) = &event {
            let room = lock(&state).room_key_of(u.room.as_deref());
            if lock_pending(&pending).take_who(&room) {
                continue;
            }
        }
        let (me, shown) = {
            let mut state = lock(&state);
            let shown = absorb(&mut state, &event);
            (state.me.clone(), shown)
        };
        for Shown {
            line,
            current,
            history,
        } in &shown
        {
            if *history {
                out.history(line, &me, current.as_deref());
            } else {
                out.event(line, &me, current.as_deref());
            }
        }
        let mut waiting = lock_pending(&pending);
        // After the lines are out, so whoever waits sees them first.
        waiting.answer_room_change(&event, &me);
        if matches!(event, Event::HistoryEnd(_)) {
            // So a script's last /history is complete.
            waiting.histories = waiting.histories.saturating_sub(1);
            waiting.open_barrier_if_done();
        }
    }
}

/// Refuses what cannot be sent as typed (a bad room name, `/part` in no
/// room), and says which answer a `/join` or `/part` waits for. `current`
/// is the room plain input goes to.
fn check(input: &Input, current: Option<&str>) -> Result<Option<Expect>, String> {
    let room = |room: &str| parse_room(room).map(room_key).map_err(|e| e.to_string());
    match input {
        Input::Join(name) => room(name).map(|key| Some(Expect::Joined(key))),
        Input::Part {
            room: Some(name), ..
        } => room(name).map(|key| Some(Expect::Left(key))),
        Input::Part { room: None, .. } => match current {
            Some(current) => Ok(Some(Expect::Left(room_key(current)))),
            None => Err("you are in no room: /join ROOM first".to_owned()),
        },
        Input::Who(Some(name)) => room(name).map(|_| None),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::{Departure, ErrorFrame, RoomInfo};

    #[test]
    fn join_and_part_wait_for_their_answer_and_bad_rooms_are_refused() {
        assert_eq!(
            check(&Input::Join("#Rust".into()), Some("lobby")),
            Ok(Some(Expect::Joined("rust".into())))
        );
        assert_eq!(
            check(
                &Input::Part {
                    room: None,
                    reason: Some("bye".into())
                },
                Some("Lobby")
            ),
            Ok(Some(Expect::Left("lobby".into())))
        );
        assert_eq!(
            check(
                &Input::Part {
                    room: Some("#go".into()),
                    reason: None
                },
                Some("lobby")
            ),
            Ok(Some(Expect::Left("go".into())))
        );
        assert_eq!(
            check(
                &Input::Part {
                    room: None,
                    reason: None
                },
                None
            ),
            Err("you are in no room: /join ROOM first".into())
        );
        let bad = check(&Input::Join("no/slashes".into()), None).expect_err("refused");
        assert!(bad.contains("use letters, digits, _ and -"), "{bad}");
        assert!(check(&Input::Who(Some("#".into())), None).is_err());
        assert_eq!(check(&Input::Who(Some("#rust".into())), None), Ok(None));
        assert_eq!(check(&Input::Say("hi".into()), None), Ok(None));
    }

    #[test]
    fn a_room_change_ends_with_its_answer_or_any_error() {
        let waiting = |expect: Expect| {
            let (done, answered) = oneshot::channel();
            let pending = Pending {
                room_change: Some(RoomChange { expect, done }),
                ..Pending::default()
            };
            (pending, answered)
        };
        let joined = |room: &str| {
            Event::RoomJoined(RoomInfo {
                room: room.into(),
                topic: None,
                users: Vec::new(),
            })
        };
        let (mut pending, mut answered) = waiting(Expect::Joined("rust".into()));
        pending.answer_room_change(&joined("lobby"), "al");
        assert_eq!(answered.try_recv(), Ok(None), "another room's answer");
        pending.answer_room_change(&joined("Rust"), "al");
        assert_eq!(answered.try_recv(), Ok(Some(())));

        let (mut pending, mut answered) = waiting(Expect::Left("rust".into()));
        let left = |name: &str| {
            Event::Left(Departure {
                room: Some("rust".into()),
                time: 0,
                name: name.into(),
                reason: "part".into(),
            })
        };
        pending.answer_room_change(&left("bob"), "al");
        assert_eq!(answered.try_recv(), Ok(None), "someone else leaving");
        pending.answer_room_change(&left("AL"), "al");
        assert_eq!(answered.try_recv(), Ok(Some(())));

        let (mut pending, mut answered) = waiting(Expect::Joined("rust".into()));
        pending.answer_room_change(
            &Event::Error(ErrorFrame {
                code: ErrorCode::TooManyRooms,
                message: "too many rooms".into(),
                id: None,
            }),
            "al",
        );
        assert_eq!(answered.try_recv(), Ok(Some(())));
    }

    #[test]
    fn who_answers_go_to_the_user_first_then_to_the_barrier() {
        let (done, mut opened) = oneshot::channel();
        let mut pending = Pending {
            whos: vec!["rust".into()],
            barrier: Some(Barrier {
                directory: false,
                rooms: vec!["lobby".into(), "rust".into()],
                done,
            }),
            ..Pending::default()
        };
        assert!(!pending.take_who("rust"), "the user's /who is shown");
        assert!(pending.take_who("rust"), "then the barrier's is not");
        assert!(!pending.take_who("go"), "nobody asked: shown");
        assert_eq!(opened.try_recv(), Ok(None));
        assert!(pending.take_who("lobby"));
        assert_eq!(opened.try_recv(), Ok(Some(())));
    }

    #[test]
    fn the_barrier_takes_the_room_list_after_the_user_s() {
        let (done, mut opened) = oneshot::channel();
        let mut pending = Pending {
            room_lists: 1,
            histories: 1,
            barrier: Some(Barrier {
                directory: true,
                rooms: Vec::new(),
                done,
            }),
            ..Pending::default()
        };
        assert!(!pending.take_room_list(), "the user's /rooms is shown");
        assert!(pending.take_room_list(), "then the barrier's is not");
        assert_eq!(opened.try_recv(), Ok(None), "a /history still to come");
        pending.histories = 0;
        pending.open_barrier_if_done();
        assert_eq!(opened.try_recv(), Ok(Some(())));
        assert!(!pending.take_room_list(), "nobody waits: shown");
    }
}
