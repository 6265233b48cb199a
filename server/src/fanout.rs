//! A room's sender: one task per room that writes what the room queued
//! straight into its members' plain TCP sockets, in passes.
//!
//! Without it every line woke each member's writer task: 50 task wake-ups
//! per message in a room of 50, spread over the runtime's threads, and one
//! `send` per member per line however close together the lines came. A
//! room hands the outboxes it filled to its fan-out ([`Fanout::give`]); one
//! pass writes each of them once, and what the room queues during a pass
//! goes out together in the next, as one write per member. Outboxes of TLS
//! and WebSocket connections, and sockets that are full, are left to their
//! writers (see [`Outbox::send_now`]).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;

use futures::task::AtomicWaker;

use crate::outbox::Outbox;

/// A pass's buffer is freed when a burst grew it past this.
const KEEP_SCRATCH: usize = 64 * 1024;

#[derive(Default)]
struct Work {
    /// Outboxes with lines for the next pass.
    due: Vec<Outbox>,
    /// The room is gone: finish what is due, then stop.
    closed: bool,
    /// The task waits for work (and not in a pass, after which it looks
    /// again anyway): only then does new work need to wake it.
    waiting: bool,
}

#[derive(Default)]
struct Shared {
    work: Mutex<Work>,
    waker: AtomicWaker,
}

impl Shared {
    fn work(&self) -> MutexGuard<'_, Work> {
        self.work.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The room's end of its fan-out task; dropping it stops the task once it
/// has written what it was given.
pub struct Fanout {
    shared: Arc<Shared>,
}

impl Fanout {
    /// Starts the task.
    pub fn start() -> Self {
        let shared = Arc::new(Shared::default());
        async_std::task::spawn(run(shared.clone()));
        Self { shared }
    }

    /// Hands over the outboxes in `held` (emptied) for the next pass.
    pub fn give(&self, held: &mut Vec<Outbox>) {
        if held.is_empty() {
            return;
        }
        let waiting = {
            let mut work = self.shared.work();
            if work.due.is_empty() {
                std::mem::swap(&mut work.due, held);
            } else {
                work.due.append(held);
            }
            std::mem::take(&mut work.waiting)
        };
        if waiting {
            self.shared.waker.wake();
        }
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        self.shared.work().closed = true;
        self.shared.waker.wake();
    }
}

async fn run(shared: Arc<Shared>) {
    let mut pass = Vec::new();
    let mut scratch = Vec::new();
    loop {
        let more = futures::future::poll_fn(|cx| {
            shared.waker.register(cx.waker());
            let mut work = shared.work();
            if !work.due.is_empty() {
                std::mem::swap(&mut work.due, &mut pass);
                Poll::Ready(true)
            } else if work.closed {
                Poll::Ready(false)
            } else {
                work.waiting = true;
                Poll::Pending
            }
        })
        .await;
        if !more {
            break;
        }
        for outbox in pass.drain(..) {
            outbox.send_now(&mut scratch);
        }
        if scratch.capacity() > KEEP_SCRATCH {
            scratch = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use async_std::io::ReadExt;
    use async_std::net::{TcpListener, TcpStream};
    use bytes::Bytes;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (ours, _) = listener.accept().await.unwrap();
        (ours, peer)
    }

    async fn read_some(peer: &mut TcpStream) -> Vec<u8> {
        let mut buf = vec![0; 1024];
        let n = async_std::future::timeout(Duration::from_secs(5), peer.read(&mut buf))
            .await
            .expect("a line arrives")
            .unwrap();
        buf.truncate(n);
        buf
    }

    fn hold(outbox: &Outbox, held: &mut Vec<Outbox>, line: &'static [u8]) {
        if outbox.hold(Bytes::from_static(line)).unwrap() {
            held.push(outbox.clone());
        }
    }

    #[async_std::test]
    async fn what_was_given_is_written_after_the_room_is_gone() {
        let (ours, mut peer) = pair().await;
        let outbox = Outbox::with_socket(1 << 20, ours);
        let fanout = Fanout::start();
        let mut held = Vec::new();
        hold(&outbox, &mut held, b"bye\n");
        fanout.give(&mut held);
        drop(fanout);
        assert_eq!(read_some(&mut peer).await, b"bye\n");
    }

    #[async_std::test]
    async fn outboxes_without_a_plain_socket_are_left_to_their_writer() {
        let outbox = Outbox::new(1 << 20);
        let fanout = Fanout::start();
        let mut held = Vec::new();
        hold(&outbox, &mut held, b"tls\n");
        fanout.give(&mut held);
        let mut batch = Vec::new();
        let next =
            async_std::future::timeout(Duration::from_secs(5), outbox.next_batch(&mut batch));
        assert_eq!(
            next.await,
            Ok(crate::outbox::Next::Write),
            "the writer was not woken"
        );
        assert_eq!(batch, b"tls\n");
    }
}
