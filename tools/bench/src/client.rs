//! One benchmark client: the structured (JSON Lines) protocol spoken over a
//! raw async-std `TcpStream`, with chat-core's codec and frame types, so the
//! tool measures the server rather than a client library. A client may join
//! one room after its welcome; it then sends there and checks that every
//! message it receives names that room. A client may speak IRC instead (see
//! [`crate::irc`]), to load chat-server's IRC listener or another IRC
//! server with the same traffic.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use async_std::io::{ReadExt, WriteExt};
use async_std::net::TcpStream;
use chat_core::codec::{decode_server_frame, encode_frame, LineDecoder};
use chat_core::names::room_key;
use chat_core::protocol::{ClientFrame, Limits, ServerFrame, PROTOCOL_VERSION};
use futures::FutureExt;

use crate::irc::{self, Incoming};
use crate::msgtext::{self, Stamp};
use crate::stats::Histogram;
use crate::tracker::{Outcome, Tracker};

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 8 * 1024;

/// Latency samples a client keeps before adding them to the shared histogram.
const FLUSH_SAMPLES: usize = 4096;

/// Nanoseconds since the process's clock base; every client in the process
/// shares it, so a send stamp and a receipt time compare directly.
pub fn now_nanos() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The writing half, shared by a client's sender and its reader (for pongs),
/// behind a lock so that two writers never interleave parts of lines.
#[derive(Debug, Clone)]
pub struct Writer(Arc<async_std::sync::Mutex<TcpStream>>);

impl Writer {
    /// Writes all of `bytes`.
    ///
    /// # Errors
    /// When the socket fails.
    pub async fn send(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.lock().await.write_all(bytes).await
    }

    /// Takes the socket out of Linux's delayed-acknowledgement "ping-pong"
    /// mode, so that this client acknowledges what it reads when it reads
    /// it, whatever the set-up left it in (docs/BENCHMARKS.md, "Results
    /// now (issue 18, round 6: whose acknowledgements)").
    ///
    /// A socket enters the mode when it writes soon after a read (the
    /// `hello` after the banner) and leaves it only when a delayed
    /// acknowledgement's timer runs out. A client that got two segments
    /// back to back during set-up (its welcome, then others' join
    /// notices) acknowledged them at once, so no timer ran out: it stays
    /// in the mode for the whole run and acknowledges every second segment
    /// on its arrival. On loopback that arrival is inside the server's
    /// `send`, so the acknowledgement is built and taken in on the
    /// server's CPU, where one sent at the client's read is the client's.
    ///
    /// # Errors
    /// When the socket option cannot be set.
    pub async fn quick_ack(&self) -> std::io::Result<()> {
        let stream = self.0.lock().await;
        // Not lasting: it ends ping-pong mode, and the kernel goes back to
        // delaying acknowledgements as it does for any reader.
        socket2::SockRef::from(&*stream).set_tcp_quickack(true)
    }

    /// Closes both directions now.
    pub async fn close(&self) {
        let _ = self.0.lock().await.shutdown(std::net::Shutdown::Both);
    }
}

/// How a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speech {
    /// JSON lines: `hello`, then the structured welcome.
    Structured,
    /// A name on a line of its own, as a person with `nc` would.
    Plain,
    /// IRC: `NICK` and `USER`, then the `001` welcome.
    Irc,
}

impl Speech {
    /// The name of the mode, as in tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Structured => "structured",
            Self::Plain => "plain",
            Self::Irc => "IRC",
        }
    }
}

/// Where a sender's stamped messages go.
#[derive(Debug, Clone, Copy)]
pub enum Dest<'a> {
    /// A structured `message` to this room (the default room when `None`).
    Room(Option<&'a str>),
    /// An IRC `PRIVMSG` to this channel.
    Channel(&'a str),
}

/// A connected client whose name the server granted.
#[derive(Debug)]
pub struct Conn {
    /// The granted name.
    pub name: String,
    reader: TcpStream,
    /// The writing half.
    pub writer: Writer,
    decoder: LineDecoder,
    buf: Vec<u8>,
    /// The limits the server announced in its welcome.
    pub limits: Limits,
    /// The room it joined after the welcome (by [`room_key`]); `None`: only
    /// the server's default room.
    pub room: Option<String>,
    /// Whether it speaks IRC.
    pub irc: bool,
}

/// Explains the connect errors that mean "this machine's limits", not "the server".
fn explain_connect(e: &std::io::Error, addr: SocketAddr) -> anyhow::Error {
    match e.raw_os_error() {
        Some(24) => anyhow!(
            "cannot connect to {addr}: too many open files (EMFILE); raise the limit in the shell \
             that runs chat-bench, e.g. `ulimit -n 65536`"
        ),
        Some(99) => anyhow!(
            "cannot connect to {addr}: no free local port (EADDRNOTAVAIL); too many connections \
             for /proc/sys/net/ipv4/ip_local_port_range"
        ),
        _ => anyhow!(
            "cannot connect to {addr}: {}",
            chat_core::error::describe_io(e)
        ),
    }
}

/// Opens a TCP connection (Nagle off: chat lines are small).
///
/// # Errors
/// When the connection fails; EMFILE says to raise `ulimit -n`.
pub async fn open(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| explain_connect(&e, addr))?;
    stream.set_nodelay(true).context("TCP_NODELAY")?;
    Ok(stream)
}

impl Conn {
    /// Connects, reads the banner, says hello as `name` and waits for the
    /// welcome, all within `wait`.
    ///
    /// # Errors
    /// When the connection fails, the server refuses the name, or time runs out.
    pub async fn connect(addr: SocketAddr, name: &str, wait: Duration) -> anyhow::Result<Conn> {
        Self::connect_in(addr, name, None, wait).await
    }

    /// Like [`connect`](Self::connect), then joins `room` (when given) with
    /// `{"type":"join"}` and waits for the server's `room_joined`, all within
    /// `wait`. The client stays in the default room too; it only sends to
    /// `room`.
    ///
    /// # Errors
    /// As `connect`, and when the server refuses the join.
    pub async fn connect_in(
        addr: SocketAddr,
        name: &str,
        room: Option<&str>,
        wait: Duration,
    ) -> anyhow::Result<Conn> {
        async_std::future::timeout(wait, async {
            let mut conn = Self::handshake(addr, name).await?;
            if let Some(room) = room {
                conn.join(room).await?;
            }
            Ok(conn)
        })
        .await
        .map_err(|_| anyhow!("{name}: no welcome (or no answer to joining) within {wait:?}"))?
    }

    /// Joins `room` and reads until the server says so. What comes before
    /// the answer (joins of others to the default room) is not tracked.
    async fn join(&mut self, room: &str) -> anyhow::Result<()> {
        let join = ClientFrame::Join {
            room: room.to_owned(),
        };
        self.writer.send(&encode_frame(&join)).await?;
        let key = room_key(room);
        loop {
            let line = self
                .next_line()
                .await?
                .with_context(|| format!("{}: closed before joining #{room}", self.name))?;
            match decode_server_frame(&line) {
                Ok(ServerFrame::RoomJoined(info)) if room_key(&info.room) == key => {
                    self.room = Some(key);
                    return Ok(());
                }
                Ok(ServerFrame::Error(e)) => {
                    bail!("{}: cannot join #{room}: {}", self.name, e.message)
                }
                _ => {}
            }
        }
    }

    /// Connects as a plain-text client (what `nc` would be): reads the
    /// banner, sends `name` on a line of its own and waits for the plain
    /// welcome (`* you are NAME …`), all within `wait`. Its `limits` stay
    /// zero: the plain welcome does not carry them.
    ///
    /// # Errors
    /// When the connection fails, the server refuses the name (a `! …`
    /// line), or time runs out.
    pub async fn connect_plain(
        addr: SocketAddr,
        name: &str,
        wait: Duration,
    ) -> anyhow::Result<Conn> {
        async_std::future::timeout(wait, async {
            let mut conn = Self::opened(addr, name).await?;
            conn.writer.send(format!("{name}\n").as_bytes()).await?;
            let welcome = format!("* you are {name} ");
            loop {
                let line = conn
                    .next_line()
                    .await?
                    .with_context(|| format!("{name}: closed before the welcome"))?;
                if line.starts_with(&welcome) {
                    return Ok(conn);
                }
                if line.starts_with('!') {
                    bail!("{name}: refused: {line}");
                }
            }
        })
        .await
        .map_err(|_| anyhow!("{name}: no plain welcome within {wait:?}"))?
    }

    /// Connects as an IRC client: `NICK` and `USER`, the `001` welcome,
    /// then, with a `channel`, `JOIN` and the end of its names list (`366`),
    /// all within `wait`. Pings on the way are answered.
    ///
    /// # Errors
    /// When the connection fails, the server refuses the nick or the join
    /// (an error numeric), or time runs out.
    pub async fn connect_irc(
        addr: SocketAddr,
        nick: &str,
        channel: Option<&str>,
        wait: Duration,
    ) -> anyhow::Result<Conn> {
        async_std::future::timeout(wait, async {
            let mut conn = Self::unwelcomed(addr, nick).await?;
            conn.irc = true;
            conn.writer.send(&irc::register(nick)).await?;
            conn.irc_wait("001").await?;
            if let Some(channel) = channel {
                conn.writer.send(&irc::join(channel)).await?;
                conn.irc_wait("366").await?;
            }
            Ok(conn)
        })
        .await
        .map_err(|_| anyhow!("{nick}: no IRC welcome (or no answer to JOIN) within {wait:?}"))?
    }

    /// Reads until the server sends `numeric`, answering pings.
    async fn irc_wait(&mut self, numeric: &str) -> anyhow::Result<()> {
        loop {
            let line = self
                .next_line()
                .await?
                .with_context(|| format!("{}: closed before {numeric}", self.name))?;
            match irc::incoming(&line) {
                Incoming::Ping(token) => self.writer.send(&irc::pong(token)).await?,
                Incoming::Numeric(n) if n == numeric => return Ok(()),
                Incoming::Numeric(n) if irc::is_refusal(n) => {
                    bail!("{}: refused: {line}", self.name)
                }
                Incoming::Error => bail!("{}: {line}", self.name),
                _ => {}
            }
        }
    }

    /// Connects and reads the banner; nothing said yet.
    async fn opened(addr: SocketAddr, name: &str) -> anyhow::Result<Conn> {
        let mut conn = Self::unwelcomed(addr, name).await?;
        let banner = conn
            .next_line()
            .await?
            .context("closed before the banner")?;
        if banner.starts_with('!') {
            bail!("{name}: refused: {banner}");
        }
        Ok(conn)
    }

    /// Connects; nothing read or said yet.
    async fn unwelcomed(addr: SocketAddr, name: &str) -> anyhow::Result<Conn> {
        let stream = open(addr).await?;
        Ok(Conn {
            name: name.to_owned(),
            reader: stream.clone(),
            writer: Writer(Arc::new(async_std::sync::Mutex::new(stream))),
            // A welcome lists everyone online: 10,000 names need room.
            decoder: LineDecoder::new(16 << 20),
            buf: vec![0; READ_CHUNK],
            limits: Limits {
                max_rooms: 0,
                max_line: 0,
                max_name: 0,
                rate_per_sec: 0,
                burst: 0,
            },
            room: None,
            irc: false,
        })
    }

    async fn handshake(addr: SocketAddr, name: &str) -> anyhow::Result<Conn> {
        let mut conn = Self::opened(addr, name).await?;
        // Built from JSON so that optional fields added to `Hello` later
        // (a password, say) keep their defaults without touching this tool.
        let hello: ClientFrame = serde_json::from_value(serde_json::json!({
            "type": "hello",
            "name": name,
            "version": PROTOCOL_VERSION,
            "client": "chat-bench",
        }))
        .context("hello frame")?;
        conn.writer.send(&encode_frame(&hello)).await?;
        loop {
            let line = conn
                .next_line()
                .await?
                .with_context(|| format!("{name}: closed before the welcome"))?;
            match decode_server_frame(&line) {
                Ok(ServerFrame::Welcome(w)) => {
                    conn.limits = w.limits;
                    return Ok(conn);
                }
                Ok(ServerFrame::Error(e)) => bail!("{name}: refused: {}", e.message),
                _ => {}
            }
        }
    }

    /// The reading half, for a caller that reads on its own.
    pub fn into_reader(self) -> TcpStream {
        self.reader
    }

    /// The next whole line, `None` at end of stream.
    async fn next_line(&mut self) -> anyhow::Result<Option<String>> {
        loop {
            if let Some(line) = self.decoder.next_line() {
                return Ok(Some(line?));
            }
            let n = self.reader.read(&mut self.buf).await?;
            if n == 0 {
                return Ok(None);
            }
            self.decoder.feed(&self.buf[..n]);
        }
    }
}

/// Counters every receiver of a run adds to.
#[derive(Debug, Default)]
pub struct Counters {
    /// Lines received, pings excepted (to notice when traffic has settled).
    pub lines: AtomicU64,
    /// Tracked messages received (first copies).
    pub deliveries: AtomicU64,
    /// When the latest tracked message arrived, on the [`now_nanos`] clock.
    pub last_receipt: AtomicU64,
    /// The latency of every first copy.
    pub latency: Mutex<Histogram>,
}

impl Counters {
    fn add_latencies(&self, samples: &mut Vec<u64>) {
        if samples.is_empty() {
            return;
        }
        let mut h = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for &s in samples.iter() {
            h.record(s);
        }
        samples.clear();
    }

    /// The latency histogram so far.
    pub fn histogram(&self) -> Histogram {
        self.latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Why a receiver stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// It got every message it expected.
    Complete,
    /// It was told to stop.
    Stopped,
    /// The server closed the connection, or it failed.
    Closed(String),
}

/// What a receiver saw.
#[derive(Debug)]
pub struct Received {
    /// The client's name.
    pub name: String,
    /// Per-sender checks.
    pub tracker: Tracker,
    /// Numbers of this client's own messages whose echo came back (accepted).
    pub accepted: Vec<u64>,
    /// This client's own messages refused with an error carrying their id.
    pub refused: Vec<u64>,
    /// Error frames without an id (answers to garbage, for instance).
    pub errors: u64,
    /// Why it stopped.
    pub end: End,
}

/// Reads until `expect` tracked messages arrived (if given), `stop` fires, or
/// the connection ends; answers pings on the way.
pub async fn receive(
    mut conn: Conn,
    mut tracker: Tracker,
    expect: Option<u64>,
    counters: Arc<Counters>,
    stop: async_std::channel::Receiver<()>,
) -> (Received, Writer) {
    let mut received = Received {
        name: conn.name.clone(),
        tracker: Tracker::new(tracker.senders().clone(), 0),
        accepted: Vec::new(),
        refused: Vec::new(),
        errors: 0,
        end: End::Stopped,
    };
    let mut samples = Vec::with_capacity(64);
    let mut stopped = Box::pin(stop.recv().fuse());
    let end = 'read: loop {
        if expect.is_some_and(|want| tracker.delivered >= want) {
            break End::Complete;
        }
        let n = {
            let read = conn.reader.read(&mut conn.buf).fuse();
            futures::pin_mut!(read);
            futures::select_biased! {
                _ = stopped => break End::Stopped,
                n = read => n,
            }
        };
        let n = match n {
            Ok(0) => break End::Closed("closed by server".to_owned()),
            Ok(n) => n,
            Err(e) => break End::Closed(chat_core::error::describe_io(&e)),
        };
        conn.decoder.feed(&conn.buf[..n]);
        let now = now_nanos();
        let mut lines = 0;
        let before = tracker.delivered;
        while let Some(line) = conn.decoder.next_line() {
            lines += 1;
            let Ok(line) = line else {
                received.errors += 1;
                continue;
            };
            if conn.irc {
                match irc::incoming(&line) {
                    Incoming::Message { from, text } => match tracker.on_message(from, text, now) {
                        Outcome::Delivered(l) | Outcome::OutOfOrder(l) => samples.push(l),
                        _ => {}
                    },
                    Incoming::Ping(token) => {
                        lines -= 1;
                        if let Err(e) = conn.writer.send(&irc::pong(token)).await {
                            break 'read End::Closed(chat_core::error::describe_io(&e));
                        }
                    }
                    Incoming::Error => received.errors += 1,
                    Incoming::Numeric(_) | Incoming::Other => {}
                }
                continue;
            }
            // Joins and leaves are most of what a big room sees: skip them
            // without parsing.
            let interesting = [
                "{\"type\":\"message\"",
                "{\"type\":\"error\"",
                "{\"type\":\"ping\"",
            ];
            if !interesting.iter().any(|p| line.starts_with(p)) {
                continue;
            }
            match decode_server_frame(&line) {
                // A message from a room this client only sends to must name
                // it: one from any other room is a leak, counted as damage.
                Ok(ServerFrame::Message(m))
                    if conn.room.as_ref().is_some_and(|want| {
                        m.room.as_deref().map(room_key).as_ref() != Some(want)
                    }) =>
                {
                    tracker.corrupted += 1;
                }
                Ok(ServerFrame::Message(m)) => {
                    if m.from == conn.name {
                        if let Some(num) = m.id.as_deref().and_then(|id| id.parse().ok()) {
                            received.accepted.push(num);
                        }
                    }
                    match tracker.on_message(&m.from, &m.text, now) {
                        Outcome::Delivered(l) | Outcome::OutOfOrder(l) => samples.push(l),
                        _ => {}
                    }
                }
                Ok(ServerFrame::Error(e)) => match e.id.and_then(|id| id.parse().ok()) {
                    Some(num) => received.refused.push(num),
                    None => received.errors += 1,
                },
                Ok(ServerFrame::Ping { token }) => {
                    // The server pings clients silent for 30 s: in a big room
                    // they trickle in for as long as the joins took, and must
                    // not keep "traffic has settled" from ever being true.
                    lines -= 1;
                    let pong = encode_frame(&ClientFrame::Pong { token });
                    if let Err(e) = conn.writer.send(&pong).await {
                        break 'read End::Closed(chat_core::error::describe_io(&e));
                    }
                }
                Ok(_) => {}
                Err(_) => received.errors += 1,
            }
        }
        conn.decoder.shrink();
        counters.lines.fetch_add(lines, Ordering::Relaxed);
        let got = tracker.delivered - before;
        if got > 0 {
            counters.deliveries.fetch_add(got, Ordering::Relaxed);
            counters.last_receipt.fetch_max(now, Ordering::Relaxed);
        }
        if samples.len() >= FLUSH_SAMPLES {
            counters.add_latencies(&mut samples);
        }
    };
    counters.add_latencies(&mut samples);
    received.tracker = tracker;
    received.end = end;
    (received, conn.writer)
}

/// One stamped message from sender `sender`, as the line to send, to
/// `room` (the server's default room when `None`).
pub fn message_line(room: Option<&str>, sender: u32, num: u64, payload: usize) -> Vec<u8> {
    stamped_line(Dest::Room(room), sender, num, payload)
}

/// One stamped message from sender `sender`, as the line to send to `dest`.
pub fn stamped_line(dest: Dest<'_>, sender: u32, num: u64, payload: usize) -> Vec<u8> {
    let text = msgtext::encode(
        Stamp {
            sender,
            num,
            sent_nanos: now_nanos(),
        },
        payload,
    );
    match dest {
        Dest::Room(room) => encode_frame(&ClientFrame::Message {
            room: room.map(str::to_owned),
            text,
            id: Some(num.to_string()),
        }),
        Dest::Channel(channel) => irc::privmsg(channel, &text),
    }
}

/// When a paced sender sends: message `n` is due at
/// `start + offset + n / rate` seconds.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// The clock every sender of a run shares.
    pub start: Instant,
    /// Messages per second.
    pub rate: f64,
    /// This sender's place in each period, in seconds.
    pub offset: f64,
}

/// Sends messages `0..count` as sender `sender` to `dest` (see
/// [`stamped_line`]): as fast as the socket takes them (a few per write) or,
/// with a `pace`, one every `1/rate` seconds.
///
/// # Errors
/// When the socket fails.
pub async fn send_stamped(
    writer: &Writer,
    dest: Dest<'_>,
    sender: u32,
    count: u64,
    pace: Option<Pace>,
    payload: usize,
) -> std::io::Result<()> {
    match pace {
        Some(Pace {
            start,
            rate,
            offset,
        }) if rate > 0.0 => {
            for num in 0..count {
                let due = start + Duration::from_secs_f64(offset + num as f64 / rate);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    async_std::task::sleep(wait).await;
                }
                writer
                    .send(&stamped_line(dest, sender, num, payload))
                    .await?;
            }
        }
        _ => {
            let mut batch = Vec::with_capacity(16 * (payload + 64));
            let mut num = 0;
            while num < count {
                batch.clear();
                for _ in 0..16 {
                    if num == count {
                        break;
                    }
                    batch.extend(stamped_line(dest, sender, num, payload));
                    num += 1;
                }
                writer.send(&batch).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_ack_takes_a_socket_out_of_ping_pong_mode() {
        let limit = Duration::from_secs(5);
        async_std::task::block_on(async {
            let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("address");
            let stream = async_std::future::timeout(limit, TcpStream::connect(addr))
                .await
                .expect("connects in time")
                .expect("connects");
            let _peer = async_std::future::timeout(limit, listener.accept())
                .await
                .expect("accepted in time")
                .expect("accepted");
            let socket = socket2::SockRef::from(&stream);
            // Clearing the option is how a program puts a socket in the mode.
            socket
                .set_tcp_quickack(false)
                .expect("enter ping-pong mode");
            assert!(!socket.tcp_quickack().expect("read the mode"));
            let writer = Writer(Arc::new(async_std::sync::Mutex::new(stream.clone())));
            async_std::future::timeout(limit, writer.quick_ack())
                .await
                .expect("in time")
                .expect("quick_ack");
            assert!(
                socket.tcp_quickack().expect("read the mode"),
                "still in ping-pong mode"
            );
        });
    }
}
