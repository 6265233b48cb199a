//! Terminal mode: rustyline reads lines on the main thread while the event
//! task prints incoming lines above the prompt through an `ExternalPrinter`
//! (by way of the `gate`, which keeps them off the prompt's row while
//! editing starts and ends), so a half-typed line survives them. Up/Down
//! recall history, which is kept in the user's data directory between runs
//! (except `/oper` lines, which carry a password). A line is shown once:
//! what was typed is erased when Enter is pressed, and the server's echo
//! (`[20:04] <me> hello`) takes its place, as in irssi and WeeChat.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use async_std::task::block_on;
use chat_core::{ChatError, Line, LineKind};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Cmd, CompletionType, Config, Editor, KeyEvent, Movement};
use unicode_width::UnicodeWidthStr as _;

use crate::access::Access;
use crate::client::{Client, Flow, Output};
use crate::commands::{parse, typed_lines, Command};
use crate::format::{format_history, format_line, Style};
use crate::gate::Gate;
use crate::helper::ReplHelper;
use crate::state::{fallback_name, lock, SharedState, State};

const HISTORY_SIZE: usize = 1000;

/// Where history is kept: `$XDG_DATA_HOME/chat-repl/history.txt` on Linux
/// (usually `~/.local/share/chat-repl/history.txt`), the platform's data
/// directory elsewhere.
pub fn history_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "chat-repl").map(|d| d.data_dir().join("history.txt"))
}

/// Prints above the prompt, formatted `[HH:MM] <name> text`.
struct Term {
    gate: Arc<Gate>,
    style: Style,
}

impl Term {
    fn print_text(&self, text: String) {
        self.gate.print(text + "\n");
    }
}

impl Output for Term {
    fn event(&self, line: &Line, me: &str, current: Option<&str>) {
        self.print_text(format_line(line, me, current, now_ms(), self.style));
    }

    fn history(&self, line: &Line, _me: &str, current: Option<&str>) {
        self.print_text(format_history(line, current, now_ms(), self.style));
    }

    fn local(&self, line: &Line, me: &str) {
        self.print_text(format_line(line, me, None, now_ms(), self.style));
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

type ReplEditor = Editor<ReplHelper, FileHistory>;

/// Runs until Ctrl-D or `/quit`.
///
/// # Errors
/// The first connection's failure in one line (except a rejected name,
/// which asks for another), or when the terminal cannot be driven.
pub fn run(
    addr: String,
    name: Option<String>,
    rooms: Vec<String>,
    access: Access,
    history: Option<PathBuf>,
) -> anyhow::Result<()> {
    let style = Style::detect();
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_dups(true)?
        .max_history_size(HISTORY_SIZE)?
        .completion_type(CompletionType::List)
        .build();
    let mut editor = ReplEditor::with_config(config).context("setting up the terminal")?;
    let printer = editor
        .create_external_printer()
        .context("setting up the terminal")?;
    let gate = Arc::new(Gate::new(Box::new(printer), Box::new(std::io::stdout())));
    let state: SharedState = Arc::new(Mutex::new(State::new(name.clone().unwrap_or_default())));
    editor.set_helper(Some(ReplHelper::new(state.clone(), style, gate.clone())));
    // Ctrl-C clears the line in place (it can be yanked back with Ctrl-Y)
    // instead of abandoning it on screen.
    editor.bind_sequence(KeyEvent::ctrl('C'), Cmd::Kill(Movement::WholeLine));
    if let Some(path) = &history {
        // No file yet is the normal first run.
        let _ = editor.load_history(path);
    }
    let out = Arc::new(Term {
        gate: gate.clone(),
        style,
    });
    let mut client = Client::new(addr, access, state.clone(), out);

    if name.is_none() && !ask_name(&mut editor, &gate, &state)? {
        return Ok(());
    }
    loop {
        match block_on(client.connect(None)) {
            Ok(()) => break,
            Err(e @ ChatError::NameRejected { .. }) => {
                client.local(LineKind::Error, &e.to_string());
                if !ask_name(&mut editor, &gate, &state)? {
                    return Ok(());
                }
            }
            Err(e) => anyhow::bail!(client.explain(&e)),
        }
    }
    for room in rooms {
        block_on(client.handle(Command::Chat(chat_core::Input::Join(room))));
    }

    let result = read_loop(&mut editor, &gate, &mut client);
    if let Some(path) = &history {
        if let Err(e) = save_history(&mut editor, path) {
            eprintln!("could not save history to {}: {e:#}", path.display());
        }
    }
    result
}

fn read_loop(editor: &mut ReplEditor, gate: &Gate, client: &mut Client) -> anyhow::Result<()> {
    loop {
        // The current room, as the last answer left it: /join and /part
        // wait for theirs, so the prompt names the room the next line goes to.
        let prompt = lock(client.state()).rooms.prompt();
        let read = readline(editor, gate, &prompt, |line, columns| {
            let mut out = std::io::stdout();
            // Cosmetic: a terminal that cannot take it keeps the line.
            let _ = out
                .write_all(erase_typed(&prompt, line, columns).as_bytes())
                .and_then(|()| out.flush());
        });
        let line = match read {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => {
                block_on(client.quit());
                return Ok(());
            }
            Err(e) => {
                block_on(client.quit());
                return Err(e).context("reading the terminal");
            }
        };
        // A bracketed paste of several lines comes back as one string:
        // each line is sent, in order, as if typed one by one.
        for line in typed_lines(&line) {
            if on_line(editor, client, line) == Flow::Quit {
                return Ok(());
            }
        }
    }
}

/// Reads a line with the gate open for incoming lines only while editing;
/// `typed` (the line and the terminal's width) runs once Enter was
/// pressed, before lines that came meanwhile are printed.
fn readline(
    editor: &mut ReplEditor,
    gate: &Gate,
    prompt: &str,
    typed: impl FnOnce(&str, usize),
) -> Result<String, ReadlineError> {
    gate.opening();
    let read = editor.readline(prompt);
    if let (Ok(line), Some((columns, _))) = (&read, editor.dimensions()) {
        typed(line, columns.into());
    }
    gate.idle();
    read
}

/// The escape sequence that erases the prompt and `line` as the terminal
/// shows them once Enter was pressed: rustyline leaves the cursor at the
/// start of the row below, and each line of the input (a bracketed paste
/// has several) takes one row per `columns` characters, plus one.
fn erase_typed(prompt: &str, line: &str, columns: usize) -> String {
    let columns = columns.max(1);
    let rows: usize = line
        .split('\n')
        .enumerate()
        .map(|(i, part)| {
            let prefix = if i == 0 { prompt.width() } else { 0 };
            (prefix + part.width()) / columns + 1
        })
        .sum();
    format!("\x1b[{rows}A\r\x1b[J")
}

/// Acts on one typed line.
fn on_line(editor: &mut ReplEditor, client: &mut Client, line: &str) -> Flow {
    if !carries_password(line) {
        let _ = editor.add_history_entry(line);
    }
    match parse(line) {
        Ok(Command::Clear) => {
            if let Err(e) = editor.clear_screen() {
                client.local(LineKind::Error, &format!("cannot clear the screen: {e}"));
            }
        }
        Ok(command) => return block_on(client.handle(command)),
        Err(chat_core::InputError::Empty) => {}
        Err(e) => client.local(LineKind::Error, &e.to_string()),
    }
    Flow::Continue
}

/// Whether a typed line holds a password (`/oper PASSWORD`), which must not
/// be written to the history file.
fn carries_password(line: &str) -> bool {
    let word = line.split_whitespace().next().unwrap_or("");
    word.eq_ignore_ascii_case("/oper")
}

/// Asks for a name until one is given; `false` when the user gave up
/// (Ctrl-D). Enter alone takes `$USER`, or a guest name without it.
fn ask_name(editor: &mut ReplEditor, gate: &Gate, state: &SharedState) -> anyhow::Result<bool> {
    let fallback = fallback_name(std::env::var("USER").ok());
    loop {
        match readline(editor, gate, "your name: ", |_, _| {}) {
            Ok(name) => {
                // A pasted name and a line break after it: the name.
                let name = typed_lines(&name).next().map_or("", str::trim);
                let name = if name.is_empty() { &fallback } else { name };
                lock(state).me = name.to_owned();
                return Ok(true);
            }
            Err(ReadlineError::Interrupted) => {}
            Err(ReadlineError::Eof) => return Ok(false),
            Err(e) => return Err(e).context("reading the terminal"),
        }
    }
}

fn save_history(editor: &mut ReplEditor, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Appending keeps what other REPLs saved meanwhile.
    editor.append_history(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erasing_covers_every_row_the_input_took() {
        assert_eq!(erase_typed("#lobby> ", "hello", 80), "\x1b[1A\r\x1b[J");
        assert_eq!(erase_typed("#lobby> ", "", 80), "\x1b[1A\r\x1b[J");
        // 8 + 72 fill the row exactly: the cursor wrapped to the next one.
        assert_eq!(
            erase_typed("#lobby> ", &"x".repeat(72), 80),
            "\x1b[2A\r\x1b[J"
        );
        assert_eq!(
            erase_typed("#lobby> ", &"x".repeat(200), 80),
            "\x1b[3A\r\x1b[J"
        );
        // Wide characters take two columns; a paste's lines one row each.
        assert_eq!(erase_typed("> ", &"日".repeat(40), 80), "\x1b[2A\r\x1b[J");
        assert_eq!(erase_typed("> ", "a\nb\nc", 80), "\x1b[3A\r\x1b[J");
    }

    #[test]
    fn oper_lines_are_not_remembered() {
        assert!(carries_password("/oper s3cret"));
        assert!(carries_password("  /OPER s3cret"));
        assert!(!carries_password("/operate"));
        assert!(!carries_password("// /oper x"));
        assert!(!carries_password("hello /oper"));
    }
}
