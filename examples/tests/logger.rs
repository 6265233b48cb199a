//! `logger` against the real server: the transcript has one timestamped line
//! per event, and it goes on after the server restarts on the same port —
//! with the disconnection and reconnection logged in between. Also: a logger
//! started before its server waits for it.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use async_std::net::TcpListener;
use chat_core::Event;
use chat_core::{Backoff, SessionConfig};
use chat_server::ServerHandle;
use chrono::DateTime;
use clap::Parser;
use common::{client, server, server_config, spawn_bot, within, Restarted, QUICK, WAIT};

// The very file `cargo run --example logger` builds, run in-process.
#[path = "../logger.rs"]
#[allow(dead_code)]
mod logger;

/// The logger's directory of transcripts, removed when the test ends.
struct Transcripts(tempfile::TempDir);

impl Transcripts {
    fn new() -> Self {
        Self(tempfile::tempdir().expect("a temp dir"))
    }

    fn dir(&self) -> &Path {
        self.0.path()
    }

    /// The lines of `room`'s transcript so far (none before it exists).
    fn lines(&self, room: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir().join(format!("{room}.log")))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Polls `room`'s transcript until a line contains `text`; returns all
    /// its lines then.
    async fn wait_for(&self, room: &str, text: &str) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let lines = self.lines(room);
            if lines.iter().any(|l| l.contains(text)) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "no line with {text:?} in {room}.log after {WAIT:?}; transcript:\n{}",
                lines.join("\n")
            );
            async_std::task::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Runs the logger in the background on `addr`, logging `rooms` too.
fn spawn_logger(addr: SocketAddr, backoff: Backoff, rooms: &[&str], logs: &Transcripts) {
    let config = SessionConfig::new(addr.to_string(), "logger").with_backoff(backoff);
    let rooms = rooms.iter().map(|r| (*r).to_owned()).collect();
    let dir = logs.dir().to_owned();
    spawn_bot(
        "logger",
        async move { logger::run(config, rooms, &dir).await },
    );
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
    let logs = Transcripts::new();
    let first = server().await;
    let addr = first.addr();
    spawn_logger(addr, QUICK, &[], &logs);

    let mut alice = client(&addr.to_string(), "alice").await;
    alice.wait_for("logger").await;
    alice.say("before the restart").await;
    logs.wait_for("lobby", "<alice> before the restart").await;

    within("stopping the first server", first.shutdown())
        .await
        .expect("clean shutdown");
    drop(alice);
    let second = Restarted::on(addr, server_config()).await;

    let mut alice = client(&addr.to_string(), "alice").await;
    alice.wait_for("logger").await;
    alice.say("after the restart").await;
    let lines = logs.wait_for("lobby", "<alice> after the restart").await;

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
    let logs = Transcripts::new();
    // Not a chat server yet: a listener that hangs up on the logger, so the
    // test knows for certain that its first attempt failed.
    let hangs_up = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = hangs_up.local_addr().expect("bound");
    spawn_logger(addr, QUICK, &[], &logs);
    let (attempt, _) = within("the logger's first attempt", hangs_up.accept())
        .await
        .expect("accepts");
    drop(attempt);
    drop(hangs_up);

    let server = Restarted::on(addr, server_config()).await;
    let mut alice = client(&addr.to_string(), "alice").await;
    alice.wait_for("logger").await;
    alice.say("you made it").await;
    // No room was known before the server answered: the logger kept those
    // lines and wrote them at the top of the default room's transcript.
    let lines = logs.wait_for("lobby", "<alice> you made it").await;
    let failed = find(&lines, 0, "* disconnected: ");
    assert!(
        lines[failed].contains("; reconnecting in "),
        "{}",
        lines[failed]
    );
    let connected = find(&lines, failed, "* connected as logger to ");
    find(&lines, connected, "* logging lobby as logger; online (");
    server.shutdown().await;
}

#[async_std::test]
async fn history_fills_the_gap_without_repeating_itself() {
    let logs = Transcripts::new();
    let db = tempfile::tempdir().expect("a temp dir");
    // Both servers keep the room's history in the same file and replay it to
    // newcomers, as the binary does: the logger is shown, on coming back,
    // what it wrote down live and what it missed.
    let stored = || chat_server::Config {
        history_db: Some(db.path().join("history.sqlite3")),
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
    spawn_logger(addr, slow, &[], &logs);

    let mut alice = client(&addr.to_string(), "alice").await;
    alice.wait_for("logger").await;
    alice.say("said live").await;
    logs.wait_for("lobby", "<alice> said live").await;
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
    let lines = logs.wait_for("lobby", "<alice> said after").await;

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
fn flags_need_a_directory_and_take_rooms() {
    assert!(logger::Args::try_parse_from(["logger"]).is_err());
    let args = logger::Args::try_parse_from(["logger", "--dir", "logs"]).expect("--dir given");
    assert_eq!(args.name, "logger");
    assert_eq!(args.dir, Path::new("logs"));
    assert!(args.rooms.names.is_empty());
    let args = logger::Args::try_parse_from([
        "logger", "--dir", "logs", "--room", "#rust", "--room", "go",
    ])
    .expect("rooms given");
    assert_eq!(args.rooms.names, ["rust", "go"]);
}

#[async_std::test]
async fn one_transcript_per_room_across_a_restart() {
    let logs = Transcripts::new();
    // Replay on, so that entering #rust shows the logger what was said there
    // before it came (which does not belong in this run's transcript).
    let replaying = || chat_server::Config {
        replay: 50,
        ..server_config()
    };
    let first = within("starting the server", ServerHandle::start(replaying()))
        .await
        .expect("the server starts");
    let addr = first.addr();
    let mut bob = client(&addr.to_string(), "bob").await;
    bob.join_and_wait_for("rust", "bob").await;
    bob.say_in("rust", "before the logger").await;
    bob.next_said_by("bob").await;

    spawn_logger(addr, QUICK, &["rust"], &logs);
    let mut alice = client(&addr.to_string(), "alice").await;
    alice.wait_for("logger").await;
    bob.join_and_wait_for("rust", "logger").await;
    alice.say("in the lobby").await;
    bob.say_in("rust", "in rust").await;
    let lobby = logs.wait_for("lobby", "<alice> in the lobby").await;
    let rust = logs.wait_for("rust", "<bob> in rust").await;
    let has = |lines: &[String], text: &str| lines.iter().any(|l| l.contains(text));
    assert!(!has(&lobby, "in rust"), "{}", lobby.join("\n"));
    assert!(!has(&rust, "in the lobby"), "{}", rust.join("\n"));
    assert!(!has(&rust, "before the logger"), "{}", rust.join("\n"));
    assert!(
        has(&lobby, "* logging lobby as logger; online ("),
        "{}",
        lobby.join("\n")
    );
    let entered = find(&rust, 0, "* logging rust; online (2): bob, logger");
    find(&rust, entered, "<bob> in rust");

    // The server goes away and comes back: both transcripts show the gap,
    // and core takes the logger back into #rust on its own.
    within("stopping the first server", first.shutdown())
        .await
        .expect("clean shutdown");
    drop((alice, bob));
    let second = Restarted::on(addr, replaying()).await;
    let mut bob = client(&addr.to_string(), "bob").await;
    bob.join_and_wait_for("rust", "logger").await;
    bob.say_in("rust", "after the restart").await;
    let rust = logs.wait_for("rust", "<bob> after the restart").await;
    let lost = find(&rust, entered, "* disconnected: ");
    let back = find(&rust, lost, "* connected as logger to ");
    let again = find(&rust, back, "* logging rust; online (");
    find(&rust, again, "<bob> after the restart");
    let lobby = logs.lines("lobby");
    let lost = find(&lobby, 0, "* disconnected: ");
    find(&lobby, lost, "* logging lobby as logger; online (");
    assert!(!has(&lobby, "after the restart"), "{}", lobby.join("\n"));
    second.shutdown().await;
}
