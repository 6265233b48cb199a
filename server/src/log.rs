//! Where a room's events live once accepted: the [`RoomLog`] trait, and
//! [`LocalLog`], its single-server form (the newest messages in memory, all
//! of them in the SQLite [`Store`] when there is one).
//!
//! A room's broker only talks to the trait: it appends what happens (what is
//! said, who joins, leaves or is renamed), replays the newest messages to
//! newcomers and pages back through older ones. The single-server log
//! accepts at once; the cluster's log (a Redis stream, `crate::cluster`)
//! accepts once the entry is in the stream, and the broker hears of it then,
//! with every other server's entries, through [`crate::room::ToRoom::Logged`].
//! Everything above the trait is the same for both.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chat_core::protocol::{now_millis, Replayed, TopicInfo};
use tracing::warn;

use crate::directory::ClientId;
use crate::history::{HistoryError, Store, MAX_PAGE};

/// Receives one page of history: the messages, oldest first, and whether
/// older ones remain. It may be called on another thread.
pub type PageAnswer = Box<dyn FnOnce(Vec<Replayed>, bool) + Send>;

/// What happens in a room, in its one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A message or action (numbered by the log).
    Said(Replayed),
    /// Someone came in.
    Joined { name: String },
    /// Someone left, for `reason`.
    Left { name: String, reason: String },
    /// A member changed name.
    Renamed { from: String, to: String },
    /// The topic changed.
    Topic(TopicInfo),
}

/// Who caused an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A connection of this server, with the id its request carried (the
    /// sender's echo carries it back).
    Here {
        client: ClientId,
        req_id: Option<String>,
    },
    /// Another server of the cluster, by node name.
    Node(String),
}

/// An entry the log accepted, and who caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub entry: Entry,
    pub source: Source,
}

/// A room's ordered log.
pub trait RoomLog: Send + 'static {
    /// Offers an entry. A message is given the room's next sequence number
    /// and kept: from then on it is part of the room's order and history.
    /// `Some` when it is accepted at once; `None` when it will come back
    /// through the room's queue once accepted (or be refused there).
    fn append(&mut self, entry: Entry, source: Source) -> Option<Logged>;

    /// An entry accepted elsewhere and delivered through the room's queue,
    /// about to be relayed: the log keeps what newcomers will be shown.
    fn delivered(&mut self, _logged: &Logged) {}

    /// Whether other servers write to this log too: then who is in the
    /// room is also told by entries from other nodes.
    fn shared(&self) -> bool {
        false
    }

    /// Entries offered faster than the log takes them, waiting: the broker
    /// awaits this before its next request, so a flood slows its senders
    /// down instead of losing their words. `None` when nothing waits.
    fn backlog(&mut self) -> Option<futures::future::BoxFuture<'static, ()>> {
        None
    }

    /// Who was in the room on other nodes when the log was opened, as
    /// (name, node); asked once, by the room's broker as it starts.
    fn elsewhere(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The room's topic as the log had it when opened (a cluster keeps
    /// it beside the stream); asked once, by the broker as it starts.
    fn topic(&mut self) -> Option<TopicInfo> {
        None
    }

    /// The newest `n` messages, oldest first: what a newcomer is shown.
    fn recent(&self, n: usize) -> Vec<Replayed>;

    /// Up to `limit` messages older than `before` (the newest without it),
    /// handed to `answer` when they are found. Never blocks the caller.
    fn page(&self, before: Option<u64>, limit: u32, answer: PageAnswer);
}

/// The single-server log: memory for the newest, SQLite for the rest.
#[derive(Debug)]
pub struct LocalLog {
    /// The room's key, under which the store files its messages.
    key: String,
    /// The room's name as people see it, set on every message handed out.
    name: String,
    next_seq: u64,
    /// The newest messages: replayed to newcomers, and answering for what
    /// the store's writer has not committed yet.
    recent: VecDeque<Replayed>,
    keep: usize,
    store: Option<Arc<Store>>,
}

impl LocalLog {
    /// The log of room `name` (key `key`), continuing what `store` holds.
    /// Blocks on the database: call from a blocking thread.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn open(
        store: Option<Arc<Store>>,
        key: &str,
        name: &str,
        replay: usize,
    ) -> Result<Self, HistoryError> {
        // Enough for the replay and for a page of history that the database
        // may not hold yet.
        let keep = replay.max(MAX_PAGE as usize);
        let (next_seq, recent) = match &store {
            Some(store) => {
                let loaded = store.load(key, keep)?;
                (loaded.next_seq, loaded.recent.into())
            }
            // With nothing stored, start from the clock (in microseconds,
            // well inside JSON's exact integers) so that numbers still rise
            // across restarts and clients never take new messages for old.
            None => (now_millis().saturating_mul(1000).max(1), VecDeque::new()),
        };
        Ok(Self {
            key: key.to_owned(),
            name: name.to_owned(),
            next_seq,
            recent,
            keep,
            store,
        })
    }
}

impl RoomLog for LocalLog {
    fn append(&mut self, entry: Entry, source: Source) -> Option<Logged> {
        let entry = match entry {
            Entry::Said(item) => Entry::Said(self.keep_message(item)),
            other => other,
        };
        Some(Logged { entry, source })
    }

    fn recent(&self, n: usize) -> Vec<Replayed> {
        recent_of(&self.recent, n, &self.name)
    }

    fn page(&self, before: Option<u64>, limit: u32, answer: PageAnswer) {
        let limit = limit.min(MAX_PAGE);
        // The newest messages may not be in the database yet (the writer
        // commits in batches), so memory answers for them.
        let newest = newest_before(&self.recent, before, limit, &self.name);
        let Some(store) = &self.store else {
            let (items, more) = merge_newest(Vec::new(), newest, limit);
            answer(items, more);
            return;
        };
        let reader = store.reader(&self.key);
        let name = self.name.clone();
        async_std::task::spawn_blocking(move || match reader.page(before, limit) {
            Ok((stored, more)) => {
                let stored = stored
                    .into_iter()
                    .map(|mut r| {
                        r.message.room = Some(name.clone());
                        r
                    })
                    .collect();
                let (items, more_in_memory) = merge_newest(stored, newest, limit);
                answer(items, more || more_in_memory);
            }
            Err(e) => {
                warn!(room = %name, error = %e, "history request failed");
                answer(Vec::new(), false);
            }
        });
    }
}

impl LocalLog {
    fn keep_message(&mut self, mut item: Replayed) -> Replayed {
        item.message.seq = self.next_seq;
        item.message.room = Some(self.name.clone());
        self.next_seq += 1;
        if let Some(store) = &self.store {
            store.append(&self.key, item.clone());
        }
        remember(&mut self.recent, self.keep, &item);
        item
    }
}

/// Keeps `item` as the newest of `recent`, which holds at most `keep`.
pub fn remember(recent: &mut VecDeque<Replayed>, keep: usize, item: &Replayed) {
    if keep > 0 {
        if recent.len() == keep {
            recent.pop_front();
        }
        recent.push_back(item.clone());
    }
}

/// The newest `n` of `recent`, oldest first, named for room `name`.
pub fn recent_of(recent: &VecDeque<Replayed>, n: usize, name: &str) -> Vec<Replayed> {
    let skip = recent.len().saturating_sub(n);
    recent.iter().skip(skip).map(|r| named(r, name)).collect()
}

/// Up to `limit + 1` of `recent` older than `before`, newest first.
pub fn newest_before(
    recent: &VecDeque<Replayed>,
    before: Option<u64>,
    limit: u32,
    name: &str,
) -> Vec<Replayed> {
    recent
        .iter()
        .filter(|r| before.is_none_or(|b| r.message.seq < b))
        .rev()
        .take(limit as usize + 1)
        .map(|r| named(r, name))
        .collect()
}

fn named(item: &Replayed, name: &str) -> Replayed {
    let mut item = item.clone();
    item.message.room = Some(name.to_owned());
    item
}

/// The newest `limit` messages of a page from the database and the newest
/// from memory (each newest first or oldest first, overlapping or not),
/// oldest first, and whether older ones were left out.
pub fn merge_newest(
    stored: Vec<Replayed>,
    newest: Vec<Replayed>,
    limit: u32,
) -> (Vec<Replayed>, bool) {
    let mut by_seq: BTreeMap<u64, Replayed> = stored
        .into_iter()
        .chain(newest)
        .map(|r| (r.message.seq, r))
        .collect();
    let mut more = false;
    while by_seq.len() > limit as usize {
        by_seq.pop_first();
        more = true;
    }
    (by_seq.into_values().collect(), more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::{ChatMessage, MessageKind};

    fn item(seq: u64) -> Replayed {
        Replayed {
            kind: MessageKind::Message,
            message: ChatMessage {
                room: None,
                seq,
                time: 0,
                from: "a".into(),
                text: seq.to_string(),
                id: None,
            },
        }
    }

    #[test]
    fn history_pages_merge_database_and_memory() {
        let stored = vec![item(1), item(2), item(3)];
        let newest = vec![item(5), item(4), item(3)];
        let (items, more) = merge_newest(stored, newest, 4);
        let seqs: Vec<u64> = items.iter().map(|r| r.message.seq).collect();
        assert_eq!((seqs, more), (vec![2, 3, 4, 5], true));
        let (items, more) = merge_newest(vec![], vec![item(2), item(1)], 5);
        assert_eq!((items.len(), more), (2, false));
    }

    #[test]
    fn a_memory_log_numbers_names_and_replays() {
        let mut log = LocalLog::open(None, "rust", "Rust", 2).unwrap_or_else(|e| panic!("{e}"));
        let said = |log: &mut LocalLog| {
            let here = Source::Here {
                client: 1,
                req_id: None,
            };
            match log.append(Entry::Said(item(0)), here).map(|l| l.entry) {
                Some(Entry::Said(said)) => said.message,
                other => panic!("a message was not accepted at once: {other:?}"),
            }
        };
        let first = said(&mut log).seq;
        let second = said(&mut log);
        assert_eq!(second.seq, first + 1);
        assert_eq!(second.room.as_deref(), Some("Rust"));
        said(&mut log);
        let recent = log.recent(2);
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].message.seq, first + 1);
    }
}
