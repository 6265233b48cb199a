//! Just enough IRC for a benchmark client (RFC 2812's message form):
//! registering, joining a channel, sending `PRIVMSG`, answering `PING`, and
//! telling what comes back, so the same stamped traffic can load chat-server's
//! IRC listener and any other IRC server (ngIRCd, say) alike.

/// What one line from an IRC server is, as far as a benchmark cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A `PRIVMSG`: the sender's nick and the text.
    Message {
        /// The nick in the line's prefix.
        from: &'a str,
        /// The message text.
        text: &'a str,
    },
    /// A `PING` and its token, to send back in a `PONG`.
    Ping(&'a str),
    /// A numeric reply (`001`, `366`, `433` …).
    Numeric(&'a str),
    /// `ERROR`: the server is closing the link.
    Error,
    /// Anything else (joins, notices, modes).
    Other,
}

/// Numerics that refuse a registration or a join (RFC 2812 section 5.2;
/// `422`, no MOTD, is not one of them, though it is in the 400s).
const REFUSALS: [&str; 16] = [
    "403", "405", "431", "432", "433", "436", "437", "461", "464", "465", "471", "473", "474",
    "475", "476", "477",
];

/// `NICK` and `USER` for `nick` (user name and real name the same).
pub fn register(nick: &str) -> Vec<u8> {
    format!("NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n").into_bytes()
}

/// `JOIN channel`.
pub fn join(channel: &str) -> Vec<u8> {
    format!("JOIN {channel}\r\n").into_bytes()
}

/// `PRIVMSG channel :text`.
pub fn privmsg(channel: &str, text: &str) -> Vec<u8> {
    format!("PRIVMSG {channel} :{text}\r\n").into_bytes()
}

/// The answer to a `PING` with `token`.
pub fn pong(token: &str) -> Vec<u8> {
    format!("PONG :{token}\r\n").into_bytes()
}

/// Whether `numeric` refuses a nick or a join.
pub fn is_refusal(numeric: &str) -> bool {
    REFUSALS.contains(&numeric)
}

/// What `line` (without its line ending) is.
pub fn incoming(line: &str) -> Incoming<'_> {
    let (prefix, rest) = match line.strip_prefix(':') {
        Some(tagged) => tagged.split_once(' ').unwrap_or((tagged, "")),
        None => ("", line),
    };
    let rest = rest.trim_start_matches(' ');
    let (command, params) = rest.split_once(' ').unwrap_or((rest, ""));
    match command {
        "PRIVMSG" => {
            // `<target> :<text>`, or `<target> <word>` for a one-word text
            // (a server may leave the colon out then).
            let Some((_target, text)) = params.split_once(' ') else {
                return Incoming::Other;
            };
            let text = text.strip_prefix(':').unwrap_or(text);
            let from = prefix.split_once('!').map_or(prefix, |(nick, _)| nick);
            Incoming::Message { from, text }
        }
        "PING" => Incoming::Ping(last_param(params)),
        "ERROR" => Incoming::Error,
        _ if command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit()) => {
            Incoming::Numeric(command)
        }
        _ => Incoming::Other,
    }
}

/// The last parameter of `params`: the trailing one after ` :`, or the
/// last word.
fn last_param(params: &str) -> &str {
    if let Some(trailing) = params.strip_prefix(':') {
        return trailing;
    }
    match params.split_once(" :") {
        Some((_, trailing)) => trailing,
        None => params.rsplit(' ').next().unwrap_or(params),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privmsg_gives_the_nick_and_the_text_with_or_without_a_colon() {
        assert_eq!(
            incoming(":b1!~b1@127.0.0.1 PRIVMSG #lobby :s1 4 99 0 "),
            Incoming::Message {
                from: "b1",
                text: "s1 4 99 0 "
            }
        );
        assert_eq!(
            incoming(":a!a@chat PRIVMSG #lobby m0"),
            Incoming::Message {
                from: "a",
                text: "m0"
            }
        );
        assert_eq!(incoming(":a!a@chat PRIVMSG #lobby"), Incoming::Other);
    }

    #[test]
    fn pings_numerics_and_errors_are_told_apart() {
        assert_eq!(incoming("PING :irc.example"), Incoming::Ping("irc.example"));
        assert_eq!(incoming("PING token"), Incoming::Ping("token"));
        assert_eq!(incoming(":srv PING srv :tok en"), Incoming::Ping("tok en"));
        assert_eq!(
            incoming(":chat-server 001 a :Welcome to the chat network, a"),
            Incoming::Numeric("001")
        );
        assert_eq!(
            incoming(":bench.invalid 433 * b0 :Nickname already in use"),
            Incoming::Numeric("433")
        );
        assert_eq!(incoming("ERROR :Closing link: flood"), Incoming::Error);
        assert_eq!(incoming(":a!a@chat JOIN #lobby"), Incoming::Other);
        assert!(is_refusal("433") && !is_refusal("422") && !is_refusal("366"));
    }

    #[test]
    fn what_a_client_sends_is_one_crlf_line_per_command() {
        assert_eq!(register("b0"), b"NICK b0\r\nUSER b0 0 * :b0\r\n");
        assert_eq!(join("#lobby"), b"JOIN #lobby\r\n");
        assert_eq!(privmsg("#lobby", "s0 1 2"), b"PRIVMSG #lobby :s0 1 2\r\n");
        assert_eq!(pong("x y"), b"PONG :x y\r\n");
    }
}
