//! Splitting a long text into messages that each fit the server's line
//! limit, so a long paste arrives as several messages, in order, rather
//! than being refused whole.
//!
//! The limit a server announces (`Welcome.limits.max_line`) is in bytes of
//! the whole JSON line, so what a piece may hold is that limit less the
//! frame around the text (type, room, id …), counted as JSON escapes it:
//! `"` and `\` take two bytes, other ASCII control characters two or six,
//! everything else its UTF-8 length. Pieces end after a run of whitespace
//! when one fits (a word is never cut in two when it can be helped), else
//! at a character boundary; concatenated in order they give back the text.

use crate::codec::encode_frame;
use crate::protocol::ClientFrame;

/// How many bytes `c` takes inside a JSON string as `serde_json` writes it.
pub fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if u32::from(c) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// How many bytes `text` takes inside a JSON string.
pub fn escaped_text_len(text: &str) -> usize {
    text.chars().map(escaped_len).sum()
}

/// Cuts `text` into pieces of at most `budget` escaped bytes (see
/// [`escaped_len`]), in order, cutting after whitespace where a piece
/// allows, otherwise between characters. A text that fits is one piece; an
/// empty text is one empty piece. Each piece holds at least one character,
/// so a budget too small for a character still ends (that piece is then
/// over budget, and the server refuses it).
pub fn split_text(text: &str, budget: usize) -> Vec<&str> {
    if escaped_text_len(text) <= budget {
        return vec![text];
    }
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut used = 0;
        // Where the piece would end if cut now: after the last whitespace
        // seen (a word boundary), and after the last character that fits.
        let mut after_space = None;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            let cost = escaped_len(c);
            if used + cost > budget && i > 0 {
                end = i;
                break;
            }
            used += cost;
            if c.is_whitespace() {
                after_space = Some(i + c.len_utf8());
            }
        }
        if end < rest.len() {
            // Not when the next character is whitespace (the cut falls
            // between words already), nor when the piece would be blank
            // (a server refuses an empty message).
            let next_is_space = rest[end..].starts_with(char::is_whitespace);
            if let Some(cut) = after_space.filter(|&cut| cut < end && !next_is_space) {
                if !rest[..cut].trim().is_empty() {
                    end = cut;
                }
            }
        }
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// How many escaped bytes of text a frame may carry within `max_line`:
/// `frame` (whose text is ignored) is measured with an empty text and with
/// the longest id a session gives, so every piece fits whatever its id.
pub fn text_budget(frame: &ClientFrame, max_line: usize) -> usize {
    const LONGEST_ID: &str = "18446744073709551615";
    let empty = match frame.clone() {
        ClientFrame::Message { room, .. } => ClientFrame::Message {
            room,
            text: String::new(),
            id: Some(LONGEST_ID.to_owned()),
        },
        ClientFrame::Action { room, .. } => ClientFrame::Action {
            room,
            text: String::new(),
            id: Some(LONGEST_ID.to_owned()),
        },
        ClientFrame::Private { to, .. } => ClientFrame::Private {
            to,
            text: String::new(),
            id: Some(LONGEST_ID.to_owned()),
        },
        other => other,
    };
    // The encoded frame ends in its newline, which the limit leaves out.
    let frame_bytes = encode_frame(&empty).len().saturating_sub(1);
    max_line.saturating_sub(frame_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_lengths_agree_with_serde_json() {
        let mut chars: Vec<char> = (0u8..=0x7f).map(char::from).collect();
        chars.extend(['é', '€', '😀', '\u{2028}', '\u{7f}', '\u{85}']);
        for c in chars {
            let json = serde_json::to_string(&c.to_string()).expect("serialises");
            assert_eq!(escaped_len(c), json.len() - 2, "{c:?} as {json}");
        }
    }

    #[test]
    fn cuts_after_words_and_keeps_everything() {
        assert_eq!(split_text("short", 10), ["short"]);
        assert_eq!(split_text("", 10), [""]);
        assert_eq!(
            split_text("hello big world", 10),
            ["hello big ", "world"],
            "the space goes with the word before it"
        );
        assert_eq!(split_text("hello world", 6), ["hello ", "world"]);
        assert_eq!(split_text("hello world", 5), ["hello", " worl", "d"]);
        // A word longer than a piece is cut between characters.
        assert_eq!(split_text("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        // Never inside a character: é is two bytes.
        assert_eq!(split_text("ééé", 3), ["é", "é", "é"]);
        // Quotes count twice.
        assert_eq!(split_text("\"\"\"", 4), ["\"\"", "\""]);
        // Too small a budget still ends, one character at a time.
        assert_eq!(split_text("😀😀", 1), ["😀", "😀"]);
    }

    #[test]
    fn the_budget_leaves_room_for_the_frame() {
        let frame = ClientFrame::Message {
            room: Some("lobby".into()),
            text: String::new(),
            id: None,
        };
        let budget = text_budget(&frame, 8192);
        let text = "x".repeat(budget);
        let full = ClientFrame::Message {
            room: Some("lobby".into()),
            text,
            id: Some("18446744073709551615".into()),
        };
        assert_eq!(encode_frame(&full).len() - 1, 8192);
        assert_eq!(text_budget(&frame, 10), 0);
    }

    proptest::proptest! {
        #[test]
        fn pieces_rejoin_in_order_and_each_fits(
            text in "(\\PC|[ \t\"\\\\]){0,300}",
            budget in 6usize..80,
        ) {
            let pieces = split_text(&text, budget);
            proptest::prop_assert_eq!(pieces.concat(), text.clone());
            for piece in &pieces {
                proptest::prop_assert!(escaped_text_len(piece) <= budget, "{:?}", piece);
                proptest::prop_assert!(!piece.is_empty() || text.is_empty());
            }
            // Cut at a word boundary whenever the piece had one to offer:
            // a piece that ends inside a word holds no whitespace.
            for pair in pieces.windows(2) {
                let inside_word = !pair[0].ends_with(char::is_whitespace)
                    && !pair[1].starts_with(char::is_whitespace);
                if inside_word {
                    let blank_before = pair[0]
                        .rfind(char::is_whitespace)
                        .is_some_and(|i| pair[0][..i].trim().is_empty());
                    proptest::prop_assert!(
                        !pair[0].contains(char::is_whitespace) || blank_before,
                        "{:?}", pair
                    );
                }
            }
        }
    }
}
