//! The C allocator, set for a server whose connections are mostly idle:
//! glibc's malloc keeps one arena, and gives free pages back to the kernel
//! once a burst of connections coming or going (a join storm, a mass
//! disconnect) is over.
//!
//! Why (docs/BENCHMARKS.md, issue 18): an idle connection's live heap is
//! under 3 KiB, but RSS grew by 5.6–7.5 KiB per connection. glibc gives
//! each thread that meets a locked arena an arena of its own (up to 8 per
//! core); a connection's long-lived pieces are allocated on whichever
//! worker set it up, so they end up spread over 5–6 heaps, each with its
//! own holes and slack. One arena packs them together (tcache, per thread,
//! still serves most small allocations without the lock), and trimming
//! after a storm returns the pages its millions of short-lived lines left
//! free. Elsewhere than Linux with glibc, both are no-ops.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What to ask of glibc's malloc.
#[derive(Debug, Clone, Copy)]
enum Ask {
    /// One arena for every thread.
    OneArena,
    /// Give whole free pages back to the kernel.
    GiveBack,
}

/// The server's one call into C; true when glibc did what was asked.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn glibc_malloc(ask: Ask) -> bool {
    // SAFETY: both are thread-safe glibc functions that take plain integers
    // and change only malloc's own bookkeeping. `mallopt(M_ARENA_MAX, 1)`
    // caps the arenas created from now on (those that exist stay valid);
    // `malloc_trim(0)` returns free pages, never memory in use.
    let result = unsafe {
        match ask {
            Ask::OneArena => libc::mallopt(libc::M_ARENA_MAX, 1),
            Ask::GiveBack => libc::malloc_trim(0),
        }
    };
    result == 1
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_malloc(_ask: Ask) -> bool {
    false
}

/// Keeps malloc to one arena for the whole process. The binary calls it
/// first thing, before any other thread starts; a program embedding the
/// server decides for itself.
pub fn one_arena() -> bool {
    glibc_malloc(Ask::OneArena)
}

/// Gives the heap's free pages back to the kernel; false when there was
/// nothing to give (or this is not glibc).
pub fn give_back() -> bool {
    glibc_malloc(Ask::GiveBack)
}

/// Connections coming and going, counted for [`trim_after_bursts`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Churn(Arc<AtomicU64>);

impl Churn {
    /// A connection came or went.
    pub(crate) fn tick(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Gives memory back once connections have stopped coming and going for a
/// whole `quiet` period: after a join storm or a mass disconnect, not
/// while it lasts (it would only be taken again), and never on a server
/// where nothing changed. Runs until cancelled.
pub(crate) async fn trim_after_bursts(churn: Churn, quiet: Duration) {
    let mut watch = Watch::new(churn.count());
    loop {
        async_std::task::sleep(quiet).await;
        if watch.trim_now(churn.count()) {
            // It walks the whole heap holding malloc's lock: not on a worker.
            async_std::task::spawn_blocking(give_back).await;
        }
    }
}

/// When to trim, from the churn count read once per quiet period.
#[derive(Debug)]
struct Watch {
    /// The count at the previous look.
    seen: u64,
    /// The count at the last trim.
    trimmed: u64,
}

impl Watch {
    fn new(count: u64) -> Self {
        Self {
            seen: count,
            trimmed: count,
        }
    }

    /// Whether to trim now: nothing changed for a whole period, and
    /// something did since the last trim.
    fn trim_now(&mut self, count: u64) -> bool {
        let trim = count == self.seen && count != self.trimmed;
        if trim {
            self.trimmed = count;
        }
        self.seen = count;
        trim
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_after_a_burst_is_over_and_never_on_an_idle_server() {
        let mut watch = Watch::new(0);
        assert!(!watch.trim_now(0), "nothing happened");
        assert!(!watch.trim_now(500), "a storm is going on");
        assert!(!watch.trim_now(2000), "still going on");
        assert!(watch.trim_now(2000), "a quiet period after it");
        assert!(!watch.trim_now(2000), "once is enough");
        assert!(!watch.trim_now(2001), "someone left");
        assert!(watch.trim_now(2001));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_takes_the_settings() {
        assert!(one_arena(), "mallopt(M_ARENA_MAX, 1) refused");
        // Whether anything was given back depends on the heap; it must not fail.
        let _ = give_back();
    }
}
