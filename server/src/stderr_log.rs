//! The server's log writer: lines reach stderr from a thread of their own,
//! so a log that nobody reads (a pipe that is full and stays open) never
//! stops the chat. Lines wait in a bounded queue; past it they are dropped,
//! counted, and the count is written before the next line that fits.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

/// Lines that may wait for stderr before new ones are dropped (at ~150
/// bytes a line, well under a megabyte).
const QUEUE: usize = 4096;

enum Msg {
    Line(Vec<u8>),
    /// Answered once every line queued before it was written.
    Flush(SyncSender<()>),
}

/// A `tracing_subscriber` writer to stderr that never blocks its caller.
#[derive(Debug, Clone)]
pub struct StderrLog {
    tx: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Line(line) => write!(f, "Line({} bytes)", line.len()),
            Msg::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl StderrLog {
    /// Starts the thread that writes to stderr.
    ///
    /// # Errors
    /// When the thread cannot start.
    pub fn start() -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("log".to_owned())
            .spawn(move || write_all(&rx))?;
        Ok(Self {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Waits until what was logged so far is written, or `limit` passes (a
    /// log nobody reads would make it wait for ever): before the process
    /// exits, so its last lines are not lost.
    pub fn flush(&self, limit: Duration) {
        let (done, wait) = sync_channel(1);
        if self.tx.try_send(Msg::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(limit);
        }
    }

    fn send(&self, line: Vec<u8>) {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        let line = match dropped {
            0 => line,
            n => {
                let mut noted =
                    format!("({n} log lines dropped: stderr was not being read)\n").into_bytes();
                noted.extend_from_slice(&line);
                noted
            }
        };
        match self.tx.try_send(Msg::Line(line)) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(dropped + 1, Ordering::Relaxed);
            }
        }
    }
}

/// The writing thread: whatever stderr is (a terminal, a pipe, a closed
/// pipe), it takes the lines in order; a failed write is given up, not
/// retried.
fn write_all(rx: &Receiver<Msg>) {
    for msg in rx {
        match msg {
            Msg::Line(line) => {
                let _ = std::io::stderr().write_all(&line);
            }
            Msg::Flush(done) => {
                let _ = done.try_send(());
            }
        }
    }
}

/// One event's text, handed to the writing thread when the formatter is
/// done with it (formatters write an event in several pieces).
#[derive(Debug)]
pub struct Line<'a> {
    log: &'a StderrLog,
    buf: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.log.send(std::mem::take(&mut self.buf));
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for StderrLog {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            log: self,
            buf: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log whose writing thread is not running: what a full pipe looks
    /// like from the server's side.
    fn stuck(capacity: usize) -> (StderrLog, Receiver<Msg>) {
        let (tx, rx) = sync_channel(capacity);
        let log = StderrLog {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        (log, rx)
    }

    fn lines(rx: &Receiver<Msg>) -> Vec<String> {
        rx.try_iter()
            .filter_map(|m| match m {
                Msg::Line(l) => Some(String::from_utf8_lossy(&l).into_owned()),
                Msg::Flush(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_full_queue_drops_lines_without_waiting_and_says_how_many() {
        let (log, rx) = stuck(2);
        for i in 0..5 {
            log.send(format!("line {i}\n").into_bytes());
        }
        assert_eq!(lines(&rx), ["line 0\n", "line 1\n"]);
        log.send(b"line 5\n".to_vec());
        assert_eq!(
            lines(&rx),
            ["(3 log lines dropped: stderr was not being read)\nline 5\n"]
        );
    }

    #[test]
    fn a_line_written_in_pieces_is_sent_once_whole() {
        let (log, rx) = stuck(4);
        {
            let mut line = tracing_subscriber::fmt::MakeWriter::make_writer(&log);
            line.write_all(b"INFO ").expect("write");
            line.write_all(b"client connected\n").expect("write");
        }
        assert_eq!(lines(&rx), ["INFO client connected\n"]);
    }

    #[test]
    fn flush_gives_up_after_its_limit_when_nothing_writes() {
        let (log, _rx) = stuck(4);
        let started = std::time::Instant::now();
        log.flush(Duration::from_millis(50));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
