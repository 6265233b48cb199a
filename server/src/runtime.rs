//! The threads the server's tasks run on: one by default, so that a line read
//! from a socket reaches its room and every member's socket without being
//! handed from one thread to another.
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
