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
    /// `/who [ROOM]`: list who is in a room (the current one without ROOM).
    Who(Option<String>),
    /// `/join ROOM`: join a room (creating it when allowed) and make it the
    /// current room.
    Join(String),
    /// `/part [ROOM] [REASON]`: leave a room (the current one without ROOM).
    Part {
        /// The room; the current one when absent.
        room: Option<String>,
        /// Why, shown to the room.
        reason: Option<String>,
    },
    /// `/rooms`: list the rooms.
    Rooms,
    /// `/topic [TEXT]`: show (without TEXT) or set the current room's topic.
    Topic(Option<String>),
    /// `/quit [REASON]`: leave.
    Quit(Option<String>),
    /// `/help`: list the commands.
    Help,
    /// `/history [N]`: the last N messages of the room (default 20).
    History(u32),
    /// `/oper PASSWORD`: become an operator.
    Oper(String),
    /// `/kick NAME [REASON]` (operators): put someone out of the room.
    Kick {
        /// Who.
        name: String,
        /// Why, shown to everyone.
        reason: Option<String>,
    },
    /// `/ban [--address] NAME|ADDRESS [DURATION] [REASON]` (operators):
    /// refuse the name (and put its holder out), or every connection from an
    /// address, for DURATION (`30m`, `1h`, `2d`) or for good.
    Ban {
        /// Who: a name, or an address (or a name online, with `address`).
        name: String,
        /// Ban the address rather than the name.
        address: bool,
        /// For how long; for good without it.
        duration: Option<std::time::Duration>,
        /// Why, shown to everyone.
        reason: Option<String>,
    },
    /// `/unban NAME|ADDRESS` (operators): lift a ban.
    Unban(String),
    /// `/bans` (operators): list the bans.
    Bans,
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
    ("/who [ROOM]", "list who is in the room"),
    ("/join ROOM", "join ROOM (creating it) and talk there"),
    (
        "/part [ROOM] [REASON]",
        "leave ROOM (default: the current room)",
    ),
    ("/rooms", "list the rooms"),
    ("/topic [TEXT]", "show or set the room's topic"),
    ("/msg NAME TEXT", "send TEXT privately to NAME"),
    ("/me TEXT", "describe an action: * you TEXT"),
    ("/quit [REASON]", "leave the room"),
    ("/history [N]", "show the last N messages (default 20)"),
    ("/help", "show this list"),
    ("/oper PASSWORD", "become an operator"),
    (
        "/kick NAME [REASON]",
        "operators: disconnect NAME from the server",
    ),
    (
        "/ban NAME [TIME] [REASON]",
        "operators: refuse NAME (for TIME: 30m, 1h, 2d)",
    ),
    (
        "/ban --address NAME|IP",
        "operators: refuse every connection from an address",
    ),
    ("/unban NAME|IP", "operators: lift a ban"),
    ("/bans", "operators: list the bans"),
];

/// How many messages `/history` shows without a number.
pub const DEFAULT_HISTORY: u32 = 20;

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
        "who" | "names" => match rest.split_whitespace().collect::<Vec<_>>()[..] {
            [] => Ok(Input::Who(None)),
            [room] => Ok(Input::Who(Some(room.to_owned()))),
            _ => Err(InputError::Usage("/who [ROOM]")),
        },
        "join" | "j" => match single_word(rest) {
            Some(room) => Ok(Input::Join(room.to_owned())),
            None => Err(InputError::Usage("/join ROOM")),
        },
        "part" | "leave" => {
            let (room, reason) = match rest.split_once(char::is_whitespace) {
                Some((room, reason)) => (room, Some(reason.trim().to_owned())),
                None => (rest, None),
            };
            Ok(Input::Part {
                room: (!room.is_empty()).then(|| room.to_owned()),
                reason,
            })
        }
        "rooms" | "list" => Ok(Input::Rooms),
        "topic" => Ok(Input::Topic((!rest.is_empty()).then(|| rest.to_owned()))),
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
        "history" if rest.is_empty() => Ok(Input::History(DEFAULT_HISTORY)),
        "history" => match rest.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Input::History(n)),
            _ => Err(InputError::Usage("/history [N]")),
        },
        // A password may hold spaces: the rest of the line is the password.
        "oper" if !rest.is_empty() => Ok(Input::Oper(rest.to_owned())),
        "oper" => Err(InputError::Usage("/oper PASSWORD")),
        "kick" => {
            let (name, reason) = match rest.split_once(char::is_whitespace) {
                Some((name, reason)) => (name, Some(reason.trim().to_owned())),
                None => (rest, None),
            };
            if name.is_empty() {
                return Err(InputError::Usage("/kick NAME [REASON]"));
            }
            let name = name.to_owned();
            Ok(Input::Kick { name, reason })
        }
        "ban" => parse_ban(rest),
        "unban" => match single_word(rest) {
            Some(target) => Ok(Input::Unban(target.to_owned())),
            None => Err(InputError::Usage("/unban NAME|ADDRESS")),
        },
        "bans" => Ok(Input::Bans),
        _ => Err(InputError::UnknownCommand(command.to_owned())),
    }
}

/// `/ban [--address] NAME|ADDRESS [DURATION] [REASON]`; an IP address is
/// always an address ban.
fn parse_ban(rest: &str) -> Result<Input, InputError> {
    const USAGE: &str = "/ban [--address] NAME|ADDRESS [DURATION] [REASON]";
    let mut words = rest.split_whitespace().peekable();
    let address = words.next_if(|w| *w == "--address" || *w == "-a").is_some();
    let Some(name) = words.next() else {
        return Err(InputError::Usage(USAGE));
    };
    let duration = words.peek().and_then(|w| parse_duration(w));
    if duration.is_some() {
        words.next();
    }
    let reason: Vec<&str> = words.collect();
    Ok(Input::Ban {
        address: address || name.parse::<std::net::IpAddr>().is_ok(),
        name: name.to_owned(),
        duration,
        reason: (!reason.is_empty()).then(|| reason.join(" ")),
    })
}

/// `45s`, `30m`, `1h`, `2d`.
pub fn parse_duration(word: &str) -> Option<std::time::Duration> {
    let unit = word.chars().last()?;
    let n: u64 = word[..word.len() - unit.len_utf8()].parse().ok()?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    (n > 0).then(|| std::time::Duration::from_secs(n.saturating_mul(secs)))
}

fn single_word(rest: &str) -> Option<&str> {
    let mut words = rest.split_whitespace();
    match (words.next(), words.next()) {
        (Some(word), None) => Some(word),
        _ => None,
    }
}

impl Input {
    /// Whether the frame for this input carries an id the server echoes.
    pub fn carries_id(&self) -> bool {
        matches!(self, Input::Say(_) | Input::Me(_) | Input::Msg { .. })
    }

    /// The structured frame that carries this input, tagged with `id` where the
    /// frame has one and addressed to `room` where the input does not name
    /// one (`None`: the server's idea of the current room). `/help` is
    /// answered locally and has none.
    pub fn to_frame(&self, id: Option<String>, room: Option<&str>) -> Option<ClientFrame> {
        let room = room.map(str::to_owned);
        Some(match self {
            Input::Say(text) => ClientFrame::Message {
                room,
                text: text.clone(),
                id,
            },
            Input::Me(text) => ClientFrame::Action {
                room,
                text: text.clone(),
                id,
            },
            Input::Msg { to, text } => ClientFrame::Private {
                to: to.clone(),
                text: text.clone(),
                id,
            },
            Input::Nick(name) => ClientFrame::Nick { name: name.clone() },
            Input::Who(who_room) => ClientFrame::Who {
                room: who_room.clone().or(room),
            },
            Input::Join(room) => ClientFrame::Join { room: room.clone() },
            Input::Part {
                room: part_room,
                reason,
            } => ClientFrame::Part {
                room: part_room.clone().or(room),
                reason: reason.clone(),
            },
            Input::Rooms => ClientFrame::Rooms,
            Input::Topic(text) => ClientFrame::Topic {
                room,
                text: text.clone(),
            },
            Input::Quit(reason) => ClientFrame::Quit {
                reason: reason.clone(),
            },
            Input::History(limit) => ClientFrame::History {
                room,
                before: None,
                limit: *limit,
            },
            Input::Oper(password) => ClientFrame::Oper {
                password: password.clone(),
            },
            Input::Kick { name, reason } => ClientFrame::Kick {
                name: name.clone(),
                reason: reason.clone(),
            },
            Input::Ban {
                name,
                address,
                duration,
                reason,
            } => ClientFrame::Ban {
                name: name.clone(),
                address: *address,
                seconds: duration.map(|d| d.as_secs()),
                reason: reason.clone(),
            },
            Input::Unban(target) => ClientFrame::Unban {
                target: target.clone(),
            },
            Input::Bans => ClientFrame::Bans,
            Input::Help => return None,
        })
    }
}

/// The `/help` text, one line per command.
pub fn help_lines() -> impl Iterator<Item = String> {
    COMMANDS
        .iter()
        .map(|(usage, what)| format!("{usage:<22} {what}"))
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
        assert_eq!(parse_input("/who"), Ok(Input::Who(None)));
        assert_eq!(
            parse_input("/who #rust"),
            Ok(Input::Who(Some("#rust".into())))
        );
        assert_eq!(parse_input("/join #rust"), Ok(Input::Join("#rust".into())));
        assert_eq!(parse_input("/join"), Err(InputError::Usage("/join ROOM")));
        assert_eq!(
            parse_input("/part"),
            Ok(Input::Part {
                room: None,
                reason: None
            })
        );
        assert_eq!(
            parse_input("/part rust  off to bed"),
            Ok(Input::Part {
                room: Some("rust".into()),
                reason: Some("off to bed".into())
            })
        );
        assert_eq!(parse_input("/rooms"), Ok(Input::Rooms));
        assert_eq!(parse_input("/topic"), Ok(Input::Topic(None)));
        assert_eq!(
            parse_input("/topic Rust 2027 plans"),
            Ok(Input::Topic(Some("Rust 2027 plans".into())))
        );
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
        assert_eq!(parse_input("/history"), Ok(Input::History(20)));
        assert_eq!(parse_input("/history 5"), Ok(Input::History(5)));
        assert_eq!(
            parse_input("/history x"),
            Err(InputError::Usage("/history [N]"))
        );
        assert_eq!(
            parse_input("/oper s3cret"),
            Ok(Input::Oper("s3cret".into()))
        );
        assert_eq!(
            parse_input("/kick bob  spamming links"),
            Ok(Input::Kick {
                name: "bob".into(),
                reason: Some("spamming links".into())
            })
        );
        assert_eq!(
            parse_input("/ban bob"),
            Ok(Input::Ban {
                name: "bob".into(),
                address: false,
                duration: None,
                reason: None
            })
        );
        assert_eq!(
            parse_input("/ban bob 1h stop spamming"),
            Ok(Input::Ban {
                name: "bob".into(),
                address: false,
                duration: Some(std::time::Duration::from_secs(3600)),
                reason: Some("stop spamming".into())
            })
        );
        assert_eq!(
            parse_input("/ban --address bob spam"),
            Ok(Input::Ban {
                name: "bob".into(),
                address: true,
                duration: None,
                reason: Some("spam".into())
            })
        );
        assert!(matches!(
            parse_input("/ban 203.0.113.7 2d"),
            Ok(Input::Ban { address: true, duration: Some(d), reason: None, .. }) if d.as_secs() == 172_800
        ));
        assert_eq!(parse_input("/unban bob"), Ok(Input::Unban("bob".into())));
        assert_eq!(parse_input("/bans"), Ok(Input::Bans));
        assert_eq!(
            parse_input("/kick"),
            Err(InputError::Usage("/kick NAME [REASON]"))
        );
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
            Input::Say("x".into()).to_frame(Some("7".into()), Some("rust")),
            Some(ClientFrame::Message {
                room: Some("rust".into()),
                text: "x".into(),
                id: Some("7".into())
            })
        );
        assert_eq!(Input::Help.to_frame(None, None), None);
    }

    #[test]
    fn help_lists_every_command() {
        let help: Vec<_> = help_lines().collect();
        assert_eq!(help.len(), COMMANDS.len());
        assert!(help.iter().any(|l| l.starts_with("/msg NAME TEXT")));
    }
}
