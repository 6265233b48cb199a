//! Parsing what a person typed: plain text or a `/command`.
//!
//! The server uses it for plain-mode clients and both front ends use it for
//! their compose boxes, so `/msg bob hi` means the same thing everywhere.

use crate::protocol::ClientFrame;

/// One line of user input, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A message to the room.
    Say(String),
    /// `/me TEXT`: an action.
    Me(String),
    /// `/msg NAME TEXT`: a private message.
    Msg {
        /// The recipient.
        to: String,
        /// The text.
        text: String,
    },
    /// `/nick NAME`: change name.
    Nick(String),
    /// `/who`: list who is online.
    Who,
    /// `/quit [REASON]`: leave.
    Quit(Option<String>),
    /// `/help`: list the commands.
    Help,
}

/// Why a line of input was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Nothing but blanks: nothing to send.
    #[error("nothing to send")]
    Empty,
    /// A `/word` that is not a command.
    #[error("unknown command /{0} — try /help")]
    UnknownCommand(String),
    /// A command without the arguments it needs.
    #[error("usage: {0}")]
    Usage(&'static str),
}

/// Every command: its usage and what it does, for `/help` everywhere.
pub const COMMANDS: &[(&str, &str)] = &[
    ("/nick NAME", "change your name"),
    ("/who", "list who is online"),
    ("/msg NAME TEXT", "send TEXT privately to NAME"),
    ("/me TEXT", "describe an action: * you TEXT"),
    ("/quit [REASON]", "leave the room"),
    ("/help", "show this list"),
];

/// Parses one line of input. A line starting with `//` sends the rest with
/// one `/`, so people can still say things that start with a slash.
///
/// # Errors
/// [`InputError`] for blank lines, unknown commands and missing arguments.
pub fn parse_input(line: &str) -> Result<Input, InputError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Err(InputError::Empty);
    }
    if let Some(escaped) = line.strip_prefix("//") {
        return Ok(Input::Say(format!("/{escaped}")));
    }
    let Some(command_line) = line.strip_prefix('/') else {
        return Ok(Input::Say(line.to_owned()));
    };
    let (command, rest) = match command_line.split_once(char::is_whitespace) {
        Some((command, rest)) => (command, rest.trim()),
        None => (command_line, ""),
    };
    match command.to_lowercase().as_str() {
        "nick" | "name" => match single_word(rest) {
            Some(name) => Ok(Input::Nick(name.to_owned())),
            None => Err(InputError::Usage("/nick NAME")),
        },
        "who" | "names" => Ok(Input::Who),
        "msg" | "tell" => match rest.split_once(char::is_whitespace) {
            Some((to, text)) if !text.trim().is_empty() => Ok(Input::Msg {
                to: to.to_owned(),
                text: text.trim_start().to_owned(),
            }),
            _ => Err(InputError::Usage("/msg NAME TEXT")),
        },
        "me" if !rest.is_empty() => Ok(Input::Me(rest.to_owned())),
        "me" => Err(InputError::Usage("/me TEXT")),
        "quit" | "exit" => Ok(Input::Quit((!rest.is_empty()).then(|| rest.to_owned()))),
        "help" | "?" => Ok(Input::Help),
        _ => Err(InputError::UnknownCommand(command.to_owned())),
    }
}

fn single_word(rest: &str) -> Option<&str> {
    let mut words = rest.split_whitespace();
    match (words.next(), words.next()) {
        (Some(word), None) => Some(word),
        _ => None,
    }
}

impl Input {
    /// The structured frame that carries this input, tagged with `id` where the
    /// frame has one. `/help` is answered locally and has none.
    pub fn to_frame(&self, id: Option<String>) -> Option<ClientFrame> {
        Some(match self {
            Input::Say(text) => ClientFrame::Message {
                text: text.clone(),
                id,
            },
            Input::Me(text) => ClientFrame::Action {
                text: text.clone(),
                id,
            },
            Input::Msg { to, text } => ClientFrame::Private {
                to: to.clone(),
                text: text.clone(),
                id,
            },
            Input::Nick(name) => ClientFrame::Nick { name: name.clone() },
            Input::Who => ClientFrame::Who,
            Input::Quit(reason) => ClientFrame::Quit {
                reason: reason.clone(),
            },
            Input::Help => return None,
        })
    }
}

/// The `/help` text, one line per command.
pub fn help_lines() -> impl Iterator<Item = String> {
    COMMANDS
        .iter()
        .map(|(usage, what)| format!("{usage:<16} {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_said() {
        assert_eq!(parse_input("hello"), Ok(Input::Say("hello".into())));
        assert_eq!(
            parse_input("  spaced  \r\n"),
            Ok(Input::Say("  spaced  ".into()))
        );
        assert_eq!(parse_input("//etc"), Ok(Input::Say("/etc".into())));
    }

    #[test]
    fn commands() {
        assert_eq!(parse_input("/me waves"), Ok(Input::Me("waves".into())));
        assert_eq!(parse_input("/nick rob"), Ok(Input::Nick("rob".into())));
        assert_eq!(parse_input("/NICK rob"), Ok(Input::Nick("rob".into())));
        assert_eq!(parse_input("/who"), Ok(Input::Who));
        assert_eq!(
            parse_input("/msg bob  hi there "),
            Ok(Input::Msg {
                to: "bob".into(),
                text: "hi there".into()
            })
        );
        assert_eq!(parse_input("/quit"), Ok(Input::Quit(None)));
        assert_eq!(
            parse_input("/quit gone fishing"),
            Ok(Input::Quit(Some("gone fishing".into())))
        );
        assert_eq!(parse_input("/help"), Ok(Input::Help));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(parse_input("   "), Err(InputError::Empty));
        assert_eq!(
            parse_input("/foo bar").unwrap_err().to_string(),
            "unknown command /foo — try /help"
        );
        assert_eq!(
            parse_input("/msg bob"),
            Err(InputError::Usage("/msg NAME TEXT"))
        );
        assert_eq!(parse_input("/nick"), Err(InputError::Usage("/nick NAME")));
        assert_eq!(
            parse_input("/nick a b"),
            Err(InputError::Usage("/nick NAME"))
        );
        assert_eq!(parse_input("/me"), Err(InputError::Usage("/me TEXT")));
    }

    #[test]
    fn frames_carry_the_id() {
        assert_eq!(
            Input::Say("x".into()).to_frame(Some("7".into())),
            Some(ClientFrame::Message {
                text: "x".into(),
                id: Some("7".into())
            })
        );
        assert_eq!(Input::Help.to_frame(None), None);
    }

    #[test]
    fn help_lists_every_command() {
        let help: Vec<_> = help_lines().collect();
        assert_eq!(help.len(), COMMANDS.len());
        assert!(help.iter().any(|l| l.starts_with("/msg NAME TEXT")));
    }
}
