//! What a typed line means to the REPL: the REPL's own commands (`/connect`,
//! `/disconnect`, `/clear`, `/help`, and `/oper` without its password) first,
//! everything else as `chat-core` parses it, so `/msg bob hi` means the same
//! here as in every client.

use chat_core::input::COMMANDS;
use chat_core::{parse_input, Input, InputError};

/// The REPL's own commands, with usage and meaning, for `/help` and Tab.
pub const REPL_COMMANDS: &[(&str, &str)] = &[
    ("/connect [HOST:PORT]", "connect again (to another server)"),
    ("/disconnect", "leave the server but keep the REPL open"),
    ("/clear", "clear the screen"),
];

/// One understood line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Something for the session: a message or a chat command.
    Chat(Input),
    /// `/help`: answered locally, listing the REPL's commands too.
    Help,
    /// `/connect [HOST:PORT]`.
    Connect(Option<String>),
    /// `/disconnect`.
    Disconnect,
    /// `/clear`.
    Clear,
    /// `/oper` alone: ask for the operator password without echo.
    OperAsk,
}

/// The lines in what one `readline` returned: a bracketed paste (or a
/// line ending in `\r` from a Windows file) holds several, and each is
/// typed input of its own, sent in order. Blank lines are left out.
pub fn typed_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\n', '\r'])
        .filter(|line| !line.trim().is_empty())
}

/// Parses one typed line.
///
/// # Errors
/// As [`chat_core::parse_input`]: blank lines, unknown commands, missing
/// arguments.
pub fn parse(line: &str) -> Result<Command, InputError> {
    let trimmed = line.trim();
    if let Some(rest) = trimmed.strip_prefix('/').filter(|r| !r.starts_with('/')) {
        let (word, args) = rest
            .split_once(char::is_whitespace)
            .map_or((rest, ""), |(w, a)| (w, a.trim()));
        match word.to_lowercase().as_str() {
            "connect" => {
                let mut words = args.split_whitespace();
                return match (words.next(), words.next()) {
                    (None, _) => Ok(Command::Connect(None)),
                    (Some(addr), None) => Ok(Command::Connect(Some(addr.to_owned()))),
                    _ => Err(InputError::Usage("/connect [HOST:PORT]")),
                };
            }
            "disconnect" if args.is_empty() => return Ok(Command::Disconnect),
            "disconnect" => return Err(InputError::Usage("/disconnect")),
            "clear" if args.is_empty() => return Ok(Command::Clear),
            "clear" => return Err(InputError::Usage("/clear")),
            "oper" if args.is_empty() => return Ok(Command::OperAsk),
            _ => {}
        }
    }
    match parse_input(line)? {
        Input::Help => Ok(Command::Help),
        input => Ok(Command::Chat(input)),
    }
}

/// Every command word, for Tab: `/nick`, `/who` … `/clear`.
pub fn command_words() -> Vec<&'static str> {
    COMMANDS
        .iter()
        .chain(REPL_COMMANDS)
        .filter_map(|(usage, _)| usage.split_whitespace().next())
        .collect()
}

/// The `/help` text: the chat commands, the REPL's own, and the keys.
pub fn help() -> Vec<String> {
    let width = COMMANDS
        .iter()
        .chain(REPL_COMMANDS)
        .map(|(usage, _)| usage.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<String> = COMMANDS
        .iter()
        .chain(REPL_COMMANDS)
        .map(|(usage, what)| format!("{usage:<width$}  {what}"))
        .collect();
    lines.push("keys: Tab completes commands, names and #rooms, Up/Down recall".to_owned());
    lines.push("      history, Ctrl-C clears the line, Ctrl-D leaves".to_owned());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repl_commands() {
        assert_eq!(parse("/connect"), Ok(Command::Connect(None)));
        assert_eq!(
            parse("/CONNECT  example.org:8001 "),
            Ok(Command::Connect(Some("example.org:8001".into())))
        );
        assert_eq!(
            parse("/connect a b"),
            Err(InputError::Usage("/connect [HOST:PORT]"))
        );
        assert_eq!(parse("/disconnect"), Ok(Command::Disconnect));
        assert_eq!(parse("/clear"), Ok(Command::Clear));
        assert_eq!(parse("/clear x"), Err(InputError::Usage("/clear")));
        assert_eq!(parse("/help"), Ok(Command::Help));
        assert_eq!(parse("/oper"), Ok(Command::OperAsk));
        assert_eq!(
            parse("/oper pw"),
            Ok(Command::Chat(Input::Oper("pw".into())))
        );
        assert_eq!(parse("/history 3"), Ok(Command::Chat(Input::History(3))));
        assert_eq!(
            parse("/kick bob spam"),
            Ok(Command::Chat(Input::Kick {
                name: "bob".into(),
                reason: Some("spam".into())
            }))
        );
    }

    #[test]
    fn chat_commands_are_core_s() {
        assert_eq!(
            parse("hello"),
            Ok(Command::Chat(Input::Say("hello".into())))
        );
        assert_eq!(
            parse("/me waves"),
            Ok(Command::Chat(Input::Me("waves".into())))
        );
        assert_eq!(
            parse("/msg bob hi there"),
            Ok(Command::Chat(Input::Msg {
                to: "bob".into(),
                text: "hi there".into()
            }))
        );
        assert_eq!(
            parse("/nick rob"),
            Ok(Command::Chat(Input::Nick("rob".into())))
        );
        assert_eq!(parse("/who"), Ok(Command::Chat(Input::Who(None))));
        assert_eq!(
            parse("/quit bye"),
            Ok(Command::Chat(Input::Quit(Some("bye".into()))))
        );
        // `//` still says a line that starts with a slash, even a REPL word.
        assert_eq!(
            parse("//clear"),
            Ok(Command::Chat(Input::Say("/clear".into())))
        );
        assert_eq!(parse("  "), Err(InputError::Empty));
        assert_eq!(
            parse("/bogus").map_err(|e| e.to_string()),
            Err("unknown command /bogus — try /help".into())
        );
    }

    #[test]
    fn every_command_is_completable_and_helped() {
        let words = command_words();
        for w in [
            "/nick",
            "/who",
            "/msg",
            "/me",
            "/quit",
            "/help",
            "/connect",
            "/disconnect",
            "/clear",
            "/history",
            "/oper",
            "/kick",
            "/ban",
            "/join",
            "/part",
            "/rooms",
            "/topic",
        ] {
            assert!(words.contains(&w), "{w} missing from {words:?}");
            assert!(help().iter().any(|l| l.starts_with(w)), "{w} not in help");
        }
    }

    #[test]
    fn a_pasted_block_is_one_line_each() {
        let lines: Vec<&str> = typed_lines("A\nB\r\n\n  \nC\r").collect();
        assert_eq!(lines, ["A", "B", "C"]);
        assert_eq!(typed_lines("/me waves").collect::<Vec<_>>(), ["/me waves"]);
        assert_eq!(typed_lines("\n").count(), 0);
    }
}
