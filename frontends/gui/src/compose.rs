//! The compose box's keyboard help: Tab completes the name of someone in
//! the shown room, Up and Down recall the lines sent before. Pure logic on
//! strings, so the rules are tested without a window; `ui::ComposeKeys`
//! binds the keys.

use chat_core::names::name_key;

use crate::state::AppState;

/// Lines recalled at most.
const RECALL_LINES: usize = 500;

/// The lines sent before, newest last, and where Up/Down are among them.
#[derive(Debug, Clone, Default)]
pub struct Recall {
    lines: Vec<String>,
    /// The line shown now, while recalling; `None` while typing.
    at: Option<usize>,
    /// What was in the box when Up was first pressed, given back by Down.
    draft: String,
}

impl Recall {
    /// Remembers a line that was sent (not a repeat of the one before),
    /// and stops recalling.
    pub fn remember(&mut self, line: &str) {
        self.at = None;
        if line.trim().is_empty() || self.lines.last().is_some_and(|l| l == line) {
            return;
        }
        if self.lines.len() == RECALL_LINES {
            self.lines.remove(0);
        }
        self.lines.push(line.to_owned());
    }

    /// Up: the line before the one shown (`current` is kept as the draft
    /// when recalling starts); `None` when there is nothing older.
    pub fn older(&mut self, current: &str) -> Option<String> {
        let at = match self.at {
            None => {
                let last = self.lines.len().checked_sub(1)?;
                self.draft = current.to_owned();
                last
            }
            Some(at) => at.checked_sub(1)?,
        };
        self.at = Some(at);
        Some(self.lines[at].clone())
    }

    /// Down: the line after the one shown, then the draft; `None` when not
    /// recalling.
    pub fn newer(&mut self) -> Option<String> {
        let at = self.at?;
        if at + 1 < self.lines.len() {
            self.at = Some(at + 1);
            Some(self.lines[at + 1].clone())
        } else {
            self.at = None;
            Some(std::mem::take(&mut self.draft))
        }
    }
}

/// Tab completion of names, cycling through the matches on each Tab.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    cycle: Option<Cycle>,
}

#[derive(Debug, Clone)]
struct Cycle {
    /// The text before the completed word.
    head: String,
    /// The names that matched, in the list's order.
    matches: Vec<String>,
    /// Which of them is in the box.
    index: usize,
    /// The box's text after the last Tab: another Tab on it goes on to the
    /// next match, anything else typed starts afresh.
    shown: String,
}

impl Completion {
    /// The text with its last word completed to a name from `users`
    /// (case-blind, as names compare; never `me`), or the next match when
    /// `text` is what the last Tab left. A name that starts the line gets
    /// `": "` after it, one later in the line `" "`. `None` when nothing
    /// matches.
    pub fn complete(&mut self, text: &str, users: &[String], me: &str) -> Option<String> {
        if let Some(cycle) = self.cycle.as_mut().filter(|c| c.shown == text) {
            cycle.index = (cycle.index + 1) % cycle.matches.len();
            cycle.shown = cycle.text();
            return Some(cycle.shown.clone());
        }
        self.cycle = None;
        let start = text
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        let (head, word) = text.split_at(start);
        let word = word.strip_prefix('@').unwrap_or(word);
        if word.is_empty() {
            return None;
        }
        let prefix = name_key(word);
        let me = name_key(me);
        let matches: Vec<String> = users
            .iter()
            .filter(|u| {
                let key = name_key(u);
                key != me && key.starts_with(&prefix)
            })
            .cloned()
            .collect();
        if matches.is_empty() {
            return None;
        }
        let mut cycle = Cycle {
            head: head.to_owned(),
            matches,
            index: 0,
            shown: String::new(),
        };
        cycle.shown = cycle.text();
        let shown = cycle.shown.clone();
        self.cycle = Some(cycle);
        Some(shown)
    }
}

impl Cycle {
    fn text(&self) -> String {
        let after = if self.head.trim().is_empty() {
            ": "
        } else {
            " "
        };
        format!("{}{}{after}", self.head, self.matches[self.index])
    }
}

impl AppState {
    /// Tab: completes the name being typed from the shown room's list.
    /// Returns whether the box changed.
    pub fn complete_name(&mut self) -> bool {
        let users: Vec<String> = self.users().iter().cloned().collect();
        match self.completion.complete(&self.compose, &users, &self.me) {
            Some(text) => {
                self.compose = text;
                true
            }
            None => false,
        }
    }

    /// Up: the line sent before the one in the box. Returns whether the box
    /// changed.
    pub fn recall_older(&mut self) -> bool {
        let current = self.compose.clone();
        self.recall
            .older(&current)
            .map(|line| self.compose = line)
            .is_some()
    }

    /// Down: the line sent after the one in the box, then what was being
    /// typed. Returns whether the box changed.
    pub fn recall_newer(&mut self) -> bool {
        self.recall
            .newer()
            .map(|line| self.compose = line)
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn tab_completes_names_and_cycles_through_matches() {
        let here = users(&["alice", "Bob", "bobby", "carol", "gina"]);
        let mut c = Completion::default();
        assert_eq!(c.complete("bo", &here, "gina").as_deref(), Some("Bob: "));
        assert_eq!(
            c.complete("Bob: ", &here, "gina").as_deref(),
            Some("bobby: ")
        );
        assert_eq!(
            c.complete("bobby: ", &here, "gina").as_deref(),
            Some("Bob: ")
        );
        // Later in the line: a space after the name.
        let mut c = Completion::default();
        assert_eq!(
            c.complete("thanks ca", &here, "gina").as_deref(),
            Some("thanks carol ")
        );
        assert_eq!(
            c.complete("/msg AL", &here, "gina").as_deref(),
            Some("/msg alice ")
        );
        assert_eq!(
            c.complete("hi @al", &here, "gina").as_deref(),
            Some("hi alice ")
        );
        // Never oneself; nothing to complete, nothing done.
        assert_eq!(c.complete("gi", &here, "gina"), None);
        assert_eq!(c.complete("zed", &here, "gina"), None);
        assert_eq!(c.complete("hello ", &here, "gina"), None);
        assert_eq!(c.complete("", &here, "gina"), None);
        // Typing after a completion starts a new one.
        let mut c = Completion::default();
        assert_eq!(c.complete("b", &here, "gina").as_deref(), Some("Bob: "));
        assert_eq!(
            c.complete("Bob: hi a", &here, "gina").as_deref(),
            Some("Bob: hi alice ")
        );
    }

    #[test]
    fn up_and_down_recall_sent_lines_and_the_draft() {
        let mut r = Recall::default();
        assert_eq!(r.older("typing"), None, "nothing sent yet");
        r.remember("first");
        r.remember("second");
        r.remember("second");
        r.remember("  ");
        assert_eq!(r.older("draft").as_deref(), Some("second"));
        assert_eq!(r.older("second").as_deref(), Some("first"));
        assert_eq!(r.older("first"), None, "the oldest stays");
        assert_eq!(r.newer().as_deref(), Some("second"));
        assert_eq!(r.newer().as_deref(), Some("draft"));
        assert_eq!(r.newer(), None, "back to typing");
        r.remember("third");
        assert_eq!(r.older("").as_deref(), Some("third"));
        for i in 0..RECALL_LINES + 10 {
            r.remember(&i.to_string());
        }
        assert_eq!(r.lines.len(), RECALL_LINES);
    }
}
