//! `chat-server`: the relay. [`run`] serves its rooms on a bound listener
//! until its shutdown future completes; `main` only parses flags, sets up
//! logging and binds, so tests run the very same server on port 0.
//!
//! # Layout
//! - [`config`]: settings and limits.
//! - `directory`: the one task that owns names and the registry of rooms.
//! - `room`: one broker task per room, owning its members and its order.
//! - `log`: where a room's messages live ([`log::RoomLog`]); [`history`]
//!   keeps them in SQLite.
//! - `connection`: each client's reader (bytes → requests); `want`: what
//!   a client asks for, in either mode; `membership`: the rooms it is in;
//!   `writer`: drains its outbox into the socket; `deadline`: its reads'
//!   timeout, one timer for many reads.
//! - `outbox`: a client's bounded outgoing queue.
//! - `rate`: flood protection per client, on `chat-core`'s token bucket.
//! - `wire`: serialising frames once per mode.
//! - [`cluster`]: several servers sharing rooms and names through Redis
//!   (a room's log is a Redis stream there).
//! - `irc`: the IRC gateway (a third mode, on its own listener): parsing
//!   and writing IRC lines, and translating IRC commands into requests.
//! - [`web`]: the web gateway (its own listener): the embedded web client
//!   and the structured protocol over WebSocket at `/ws`.
//! - `source`: where a reader's lines come from (a byte stream, or a
//!   WebSocket's messages).
//! - [`heap`]: glibc's malloc set for many idle connections (one arena,
//!   free pages given back after bursts of connections).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_std::channel::Sender;
use async_std::io::WriteExt;
use async_std::net::{TcpListener, TcpStream};
use async_std::task;
use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt};
use tracing::{info, warn};

pub mod config;

mod access;
pub mod cluster;
mod connection;
mod directory;
mod fanout;
pub mod heap;
pub mod history;
mod irc;
pub mod log;
mod membership;
mod room;
mod source;
mod want;
mod writer;
// Public only for the micro-benchmarks in `benches/`.
#[doc(hidden)]
mod deadline;
pub mod outbox;
mod rate;
pub mod runtime;
pub mod stderr_log;
pub mod tls;
pub mod web;
#[doc(hidden)]
pub mod wire;

pub use access::Secret;
pub use config::{Config, RateLimit};

use connection::{banner, Reader};
use directory::{ClientId, Directory, ToDirectory};
use membership::{Membership, NO_ROOM};
use outbox::Outbox;
use writer::write_loop;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listener failed in a way retrying cannot fix.
    #[error("listener error: {0}")]
    Io(#[from] std::io::Error),
    /// IRC over TLS was asked for without a certificate to serve.
    #[error("IRC over TLS needs the server's certificate: give --tls-cert and --tls-key")]
    IrcTlsWithoutCertificate,
    /// The history database cannot be used.
    #[error(transparent)]
    History(#[from] history::HistoryError),
    /// The cluster cannot be joined.
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
}

/// Where the server accepts connections.
#[derive(Debug)]
pub struct Listeners {
    /// Native clients: plain, structured (and TLS when configured).
    pub chat: TcpListener,
    /// IRC clients, when the server speaks IRC.
    pub irc: Option<TcpListener>,
    /// IRC clients over TLS (with the server's certificate, `Config::tls`).
    pub irc_tls: Option<TcpListener>,
    /// Browsers: the web client's page and its WebSocket (HTTPS and WSS
    /// with `Config::tls`).
    pub web: Option<TcpListener>,
}

/// Serves the rooms on `listener` until `shutdown` completes, then tells every
/// client, flushes what is queued (for up to `config.shutdown_grace`) and
/// returns.
///
/// # Errors
/// [`ServerError::Io`] when the listener's address cannot be read.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let listeners = Listeners {
        chat: listener,
        irc: None,
        irc_tls: None,
        web: None,
    };
    run_with(listeners, config, shutdown).await
}

/// [`run`], with IRC clients and browsers accepted on listeners of their own.
///
/// # Errors
/// [`ServerError::Io`] when a listener's address cannot be read.
pub async fn run_with(
    listeners: Listeners,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let Listeners {
        chat: listener,
        irc: irc_listener,
        irc_tls: irc_tls_listener,
        web: web_listener,
    } = listeners;
    if irc_tls_listener.is_some() && config.tls.is_none() {
        return Err(ServerError::IrcTlsWithoutCertificate);
    }
    let config = Arc::new(config);
    let addr = listener.local_addr()?;
    let irc_addr = irc_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let irc_tls_addr = irc_tls_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    // Held until `run` returns: a second server on this database is refused.
    let _lock = match &config.history_db {
        Some(path) => Some(history::DbLock::take(
            path,
            &format!("pid {}, listening on {addr}", std::process::id()),
        )?),
        None => None,
    };
    let store = match config.history_db.clone() {
        Some(path) => {
            let keep = config.history_keep;
            let opened = task::spawn_blocking(move || history::Store::open(&path, keep)).await?;
            info!(db = %opened.path().display(), keep = ?keep, "history opened");
            Some(Arc::new(opened))
        }
        None => None,
    };
    let web_addr = web_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    info!(%addr, irc = ?irc_addr, irc_tls = ?irc_tls_addr, web = ?web_addr, default_room = %config.default_room, rooms = ?config.rooms, "server started");

    let (broker_tx, broker_rx) = async_std::channel::bounded(1024);
    let (internal_tx, internal_rx) = async_std::channel::unbounded();
    let bans = match &store {
        Some(store) => {
            let store = store.clone();
            let stored = task::spawn_blocking(move || store.bans()).await?;
            if !stored.is_empty() {
                info!(bans = stored.len(), "bans loaded");
            }
            access::Bans::new(stored)
        }
        None => access::Bans::default(),
    };
    let cluster = match &config.cluster {
        Some(settings) => {
            let max_len = match config.history_keep {
                history::Keep::Count(n) => n,
                // A stream is trimmed by length only: by age, it keeps all.
                history::Keep::Age(_) | history::Keep::All => 0,
            };
            Some(cluster::Cluster::start(settings, max_len, internal_tx.clone()).await?)
        }
        None => None,
    };
    let directory = Directory::new(config.clone(), store, bans.clone(), internal_tx, cluster);
    task::spawn(directory.run(broker_rx, internal_rx));
    // Every writer holds a clone; when all are dropped, everything is flushed.
    let (writers_done, mut all_written) = mpsc::channel::<()>(1);
    let status = config.status_interval.map(|every| {
        let broker = broker_tx.clone();
        task::spawn(async move {
            loop {
                task::sleep(every).await;
                if broker.send(ToDirectory::Status).await.is_err() {
                    break;
                }
            }
        })
    });

    let slots = Slots::new(config.max_clients, config.max_per_ip);
    // A second after a join storm or a mass disconnect, the heap's free
    // pages go back to the kernel (idle connections: see `heap`).
    let trimmer = task::spawn(heap::trim_after_bursts(
        slots.churn.clone(),
        Duration::from_secs(1),
    ));
    // Dropped when the server stops: open web connections end.
    let (_web_stop, web_stopped) = oneshot::channel::<()>();
    let web = web::Gateway {
        broker: broker_tx.clone(),
        config: config.clone(),
        slots: slots.clone(),
        stop: web_stopped.shared(),
    };
    let mut next_id: ClientId = 1;
    let mut accept_backoff = Duration::from_millis(10);
    let shutdown = shutdown.fuse();
    futures::pin_mut!(shutdown);
    loop {
        let (accepted, kind) = futures::select_biased! {
            () = shutdown => break,
            accepted = listener.accept().fuse() => (accepted, Kind::Native),
            accepted = accept_on(irc_listener.as_ref()).fuse() => (accepted, Kind::Irc { tls: false }),
            accepted = accept_on(irc_tls_listener.as_ref()).fuse() => (accepted, Kind::Irc { tls: true }),
            accepted = accept_on(web_listener.as_ref()).fuse() => (accepted, Kind::Web),
        };
        let irc = matches!(kind, Kind::Irc { .. });
        let (stream, peer) = match accepted {
            Ok(pair) => {
                accept_backoff = Duration::from_millis(10);
                pair
            }
            Err(e) => {
                // EMFILE and friends pass once connections close: wait, retry.
                warn!(error = %e, retry_in = ?accept_backoff, "accept failed");
                task::sleep(accept_backoff).await;
                accept_backoff = (accept_backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        if kind == Kind::Web {
            // A browser's connection may only fetch the page: it takes a
            // slot when it opens the WebSocket.
            let id = next_id;
            next_id += 1;
            let visitor = web::Visitor {
                id,
                peer,
                writer_token: writers_done.clone(),
                refused: bans
                    .address_banned(peer.ip())
                    .then(|| "you are banned from this server".to_owned()),
            };
            task::spawn(web::serve(web.clone(), visitor, stream));
            continue;
        }
        if bans.address_banned(peer.ip()) {
            task::spawn(refuse(
                stream,
                peer,
                "you are banned from this server".to_owned(),
                irc,
            ));
            continue;
        }
        let slot = match slots.acquire(peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                task::spawn(refuse(stream, peer, why, irc));
                continue;
            }
        };
        let id = next_id;
        next_id += 1;
        let client = Client {
            id,
            peer,
            broker: broker_tx.clone(),
            config: config.clone(),
            writer_token: writers_done.clone(),
            kind,
        };
        task::spawn(client.serve_tcp(stream, slot));
    }

    info!("shutting down: no new connections");
    drop(_web_stop);
    if let Some(status) = status {
        status.cancel().await;
    }
    trimmer.cancel().await;
    let (done, queued) = oneshot::channel();
    if broker_tx.send(ToDirectory::Shutdown { done }).await.is_ok() {
        let _ = queued.await;
    }
    drop(writers_done);
    let flushed = async_std::future::timeout(config.shutdown_grace, all_written.next()).await;
    if flushed.is_err() {
        warn!(grace = ?config.shutdown_grace, "some clients did not take their last lines in time");
    }
    info!("server stopped");
    Ok(())
}

/// The next connection on `listener`, or never without one.
async fn accept_on(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => futures::future::pending().await,
    }
}

/// What a connection speaks, by the listener that accepted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Native clients: plain or structured, decided by the first line.
    Native,
    /// IRC from the first byte, no banner; over TLS or not.
    Irc { tls: bool },
    /// The structured protocol over WebSocket, one frame per message.
    Web,
}

/// One accepted connection, before its tasks start.
struct Client {
    id: ClientId,
    peer: SocketAddr,
    broker: Sender<ToDirectory>,
    config: Arc<Config>,
    writer_token: mpsc::Sender<()>,
    kind: Kind,
}

/// A connection's two directions, whatever carries them.
pub(crate) struct Transport {
    /// Where its lines come from.
    source: source::Source,
    /// Where its outbox is written.
    sink: Box<dyn futures::io::AsyncWrite + Send + Unpin>,
    /// The socket underneath, shut down to cut the connection off.
    socket: TcpStream,
    /// Whether the sink is the socket itself (plain TCP), so that a room's
    /// fan-out may write lines to it directly.
    plain: bool,
}

impl Client {
    /// A native or IRC connection: TCP options, TLS, then [`Client::attach`].
    async fn serve_tcp(self, stream: TcpStream, slot: Slot) {
        let (id, peer, config) = (self.id, self.peer, self.config.clone());
        // Chat lines are tiny: without this, Nagle and delayed ACKs add 40 ms.
        if let Err(e) = stream.set_nodelay(true) {
            warn!(client = id, error = %e, "cannot set TCP_NODELAY");
        }
        // Plain users are never pinged (they would see it): the kernel's
        // keepalive probes find the peers that vanished without a word.
        set_keepalive(&stream, &config, id);
        info!(client = id, %peer, irc = matches!(self.kind, Kind::Irc { .. }), "connected");
        // The plain IRC listener speaks plain TCP whatever the chat port does.
        let tls_config = match self.kind {
            Kind::Irc { tls: false } => None,
            _ => config.tls.as_ref(),
        };
        let plain = tls_config.is_none();
        let (reader, writer): tls::Halves = match tls_config {
            None => (Box::new(stream.clone()), Box::new(stream.clone())),
            // Boxed: the handshake's state is large, and held inline it
            // would stay part of every connection's task for its whole life.
            Some(tls_config) => {
                match Box::pin(tls::accept(stream.clone(), tls_config.clone(), peer)).await {
                    Ok(halves) => halves,
                    // Logged by `accept`; the client was told.
                    Err(_) => return,
                }
            }
        };
        let transport = Transport {
            source: source::Source::bytes(reader, config.max_line),
            sink: writer,
            socket: stream,
            plain,
        };
        self.attach(transport, slot).await;
    }

    /// Registers the connection with the directory, starts its writer and
    /// its reader, each a task of its own.
    ///
    /// The reader is not awaited here: this task's future holds the whole
    /// setup (TLS, the message to the directory, the transport's halves),
    /// and a task is as large as its largest state for its whole life. A
    /// fresh task whose future is only the reader's costs one spawn, and an
    /// idle connection then holds ~1.2 KiB less (heaptrack: 2,025 → 784 bytes).
    async fn attach(self, transport: Transport, slot: Slot) {
        let irc = matches!(self.kind, Kind::Irc { .. });
        let Some((mut reader, slot)) = self.register(transport, slot).await else {
            return;
        };
        task::spawn(async move {
            reader.serve(irc).await;
            drop(slot);
        });
    }

    /// Tells the directory of the connection and starts its writer; gives
    /// back the reader and the slot the reader holds, or `None` when the
    /// server is stopping.
    async fn register(
        self,
        transport: Transport,
        slot: Slot,
    ) -> Option<(Reader, std::sync::Arc<Slot>)> {
        let Client {
            id,
            peer,
            broker,
            config,
            writer_token,
            kind,
        } = self;
        let Transport {
            source,
            sink: writer,
            socket: stream,
            plain,
        } = transport;
        let outbox = match plain {
            true => Outbox::with_socket(config.max_send_queue, stream.clone()),
            false => Outbox::new(config.max_send_queue),
        };
        // IRC clients speak first, and a WebSocket carries only frames: a
        // banner would be a line they cannot read.
        if kind == Kind::Native {
            let _ = outbox.push(wire::plain_line(&banner(&config.default_room)));
        }
        let current = Arc::new(std::sync::atomic::AtomicU64::new(NO_ROOM));
        let connected = ToDirectory::Connected {
            id,
            peer,
            // Lines to an IRC client before it registers (shutdown) are IRC;
            // a WebSocket client is structured from the start.
            mode: match kind {
                Kind::Irc { .. } => wire::Mode::Irc(wire::IrcCaps::default()),
                Kind::Web => wire::Mode::Structured,
                Kind::Native => wire::Mode::Plain,
            },
            outbox: outbox.clone(),
            closer: stream.clone(),
            current: current.clone(),
        };
        if broker.send(connected).await.is_err() {
            return None;
        }
        let write_box = outbox.clone();
        let socket = stream.clone();
        // The slot is given back when both halves are done, so a peer cannot
        // free it by closing its sending side while the writer still holds
        // the socket.
        let slot = std::sync::Arc::new(slot);
        let writer_slot = slot.clone();
        task::spawn(async move {
            write_loop(writer, socket, write_box).await;
            drop(writer_slot);
            drop(writer_token);
        });
        let rooms = Membership::new(current);
        let reader = Reader::new(id, peer, source, broker, config, rooms);
        let reader = match kind {
            Kind::Irc { .. } => reader.speaking_irc(),
            Kind::Web => reader.speaking_structured(),
            Kind::Native => reader,
        };
        Some((reader, slot))
    }
}

/// Turns on the kernel's keepalive probes, when configured.
fn set_keepalive(stream: &TcpStream, config: &Config, id: ClientId) {
    if let Some(keepalive) = &config.keepalive {
        if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(keepalive) {
            warn!(client = id, error = %e, "cannot turn on TCP keepalive");
        }
    }
}

/// Tells a newcomer over a limit why, then closes.
async fn refuse(mut stream: TcpStream, peer: SocketAddr, why: String, irc: bool) {
    connection::log_refused(peer, &why);
    let line = if irc {
        wire::irc_closing(&why)
    } else {
        wire::plain_line(&format!("! {why}"))
    };
    let _ = async_std::future::timeout(Duration::from_secs(2), stream.write_all(&line)).await;
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Connection counts, total and per address.
#[derive(Clone)]
struct Slots {
    inner: Arc<Mutex<SlotCounts>>,
    /// Every slot taken or given back, for giving memory back after bursts.
    churn: heap::Churn,
}

struct SlotCounts {
    max_total: usize,
    max_per_ip: usize,
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// A held connection slot, given back when dropped.
struct Slot {
    slots: Slots,
    ip: IpAddr,
}

impl Slots {
    fn new(max_total: usize, max_per_ip: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(SlotCounts {
                max_total,
                max_per_ip,
                total: 0,
                per_ip: HashMap::new(),
            })),
            churn: heap::Churn::default(),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, SlotCounts> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn acquire(&self, ip: IpAddr) -> Result<Slot, String> {
        let mut counts = self.counts();
        if counts.total >= counts.max_total {
            return Err(format!(
                "server is full ({} connections); try again later",
                counts.max_total
            ));
        }
        let max_per_ip = counts.max_per_ip;
        let from_ip = counts.per_ip.entry(ip).or_insert(0);
        if *from_ip >= max_per_ip {
            return Err(format!("too many connections from {ip} (max {max_per_ip})"));
        }
        *from_ip += 1;
        counts.total += 1;
        self.churn.tick();
        Ok(Slot {
            slots: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.churn.tick();
        let mut counts = self.slots.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

/// A server running in the background on `127.0.0.1:0`, for tests and for
/// programs that embed one. Dropping the handle stops the server.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    irc_addr: Option<SocketAddr>,
    irc_tls_addr: Option<SocketAddr>,
    web_addr: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<task::JoinHandle<Result<(), ServerError>>>,
}

impl ServerHandle {
    /// Binds `127.0.0.1:0` and runs the server there.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start(config: Config) -> Result<Self, ServerError> {
        Self::start_serving(config, false, None).await
    }

    /// Binds two ports on `127.0.0.1`, one for native clients and one for
    /// IRC clients ([`ServerHandle::irc_addr`]), and runs the server there;
    /// with `config.tls`, a third for IRC over TLS
    /// ([`ServerHandle::irc_tls_addr`]).
    ///
    /// # Errors
    /// When a port cannot be bound.
    pub async fn start_with_irc(config: Config) -> Result<Self, ServerError> {
        Self::start_serving(config, true, None).await
    }

    /// Binds two ports on `127.0.0.1`, one for native clients and one for
    /// browsers ([`ServerHandle::web_addr`]: the web client and its
    /// WebSocket, over TLS with `config.tls`), and runs the server there.
    ///
    /// # Errors
    /// When a port cannot be bound.
    pub async fn start_with_web(config: Config) -> Result<Self, ServerError> {
        let any_port: SocketAddr = (std::net::Ipv4Addr::LOCALHOST, 0).into();
        Self::start_serving(config, false, Some(any_port)).await
    }

    /// [`ServerHandle::start_with_web`] with browsers served on `web`: a
    /// server started again where the one before was, for tests of
    /// reconnection.
    ///
    /// # Errors
    /// When a port cannot be bound.
    pub async fn start_with_web_on(config: Config, web: SocketAddr) -> Result<Self, ServerError> {
        Self::start_serving(config, false, Some(web)).await
    }

    async fn start_serving(
        config: Config,
        irc: bool,
        web: Option<SocketAddr>,
    ) -> Result<Self, ServerError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let irc = match irc {
            true => Some(TcpListener::bind("127.0.0.1:0").await?),
            false => None,
        };
        let irc_addr = irc.as_ref().map(TcpListener::local_addr).transpose()?;
        let irc_tls = match irc_addr.is_some() && config.tls.is_some() {
            true => Some(TcpListener::bind("127.0.0.1:0").await?),
            false => None,
        };
        let irc_tls_addr = irc_tls.as_ref().map(TcpListener::local_addr).transpose()?;
        let web = match web {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let web_addr = web.as_ref().map(TcpListener::local_addr).transpose()?;
        let listeners = Listeners {
            chat: listener,
            irc,
            irc_tls,
            web,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = task::spawn(run_with(listeners, config, stopped.map(drop)));
        Ok(Self {
            addr,
            irc_addr,
            irc_tls_addr,
            web_addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where IRC clients connect, when started with IRC.
    pub fn irc_addr(&self) -> Option<SocketAddr> {
        self.irc_addr
    }

    /// Where IRC clients connect over TLS, when started with IRC and TLS.
    pub fn irc_tls_addr(&self) -> Option<SocketAddr> {
        self.irc_tls_addr
    }

    /// Where browsers connect (`http://` or, with TLS, `https://`), when
    /// started with the web gateway.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web_addr
    }

    /// Stops the server as Ctrl-C would, and waits until it has finished.
    ///
    /// # Errors
    /// What [`run`] returned.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        drop(self.stop.take());
        match self.task.take() {
            Some(task) => task.await,
            None => Ok(()),
        }
    }
}
