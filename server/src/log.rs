//! Where a room's messages live once accepted: the [`RoomLog`] trait, and
//! [`LocalLog`], its single-server form (the newest messages in memory, all
//! of them in the SQLite [`Store`] when there is one).
//!
//! A room's broker only talks to the trait: it appends what it accepts,
//! replays the newest to newcomers and pages back through older ones. A log
//! kept elsewhere (a Redis stream for a cluster) is another implementation,
//! and everything above it stays the same.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chat_core::protocol::{now_millis, Replayed};
use tracing::warn;

use crate::history::{HistoryError, Store, MAX_PAGE};

/// Receives one page of history: the messages, oldest first, and whether
/// older ones remain. It may be called on another thread.
pub type PageAnswer = Box<dyn FnOnce(Vec<Replayed>, bool) + Send>;

/// A room's ordered log of messages.
pub trait RoomLog: Send + 'static {
    /// Accepts a message: gives it the room's next sequence number and
    /// keeps it. From now on it is part of the room's order and history.
    fn append(&mut self, item: Replayed) -> Replayed;

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

    fn named(&self, mut item: Replayed) -> Replayed {
        item.message.room = Some(self.name.clone());
        item
    }
}

impl RoomLog for LocalLog {
    fn append(&mut self, mut item: Replayed) -> Replayed {
        item.message.seq = self.next_seq;
        item.message.room = Some(self.name.clone());
        self.next_seq += 1;
        if let Some(store) = &self.store {
            store.append(&self.key, item.clone());
        }
        if self.keep > 0 {
            if self.recent.len() == self.keep {
                self.recent.pop_front();
            }
            self.recent.push_back(item.clone());
        }
        item
    }

    fn recent(&self, n: usize) -> Vec<Replayed> {
        let skip = self.recent.len().saturating_sub(n);
        self.recent
            .iter()
            .skip(skip)
            .map(|r| self.named(r.clone()))
            .collect()
    }

    fn page(&self, before: Option<u64>, limit: u32, answer: PageAnswer) {
        let limit = limit.min(MAX_PAGE);
        // The newest messages may not be in the database yet (the writer
        // commits in batches), so memory answers for them.
        let newest: Vec<Replayed> = self
            .recent
            .iter()
            .filter(|r| before.is_none_or(|b| r.message.seq < b))
            .rev()
            .take(limit as usize + 1)
            .map(|r| self.named(r.clone()))
            .collect();
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

/// The newest `limit` messages of a page from the database and the newest
/// from memory (each newest first or oldest first, overlapping or not),
/// oldest first, and whether older ones were left out.
fn merge_newest(stored: Vec<Replayed>, newest: Vec<Replayed>, limit: u32) -> (Vec<Replayed>, bool) {
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
        let first = log.append(item(0)).message.seq;
        let second = log.append(item(0)).message;
        assert_eq!(second.seq, first + 1);
        assert_eq!(second.room.as_deref(), Some("Rust"));
        log.append(item(0));
        let recent = log.recent(2);
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].message.seq, first + 1);
    }
}
