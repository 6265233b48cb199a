//! A client's outgoing queue: bounded in bytes, never blocking the pusher,
//! drained by the client's writer in one batch per wake-up.
//!
//! The broker pushes shared, pre-serialised lines (`Bytes`) and moves on; a
//! client that stops reading fills only its own queue, and when that passes
//! the limit the push fails and the broker drops the client. Nobody else ever
//! waits for it.
//!
//! Waking the writer is what a line costs most when traffic is light (a
//! task switch, often to the other thread), so it is done only when needed:
//! never while the writer is busy writing (it comes back for more on its
//! own), and a room's broker pushes through a [`Deferred`], which flushes
//! each outbox once per batch of requests. A flush of a plain socket whose
//! writer is idle writes the lines itself, without waiting (a non-blocking
//! `send`), and wakes the writer only for what the socket did not take.
//! Bytes reach the socket from one side at a time, in queue order: the
//! writer only writes lines it took out of the queue, a flush only while
//! the writer holds none, both under the queue's lock.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use async_std::net::TcpStream;
use bytes::{Buf, Bytes};
use futures::task::AtomicWaker;

/// Lines an empty queue keeps room for; a larger queue is freed once drained.
const IDLE_LINES: usize = 8;

/// Most lines a flush hands the kernel in one `sendmsg`.
const SLICES: usize = 64;

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
    /// The writer took lines out and has not asked for more yet: it will
    /// come back for what is queued without being woken, and nobody else
    /// may write to the socket meanwhile.
    writing: bool,
    /// Lines were queued without waking the writer: a [`Deferred`] holds
    /// this outbox and will flush it.
    deferred: bool,
    /// The socket the writer writes to, when lines go out as they are (no
    /// TLS, no WebSocket framing): a flush may write to it directly.
    direct: Option<TcpStream>,
}

impl State {
    /// Queues a line; `false` (and the queue abandoned) when it does not fit.
    fn queue(&mut self, line: Bytes, limit: usize) -> bool {
        if self.bytes + line.len() > limit {
            self.abandon();
            return false;
        }
        self.bytes += line.len();
        self.lines.push_back(line);
        true
    }

    fn abandon(&mut self) {
        self.closed = true;
        self.aborted = true;
        self.lines.clear();
        self.bytes = 0;
        self.direct = None;
    }

    /// After the queue was emptied: a burst (a join storm, a flood) grew
    /// it, and an idle client should not keep that much room for lines.
    fn emptied(&mut self) {
        if self.lines.capacity() > IDLE_LINES {
            self.lines = VecDeque::new();
        }
    }

    /// Writes queued lines to the plain socket until it would block; what
    /// it did not take stays queued, in order.
    fn write_directly(&mut self) {
        let Some(socket) = &self.direct else {
            return;
        };
        let socket = socket2::SockRef::from(socket);
        while !self.lines.is_empty() {
            let count = self.lines.len().min(SLICES);
            let offered: usize = self.lines.iter().take(count).map(Bytes::len).sum();
            let sent = if count == 1 {
                socket.send(&self.lines[0])
            } else {
                let mut slices = [IoSlice::new(&[]); SLICES];
                for (slice, line) in slices.iter_mut().zip(&self.lines) {
                    *slice = IoSlice::new(line);
                }
                socket.send_vectored(&slices[..count])
            };
            // Would block, or failed: the writer waits for the socket, or
            // meets the same error and ends the connection.
            let Ok(mut sent) = sent else {
                return;
            };
            self.bytes -= sent;
            let short = sent < offered;
            while sent > 0 {
                let Some(first) = self.lines.front_mut() else {
                    break;
                };
                if first.len() <= sent {
                    sent -= first.len();
                    self.lines.pop_front();
                } else {
                    first.advance(sent);
                    sent = 0;
                }
            }
            if short {
                return;
            }
        }
        self.emptied();
    }
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    waker: AtomicWaker,
    limit: usize,
}

/// The sending side and the writer share one `Outbox`.
#[derive(Debug, Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

impl Outbox {
    /// A queue that holds at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                waker: AtomicWaker::new(),
                limit,
            }),
        }
    }

    /// Lets a flush write straight to `socket`, the plain TCP socket the
    /// writer writes these lines to unchanged. Never for TLS or WebSocket
    /// connections: their bytes are not the lines.
    pub fn write_directly_to(&self, socket: TcpStream) {
        self.state().direct = Some(socket);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue half-updated
        // in a way that matters more than losing the client, so keep going.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a line and wakes the writer, unless it is writing (it comes
    /// back for the line). Fails, and abandons the queue, when the line
    /// would pass the limit; pushing to a closed queue is ignored.
    ///
    /// # Errors
    /// [`Overflow`] when the client's queue is full.
    pub fn push(&self, line: Bytes) -> Result<(), Overflow> {
        let mut state = self.state();
        if state.closed {
            return Ok(());
        }
        let fits = state.queue(line, self.inner.limit);
        let wake = !fits || !state.writing;
        drop(state);
        if wake {
            self.inner.waker.wake();
        }
        if fits {
            Ok(())
        } else {
            Err(Overflow)
        }
    }

    /// Writes what is queued, when the writer is idle and the socket is
    /// plain, and wakes the writer for what is left.
    fn flush(&self) {
        let mut state = self.state();
        state.deferred = false;
        if state.writing || state.lines.is_empty() {
            return;
        }
        // Closed queues have no socket left to write to: the writer ends.
        state.write_directly();
        let left = !state.lines.is_empty();
        drop(state);
        if left {
            self.inner.waker.wake();
        }
    }

    /// No more lines: the writer flushes what is queued, then finishes.
    pub fn close(&self) {
        {
            let mut state = self.state();
            state.closed = true;
            state.direct = None;
        }
        self.inner.waker.wake();
    }

    /// Drops what is queued and tells the writer to stop at once.
    pub fn abort(&self) {
        self.state().abandon();
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

    /// Waits for lines and moves all of them into `batch` (cleared first).
    pub async fn next_batch(&self, batch: &mut Vec<u8>) -> Next {
        batch.clear();
        futures::future::poll_fn(|cx| {
            self.inner.waker.register(cx.waker());
            let mut state = self.state();
            // Whatever was taken before is written: pushes wake us again.
            state.writing = false;
            if state.aborted {
                return Poll::Ready(Next::Abort);
            }
            if state.lines.is_empty() {
                return if state.closed {
                    Poll::Ready(Next::Done)
                } else {
                    Poll::Pending
                };
            }
            batch.reserve(state.bytes);
            for line in state.lines.drain(..) {
                batch.extend_from_slice(&line);
            }
            state.bytes = 0;
            state.writing = true;
            state.emptied();
            Poll::Ready(Next::Write)
        })
        .await
    }
}

/// The outboxes a broker pushed to without waking their writers, flushed
/// together once it has handled a batch of requests: a writer is woken (or
/// written for) once per batch, not once per line.
#[derive(Debug, Default)]
pub struct Deferred {
    touched: Vec<Outbox>,
}

impl Deferred {
    /// Queues a line in `outbox`, to be written at the next [`flush`]
    /// (or by the writer, if it is writing already). Overflow is as for
    /// [`Outbox::push`].
    ///
    /// # Errors
    /// [`Overflow`] when the client's queue is full.
    ///
    /// [`flush`]: Deferred::flush
    pub fn push(&mut self, outbox: &Outbox, line: Bytes) -> Result<(), Overflow> {
        let mut state = outbox.state();
        if state.closed {
            return Ok(());
        }
        if !state.queue(line, outbox.inner.limit) {
            drop(state);
            outbox.inner.waker.wake();
            return Err(Overflow);
        }
        if !state.writing && !state.deferred {
            state.deferred = true;
            self.touched.push(outbox.clone());
        }
        Ok(())
    }

    /// Writes or wakes for every outbox pushed to since the last flush.
    pub fn flush(&mut self) {
        for outbox in self.touched.drain(..) {
            outbox.flush();
        }
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(outbox.next_batch(&mut batch).await, Next::Write);
        assert_eq!(batch, b"c\n");
        assert_eq!(outbox.next_batch(&mut batch).await, Next::Done);
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

    /// A connected pair of loopback sockets: (the server's side, the peer).
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let (peer, accepted) = futures::join!(TcpStream::connect(addr), listener.accept());
        (accepted.expect("accept").0, peer.expect("connect"))
    }

    async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
        async_std::future::timeout(std::time::Duration::from_secs(10), fut)
            .await
            .unwrap_or_else(|_| panic!("timed out: {what}"))
    }

    #[async_std::test]
    async fn a_flush_writes_for_an_idle_writer() {
        use async_std::io::ReadExt;
        let (socket, mut peer) = pair().await;
        let outbox = Outbox::new(100);
        outbox.write_directly_to(socket);
        let mut deferred = Deferred::default();
        deferred.push(&outbox, Bytes::from_static(b"a\n")).unwrap();
        deferred.push(&outbox, Bytes::from_static(b"b\n")).unwrap();
        assert_eq!(outbox.queued(), 4, "nothing goes out before the flush");
        deferred.flush();
        assert_eq!(outbox.queued(), 0, "an empty socket takes 4 bytes at once");
        let mut got = [0u8; 4];
        within("the lines", peer.read_exact(&mut got))
            .await
            .expect("read");
        assert_eq!(&got, b"a\nb\n");
    }

    #[async_std::test]
    async fn a_flush_leaves_a_writing_writers_lines_to_it() {
        let (socket, _peer) = pair().await;
        let outbox = Outbox::new(100);
        outbox.write_directly_to(socket);
        outbox.push(Bytes::from_static(b"a\n")).unwrap();
        let mut batch = Vec::new();
        assert_eq!(outbox.next_batch(&mut batch).await, Next::Write);
        // The writer holds "a": writing "b" now would put it first.
        let mut deferred = Deferred::default();
        deferred.push(&outbox, Bytes::from_static(b"b\n")).unwrap();
        deferred.flush();
        assert_eq!(outbox.queued(), 2);
        assert_eq!(outbox.next_batch(&mut batch).await, Next::Write);
        assert_eq!(batch, b"b\n");
    }

    #[async_std::test]
    async fn what_a_full_socket_does_not_take_the_writer_sends_in_order() {
        use async_std::io::ReadExt;
        let (socket, mut peer) = pair().await;
        // A small send buffer (fixed: no autotuning), and a peer that does
        // not read yet: the socket fills long before the lines run out.
        // (A small receive buffer too would make the reading slow: tiny
        // windows wait for delayed ACKs.)
        let _ = socket2::SockRef::from(&socket).set_send_buffer_size(4096);
        let (lines, width) = (4000, 1000);
        let line = |i: usize| {
            let mut l = format!("{i:08}").repeat(width / 8).into_bytes();
            l[width - 1] = b'\n';
            Bytes::from(l)
        };
        let outbox = Outbox::new(64 << 20);
        outbox.write_directly_to(socket.clone());
        let mut deferred = Deferred::default();
        for i in 0..lines {
            deferred.push(&outbox, line(i)).unwrap();
        }
        deferred.flush();
        let left = outbox.queued();
        assert!(
            left > 0 && left < lines * width,
            "written directly: {}",
            lines * width - left
        );
        outbox.close();
        let writer = async_std::task::spawn(crate::writer::write_loop(
            Box::new(socket.clone()),
            socket,
            outbox,
        ));
        let mut got = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = within("the next bytes", peer.read(&mut chunk))
                .await
                .unwrap_or_else(|e| panic!("read failed after {} bytes: {e}", got.len()));
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        within("the writer", writer).await;
        let want: Vec<u8> = (0..lines).flat_map(|i| line(i).to_vec()).collect();
        assert!(
            got == want,
            "{} bytes arrived, {} sent",
            got.len(),
            want.len()
        );
    }
}
