//! A room's log as a Redis stream: [`RedisLog`], the cluster's
//! implementation of [`RoomLog`], and the node's one writer task.
//!
//! Each entry's id is `SEQ-0`, where SEQ is the room's sequence number
//! (from a counter beside the stream, started from the clock so numbers
//! keep rising even if Redis lost everything): paging back through history
//! is a range read, and clients see the same numbers on every node.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use async_std::channel::{Receiver, Sender};
use chat_core::protocol::{MessageKind, Replayed, TopicInfo};
use redis::streams::StreamRangeReply;
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::{keys, Backoff, Cluster, Lua, UNAVAILABLE};
use crate::directory::ClientId;
use crate::history::MAX_PAGE;
use crate::log::{
    merge_newest, newest_before, recent_of, remember, Entry, Logged, PageAnswer, RoomLog, Source,
};
use crate::room::ToRoom;

/// One stream entry, as stored (field `r`, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// `m` message, `a` action, `j` join, `l` leave, `r` rename.
    k: char,
    /// Who said it, joined, left, or the old name.
    n: String,
    /// The text, the reason for leaving, or the new name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    t: String,
    /// When, in milliseconds since the epoch.
    ts: u64,
    /// The node it came from.
    node: String,
    /// The client of that node, and the id its request carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<ClientId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
}

impl Record {
    /// The record of `entry`, caused by `source` on node `node`.
    pub fn new(entry: Entry, source: &Source, node: &str) -> Self {
        let (c, id) = match source {
            Source::Here { client, req_id } => (Some(*client), req_id.clone()),
            Source::Node(_) => (None, None),
        };
        let (k, n, t, ts) = match entry {
            Entry::Said(item) => {
                let k = match item.kind {
                    MessageKind::Action => 'a',
                    MessageKind::Message => 'm',
                };
                (k, item.message.from, item.message.text, item.message.time)
            }
            Entry::Joined { name } => ('j', name, String::new(), now()),
            Entry::Left { name, reason } => ('l', name, reason, now()),
            Entry::Renamed { from, to } => ('r', from, to, now()),
            Entry::Topic(topic) => ('t', topic.by.unwrap_or_default(), topic.topic, topic.time),
        };
        let node = match source {
            Source::Node(other) => other.clone(),
            Source::Here { .. } => node.to_owned(),
        };
        Self {
            k,
            n,
            t,
            ts,
            node,
            c,
            id,
        }
    }

    /// The entry this record holds, numbered `seq`, as node `me` sees it.
    pub fn logged(self, seq: u64, room: &str, me: &str) -> Option<Logged> {
        let entry = match self.k {
            'm' | 'a' => Entry::Said(Replayed {
                kind: if self.k == 'a' {
                    MessageKind::Action
                } else {
                    MessageKind::Message
                },
                message: chat_core::protocol::ChatMessage {
                    room: Some(room.to_owned()),
                    seq,
                    time: self.ts,
                    from: self.n,
                    text: self.t,
                    id: None,
                },
            }),
            'j' => Entry::Joined { name: self.n },
            'l' => Entry::Left {
                name: self.n,
                reason: self.t,
            },
            'r' => Entry::Renamed {
                from: self.n,
                to: self.t,
            },
            't' => Entry::Topic(TopicInfo {
                room: room.to_owned(),
                topic: self.t,
                by: (!self.n.is_empty()).then_some(self.n),
                time: self.ts,
            }),
            _ => return None,
        };
        let source = if self.node == me {
            Source::Here {
                client: self.c.unwrap_or(0),
                req_id: self.id,
            }
        } else {
            Source::Node(self.node)
        };
        Some(Logged { entry, source })
    }
}

fn now() -> u64 {
    chat_core::protocol::now_millis()
}

/// The sequence number in an entry id `SEQ-0`.
pub fn seq_of(id: &str) -> Option<u64> {
    id.split('-').next()?.parse().ok()
}

/// Decodes one entry of a stream read.
pub fn decode(id: &redis::streams::StreamId, room: &str, me: &str) -> Option<Logged> {
    let seq = seq_of(&id.id)?;
    let json: String = id.get("r")?;
    let record: Record = serde_json::from_str(&json).ok()?;
    record.logged(seq, room, me)
}

/// Appends an entry to a room's stream, numbering it, and keeps the room's
/// member lists (the room's, by node; the node's, by room) in step.
/// KEYS: stream, counter, room's members, node's members, room's topic.
/// ARGV: max length (0: all), record, kind, name, node, room key, new name.
pub(super) static APPEND: Lua = Lua::new(
    r"
local seq = redis.call('INCR', KEYS[2])
if seq == 1 then
  local t = redis.call('TIME')
  seq = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('SET', KEYS[2], string.format('%.0f', seq))
end
local id = string.format('%.0f-0', seq)
if ARGV[1] == '0' then
  redis.call('XADD', KEYS[1], id, 'r', ARGV[2])
else
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], id, 'r', ARGV[2])
end
local k = ARGV[3]
if k == 'j' then
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
  redis.call('SADD', KEYS[4], ARGV[6] .. '\t' .. ARGV[4])
elseif k == 'l' then
  if redis.call('HGET', KEYS[3], ARGV[4]) == ARGV[5] then redis.call('HDEL', KEYS[3], ARGV[4]) end
  redis.call('SREM', KEYS[4], ARGV[6] .. '\t' .. ARGV[4])
elseif k == 'r' then
  redis.call('HDEL', KEYS[3], ARGV[4])
  redis.call('HSET', KEYS[3], ARGV[7], ARGV[5])
  redis.call('SREM', KEYS[4], ARGV[6] .. '\t' .. ARGV[4])
  redis.call('SADD', KEYS[4], ARGV[6] .. '\t' .. ARGV[7])
elseif k == 't' then
  redis.call('SET', KEYS[5], ARGV[2])
end
return seq
",
);

/// An entry on its way into a room's stream.
#[derive(Debug)]
pub struct Append {
    room: String,
    record: Record,
    /// The room's broker, told when a member's message was refused.
    tx: Option<Sender<ToRoom>>,
}

/// The command that appends `record` to room `room`'s stream.
pub fn append_command(room: &str, record: &Record, max_len: u64) -> redis::Cmd {
    let json = serde_json::to_string(record).unwrap_or_default();
    let mut cmd = APPEND.cmd();
    cmd.arg(5)
        .arg(keys::stream(room))
        .arg(keys::seq(room))
        .arg(keys::who(room))
        .arg(keys::node_who(&record.node))
        .arg(keys::topic(room))
        .arg(max_len)
        .arg(json)
        .arg(record.k.to_string())
        .arg(&record.n)
        .arg(&record.node)
        .arg(room)
        .arg(&record.t);
    cmd
}

/// The node's writer: appends entries in the order they were offered, many
/// to a round trip; when Redis fails, tells each sender nothing was sent.
pub async fn write_loop(cluster: Arc<Cluster>, appends: Receiver<Append>) {
    let mut backoff = Backoff::new();
    while let Ok(first) = appends.recv().await {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match appends.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        for append in &batch {
            pipe.add_command(append_command(
                &append.room,
                &append.record,
                cluster.max_len,
            ))
            .ignore();
        }
        let sent = cluster.query::<()>(&pipe).await;
        match sent {
            Ok(()) => backoff.reset(),
            Err(e) => {
                warn!(error = %e, entries = batch.len(), "could not append to the rooms' streams");
                // What queued behind is refused too, now, rather than sent
                // late without its senders knowing.
                while let Ok(next) = appends.try_recv() {
                    batch.push(next);
                }
                for append in batch {
                    let (Some(tx), Some(id)) = (append.tx, append.record.c) else {
                        continue;
                    };
                    if matches!(append.record.k, 'm' | 'a') {
                        let refused = ToRoom::Refused {
                            id,
                            req_id: append.record.id,
                            why: UNAVAILABLE.to_owned(),
                        };
                        let _ = tx.try_send(refused);
                    }
                }
                // Do not hammer a Redis that is down; what queues meanwhile
                // is tried (and most likely refused) after the pause.
                backoff.wait().await;
            }
        }
    }
}

/// A room's log in the cluster: the stream is the log; the newest
/// messages are kept here too, for newcomers and the first pages.
pub struct RedisLog {
    cluster: Arc<Cluster>,
    key: String,
    name: String,
    tx: Sender<ToRoom>,
    recent: VecDeque<Replayed>,
    keep: usize,
    /// Whether older messages than `recent` holds may be in the stream.
    older: bool,
    /// Members on other nodes when the log was opened.
    elsewhere: Vec<(String, String)>,
    /// The topic when the log was opened.
    topic: Option<TopicInfo>,
    /// Entries the writer had no room for yet, in order.
    waiting: Vec<Append>,
}

impl std::fmt::Debug for RedisLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLog").field("room", &self.key).finish()
    }
}

impl RedisLog {
    /// Opens room `key`'s log (`name` as people see it): reads the newest
    /// entries and who is in the room on other nodes in one transaction,
    /// then has the node's reader follow the stream from there for `tx`.
    /// Retries until Redis answers.
    pub async fn open(
        cluster: Arc<Cluster>,
        key: &str,
        name: &str,
        replay: usize,
        tx: Sender<ToRoom>,
    ) -> Self {
        let keep = replay.max(MAX_PAGE as usize);
        let mut backoff = Backoff::new();
        let (entries, who, topic) = loop {
            let stream = keys::stream(key);
            let who = keys::who(key);
            let topic = keys::topic(key);
            let read = cluster
                .query::<(StreamRangeReply, BTreeMap<String, String>, Option<String>)>(
                    redis::pipe()
                        .atomic()
                        .cmd("XREVRANGE")
                        .arg(&stream)
                        .arg("+")
                        .arg("-")
                        .arg("COUNT")
                        .arg(keep * 2)
                        .cmd("HGETALL")
                        .arg(&who)
                        .cmd("GET")
                        .arg(&topic),
                )
                .await;
            match read {
                Ok(read) => break read,
                Err(e) => {
                    warn!(room = %name, error = %e, "cannot open the room's stream; retrying");
                    backoff.wait().await;
                }
            }
        };
        let from = entries
            .ids
            .first()
            .map_or_else(|| "0-0".to_owned(), |id| id.id.clone());
        let older = entries.ids.len() >= keep * 2;
        let mut recent = VecDeque::new();
        for id in entries.ids.iter().rev() {
            if let Some(Logged {
                entry: Entry::Said(item),
                ..
            }) = decode(id, name, cluster.node())
            {
                remember(&mut recent, keep, &item);
            }
        }
        let topic = topic
            .and_then(|json| serde_json::from_str::<Record>(&json).ok())
            .and_then(|record| match record.logged(0, name, cluster.node()) {
                Some(Logged {
                    entry: Entry::Topic(topic),
                    ..
                }) => Some(topic),
                _ => None,
            });
        let elsewhere = who
            .into_iter()
            .filter(|(_, node)| node != cluster.node())
            .collect();
        cluster.watch(key, from, tx.clone()).await;
        Self {
            cluster,
            key: key.to_owned(),
            name: name.to_owned(),
            tx,
            recent,
            keep,
            older,
            elsewhere,
            topic,
            waiting: Vec::new(),
        }
    }
}

impl Drop for RedisLog {
    fn drop(&mut self) {
        self.cluster.unwatch(&self.key);
    }
}
impl RoomLog for RedisLog {
    fn append(&mut self, entry: Entry, source: Source) -> Option<Logged> {
        self.cluster.note_presence(&self.key, &entry);
        let record = Record::new(entry, &source, self.cluster.node());
        let append = Append {
            room: self.key.clone(),
            record,
            tx: Some(self.tx.clone()),
        };
        // Behind what already waits, to keep the order.
        if !self.waiting.is_empty() {
            self.waiting.push(append);
            return None;
        }
        match self.cluster.appends.try_send(append) {
            Ok(()) => {}
            Err(async_std::channel::TrySendError::Full(append)) => self.waiting.push(append),
            // The writer is gone only when the server is stopping.
            Err(async_std::channel::TrySendError::Closed(_)) => {}
        }
        None
    }

    fn backlog(&mut self) -> Option<futures::future::BoxFuture<'static, ()>> {
        if self.waiting.is_empty() {
            return None;
        }
        let waiting = std::mem::take(&mut self.waiting);
        let appends = self.cluster.appends.clone();
        Some(Box::pin(async move {
            for append in waiting {
                if appends.send(append).await.is_err() {
                    break;
                }
            }
        }))
    }

    fn delivered(&mut self, logged: &Logged) {
        if let Entry::Said(item) = &logged.entry {
            if self.recent.len() == self.keep {
                self.older = true;
            }
            remember(&mut self.recent, self.keep, item);
        }
    }

    fn shared(&self) -> bool {
        true
    }

    fn elsewhere(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.elsewhere)
    }

    fn topic(&mut self) -> Option<TopicInfo> {
        self.topic.take()
    }

    fn recent(&self, n: usize) -> Vec<Replayed> {
        recent_of(&self.recent, n, &self.name)
    }

    fn page(&self, before: Option<u64>, limit: u32, answer: PageAnswer) {
        let limit = limit.min(MAX_PAGE);
        let newest = newest_before(&self.recent, before, limit, &self.name);
        if newest.len() > limit as usize || !self.older {
            let (items, more) = merge_newest(Vec::new(), newest, limit);
            answer(items, more);
            return;
        }
        let (cluster, key, name) = (self.cluster.clone(), self.key.clone(), self.name.clone());
        async_std::task::spawn(async move {
            match page(&cluster, &key, &name, before, limit).await {
                Ok((stored, more)) => {
                    let (items, more_here) = merge_newest(stored, newest, limit);
                    answer(items, more || more_here);
                }
                Err(e) => {
                    warn!(room = %name, error = %e, "history request failed");
                    answer(Vec::new(), false);
                }
            }
        });
    }
}

/// Up to `limit` messages of room `key` older than `before`, oldest first,
/// and whether older ones remain, read back from the stream.
async fn page(
    cluster: &Cluster,
    key: &str,
    name: &str,
    before: Option<u64>,
    limit: u32,
) -> Result<(Vec<Replayed>, bool), super::Unavailable> {
    let stream = keys::stream(key);
    let mut end = before.map_or_else(|| "+".to_owned(), |b| format!("({b}-0"));
    let mut found = Vec::new();
    loop {
        let want = (limit as usize + 1 - found.len()).max(16);
        let read: StreamRangeReply = cluster
            .query(
                redis::cmd("XREVRANGE")
                    .arg(&stream)
                    .arg(&end)
                    .arg("-")
                    .arg("COUNT")
                    .arg(want),
            )
            .await?;
        let exhausted = read.ids.len() < want;
        for id in &read.ids {
            if let Some(Logged {
                entry: Entry::Said(item),
                ..
            }) = decode(id, name, cluster.node())
            {
                found.push(item);
            }
        }
        if found.len() > limit as usize || exhausted {
            let more = found.len() > limit as usize;
            found.truncate(limit as usize);
            found.reverse();
            return Ok((found, more));
        }
        match read.ids.last() {
            Some(last) => end = format!("({}", last.id),
            None => return Ok((Vec::new(), false)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::ChatMessage;

    #[test]
    fn records_carry_entries_and_their_source() {
        let said = Entry::Said(Replayed {
            kind: MessageKind::Action,
            message: ChatMessage {
                room: None,
                seq: 0,
                time: 5,
                from: "ann".into(),
                text: "waves".into(),
                id: None,
            },
        });
        let here = Source::Here {
            client: 7,
            req_id: Some("r1".into()),
        };
        let record = Record::new(said, &here, "a");
        let json = serde_json::to_string(&record).unwrap_or_default();
        let back: Record = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        // Seen on its own node, it is this node's client's, with its id.
        let mine = back.clone().logged(12, "Rust", "a");
        assert!(
            matches!(&mine, Some(Logged { source, .. }) if *source == here),
            "{mine:?}"
        );
        // Seen on another node, it is node a's.
        let theirs = back.logged(12, "Rust", "b");
        match theirs {
            Some(Logged {
                entry: Entry::Said(item),
                source: Source::Node(node),
            }) => {
                assert_eq!(node, "a");
                assert_eq!((item.message.seq, item.kind), (12, MessageKind::Action));
                assert_eq!(item.message.room.as_deref(), Some("Rust"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(seq_of("1765000000000001-0"), Some(1_765_000_000_000_001));
    }
}
