//! A client's outgoing queue: bounded in bytes, never blocking the pusher,
//! drained by the client's writer in one batch per wake-up, or, for a plain
//! TCP socket, by a room's fan-out pass (the `fanout` module) that writes
//! what its room queued without waking the writer.
//!
//! The broker pushes shared, pre-serialised lines (`Bytes`) and moves on; a
//! client that stops reading fills only its own queue, and when that passes
//! the limit the push fails and the broker drops the client. Nobody else ever
//! waits for it.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use async_std::net::TcpStream;
use bytes::Bytes;
use futures::io::AsyncWrite;
use futures::task::AtomicWaker;
use tracing::debug;

/// Lines an empty queue keeps room for; a larger queue is freed once drained.
const IDLE_LINES: usize = 8;

/// The push did not fit: the client is too slow and must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// What the writer should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Write these bytes (every queued line, concatenated).
    Write,
    /// Everything is written and the queue is closed: close the socket.
    Done,
    /// The queue was abandoned (overflow or abort): close without flushing.
    Abort,
}

#[derive(Debug, Default)]
struct State {
    lines: VecDeque<Bytes>,
    bytes: usize,
    closed: bool,
    aborted: bool,
    /// Lines were queued by [`Outbox::hold`] and nobody woken for them yet.
    held: bool,
    /// Someone is writing to the socket (the writer, or a fan-out pass):
    /// nobody else may, or lines would interleave.
    pen: bool,
    /// A fan-out pass found the socket full and left the rest, and the
    /// pen, to the writer.
    handed: bool,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    waker: AtomicWaker,
    limit: usize,
    /// The plain TCP socket under the writer, which a fan-out pass may
    /// write to directly (`None` for TLS and WebSocket connections).
    direct: Option<TcpStream>,
}

/// The sending side and the writer share one `Outbox`.
#[derive(Debug, Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

impl Outbox {
    /// A queue that holds at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self::build(limit, None)
    }

    /// A queue for a plain TCP connection, whose lines a room's fan-out
    /// may write straight to `socket` (the writer's own socket).
    pub fn with_socket(limit: usize, socket: TcpStream) -> Self {
        Self::build(limit, Some(socket))
    }

    fn build(limit: usize, direct: Option<TcpStream>) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                waker: AtomicWaker::new(),
                limit,
                direct,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue half-updated
        // in a way that matters more than losing the client, so keep going.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a line. Fails, and abandons the queue, when it would pass the
    /// limit; pushing to a closed queue is ignored.
    ///
    /// # Errors
    /// [`Overflow`] when the client's queue is full.
    pub fn push(&self, line: Bytes) -> Result<(), Overflow> {
        drop(self.queue(line)?);
        self.inner.waker.wake();
        Ok(())
    }

    /// Queues a line like [`Outbox::push`] but leaves the writer asleep: a
    /// room queues several messages, then a fan-out pass writes them in one
    /// write ([`Outbox::send_now`], which calls [`Outbox::release`] when
    /// there is no plain socket). Returns `true` for the first held line
    /// since the last pass or release, when the caller must hand the
    /// outbox to one.
    ///
    /// # Errors
    /// [`Overflow`] when the client's queue is full (the writer is woken
    /// at once to close).
    pub fn hold(&self, line: Bytes) -> Result<bool, Overflow> {
        let mut state = self.queue(line)?;
        let first = !state.held && !state.closed;
        state.held = true;
        Ok(first)
    }

    /// Wakes the writer for what [`Outbox::hold`] queued.
    pub fn release(&self) {
        self.state().held = false;
        self.inner.waker.wake();
    }

    /// Adds a line under the lock, which it gives back; on overflow it
    /// abandons the queue and wakes the writer to close.
    fn queue(&self, line: Bytes) -> Result<MutexGuard<'_, State>, Overflow> {
        let mut state = self.state();
        if state.closed {
            return Ok(state);
        }
        if state.bytes + line.len() > self.inner.limit {
            state.closed = true;
            state.aborted = true;
            state.lines.clear();
            state.bytes = 0;
            drop(state);
            self.inner.waker.wake();
            return Err(Overflow);
        }
        state.bytes += line.len();
        state.lines.push_back(line);
        Ok(state)
    }

    /// No more lines: the writer flushes what is queued, then finishes.
    pub fn close(&self) {
        self.state().closed = true;
        self.inner.waker.wake();
    }

    /// Drops what is queued and tells the writer to stop at once.
    pub fn abort(&self) {
        {
            let mut state = self.state();
            state.closed = true;
            state.aborted = true;
            state.lines.clear();
            state.bytes = 0;
        }
        self.inner.waker.wake();
    }

    /// Bytes waiting to be written.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.state().bytes
    }

    /// Whether nothing waits to be written.
    pub fn is_empty(&self) -> bool {
        self.state().lines.is_empty()
    }

    /// Writes what is queued straight to the socket, without waking the
    /// writer (a room's fan-out pass). Leaves the lines to the writer when
    /// it is writing, when the connection is closing, when the socket is
    /// full (the rest goes first in line, with the pen) or when there is no
    /// plain socket. `scratch` is the caller's buffer, reused.
    pub fn send_now(&self, scratch: &mut Vec<u8>) {
        let Some(socket) = &self.inner.direct else {
            self.release();
            return;
        };
        let mut state = self.state();
        state.held = false;
        if state.pen || state.lines.is_empty() {
            // The writer is writing; it looks at the queue again before it
            // sleeps.
            return;
        }
        if state.closed {
            // The writer flushes and closes.
            drop(state);
            self.inner.waker.wake();
            return;
        }
        state.pen = true;
        scratch.clear();
        take(&mut state, scratch);
        drop(state);
        let sent = try_send(socket, scratch);
        let mut state = self.state();
        match sent {
            Ok(n) if n == scratch.len() => {
                state.pen = false;
                // Lines pushed while the pen was taken found the writer
                // unable to write; held lines bring a fan-out pass back.
                let wake = state.closed || (!state.lines.is_empty() && !state.held);
                drop(state);
                if wake {
                    self.inner.waker.wake();
                }
            }
            Ok(n) => {
                let rest = Bytes::copy_from_slice(&scratch[n..]);
                state.bytes += rest.len();
                state.lines.push_front(rest);
                state.handed = true;
                drop(state);
                self.inner.waker.wake();
            }
            Err(e) => {
                debug!(error = %e, "direct write failed");
                state.pen = false;
                drop(state);
                self.abort();
            }
        }
    }

    /// Waits for lines and moves all of them into `batch` (cleared first),
    /// taking the pen: the writer gives it back with [`Outbox::written`].
    pub async fn next_batch(&self, batch: &mut Vec<u8>) -> Next {
        batch.clear();
        futures::future::poll_fn(|cx| {
            self.inner.waker.register(cx.waker());
            let mut state = self.state();
            if state.aborted {
                return Poll::Ready(Next::Abort);
            }
            if state.handed {
                state.handed = false;
            } else if state.pen {
                // A fan-out pass is writing; it wakes us if it leaves lines.
                return Poll::Pending;
            } else if state.lines.is_empty() {
                return if state.closed {
                    Poll::Ready(Next::Done)
                } else {
                    Poll::Pending
                };
            }
            state.pen = true;
            take(&mut state, batch);
            Poll::Ready(Next::Write)
        })
        .await
    }

    /// The writer wrote its batch: someone else may write now.
    pub fn written(&self) {
        self.state().pen = false;
    }
}

/// Moves every queued line into `batch`.
fn take(state: &mut State, batch: &mut Vec<u8>) {
    batch.reserve(state.bytes);
    for line in state.lines.drain(..) {
        batch.extend_from_slice(&line);
    }
    state.bytes = 0;
    if state.lines.capacity() > IDLE_LINES {
        // A burst (a join storm, a flood) grew the queue: an idle
        // client should not keep that much room for lines.
        state.lines = VecDeque::new();
    }
}

/// Writes as much of `buf` as the socket takes now; how much that was.
fn try_send(socket: &TcpStream, buf: &[u8]) -> std::io::Result<usize> {
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    let mut sent = 0;
    while sent < buf.len() {
        match Pin::new(&mut &*socket).poll_write(&mut cx, &buf[sent..]) {
            Poll::Ready(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
            Poll::Ready(Ok(n)) => sent += n,
            Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => break,
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::ArcWake;
    use std::future::Future;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[async_std::test]
    async fn batches_everything_queued_in_order() {
        let outbox = Outbox::new(100);
        outbox.push(Bytes::from_static(b"a\n")).unwrap();
        outbox.push(Bytes::from_static(b"b\n")).unwrap();
        let mut batch = Vec::new();
        assert_eq!(outbox.next_batch(&mut batch).await, Next::Write);
        assert_eq!(batch, b"a\nb\n");
        outbox.push(Bytes::from_static(b"c\n")).unwrap();
        outbox.close();
        outbox.written();
        assert_eq!(outbox.next_batch(&mut batch).await, Next::Write);
        assert_eq!(batch, b"c\n");
        outbox.written();
        assert_eq!(outbox.next_batch(&mut batch).await, Next::Done);
    }

    /// A connected pair of sockets: the server's end, and the peer's.
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = TcpStream::connect(addr).await.unwrap();
        let (ours, _) = listener.accept().await.unwrap();
        (ours, peer)
    }

    async fn read_exactly(peer: &mut TcpStream, n: usize) -> Vec<u8> {
        use async_std::io::ReadExt;
        let mut got = vec![0; n];
        async_std::future::timeout(Duration::from_secs(10), peer.read_exact(&mut got))
            .await
            .expect("the lines arrive")
            .unwrap();
        got
    }

    #[async_std::test]
    async fn a_fan_out_pass_writes_to_the_socket_without_the_writer() {
        let (ours, mut peer) = pair().await;
        let outbox = Outbox::with_socket(1000, ours);
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        let waker = futures::task::waker(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let mut batch = Vec::new();
        let mut scratch = Vec::new();
        {
            let mut next = Box::pin(outbox.next_batch(&mut batch));
            assert!(next.as_mut().poll(&mut cx).is_pending());
            assert_eq!(outbox.hold(Bytes::from_static(b"a\n")), Ok(true));
            assert_eq!(outbox.hold(Bytes::from_static(b"b\n")), Ok(false));
            outbox.send_now(&mut scratch);
            assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "the writer was woken");
            assert!(next.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(read_exactly(&mut peer, 4).await, b"a\nb\n");
        // Sent: the next held line asks for a pass again.
        assert_eq!(outbox.hold(Bytes::from_static(b"c\n")), Ok(true));
    }

    #[async_std::test]
    async fn a_pass_leaves_lines_to_a_writer_that_is_writing() {
        let (ours, peer) = pair().await;
        let outbox = Outbox::with_socket(1000, ours);
        let mut batch = Vec::new();
        let mut scratch = Vec::new();
        outbox.push(Bytes::from_static(b"1\n")).unwrap();
        assert_eq!(outbox.next_batch(&mut batch).await, Next::Write);
        // The writer holds the pen (its write is under way): the pass must
        // not write "2" before "1".
        outbox.hold(Bytes::from_static(b"2\n")).unwrap();
        outbox.send_now(&mut scratch);
        outbox.written();
        let next =
            async_std::future::timeout(Duration::from_secs(5), outbox.next_batch(&mut batch));
        assert_eq!(
            next.await,
            Ok(Next::Write),
            "the line was not left to the writer"
        );
        assert_eq!(batch, b"2\n");
        drop(peer);
    }

    #[async_std::test]
    async fn a_full_socket_hands_the_rest_to_the_writer_in_order() {
        let (ours, mut peer) = pair().await;
        let limit = 64 << 20;
        let outbox = Outbox::with_socket(limit, ours.clone());
        // Far more than the socket buffers take while nobody reads.
        let lines: Vec<Bytes> = (0..40_000)
            .map(|i| Bytes::from(format!("{i:0>200}\n")))
            .collect();
        let total: usize = lines.iter().map(Bytes::len).sum();
        for line in &lines {
            outbox.hold(line.clone()).unwrap();
        }
        let mut scratch = Vec::new();
        outbox.send_now(&mut scratch);
        assert!(outbox.state().handed, "the socket took everything");
        outbox.hold(Bytes::from_static(b"last\n")).unwrap();
        outbox.close();
        let writer = async_std::task::spawn(crate::writer::write_loop(
            Box::new(ours.clone()),
            ours,
            outbox,
        ));
        let got = read_exactly(&mut peer, total + 5).await;
        let want: Vec<u8> = lines
            .iter()
            .flat_map(|l| l.iter().copied())
            .chain(*b"last\n")
            .collect();
        assert!(got == want, "bytes lost, doubled or out of order");
        async_std::future::timeout(Duration::from_secs(10), writer)
            .await
            .expect("the writer finishes once everything is written");
    }

    struct Wakes(AtomicUsize);
    impl ArcWake for Wakes {
        fn wake_by_ref(me: &Arc<Self>) {
            me.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn held_lines_wake_the_writer_once_released() {
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        let waker = futures::task::waker(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let outbox = Outbox::new(100);
        let mut batch = Vec::new();
        {
            let mut next = Box::pin(outbox.next_batch(&mut batch));
            assert!(next.as_mut().poll(&mut cx).is_pending());
            assert_eq!(outbox.hold(Bytes::from_static(b"a\n")), Ok(true));
            assert_eq!(outbox.hold(Bytes::from_static(b"b\n")), Ok(false));
            assert_eq!(
                wakes.0.load(Ordering::SeqCst),
                0,
                "held lines woke the writer"
            );
            outbox.release();
            assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
            assert_eq!(next.as_mut().poll(&mut cx), Poll::Ready(Next::Write));
        }
        assert_eq!(batch, b"a\nb\n");
        outbox.written();
        // Released: the next held line asks for a release again, and a
        // plain push wakes at once.
        assert_eq!(outbox.hold(Bytes::from_static(b"c\n")), Ok(true));
        {
            let mut next = Box::pin(outbox.next_batch(&mut batch));
            assert_eq!(next.as_mut().poll(&mut cx), Poll::Ready(Next::Write));
        }
        outbox.written();
        {
            let mut next = Box::pin(outbox.next_batch(&mut batch));
            assert!(next.as_mut().poll(&mut cx).is_pending());
        }
        outbox.push(Bytes::from_static(b"d\n")).unwrap();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
    }

    #[async_std::test]
    async fn overflow_abandons_the_queue() {
        let outbox = Outbox::new(5);
        outbox.push(Bytes::from_static(b"1234\n")).unwrap();
        assert_eq!(outbox.push(Bytes::from_static(b"x\n")), Err(Overflow));
        assert_eq!(outbox.queued(), 0);
        let mut batch = Vec::new();
        assert_eq!(outbox.next_batch(&mut batch).await, Next::Abort);
        // Later pushes are ignored, not errors: the client is already gone.
        assert_eq!(outbox.push(Bytes::from_static(b"y\n")), Ok(()));
    }
}
