//! The "raw fan-out" reference: a minimal TCP fan-out with no chat logic,
//! run on its own thread in this process, that the same clients and the same
//! measurements drive, so a report can say how close the relay gets to what
//! this machine can do.
//!
//! It runs either on a thread of the benchmark's own process
//! ([`Baseline::start`]) or alone in a process of its own
//! ([`BaselineProcess::spawn`], `chat-bench serve-baseline`), measured whole
//! as a server is. The second is the fair comparison: on a thread beside the
//! clients it shares their reactor, whose threads then pick up its sockets'
//! events and wake it, and that CPU is counted as the clients'.
//!
//! It speaks just enough of the protocol for the clients: a banner, a welcome
//! after `hello`, and for each `message` line one `message` frame, serialised
//! once and shared by every client's queue. The frame names its room, as
//! every message frame from a server of this protocol version does (only a
//! version-1 server leaves it out), in a room called what the relay's default
//! room is called: the bytes on the wire per delivery are the relay's, less
//! the relay's sequence numbers (from the clock without a store, so several
//! digits longer than this counter's). Each client's writer takes every
//! queued line in one write per wake-up. No names check, no rate limits, no
//! byte limits, no logging: what is left is what any relay must pay.

use std::cell::{Cell, RefCell};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use anyhow::Context;
use async_std::io::{ReadExt, WriteExt};
use async_std::net::{TcpListener, TcpStream};
use chat_core::codec::{decode_client_frame, encode_frame, LineDecoder};
use chat_core::protocol::{
    ChatMessage, ClientFrame, Limits, ServerFrame, Welcome, PROTOCOL_VERSION,
};
use futures::channel::{mpsc, oneshot};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};

use crate::procfs::{self, Probe};

type Line = Rc<[u8]>;

/// The room the baseline's clients are in: named as `chat-server`'s default
/// room, so that the two name it in as many bytes.
const ROOM: &str = "lobby";

#[derive(Default)]
struct Room {
    clients: RefCell<Vec<(u64, mpsc::UnboundedSender<Line>)>>,
    next_seq: Cell<u64>,
    next_id: Cell<u64>,
}

/// The fan-out running on its own thread; dropping it stops it.
#[derive(Debug)]
pub struct Baseline {
    addr: SocketAddr,
    thread_dir: Option<PathBuf>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Baseline {
    /// Binds 127.0.0.1:0 and serves on a new thread.
    ///
    /// # Errors
    /// When the port cannot be bound or the thread cannot start.
    pub fn start() -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("baseline bind")?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let (dir_tx, dir_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("baseline-fanout".to_owned())
            .spawn(move || {
                let _ = dir_tx.send(procfs::this_thread());
                // The reactor's own block_on, not async-std's: that one would
                // start async-std's worker threads, which this single-threaded
                // fan-out does not use but which would take turns at its
                // reactor (and, in a process of its own, be counted).
                async_io::block_on(serve(TcpListener::from(listener), stopped));
            })
            .context("baseline thread")?;
        let thread_dir = dir_rx.recv().ok().flatten();
        Ok(Self {
            addr,
            thread_dir,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its thread's CPU time, for the same figures as the server's.
    pub fn probe(&self) -> Option<Probe> {
        self.thread_dir.clone().map(Probe::Thread)
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The baseline alone in a child process (`EXE serve-baseline`), stopped
/// when dropped: its CPU and memory are read for the whole process, as the
/// server's are.
#[derive(Debug)]
pub struct BaselineProcess {
    child: Child,
    /// Its stdin: the child stops when this end closes, even if this
    /// process dies without dropping it.
    _lifeline: Option<std::process::ChildStdin>,
    addr: SocketAddr,
}

impl BaselineProcess {
    /// Starts `exe serve-baseline` and reads the address it prints.
    ///
    /// # Errors
    /// When the process cannot start or does not print an address.
    pub fn spawn(exe: &Path) -> anyhow::Result<Self> {
        let mut child = Command::new(exe)
            .arg("serve-baseline")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {} serve-baseline", exe.display()))?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| std::io::BufReader::new(out).read_line(&mut line));
        let addr = match read {
            Some(Ok(_)) => line.trim().parse().ok(),
            _ => None,
        };
        match addr {
            Some(addr) => Ok(Self {
                _lifeline: child.stdin.take(),
                child,
                addr,
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!("serve-baseline printed no address (got {line:?})")
            }
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The whole process.
    pub fn probe(&self) -> Probe {
        Probe::Process(self.child.id())
    }
}

impl Drop for BaselineProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves the baseline on a thread of this process and prints its address on
/// stdout, then serves until stdin closes (or the process is killed):
/// `chat-bench serve-baseline`, the other end of [`BaselineProcess`].
///
/// # Errors
/// When it cannot start or print.
pub fn serve_until_stdin_closes() -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let baseline = Baseline::start()?;
    let mut out = std::io::stdout();
    writeln!(out, "{}", baseline.addr()).context("cannot print the address")?;
    out.flush().context("cannot print the address")?;
    // Nothing is ever sent: the read returns when the parent closes its
    // end or dies.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(baseline);
    Ok(())
}

/// Accepts and serves every connection on this one thread until `stop`.
async fn serve(listener: TcpListener, stop: oneshot::Receiver<()>) {
    let room = Rc::new(Room::default());
    let mut conns = FuturesUnordered::new();
    let mut stop = stop.fuse();
    loop {
        futures::select! {
            _ = stop => break,
            accepted = listener.accept().fuse() => match accepted {
                Ok((stream, _)) => conns.push(connection(room.clone(), stream).boxed_local()),
                // Out of descriptors: give closing connections a moment.
                Err(_) => async_std::task::sleep(Duration::from_millis(10)).await,
            },
            () = conns.select_next_some() => {}
        }
    }
}

async fn connection(room: Rc<Room>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let id = room.next_id.get();
    room.next_id.set(id + 1);
    let (tx, rx) = mpsc::unbounded::<Line>();
    let _ = tx.unbounded_send(Rc::from(
        format!("* welcome to room \"{ROOM}\"\n").as_bytes(),
    ));
    let reader = read_side(room.clone(), stream.clone(), id, tx);
    let writer = write_side(stream.clone(), rx);
    futures::pin_mut!(reader, writer);
    // When reading ends, the client is gone: stop writing too.
    futures::future::select(reader, writer).await;
    room.clients.borrow_mut().retain(|(c, _)| *c != id);
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

async fn write_side(mut stream: TcpStream, mut rx: mpsc::UnboundedReceiver<Line>) {
    let mut batch = Vec::new();
    while let Some(first) = rx.next().await {
        batch.clear();
        batch.extend_from_slice(&first);
        while let Ok(more) = rx.try_recv() {
            batch.extend_from_slice(&more);
        }
        if stream.write_all(&batch).await.is_err() {
            break;
        }
    }
}

async fn read_side(
    room: Rc<Room>,
    mut stream: TcpStream,
    id: u64,
    tx: mpsc::UnboundedSender<Line>,
) {
    let mut decoder = LineDecoder::new(64 * 1024);
    let mut buf = vec![0u8; 8192];
    let mut name: Option<String> = None;
    let mut tx = Some(tx);
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        decoder.feed(&buf[..n]);
        while let Some(line) = decoder.next_line() {
            let Ok(frame) = line
                .map_err(drop)
                .and_then(|l| decode_client_frame(&l).map_err(drop))
            else {
                continue;
            };
            match (frame, &name) {
                (ClientFrame::Hello { name: wanted, .. }, None) => {
                    let welcome = ServerFrame::Welcome(Welcome {
                        rooms: Vec::new(),
                        topic: None,
                        version: PROTOCOL_VERSION,
                        name: wanted.clone(),
                        room: ROOM.to_owned(),
                        users: Vec::new(),
                        limits: Limits {
                            max_rooms: 0,
                            max_line: 8192,
                            max_name: 32,
                            rate_per_sec: 0,
                            burst: 0,
                        },
                    });
                    if let Some(tx) = tx.take() {
                        let _ = tx.unbounded_send(Rc::from(encode_frame(&welcome)));
                        room.clients.borrow_mut().push((id, tx));
                    }
                    name = Some(wanted);
                }
                (ClientFrame::Message { text, .. }, Some(from)) => {
                    let seq = room.next_seq.get();
                    room.next_seq.set(seq + 1);
                    let frame = ServerFrame::Message(ChatMessage {
                        room: Some(ROOM.to_owned()),
                        seq,
                        time: chat_core::protocol::now_millis(),
                        from: from.clone(),
                        text,
                        id: None,
                    });
                    let line: Line = Rc::from(encode_frame(&frame));
                    for (_, client) in room.clients.borrow().iter() {
                        let _ = client.unbounded_send(line.clone());
                    }
                }
                (ClientFrame::Quit { .. }, _) => return,
                _ => {}
            }
        }
    }
}
