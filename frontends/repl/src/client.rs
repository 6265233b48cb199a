//! The REPL's connection, shared by both modes: one `chat-core` session at a
//! time (replaced by `/connect`, ended by `/disconnect` and `/quit`), a task
//! that turns its events into lines, and the handling of typed commands.
//!
//! The REPL opens no socket itself; everything goes through `TcpSession`,
//! with the TLS and password settings of [`Access`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_std::future::timeout;
use async_std::task::{self, JoinHandle};
use chat_core::{
    render, sanitize, ChatError, ChatSession, Event, EventStream, Input, Line, LineKind,
    SessionConfig, SessionSender, Status, TcpSession,
};
use futures::channel::oneshot;
use futures::StreamExt;

use crate::access::{self, Access};
use crate::commands::{help, Command};
use crate::state::{lock, Conn, SharedState};

/// How long leaving may take before the REPL gives up waiting for the
/// session to confirm it (the process exits either way).
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where lines go: the terminal above the prompt, or stdout and stderr.
pub trait Output: Send + Sync + 'static {
    /// A line from the session. `me` is the name held now.
    fn event(&self, line: &Line, me: &str);
    /// A line from the REPL itself: help, refused input, failed `/connect`.
    fn local(&self, line: &Line, me: &str);
    /// A message from the room's history (on joining, or for `/history`),
    /// to be shown apart from live ones.
    fn history(&self, line: &Line, me: &str);
}

/// Whether to keep reading input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// The user left.
    Quit,
}

/// Answers the event task must recognise: `/who` replies the user asked
/// for, the one the REPL uses to know that the server has answered
/// everything sent before it, and `/history` answers still to come (the
/// server reads those from its database on the side, so they may arrive
/// after a later `who` answer).
#[derive(Debug, Default)]
struct Pending {
    whos: usize,
    histories: usize,
    barrier: Option<oneshot::Sender<()>>,
    /// The barrier's `who` was answered; it opens once `histories` is 0.
    barrier_answered: bool,
}

impl Pending {
    fn open_barrier_if_done(&mut self) {
        if self.barrier_answered && self.histories == 0 {
            if let Some(barrier) = self.barrier.take() {
                let _ = barrier.send(());
            }
        }
    }
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
        }
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
        let session = loop {
            let config = SessionConfig::new(self.addr.clone(), name.clone())
                .reconnecting()
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
        let (sender, events) = session.split();
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Pending::default();
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
        let who = matches!(input, Input::Who(_));
        let history = matches!(input, Input::History(_));
        if who {
            self.pending().whos += 1;
        }
        if history {
            self.pending().histories += 1;
        }
        let result = session.sender.send(input).await;
        if result.is_err() {
            let mut pending = self.pending();
            pending.whos = pending.whos.saturating_sub(usize::from(who));
            pending.histories = pending.histories.saturating_sub(usize::from(history));
        }
        match result {
            Ok(_) => {}
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

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the server has answered everything sent so far: it
    /// answers a `who` after all that came before it, so the reply to one
    /// more (not shown) marks the point.
    async fn settle(&mut self) {
        let Some(session) = &self.session else { return };
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.pending();
            pending.barrier = Some(tx);
            pending.barrier_answered = false;
        }
        if session.sender.send(Input::Who(None)).await.is_ok() {
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
        let Session { sender, mut pump } = session;
        match sender.send(Input::Quit(reason)).await {
            // Ended already: its last status line has been shown.
            Err(ChatError::Closed) => {
                let _ = timeout(LEAVE_TIMEOUT, &mut pump).await;
                return;
            }
            Ok(_) if timeout(LEAVE_TIMEOUT, &mut pump).await.is_ok() => return,
            _ => {}
        }
        // Stuck (say, in a connection attempt that takes its time): there is
        // nobody to say goodbye to. Dropping the event stream makes the
        // session stop at its next step.
        drop(sender);
        pump.cancel().await;
        self.local_status(Status::Disconnected {
            reason: "you left".to_owned(),
            retry_in: None,
        });
    }
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
            let mut pending = pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.whos = 0;
            pending.histories = 0;
            pending.open_barrier_if_done();
        }
        if matches!(event, Event::Users(_)) {
            let mut pending = pending.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.whos > 0 {
                pending.whos -= 1;
            } else if pending.barrier.is_some() && !pending.barrier_answered {
                pending.barrier_answered = true;
                pending.open_barrier_if_done();
                continue;
            }
        }
        let me = {
            let mut state = lock(&state);
            state.apply(&event);
            state.me.clone()
        };
        if let Some(line) = render(&event) {
            if matches!(event, Event::Replay(_)) {
                out.history(&line, &me);
            } else {
                out.event(&line, &me);
            }
        }
        if matches!(event, Event::HistoryEnd(_)) {
            // After its line is out, so a script's last /history is complete.
            let mut pending = pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.histories = pending.histories.saturating_sub(1);
            pending.open_barrier_if_done();
        }
    }
}
