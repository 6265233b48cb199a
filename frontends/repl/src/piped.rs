//! Line-by-line mode, for when stdin or stdout is not a terminal: each stdin
//! line is typed input, each event one plain line on stdout (`<alice> hi`,
//! exactly as `chat_core::render` writes it), and the REPL's own messages go
//! to stderr. End of input leaves like `/quit`. Messages from a room's
//! history start with their time, `[12:04] <alice> hi`, and lines about a
//! room other than the current one with that room, `[#rust] <alice> hi`, as
//! the server's own plain mode writes them.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::Context as _;
use async_std::io::{prelude::BufReadExt, BufReader};
use chat_core::render::clock;
use chat_core::{Input, InputError, Line, LineKind};
use futures::StreamExt;

use crate::access::Access;
use crate::client::{Client, Flow, Output};
use crate::commands::{parse, typed_lines, Command};
use crate::state::{fallback_name, SharedState, State};

/// Events to stdout, the REPL's own lines to stderr; no colour, no clock,
/// so scripts read the same lines `nc` would show.
struct Plain;

impl Output for Plain {
    fn event(&self, line: &Line, _me: &str, current: Option<&str>) {
        // A closed stdout (the reader went away) is not worth dying for.
        let _ = writeln!(std::io::stdout().lock(), "{}", line.in_context(current));
    }

    fn history(&self, line: &Line, _me: &str, current: Option<&str>) {
        let stamp = line.time.map_or_else(|| "--:--".to_owned(), clock);
        // The time first, then the line as any other, as the server's plain
        // mode writes history: `[12:04] [#rust] <alice> hi`.
        let text = line.in_context(current);
        let _ = writeln!(std::io::stdout().lock(), "[{stamp}] {text}");
    }

    fn local(&self, line: &Line, _me: &str) {
        // "connecting to …" is noise on a script's stderr.
        if line.kind != LineKind::Status || !line.text.starts_with("connecting") {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

/// Runs until end of input or `/quit`.
///
/// # Errors
/// The first connection's failure, in one line; I/O errors on stdin.
pub async fn run(
    addr: String,
    name: Option<String>,
    rooms: Vec<String>,
    access: Access,
) -> anyhow::Result<()> {
    let mut lines = BufReader::new(async_std::io::stdin()).lines();
    let name = match name {
        Some(name) => name,
        None => {
            if std::io::stdin().is_terminal() {
                eprint!("your name: ");
            }
            match lines.next().await {
                Some(line) => {
                    let line = line.context("reading a name from stdin")?;
                    match line.trim() {
                        // An empty first line takes `$USER`, or a guest name.
                        "" => fallback_name(std::env::var("USER").ok()),
                        name => name.to_owned(),
                    }
                }
                None => anyhow::bail!("no name given: use --name NAME"),
            }
        }
    };
    let state: SharedState = Arc::new(std::sync::Mutex::new(State::new(name)));
    let mut client = Client::new(addr, access, state, Arc::new(Plain)).settling_before_quit();
    if let Err(e) = client.connect(None).await {
        anyhow::bail!(client.explain(&e));
    }
    for room in rooms {
        if client.handle(Command::Chat(Input::Join(room))).await == Flow::Quit {
            return Ok(());
        }
    }
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                // Leave the room properly before reporting.
                client.quit().await;
                return Err(e).context("reading stdin");
            }
        };
        // A line from a file written on Windows ends in `\r`.
        for line in typed_lines(&line) {
            match parse(line) {
                Ok(Command::Clear) | Err(InputError::Empty) => {}
                Ok(command) => {
                    if client.handle(command).await == Flow::Quit {
                        return Ok(());
                    }
                }
                Err(e) => client.local(LineKind::Error, &e.to_string()),
            }
        }
    }
    client.quit().await;
    Ok(())
}
