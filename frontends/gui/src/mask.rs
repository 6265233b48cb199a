//! [`Masked`]: the password field's text. druid 0.8's `TextBox` has no
//! password mode, so the field edits a value whose *displayed* text is one
//! bullet per character while the real text is kept beside it.
//!
//! Why this way: `TextBox<T>` works on any `T: TextStorage + EditableText`.
//! It lays out `as_str()` and turns every keystroke, paste, cut or IME
//! commit into `edit(byte_range, new_text)` on that displayed string. Each
//! bullet is one character of the real text, so a byte range of the
//! bullets maps exactly to a character range of the secret. The stock
//! widget keeps its cursor, selection, IME and keyboard handling; copying
//! from the field copies bullets, never the password; and nothing else in
//! the app can show the secret by accident (its `Debug` is redacted too).
//! A lens that diffs old and new strings would have to guess what changed;
//! a custom text widget would have to re-implement editing.

use std::borrow::Cow;
use std::ops::Range;

use druid::text::{EditableText, StringCursor, TextStorage};
use druid::Data;

/// What the field shows for each character.
const BULLET: char = '•';
const BULLET_LEN: usize = BULLET.len_utf8();

/// A secret and its bullets.
#[derive(Clone, Default, PartialEq, Eq, Data)]
pub struct Masked {
    real: String,
    shown: String,
}

impl std::fmt::Debug for Masked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Masked({} chars)", self.real.chars().count())
    }
}

impl Masked {
    /// A field holding `secret`.
    pub fn new(secret: &str) -> Self {
        let mut masked = Self::default();
        masked.set(secret);
        masked
    }

    /// Replaces the secret.
    pub fn set(&mut self, secret: &str) {
        secret.clone_into(&mut self.real);
        self.shown = std::iter::repeat_n(BULLET, self.real.chars().count()).collect();
    }

    /// The real text.
    pub fn secret(&self) -> &str {
        &self.real
    }

    /// What the field displays.
    #[cfg(test)]
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The byte offset in `real` of the `n`th character.
    fn real_offset(&self, n: usize) -> usize {
        self.real
            .char_indices()
            .nth(n)
            .map_or(self.real.len(), |(i, _)| i)
    }
}

impl druid::piet::TextStorage for Masked {
    fn as_str(&self) -> &str {
        &self.shown
    }
}

impl TextStorage for Masked {}

impl EditableText for Masked {
    fn cursor(&self, position: usize) -> Option<StringCursor<'_>> {
        self.shown.cursor(position)
    }

    fn edit(&mut self, range: Range<usize>, new: impl Into<String>) {
        // Offsets come from the bullets: every character is BULLET_LEN bytes.
        let start = self.real_offset(range.start / BULLET_LEN);
        let end = self.real_offset(range.end / BULLET_LEN).max(start);
        let mut real = std::mem::take(&mut self.real);
        real.replace_range(start..end, &new.into());
        self.set(&real);
    }

    fn slice(&self, range: Range<usize>) -> Option<Cow<'_, str>> {
        self.shown.slice(range)
    }

    fn len(&self) -> usize {
        self.shown.len()
    }

    fn prev_word_offset(&self, offset: usize) -> Option<usize> {
        self.shown.prev_word_offset(offset)
    }

    fn next_word_offset(&self, offset: usize) -> Option<usize> {
        self.shown.next_word_offset(offset)
    }

    fn prev_grapheme_offset(&self, offset: usize) -> Option<usize> {
        self.shown.prev_grapheme_offset(offset)
    }

    fn next_grapheme_offset(&self, offset: usize) -> Option<usize> {
        self.shown.next_grapheme_offset(offset)
    }

    fn prev_codepoint_offset(&self, offset: usize) -> Option<usize> {
        self.shown.prev_codepoint_offset(offset)
    }

    fn next_codepoint_offset(&self, offset: usize) -> Option<usize> {
        self.shown.next_codepoint_offset(offset)
    }

    fn preceding_line_break(&self, offset: usize) -> usize {
        self.shown.preceding_line_break(offset)
    }

    fn next_line_break(&self, offset: usize) -> usize {
        self.shown.next_line_break(offset)
    }

    fn is_empty(&self) -> bool {
        self.real.is_empty()
    }

    fn from_str(s: &str) -> Self {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_bullets_and_keeps_the_secret() {
        let mut m = Masked::new("sécret");
        assert_eq!(m.shown(), "••••••");
        assert_eq!(druid::piet::TextStorage::as_str(&m), "••••••");
        assert_eq!(m.secret(), "sécret");
        assert!(!format!("{m:?}").contains("cret"), "Debug is redacted");
        // Typing at the end: the box edits an empty range at the end.
        let end = m.len();
        m.edit(end..end, "!");
        assert_eq!(m.secret(), "sécret!");
        // Backspace over the 2nd character (é): the bullets' byte range 3..6.
        m.edit(3..6, "");
        assert_eq!(m.secret(), "scret!");
        assert_eq!(m.shown().chars().count(), 6);
        // Pasting over a selection in the middle.
        m.edit(3..9, "ØØ");
        assert_eq!(m.secret(), "sØØet!");
        // Select all and delete.
        let all = m.len();
        m.edit(0..all, "");
        assert!(m.is_empty() && m.shown().is_empty());
        // Navigation works on the bullets.
        let m = Masked::new("ab");
        assert_eq!(m.next_grapheme_offset(0), Some(BULLET_LEN));
        assert_eq!(m.prev_codepoint_offset(2 * BULLET_LEN), Some(BULLET_LEN));
        assert_eq!(m.slice(0..BULLET_LEN).as_deref(), Some("•"));
        assert_eq!(Masked::from_str("xy").secret(), "xy");
    }
}
