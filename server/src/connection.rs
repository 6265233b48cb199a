//! One client's connection: a reader that turns its bytes into requests for
//! the directory and its rooms, and a writer that drains its outbox into the
//! socket.
//!
//! Everything a single client can get wrong — oversized lines, bad UTF-8,
//! malformed frames, control characters, floods, silence — is answered here,
//! to that client alone, before anything reaches a room.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_std::channel::Sender;
use chat_core::codec::{decode_client_frame, is_structured_hello, DecodeError};
use chat_core::error::describe_io;
use chat_core::input::{help_lines, parse_input, Input, InputError};
use chat_core::names::{parse_room, validate_text, TextError};
use chat_core::protocol::{
    ClientFrame, ErrorCode, ServerFrame, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION,
};
use futures::channel::oneshot;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::directory::{ClientId, Request, ToDirectory};
use crate::irc::gateway::Registration;
use crate::membership::Membership;
use crate::rate::{FloodGuard, Verdict};
use crate::room::ToRoom;
use crate::source::{Arrived, Source};
use crate::want::Want;
use crate::wire::{self, Mode};

/// The banner: the first line every client gets.
pub fn banner(room: &str) -> String {
    format!("* welcome to room \"{room}\" — type your name and press Enter")
}

/// Where the connection is in its life.
pub(crate) enum Phase {
    /// Waiting for the first line, which decides the mode.
    New,
    /// Mode known, no name granted yet.
    Naming(Mode),
    /// Plain mode: a name was given, the room's password comes next.
    Password(String),
    /// In the room.
    Named(Mode),
}

/// What handling a line decided.
pub(crate) enum Flow {
    Continue,
    /// Close the connection, with this reason.
    Close(String),
}

/// The reading half of one client.
pub struct Reader {
    pub(crate) id: ClientId,
    peer: SocketAddr,
    /// Whether the room's password was given (or none is needed).
    pub(crate) admitted: bool,
    source: Source,
    directory: Sender<ToDirectory>,
    pub(crate) config: Arc<Config>,
    pub(crate) phase: Phase,
    bucket: Option<FloodGuard>,
    /// The protocol version a structured client said it speaks.
    version: u32,
    pub(crate) rooms: Membership,
    /// The name granted, for IRC numerics, which name their reader.
    pub(crate) name: Option<String>,
    /// An IRC client's registration so far.
    pub(crate) irc: Registration,
}

impl Reader {
    pub fn new(
        id: ClientId,
        peer: SocketAddr,
        source: Source,
        directory: Sender<ToDirectory>,
        config: Arc<Config>,
        rooms: Membership,
    ) -> Self {
        Self {
            id,
            peer,
            admitted: config.password.is_none(),
            source,
            directory,
            version: PROTOCOL_VERSION,
            rooms,
            phase: Phase::New,
            bucket: config.rate_limit.map(FloodGuard::new),
            config,
            name: None,
            irc: Registration::default(),
        }
    }

    /// A reader for the IRC listener: its first line is IRC, not a name.
    pub fn speaking_irc(mut self) -> Self {
        self.phase = Phase::Naming(Mode::Irc(wire::IrcCaps::default()));
        self
    }

    /// A reader for a transport that carries only the structured protocol
    /// (WebSocket): its first frame must be a hello, and it gets no banner.
    pub fn speaking_structured(mut self) -> Self {
        self.phase = Phase::Naming(Mode::Structured);
        self
    }

    /// Reads until the client leaves, then tells the directory why (and an
    /// IRC client too, through the directory, so that it follows the
    /// reader's last lines).
    ///
    /// This is the connection's task for as long as it lives, so only what
    /// waiting for input needs is held inline; everything rarer (replies,
    /// timeouts, the goodbye) is boxed while it runs. A task is as large as
    /// its largest state for its whole life.
    ///
    /// It borrows the reader rather than taking it: an `async fn` keeps an
    /// argument taken by value and the local it is moved into side by side,
    /// which would hold the whole `Reader` twice.
    pub async fn serve(&mut self, irc: bool) {
        let reason = self.read_loop().await;
        Box::pin(self.gone(reason, irc)).await;
    }

    async fn gone(&self, reason: String, irc: bool) {
        if self.source.buffered() > 0 {
            let (id, peer, bytes) = (self.id, self.peer, self.source.buffered());
            debug!(client = id, %peer, bytes, "partial line dropped");
        }
        let id = self.id;
        if irc {
            let line = wire::irc_closing(&format!("Closing link: {reason}"));
            let _ = self.directory.send(ToDirectory::Direct { id, line }).await;
        }
        let _ = self.directory.send(ToDirectory::Gone { id, reason }).await;
    }

    async fn read_loop(&mut self) -> String {
        let started = Instant::now();
        let mut pinged = false;
        // One timer for every read, not a new one each (see `deadline`).
        let mut deadline = crate::deadline::Deadline::default();
        loop {
            let wait = match self.phase {
                Phase::New | Phase::Naming(_) | Phase::Password(_) => {
                    match self.config.name_timeout.checked_sub(started.elapsed()) {
                        Some(left) => Some(left),
                        None => return Box::pin(self.timed_out()).await,
                    }
                }
                Phase::Named(Mode::Structured | Mode::Irc(_)) if pinged => Some(
                    self.config
                        .idle_timeout
                        .saturating_sub(self.config.ping_interval)
                        .max(Duration::from_millis(1)),
                ),
                Phase::Named(Mode::Structured | Mode::Irc(_)) => Some(self.config.ping_interval),
                Phase::Named(Mode::Plain) => None,
            };
            let read = self.source.fill();
            let n = match wait {
                Some(wait) => match deadline.within(wait, read).await {
                    Ok(result) => result,
                    Err(_) => match self.phase {
                        Phase::Named(_) if !pinged => {
                            pinged = true;
                            Box::pin(self.push(wire::ping(self.mode()))).await;
                            continue;
                        }
                        Phase::Named(_) => return "ping timeout".to_owned(),
                        _ => return Box::pin(self.timed_out()).await,
                    },
                },
                None => read.await,
            };
            let tls_hello = match n {
                Ok(Arrived::Closed) => return "closed by peer".to_owned(),
                Ok(Arrived::Input { tls_hello }) => tls_hello,
                // Keepalive probes went unanswered: the peer is gone.
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return "connection lost (keepalive)".to_owned()
                }
                Err(e) => return format!("error: {}", describe_io(&e)),
            };
            pinged = false;
            if matches!(self.phase, Phase::New) && tls_hello && self.config.tls.is_none() {
                // The client reads our banner as a broken TLS record and says so.
                return "TLS handshake on a plain port".to_owned();
            }
            while let Some(line) = self.source.next_line() {
                let flow = match line {
                    // Boxed: handling a line takes far more state than
                    // waiting for one, and a task is as large as its
                    // largest state for as long as it lives.
                    Ok(line) => Box::pin(self.on_line(line)).await,
                    Err(e) => {
                        Box::pin(self.refuse_undecodable(&e)).await;
                        Flow::Continue
                    }
                };
                if let Flow::Close(reason) = flow {
                    return reason;
                }
            }
            self.source.shrink();
        }
    }

    async fn timed_out(&mut self) -> String {
        let secs = self.config.name_timeout.as_secs_f64();
        let message = format!("no name given within {secs} s; closing");
        self.push(wire::error(self.mode(), ErrorCode::NotNamed, message, None))
            .await;
        format!("no name within {secs} s")
    }

    pub(crate) fn mode(&self) -> Mode {
        match self.phase {
            Phase::New | Phase::Password(_) => Mode::Plain,
            Phase::Naming(mode) | Phase::Named(mode) => mode,
        }
    }

    /// Sends a line to this client alone, through the directory.
    pub(crate) async fn push(&self, line: bytes::Bytes) {
        let _ = self
            .directory
            .send(ToDirectory::Direct { id: self.id, line })
            .await;
    }

    pub(crate) async fn refuse(
        &self,
        code: ErrorCode,
        message: impl Into<String>,
        id: Option<String>,
    ) {
        let me = self.me();
        let about = self.irc.about.as_deref();
        let line = wire::error_about(self.mode(), &me, code, message, id, about);
        self.push(line).await;
    }

    async fn refuse_undecodable(&self, error: &DecodeError) {
        let (code, message) = match error {
            DecodeError::LineTooLong { max } => (
                ErrorCode::LineTooLong,
                format!("line too long (max {max} bytes)"),
            ),
            DecodeError::InvalidUtf8 { .. } => (
                ErrorCode::InvalidUtf8,
                "line is not valid UTF-8; nothing was sent".to_owned(),
            ),
            DecodeError::Malformed(why) => (ErrorCode::BadFrame, format!("malformed frame: {why}")),
        };
        self.refuse(code, message, None).await;
    }

    async fn on_line(&mut self, line: String) -> Flow {
        match self.phase {
            Phase::New if is_structured_hello(&line) => {
                self.phase = Phase::Naming(Mode::Structured);
                self.on_structured(&line).await
            }
            Phase::New => {
                self.phase = Phase::Naming(Mode::Plain);
                self.on_plain(&line).await
            }
            Phase::Naming(Mode::Plain) | Phase::Named(Mode::Plain) => self.on_plain(&line).await,
            Phase::Password(_) => self.on_password(&line).await,
            Phase::Naming(Mode::Structured) | Phase::Named(Mode::Structured) => {
                self.on_structured(&line).await
            }
            Phase::Naming(Mode::Irc(_)) | Phase::Named(Mode::Irc(_)) => self.on_irc(&line).await,
        }
    }

    async fn on_plain(&mut self, line: &str) -> Flow {
        if let Phase::Naming(_) = self.phase {
            let name = line.trim();
            return match parse_input(name) {
                Ok(Input::Quit(_)) => Flow::Close("quit before naming".to_owned()),
                Ok(Input::Help) => {
                    self.push(wire::notice(
                        Mode::Plain,
                        "type your name first, then /help",
                    ))
                    .await;
                    Flow::Continue
                }
                _ if !self.admitted => {
                    self.phase = Phase::Password(name.to_owned());
                    let prompt = format!(
                        "room \"{}\" needs a password: type it and press Enter",
                        self.config.default_room
                    );
                    self.push(wire::notice(Mode::Plain, prompt)).await;
                    Flow::Continue
                }
                _ => self.claim(name.to_owned()).await,
            };
        }
        match parse_input(line) {
            Ok(Input::Help) => match self.admit(None).await {
                Some(flow) => flow,
                None => {
                    for text in help_lines() {
                        self.push(wire::notice(Mode::Plain, text)).await;
                    }
                    Flow::Continue
                }
            },
            Ok(Input::Quit(reason)) => Flow::Close(quit_reason(reason)),
            Ok(Input::Oper(password)) => self.oper(&password).await,
            Ok(input) => match Want::from_input(input) {
                Some(want) => self.want(want).await,
                None => Flow::Continue,
            },
            Err(InputError::Empty) => Flow::Continue,
            Err(e @ InputError::UnknownCommand(_)) => {
                self.refuse(ErrorCode::UnknownCommand, e.to_string(), None)
                    .await;
                Flow::Continue
            }
            Err(e @ InputError::Usage(_)) => {
                self.refuse(ErrorCode::BadCommand, e.to_string(), None)
                    .await;
                Flow::Continue
            }
        }
    }

    async fn on_structured(&mut self, line: &str) -> Flow {
        if line.trim().is_empty() {
            return Flow::Continue;
        }
        let frame = match decode_client_frame(line) {
            Ok(frame) => frame,
            Err(e) => {
                self.refuse_undecodable(&e).await;
                return Flow::Continue;
            }
        };
        let named = matches!(self.phase, Phase::Named(_));
        match frame {
            ClientFrame::Hello { .. } if named => {
                self.refuse(
                    ErrorCode::BadCommand,
                    "already in the room; send nick to change name",
                    None,
                )
                .await;
                Flow::Continue
            }
            ClientFrame::Hello { version, .. }
                if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&version) =>
            {
                let message = format!(
                    "protocol version {version} is not supported; this server speaks {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION}"
                );
                self.refuse(ErrorCode::UnsupportedVersion, message, None)
                    .await;
                Flow::Continue
            }
            ClientFrame::Hello {
                name,
                client,
                password,
                version,
            } => {
                debug!(client = self.id, software = ?client, version, "hello");
                if !self.admitted {
                    match &password {
                        Some(given) if self.password_matches(given) => self.admitted = true,
                        _ => return self.wrong_password(password.is_none()).await,
                    }
                }
                self.version = version;
                self.claim(name).await
            }
            ClientFrame::Ping { token } => {
                self.push(wire::json_line(&ServerFrame::Pong { token }))
                    .await;
                Flow::Continue
            }
            ClientFrame::Pong { .. } => Flow::Continue,
            ClientFrame::Quit { reason } => Flow::Close(quit_reason(reason)),
            _ if !named => {
                self.refuse(ErrorCode::NotNamed, "send hello with a name first", None)
                    .await;
                Flow::Continue
            }
            ClientFrame::Oper { password } => self.oper(&password).await,
            frame => match Want::from_frame(frame) {
                Some(want) => self.want(want).await,
                None => Flow::Continue,
            },
        }
    }

    fn password_matches(&self, given: &str) -> bool {
        self.config
            .password
            .as_ref()
            .is_none_or(|password| password.matches(given))
    }

    /// Plain mode: the line after the name is the room's password.
    async fn on_password(&mut self, line: &str) -> Flow {
        let Phase::Password(name) = std::mem::replace(&mut self.phase, Phase::Naming(Mode::Plain))
        else {
            return Flow::Continue;
        };
        if !self.password_matches(line.trim_end_matches('\r')) {
            return self.wrong_password(false).await;
        }
        self.admitted = true;
        self.claim(name).await
    }

    /// Refuses after a delay, so that guessing is slow, and closes.
    pub(crate) async fn wrong_password(&mut self, missing: bool) -> Flow {
        let what = if missing {
            "no password"
        } else {
            "wrong password"
        };
        warn!(client = self.id, peer = %self.peer, "{what} for the room");
        async_std::task::sleep(self.config.refusal_delay).await;
        let message = if missing {
            "this room needs a password".to_owned()
        } else {
            "wrong password".to_owned()
        };
        self.refuse(ErrorCode::BadPassword, message, None).await;
        Flow::Close(what.to_owned())
    }

    /// `/oper PASSWORD`: checked here, in constant time and after a delay
    /// when wrong; the directory only records the result.
    async fn oper(&mut self, given: &str) -> Flow {
        let Some(password) = &self.config.operator_password else {
            self.refuse(ErrorCode::NotOperator, "this server has no operators", None)
                .await;
            return Flow::Continue;
        };
        if password.matches(given) {
            return self.forward(Request::Oper).await;
        }
        warn!(client = self.id, peer = %self.peer, "wrong operator password");
        async_std::task::sleep(self.config.refusal_delay).await;
        self.refuse(ErrorCode::NotOperator, "wrong operator password", None)
            .await;
        Flow::Continue
    }

    /// Asks the directory for a name and waits for its answer: the way
    /// into the default room when the name is granted.
    pub(crate) async fn claim(&mut self, name: String) -> Flow {
        let (reply, granted) = oneshot::channel();
        let mode = self.mode();
        let claim = ToDirectory::Claim {
            id: self.id,
            name: name.clone(),
            mode,
            version: if mode != Mode::Structured {
                PROTOCOL_VERSION
            } else {
                self.version
            },
            reply,
        };
        if self.directory.send(claim).await.is_err() {
            return Flow::Close("server stopped".to_owned());
        }
        if let Ok(Some(link)) = granted.await {
            self.rooms.joined(link);
            self.phase = Phase::Named(mode);
            self.name = Some(name);
        }
        Flow::Continue
    }

    /// Checks a request's text and the sender's rate, then carries it out.
    /// Every request of a named client counts against the rate: renames,
    /// user lists, joins and history cost the server too.
    pub(crate) async fn want(&mut self, want: Want) -> Flow {
        let (text, id) = match &want {
            Want::Say { text, id, .. } | Want::Private { text, id, .. } => {
                (Some(text.as_str()), id.clone())
            }
            Want::Topic {
                text: Some(text), ..
            } if !text.is_empty() => (Some(text.as_str()), None),
            Want::Part {
                reason: Some(reason),
                ..
            } => (Some(reason.as_str()), None),
            _ => (None, None),
        };
        if let Some(Err(e)) = text.map(validate_text) {
            let code = match e {
                TextError::Empty => ErrorCode::EmptyMessage,
                TextError::ControlCharacter { .. } => ErrorCode::ControlCharacters,
            };
            self.refuse(code, e.to_string(), id).await;
            return Flow::Continue;
        }
        if let Some(flow) = self.admit(id.clone()).await {
            return flow;
        }
        match want {
            Want::Say {
                room,
                text,
                id: req_id,
                action,
            } => {
                let id = self.id;
                self.send_to_room(
                    room.as_deref(),
                    req_id.clone(),
                    ToRoom::Say {
                        id,
                        text,
                        req_id,
                        action,
                    },
                )
                .await
            }
            Want::Who(room) => {
                let id = self.id;
                let who = ToRoom::Who { id, irc_who: false };
                self.send_to_room(room.as_deref(), None, who).await
            }
            Want::History {
                room,
                before,
                limit,
            } => {
                let id = self.id;
                self.send_to_room(room.as_deref(), None, ToRoom::History { id, before, limit })
                    .await
            }
            Want::Private { to, text, id } => self.forward(Request::Private { to, text, id }).await,
            Want::Nick(name) => {
                let (done, renamed) = oneshot::channel();
                let flow = self.forward(Request::Nick { name, done }).await;
                // What is said next must carry the new name.
                if let Ok(Some(now)) = renamed.await {
                    self.name = Some(now);
                }
                flow
            }
            Want::Kick { name, reason } => {
                let reason = reason.filter(|r| validate_text(r).is_ok());
                let room = None;
                self.forward(Request::Kick { name, reason, room }).await
            }
            Want::Ban {
                target,
                address,
                duration,
                reason,
            } => {
                let reason = reason.filter(|r| validate_text(r).is_ok());
                let request = Request::Ban {
                    target,
                    address,
                    duration,
                    reason,
                };
                self.forward(request).await
            }
            Want::Unban(target) => self.forward(Request::Unban(target)).await,
            Want::Bans => self.forward(Request::Bans).await,
            Want::Join(room) => self.join(room).await,
            Want::Part { room, reason } => self.part(room.as_deref(), reason).await,
            Want::Topic { room, text } => match self.rooms.target(room.as_deref()) {
                Ok(link) => {
                    let room = link.key.clone();
                    self.forward(Request::Topic { room, text }).await
                }
                Err((code, message)) => {
                    self.refuse(code, message, None).await;
                    Flow::Continue
                }
            },
            Want::Rooms => self.forward(Request::Rooms).await,
        }
    }

    /// Sends a request to the room it is for (named, or the current one).
    pub(crate) async fn send_to_room(
        &mut self,
        room: Option<&str>,
        req_id: Option<String>,
        request: ToRoom,
    ) -> Flow {
        let link = match self.rooms.target(room) {
            Ok(link) => link.clone(),
            Err((code, message)) => {
                self.refuse(code, message, req_id).await;
                return Flow::Continue;
            }
        };
        if link.tx.send(request).await.is_err() {
            // The room closed under us (the server is stopping).
            self.rooms.lost(&link.key);
            let message = format!("#{} is gone; nothing was sent", link.name);
            self.refuse(ErrorCode::NotInRoom, message, req_id).await;
        }
        Flow::Continue
    }

    pub(crate) async fn join(&mut self, room: String) -> Flow {
        if let Ok(name) = parse_room(&room) {
            if let Some(link) = self.rooms.find(name).cloned() {
                // Already in: it only becomes current, and says what it is like.
                self.rooms.make_current(&link);
                let id = self.id;
                let _ = link.tx.send(ToRoom::Info { id }).await;
                return Flow::Continue;
            }
        }
        let (reply, answer) = oneshot::channel();
        let flow = self.forward(Request::Join { room, reply }).await;
        match answer.await {
            Ok(Ok(link)) => self.rooms.joined(link),
            Ok(Err((code, message))) => self.refuse(code, message, None).await,
            Err(_) => {}
        }
        flow
    }

    pub(crate) async fn part(&mut self, room: Option<&str>, reason: Option<String>) -> Flow {
        let link = match self.rooms.target(room) {
            Ok(link) => link.clone(),
            Err((code, message)) => {
                self.refuse(code, message, None).await;
                return Flow::Continue;
            }
        };
        let next = self.rooms.after_leaving(&link.key).cloned();
        // Plain users are told where their words go now; programs know.
        let farewell = (self.mode() == Mode::Plain
            && self.rooms.current().is_some_and(|c| c.key == link.key))
        .then(|| {
            let text = match &next {
                Some(next) => format!("now talking in #{}", next.name),
                None => "you are in no room now: /join ROOM".to_owned(),
            };
            wire::notice(Mode::Plain, text)
        });
        let (done, parted) = oneshot::channel();
        let request = Request::Part {
            room: link.key.clone(),
            reason,
            farewell,
            done,
        };
        let flow = self.forward(request).await;
        let _ = parted.await;
        self.rooms.left(&link.key, next.map(|n| n.id));
        flow
    }

    /// The rate limit: `None` when the request may go ahead, otherwise what
    /// to do instead (the refusal is already sent).
    pub(crate) async fn admit(&mut self, id: Option<String>) -> Option<Flow> {
        let verdict = match &mut self.bucket {
            Some(bucket) => bucket.check(Instant::now(), self.config.flood_disconnect),
            None => Verdict::Pass,
        };
        match verdict {
            Verdict::Pass => None,
            Verdict::SlowDown => {
                self.refuse(ErrorCode::RateLimited, "slow down", id).await;
                Some(Flow::Continue)
            }
            Verdict::Flooding => {
                self.refuse(ErrorCode::RateLimited, "flooding: disconnected", id)
                    .await;
                // What the flooder already sent is read and dropped before
                // the socket closes: closing with it unread would reset the
                // connection and could destroy the lines telling it why.
                self.source.drain().await;
                Some(Flow::Close("flooding".to_owned()))
            }
        }
    }

    pub(crate) async fn forward(&mut self, request: Request) -> Flow {
        let id = self.id;
        match self
            .directory
            .send(ToDirectory::Request { id, request })
            .await
        {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Close("server stopped".to_owned()),
        }
    }
}

pub(crate) fn quit_reason(reason: Option<String>) -> String {
    match reason {
        Some(reason) if !reason.trim().is_empty() && validate_text(&reason).is_ok() => {
            format!("quit: {}", reason.trim())
        }
        _ => "quit".to_owned(),
    }
}

/// Logs how a connection ended (the directory logs named clients itself).
pub fn log_refused(peer: SocketAddr, why: &str) {
    info!(%peer, reason = why, "refused connection");
}
