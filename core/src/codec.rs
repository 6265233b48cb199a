//! The pure line codec: bytes in, lines and frames out, no I/O.
//!
//! Both ends of a connection feed whatever bytes the socket produced into a
//! [`LineDecoder`] and take whole lines out, however the bytes were split into
//! segments. A line longer than the limit is never buffered whole: once it
//! passes the limit, its bytes are dropped up to the next `\n` and the caller
//! gets one [`DecodeError::LineTooLong`].

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;

use crate::protocol::{ClientFrame, ServerFrame};

/// Why a line could not be decoded. The connection stays usable after each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The line was longer than `max` bytes; it was discarded.
    #[error("line too long (max {max} bytes)")]
    LineTooLong {
        /// The limit in bytes, without the newline.
        max: usize,
    },
    /// The line was not valid UTF-8; it was discarded.
    #[error("line is not valid UTF-8 (byte {valid_up_to} starts an invalid sequence)")]
    InvalidUtf8 {
        /// How many bytes at the start of the line were valid.
        valid_up_to: usize,
    },
    /// The line was not one JSON frame of the expected kind.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

/// Splits a byte stream into `\n`-terminated UTF-8 lines (`\r\n` accepted).
#[derive(Debug)]
pub struct LineDecoder {
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already handed out.
    start: usize,
    /// Bytes after `start` already searched for `\n` without finding one.
    scanned: usize,
    max_line: usize,
    /// Set while dropping the rest of an oversized line.
    discarding: bool,
}

impl LineDecoder {
    /// A decoder that accepts lines of at most `max_line` bytes (newline excluded).
    pub fn new(max_line: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            max_line,
            discarding: false,
        }
    }

    /// The limit this decoder enforces.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Appends bytes read from the peer.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        if self.discarding {
            match bytes.iter().position(|&b| b == b'\n') {
                Some(pos) => {
                    self.discarding = false;
                    bytes = &bytes[pos + 1..];
                }
                None => return,
            }
        }
        if self.start == self.buf.len() {
            // Everything handed out: reuse the allocation from its start.
            self.buf.clear();
            self.start = 0;
            self.scanned = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held for a line not yet complete.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Releases the buffer's memory when nothing is pending, so an idle
    /// connection holds no large allocation.
    pub fn shrink(&mut self) {
        if self.buffered() == 0 {
            self.buf = Vec::new();
            self.start = 0;
            self.scanned = 0;
        }
    }

    /// The next complete line, without its `\n` or `\r\n`.
    ///
    /// Returns `None` when no complete line is buffered. An error consumes the
    /// offending line; call again for the lines after it.
    pub fn next_line(&mut self) -> Option<Result<String, DecodeError>> {
        let pending = &self.buf[self.start..];
        match pending[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(offset) => {
                let end = self.scanned + offset;
                let mut line = &pending[..end];
                if let Some(stripped) = line.strip_suffix(b"\r") {
                    line = stripped;
                }
                let result = if line.len() > self.max_line {
                    Err(DecodeError::LineTooLong { max: self.max_line })
                } else {
                    std::str::from_utf8(line).map(str::to_owned).map_err(|e| {
                        DecodeError::InvalidUtf8 {
                            valid_up_to: e.valid_up_to(),
                        }
                    })
                };
                self.start += end + 1;
                self.scanned = 0;
                Some(result)
            }
            // One byte of slack for a `\r` that may precede the `\n`.
            None if pending.len() > self.max_line + 1 => {
                self.buf.clear();
                self.start = 0;
                self.scanned = 0;
                self.discarding = true;
                Some(Err(DecodeError::LineTooLong { max: self.max_line }))
            }
            None => {
                self.scanned = pending.len();
                if self.start > 0 {
                    self.buf.drain(..self.start);
                    self.start = 0;
                }
                None
            }
        }
    }
}

/// A [`LineDecoder`] that also parses each line as a JSON frame of type `F`.
#[derive(Debug)]
pub struct FrameDecoder<F> {
    lines: LineDecoder,
    _frame: PhantomData<fn() -> F>,
}

impl<F: DeserializeOwned> FrameDecoder<F> {
    /// A decoder for lines of at most `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        Self {
            lines: LineDecoder::new(max_line),
            _frame: PhantomData,
        }
    }

    /// Appends bytes read from the peer.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.lines.feed(bytes);
    }

    /// The next complete frame; `None` when none is buffered.
    pub fn next_frame(&mut self) -> Option<Result<F, DecodeError>> {
        self.lines
            .next_line()
            .map(|line| line.and_then(|line| decode_frame(&line)))
    }

    /// Gives the line decoder back, for a connection that switches modes.
    pub fn into_lines(self) -> LineDecoder {
        self.lines
    }
}

/// Parses one line (without its newline) as a JSON frame.
///
/// # Errors
/// [`DecodeError::Malformed`] when the line is not a JSON object of the frame
/// type, saying what was wrong in the protocol's words (see [`explain`]).
pub fn decode_frame<F: DeserializeOwned>(line: &str) -> Result<F, DecodeError> {
    serde_json::from_str(line).map_err(|e| DecodeError::Malformed(explain::<F>(line, &e)))
}

/// What was wrong with a line that did not decode as an `F`, in the words
/// of the protocol rather than serde's: `invalid JSON at column 12`, `not a
/// JSON object`, `missing field "type"`, `"type" must be a string`,
/// `unknown type "foo"`, `missing field "text"`, `"text" must be a string`,
/// `field "text" appears twice`. Anything else keeps serde's own sentence,
/// without its position.
///
/// Only called for a line already refused, so its extra parsing costs
/// nothing on the path of well-formed frames.
fn explain<F: DeserializeOwned>(line: &str, error: &serde_json::Error) -> String {
    if error.is_eof() {
        return "invalid JSON: the line ends before the JSON does".to_owned();
    }
    if error.is_syntax() {
        // serde_json counts bytes; a person counts characters.
        let column = line
            .char_indices()
            .take_while(|&(at, _)| at < error.column())
            .count();
        return format!("invalid JSON at column {column}");
    }
    let fields = match serde_json::from_str(line) {
        Ok(serde_json::Value::Object(fields)) => fields,
        Ok(_) => return "not a JSON object".to_owned(),
        // serde got past the syntax, so this cannot fail; said plainly if
        // it ever does rather than trusting that.
        Err(e) => return format!("invalid JSON: {}", without_position(&e)),
    };
    let kind = match fields.get("type") {
        None => return r#"missing field "type""#.to_owned(),
        Some(serde_json::Value::String(kind)) => kind,
        Some(_) => return r#""type" must be a string"#.to_owned(),
    };
    let message = without_position(error);
    if let Some(variant) = quoted_after(&message, "unknown variant `") {
        if variant == kind {
            return format!("unknown type {}", json_quoted(kind));
        }
    }
    if let Some(field) = quoted_after(&message, "missing field `") {
        return format!("missing field {}", json_quoted(field));
    }
    if let Some(field) = quoted_after(&message, "duplicate field `") {
        return format!("field {} appears twice", json_quoted(field));
    }
    // A field of the wrong type or value: serde does not say which one, so
    // try each alone beside the type. Fields are checked as they are read and
    // missing ones only at the end, so the culprit alone fails the same way.
    for (name, value) in fields.iter().filter(|(name, _)| *name != "type") {
        let alone = serde_json::json!({ "type": kind, name.as_str(): value });
        match serde_json::from_value::<F>(alone) {
            Err(e) if e.to_string() == message => return wrong_field(name, value, &message),
            _ => {}
        }
    }
    message
}

/// What a field of the wrong type or value should have held, from serde's
/// `invalid type: integer `5`, expected a string`.
fn wrong_field(name: &str, value: &serde_json::Value, message: &str) -> String {
    let name = json_quoted(name);
    if let Some(variant) = quoted_after(message, "unknown variant `") {
        return format!("{name} cannot be {}", json_quoted(variant));
    }
    let expected = message.rsplit_once(", expected ").map(|(_, e)| e);
    let wanted = match expected {
        Some("a string" | "a character") => "a string",
        Some("a boolean") => "true or false",
        Some("u8" | "u16" | "u32" | "u64" | "usize") => "a whole number, 0 or more",
        Some("i8" | "i16" | "i32" | "i64" | "isize") => "a whole number",
        Some("f32" | "f64") => "a number",
        Some("a sequence") => "a list",
        Some(e) if e == "a map" || e.starts_with("struct ") => "an object",
        _ => return format!("{name} is not valid here"),
    };
    // serde names what it met: the list or object itself, or (when it met
    // something else) a value inside one.
    let met_container = ["invalid type: sequence", "invalid type: map"]
        .iter()
        .any(|prefix| message.starts_with(prefix));
    let container = matches!(
        value,
        serde_json::Value::Array(_) | serde_json::Value::Object(_)
    );
    if container && !met_container {
        format!("a value inside {name} must be {wanted}")
    } else if message.starts_with("invalid value")
        && wanted.starts_with("a whole number")
        && value.as_i64().is_none_or(|n| n >= 0)
    {
        // A whole number of the right sign that does not fit (a u32 field).
        format!("{name} is too large")
    } else {
        format!("{name} must be {wanted}")
    }
}

/// serde_json's message without ` at line 1 column 12`.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    message
        .strip_suffix(&position)
        .map_or_else(|| message.clone(), str::to_owned)
}

/// The name serde quotes in backticks right after `prefix`.
fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    message
        .strip_prefix(prefix)
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name)
}

/// A name as JSON writes it, so that quotes or control characters a peer
/// sent come back escaped rather than raw.
fn json_quoted(name: &str) -> String {
    serde_json::Value::from(name).to_string()
}

/// Parses a line a client sent in structured mode.
///
/// # Errors
/// See [`decode_frame`].
pub fn decode_client_frame(line: &str) -> Result<ClientFrame, DecodeError> {
    decode_frame(line)
}

/// Parses a line a server sent in structured mode.
///
/// # Errors
/// See [`decode_frame`].
pub fn decode_server_frame(line: &str) -> Result<ServerFrame, DecodeError> {
    decode_frame(line)
}

/// Serialises a frame as one line, `\n` included.
pub fn encode_frame<F: Serialize>(frame: &F) -> Vec<u8> {
    // Serialising these plain data types cannot fail: no maps with non-string
    // keys, no custom serialisers. JSON escapes every control character, so the
    // line never contains a raw newline.
    let mut out = serde_json::to_vec(frame).unwrap_or_else(|_| b"{}".to_vec());
    out.push(b'\n');
    out
}

/// Whether a first line opens structured mode: its first non-blank byte is `{`.
pub fn is_structured_hello(line: &str) -> bool {
    line.trim_start().starts_with('{')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ChatMessage, ErrorCode, ErrorFrame, Limits, Welcome};

    fn lines(decoder: &mut LineDecoder) -> Vec<Result<String, DecodeError>> {
        std::iter::from_fn(|| decoder.next_line()).collect()
    }

    fn sample_frames() -> Vec<ServerFrame> {
        vec![
            ServerFrame::Welcome(Welcome {
                rooms: Vec::new(),
                topic: None,
                version: 1,
                name: "alice".into(),
                room: "lobby".into(),
                users: vec!["alice".into(), "bob".into()],
                limits: Limits {
                    max_rooms: 0,
                    max_line: 8192,
                    max_name: 32,
                    rate_per_sec: 5,
                    burst: 10,
                },
            }),
            ServerFrame::Message(ChatMessage {
                room: None,
                seq: 7,
                time: 1_700_000_000_000,
                from: "bob".into(),
                text: "héllo \"quoted\" \\ back\tslash 🎉".into(),
                id: Some("c1".into()),
            }),
            ServerFrame::Error(ErrorFrame {
                code: ErrorCode::NameTaken,
                message: "the name \"alice\" is taken".into(),
                id: None,
            }),
            ServerFrame::Ping { token: None },
        ]
    }

    #[test]
    fn server_frames_round_trip() {
        for frame in sample_frames() {
            let bytes = encode_frame(&frame);
            assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
            let mut dec = FrameDecoder::<ServerFrame>::new(8192);
            dec.feed(&bytes);
            assert_eq!(dec.next_frame(), Some(Ok(frame)));
            assert_eq!(dec.next_frame(), None);
        }
    }

    #[test]
    fn client_frames_round_trip() {
        let frames = vec![
            ClientFrame::Hello {
                name: "zoë".into(),
                version: 1,
                client: Some("test".into()),
                password: None,
            },
            ClientFrame::Message {
                room: None,
                text: "hi".into(),
                id: Some("1".into()),
            },
            ClientFrame::Action {
                room: None,
                text: "waves".into(),
                id: None,
            },
            ClientFrame::Private {
                to: "bob".into(),
                text: "psst".into(),
                id: None,
            },
            ClientFrame::Nick { name: "rob".into() },
            ClientFrame::Who { room: None },
            ClientFrame::Ping {
                token: Some("t".into()),
            },
            ClientFrame::Pong { token: None },
            ClientFrame::Quit {
                reason: Some("bye".into()),
            },
        ];
        for frame in frames {
            let line = String::from_utf8(encode_frame(&frame)).unwrap();
            assert!(is_structured_hello(&line));
            assert_eq!(decode_client_frame(line.trim_end()), Ok(frame));
        }
    }

    #[test]
    fn wire_spelling_is_documented_form() {
        let line = String::from_utf8(encode_frame(&ClientFrame::Who { room: None })).unwrap();
        assert_eq!(line, "{\"type\":\"who\"}\n");
        let hello: ClientFrame = decode_client_frame(r#"{"type":"hello","name":"al"}"#).unwrap();
        assert_eq!(
            hello,
            ClientFrame::Hello {
                name: "al".into(),
                version: 1,
                client: None,
                password: None
            }
        );
    }

    #[test]
    fn a_frame_split_at_every_byte_position_decodes_once() {
        let mut stream = Vec::new();
        for frame in sample_frames() {
            stream.extend(encode_frame(&frame));
        }
        for cut in 0..=stream.len() {
            let mut dec = FrameDecoder::<ServerFrame>::new(8192);
            let mut got = Vec::new();
            dec.feed(&stream[..cut]);
            got.extend(std::iter::from_fn(|| dec.next_frame()));
            dec.feed(&stream[cut..]);
            got.extend(std::iter::from_fn(|| dec.next_frame()));
            let want: Vec<_> = sample_frames().into_iter().map(Ok).collect();
            assert_eq!(got, want, "cut at {cut}");
        }
    }

    #[test]
    fn byte_at_a_time_yields_the_same_lines() {
        let input = "first\r\nsecond\n\nthird\n";
        let mut dec = LineDecoder::new(64);
        let mut got = Vec::new();
        for b in input.bytes() {
            dec.feed(&[b]);
            got.extend(lines(&mut dec));
        }
        let want = ["first", "second", "", "third"].map(|s| Ok(s.to_owned()));
        assert_eq!(got, want);
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn crlf_is_accepted_and_lone_cr_is_kept() {
        let mut dec = LineDecoder::new(64);
        dec.feed(b"a\r\nb\rc\n");
        assert_eq!(
            lines(&mut dec),
            vec![Ok("a".to_owned()), Ok("b\rc".to_owned())]
        );
    }

    #[test]
    fn oversized_line_is_reported_once_and_the_next_line_survives() {
        let mut dec = LineDecoder::new(8);
        // Arrives in pieces, so the decoder must give up before the newline.
        dec.feed(b"0123456789");
        assert_eq!(
            lines(&mut dec),
            vec![Err(DecodeError::LineTooLong { max: 8 })]
        );
        assert_eq!(dec.buffered(), 0, "an oversized line is not kept");
        dec.feed(b"abcdefghijklmnop");
        assert_eq!(lines(&mut dec), vec![]);
        assert_eq!(dec.buffered(), 0);
        dec.feed(b"qrs\nok\n");
        assert_eq!(lines(&mut dec), vec![Ok("ok".to_owned())]);
    }

    #[test]
    fn oversized_line_in_one_chunk_is_refused() {
        let mut dec = LineDecoder::new(4);
        dec.feed(b"12345\n1234\n1234\r\n");
        assert_eq!(
            lines(&mut dec),
            vec![
                Err(DecodeError::LineTooLong { max: 4 }),
                Ok("1234".to_owned()),
                Ok("1234".to_owned())
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_and_the_stream_continues() {
        let mut dec = LineDecoder::new(64);
        dec.feed(b"ok\nbad \xff\xfe\nfine\n");
        assert_eq!(
            lines(&mut dec),
            vec![
                Ok("ok".to_owned()),
                Err(DecodeError::InvalidUtf8 { valid_up_to: 4 }),
                Ok("fine".to_owned())
            ]
        );
    }

    #[test]
    fn utf8_split_inside_a_character_is_fine() {
        let text = "🎉é\n".as_bytes();
        let mut dec = LineDecoder::new(64);
        dec.feed(&text[..2]);
        assert_eq!(dec.next_line(), None);
        dec.feed(&text[2..]);
        assert_eq!(dec.next_line(), Some(Ok("🎉é".to_owned())));
    }

    #[test]
    fn malformed_json_is_a_typed_error() {
        for bad in [
            "{",
            "{}",
            r#"{"type":"nope"}"#,
            r#"{"type":"message"}"#,
            "[1,2]",
            r#"{"type":"message","text":5}"#,
        ] {
            assert!(
                matches!(decode_client_frame(bad), Err(DecodeError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn malformed_frames_are_explained_in_the_protocols_words() {
        for (line, why) in [
            ("not json", "invalid JSON at column 2"),
            (
                r#"{"type":"message","text":"hi""#,
                "invalid JSON: the line ends before the JSON does",
            ),
            (r#"{"text":"é" x}"#, "invalid JSON at column 13"),
            (r#"{"text":"é", é}"#, "invalid JSON at column 14"),
            (
                r#"{"type":"message" "text":"hi"}"#,
                "invalid JSON at column 19",
            ),
            ("[1,2]", "not a JSON object"),
            (r#""hello""#, "not a JSON object"),
            ("42", "not a JSON object"),
            ("null", "not a JSON object"),
            ("{}", r#"missing field "type""#),
            (r#"{"text":"hi"}"#, r#"missing field "type""#),
            (r#"{"type":5}"#, r#""type" must be a string"#),
            (r#"{"type":"foo"}"#, r#"unknown type "foo""#),
            (
                r#"{"type":"Message","text":"hi"}"#,
                r#"unknown type "Message""#,
            ),
            (r#"{"type":"a\"b"}"#, r#"unknown type "a\"b""#),
            (r#"{"type":"message"}"#, r#"missing field "text""#),
            (r#"{"type":"private","text":"hi"}"#, r#"missing field "to""#),
            (
                r#"{"type":"message","text":5}"#,
                r#""text" must be a string"#,
            ),
            (
                r#"{"type":"message","text":null}"#,
                r#""text" must be a string"#,
            ),
            (
                r#"{"type":"message","text":["hi"]}"#,
                r#""text" must be a string"#,
            ),
            (
                r#"{"type":"message","text":"hi","room":{"a":1}}"#,
                r#""room" must be a string"#,
            ),
            (
                r#"{"type":"message","text":"hi","id":7}"#,
                r#""id" must be a string"#,
            ),
            (
                r#"{"type":"hello","name":"al","version":"2"}"#,
                r#""version" must be a whole number, 0 or more"#,
            ),
            (
                r#"{"type":"hello","name":"al","version":-1}"#,
                r#""version" must be a whole number, 0 or more"#,
            ),
            (
                r#"{"type":"hello","name":"al","version":4294967296}"#,
                r#""version" is too large"#,
            ),
            (
                r#"{"type":"history","limit":1.5}"#,
                r#""limit" must be a whole number, 0 or more"#,
            ),
            (
                r#"{"type":"history","before":99999999999999999999999}"#,
                r#""before" must be a whole number, 0 or more"#,
            ),
            (
                r#"{"type":"message","text":"a","text":"b"}"#,
                r#"field "text" appears twice"#,
            ),
        ] {
            assert_eq!(
                decode_client_frame(line),
                Err(DecodeError::Malformed(why.to_owned())),
                "{line}"
            );
        }
    }

    #[test]
    fn a_wrong_field_is_found_whatever_the_others_hold() {
        // Several fields hold the same wrong-looking value; only one is wrong.
        assert_eq!(
            decode_client_frame(r#"{"type":"history","before":5,"room":5}"#),
            Err(DecodeError::Malformed(
                r#""room" must be a string"#.to_owned()
            ))
        );
        // Server frames too: a list of the wrong things, an unknown code.
        assert_eq!(
            decode_server_frame(r#"{"type":"users","room":"lobby","users":[1]}"#),
            Err(DecodeError::Malformed(
                r#"a value inside "users" must be a string"#.to_owned()
            ))
        );
        assert_eq!(
            decode_server_frame(r#"{"type":"error","code":"nope","message":"m"}"#),
            Err(DecodeError::Malformed(
                r#""code" cannot be "nope""#.to_owned()
            ))
        );
    }

    #[test]
    fn no_explanation_shows_serde_internals() {
        for line in [
            "{",
            "{}",
            "[]",
            "1",
            r#"{"type":"nope"}"#,
            r#"{"type":[]}"#,
            r#"{"type":"message","text":{}}"#,
            r#"{"type":"welcome"}"#,
            r#"{"type":"welcome","version":1,"name":"a","room":"r","users":[],"limits":3}"#,
        ] {
            for why in [
                decode_client_frame(line).map(|_| ()),
                decode_server_frame(line).map(|_| ()),
            ] {
                let Err(DecodeError::Malformed(why)) = why else {
                    panic!("{line} decoded");
                };
                for internal in ["enum", "ClientFrame", "ServerFrame", "`", "line 1"] {
                    assert!(!why.contains(internal), "{line}: {why}");
                }
            }
        }
    }

    #[test]
    fn shrink_releases_idle_memory() {
        let mut dec = LineDecoder::new(8192);
        dec.feed(&[b'x'; 4000]);
        dec.feed(b"\n");
        assert!(dec.next_line().is_some());
        dec.shrink();
        assert_eq!(dec.buf.capacity(), 0);
    }
}
