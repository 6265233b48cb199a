//! One room's side of the window: its conversation ([`Log`]), who is in it,
//! its topic, what arrived while another room was shown, and paging back
//! through its history. Each room keeps its own sequence numbers, so the
//! "never show a replayed message twice" and "ask for what is older than
//! the oldest line" rules live here, once per room.

use std::sync::Arc;

use chat_core::names::{name_key, room_key};
use druid::im::Vector;
use druid::{Data, Lens};

use crate::log::{local, marker, ChatLine, Kind, Log, Transcript};

/// How many older messages one scroll to the top asks for.
pub const HISTORY_PAGE: u32 = 50;

/// Above replayed messages.
pub const EARLIER: &str = "— earlier messages —";
/// Above messages replayed after a reconnection (what was missed).
pub const MISSED: &str = "— missed while away —";
/// Above the oldest message the server has.
pub const BEGINNING: &str = "— beginning of the room's history —";

/// One room's conversation and what the window shows around it.
#[derive(Clone, Data, Lens)]
pub struct Conversation {
    /// Stable for the whole run, whatever the room is called: the view keys
    /// the scroll position and the laid-out lines it keeps on it.
    pub id: u64,
    /// The room, without `#`. `None` only for the conversation shown before
    /// the first room is known (the connecting lines); the first welcome
    /// names it, so a one-room session reads as one conversation.
    pub room: Option<Arc<str>>,
    /// The lines.
    pub log: Log,
    /// Who is in the room, sorted case-insensitively.
    pub users: Vector<String>,
    /// A large room's size, from its headcounts: it names nobody when
    /// people come and go, so the list may be short of it.
    pub headcount: Option<u32>,
    /// The room's topic, when it has one.
    pub topic: Option<Arc<str>>,
    /// This session is in the room now. A room left (or lost with the
    /// connection) keeps its conversation, drawn muted in the room list.
    pub joined: bool,
    /// Messages that arrived while another room was shown.
    pub unread: usize,
    /// Of those, how many mention this client's name.
    pub mentions: usize,
    /// A request for older messages is under way.
    pub loading_older: bool,
    /// Older messages received for the request under way, oldest first.
    #[data(ignore)]
    #[lens(ignore)]
    older: Vec<ChatLine>,
    /// The newest sequence number shown, and the server it came from: a
    /// replay never shows a message twice, even after a new connection.
    #[data(ignore)]
    #[lens(ignore)]
    newest_seq: Option<(String, u64)>,
    /// The last line pushed was replayed: the next replayed one needs no
    /// separator of its own.
    #[data(ignore)]
    #[lens(ignore)]
    replay_run: bool,
    /// The id of the line saying how reconnecting goes, while it may
    /// still be the last line: the next such line replaces it rather than
    /// adding one per attempt.
    #[data(ignore)]
    #[lens(ignore)]
    progress: Option<u64>,
    /// When the room was (re)joined, on the rooms' own clock: leaving the
    /// shown room shows the most recently joined one, as the server does.
    #[data(ignore)]
    #[lens(ignore)]
    pub(crate) joined_at: u64,
    #[data(ignore)]
    #[lens(ignore)]
    pub(crate) transcript: Option<Transcript>,
    /// Written before each transcript line: `[#rust] ` for rooms other
    /// than the server's default one.
    #[data(ignore)]
    #[lens(ignore)]
    pub(crate) tag: Arc<str>,
}

impl std::fmt::Debug for Conversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conversation")
            .field("id", &self.id)
            .field("room", &self.room)
            .field("lines", &self.log.len())
            .field("joined", &self.joined)
            .field("unread", &self.unread)
            .finish_non_exhaustive()
    }
}

impl Conversation {
    /// An empty conversation keeping at most `cap` lines.
    pub fn new(id: u64, room: Option<&str>, cap: usize) -> Self {
        Self {
            id,
            room: room.map(Into::into),
            log: Log::with_capacity(cap),
            users: Vector::new(),
            headcount: None,
            topic: None,
            joined: false,
            unread: 0,
            mentions: 0,
            loading_older: false,
            older: Vec::new(),
            newest_seq: None,
            replay_run: false,
            progress: None,
            joined_at: 0,
            transcript: None,
            tag: "".into(),
        }
    }

    /// The room's key (`""` before the first room is known).
    pub fn key(&self) -> String {
        self.room.as_deref().map(room_key).unwrap_or_default()
    }

    /// `#rust`, or `""` before the first room is known.
    pub fn title(&self) -> String {
        self.room
            .as_deref()
            .map(|r| format!("#{r}"))
            .unwrap_or_default()
    }

    /// Appends a line (and writes it to the transcript).
    pub fn push(&mut self, line: ChatLine) {
        self.replay_run = false;
        let line = self.log.push(line);
        if let Some(transcript) = &self.transcript {
            transcript.write(&self.tag, line);
        }
    }

    /// Shows how reconnecting goes (untranscribed, as for
    /// [`push_untranscribed`](Self::push_untranscribed)): replaces the
    /// previous such line when it is still the last one, so the attempts
    /// update one line.
    pub fn push_progress(&mut self, line: ChatLine) {
        self.replay_run = false;
        let last = self.log.lines().back().map(|l| l.id);
        let stored = if last.is_some() && last == self.progress {
            self.log.replace_last(line)
        } else {
            self.log.push(line)
        };
        self.progress = Some(stored.id);
    }

    /// Appends a line without writing it to the transcript: for a line
    /// every room gets (the connection's state), written there once.
    pub fn push_untranscribed(&mut self, line: ChatLine) {
        self.replay_run = false;
        self.log.push(line);
    }

    /// Appends a line that did not come from the server.
    pub fn push_local(&mut self, kind: Kind, text: &str) {
        self.push(local(kind, text));
    }

    /// Counts `line` as unread (the room is not shown): live messages and
    /// actions from others; mentions separately.
    pub fn count_unread(&mut self, line: &ChatLine) {
        if matches!(line.kind, Kind::Message | Kind::Action) && !line.own && !line.history {
            self.unread += 1;
            if line.mention {
                self.mentions += 1;
            }
        }
    }

    /// The room is shown: nothing is unread any more.
    pub fn mark_read(&mut self) {
        self.unread = 0;
        self.mentions = 0;
    }

    /// A replayed message (rendered as `line`, numbered `seq` by `server`):
    /// an answer to our request for older ones (kept until its end), or the
    /// replay after joining, shown below a separator unless it was shown
    /// already.
    pub fn replay(&mut self, line: ChatLine, seq: u64, server: &str) {
        if self.loading_older {
            self.older.push(line);
            return;
        }
        let newest = self.newest_seq(server);
        if newest.is_some_and(|n| seq <= n) {
            return;
        }
        if !self.replay_run {
            let text = if newest.is_some() { MISSED } else { EARLIER };
            self.push(marker(text));
        }
        self.saw_seq(server, seq);
        self.push(line);
        self.replay_run = true;
    }

    /// Remembers the newest sequence number shown from `server`.
    pub fn saw_seq(&mut self, server: &str, seq: u64) {
        match &mut self.newest_seq {
            Some((s, newest)) if s == server => *newest = (*newest).max(seq),
            _ => self.newest_seq = Some((server.to_owned(), seq)),
        }
    }

    /// The newest sequence number shown from `server`.
    fn newest_seq(&self, server: &str) -> Option<u64> {
        self.newest_seq
            .as_ref()
            .filter(|(s, _)| s == server)
            .map(|(_, n)| *n)
    }

    /// The end of an answer to a history request: puts the older messages
    /// received above the oldest one shown.
    pub fn history_end(&mut self, more: bool) {
        if !self.loading_older {
            return;
        }
        self.loading_older = false;
        let oldest = self.oldest_seq();
        let mut batch: Vec<ChatLine> = std::mem::take(&mut self.older)
            .into_iter()
            .filter(|l| matches!((l.seq, oldest), (Some(s), Some(o)) if s < o) || oldest.is_none())
            .collect();
        let lines = self.log.lines();
        let at = lines
            .iter()
            .position(|l| l.seq.is_some())
            .unwrap_or(lines.len());
        let marker_above = at > 0 && lines[at - 1].kind == Kind::Marker;
        if !more {
            if marker_above {
                self.log.remove(at - 1);
            }
            batch.insert(0, marker(BEGINNING));
        } else if !marker_above && !batch.is_empty() {
            batch.insert(0, marker(EARLIER));
        }
        let at = if !more && marker_above { at - 1 } else { at };
        if let Some(transcript) = &self.transcript {
            for line in &batch {
                transcript.write(&self.tag, line);
            }
        }
        let dropped = self.log.insert(at, batch);
        if dropped > 0 {
            // Say so where the lines went missing: at the end. One more
            // line makes room for the note, so the front is not trimmed.
            self.log.remove(self.log.len() - 1);
            let text = format!(
                "— {} newer lines were dropped to keep {} lines; they are not shown —",
                dropped + 1,
                self.log.cap()
            );
            self.push(marker(&text));
        }
    }

    /// The oldest sequence number shown.
    pub fn oldest_seq(&self) -> Option<u64> {
        self.log.lines().iter().filter_map(|l| l.seq).min()
    }

    /// Whether the conversation starts with the room's first message.
    pub fn at_beginning(&self) -> bool {
        self.log
            .lines()
            .iter()
            .take_while(|l| l.seq.is_none())
            .any(|l| l.kind == Kind::Marker && l.text.as_ref() == BEGINNING)
    }

    /// A request for older messages was sent.
    pub fn start_loading(&mut self) {
        self.loading_older = true;
        self.older.clear();
    }

    /// Forgets a request whose answer will never come (the connection went).
    pub fn drop_history_request(&mut self) {
        self.loading_older = false;
        self.older.clear();
    }

    /// This session is no longer in the room: nobody is listed, and an
    /// answer about its history will not come.
    pub fn leave(&mut self) {
        self.joined = false;
        self.users.clear();
        self.headcount = None;
        self.drop_history_request();
    }

    /// How many are in the room: its headcount when it is large, else its
    /// list.
    pub fn size(&self) -> usize {
        match self.headcount {
            Some(count) => count as usize,
            None => self.users.len(),
        }
    }

    /// Replaces who is in the room.
    pub fn set_users(&mut self, users: impl IntoIterator<Item = String>) {
        let mut users: Vec<String> = users.into_iter().collect();
        users.sort_by_key(|u| name_key(u));
        users.dedup_by_key(|u| name_key(u));
        self.users = users.into_iter().collect();
    }

    /// Someone joined.
    pub fn add_user(&mut self, name: &str) {
        if !self.has_user(name) {
            let users: Vec<String> = self.users.iter().cloned().collect();
            self.set_users(users.into_iter().chain([name.to_owned()]));
        }
    }

    /// Someone left.
    pub fn remove_user(&mut self, name: &str) {
        let key = name_key(name);
        self.users.retain(|u| name_key(u) != key);
    }

    /// Whether `name` is in the room (any case).
    pub fn has_user(&self, name: &str) -> bool {
        let key = name_key(name);
        self.users.iter().any(|u| name_key(u) == key)
    }

    /// `from` is now called `to`; whether `from` was in the room.
    pub fn rename_user(&mut self, from: &str, to: &str) -> bool {
        if !self.has_user(from) {
            return false;
        }
        self.remove_user(from);
        self.add_user(to);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: Kind, own: bool, mention: bool, history: bool) -> ChatLine {
        ChatLine {
            own,
            mention,
            history,
            from: Some("bob".into()),
            ..local(kind, "hi")
        }
    }

    #[test]
    fn only_live_messages_from_others_count_as_unread() {
        let mut c = Conversation::new(1, Some("rust"), 10);
        c.count_unread(&line(Kind::Message, false, false, false));
        c.count_unread(&line(Kind::Action, false, true, false));
        c.count_unread(&line(Kind::Message, true, false, false));
        c.count_unread(&line(Kind::Message, false, false, true));
        c.count_unread(&line(Kind::Notice, false, false, false));
        assert_eq!((c.unread, c.mentions), (2, 1));
        c.mark_read();
        assert_eq!((c.unread, c.mentions), (0, 0));
    }

    #[test]
    fn users_are_sorted_unique_and_renamed_case_blind() {
        let mut c = Conversation::new(1, Some("Rust"), 10);
        assert_eq!(
            (c.key(), c.title()),
            ("rust".to_owned(), "#Rust".to_owned())
        );
        c.set_users(["bob".to_owned(), "Alice".to_owned(), "BOB".to_owned()]);
        assert_eq!(c.users.iter().collect::<Vec<_>>(), ["Alice", "bob"]);
        c.add_user("carol");
        c.add_user("Carol");
        assert_eq!(c.users.len(), 3);
        assert!(c.rename_user("ALICE", "zed"));
        assert!(!c.rename_user("nobody", "x"));
        assert_eq!(c.users.iter().collect::<Vec<_>>(), ["bob", "carol", "zed"]);
        c.joined = true;
        c.start_loading();
        c.leave();
        assert!(!c.joined && c.users.is_empty() && !c.loading_older);
    }
}
