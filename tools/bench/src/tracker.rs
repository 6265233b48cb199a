//! What one receiving client checks about the messages it gets: each
//! tracked sender's messages arrive once, intact, and in the order sent.

use std::collections::HashMap;
use std::sync::Arc;

use crate::msgtext;

/// Sender names, by sender index.
#[derive(Debug, Clone)]
pub struct Senders {
    names: Arc<[String]>,
    index: Arc<HashMap<String, u32>>,
}

impl Senders {
    /// The senders, in index order.
    pub fn new(names: Vec<String>) -> Self {
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        Self {
            names: names.into(),
            index: Arc::new(index),
        }
    }

    /// How many senders there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The index of a sender's name.
    pub fn index_of(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    /// A sender's name.
    pub fn name(&self, i: u32) -> Option<&str> {
        self.names.get(i as usize).map(String::as_str)
    }
}

/// What one message turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// First copy, in order; carries the latency in nanoseconds.
    Delivered(u64),
    /// First copy, but after a later message of the same sender.
    OutOfOrder(u64),
    /// A copy already seen.
    Duplicate,
    /// From a tracked sender, but the text is damaged or names someone else.
    Corrupted,
    /// From someone not tracked (churners, flooders, other people).
    Foreign,
}

#[derive(Debug, Default, Clone)]
struct PerSender {
    seen: Vec<u64>,
    count: u64,
    last: Option<u64>,
}

impl PerSender {
    fn has(&self, num: u64) -> bool {
        self.seen
            .get((num / 64) as usize)
            .is_some_and(|w| w & (1 << (num % 64)) != 0)
    }

    fn mark(&mut self, num: u64) {
        let word = (num / 64) as usize;
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        self.seen[word] |= 1 << (num % 64);
        self.count += 1;
    }
}

/// Counts for one receiver.
#[derive(Debug, Clone)]
pub struct Tracker {
    senders: Senders,
    per_sender: Vec<PerSender>,
    /// Messages largest plausible number; anything above is corruption.
    max_num: u64,
    /// First copies seen (in order or not).
    pub delivered: u64,
    /// First copies that came after a later message of their sender.
    pub out_of_order: u64,
    /// Copies seen more than once.
    pub duplicated: u64,
    /// Damaged texts from tracked senders.
    pub corrupted: u64,
    /// Messages from untracked senders.
    pub foreign: u64,
}

impl Tracker {
    /// A tracker for `senders`, each sending fewer than `max_num` messages.
    pub fn new(senders: Senders, max_num: u64) -> Self {
        Self {
            per_sender: vec![PerSender::default(); senders.len()],
            senders,
            max_num,
            delivered: 0,
            out_of_order: 0,
            duplicated: 0,
            corrupted: 0,
            foreign: 0,
        }
    }

    /// Checks one received message; `now_nanos` is the receipt time on the
    /// same clock as the send stamps.
    pub fn on_message(&mut self, from: &str, text: &str, now_nanos: u64) -> Outcome {
        let Some(from_index) = self.senders.index_of(from) else {
            self.foreign += 1;
            return Outcome::Foreign;
        };
        let stamp = match msgtext::parse(text) {
            Ok(s) if s.sender == from_index && s.num < self.max_num => s,
            _ => {
                self.corrupted += 1;
                return Outcome::Corrupted;
            }
        };
        let state = &mut self.per_sender[from_index as usize];
        if state.has(stamp.num) {
            self.duplicated += 1;
            return Outcome::Duplicate;
        }
        state.mark(stamp.num);
        self.delivered += 1;
        let latency = now_nanos.saturating_sub(stamp.sent_nanos);
        match state.last {
            Some(last) if last > stamp.num => {
                self.out_of_order += 1;
                Outcome::OutOfOrder(latency)
            }
            _ => {
                state.last = Some(stamp.num);
                Outcome::Delivered(latency)
            }
        }
    }

    /// Whether message `num` of sender `sender` arrived.
    pub fn has(&self, sender: u32, num: u64) -> bool {
        self.per_sender
            .get(sender as usize)
            .is_some_and(|s| s.has(num))
    }

    /// Distinct messages seen from one sender.
    pub fn count(&self, sender: u32) -> u64 {
        self.per_sender.get(sender as usize).map_or(0, |s| s.count)
    }

    /// The senders this tracker knows.
    pub fn senders(&self) -> &Senders {
        &self.senders
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgtext::{encode, Stamp};

    fn text(sender: u32, num: u64, at: u64) -> String {
        encode(
            Stamp {
                sender,
                num,
                sent_nanos: at,
            },
            48,
        )
    }

    fn tracker() -> Tracker {
        Tracker::new(Senders::new(vec!["a".into(), "b".into()]), 100)
    }

    #[test]
    fn counts_every_kind_of_arrival() {
        let mut t = tracker();
        assert_eq!(
            t.on_message("a", &text(0, 0, 10), 25),
            Outcome::Delivered(15)
        );
        assert_eq!(
            t.on_message("a", &text(0, 2, 10), 30),
            Outcome::Delivered(20)
        );
        assert_eq!(
            t.on_message("a", &text(0, 1, 10), 30),
            Outcome::OutOfOrder(20)
        );
        assert_eq!(t.on_message("a", &text(0, 2, 10), 30), Outcome::Duplicate);
        assert_eq!(t.on_message("b", &text(0, 3, 10), 30), Outcome::Corrupted);
        assert_eq!(t.on_message("b", "hello", 30), Outcome::Corrupted);
        assert_eq!(t.on_message("b", &text(1, 100, 10), 30), Outcome::Corrupted);
        assert_eq!(t.on_message("zed", "hi", 30), Outcome::Foreign);
        assert_eq!(
            t.on_message("b", &text(1, 99, 40), 30),
            Outcome::Delivered(0)
        );
        assert_eq!((t.delivered, t.out_of_order, t.duplicated), (4, 1, 1));
        assert_eq!((t.corrupted, t.foreign), (3, 1));
        assert_eq!((t.count(0), t.count(1)), (3, 1));
        assert!(t.has(0, 1) && t.has(1, 99) && !t.has(1, 0) && !t.has(7, 0));
    }
}
