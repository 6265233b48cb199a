//! A read loop's timeout that keeps one timer for many reads.
//!
//! `async_std::future::timeout` makes a new timer for every read, and the
//! reactor is told of every new timer: a write to its eventfd that wakes
//! the thread waiting in `epoll_wait` (a cross-thread wake-up and three
//! syscalls per line a client sends). A [`Deadline`] arms its timer once
//! and, when a read pushes the deadline later, leaves it be; when it
//! fires early it is set again for the time that is left. A steady talker
//! costs one timer change per timeout period instead of one per line.

use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures::future::{select, Either};

/// The timeout passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// One reusable timer for a sequence of timeouts.
#[derive(Debug)]
pub struct Deadline {
    timer: Timer,
    /// When the timer fires (`None`: not armed).
    armed: Option<Instant>,
}

impl Default for Deadline {
    fn default() -> Self {
        Self {
            timer: Timer::never(),
            armed: None,
        }
    }
}

impl Deadline {
    /// Runs `fut` for at most `wait`, like `async_std::future::timeout`.
    ///
    /// # Errors
    /// [`Elapsed`] when `wait` passed first (`fut` is dropped).
    pub async fn within<F: Future>(
        &mut self,
        wait: Duration,
        fut: F,
    ) -> Result<F::Output, Elapsed> {
        let due = Instant::now() + wait;
        // A later deadline keeps the timer (it is set again if it fires
        // early); only an earlier one must move it now.
        if self.armed.is_none_or(|armed| armed > due) {
            self.timer.set_at(due);
            self.armed = Some(due);
        }
        let mut fut = pin!(fut);
        loop {
            match select(fut.as_mut(), &mut self.timer).await {
                Either::Left((output, _)) => return Ok(output),
                Either::Right((fired, _)) => {
                    if fired >= due {
                        self.armed = None;
                        return Err(Elapsed);
                    }
                    self.timer.set_at(due);
                    self.armed = Some(due);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[async_std::test]
    async fn finishes_or_times_out_and_can_be_used_again() {
        let mut deadline = Deadline::default();
        let quick = deadline.within(Duration::from_secs(60), async { 7 }).await;
        assert_eq!(quick, Ok(7));
        // The timer is still armed for a minute from the first call: an
        // earlier deadline must move it.
        let never = futures::future::pending::<()>();
        let late = deadline.within(Duration::from_millis(20), never).await;
        assert_eq!(late, Err(Elapsed));
        // And a later one after it fired early (armed for 1 ms, due in 30).
        let _ = deadline.within(Duration::from_millis(1), async { 1 }).await;
        let started = Instant::now();
        let never = futures::future::pending::<()>();
        assert_eq!(
            deadline.within(Duration::from_millis(30), never).await,
            Err(Elapsed)
        );
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
