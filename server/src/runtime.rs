//! The threads the server's tasks run on — one by default, so that a line read
//! from a socket reaches its room and every member's socket without being
//! handed from one thread to another — and [`next_turn`], how a room lets the
//! reactor look at every socket once before it writes.
//!
//! Why one (docs/BENCHMARKS.md, "Wake-ups, round 3"): relaying a line is a
//! few microseconds of work per delivery, most of it in `send`. With
//! async-std's default of a worker per core, a paced room's lines crossed
//! threads three or four times on the way (the reader's worker, the room's,
//! the reactor's), each crossing a futex wake and a context switch: three
//! times the switches of one thread. On one thread that also waits on the
//! reactor, the reader, the room and the fan-out run back to back. Blocking work
//! (SQLite, history pages, name checks against the database) already runs on
//! async-std's separate blocking pool and is unaffected. `--threads N`
//! spreads tasks over N workers for a server whose rooms keep a core busy.

use std::future::Future;
use std::num::NonZeroUsize;
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;

use async_io::Async;

/// How many worker threads run the server's tasks unless told otherwise.
pub const DEFAULT_THREADS: NonZeroUsize = NonZeroUsize::MIN;

/// Runs `server` on `threads` worker threads and waits for it on this one.
///
/// Call it before anything in the process spawns a task or blocks on one:
/// async-std starts its workers then and keeps their number (afterwards the
/// count changes nothing). `ASYNC_STD_THREAD_COUNT`, when set, still wins, as
/// it does for any async-std program. The calling thread waits without
/// taking part: `async_std::task::block_on` would make it a second thread
/// polling the reactor, which takes I/O events away from the worker and
/// hands them back with a wake-up.
pub fn run<T: Send + 'static>(
    threads: NonZeroUsize,
    server: impl Future<Output = T> + Send + 'static,
) -> T {
    async_global_executor::init_with_config(
        async_global_executor::GlobalExecutorConfig::default()
            .with_env_var("ASYNC_STD_THREAD_COUNT")
            .with_min_threads(threads.get())
            .with_thread_name_fn(|| "chat-worker".to_owned()),
    );
    futures::executor::block_on(async_std::task::spawn(server))
}

/// A descriptor that is always readable: one byte sits in it, never read.
/// Waiting for it to be readable is waiting for the reactor's next look at
/// every socket, whatever it finds.
struct AlwaysReady {
    ready: Async<UnixStream>,
    _writer: UnixStream,
}

impl AlwaysReady {
    fn new() -> std::io::Result<Self> {
        use std::io::Write;
        let (reader, mut writer) = UnixStream::pair()?;
        writer.write_all(&[0])?;
        Ok(Self {
            ready: Async::new(reader)?,
            _writer: writer,
        })
    }
}

/// Returns once the reactor has looked at the sockets again and the tasks
/// that look woke have had their turn before this one.
///
/// A room woken by one line calls it before writing: lines that other
/// clients sent at the same moment are then already in their sockets, read
/// in that look and handed to the room, and go out with the first in one
/// write per member. Unlike waiting a fixed time, it costs no sleep and
/// adds only the microseconds of that one look (docs/BENCHMARKS.md,
/// "Wake-ups, round 4").
pub async fn next_turn() {
    static READY: OnceLock<AlwaysReady> = OnceLock::new();
    if READY.get().is_none() {
        // Out of descriptors, it is tried again next time; meanwhile the
        // room writes sooner, which loses nothing but the batching.
        if let Ok(always) = AlwaysReady::new() {
            let _ = READY.set(always);
        }
    }
    if let Some(always) = READY.get() {
        // A look always finds it readable, so this returns after one; an
        // error from the reactor can only end the wait early.
        let _ = always.ready.readable().await;
    }
    // That look woke the readers in the same breath as this task, and
    // possibly after it: go behind them.
    async_std::task::yield_now().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::rc::Rc;
    use std::time::Duration;

    use futures::executor::LocalPool;
    use futures::task::LocalSpawnExt;
    use futures::AsyncReadExt;

    /// A task whose socket became readable before `next_turn` was called
    /// has read it by the time `next_turn` returns: what a room relies on
    /// to take lines sent together in one pass.
    #[test]
    fn next_turn_returns_after_the_readers_its_look_woke() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let ours = Async::new(listener.accept().unwrap().0).unwrap();
        let read = Rc::new(Cell::new(0));
        let mut pool = LocalPool::new();
        let reader = read.clone();
        pool.spawner()
            .spawn_local(async move {
                let mut ours = ours;
                let mut buf = [0u8; 64];
                while let Ok(n @ 1..) = ours.read(&mut buf).await {
                    reader.set(reader.get() + n);
                }
            })
            .unwrap();
        // The reader is now waiting on its socket.
        pool.run_until_stalled();
        for round in 1..=20 {
            // On loopback the bytes are in the reader's socket once
            // write returns.
            peer.write_all(b"line\n").unwrap();
            let turned = pool.run_until(async {
                async_std::future::timeout(Duration::from_secs(5), next_turn()).await
            });
            assert!(turned.is_ok(), "no look within 5 s");
            assert_eq!(read.get(), round * 5, "round {round}: not read yet");
        }
    }
}
