//! `logger`: writes the room's transcript to a file, one line per event with
//! its timestamp, and keeps going when the server restarts — a long-running
//! bot done right. It asks core to reconnect (with backoff), logs the
//! connection's ups and downs in the transcript too, waits for a server that
//! is not up yet, and flushes every line so a crash or kill loses nothing.
//! Run it with
//! `cargo run --example logger -- --server 127.0.0.1:8001 --out room.log`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chat_core::protocol::now_millis;
use chat_core::{ChatError, ChatSession, Event, SessionConfig, Status, TcpSession};
use chrono::{DateTime, Local, SecondsFormat};
use clap::Parser;
use futures::StreamExt;

/// Writes the room's transcript to a file and reconnects when the server
/// restarts.
#[derive(Debug, Parser)]
pub struct Args {
    /// HOST:PORT of the chat server.
    #[arg(long, default_value = chat_core::DEFAULT_ADDR)]
    pub server: String,
    /// The name to join as.
    #[arg(long, default_value = "logger")]
    pub name: String,
    /// TLS and the room's password.
    #[command(flatten)]
    pub access: chat_examples::Access,
    /// The transcript file; lines are appended to it.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
}

#[async_std::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = args
        .access
        .apply(SessionConfig::new(args.server, args.name))?;
    let config = config.reconnecting();
    run(config, &args.out).await
}

/// Joins (waiting for the server if need be) and writes the transcript until
/// the session ends; with `config.reconnect` set, that is never.
pub async fn run(config: SessionConfig, out: &Path) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .with_context(|| format!("cannot open the transcript {}", out.display()))?;
    let session = join_patiently(config, &mut file).await?;
    // The logger never speaks; dropping the sender is fine, the session goes
    // on reading (and still answers the server's pings itself).
    let (_, mut events) = session.split();
    let mut seen = Seen::default();
    while let Some(event) = events.next().await {
        if let Event::Status(status) = &event {
            println!("{}", chat_core::render::status_text(status));
        }
        if !seen.is_new(&event) {
            continue;
        }
        if let Some(line) = transcript_line(&event, now_millis()) {
            write_line(&mut file, &line, out)?;
        }
    }
    Ok(())
}

/// Joins; while the server cannot be reached, waits as core does between
/// reconnections (the config's backoff) and tries again. A refusal (name
/// taken, server full) ends the bot: waiting would not change it.
async fn join_patiently(config: SessionConfig, file: &mut File) -> anyhow::Result<TcpSession> {
    let context = format!("{} cannot join {}", config.name, config.addr);
    for attempt in 1.. {
        let error = match TcpSession::connect(config.clone()).await {
            Ok(session) => return Ok(session),
            Err(e) => e,
        };
        let unreachable = matches!(
            error,
            ChatError::Connect { .. }
                | ChatError::Timeout { .. }
                | ChatError::ServerClosed
                | ChatError::Io(_)
        );
        let Some(backoff) = config.reconnect.filter(|_| unreachable) else {
            return Err(error).context(context);
        };
        let delay = backoff.delay(attempt);
        let status = Status::Disconnected {
            reason: error.to_string(),
            retry_in: Some(delay),
        };
        println!("{}", chat_core::render::status_text(&status));
        if let Some(line) = transcript_line(&Event::Status(status), now_millis()) {
            write_line(file, &line, Path::new("the transcript"))?;
        }
        async_std::task::sleep(delay).await;
    }
    unreachable!("the attempts never run out")
}

/// Which replayed history belongs in the transcript. The server replays its
/// recent history to every newcomer. On the first join that history was said
/// before the logger started, so it is left out. After a reconnection, core
/// has already dropped the replayed messages this session delivered (by
/// sequence number), so what is left was said while the logger was away:
/// it fills the gap.
#[derive(Debug, Default)]
pub struct Seen {
    /// Whether the session has lost its connection at least once.
    reconnected: bool,
}

impl Seen {
    /// Whether `event` belongs in the transcript.
    pub fn is_new(&mut self, event: &Event) -> bool {
        match event {
            Event::Status(Status::Disconnected { .. }) => {
                self.reconnected = true;
                true
            }
            Event::Replay(_) => self.reconnected,
            // Closes answers to history requests, which the logger never makes.
            Event::HistoryEnd(_) => false,
            _ => true,
        }
    }
}

/// Appends one line and flushes it, so the file is complete at every moment.
/// Blocking I/O on an async task is fine here: one short line to a local
/// file, and this task has nothing else to do meanwhile.
fn write_line(file: &mut File, line: &str, path: &Path) -> anyhow::Result<()> {
    // One write per line, so a reader tailing the file never sees half of one.
    file.write_all(format!("{line}\n").as_bytes())
        .and_then(|()| file.flush())
        .with_context(|| format!("cannot write to {}", path.display()))
}

/// The transcript line for an event: its time (the server's, or `now_ms` for
/// events without one, such as status changes) and the event as every client
/// shows it: `2025-11-25T17:55:03.120+01:00 <alice> hello`.
pub fn transcript_line(event: &Event, now_ms: u64) -> Option<String> {
    let line = chat_core::render(event)?;
    let text = match event {
        // The rendered welcome talks to a person ("/help lists commands").
        Event::Welcome(w) => format!(
            "* logging {} as {}; {}",
            chat_core::sanitize(&w.room),
            chat_core::sanitize(&w.name),
            chat_core::render::who_text(&w.users)
        ),
        // Said while the logger was away, written when it came back.
        Event::Replay(_) => format!("[history] {line}"),
        _ => line.to_string(),
    };
    Some(format!("{} {text}", timestamp(line.time.unwrap_or(now_ms))))
}

/// RFC 3339 in local time with milliseconds, unambiguous thanks to the offset.
fn timestamp(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .map(|t| {
            t.with_timezone(&Local)
                .to_rfc3339_opts(SecondsFormat::Millis, false)
        })
        .unwrap_or_else(|| "????-??-??T??:??:??".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::{ChatMessage, MessageKind, Replayed, Welcome};

    #[test]
    fn lines_carry_the_events_time() {
        let message = Event::Message(ChatMessage {
            room: None,
            seq: 1,
            time: 1_764_093_303_120,
            from: "alice".into(),
            text: "hello".into(),
            id: None,
        });
        let line = transcript_line(&message, 0).expect("a message has a line");
        let (time, text) = line.split_once(' ').expect("time, then text");
        assert_eq!(text, "<alice> hello");
        let parsed = DateTime::parse_from_rfc3339(time).expect("RFC 3339");
        assert_eq!(parsed.timestamp_millis(), 1_764_093_303_120);
    }

    #[test]
    fn status_lines_use_the_local_clock() {
        let status = Event::Status(Status::Connected {
            addr: "h:1".into(),
            name: "logger".into(),
        });
        let line = transcript_line(&status, 1_000).expect("status has a line");
        let (time, text) = line.split_once(' ').expect("time, then text");
        assert_eq!(text, "* connected as logger to h:1");
        let parsed = DateTime::parse_from_rfc3339(time).expect("RFC 3339");
        assert_eq!(parsed.timestamp_millis(), 1_000);
    }

    fn said(seq: u64, text: &str) -> ChatMessage {
        ChatMessage {
            room: None,
            seq,
            time: 0,
            from: "alice".into(),
            text: text.into(),
            id: None,
        }
    }

    fn replayed(seq: u64) -> Event {
        Event::Replay(Replayed {
            kind: MessageKind::Message,
            message: said(seq, "old"),
        })
    }

    #[test]
    fn only_replays_after_a_reconnection_fill_gaps() {
        let mut seen = Seen::default();
        // The history shown on the first join predates the logger.
        assert!(!seen.is_new(&replayed(1)));
        assert!(seen.is_new(&Event::Message(said(2, "live"))));
        assert!(seen.is_new(&Event::Status(Status::Disconnected {
            reason: "server closed the connection".into(),
            retry_in: Some(std::time::Duration::from_secs(1)),
        })));
        // Core dropped the replays of 1 and 2; 3 was said while away.
        assert!(seen.is_new(&replayed(3)));
        assert!(seen.is_new(&Event::Action(said(4, "waves"))));
        let line = transcript_line(&replayed(3), 0).expect("a replay has a line");
        assert!(line.ends_with(" [history] <alice> old"), "{line}");
    }

    #[test]
    fn welcome_reads_as_a_log_line() {
        let welcome = Event::Welcome(Welcome {
            rooms: Vec::new(),
            topic: None,
            version: 1,
            name: "logger".into(),
            room: "lobby".into(),
            users: vec!["alice".into(), "logger".into()],
            limits: chat_core::protocol::Limits {
                max_rooms: 0,
                max_line: 8192,
                max_name: 32,
                rate_per_sec: 0,
                burst: 0,
            },
        });
        let line = transcript_line(&welcome, 0).expect("welcome has a line");
        assert!(
            line.ends_with(" * logging lobby as logger; online (2): alice, logger"),
            "{line}"
        );
    }
}
