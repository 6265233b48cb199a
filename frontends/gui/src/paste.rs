//! Pasting several lines into the compose box: each non-blank line becomes
//! one message to the shown room, in order. More than [`ASK_ABOVE`] lines
//! wait for a confirmation in a bar above the compose box (not a dialog,
//! which would stop the window and its tests).
//!
//! Pasted lines are always text: a pasted line starting with `/` is said,
//! not run as a command (a path or a quote from a terminal must not
//! `/quit`). What is typed in the box stays there untouched. Keeping to
//! the server's rate limit and splitting lines longer than its limit are
//! `chat-core`'s; the window only hands the lines over in order.

use chat_core::{parse_input, Input};
use druid::im::Vector;

use crate::log::Kind;
use crate::state::AppState;

/// Pastes of more lines than this are sent only once confirmed.
pub const ASK_ABOVE: usize = 5;

/// The messages a pasted text makes: its non-blank lines, trailing blanks
/// and line breaks (`\n` or `\r\n`) removed.
pub fn pasted_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

impl AppState {
    /// A paste into the compose box. A text of more than one line is sent
    /// (or, above [`ASK_ABOVE`] lines, held for confirmation) and `true`
    /// returned; otherwise `false`, and the box inserts it as usual.
    pub fn paste(&mut self, text: &str) -> bool {
        if !text.trim_end().contains('\n') {
            return false;
        }
        let lines = pasted_lines(text);
        if lines.len() > ASK_ABOVE {
            self.pending_paste = lines.into_iter().collect();
        } else {
            self.send_pasted(&lines);
        }
        true
    }

    /// The question the confirmation bar asks, while a paste waits.
    pub fn paste_question(&self) -> String {
        let n = self.pending_paste.len();
        let room = self.rooms.shown().title();
        format!("Send the {n} pasted lines as {n} messages to {room}?")
    }

    /// Sends the paste that waited for confirmation.
    pub fn confirm_paste(&mut self) {
        let lines: Vec<String> = std::mem::take(&mut self.pending_paste)
            .into_iter()
            .collect();
        self.send_pasted(&lines);
        self.focus_compose += 1;
    }

    /// Drops the paste that waited for confirmation.
    pub fn cancel_paste(&mut self) {
        let n = self.pending_paste.len();
        if n > 0 {
            self.pending_paste = Vector::new();
            self.push_local(Kind::Notice, &format!("{n} pasted lines not sent"));
        }
        self.focus_compose += 1;
    }

    /// Sends `lines`, one message each, to the shown room; stops at the
    /// first refusal and says how many went.
    fn send_pasted(&mut self, lines: &[String]) {
        let mut sent = 0;
        let mut refused = None;
        for line in lines {
            // `//text` is how a line starting with `/` is said.
            let escaped = if line.starts_with('/') {
                format!("/{line}")
            } else {
                line.clone()
            };
            let result = match parse_input(&escaped) {
                Ok(input @ Input::Say(_)) => self.send_to_shown(input),
                Ok(_) => Err("not a message".to_owned()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(()) => {
                    sent += 1;
                    self.sent += 1;
                }
                Err(why) => {
                    refused = Some(why);
                    break;
                }
            }
        }
        if let Some(why) = refused {
            let total = lines.len();
            let what = if sent == 0 {
                format!("the {total} pasted lines were not sent: {why}")
            } else {
                format!(
                    "{sent} of {total} pasted lines sent; line {} and after were not: {why}",
                    sent + 1
                )
            };
            self.push_local(Kind::Error, &what);
        }
    }

    /// Sends one message to the shown room (made current first, as for a
    /// typed line).
    fn send_to_shown(&self, input: Input) -> Result<(), String> {
        match &self.outbox {
            Some(outbox) if self.is_connected() => {
                self.make_shown_current().and_then(|()| outbox.send(input))
            }
            _ => Err(chat_core::ChatError::NotConnected.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::{joined, recording_outbox};

    fn connected() -> (AppState, crate::state::testing::Sent) {
        let mut state = AppState::new("127.0.0.1:8001", "alice");
        state.connect();
        let (outbox, sent) = recording_outbox();
        let generation = state.generation;
        state.apply(generation, joined(outbox, "alice", &["bob"]));
        (state, sent)
    }

    fn says(lines: &[&str]) -> Vec<Input> {
        lines.iter().map(|l| Input::Say((*l).to_owned())).collect()
    }

    #[test]
    fn lines_are_split_and_blanks_dropped() {
        assert_eq!(pasted_lines("a\r\nb\n\n  \nc\n"), ["a", "b", "c"]);
        assert_eq!(pasted_lines("one"), ["one"]);
    }

    #[test]
    fn three_pasted_lines_are_three_messages_in_order() {
        let (mut state, sent) = connected();
        state.compose = "typed".into();
        assert!(state.paste("first\nsecond\r\n/usr/bin/third\n"));
        assert_eq!(
            *sent.lock().unwrap(),
            says(&["first", "second", "/usr/bin/third"]),
            "a pasted line starting with / is text"
        );
        assert_eq!(state.compose, "typed", "the box is left as it was");
        assert!(state.pending_paste.is_empty());
    }

    #[test]
    fn one_line_is_left_to_the_box() {
        let (mut state, sent) = connected();
        assert!(!state.paste("just this"));
        assert!(!state.paste("just this\n"));
        assert!(sent.lock().unwrap().is_empty());
    }

    #[test]
    fn more_than_five_lines_wait_for_confirmation() {
        let (mut state, sent) = connected();
        let text: String = (1..=8).map(|i| format!("line {i}\n")).collect();
        assert!(state.paste(&text));
        assert!(sent.lock().unwrap().is_empty(), "nothing before confirming");
        assert_eq!(
            state.paste_question(),
            "Send the 8 pasted lines as 8 messages to #lobby?"
        );
        state.confirm_paste();
        let expected: Vec<String> = (1..=8).map(|i| format!("line {i}")).collect();
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        assert_eq!(*sent.lock().unwrap(), says(&expected));
        assert!(state.pending_paste.is_empty());

        assert!(state.paste(&text));
        state.cancel_paste();
        assert_eq!(sent.lock().unwrap().len(), 8, "cancelled: nothing more");
        assert!(state.pending_paste.is_empty());
        assert!(state
            .log()
            .lines()
            .iter()
            .any(|l| l.text.as_ref() == "8 pasted lines not sent"));
    }

    #[test]
    fn a_paste_while_disconnected_says_nothing_was_sent() {
        let mut state = AppState::new("127.0.0.1:8001", "alice");
        assert!(state.paste("a\nb"));
        let last = state.log().lines().last().expect("a line").clone();
        assert_eq!(last.kind, Kind::Error);
        assert!(
            last.text.starts_with("the 2 pasted lines were not sent: "),
            "{}",
            last.text
        );
    }
}
