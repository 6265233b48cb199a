//! IRC lines as data: one pure parser from a line to [`Message`] (tags,
//! source, command, parameters) and one serialiser back, with no I/O, so
//! the gateway never handles raw text and both are tested like the codec.
//!
//! The grammar is the one of the Modern IRC client protocol
//! (modern.ircdocs.horse) and RFC 2812, with IRCv3 message tags.

use std::fmt;

/// Longest line an IRC peer must accept, `\r\n` included, tags excluded.
pub const MAX_LINE: usize = 512;

/// One IRC message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// IRCv3 tags, in the order given; a tag without `=` has no value.
    pub tags: Vec<(String, Option<String>)>,
    /// Who it is from (`nick!user@host` or a server name), if said.
    pub source: Option<String>,
    /// The command, upper-cased (`PRIVMSG`), or a three-digit numeric.
    pub command: String,
    /// The parameters, the trailing one included, without its `:`.
    pub params: Vec<String>,
}

/// Why a line is not an IRC message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but spaces.
    #[error("empty line")]
    Empty,
    /// Tags or a source, and then nothing.
    #[error("no command")]
    NoCommand,
    /// A command that is neither letters nor three digits.
    #[error("the command {0:?} is neither letters nor a three-digit numeric")]
    BadCommand(String),
}

impl Message {
    /// A message from `source` (a server or `nick!user@host`).
    pub fn new(source: Option<&str>, command: &str, params: Vec<String>) -> Self {
        Self {
            tags: Vec::new(),
            source: source.map(str::to_owned),
            command: command.to_owned(),
            params,
        }
    }

    /// The `n`th parameter, if given.
    pub fn param(&self, n: usize) -> Option<&str> {
        self.params.get(n).map(String::as_str)
    }
}

/// Parses one line (with or without its `\r\n`).
///
/// # Errors
/// [`ParseError`] when the line has no command, or a malformed one.
pub fn parse(line: &str) -> Result<Message, ParseError> {
    let mut rest = line.trim_end_matches(['\r', '\n']).trim_start_matches(' ');
    if rest.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut message = Message::default();
    if let Some(tagged) = rest.strip_prefix('@') {
        let (tags, after) = tagged.split_once(' ').unwrap_or((tagged, ""));
        message.tags = tags
            .split(';')
            .filter(|t| !t.is_empty())
            .map(|tag| match tag.split_once('=') {
                Some((key, value)) => (key.to_owned(), Some(unescape_tag(value))),
                None => (tag.to_owned(), None),
            })
            .collect();
        rest = after.trim_start_matches(' ');
    }
    if let Some(sourced) = rest.strip_prefix(':') {
        let (source, after) = sourced.split_once(' ').unwrap_or((sourced, ""));
        message.source = Some(source.to_owned());
        rest = after.trim_start_matches(' ');
    }
    let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if command.is_empty() {
        return Err(ParseError::NoCommand);
    }
    let numeric = command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit());
    if !numeric && !command.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ParseError::BadCommand(command.to_owned()));
    }
    message.command = command.to_ascii_uppercase();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        if let Some(trailing) = rest.strip_prefix(':') {
            message.params.push(trailing.to_owned());
            break;
        }
        let (param, after) = rest.split_once(' ').unwrap_or((rest, ""));
        message.params.push(param.to_owned());
        rest = after;
    }
    Ok(message)
}

fn unescape_tag(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            // A lone backslash at the end is dropped, as the spec says.
            None => {}
        }
    }
    out
}

fn escape_tag(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The line, without `\r\n`. The last parameter is written as trailing
/// (`:`) when it must be: empty, holding a space, or starting with `:`.
/// Middle parameters never hold spaces: the gateway only puts names and
/// channels there, which cannot.
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.tags.is_empty() {
            let mut tags = String::from("@");
            for (i, (key, value)) in self.tags.iter().enumerate() {
                if i > 0 {
                    tags.push(';');
                }
                tags.push_str(key);
                if let Some(value) = value {
                    tags.push('=');
                    escape_tag(value, &mut tags);
                }
            }
            write!(f, "{tags} ")?;
        }
        if let Some(source) = &self.source {
            write!(f, ":{source} ")?;
        }
        f.write_str(&self.command)?;
        let last = self.params.len().saturating_sub(1);
        for (i, param) in self.params.iter().enumerate() {
            let trailing =
                i == last && (param.is_empty() || param.contains(' ') || param.starts_with(':'));
            if trailing {
                write!(f, " :{param}")?;
            } else {
                write!(f, " {param}")?;
            }
        }
        Ok(())
    }
}

impl Message {
    /// The line as sent, `\r\n` included.
    pub fn to_line(&self) -> String {
        format!("{self}\r\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_every_part() {
        let m = parse(
            "@time=2026-01-01T00:00:00Z;+draft/x=a\\sb;flag :nick!u@h privmsg #lobby :hi there\r\n",
        )
        .unwrap();
        assert_eq!(
            m.tags,
            vec![
                ("time".into(), Some("2026-01-01T00:00:00Z".into())),
                ("+draft/x".into(), Some("a b".into())),
                ("flag".into(), None)
            ]
        );
        assert_eq!(m.source.as_deref(), Some("nick!u@h"));
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.params, strings(&["#lobby", "hi there"]));
    }

    #[test]
    fn middle_and_trailing_parameters() {
        assert_eq!(
            parse("USER alice 0 * :Alice Liddell").unwrap().params,
            strings(&["alice", "0", "*", "Alice Liddell"])
        );
        assert_eq!(parse("NICK  bob ").unwrap().params, strings(&["bob"]));
        assert_eq!(
            parse("PRIVMSG #a ::-)").unwrap().params,
            strings(&["#a", ":-)"])
        );
        assert_eq!(parse("TOPIC #a :").unwrap().params, strings(&["#a", ""]));
        assert_eq!(parse("ping").unwrap().command, "PING");
        assert_eq!(parse("001 me :hi").unwrap().command, "001");
    }

    #[test]
    fn refuses_what_is_not_a_message() {
        assert_eq!(parse(""), Err(ParseError::Empty));
        assert_eq!(parse("   \r\n"), Err(ParseError::Empty));
        assert_eq!(parse(":server"), Err(ParseError::NoCommand));
        assert_eq!(parse("@a=b"), Err(ParseError::NoCommand));
        assert!(matches!(
            parse("PRIV-MSG x"),
            Err(ParseError::BadCommand(_))
        ));
        assert!(matches!(parse("12 x"), Err(ParseError::BadCommand(_))));
    }

    #[test]
    fn serialises_with_trailing_only_when_needed() {
        let m = Message::new(
            Some("alice!alice@chat"),
            "PRIVMSG",
            strings(&["#lobby", "hi"]),
        );
        assert_eq!(m.to_line(), ":alice!alice@chat PRIVMSG #lobby hi\r\n");
        let m = Message::new(None, "PRIVMSG", strings(&["#lobby", "hi you"]));
        assert_eq!(m.to_string(), "PRIVMSG #lobby :hi you");
        let m = Message::new(None, "TOPIC", strings(&["#lobby", ""]));
        assert_eq!(m.to_string(), "TOPIC #lobby :");
        let mut m = Message::new(None, "X", vec![]);
        m.tags = vec![("k".into(), Some("a;b c\\".into()))];
        assert_eq!(m.to_string(), "@k=a\\:b\\sc\\\\ X");
    }

    proptest! {
        /// Whatever a peer sends, parsing never panics.
        #[test]
        fn any_line_parses_or_is_refused(line in ".{0,600}") {
            let _ = parse(&line);
        }

        /// What the gateway writes reads back the same.
        #[test]
        fn serialise_then_parse_round_trips(
            command in "[A-Z]{1,10}",
            middles in proptest::collection::vec("[^ :\r\n\0][^ \r\n\0]{0,10}", 0..5),
            trailing in proptest::option::of("[^\r\n\0]{0,40}"),
            tag in proptest::option::of(("[a-z]{1,5}", "[^\r\n\0]{0,10}")),
        ) {
            let mut params = middles;
            params.extend(trailing);
            let mut m = Message::new(Some("n!u@h"), &command, params);
            if let Some((k, v)) = tag {
                m.tags.push((k, Some(v)));
            }
            prop_assert_eq!(parse(&m.to_line()).unwrap(), m);
        }
    }
}
