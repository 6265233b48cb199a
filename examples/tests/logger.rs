//! `logger` against the real server: the transcript has one timestamped line
//! per event, and it goes on after the server restarts on the same port —
//! with the disconnection and reconnection logged in between. Also: a logger
//! started before its server waits for it.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_std::net::TcpListener;
use chat_core::Event;
use chat_core::{Backoff, SessionConfig};
use chat_server::ServerHandle;
use chrono::DateTime;
use clap::Parser;
use common::{client, server, server_config, spawn_bot, within, WAIT};
use futures::channel::oneshot;
use futures::FutureExt;

// The very file `cargo run --example logger` builds, run in-process.
#[path = "../logger.rs"]
#[allow(dead_code)]
mod logger;

/// Core's real backoff, only shorter, so the test does not wait seconds.
const QUICK: Backoff = Backoff {
    initial: Duration::from_millis(50),
    max: Duration::from_millis(500),
    jitter: 0.1,
};

/// A transcript file in the temp dir, removed when the test ends.
struct Transcript(PathBuf);

impl Transcript {
    fn new(test: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("chat-logger-{test}-{}-{nanos}.log", std::process::id());
        Self(std::env::temp_dir().join(name))
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Polls the file until a line contains `text`; returns all lines then.
    async fn wait_for(&self, text: &str) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let lines = self.lines();
            if lines.iter().any(|l| l.contains(text)) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "no line with {text:?} after {WAIT:?}; transcript:\n{}",
                lines.join("\n")
            );
            async_std::task::sleep(Duration::from_millis(20)).await;
        }
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Transcript {
    fn drop(&mut self) {
        // SQLite's journal files too, when the file was a history database
        // that a failed test left open.
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A server run with `chat_server::run` on a listener we bound ourselves, so
/// it can take over the port of one that stopped.
struct Restarted {
    stop: Option<oneshot::Sender<()>>,
    task: async_std::task::JoinHandle<Result<(), chat_server::ServerError>>,
}

impl Restarted {
    async fn on(addr: SocketAddr, config: chat_server::Config) -> Self {
        // The old server's sockets may take a moment to let go of the port.
        let deadline = Instant::now() + WAIT;
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("rebinding {addr}: {e}; retrying");
                    async_std::task::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot bind {addr} again: {e}"),
            }
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = async_std::task::spawn(chat_server::run(listener, config, stopped.map(drop)));
        Self {
            stop: Some(stop),
            task,
        }
    }

    async fn shutdown(mut self) {
        drop(self.stop.take());
        within("stopping the server", self.task)
            .await
            .expect("clean shutdown");
    }
}

/// The index of the first line at or after `from` that contains `text`.
fn find(lines: &[String], from: usize, text: &str) -> usize {
    lines
        .iter()
        .skip(from)
        .position(|l| l.contains(text))
        .map(|i| i + from)
        .unwrap_or_else(|| {
            panic!(
                "no {text:?} after line {from}; transcript:\n{}",
                lines.join("\n")
            )
        })
}

#[async_std::test]
async fn transcript_goes_on_after_a_server_restart() {
    let transcript = Transcript::new("restart");
    let first = server().await;
    let addr = first.addr();
    let config = SessionConfig::new(addr.to_string(), "logger").with_backoff(QUICK);
    let path = transcript.path().to_owned();
    spawn_bot("logger", async move { logger::run(config, &path).await });

    let mut alice = client(&addr.to_string(), "alice").await;
    alice.wait_for("logger").await;
    alice.say("before the restart").await;
    transcript.wait_for("<alice> before the restart").await;

    within("stopping the first server", first.shutdown())
        .await
        .expect("clean shutdown");
    drop(alice);
    let second = Restarted::on(addr, server_config()).await;

    let mut alice = client(&addr.to_string(), "alice").await;
    alice.wait_for("logger").await;
    alice.say("after the restart").await;
    let lines = transcript.wait_for("<alice> after the restart").await;

    // In order: the first session, the loss, the way back, the second session.
    let before = find(&lines, 0, "<alice> before the restart");
    let lost = find(&lines, before, "* disconnected: ");
    assert!(lines[lost].contains("reconnecting in"), "{}", lines[lost]);
    let back = find(&lines, lost, "* connected as logger to ");
    let welcome = find(&lines, back, "* logging lobby as logger; online (");
    let after = find(&lines, welcome, "<alice> after the restart");
    assert!(before < lost && lost < back && back < welcome && welcome < after);

    // Every line is `TIMESTAMP TEXT`, the timestamp RFC 3339. (Status lines
    // carry the logger's clock and events the server's, so neighbours may be
    // a millisecond out of order; messages are in the server's order.)
    let mut times = Vec::new();
    for line in &lines {
        let (time, text) = line.split_once(' ').expect("a timestamp, then text");
        assert!(!text.is_empty(), "{line}");
        let time = DateTime::parse_from_rfc3339(time).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        times.push(time.timestamp_millis());
    }
    assert!(
        times[before] <= times[after],
        "{} / {}",
        lines[before],
        lines[after]
    );
    second.shutdown().await;
}

#[async_std::test]
async fn waits_for_a_server_that_is_not_up_yet() {
    let transcript = Transcript::new("early");
    // A free port: bind it, note it, let it go.
    let addr = {
        let probe = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        probe.local_addr().expect("bound")
    };
    let config = SessionConfig::new(addr.to_string(), "logger").with_backoff(QUICK);
    let path = transcript.path().to_owned();
    spawn_bot("logger", async move { logger::run(config, &path).await });
    transcript
        .wait_for("connection refused; reconnecting in")
        .await;

    let server = Restarted::on(addr, server_config()).await;
    let mut alice = client(&addr.to_string(), "alice").await;
    alice.wait_for("logger").await;
    alice.say("you made it").await;
    let lines = transcript.wait_for("<alice> you made it").await;
    let refused = find(&lines, 0, "connection refused");
    find(&lines, refused, "* connected as logger to ");
    server.shutdown().await;
}

#[async_std::test]
async fn history_fills_the_gap_without_repeating_itself() {
    let transcript = Transcript::new("gap");
    let db = Transcript::new("gap-db");
    // Both servers keep the room's history in the same file and replay it to
    // newcomers, as the binary does: the logger is shown, on coming back,
    // what it wrote down live and what it missed.
    let stored = || chat_server::Config {
        history_db: Some(db.path().to_owned()),
        replay: 50,
        ..server_config()
    };
    let first = within("starting the server", ServerHandle::start(stored()))
        .await
        .expect("the server starts");
    let addr = first.addr();
    // Slow to come back, so that alice can speak while it is away.
    let slow = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(1),
        jitter: 0.0,
    };
    let config = SessionConfig::new(addr.to_string(), "logger").with_backoff(slow);
    let path = transcript.path().to_owned();
    spawn_bot("logger", async move { logger::run(config, &path).await });

    let mut alice = client(&addr.to_string(), "alice").await;
    alice.wait_for("logger").await;
    alice.say("said live").await;
    transcript.wait_for("<alice> said live").await;
    within("stopping the first server", first.shutdown())
        .await
        .expect("clean shutdown");
    drop(alice);

    let second = Restarted::on(addr, stored()).await;
    let mut alice = client(&addr.to_string(), "alice").await;
    let mut logger_was_away = !alice.users.iter().any(|u| u == "logger");
    alice.say("said while away").await;
    // Whether the logger came back before or after that message decides
    // whether it hears it live or from the history; either way, once.
    alice
        .expect("alice's message", |e| match e {
            Event::Joined(p) if p.name == "logger" => {
                logger_was_away = false;
                false
            }
            Event::Message(m) => m.text == "said while away",
            _ => false,
        })
        .await;
    alice.wait_for("logger").await;
    alice.say("said after").await;
    let lines = transcript.wait_for("<alice> said after").await;

    let count = |text: &str| lines.iter().filter(|l| l.ends_with(text)).count();
    assert_eq!(count("<alice> said live"), 1, "{}", lines.join("\n"));
    assert_eq!(count("<alice> said while away"), 1, "{}", lines.join("\n"));
    if logger_was_away {
        assert_eq!(
            count(" [history] <alice> said while away"),
            1,
            "{}",
            lines.join("\n")
        );
    } else {
        eprintln!("the logger came back first: the gap was not exercised");
    }
    second.shutdown().await;
}

#[test]
fn flags_need_an_output_file() {
    assert!(logger::Args::try_parse_from(["logger"]).is_err());
    let args = logger::Args::try_parse_from(["logger", "--out", "room.log"]).expect("--out given");
    assert_eq!(args.name, "logger");
    assert_eq!(args.out, Path::new("room.log"));
}
