//! The text of one benchmark message: who sent it, its number, when it was
//! sent, and a padding whose every byte can be checked, so a receiver can tell
//! a delivered message from a truncated, spliced or foreign one.
//!
//! Form: `s<sender> <num> <sent-nanos> <pad-len> <padding>`; the padding is a
//! run of lowercase letters whose start depends on sender and number.

use std::fmt::Write as _;

/// What a message's text says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Index of the sending client among the senders.
    pub sender: u32,
    /// The message's number within its sender, from 0.
    pub num: u64,
    /// When it was sent, in nanoseconds since the run's clock base.
    pub sent_nanos: u64,
}

/// Why a text is not an intact benchmark message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

fn pad_byte(sender: u32, num: u64, i: usize) -> u8 {
    let start = (u64::from(sender) * 7 + num) % 26;
    b'a' + ((start + i as u64) % 26) as u8
}

/// Builds the text, padded so that it is at least `len` bytes long.
pub fn encode(stamp: Stamp, len: usize) -> String {
    let mut text = String::with_capacity(len.max(40));
    let _ = write!(
        text,
        "s{} {} {} ",
        stamp.sender, stamp.num, stamp.sent_nanos
    );
    // The pad length field itself takes room: the longest pad whose length
    // field still fits (one byte short where the digit count steps up).
    let room = len.saturating_sub(text.len());
    let pad = (0..=room)
        .rev()
        .find(|&pad| pad.to_string().len() + 1 + pad <= room)
        .unwrap_or(0);
    let _ = write!(text, "{pad} ");
    text.extend((0..pad).map(|i| char::from(pad_byte(stamp.sender, stamp.num, i))));
    text
}

/// Parses and checks a text made by [`encode`].
///
/// # Errors
/// [`Corrupt`] naming the first thing that does not match.
pub fn parse(text: &str) -> Result<Stamp, Corrupt> {
    let mut parts = text.splitn(5, ' ');
    let sender = parts
        .next()
        .and_then(|s| s.strip_prefix('s'))
        .and_then(|s| s.parse().ok())
        .ok_or(Corrupt("sender"))?;
    let num = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(Corrupt("number"))?;
    let sent_nanos = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(Corrupt("timestamp"))?;
    let pad: usize = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(Corrupt("pad length"))?;
    let padding = parts.next().ok_or(Corrupt("padding missing"))?;
    if padding.len() != pad {
        return Err(Corrupt("padding length"));
    }
    if padding
        .bytes()
        .enumerate()
        .any(|(i, b)| b != pad_byte(sender, num, i))
    {
        return Err(Corrupt("padding bytes"));
    }
    Ok(Stamp {
        sender,
        num,
        sent_nanos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(sender: u32, num: u64) -> Stamp {
        Stamp {
            sender,
            num,
            sent_nanos: 123_456_789,
        }
    }

    #[test]
    fn round_trips_at_every_length() {
        for len in 0..300 {
            let s = stamp(3, 17);
            let text = encode(s, len);
            if len > 30 {
                assert!(
                    len - 1 <= text.len() && text.len() <= len,
                    "{len}: {text:?}"
                );
            }
            assert_eq!(parse(&text), Ok(s), "{text:?}");
        }
    }

    #[test]
    fn damage_is_detected() {
        let text = encode(stamp(2, 5), 64);
        assert!(parse(&text[..text.len() - 1]).is_err(), "truncated");
        let other = encode(stamp(2, 6), 64);
        let spliced = format!("{}{}", &text[..30], &other[30..]);
        assert!(parse(&spliced).is_err(), "spliced: {spliced}");
        assert!(parse("hello").is_err());
        assert!(parse("").is_err());
        assert!(parse("s1 2 3").is_err());
        let mut bytes = text.into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'a' { b'b' } else { b'a' };
        let flipped = String::from_utf8(bytes).expect("ascii");
        assert_eq!(parse(&flipped), Err(Corrupt("padding bytes")));
    }
}
