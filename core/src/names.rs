//! The rules for names and message text, shared by the server (which enforces
//! them) and the clients (which can refuse early what the server would refuse).

use crate::protocol::{MAX_NAME_CHARS, MAX_ROOM_CHARS};

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// No characters at all.
    #[error("a name cannot be empty")]
    Empty,
    /// More than [`MAX_NAME_CHARS`] characters.
    #[error("the name {name:?} is too long (at most {max} characters)")]
    TooLong {
        /// The refused name.
        name: String,
        /// The limit in characters.
        max: usize,
    },
    /// A character that is not a letter, digit, `_` or `-`.
    #[error("the name \"{name}\" contains {}: use letters, digits, _ and -", describe_char(*found))]
    BadCharacter {
        /// The refused name.
        name: String,
        /// The first character not allowed.
        found: char,
    },
}

/// A character as people can see it in an error: `'!'`, or, for one that
/// shows nothing (a space, a zero-width joiner, a control), what it is.
fn describe_char(c: char) -> String {
    let invisible = c.is_whitespace()
        || c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if c == ' ' {
        "a space".to_owned()
    } else if invisible {
        format!("an invisible character (U+{:04X})", u32::from(c))
    } else {
        format!("'{c}'")
    }
}

/// Checks a name: 1 to 32 characters, letters (any script), digits, `_`, `-`.
///
/// # Errors
/// A [`NameError`] that says what is wrong.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(found) = name
        .chars()
        .find(|&c| !(c.is_alphanumeric() || c == '_' || c == '-'))
    {
        return Err(NameError::BadCharacter {
            name: name.to_owned(),
            found,
        });
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong {
            name: name.to_owned(),
            max: MAX_NAME_CHARS,
        });
    }
    Ok(())
}

/// The main key under which a name is unique: case folded, then reduced to
/// its Unicode confusable skeleton (UTS #39), accents dropped. Names equal
/// under it are the same person (`Alice` is `alice`, `аlice` with a
/// Cyrillic `а` is `alice`, `bi11` is `bill`); [`name_keys`] gives every
/// key a name must not share with another.
pub fn name_key(name: &str) -> String {
    bare(&skeleton(&lower(name)))
}

/// Every key of a name; two names that share one look alike. Folding case
/// first loses what only one case shows (`I` is drawn like `l`, but its
/// lower case `i` is not), and taking the skeleton first loses what only
/// the other shows (`ALICE` has an `I` where `alice` has an `i`), so both
/// orders count: `aIice`, `ALICE`, `ALİCE`, `b0b`, `ｂｏｂ` and `rnary` all
/// collide with a name already taken.
pub fn name_keys(name: &str) -> Vec<String> {
    let mut keys = vec![
        name_key(name),
        bare(&lower(&skeleton(name))),
        bare(&skeleton(&lower(&skeleton(name)))),
    ];
    keys.sort();
    keys.dedup();
    keys
}

fn lower(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

fn skeleton(text: &str) -> String {
    unicode_security::confusable_detection::skeleton(text).collect()
}

/// Without combining marks: `é` and `İ` are drawn on top of `e` and `I`.
fn bare(text: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    text.nfd().filter(|&c| !is_combining_mark(c)).collect()
}

/// Whether two names look alike in any case (share a key).
pub fn look_alike(a: &str, b: &str) -> bool {
    let theirs = name_keys(b);
    name_keys(a).iter().any(|key| theirs.contains(key))
}

/// A name for someone who gave none (no `--name`, no `$USER`):
/// `guest-4821`. Not a word anyone types, so it is never mentioned by chance
/// (`me` was, in every sentence with "me" in it).
pub fn guest_name() -> String {
    format!("guest-{:04}", fastrand::u16(0..10_000))
}

/// Why a message text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but blanks.
    #[error("empty message not sent")]
    Empty,
    /// A control character other than tab.
    #[error("message contains a control character (U+{code:04X}); nothing was sent")]
    ControlCharacter {
        /// The code point of the first offending character.
        code: u32,
    },
}

/// Checks a message text: not blank, and no control characters but tab.
///
/// # Errors
/// A [`TextError`] that says what is wrong.
pub fn validate_text(text: &str) -> Result<(), TextError> {
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\t') {
        return Err(TextError::ControlCharacter { code: u32::from(c) });
    }
    if text.trim().is_empty() {
        return Err(TextError::Empty);
    }
    Ok(())
}

/// Why a room name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    /// No characters at all (or only `#`).
    #[error("a room name cannot be empty")]
    Empty,
    /// More than [`MAX_ROOM_CHARS`] characters.
    #[error("the room name {name:?} is too long (at most {max} characters)")]
    TooLong {
        /// The refused name.
        name: String,
        /// The limit in characters.
        max: usize,
    },
    /// A character that is not a letter, digit, `_` or `-`.
    #[error("the room name \"{name}\" contains {}: use letters, digits, _ and -", describe_char(*found))]
    BadCharacter {
        /// The refused name.
        name: String,
        /// The first character not allowed.
        found: char,
    },
}

/// [`parse_room`] for a command line's `--room NAME`: the name owned, as
/// clap's `value_parser` wants it, so every client checks the flag alike.
///
/// # Errors
/// As [`parse_room`].
pub fn room_arg(room: &str) -> Result<String, RoomError> {
    parse_room(room).map(str::to_owned)
}

/// Checks a room name, given with or without its leading `#`, and returns
/// it without: 1 to 32 letters (any script), digits, `_` and `-`.
///
/// # Errors
/// A [`RoomError`] that says what is wrong.
pub fn parse_room(room: &str) -> Result<&str, RoomError> {
    let name = room.strip_prefix('#').unwrap_or(room);
    if name.is_empty() {
        return Err(RoomError::Empty);
    }
    if let Some(found) = name
        .chars()
        .find(|&c| !(c.is_alphanumeric() || c == '_' || c == '-'))
    {
        return Err(RoomError::BadCharacter {
            name: name.to_owned(),
            found,
        });
    }
    if name.chars().count() > MAX_ROOM_CHARS {
        return Err(RoomError::TooLong {
            name: name.to_owned(),
            max: MAX_ROOM_CHARS,
        });
    }
    Ok(name)
}

/// The key under which a room is one room: its name without `#`, case
/// folded (`#Rust` is `#rust`). Look-alikes are not folded: rooms do not
/// impersonate people.
pub fn room_key(room: &str) -> String {
    let name = room.strip_prefix('#').unwrap_or(room);
    name.chars().flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names() {
        for name in ["alice", "Bob_2", "zoë", "李雷", "a-b", "x", &"n".repeat(32)] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn bad_names_say_why() {
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert!(matches!(
            validate_name(&"n".repeat(33)),
            Err(NameError::TooLong { max: 32, .. })
        ));
        assert!(matches!(
            validate_name("al ice"),
            Err(NameError::BadCharacter { found: ' ', .. })
        ));
        assert!(matches!(
            validate_name("a\u{1b}[31m"),
            Err(NameError::BadCharacter {
                found: '\u{1b}',
                ..
            })
        ));
        assert_eq!(
            validate_name("a!").unwrap_err().to_string(),
            "the name \"a!\" contains '!': use letters, digits, _ and -"
        );
        assert_eq!(
            validate_name("alice\u{200b}").unwrap_err().to_string(),
            "the name \"alice\u{200b}\" contains an invisible character (U+200B): use letters, digits, _ and -"
        );
        assert_eq!(
            validate_name("al ice").unwrap_err().to_string(),
            "the name \"al ice\" contains a space: use letters, digits, _ and -"
        );
    }

    #[test]
    fn names_compare_case_insensitively() {
        assert_eq!(name_key("Alice"), name_key("aLICE"));
        assert_eq!(name_key("ÉMILE"), name_key("émile"));
        assert_ne!(name_key("alice"), name_key("alice2"));
    }

    #[test]
    fn look_alike_names_are_the_same_name() {
        // Cyrillic а, Greek ο, digit one for l, "rn" for m.
        assert_eq!(name_key("\u{430}lice"), name_key("alice"));
        assert_eq!(name_key("b\u{3bf}b"), name_key("bob"));
        assert_eq!(name_key("bi11"), name_key("bill"));
        assert_eq!(name_key("rnary"), name_key("mary"));
        assert_ne!(name_key("bob"), name_key("rob"));
    }

    #[test]
    fn look_alikes_collide_in_either_case() {
        let pairs = [
            ("aIice", "alice"),       // capital I drawn like l
            ("ALICE", "alice"),       // case alone
            ("ALİCE", "alice"),       // dotted capital I
            ("b0b", "bob"),           // zero and o
            ("B0B", "bob"),           // zero and O
            ("rnary", "mary"),        // rn and m
            ("\u{430}lice", "alice"), // Cyrillic а
            ("b\u{3bf}b", "bob"),     // Greek ο
            ("ｂｏｂ", "bob"),        // full-width forms
            ("bi11", "bill"),         // digit one and l
            ("émile", "emile"),       // an accent is drawn on the same letter
        ];
        for (a, b) in pairs {
            assert!(look_alike(a, b), "{a} should look like {b}");
            assert!(look_alike(b, a), "{b} should look like {a}");
        }
        for (a, b) in [
            ("bob", "rob"),
            ("alice", "alicia"),
            ("sam", "sarn2"),
            ("ann", "anna"),
        ] {
            assert!(!look_alike(a, b), "{a} should not look like {b}");
        }
    }

    #[test]
    fn guest_names_are_valid_and_not_words() {
        let name = guest_name();
        assert_eq!(validate_name(&name), Ok(()));
        assert!(name.starts_with("guest-") && name.len() == 10, "{name}");
    }

    #[test]
    fn room_names() {
        assert_eq!(parse_room("#rust"), Ok("rust"));
        assert_eq!(parse_room("lobby"), Ok("lobby"));
        assert_eq!(parse_room("#Кафе_2"), Ok("Кафе_2"));
        assert_eq!(parse_room("#"), Err(RoomError::Empty));
        assert_eq!(parse_room(""), Err(RoomError::Empty));
        assert!(matches!(
            parse_room(&"r".repeat(33)),
            Err(RoomError::TooLong { max: 32, .. })
        ));
        assert_eq!(
            parse_room("#a b").unwrap_err().to_string(),
            "the room name \"a b\" contains a space: use letters, digits, _ and -"
        );
        assert_eq!(room_key("#Rust"), room_key("rust"));
        assert_ne!(room_key("rust"), room_key("rust2"));
    }

    #[test]
    fn text_rules() {
        assert_eq!(validate_text("hello\tworld"), Ok(()));
        assert_eq!(validate_text("  "), Err(TextError::Empty));
        assert_eq!(
            validate_text("red \u{1b}[31m"),
            Err(TextError::ControlCharacter { code: 0x1b })
        );
        assert_eq!(
            validate_text("c1 \u{9b}"),
            Err(TextError::ControlCharacter { code: 0x9b })
        );
    }
}
