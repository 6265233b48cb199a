//! The line editor's helper: Tab completes command words, the names of the
//! people in the joined rooms and room names, and the prompt's colour
//! follows the connection state (repainted with every refresh, so it
//! changes while the user types).

use std::borrow::Cow;
use std::sync::Arc;

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use chat_core::{parse_input, Input};

use crate::commands::command_words;
use crate::format::{prompt_sgr, Style};
use crate::gate::Gate;
use crate::state::{lock, Conn, SharedState};

/// What rustyline calls back into.
#[derive(Helper)]
pub struct ReplHelper {
    state: SharedState,
    style: Style,
    /// Told when editing has begun and when it ends (see the `gate` module).
    gate: Arc<Gate>,
}

impl std::fmt::Debug for ReplHelper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplHelper")
            .field("style", &self.style)
            .finish()
    }
}

impl ReplHelper {
    /// A helper reading names and connection state from `state`, telling
    /// `gate` when editing begins and ends.
    pub fn new(state: SharedState, style: Style, gate: Arc<Gate>) -> Self {
        Self { state, style, gate }
    }
}

/// No hints are shown; being asked for one is how the gate learns that
/// editing has begun: rustyline asks on every repaint, the first one after
/// the terminal is in raw mode.
impl Hinter for ReplHelper {
    type Hint = String;

    fn hint(&self, _line: &str, _pos: usize, _ctx: &Context<'_>) -> Option<String> {
        self.gate.editing();
        None
    }
}

/// Every line is accepted; being asked is how the gate learns that Enter
/// ends editing, while the terminal is still in raw mode.
impl Validator for ReplHelper {
    fn validate(&self, _ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        self.gate.closing();
        Ok(ValidationResult::Valid(None))
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (users, rooms) = {
            let state = lock(&self.state);
            (state.users(), state.rooms.known())
        };
        Ok(complete(line, pos, &command_words(), &users, &rooms))
    }
}

/// Whether the first word of a line is a command whose next word is a room:
/// `/join`, `/part`, `/who` and their aliases, as chat-core parses them.
fn takes_a_room(command: &str) -> bool {
    matches!(
        parse_input(&format!("{command} x")),
        Ok(Input::Join(_) | Input::Part { room: Some(_), .. } | Input::Who(Some(_)))
    )
}

/// Completions for the word before `pos`: command words when it is the first
/// word and starts with `/`; room names (as `#room`) when it starts with `#`
/// or follows `/join`, `/part` or `/who`; otherwise names (case-insensitive
/// prefix). A name that starts the line gets `: ` after it, as chat
/// convention has it.
pub fn complete(
    line: &str,
    pos: usize,
    commands: &[&str],
    users: &[String],
    rooms: &[String],
) -> (usize, Vec<Pair>) {
    let before = line.get(..pos).unwrap_or(line);
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let word = &before[start..];
    let earlier: Vec<&str> = before[..start].split_whitespace().collect();
    let first = earlier.is_empty();
    let pair = |display: &str, replacement: String| Pair {
        display: display.to_owned(),
        replacement,
    };
    let matches =
        |candidate: &str, word: &str| candidate.to_lowercase().starts_with(&word.to_lowercase());
    let room_word = match earlier[..] {
        [command] if takes_a_room(command) => Some(word.strip_prefix('#').unwrap_or(word)),
        _ => word.strip_prefix('#'),
    };
    let candidates = if first && word.starts_with('/') {
        commands
            .iter()
            .filter(|c| matches(c, word))
            .map(|c| pair(c, format!("{c} ")))
            .collect()
    } else if let Some(prefix) = room_word {
        rooms
            .iter()
            .filter(|r| matches(r, prefix))
            .map(|r| {
                let room = format!("#{r}");
                pair(&room, format!("{room} "))
            })
            .collect()
    } else if word.is_empty() {
        Vec::new()
    } else {
        let suffix = if first { ": " } else { " " };
        users
            .iter()
            .filter(|u| matches(u, word))
            .map(|u| pair(u, format!("{u}{suffix}")))
            .collect()
    };
    (start, candidates)
}

impl Highlighter for ReplHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        if !self.style.color {
            return Cow::Borrowed(prompt);
        }
        let sgr = prompt_sgr(lock(&self.state).conn == Conn::Connected);
        Cow::Owned(format!("\x1b[{sgr}m{prompt}\x1b[0m"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> (usize, Vec<String>) {
        let users = vec!["alice".to_owned(), "Albert".to_owned(), "bob".to_owned()];
        let rooms = vec!["lobby".to_owned(), "rust".to_owned(), "Ruby".to_owned()];
        let (start, pairs) = complete(line, line.len(), &command_words(), &users, &rooms);
        (start, pairs.into_iter().map(|p| p.replacement).collect())
    }

    #[test]
    fn commands_complete_at_the_start() {
        assert_eq!(run("/ms"), (0, vec!["/msg ".to_owned()]));
        assert_eq!(run("/d"), (0, vec!["/disconnect ".to_owned()]));
        let (_, all) = run("/");
        assert!(all.len() >= 9, "{all:?}");
        assert_eq!(run("/C").1, ["/connect ", "/clear "]);
        // Not the first word: a slash is just text.
        assert_eq!(run("say /ms"), (4, vec![]));
    }

    #[test]
    fn names_complete_anywhere_case_insensitively() {
        assert_eq!(
            run("/msg al"),
            (5, vec!["alice ".to_owned(), "Albert ".to_owned()])
        );
        assert_eq!(run("hi B"), (3, vec!["bob ".to_owned()]));
        assert_eq!(run("bo"), (0, vec!["bob: ".to_owned()]));
        assert_eq!(run("hi "), (3, vec![]));
        assert_eq!(run("zz"), (0, vec![]));
    }

    #[test]
    fn completes_the_word_at_the_cursor_in_unicode_text() {
        let users = vec!["zoë".to_owned()];
        let line = "héllo zo rest";
        let pos = line.find(" rest").expect("in the line");
        let (start, pairs) = complete(line, pos, &[], &users, &[]);
        assert_eq!(&line[start..pos], "zo");
        assert_eq!(pairs[0].replacement, "zoë ");
    }

    #[test]
    fn rooms_complete_after_room_commands_and_after_a_hash() {
        assert_eq!(
            run("/join ru"),
            (6, vec!["#rust ".to_owned(), "#Ruby ".to_owned()])
        );
        assert_eq!(run("/JOIN #l"), (6, vec!["#lobby ".to_owned()]));
        assert_eq!(run("/j ru").1, ["#rust ", "#Ruby "]);
        assert_eq!(run("/part rus").1, ["#rust "]);
        assert_eq!(run("/leave rus").1, ["#rust "]);
        assert_eq!(run("/who l").1, ["#lobby "]);
        // Every known room after the command, nothing typed yet.
        assert_eq!(run("/join ").1, ["#lobby ", "#rust ", "#Ruby "]);
        // Anywhere, a word starting with # is a room.
        assert_eq!(
            run("see #ru"),
            (4, vec!["#rust ".to_owned(), "#Ruby ".to_owned()])
        );
        assert_eq!(run("#lo"), (0, vec!["#lobby ".to_owned()]));
        // The part reason and /msg's name are not rooms.
        assert_eq!(run("/part #rust bo").1, ["bob "]);
        assert_eq!(run("/msg al").1, ["alice ", "Albert "]);
        assert_eq!(run("/join zz"), (6, vec![]));
    }
}
