//! Serialising what the server sends, once per mode: JSON lines for
//! structured clients, human-readable lines for plain ones, IRC lines for
//! IRC clients (written by `crate::irc::form`).
//!
//! Plain lines are rendered by `chat-core`'s renderer, so a `nc` user sees
//! exactly what the REPL shows.

use bytes::Bytes;
use chat_core::codec::encode_frame;
use chat_core::protocol::{ErrorCode, ErrorFrame, Notice, ServerFrame};
use chat_core::render::{ban_lines, clock, render, room_lines};
use chat_core::Event;

pub use crate::irc::form::Caps as IrcCaps;

/// How a client speaks: decided by its first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `nc` / `telnet`: text lines and `/commands`.
    Plain,
    /// JSON Lines (`{"type": ...}`).
    Structured,
    /// An IRC client, from the IRC listener, with the IRCv3
    /// capabilities it took.
    Irc(IrcCaps),
}

/// One line of plain text, newline added.
pub fn plain_line(text: &str) -> Bytes {
    let mut out = Vec::with_capacity(text.len() + 1);
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
    Bytes::from(out)
}

/// A frame as a JSON line.
pub fn json_line(frame: &ServerFrame) -> Bytes {
    Bytes::from(encode_frame(frame))
}

/// A frame as the plain line a person reads; `None` for frames plain clients
/// never see (pings). With `prefixed`, a line about a room starts with
/// `[#room] `: it is about a room other than the reader's current one.
pub fn plain_frame(frame: &ServerFrame, prefixed: bool) -> Option<Bytes> {
    // One line per room, or per ban, as `/rooms` and `/bans` promise.
    let lines = match frame {
        ServerFrame::Rooms(list) => Some(room_lines(list)),
        ServerFrame::Bans(list) => Some(ban_lines(list)),
        _ => None,
    };
    if let Some(lines) = lines {
        let text: String = lines.iter().map(|line| format!("* {line}\n")).collect();
        return Some(Bytes::from(text));
    }
    let line = render(&Event::from_frame(frame.clone())?)?;
    // Joining makes a room current, so its answer is never prefixed.
    let text = if prefixed && !matches!(frame, ServerFrame::RoomJoined(_)) {
        line.in_context(None)
    } else {
        line.to_string()
    };
    Some(match frame {
        // History carries its time, so people can tell it from live talk.
        ServerFrame::Replay(r) => plain_line(&format!("[{}] {text}", clock(r.message.time))),
        _ => plain_line(&text),
    })
}

/// A frame in the given mode, as for the reader's current room.
pub fn encode(mode: Mode, frame: &ServerFrame) -> Option<Bytes> {
    encode_to(mode, frame, "*")
}

/// A frame in the given mode for the client called `me` (IRC numerics
/// name their reader).
pub fn encode_to(mode: Mode, frame: &ServerFrame, me: &str) -> Option<Bytes> {
    match mode {
        Mode::Structured => Some(json_line(frame)),
        Mode::Plain => plain_frame(frame, false),
        Mode::Irc(caps) => irc_line(frame, me, caps),
    }
}

/// A frame as IRC lines for the IRC client called `me`.
pub fn irc_line(frame: &ServerFrame, me: &str, caps: IrcCaps) -> Option<Bytes> {
    crate::irc::form::frame(frame, me, caps)
}

/// An error line in the given mode.
pub fn error(mode: Mode, code: ErrorCode, message: impl Into<String>, id: Option<String>) -> Bytes {
    error_about(mode, "*", code, message, id, None)
}

/// An error line in the given mode, for the client called `me`, about the
/// nick or channel `about` (IRC numerics name both; other modes have them
/// in the sentence).
pub fn error_about(
    mode: Mode,
    me: &str,
    code: ErrorCode,
    message: impl Into<String>,
    id: Option<String>,
    about: Option<&str>,
) -> Bytes {
    let message = message.into();
    match mode {
        Mode::Plain => plain_line(&format!("! {message}")),
        Mode::Structured => json_line(&ServerFrame::Error(ErrorFrame { code, message, id })),
        Mode::Irc(_) => crate::irc::form::line(&crate::irc::form::error(me, code, &message, about)),
    }
}

/// A server notice in the given mode.
pub fn notice(mode: Mode, text: impl Into<String>) -> Bytes {
    let frame = ServerFrame::Notice(Notice { text: text.into() });
    match mode {
        Mode::Plain => plain_frame(&frame, false).unwrap_or_default(),
        Mode::Structured => json_line(&frame),
        Mode::Irc(caps) => irc_line(&frame, "*", caps).unwrap_or_default(),
    }
}

/// IRC's last line before the server closes a connection: `ERROR :why`.
pub fn irc_closing(why: &str) -> Bytes {
    let message = crate::irc::message::Message::new(None, "ERROR", vec![why.to_owned()]);
    crate::irc::form::line(&message)
}

/// The server's liveness probe in the given mode (plain clients are never
/// pinged).
pub fn ping(mode: Mode) -> Bytes {
    let frame = ServerFrame::Ping { token: None };
    match mode {
        Mode::Irc(caps) => irc_line(&frame, "*", caps).unwrap_or_default(),
        _ => json_line(&frame),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::ChatMessage;

    #[test]
    fn plain_and_json_forms() {
        let frame = ServerFrame::Message(ChatMessage {
            room: None,
            seq: 1,
            time: 5,
            from: "alice".into(),
            text: "hello".into(),
            id: None,
        });
        assert_eq!(
            &encode(Mode::Plain, &frame).unwrap()[..],
            b"<alice> hello\n"
        );
        let json = encode(Mode::Structured, &frame).unwrap();
        assert!(
            json.starts_with(br#"{"type":"message","seq":1"#),
            "{json:?}"
        );
        assert_eq!(
            &error(Mode::Plain, ErrorCode::Other, "nope", None)[..],
            b"! nope\n"
        );
        assert_eq!(&notice(Mode::Plain, "bye")[..], b"* bye\n");
        assert_eq!(
            encode(Mode::Plain, &ServerFrame::Ping { token: None }),
            None
        );
    }
}
