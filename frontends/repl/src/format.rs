//! Pure formatting of rendered lines for the terminal: `[HH:MM] <name> text`,
//! with a stable colour per name, own messages and mentions highlighted and
//! notices dimmed; messages from the room's history dimmed and marked
//! `[14:02] │ <bob> hi`. No I/O here, so every rule is unit-tested.
//!
//! Text from peers arrives already sanitised by `chat_core::render`; the only
//! escape sequences in the output are the SGR codes written below, and only
//! when colour is on.

use std::io::IsTerminal;

use chat_core::names::{name_key, room_key};
use chat_core::render::clock;
use chat_core::{Line, LineKind};

/// Whether to write colour codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Colour on.
    pub color: bool,
}

impl Style {
    /// No colour at all.
    #[cfg(test)]
    pub const PLAIN: Style = Style { color: false };

    /// Colour when stdout is a terminal, `NO_COLOR` is unset or empty and the
    /// terminal is not `dumb` (see <https://no-color.org>).
    pub fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Style {
            color: !no_color && !dumb && std::io::stdout().is_terminal(),
        }
    }

    /// `text` wrapped in the SGR code `sgr` when colour is on.
    fn paint(self, sgr: &str, text: &str) -> String {
        if self.color && !sgr.is_empty() {
            format!("\x1b[{sgr}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

const RESET: &str = "0";
const DIM: &str = "2";
/// Own messages: bold.
const OWN: &str = "1";
/// Lines that mention you: bold on yellow, hard to miss.
const MENTION: &str = "1;30;43";
const ERROR: &str = "1;31";
const PRIVATE: &str = "35";
/// Foreground colours for names: readable on dark and light backgrounds,
/// leaving out black, white and the red used for errors.
const NAME_COLORS: [&str; 10] = ["32", "33", "34", "35", "36", "92", "93", "94", "95", "96"];

/// The colour a name is always shown in: a hash of its case-folded form, so
/// `Alice` and `alice` match and the choice is the same in every run.
pub fn name_color(name: &str) -> &'static str {
    // FNV-1a: tiny, and unlike std's hasher it is not seeded per process.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in name_key(name).bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    NAME_COLORS[hash as usize % NAME_COLORS.len()]
}

/// `[#rust] ` (in the room's own colour) when `line` is about a room other
/// than `current`; nothing otherwise.
fn room_tag(line: &Line, current: Option<&str>, style: Style) -> String {
    match &line.room {
        Some(room) if current.is_none_or(|c| room_key(c) != room_key(room)) => {
            format!("{} ", style.paint(name_color(room), &format!("[#{room}]")))
        }
        _ => String::new(),
    }
}

/// One line for the terminal: `[HH:MM] <alice> hello`, or `[HH:MM] [#rust]
/// <alice> hello` when it is about a room other than `current`. `me` is the
/// name this client holds now (for highlighting); `now_ms` stands in for the
/// time of events that carry none (status, notices, errors).
pub fn format_line(
    line: &Line,
    me: &str,
    current: Option<&str>,
    now_ms: u64,
    style: Style,
) -> String {
    let stamp = format!("[{}]", clock(line.time.unwrap_or(now_ms)));
    let tag = room_tag(line, current, style);
    let name = |n: &Option<String>| {
        let n = n.as_deref().unwrap_or("?");
        style.paint(name_color(n), n)
    };
    let body = match line.kind {
        LineKind::Message => format!("<{}> {}", name(&line.from), line.text),
        LineKind::Action => format!("* {} {}", name(&line.from), line.text),
        LineKind::Private => format!(
            "<{} -> {}> {}",
            name(&line.from),
            name(&line.to),
            style.paint(PRIVATE, &line.text)
        ),
        LineKind::Notice => format!("* {}", line.text),
        LineKind::Error => format!("! {}", line.text),
        LineKind::Status => format!("* {}", line.text),
    };
    // Whole-line styles wrap the names' own colours; re-apply after each
    // inner reset so the rest of the line keeps the outer style.
    let outer = if line.mentions(me) {
        MENTION
    } else if line.is_from(me) {
        OWN
    } else {
        match line.kind {
            LineKind::Notice => DIM,
            LineKind::Error => ERROR,
            LineKind::Status => status_sgr(&line.text),
            LineKind::Message | LineKind::Action | LineKind::Private => "",
        }
    };
    if !style.color || outer.is_empty() {
        return format!("{} {tag}{body}", style.paint(DIM, &stamp));
    }
    let inner_reset = format!("\x1b[{RESET}m");
    let body = format!("{tag}{body}").replace(&inner_reset, &format!("{inner_reset}\x1b[{outer}m"));
    format!("\x1b[{outer}m{stamp} {body}\x1b[{RESET}m")
}

/// What sets a message from the room's history apart, after its time.
pub const HISTORY_MARK: &str = "│";

/// A message from a room's history: `[14:02] │ <bob> hi` (`[14:02] │
/// [#rust] <bob> hi` when about a room other than `current`), dim as a whole
/// (no name colours, no highlights: it is not news), with the date in the
/// stamp when it is not from the same day as `now_ms`.
pub fn format_history(line: &Line, current: Option<&str>, now_ms: u64, style: Style) -> String {
    let stamp = history_stamp(line.time.unwrap_or(now_ms), now_ms);
    let tag = room_tag(line, current, Style { color: false });
    style.paint(DIM, &format!("[{stamp}] {HISTORY_MARK} {tag}{line}"))
}

/// `14:02` today, `24 Nov 14:02` on another day (local time).
fn history_stamp(millis: u64, now_ms: u64) -> String {
    use chrono::TimeZone;
    let local = |ms: u64| {
        i64::try_from(ms)
            .ok()
            .and_then(|ms| chrono::Local.timestamp_millis_opt(ms).single())
    };
    match (local(millis), local(now_ms)) {
        (Some(then), Some(now)) if then.date_naive() != now.date_naive() => {
            then.format("%d %b %H:%M").to_string()
        }
        _ => clock(millis),
    }
}

/// Connection states stand out by what they mean: green when connected,
/// yellow while trying, red when gone.
fn status_sgr(text: &str) -> &'static str {
    if text.starts_with("connected") {
        "1;32"
    } else if text.starts_with("connecting") {
        "1;33"
    } else {
        "1;31"
    }
}

/// The prompt's colour for the connection state, so the state shows on the
/// prompt line itself, and changes there as it happens.
pub fn prompt_sgr(connected: bool) -> &'static str {
    if connected {
        "1;32"
    } else {
        "1;31"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::{ChatMessage, Notice, PrivateMessage};
    use chat_core::{render, Event, Status};

    const COLOR: Style = Style { color: true };

    fn msg(from: &str, text: &str, time: u64) -> Line {
        render(&Event::Message(ChatMessage {
            room: None,
            seq: 1,
            time,
            from: from.into(),
            text: text.into(),
            id: None,
        }))
        .expect("messages render")
    }

    /// Every ESC in `s` starts one of our SGR codes: `ESC [ digits;… m`.
    fn only_our_escapes(s: &str) -> bool {
        let mut rest = s;
        while let Some(i) = rest.find('\x1b') {
            let after = &rest[i + 1..];
            let Some(code) = after.strip_prefix('[') else {
                return false;
            };
            let end = code.find('m').unwrap_or(code.len());
            if end == code.len() || !code[..end].chars().all(|c| c.is_ascii_digit() || c == ';') {
                return false;
            }
            rest = &code[end + 1..];
        }
        true
    }

    fn strip(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn plain_lines_read_like_the_protocol_with_a_clock() {
        let t = 1_700_000_000_000;
        let hm = clock(t);
        assert_eq!(
            format_line(&msg("alice", "hello", t), "bob", None, 0, Style::PLAIN),
            format!("[{hm}] <alice> hello")
        );
        let pm = render(&Event::Private(PrivateMessage {
            time: t,
            from: "alice".into(),
            to: "bob".into(),
            text: "psst".into(),
            id: None,
        }))
        .expect("renders");
        assert_eq!(
            format_line(&pm, "bob", None, 0, Style::PLAIN),
            format!("[{hm}] <alice -> bob> psst")
        );
        // Events without a time get the time they are shown.
        let status = render(&Event::Status(Status::Connected {
            addr: "h:1".into(),
            name: "bob".into(),
        }))
        .expect("renders");
        assert_eq!(
            format_line(&status, "bob", None, t, Style::PLAIN),
            format!("[{hm}] * connected as bob to h:1")
        );
    }

    #[test]
    fn colour_is_off_without_asking_and_text_is_the_same_with_it() {
        let line = msg("alice", "hi bob", 0);
        let plain = format_line(&line, "bob", None, 0, Style::PLAIN);
        assert!(!plain.contains('\x1b'));
        let coloured = format_line(&line, "bob", None, 0, COLOR);
        assert!(coloured.contains('\x1b'));
        assert_eq!(strip(&coloured), plain);
    }

    #[test]
    fn names_keep_their_colour() {
        assert_eq!(name_color("alice"), name_color("ALICE"));
        assert_eq!(name_color("alice"), name_color("alice"));
        let distinct: std::collections::HashSet<_> = ["alice", "bob", "carol", "dave", "erin"]
            .iter()
            .map(|n| name_color(n))
            .collect();
        assert!(distinct.len() >= 3, "{distinct:?}");
        let line = format_line(&msg("carol", "x", 0), "me", None, 0, COLOR);
        assert!(line.contains(&format!("\x1b[{}mcarol\x1b[0m", name_color("carol"))));
    }

    #[test]
    fn own_messages_mentions_and_notices_are_styled() {
        let own = format_line(&msg("bob", "mine", 0), "bob", None, 0, COLOR);
        assert!(own.starts_with(&format!("\x1b[{OWN}m")), "{own:?}");
        let mention = format_line(&msg("alice", "hey Bob!", 0), "bob", None, 0, COLOR);
        assert!(
            mention.starts_with(&format!("\x1b[{MENTION}m")),
            "{mention:?}"
        );
        let other = format_line(&msg("alice", "hey bobby", 0), "bob", None, 0, COLOR);
        assert!(!other.starts_with(&format!("\x1b[{MENTION}m")), "{other:?}");
        let notice = render(&Event::Notice(Notice {
            text: "server restarting".into(),
        }))
        .expect("renders");
        let notice = format_line(&notice, "bob", None, 0, COLOR);
        assert!(notice.starts_with(&format!("\x1b[{DIM}m")), "{notice:?}");
        // The name's colour ends with a reset: the outer style comes back.
        assert!(
            mention.contains(&format!("\x1b[0m\x1b[{MENTION}m")),
            "{mention:?}"
        );
    }

    #[test]
    fn history_is_dim_marked_and_dated_when_old() {
        let t = 1_700_000_000_000;
        let line = msg("alice", "hi bob", t);
        assert_eq!(
            format_history(&line, None, t + 60_000, Style::PLAIN),
            format!("[{}] │ <alice> hi bob", clock(t))
        );
        let coloured = format_history(&line, None, t, COLOR);
        assert!(
            coloured.starts_with(&format!("\x1b[{DIM}m")),
            "{coloured:?}"
        );
        assert_eq!(
            strip(&coloured),
            format_history(&line, None, t, Style::PLAIN)
        );
        // Not a mention, not bold: history is not news.
        assert_eq!(coloured.matches('\x1b').count(), 2, "{coloured:?}");
        let two_days_later = t + 2 * 86_400_000;
        let old = format_history(&line, None, two_days_later, Style::PLAIN);
        let date = chrono::DateTime::from_timestamp_millis(1_700_000_000_000)
            .expect("a valid time")
            .with_timezone(&chrono::Local)
            .format("%d %b %H:%M")
            .to_string();
        assert_eq!(old, format!("[{date}] │ <alice> hi bob"));
        let evil = msg("ev\x1bil", "\x1b[2Jboom", t);
        assert!(only_our_escapes(&format_history(&evil, None, t, COLOR)));
    }

    #[test]
    fn no_escape_from_a_peer_reaches_the_terminal() {
        let evil = msg(
            "ev\x1b[31mil",
            "\x1b[2J\x1b]0;pwned\x07\r\u{9b}31m bob \x1b[0m",
            0,
        );
        for style in [Style::PLAIN, COLOR] {
            let out = format_line(&evil, "bob", None, 0, style);
            assert!(only_our_escapes(&out), "{out:?}");
            assert!(!strip(&out).chars().any(char::is_control), "{out:?}");
        }
    }

    #[test]
    fn lines_from_other_rooms_carry_the_room_after_the_time() {
        let t = 1_700_000_000_000;
        let hm = clock(t);
        let mut line = msg("alice", "hi", t);
        line.room = Some("rust".into());
        assert_eq!(
            format_line(&line, "bob", Some("lobby"), 0, Style::PLAIN),
            format!("[{hm}] [#rust] <alice> hi")
        );
        assert_eq!(
            format_line(&line, "bob", Some("#Rust"), 0, Style::PLAIN),
            format!("[{hm}] <alice> hi")
        );
        assert_eq!(
            format_line(&line, "bob", None, 0, Style::PLAIN),
            format!("[{hm}] [#rust] <alice> hi")
        );
        assert_eq!(
            format_history(&line, Some("lobby"), t, Style::PLAIN),
            format!("[{hm}] │ [#rust] <alice> hi")
        );
        // In colour the tag has the room's colour and the text is the same.
        let coloured = format_line(&line, "bob", Some("lobby"), 0, COLOR);
        assert!(
            coloured.contains(&format!("\x1b[{}m[#rust]\x1b[0m", name_color("rust"))),
            "{coloured:?}"
        );
        assert_eq!(
            strip(&coloured),
            format_line(&line, "bob", Some("lobby"), 0, Style::PLAIN)
        );
        // A mention in another room keeps its whole-line highlight.
        let mention = msg("alice", "hey bob", t);
        let mention = Line {
            room: Some("rust".into()),
            ..mention
        };
        let out = format_line(&mention, "bob", Some("lobby"), 0, COLOR);
        assert!(out.starts_with(&format!("\x1b[{MENTION}m")), "{out:?}");
        let evil = Line {
            room: Some("r\x1b[2J".into()),
            ..msg("alice", "x", t)
        };
        let evil = chat_core::render(&Event::Message(ChatMessage {
            room: evil.room.clone(),
            seq: 1,
            time: t,
            from: "alice".into(),
            text: "x".into(),
            id: None,
        }))
        .expect("renders");
        assert!(only_our_escapes(&format_line(
            &evil,
            "bob",
            Some("lobby"),
            0,
            COLOR
        )));
    }
}
