//! One client's connection: a reader that turns its bytes into requests for
//! the broker, and a writer that drains its outbox into the socket.
//!
//! Everything a single client can get wrong — oversized lines, bad UTF-8,
//! malformed frames, control characters, floods, silence — is answered here,
//! to that client alone, before anything reaches the broker.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_std::channel::Sender;
use async_std::io::{ReadExt, WriteExt};
use async_std::net::TcpStream;
use chat_core::codec::{decode_client_frame, is_structured_hello, DecodeError, LineDecoder};
use chat_core::error::describe_io;
use chat_core::input::{help_lines, parse_input, Input, InputError};
use chat_core::names::{validate_text, TextError};
use chat_core::protocol::{ClientFrame, ErrorCode, ServerFrame, PROTOCOL_VERSION};
use futures::channel::oneshot;
use futures::io::{AsyncRead, AsyncWrite};
use tracing::{debug, info, warn};

use crate::broker::{ClientId, Request, ToBroker};
use crate::config::Config;
use crate::outbox::{Next, Outbox};
use crate::rate::{FloodGuard, Verdict};
use crate::wire::{self, Mode};

/// The first byte of every TLS connection: never the start of a name.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Longest a single write may wait for a peer to read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 4096;

/// The banner: the first line every client gets.
pub fn banner(room: &str) -> String {
    format!("* welcome to room \"{room}\" — type your name and press Enter")
}

/// Drains `outbox` into `stream`, one write per wake-up, until the queue is
/// closed (then flushes and closes the socket) or aborted.
pub async fn write_loop(
    mut stream: Box<dyn AsyncWrite + Send + Unpin>,
    socket: TcpStream,
    outbox: Outbox,
) {
    let mut batch = Vec::new();
    loop {
        if outbox.is_empty() {
            // About to wait, maybe for hours: an idle connection keeps no
            // buffer, which is most of what 10,000 idle clients would cost.
            batch = Vec::new();
        }
        match outbox.next_batch(&mut batch).await {
            Next::Write => {
                let written = async {
                    stream.write_all(&batch).await?;
                    // TLS holds records until flushed; plain TCP ignores it.
                    stream.flush().await
                };
                // A peer that stops reading and half-closes is gone for the
                // reader, but would hold this writer (and its socket) forever.
                match async_std::future::timeout(WRITE_TIMEOUT, written).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        debug!(error = %e, "write failed");
                        outbox.abort();
                        break;
                    }
                    Err(_) => {
                        debug!("write timed out");
                        outbox.abort();
                        break;
                    }
                }
            }
            Next::Done => {
                // Ends TLS with a close_notify; a no-op for plain TCP.
                let closing = futures::io::AsyncWriteExt::close(&mut stream);
                let _ = async_std::future::timeout(Duration::from_secs(1), closing).await;
                break;
            }
            Next::Abort => break,
        }
    }
    // Ends the reader too, whatever it was waiting for.
    let _ = socket.shutdown(std::net::Shutdown::Both);
}

/// Where the connection is in its life.
enum Phase {
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
enum Flow {
    Continue,
    /// Close the connection, with this reason.
    Close(String),
}

/// The reading half of one client.
pub struct Reader {
    id: ClientId,
    peer: SocketAddr,
    /// Whether the room's password was given (or none is needed).
    admitted: bool,
    stream: Box<dyn AsyncRead + Send + Sync + Unpin>,
    broker: Sender<ToBroker>,
    config: Arc<Config>,
    decoder: LineDecoder,
    phase: Phase,
    bucket: Option<FloodGuard>,
}

impl Reader {
    pub fn new(
        id: ClientId,
        peer: SocketAddr,
        stream: Box<dyn AsyncRead + Send + Sync + Unpin>,
        broker: Sender<ToBroker>,
        config: Arc<Config>,
    ) -> Self {
        Self {
            id,
            peer,
            admitted: config.password.is_none(),
            stream,
            broker,
            decoder: LineDecoder::new(config.max_line),
            phase: Phase::New,
            bucket: config.rate_limit.map(FloodGuard::new),
            config,
        }
    }

    /// Reads until the client leaves; returns why it left.
    pub async fn run(mut self) -> String {
        let peer = self.peer;
        let reason = self.read_loop().await;
        if self.decoder.buffered() > 0 {
            debug!(client = self.id, %peer, bytes = self.decoder.buffered(), "partial line dropped");
        }
        reason
    }

    async fn read_loop(&mut self) -> String {
        let mut chunk = vec![0u8; READ_CHUNK];
        let started = Instant::now();
        let mut pinged = false;
        loop {
            let wait = match self.phase {
                Phase::New | Phase::Naming(_) | Phase::Password(_) => {
                    match self.config.name_timeout.checked_sub(started.elapsed()) {
                        Some(left) => Some(left),
                        None => return self.timed_out().await,
                    }
                }
                Phase::Named(Mode::Structured) if pinged => Some(
                    self.config
                        .idle_timeout
                        .saturating_sub(self.config.ping_interval)
                        .max(Duration::from_millis(1)),
                ),
                Phase::Named(Mode::Structured) => Some(self.config.ping_interval),
                Phase::Named(Mode::Plain) => None,
            };
            let read = self.stream.read(&mut chunk);
            let n = match wait {
                Some(wait) => match async_std::future::timeout(wait, read).await {
                    Ok(result) => result,
                    Err(_) => match self.phase {
                        Phase::Named(_) if !pinged => {
                            pinged = true;
                            self.push(wire::json_line(&ServerFrame::Ping { token: None }))
                                .await;
                            continue;
                        }
                        Phase::Named(_) => return "ping timeout".to_owned(),
                        _ => return self.timed_out().await,
                    },
                },
                None => read.await,
            };
            let n = match n {
                Ok(0) => return "closed by peer".to_owned(),
                Ok(n) => n,
                Err(e) => return format!("error: {}", describe_io(&e)),
            };
            pinged = false;
            if matches!(self.phase, Phase::New)
                && self.decoder.buffered() == 0
                && chunk[0] == TLS_HANDSHAKE_RECORD
                && self.config.tls.is_none()
            {
                // The client reads our banner as a broken TLS record and says so.
                return "TLS handshake on a plain port".to_owned();
            }
            self.decoder.feed(&chunk[..n]);
            while let Some(line) = self.decoder.next_line() {
                let flow = match line {
                    Ok(line) => self.on_line(line).await,
                    Err(e) => {
                        self.refuse_undecodable(&e).await;
                        Flow::Continue
                    }
                };
                if let Flow::Close(reason) = flow {
                    return reason;
                }
            }
            self.decoder.shrink();
        }
    }

    async fn timed_out(&mut self) -> String {
        let secs = self.config.name_timeout.as_secs_f64();
        let message = format!("no name given within {secs} s; closing");
        self.push(wire::error(self.mode(), ErrorCode::NotNamed, message, None))
            .await;
        format!("no name within {secs} s")
    }

    fn mode(&self) -> Mode {
        match self.phase {
            Phase::New | Phase::Password(_) => Mode::Plain,
            Phase::Naming(mode) | Phase::Named(mode) => mode,
        }
    }

    /// Sends a line to this client alone. It goes through the broker so that
    /// it keeps its place among the room's lines: an error for a command
    /// arrives after the messages sent before that command.
    async fn push(&self, line: bytes::Bytes) {
        let _ = self
            .broker
            .send(ToBroker::Direct { id: self.id, line })
            .await;
    }

    async fn refuse(&self, code: ErrorCode, message: impl Into<String>, id: Option<String>) {
        self.push(wire::error(self.mode(), code, message, id)).await;
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
                        self.config.room
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
            Ok(Input::Say(text)) => self.say(Request::Say { text, id: None }).await,
            Ok(Input::Me(text)) => self.say(Request::Action { text, id: None }).await,
            Ok(Input::Msg { to, text }) => self.say(Request::Private { to, text, id: None }).await,
            Ok(Input::Nick(name)) => self.say(Request::Nick(name)).await,
            Ok(Input::Who(_)) => self.say(Request::Who).await,
            Ok(Input::History(limit)) => {
                let before = None;
                self.say(Request::History { before, limit }).await
            }
            Ok(Input::Oper(password)) => self.oper(&password).await,
            Ok(Input::Kick { name, reason }) => self.kick(name, reason, false).await,
            Ok(Input::Ban { name, reason }) => self.kick(name, reason, true).await,
            Ok(_) => Flow::Continue,
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
            ClientFrame::Hello { version, .. } if version != PROTOCOL_VERSION => {
                let message = format!(
                    "protocol version {version} is not supported; this server speaks {PROTOCOL_VERSION}"
                );
                self.refuse(ErrorCode::UnsupportedVersion, message, None)
                    .await;
                Flow::Continue
            }
            ClientFrame::Hello {
                name,
                client,
                password,
                ..
            } => {
                debug!(client = self.id, software = ?client, "hello");
                if !self.admitted {
                    match &password {
                        Some(given) if self.password_matches(given) => self.admitted = true,
                        _ => return self.wrong_password(password.is_none()).await,
                    }
                }
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
            ClientFrame::Message { text, id, .. } => self.say(Request::Say { text, id }).await,
            ClientFrame::Action { text, id, .. } => self.say(Request::Action { text, id }).await,
            ClientFrame::Private { to, text, id } => {
                self.say(Request::Private { to, text, id }).await
            }
            ClientFrame::Nick { name } => self.say(Request::Nick(name)).await,
            ClientFrame::Who { .. } => self.say(Request::Who).await,
            ClientFrame::History { before, limit, .. } => {
                self.say(Request::History { before, limit }).await
            }
            ClientFrame::Oper { password } => self.oper(&password).await,
            ClientFrame::Kick { name, reason } => self.kick(name, reason, false).await,
            ClientFrame::Ban { name, reason } => self.kick(name, reason, true).await,
            _ => Flow::Continue,
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
    async fn wrong_password(&mut self, missing: bool) -> Flow {
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
    /// when wrong; the broker only records the result.
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

    async fn kick(&mut self, name: String, reason: Option<String>, ban: bool) -> Flow {
        let reason = reason.filter(|r| validate_text(r).is_ok());
        self.forward(Request::Kick { name, reason, ban }).await
    }

    /// Asks the broker for a name and waits for its answer.
    async fn claim(&mut self, name: String) -> Flow {
        let (reply, granted) = oneshot::channel();
        let mode = self.mode();
        let claim = ToBroker::Claim {
            id: self.id,
            name,
            mode,
            reply,
        };
        if self.broker.send(claim).await.is_err() {
            return Flow::Close("server stopped".to_owned());
        }
        if granted.await.unwrap_or(false) {
            self.phase = Phase::Named(mode);
        }
        Flow::Continue
    }

    /// Checks a message's text and the sender's rate, then relays it.
    /// Checks a request's text (for messages) and the sender's rate, then
    /// relays it. Every request of a named client counts against the rate:
    /// renames, user lists and history cost the room too.
    async fn say(&mut self, request: Request) -> Flow {
        let (text, id) = match &request {
            Request::Say { text, id }
            | Request::Action { text, id }
            | Request::Private { text, id, .. } => (Some(text), id.clone()),
            Request::Nick(_)
            | Request::Who
            | Request::History { .. }
            | Request::Oper
            | Request::Kick { .. } => (None, None),
        };
        if let Some(Err(e)) = text.map(|t| validate_text(t)) {
            let code = match e {
                TextError::Empty => ErrorCode::EmptyMessage,
                TextError::ControlCharacter { .. } => ErrorCode::ControlCharacters,
            };
            self.refuse(code, e.to_string(), id).await;
            return Flow::Continue;
        }
        match self.admit(id).await {
            Some(flow) => flow,
            None => self.forward(request).await,
        }
    }

    /// The rate limit: `None` when the request may go ahead, otherwise what
    /// to do instead (the refusal is already sent).
    async fn admit(&mut self, id: Option<String>) -> Option<Flow> {
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
                Some(Flow::Close("flooding".to_owned()))
            }
        }
    }

    async fn forward(&mut self, request: Request) -> Flow {
        let id = self.id;
        match self.broker.send(ToBroker::Request { id, request }).await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Close("server stopped".to_owned()),
        }
    }
}

fn quit_reason(reason: Option<String>) -> String {
    match reason {
        Some(reason) if !reason.trim().is_empty() && validate_text(&reason).is_ok() => {
            format!("quit: {}", reason.trim())
        }
        _ => "quit".to_owned(),
    }
}

/// Logs how a connection ended (the broker logs named clients itself).
pub fn log_refused(peer: SocketAddr, why: &str) {
    info!(%peer, reason = why, "refused connection");
}
