//! A client's outgoing queue: bounded in bytes, never blocking the pusher,
//! drained by the client's writer in one batch per wake-up.
//!
//! The broker pushes shared, pre-serialised lines (`Bytes`) and moves on; a
//! client that stops reading fills only its own queue, and when that passes
//! the limit the push fails and the broker drops the client. Nobody else ever
//! waits for it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use bytes::Bytes;
use futures::task::AtomicWaker;

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
        let mut state = self.state();
        if state.closed {
            return Ok(());
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
        drop(state);
        self.inner.waker.wake();
        Ok(())
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

    /// Waits for lines and moves all of them into `batch` (cleared first).
    pub async fn next_batch(&self, batch: &mut Vec<u8>) -> Next {
        batch.clear();
        futures::future::poll_fn(|cx| {
            self.inner.waker.register(cx.waker());
            let mut state = self.state();
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
            if state.lines.capacity() > IDLE_LINES {
                // A burst (a join storm, a flood) grew the queue: an idle
                // client should not keep that much room for lines.
                state.lines = VecDeque::new();
            }
            Poll::Ready(Next::Write)
        })
        .await
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
}
