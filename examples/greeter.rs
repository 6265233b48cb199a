//! `greeter`: welcomes each person who joins, says so when someone leaves, and
//! welcomes back those it saw leave. Shows a bot that keeps state from events:
//! who is here (from the welcome, joins, leaves and renames) and who left when.
//! Run it with `cargo run --example greeter -- --server 127.0.0.1:8001`.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use chat_core::names::name_key;
use chat_core::{ChatSession, Event, SessionConfig};
use clap::Parser;
use futures::StreamExt;

/// Welcomes each person who joins, and notes who left.
#[derive(Debug, Parser)]
pub struct Args {
    /// HOST:PORT of the chat server.
    #[arg(long, default_value = chat_core::DEFAULT_ADDR)]
    pub server: String,
    /// The name to join as.
    #[arg(long, default_value = "greeter")]
    pub name: String,
    /// TLS and the room's password.
    #[command(flatten)]
    pub access: chat_examples::Access,
}

#[async_std::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    run(args
        .access
        .apply(SessionConfig::new(args.server, args.name))?)
    .await
}

/// Joins and greets until the server goes away.
pub async fn run(config: SessionConfig) -> anyhow::Result<()> {
    let session = chat_examples::join(config).await?;
    let mut room = Room::new(&session.welcome().users);
    let (sender, mut events) = session.split();
    while let Some(event) = events.next().await {
        let reply = match event {
            // The server announces our own arrival too: no welcoming
            // ourselves, under whatever name the session holds now.
            Event::Joined(p) if name_key(&p.name) == name_key(&sender.name()) => None,
            Event::Joined(p) => Some(room.joined(&p.name)),
            Event::Left(d) => Some(room.left(&d.name, &d.reason)),
            Event::Renamed(r) => {
                room.renamed(&r.from, &r.to);
                None
            }
            Event::Status(status) => {
                println!("{}", chat_core::render::status_text(&status));
                None
            }
            // Refusals (a rate limit, say) are worth a line for the operator;
            // answering them in the room could start a loop.
            Event::Error(e) => {
                eprintln!("! {}", chat_core::sanitize(&e.message));
                None
            }
            _ => None,
        };
        if let Some(text) = reply {
            sender.say(text).await.context("cannot greet")?;
        }
    }
    Ok(())
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

    /// Records an arrival and returns the greeting.
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
    fn durations_read_well() {
        assert_eq!(ago(5), "5 s");
        assert_eq!(ago(600), "10 min");
        assert_eq!(ago(7200), "2 h");
    }
}
