//! `greeter`: welcomes each person who joins, says so when someone leaves, and
//! welcomes back those it saw leave — in each room it is in, answering in the
//! room it happened in. Shows a bot that keeps state from events: per room,
//! who is here (from the welcome or the room's join answer, then joins,
//! leaves and renames) and who left when. Someone back within the grace
//! window (`--grace`, a dropped connection coming back) is not greeted
//! again, and each join gets at most one line. It comes back by itself
//! when the server restarts, and exits non-zero when its session ends for
//! good.
//! Run it with `cargo run --example greeter -- --server 127.0.0.1:8001 --room rust`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chat_core::names::{name_key, room_key};
use chat_core::{ChatSession, Event, SessionConfig};
use clap::Parser;
use futures::StreamExt;

/// Welcomes each person who joins, and notes who left.
#[derive(Debug, Parser)]
pub struct Args {
    /// HOST:PORT of the chat server (several, comma-separated, for a
    /// cluster's nodes).
    #[arg(short, long, value_name = "HOST:PORT", default_value = chat_core::DEFAULT_ADDR)]
    pub server: String,
    /// The name to join as.
    #[arg(short, long, default_value = "greeter")]
    pub name: String,
    /// TLS and the room's password.
    #[command(flatten)]
    pub access: chat_examples::Access,
    /// Rooms to greet in besides the default one.
    #[command(flatten)]
    pub rooms: chat_examples::RoomFlags,
    /// Seconds someone may be away and come back without a greeting (a
    /// dropped connection, a client restarted).
    #[arg(short, long, value_name = "SECS", default_value_t = 60)]
    pub grace: u64,
}

#[async_std::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = chat_examples::bot_config(args.server, args.name, &args.access)?;
    run(config, args.rooms.names, Duration::from_secs(args.grace)).await
}

/// Joins (and joins `rooms`) and greets until the session ends; nobody back
/// within `grace` is greeted.
///
/// # Errors
/// When joining is refused, or the session ends.
pub async fn run(config: SessionConfig, rooms: Vec<String>, grace: Duration) -> anyhow::Result<()> {
    let session = chat_examples::join(config).await?;
    // Events from a server without rooms name none: they are about this one.
    let default = session.welcome().room.clone();
    let mut here = Rooms {
        grace,
        ..Rooms::default()
    };
    let (sender, mut events) = session.split();
    chat_examples::join_rooms(&sender, &rooms).await?;
    let mut watch = chat_examples::Watch::default();
    while let Some(event) = events.next().await {
        watch.note(&event);
        let room = event.room().unwrap_or(&default).to_owned();
        let reply = match event {
            // Who is in a room, on connecting and on joining it.
            Event::Welcome(w) => {
                here.entered(&w.room, &w.users);
                None
            }
            Event::RoomJoined(r) => {
                here.entered(&r.room, &r.users);
                None
            }
            // The server announces our own arrival too: no welcoming
            // ourselves, under whatever name the session holds now.
            Event::Joined(p) if name_key(&p.name) == name_key(&sender.name()) => None,
            Event::Joined(p) => here.joined(&room, &p.name, Instant::now()),
            // Our own departure from a room: forget it, say nothing there.
            Event::Left(d) if name_key(&d.name) == name_key(&sender.name()) => {
                here.left(&room);
                None
            }
            Event::Left(d) => Some(here.room(&room).left(&d.name, &d.reason)),
            // Names are server-wide: a rename shows in every room it touches.
            Event::Renamed(r) => {
                here.renamed(&r.from, &r.to);
                None
            }
            _ => None,
        };
        if let Some(text) = reply {
            // In the room it happened in, not whichever room is current. A
            // failed send means the connection is going; the stream says
            // why, and core reconnects.
            if let Err(e) = sender.say_in(&room, text).await {
                eprintln!("cannot greet: {e}");
            }
        }
    }
    watch.ended()
}

/// The greeter's rooms by [`room_key`], each with what it knows of it.
#[derive(Debug, Default)]
pub struct Rooms {
    rooms: HashMap<String, Room>,
    /// How long someone may be away and come back unannounced.
    pub grace: Duration,
}

impl Rooms {
    /// The greeter is in `room` with `users` (on connecting, joining it, or
    /// after a reconnection): the list is taken afresh, the departures it
    /// remembers there are kept.
    pub fn entered(&mut self, room: &str, users: &[String]) {
        self.rooms
            .entry(room_key(room))
            .and_modify(|r| users.clone_into(&mut r.here))
            .or_insert_with(|| Room::new(users));
    }

    /// A room's state; one the greeter heard nothing about yet starts empty.
    pub fn room(&mut self, room: &str) -> &mut Room {
        self.rooms
            .entry(room_key(room))
            .or_insert_with(|| Room::new(&[]))
    }

    /// Someone joined `room` at `now`: the greeting, or `None` for someone
    /// back within the grace window.
    pub fn joined(&mut self, room: &str, name: &str, now: Instant) -> Option<String> {
        let grace = self.grace;
        let room = self.room(room);
        let away = room.away(name, now);
        let greeting = room.joined(name);
        away.is_none_or(|away| away >= grace).then_some(greeting)
    }

    /// The greeter left `room`: forget it.
    pub fn left(&mut self, room: &str) {
        self.rooms.remove(&room_key(room));
    }

    /// Follows a change of name in every room.
    pub fn renamed(&mut self, from: &str, to: &str) {
        for room in self.rooms.values_mut() {
            room.renamed(from, to);
        }
    }
}

/// How many departures the greeter remembers for its welcome-backs.
const MAX_REMEMBERED: usize = 1000;

/// Who is here and who left when: everything the greeter knows.
#[derive(Debug)]
pub struct Room {
    /// Everyone online, the greeter included, as the server spelled them.
    here: Vec<String>,
    /// When each person left, by [`name_key`], to welcome them back.
    gone: HashMap<String, Instant>,
}

impl Room {
    /// The room as the welcome described it.
    pub fn new(users: &[String]) -> Self {
        Self {
            here: users.to_vec(),
            gone: HashMap::new(),
        }
    }

    /// How long `name` has been away at `now`, if the greeter saw them leave.
    pub fn away(&self, name: &str, now: Instant) -> Option<Duration> {
        let left = self.gone.get(&name_key(name))?;
        Some(now.saturating_duration_since(*left))
    }

    /// Records an arrival and returns the greeting, one line.
    pub fn joined(&mut self, name: &str) -> String {
        self.here.push(name.to_owned());
        let others = self.here.len() - 1;
        let company = match others {
            1 => "1 other person is here".to_owned(),
            n => format!("{n} other people are here"),
        };
        match self.gone.remove(&name_key(name)) {
            Some(when) => format!(
                "welcome back, {name}! you were away for {}; {company}",
                ago(when.elapsed().as_secs())
            ),
            None => format!("welcome, {name}! {company}"),
        }
    }

    /// Records a departure and returns the note about it.
    pub fn left(&mut self, name: &str, reason: &str) -> String {
        let key = name_key(name);
        self.here.retain(|n| name_key(n) != key);
        // Remember a bounded number of departures, forgetting the oldest, so
        // a bot that runs for months does not grow without limit.
        if self.gone.len() >= MAX_REMEMBERED {
            if let Some(oldest) = self
                .gone
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| k.clone())
            {
                self.gone.remove(&oldest);
            }
        }
        self.gone.insert(key, Instant::now());
        // Count everyone but the greeter itself.
        let left = self.here.len().saturating_sub(1);
        format!("{name} left ({reason}); {left} still here")
    }

    /// Follows a change of name, so the counts and welcome-backs stay right.
    pub fn renamed(&mut self, from: &str, to: &str) {
        let key = name_key(from);
        for name in &mut self.here {
            if name_key(name) == key {
                to.clone_into(name);
            }
        }
    }
}

/// A duration in words: `12 s`, `5 min`, `3 h`.
fn ago(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_welcomes_back() {
        let mut room = Room::new(&["greeter".into(), "alice".into()]);
        assert_eq!(room.joined("bob"), "welcome, bob! 2 other people are here");
        assert_eq!(
            room.left("Alice", "quit"),
            "Alice left (quit); 1 still here"
        );
        room.renamed("bob", "rob");
        assert_eq!(room.left("rob", "bye"), "rob left (bye); 0 still here");
        assert!(room
            .joined("alice")
            .starts_with("welcome back, alice! you were away for 0 s; 1 other person"));
    }

    #[test]
    fn nobody_back_within_the_grace_window_is_greeted() {
        let mut rooms = Rooms {
            grace: Duration::from_secs(60),
            ..Rooms::default()
        };
        rooms.entered("lobby", &["greeter".into()]);
        let now = Instant::now();
        assert_eq!(
            rooms.joined("lobby", "bob", now).as_deref(),
            Some("welcome, bob! 1 other person is here")
        );
        rooms.room("lobby").left("bob", "connection lost");
        let soon = Instant::now() + Duration::from_secs(5);
        assert_eq!(rooms.joined("#Lobby", "Bob", soon), None, "back in 5 s");
        rooms.room("lobby").left("Bob", "quit");
        let later = Instant::now() + Duration::from_secs(90);
        let again = rooms.joined("lobby", "bob", later).expect("away 90 s");
        assert!(
            again.starts_with("welcome back, bob! you were away for "),
            "{again}"
        );
        assert!(!again.contains('\n'), "{again}");
    }

    #[test]
    fn rooms_count_apart() {
        let mut rooms = Rooms::default();
        rooms.entered("lobby", &["greeter".into(), "alice".into()]);
        rooms.entered("Rust", &["greeter".into()]);
        assert_eq!(
            rooms.room("#rust").joined("bob"),
            "welcome, bob! 1 other person is here"
        );
        assert_eq!(
            rooms.room("lobby").joined("bob"),
            "welcome, bob! 2 other people are here"
        );
        rooms.renamed("bob", "rob");
        assert_eq!(
            rooms.room("rust").left("rob", "part"),
            "rob left (part); 0 still here"
        );
        // Re-entering (a reconnection) takes the new list and keeps who left.
        rooms.entered("rust", &["greeter".into(), "carol".into()]);
        assert!(rooms
            .room("rust")
            .joined("rob")
            .starts_with("welcome back, rob! you were away for 0 s; 2 other people"));
        rooms.left("rust");
        assert_eq!(
            rooms.room("rust").joined("dan"),
            "welcome, dan! 0 other people are here"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(ago(5), "5 s");
        assert_eq!(ago(600), "10 min");
        assert_eq!(ago(7200), "2 h");
    }
}
