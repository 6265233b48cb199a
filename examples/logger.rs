//! `logger`: writes each room's transcript to its own file (`DIR/lobby.log`,
//! `DIR/rust.log`), one line per event with its timestamp, and keeps going
//! when the server restarts — a long-running bot done right. It asks core to
//! reconnect (with backoff; core joins its rooms again), logs the
//! connection's ups and downs in every transcript, waits for a server that is
//! not up yet, and flushes every line so a crash or kill loses nothing.
//! Run it with
//! `cargo run --example logger -- --server 127.0.0.1:8001 --dir logs --room rust`.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chat_core::names::{name_key, parse_room, room_key};
use chat_core::protocol::now_millis;
use chat_core::{ChatSession, Event, SessionConfig};
use chrono::{DateTime, Local, SecondsFormat};
use clap::Parser;
use futures::StreamExt;

/// Lines about no room kept while no transcript is open yet (the server is
/// not up): at 30 s between attempts, 100 lines are the last 50 minutes.
const EARLY_LINES: usize = 100;

/// Writes each room's transcript to a file in a directory and reconnects
/// when the server restarts.
#[derive(Debug, Parser)]
pub struct Args {
    /// HOST:PORT of the chat server (several, comma-separated, for a
    /// cluster's nodes).
    #[arg(short, long, value_name = "HOST:PORT", default_value = chat_core::DEFAULT_ADDR)]
    pub server: String,
    /// The name to join as.
    #[arg(short, long, default_value = "logger")]
    pub name: String,
    /// TLS and the room's password.
    #[command(flatten)]
    pub access: chat_examples::Access,
    /// Rooms to log besides the default one.
    #[command(flatten)]
    pub rooms: chat_examples::RoomFlags,
    /// The directory for the transcripts, one file per room named after it
    /// (`DIR/lobby.log`); lines are appended. Created if missing.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

#[async_std::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = chat_examples::bot_config(args.server, args.name, &args.access)?;
    run(config, args.rooms.names, &args.dir).await
}

/// Joins (waiting for the server if need be), joins `rooms`, and writes the
/// transcripts until the session ends; with `config.reconnect` set, that is
/// only when reconnecting is refused.
///
/// # Errors
/// When the session ends, or a transcript cannot be written.
pub async fn run(config: SessionConfig, rooms: Vec<String>, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    let mut book = Logbook::new(dir);
    let name = config.name.clone();
    let session = chat_examples::join_patiently(config, |status| {
        println!("{}", chat_core::render::status_text(&status));
        book.record(&Event::Status(status), &name, now_millis())
    })
    .await?;
    let mut watch = chat_examples::Watch::default();
    // The logger never speaks, but it joins rooms and needs its own name to
    // notice when it leaves one.
    let (sender, mut events) = session.split();
    while let Some(event) = events.next().await {
        watch.note(&event);
        book.record(&event, &sender.name(), now_millis())?;
        // On connecting, and on every reconnection for the rooms it never
        // got into: core joins again only the rooms the session was in, and
        // a connection lost between asking and the answer would otherwise
        // leave a room unlogged for good.
        if let Event::Welcome(_) = &event {
            for room in rooms.iter().filter(|r| !book.has_entered(r)) {
                if let Err(e) = sender.join(room.as_str()).await {
                    eprintln!("! cannot join #{room}: {e}");
                }
            }
        }
    }
    watch.ended()
}

/// Where an event's line goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The transcript of this room.
    Room(String),
    /// Every open transcript: the connection's state, renames (names are
    /// server-wide), the server's notices and refusals.
    Every,
    /// No transcript: private messages to the logger are nobody's room's
    /// business, and writing them into a room's log would publish them.
    Nowhere,
}

/// Where `event` goes; an event that names no room (a server without rooms
/// sent it) is about the `default` room.
pub fn target(event: &Event, default: Option<&str>) -> Target {
    match event {
        Event::Private(_) => Target::Nowhere,
        Event::Status(_)
        | Event::Renamed(_)
        | Event::Notice(_)
        | Event::Error(_)
        | Event::Rooms(_) => Target::Every,
        _ => match event.room().or(default) {
            Some(room) => Target::Room(room.to_owned()),
            None => Target::Every,
        },
    }
}

/// Which replayed history belongs in a transcript. The server replays a
/// room's recent history to everyone who enters it. On first entering a
/// room that history was said before the logger came, so it is left out.
/// On entering it again (after a reconnection, when core joins the rooms
/// again), core has already dropped the replayed messages this session
/// delivered (by sequence number, per room), so what is left was said while
/// the logger was away: it fills the gap.
#[derive(Debug, Default)]
pub struct Seen {
    /// Rooms (by [`room_key`]) entered at least once in this run.
    entered: HashSet<String>,
    /// Rooms whose replay now is the one of a first entry: skipped.
    first_entry: HashSet<String>,
}

impl Seen {
    /// Whether `event` belongs in the transcript (`default`: the room of
    /// events that name none).
    pub fn is_new(&mut self, event: &Event, default: Option<&str>) -> bool {
        match event {
            Event::Welcome(w) => self.enter(&w.room),
            Event::RoomJoined(r) => self.enter(&r.room),
            Event::Replay(r) => {
                let room = r.message.room.as_deref().or(default).unwrap_or_default();
                return !self.first_entry.contains(&room_key(room));
            }
            // Closes answers to history requests, which the logger never makes.
            Event::HistoryEnd(_) => return false,
            _ => {}
        }
        true
    }

    /// Whether the logger has been in `room` during this run.
    pub fn has_entered(&self, room: &str) -> bool {
        self.entered.contains(&room_key(room))
    }

    fn enter(&mut self, room: &str) {
        let key = room_key(room);
        if self.entered.insert(key.clone()) {
            self.first_entry.insert(key);
        } else {
            self.first_entry.remove(&key);
        }
    }
}

/// The transcripts: one open file per room the logger is in, named after
/// the room's key (`#Rust` and `#rust` are one room, so one `rust.log`).
#[derive(Debug)]
pub struct Transcripts {
    dir: PathBuf,
    /// By room key.
    open: BTreeMap<String, (File, PathBuf)>,
    /// Lines for every transcript from before the first one opened (the
    /// server was not up yet); the first one to open gets them, so the
    /// default room's transcript shows the wait as it did with one file.
    early: VecDeque<String>,
}

impl Transcripts {
    /// Transcripts in `dir`; none is open yet.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            open: BTreeMap::new(),
            early: VecDeque::new(),
        }
    }

    /// The file of `room`'s transcript, or `None` for a name that is not a
    /// room's: the name comes from the server and becomes part of a path,
    /// so `../x` must never get that far.
    pub fn path_of(&self, room: &str) -> Option<PathBuf> {
        let name = parse_room(room).ok()?;
        Some(self.dir.join(format!("{}.log", room_key(name))))
    }

    /// Appends `line` to `room`'s transcript, opening it (append mode) first
    /// if need be.
    ///
    /// # Errors
    /// When the file cannot be opened or written.
    pub fn write_room(&mut self, room: &str, line: &str) -> anyhow::Result<()> {
        let key = room_key(room);
        if !self.open.contains_key(&key) {
            let Some(path) = self.path_of(room) else {
                eprintln!(
                    "! not logging a room the server named {:?}: not a room name",
                    chat_core::sanitize(room)
                );
                return Ok(());
            };
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("cannot open the transcript {}", path.display()))?;
            for early in std::mem::take(&mut self.early) {
                write_line(&mut file, &early, &path)?;
            }
            self.open.insert(key.clone(), (file, path));
        }
        match self.open.get_mut(&key) {
            Some((file, path)) => write_line(file, line, path),
            None => Ok(()),
        }
    }

    /// Appends `line` to every open transcript (or keeps it for the first).
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn write_every(&mut self, line: &str) -> anyhow::Result<()> {
        if self.open.is_empty() {
            if self.early.len() == EARLY_LINES {
                self.early.pop_front();
            }
            self.early.push_back(line.to_owned());
        }
        for (file, path) in self.open.values_mut() {
            write_line(file, line, path)?;
        }
        Ok(())
    }

    /// Closes `room`'s transcript (the logger left the room); it is opened
    /// again, for appending, if the logger comes back.
    pub fn close(&mut self, room: &str) {
        self.open.remove(&room_key(room));
    }
}

/// What the logger knows while it writes: the default room, which replays
/// to keep, and the open transcripts.
#[derive(Debug)]
pub struct Logbook {
    default: Option<String>,
    seen: Seen,
    transcripts: Transcripts,
}

impl Logbook {
    /// A logbook writing into `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            default: None,
            seen: Seen::default(),
            transcripts: Transcripts::new(dir),
        }
    }

    /// Whether the logger has been in `room` during this run.
    pub fn has_entered(&self, room: &str) -> bool {
        self.seen.has_entered(room)
    }

    /// Writes `event` where it belongs, if it belongs anywhere; `me` is the
    /// logger's current name, `now_ms` the time for events without one.
    ///
    /// # Errors
    /// When a transcript cannot be opened or written.
    pub fn record(&mut self, event: &Event, me: &str, now_ms: u64) -> anyhow::Result<()> {
        if let Event::Welcome(w) = event {
            self.default = Some(w.room.clone());
        }
        let default = self.default.as_deref();
        if !self.seen.is_new(event, default) {
            return Ok(());
        }
        let Some(line) = transcript_line(event, now_ms) else {
            return Ok(());
        };
        match target(event, default) {
            Target::Room(room) => {
                self.transcripts.write_room(&room, &line)?;
                // Its own departure is the last line of that room's file.
                if matches!(event, Event::Left(d) if name_key(&d.name) == name_key(me)) {
                    self.transcripts.close(&room);
                }
                Ok(())
            }
            Target::Every => self.transcripts.write_every(&line),
            Target::Nowhere => Ok(()),
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
    let topic = |topic: &Option<String>| match topic.as_deref() {
        Some(t) if !t.is_empty() => format!("; topic: {}", chat_core::sanitize(t)),
        _ => String::new(),
    };
    let text = match event {
        // The rendered welcome and join answer talk to a person ("/help
        // lists commands", "now talking in"); the transcript says what it logs.
        Event::Welcome(w) => format!(
            "* logging {} as {}; {}{}",
            chat_core::sanitize(&w.room),
            chat_core::sanitize(&w.name),
            chat_core::sanitize(&chat_core::render::who_text(&w.users)),
            topic(&w.topic)
        ),
        Event::RoomJoined(r) => format!(
            "* logging {}; {}{}",
            chat_core::sanitize(&r.room),
            chat_core::sanitize(&chat_core::render::who_text(&r.users)),
            topic(&r.topic)
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
    use chat_core::protocol::{ChatMessage, MessageKind, Replayed, RoomInfo, Welcome};
    use chat_core::Status;

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

    fn said(room: &str, seq: u64, text: &str) -> ChatMessage {
        ChatMessage {
            room: Some(room.into()),
            seq,
            time: 0,
            from: "alice".into(),
            text: text.into(),
            id: None,
        }
    }

    fn replayed(room: &str, seq: u64) -> Event {
        Event::Replay(Replayed {
            kind: MessageKind::Message,
            message: said(room, seq, "old"),
        })
    }

    fn welcome(room: &str) -> Event {
        Event::Welcome(Welcome {
            rooms: vec![room.into()],
            topic: None,
            version: 1,
            name: "logger".into(),
            room: room.into(),
            users: vec!["alice".into(), "logger".into()],
            limits: chat_core::protocol::Limits {
                max_rooms: 0,
                max_line: 8192,
                max_name: 32,
                rate_per_sec: 0,
                burst: 0,
            },
        })
    }

    fn joined(room: &str) -> Event {
        Event::RoomJoined(RoomInfo {
            room: room.into(),
            topic: Some("crabs".into()),
            users: vec!["bob".into(), "logger".into()],
        })
    }

    fn disconnected() -> Event {
        Event::Status(Status::Disconnected {
            reason: "server closed the connection".into(),
            retry_in: Some(std::time::Duration::from_secs(1)),
        })
    }

    #[test]
    fn only_replays_on_entering_a_room_again_fill_gaps() {
        let mut seen = Seen::default();
        let lobby = Some("lobby");
        // The history shown on first entering each room predates the logger.
        assert!(seen.is_new(&welcome("lobby"), lobby));
        assert!(!seen.is_new(&replayed("lobby", 1), lobby));
        assert!(seen.is_new(&joined("Rust"), lobby));
        assert!(!seen.is_new(&replayed("rust", 7), lobby));
        assert!(seen.is_new(&Event::Message(said("lobby", 2, "live")), lobby));
        assert!(seen.is_new(&disconnected(), lobby));
        // Back in the lobby: core dropped the replays of 1 and 2; 3 was
        // said while away. The replay of #rust before core joined it again
        // is still skipped... until the logger is back in #rust.
        assert!(seen.is_new(&welcome("lobby"), lobby));
        assert!(seen.is_new(&replayed("lobby", 3), lobby));
        assert!(!seen.is_new(&replayed("rust", 8), lobby));
        assert!(seen.is_new(&joined("rust"), lobby));
        assert!(seen.is_new(&replayed("rust", 8), lobby));
        assert!(seen.is_new(&Event::Action(said("lobby", 4, "waves")), lobby));
        let line = transcript_line(&replayed("lobby", 3), 0).expect("a replay has a line");
        assert!(line.ends_with(" [history] <alice> old"), "{line}");
    }

    #[test]
    fn welcome_and_joins_read_as_log_lines() {
        let line = transcript_line(&welcome("lobby"), 0).expect("welcome has a line");
        assert!(
            line.ends_with(" * logging lobby as logger; online (2): alice, logger"),
            "{line}"
        );
        let line = transcript_line(&joined("rust"), 0).expect("a join has a line");
        assert!(
            line.ends_with(" * logging rust; online (2): bob, logger; topic: crabs"),
            "{line}"
        );
    }

    #[test]
    fn events_go_to_their_rooms_transcript() {
        let lobby = Some("lobby");
        let message = |room: Option<&str>| {
            Event::Message(ChatMessage {
                room: room.map(str::to_owned),
                ..said("x", 1, "hi")
            })
        };
        assert_eq!(
            target(&message(Some("Rust")), lobby),
            Target::Room("Rust".into())
        );
        assert_eq!(target(&message(None), lobby), Target::Room("lobby".into()));
        assert_eq!(target(&disconnected(), lobby), Target::Every);
        let private = Event::Private(chat_core::protocol::PrivateMessage {
            time: 0,
            from: "alice".into(),
            to: "logger".into(),
            text: "psst".into(),
            id: None,
        });
        assert_eq!(target(&private, lobby), Target::Nowhere);
    }

    #[test]
    fn room_names_from_the_server_never_leave_the_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let transcripts = Transcripts::new(dir.path());
        assert_eq!(
            transcripts.path_of("#Rust"),
            Some(dir.path().join("rust.log"))
        );
        for bad in ["../etc", "a/b", "", ".", "x.log"] {
            assert_eq!(transcripts.path_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn one_file_per_room_and_the_wait_goes_to_the_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut book = Logbook::new(dir.path());
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
        // Before any room: kept, then written to the default room's file.
        book.record(&disconnected(), "logger", 0).expect("kept");
        book.record(&welcome("lobby"), "logger", 0).expect("writes");
        book.record(&joined("rust"), "logger", 0).expect("writes");
        book.record(&Event::Message(said("rust", 1, "crab")), "logger", 0)
            .expect("writes");
        book.record(&Event::Message(said("lobby", 1, "hello")), "logger", 0)
            .expect("writes");
        book.record(&disconnected(), "logger", 0).expect("writes");
        let (lobby, rust) = (read("lobby.log"), read("rust.log"));
        assert_eq!(lobby.lines().count(), 4, "{lobby}");
        assert!(lobby
            .lines()
            .next()
            .is_some_and(|l| l.contains("* disconnected: ")));
        assert!(
            lobby.contains("<alice> hello") && !lobby.contains("crab"),
            "{lobby}"
        );
        assert_eq!(rust.lines().count(), 3, "{rust}");
        assert!(
            rust.contains("<alice> crab") && !rust.contains("hello"),
            "{rust}"
        );
        assert!(rust
            .lines()
            .last()
            .is_some_and(|l| l.contains("* disconnected: ")));
        // Its own departure is the last line of that room's file.
        let left = Event::Left(chat_core::protocol::Departure {
            room: Some("rust".into()),
            time: 0,
            name: "logger".into(),
            reason: "part".into(),
        });
        book.record(&left, "logger", 0).expect("writes");
        book.record(&disconnected(), "logger", 0).expect("writes");
        assert!(read("rust.log").ends_with("* logger left (part)\n"));
        assert_eq!(read("lobby.log").lines().count(), 5);
    }
}
