//! `TcpSession`: the [`ChatSession`] over TCP on async-std, with reconnection.
//! A `ws://` or `wss://` address takes the same session over a WebSocket
//! (see [`crate::ws`]).
//!
//! This is the one place in `chat-core` that names the runtime: it opens
//! sockets, spawns the connection task and sleeps between attempts. One task
//! per session owns the socket; it turns frames into [`Event`]s, writes what
//! the [`SessionSender`]s queue, answers pings, and when the server goes away
//! reports it and (if configured) reconnects with backoff under the same name.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_std::net::TcpStream;
use futures::channel::mpsc;
use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures::{FutureExt, SinkExt, StreamExt};

use crate::codec::{decode_server_frame, encode_frame, LineDecoder};
use crate::error::ChatError;
use crate::input::help_lines;
use crate::names::{name_key, room_key};
use crate::protocol::{ClientFrame, ErrorCode, ErrorFrame, Notice, ServerFrame, Welcome};
use crate::rate::TokenBucket;
use crate::session::{
    ChatSession, Command, Event, EventStream, SessionConfig, SessionSender, Shared, Status,
};

/// Requests a UI may queue before `send` waits (or `try_send` reports busy).
const COMMAND_QUEUE: usize = 256;
/// Events buffered for a slow consumer before the session stops reading the
/// socket (the server then sees a slow reader, which is the truth).
const EVENT_QUEUE: usize = 1024;
const READ_CHUNK: usize = 8192;
/// How often a silent server's lag is reported while the session waits.
const LAG_REPORT: Duration = Duration::from_secs(5);

/// A chat session over plain TCP.
#[derive(Debug)]
pub struct TcpSession {
    welcome: Welcome,
    sender: SessionSender,
    events: EventStream,
}

impl ChatSession for TcpSession {
    async fn connect(config: SessionConfig) -> Result<Self, ChatError> {
        let (link, welcome) = Link::open(&config, &config.name, 0).await?;
        let (command_tx, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (mut event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
        let shared = Arc::new(Shared::default());
        shared.connected.store(true, Ordering::Release);
        shared.set_name(&welcome.name);
        shared.set_limits(welcome.limits);
        shared.seen().clone_from(&config.seen);
        shared.rooms().joined(&welcome.room);
        // The channel is new and has room: these cannot fail.
        let _ = event_tx.try_send(Event::Status(Status::Connected {
            addr: link.addr.clone(),
            name: welcome.name.clone(),
        }));
        let _ = event_tx.try_send(Event::Welcome(welcome.clone()));
        let task = Task {
            addr: link.addr.clone(),
            at: link.index,
            name: welcome.name.clone(),
            put_out: None,
            joining: HashSet::from([room_key(&welcome.room)]),
            pace: pace_for(&welcome),
            config,
            commands: command_rx,
            commands_open: true,
            events: event_tx,
            shared: shared.clone(),
        };
        async_std::task::spawn(task.run(link));
        Ok(Self {
            welcome,
            sender: SessionSender::new(command_tx, shared),
            events: EventStream::new(event_rx),
        })
    }

    fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    fn split(self) -> (SessionSender, EventStream) {
        (self.sender, self.events)
    }
}

/// One live connection after the handshake: lines over TCP or TLS, or
/// frames over a WebSocket (`ws://`, `wss://` addresses).
struct Link {
    wire: Wire,
    /// The raw socket, to cut the connection whatever is layered on it.
    socket: TcpStream,
    /// The address it reached (one of the configured ones).
    addr: String,
    /// Its place in the configured list.
    index: usize,
    max_line: usize,
}

/// How frames travel on a [`Link`].
enum Wire {
    /// One frame per `\n`-terminated line.
    Lines {
        reader: Box<dyn AsyncRead + Send + Unpin>,
        writer: Box<dyn AsyncWrite + Send + Unpin>,
        lines: LineDecoder,
        chunk: Vec<u8>,
    },
    /// One frame per WebSocket text message.
    WebSocket(crate::ws::WsWire),
}

/// The addresses in `HOST:PORT[,HOST:PORT…]`, in order.
pub fn addresses(list: &str) -> Vec<&str> {
    list.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect()
}

/// Whether another server of the list may do better than the one that
/// gave this answer (a refusal of the name or password would be the same).
fn try_next(error: &ChatError) -> bool {
    match error {
        ChatError::Connect { .. }
        | ChatError::Timeout { .. }
        | ChatError::ServerClosed
        | ChatError::Io(_)
        | ChatError::BadFrame(_) => true,
        ChatError::Refused { code, .. } => {
            matches!(code, ErrorCode::ServerFull | ErrorCode::Unavailable)
        }
        _ => false,
    }
}

impl Link {
    /// Connects to the first of the configured addresses that answers,
    /// starting at place `from` in the list (after a failure, the one
    /// after the server that failed), and joins as `name`.
    async fn open(
        config: &SessionConfig,
        name: &str,
        from: usize,
    ) -> Result<(Link, Welcome), ChatError> {
        let list = addresses(&config.addr);
        let count = list.len().max(1);
        let mut last = None;
        for step in 0..count {
            let index = (from + step) % count;
            let addr = list.get(index).copied().unwrap_or(config.addr.as_str());
            match Link::open_at(config, addr, name).await {
                Ok((mut link, welcome)) => {
                    link.index = index;
                    return Ok((link, welcome));
                }
                Err(e) if try_next(&e) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(ChatError::ServerClosed))
    }

    /// Connects to `addr`, skips the banner, says hello and waits for the
    /// welcome.
    async fn open_at(
        config: &SessionConfig,
        addr: &str,
        name: &str,
    ) -> Result<(Link, Welcome), ChatError> {
        let wait = config.connect_timeout;
        let addr = addr.to_owned();
        let timeout = |during| ChatError::Timeout {
            addr: addr.clone(),
            during,
            secs: wait.as_secs(),
        };
        let websocket = crate::ws::target(&addr);
        let host_port = match &websocket {
            Some(target) => target.host_port.as_str(),
            None => addr.as_str(),
        };
        let stream = async_std::io::timeout(wait, TcpStream::connect(host_port))
            .await
            .map_err(|error| ChatError::Connect {
                addr: addr.clone(),
                error,
            })?;
        // Chat lines are tiny: without this, Nagle adds tens of milliseconds.
        stream.set_nodelay(true)?;
        let mut link = match &websocket {
            // The gateway sends no banner: the first frame is the welcome.
            Some(target) => Link {
                wire: Wire::WebSocket(
                    crate::ws::WsWire::open(stream.clone(), target, &addr, config).await?,
                ),
                socket: stream,
                addr: addr.clone(),
                index: 0,
                max_line: config.max_line,
            },
            None => Self::open_lines(stream, &addr, config, &timeout).await?,
        };
        link.write(&ClientFrame::Hello {
            name: name.to_owned(),
            version: crate::protocol::PROTOCOL_VERSION,
            client: Some(config.client.clone()),
            password: config.password.clone(),
        })
        .await?;
        let answer = async {
            loop {
                match link.next_frame().await? {
                    None => return Err(ChatError::ServerClosed),
                    Some(ServerFrame::Welcome(welcome)) => return Ok(welcome),
                    Some(ServerFrame::Error(e)) => {
                        return Err(match e.code {
                            ErrorCode::NameTaken | ErrorCode::InvalidName => {
                                ChatError::NameRejected {
                                    name: name.to_owned(),
                                    code: e.code,
                                    message: e.message,
                                }
                            }
                            code => ChatError::Refused {
                                code,
                                message: e.message,
                            },
                        })
                    }
                    Some(ServerFrame::Ping { token }) => {
                        link.write(&ClientFrame::Pong { token }).await?;
                    }
                    // Nothing else is sent before the welcome; ignore rather
                    // than fail, for servers newer than this client.
                    Some(_) => {}
                }
            }
        };
        let welcome = async_std::future::timeout(wait, answer)
            .await
            .map_err(|_| timeout("waiting for the welcome"))??;
        Ok((link, welcome))
    }

    /// The line protocol on a connected socket (TLS first when configured),
    /// past the server's banner.
    async fn open_lines(
        stream: TcpStream,
        addr: &str,
        config: &SessionConfig,
        timeout: &impl Fn(&'static str) -> ChatError,
    ) -> Result<Link, ChatError> {
        let wait = config.connect_timeout;
        let (reader, writer): (
            Box<dyn AsyncRead + Send + Unpin>,
            Box<dyn AsyncWrite + Send + Unpin>,
        ) = match &config.tls {
            None => (Box::new(stream.clone()), Box::new(stream.clone())),
            Some(options) => {
                let tls = crate::tls::client_config(options, addr)?;
                let name = crate::tls::server_name(addr)?;
                let connector = futures_rustls::TlsConnector::from(tls);
                let handshake = connector.connect(name, stream.clone());
                let secured = async_std::future::timeout(wait, handshake)
                    .await
                    .map_err(|_| timeout("in the TLS handshake"))?
                    .map_err(|e| crate::tls::handshake_error(addr, &e))?;
                let (reader, writer) = secured.split();
                (Box::new(reader), Box::new(writer))
            }
        };
        let mut link = Link {
            wire: Wire::Lines {
                reader,
                writer,
                lines: LineDecoder::new(config.max_line),
                chunk: vec![0; READ_CHUNK],
            },
            socket: stream,
            addr: addr.to_owned(),
            index: 0,
            max_line: config.max_line,
        };
        match async_std::future::timeout(wait, link.next_line()).await {
            Err(_) => Err(timeout("waiting for the banner")),
            // A server that turns newcomers away says why in place of the banner.
            Ok(Ok(Some(banner))) => match banner.strip_prefix("! ") {
                Some(why) => Err(ChatError::Refused {
                    code: ErrorCode::ServerFull,
                    message: crate::render::sanitize(why),
                }),
                None => Ok(link),
            },
            Ok(Ok(None)) => Err(ChatError::ServerClosed),
            Ok(Err(e)) => Err(e),
        }
    }

    /// The next line, or `None` when the server closed the connection.
    async fn next_line(&mut self) -> Result<Option<String>, ChatError> {
        let (reader, lines, chunk) = match &mut self.wire {
            Wire::WebSocket(ws) => return ws.next_line(self.max_line).await,
            Wire::Lines {
                reader,
                lines,
                chunk,
                ..
            } => (reader, lines, chunk),
        };
        loop {
            if let Some(line) = lines.next_line() {
                return Ok(Some(line?));
            }
            let n = reader.read(chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            lines.feed(&chunk[..n]);
        }
    }

    /// The next frame, or `None` when the server closed the connection.
    async fn next_frame(&mut self) -> Result<Option<ServerFrame>, ChatError> {
        match self.next_line().await? {
            Some(line) => Ok(Some(decode_server_frame(&line)?)),
            None => Ok(None),
        }
    }

    async fn write(&mut self, frame: &ClientFrame) -> Result<(), ChatError> {
        match &mut self.wire {
            Wire::Lines { writer, .. } => {
                writer.write_all(&encode_frame(frame)).await?;
                // TLS holds records until flushed.
                writer.flush().await?;
                Ok(())
            }
            Wire::WebSocket(ws) => ws.write(frame).await,
        }
    }

    async fn close(&mut self) {
        match &mut self.wire {
            // Ends TLS politely when it can; already closed is as good as closed.
            Wire::Lines { writer, .. } => {
                let _ = async_std::future::timeout(Duration::from_secs(1), writer.close()).await;
            }
            Wire::WebSocket(ws) => ws.close().await,
        }
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
    }
}

/// Why a connection ended.
enum End {
    /// The user quit, or dropped the event stream: the session is over.
    Finished(String),
    /// The connection was lost: reconnect if configured.
    Lost(String),
}

/// The connection task's state, alive for the whole session.
struct Task {
    config: SessionConfig,
    /// The server connected to now (or last), and its place in the list
    /// of addresses: a reconnection tries the next one first.
    addr: String,
    at: usize,
    /// The name currently held, claimed again after a reconnection.
    name: String,
    /// Rooms between our joining them and our own join notice: their
    /// replays are the join replay.
    joining: HashSet<String>,
    /// Why an operator put this session out (kicked or banned): the
    /// connection that ends next is not replaced.
    put_out: Option<String>,
    /// The server's rate limit as announced, kept to by waiting before
    /// each request rather than being told to slow down (and losing the
    /// message): a pasted paragraph arrives whole.
    pace: Option<TokenBucket>,
    commands: mpsc::Receiver<Command>,
    /// False once every sender is gone; the session still reads events.
    commands_open: bool,
    events: mpsc::Sender<Event>,
    shared: Arc<Shared>,
}

impl Task {
    async fn run(mut self, mut link: Link) {
        loop {
            let end = self.serve(&mut link).await;
            link.close().await;
            self.shared.connected.store(false, Ordering::Release);
            let reason = match end {
                End::Finished(reason) => reason,
                // Coming back by itself after a kick is what a kick forbids.
                End::Lost(_) if self.put_out.is_some() => self.put_out.take().unwrap_or_default(),
                End::Lost(reason) => match self.reconnect(reason).await {
                    Ok(new_link) => {
                        link = new_link;
                        continue;
                    }
                    Err(reason) => reason,
                },
            };
            let _ = self
                .emit(Event::Status(Status::Disconnected {
                    reason,
                    retry_in: None,
                }))
                .await;
            return;
        }
    }

    /// Relays frames and commands until the connection ends.
    async fn serve(&mut self, link: &mut Link) -> End {
        // A server that stops answering (frozen, or the path to it gone)
        // keeps the socket open for ever: only silence tells.
        let mut heard = Instant::now();
        let mut pinged = false;
        let mut lagging = false;
        loop {
            let waited = if pinged {
                // Wake every few seconds to report the lag while waiting.
                (heard.elapsed() + LAG_REPORT).min(self.config.ping_after + self.config.dead_after)
            } else {
                self.config.ping_after
            };
            let silence = async_std::task::sleep(waited.saturating_sub(heard.elapsed()));
            let next = {
                let commands = if self.commands_open {
                    self.commands.next().left_future()
                } else {
                    futures::future::pending().right_future()
                };
                futures::select_biased! {
                    frame = link.next_frame().fuse() => Some(Ok(frame)),
                    command = commands.fuse() => Some(Err(command)),
                    () = silence.fuse() => None,
                }
            };
            let Some(next) = next else {
                if pinged && heard.elapsed() >= self.config.ping_after + self.config.dead_after {
                    return End::Lost("server not responding".to_owned());
                }
                if !pinged {
                    pinged = true;
                    let ping = ClientFrame::Ping {
                        token: Some("alive?".to_owned()),
                    };
                    if let Err(e) = link.write(&ping).await {
                        return End::Lost(e.to_string());
                    }
                    // No report yet: a quiet but healthy server answers at
                    // once, and that should leave no trace.
                    continue;
                }
                lagging = true;
                let lag = Status::Unresponsive {
                    addr: self.addr.clone(),
                    silent: heard.elapsed(),
                };
                if self.emit(Event::Status(lag)).await.is_err() {
                    return self.abandon(link).await;
                }
                continue;
            };
            if matches!(next, Ok(Ok(Some(_)))) {
                heard = Instant::now();
                pinged = false;
                if std::mem::take(&mut lagging) {
                    // It answered: say so where the lag was shown.
                    let back = Status::Connected {
                        addr: self.addr.clone(),
                        name: self.name.clone(),
                    };
                    if self.emit(Event::Status(back)).await.is_err() {
                        return self.abandon(link).await;
                    }
                }
            }
            match next {
                Ok(Ok(Some(frame))) => {
                    if let Some(end) = self.on_frame(link, frame).await {
                        return end;
                    }
                }
                Ok(Ok(None)) => return End::Lost(ChatError::ServerClosed.to_string()),
                Ok(Err(e)) => return End::Lost(e.to_string()),
                Err(Some(Command::Frame(frame))) => {
                    if let Some(end) = self.write(link, frame).await {
                        return end;
                    }
                }
                Err(Some(Command::Frames(frames))) => {
                    for frame in frames {
                        if let Some(end) = self.write(link, frame).await {
                            return end;
                        }
                    }
                }
                Err(Some(Command::Help)) => {
                    if self.emit_help().await.is_err() {
                        return self.abandon(link).await;
                    }
                }
                Err(None) => self.commands_open = false,
            }
        }
    }

    /// Writes one queued frame, within the server's rate; `Some` when the
    /// connection ends with it (a quit, or a failed write).
    async fn write(&mut self, link: &mut Link, frame: ClientFrame) -> Option<End> {
        let quitting = matches!(frame, ClientFrame::Quit { .. });
        if !matches!(
            frame,
            ClientFrame::Quit { .. } | ClientFrame::Ping { .. } | ClientFrame::Pong { .. }
        ) {
            self.wait_for_rate().await;
        }
        if let Err(e) = link.write(&frame).await {
            return Some(End::Lost(e.to_string()));
        }
        quitting.then(|| End::Finished("you left".to_owned()))
    }

    /// Waits until the server's rate limit lets one more request through.
    /// The wait is short (one token's refill) and frames arriving meanwhile
    /// stay in the socket's buffer until it is over.
    async fn wait_for_rate(&mut self) {
        let Some(pace) = &mut self.pace else { return };
        while !pace.take(Instant::now()) {
            async_std::task::sleep(pace.until_next()).await;
        }
    }

    async fn on_frame(&mut self, link: &mut Link, frame: ServerFrame) -> Option<End> {
        match &frame {
            ServerFrame::Ping { token } => {
                let pong = ClientFrame::Pong {
                    token: token.clone(),
                };
                return link
                    .write(&pong)
                    .await
                    .err()
                    .map(|e| End::Lost(e.to_string()));
            }
            ServerFrame::Rename(r) if name_key(&r.from) == name_key(&self.name) => {
                self.name = r.to.clone();
                self.shared.set_name(&r.to);
            }
            ServerFrame::Message(m) | ServerFrame::Action(m) => {
                let key = self.key_of(m.room.as_deref());
                self.shared.seen().insert(key, m.seq);
            }
            ServerFrame::Replay(r) => {
                let key = self.key_of(r.message.room.as_deref());
                if self.joining.contains(&key) {
                    let mut seen = self.shared.seen();
                    let newest = seen.entry(key).or_insert(0);
                    if r.message.seq <= *newest {
                        return None;
                    }
                    *newest = r.message.seq;
                }
            }
            ServerFrame::Join(p) if name_key(&p.name) == name_key(&self.name) => {
                self.joining.remove(&self.key_of(p.room.as_deref()));
            }
            ServerFrame::Error(e) if matches!(e.code, ErrorCode::Kicked | ErrorCode::Banned) => {
                self.put_out = Some(e.message.clone());
            }
            ServerFrame::RoomJoined(info) => {
                self.joining.insert(room_key(&info.room));
                self.shared.rooms().joined(&info.room);
            }
            ServerFrame::Leave(d) if name_key(&d.name) == name_key(&self.name) => {
                if let Some(room) = &d.room {
                    self.shared.rooms().left(room);
                }
            }
            _ => {}
        }
        let event = Event::from_frame(frame)?;
        match self.emit(event).await {
            Ok(()) => None,
            Err(()) => Some(self.abandon(link).await),
        }
    }

    /// The key of a frame's room; a frame without one is about the current room.
    fn key_of(&self, room: Option<&str>) -> String {
        match room {
            Some(room) => room_key(room),
            None => self
                .shared
                .rooms()
                .current
                .as_deref()
                .map(room_key)
                .unwrap_or_default(),
        }
    }

    /// After a reconnection: joins again the rooms the session was in
    /// besides the default one, the current one last so that it stays current.
    async fn rejoin(&mut self, link: &mut Link, welcome: &Welcome) -> Result<(), ChatError> {
        let before = std::mem::take(&mut *self.shared.rooms());
        self.shared.rooms().joined(&welcome.room);
        let default = room_key(&welcome.room);
        let current = before.current.as_deref().map(room_key);
        // The current room is asked for last, so that it is current on the
        // server too; the answers may come in any order.
        let mut order: Vec<&String> = before
            .joined
            .iter()
            .filter(|r| Some(room_key(r)) != current && room_key(r) != default)
            .collect();
        if let Some(room) = &before.current {
            if room_key(room) != default || before.joined.len() > 1 {
                // Joining the default room again only makes it current.
                order.push(room);
            }
        }
        self.shared.rooms().wanted = before.current.clone();
        for room in order {
            // The server counts these joins against the rate too.
            if let Some(pace) = &mut self.pace {
                pace.take(Instant::now());
            }
            link.write(&ClientFrame::Join { room: room.clone() })
                .await?;
        }
        Ok(())
    }

    /// Nobody reads the events any more: leave politely.
    async fn abandon(&mut self, link: &mut Link) -> End {
        let _ = link.write(&ClientFrame::Quit { reason: None }).await;
        End::Finished("event stream dropped".to_owned())
    }

    async fn emit(&mut self, event: Event) -> Result<(), ()> {
        self.events.send(event).await.map_err(drop)
    }

    async fn emit_help(&mut self) -> Result<(), ()> {
        for text in help_lines() {
            self.emit(Event::Notice(Notice { text })).await?;
        }
        Ok(())
    }

    /// Tries to reconnect until it works, the user quits, or reconnection is
    /// off. `Err` carries the reason the session ends.
    async fn reconnect(&mut self, mut reason: String) -> Result<Link, String> {
        let Some(backoff) = self.config.reconnect else {
            return Err(reason);
        };
        for attempt in 1.. {
            let delay = backoff.delay(attempt);
            self.emit(Event::Status(Status::Disconnected {
                reason: reason.clone(),
                retry_in: Some(delay),
            }))
            .await
            .map_err(|()| "event stream dropped".to_owned())?;
            if let Some(end) = self.wait(delay).await {
                return Err(end);
            }
            self.emit(Event::Status(Status::Connecting {
                addr: self.config.addr.clone(),
                attempt,
            }))
            .await
            .map_err(|()| "event stream dropped".to_owned())?;
            match Link::open(&self.config, &self.name, self.at + 1).await {
                Ok((mut link, welcome)) => {
                    self.addr.clone_from(&link.addr);
                    self.at = link.index;
                    self.name = welcome.name.clone();
                    self.shared.set_name(&welcome.name);
                    self.joining = HashSet::from([room_key(&welcome.room)]);
                    self.shared.set_limits(welcome.limits);
                    self.pace = pace_for(&welcome);
                    if let Err(e) = self.rejoin(&mut link, &welcome).await {
                        reason = e.to_string();
                        continue;
                    }
                    self.shared.connected.store(true, Ordering::Release);
                    let connected = Status::Connected {
                        addr: self.addr.clone(),
                        name: welcome.name.clone(),
                    };
                    self.emit(Event::Status(connected))
                        .await
                        .map_err(|()| "event stream dropped".to_owned())?;
                    self.emit(Event::Welcome(welcome))
                        .await
                        .map_err(|()| "event stream dropped".to_owned())?;
                    return Ok(link);
                }
                // A ban or a wrong password will not change by trying again.
                Err(
                    e @ ChatError::Refused {
                        code: ErrorCode::Banned | ErrorCode::BadPassword,
                        ..
                    },
                ) => return Err(e.to_string()),
                Err(e) => reason = e.to_string(),
            }
        }
        Err(reason)
    }

    /// Sleeps `delay`, answering what senders queued meanwhile: a quit ends
    /// the session (returned as its reason), anything else is refused.
    async fn wait(&mut self, delay: Duration) -> Option<String> {
        let sleep = async_std::task::sleep(delay).fuse();
        futures::pin_mut!(sleep);
        loop {
            let commands = if self.commands_open {
                self.commands.next().left_future()
            } else {
                futures::future::pending().right_future()
            };
            futures::select_biased! {
                () = sleep => return None,
                command = commands.fuse() => match command {
                    None => self.commands_open = false,
                    Some(Command::Frame(ClientFrame::Quit { .. })) => {
                        return Some("you left".to_owned());
                    }
                    Some(Command::Help) => {
                        if self.emit_help().await.is_err() {
                            return Some("event stream dropped".to_owned());
                        }
                    }
                    Some(Command::Frame(frame)) => {
                        if self.refuse(&frame).await.is_err() {
                            return Some("event stream dropped".to_owned());
                        }
                    }
                    Some(Command::Frames(frames)) => {
                        for frame in &frames {
                            if self.refuse(frame).await.is_err() {
                                return Some("event stream dropped".to_owned());
                            }
                        }
                    }
                },
            }
        }
    }
}

impl Task {
    /// Says that a frame queued while disconnected was not sent.
    async fn refuse(&mut self, frame: &ClientFrame) -> Result<(), ()> {
        let refused = Event::Error(ErrorFrame {
            code: ErrorCode::Other,
            message: ChatError::NotConnected.to_string(),
            id: frame_id(frame),
        });
        self.emit(refused).await
    }
}

/// The pace to keep to a server's announced rate limit, a tenth slower
/// than allowed so that requests bunched up on the way (the server times
/// their arrival, not their sending) still pass; `None` when it has none.
fn pace_for(welcome: &Welcome) -> Option<TokenBucket> {
    let limits = welcome.limits;
    (limits.rate_per_sec > 0 && limits.burst > 0)
        .then(|| TokenBucket::new(limits.burst, f64::from(limits.rate_per_sec) * 0.9))
}

fn frame_id(frame: &ClientFrame) -> Option<String> {
    match frame {
        ClientFrame::Message { id, .. }
        | ClientFrame::Action { id, .. }
        | ClientFrame::Private { id, .. } => id.clone(),
        _ => None,
    }
}
