//! The node's one reader: follows, with a single blocking `XREAD`, the
//! streams of every room that has members on this node and the node's own
//! inbox, and hands each room's new entries to its broker in order.
//!
//! It remembers the last entry it read of each stream, so after Redis comes
//! back it carries on from there: nothing twice, nothing out of order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_std::channel::{Receiver, Sender};
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::AsyncConnectionConfig;
use tracing::{info, warn};

use super::stream::decode;
use super::{keys, Backoff, Cluster, InboxItem};
use crate::directory::Internal;
use crate::room::ToRoom;

/// How long one read waits for news before it looks at its list again.
const BLOCK: Duration = Duration::from_secs(5);

/// Changes to what the reader follows.
#[derive(Debug)]
pub enum Watch {
    /// Follow `stream` after entry `from`, for the broker `tx`.
    Add {
        stream: String,
        from: String,
        tx: Sender<ToRoom>,
    },
    /// Stop following `stream`.
    Remove { stream: String },
}

struct Followed {
    last: String,
    tx: Sender<ToRoom>,
    /// The room's name as people see it (from the broker's log, through
    /// the entries' room field).
    room: String,
}

/// Reads until the server stops (when every sender of `watch` is gone).
pub async fn read_loop(
    cluster: Arc<Cluster>,
    client: redis::Client,
    watch: Receiver<Watch>,
    inbox_from: String,
    directory: Sender<Internal>,
) {
    let inbox = keys::inbox(cluster.node());
    let mut inbox_last = inbox_from;
    let mut followed: HashMap<String, Followed> = HashMap::new();
    let mut conn = None;
    let mut backoff = Backoff::new();
    let mut failed = false;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(BLOCK + Duration::from_secs(5)));
    loop {
        loop {
            match watch.try_recv() {
                Ok(Watch::Add { stream, from, tx }) => {
                    let room = stream.trim_start_matches("chat:room:").to_owned();
                    followed.insert(
                        stream,
                        Followed {
                            last: from,
                            tx,
                            room,
                        },
                    );
                }
                Ok(Watch::Remove { stream }) => {
                    followed.remove(&stream);
                }
                Err(async_std::channel::TryRecvError::Empty) => break,
                Err(async_std::channel::TryRecvError::Closed) => return,
            }
        }
        let mut connection = match conn.take() {
            Some(c) => c,
            None => match client
                .get_multiplexed_async_connection_with_config(&config)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    if !failed {
                        warn!(error = %e, "lost Redis; retrying");
                        failed = true;
                    }
                    backoff.wait().await;
                    continue;
                }
            },
        };
        let mut streams = vec![inbox.clone()];
        let mut ids = vec![inbox_last.clone()];
        for (stream, f) in &followed {
            streams.push(stream.clone());
            ids.push(f.last.clone());
        }
        let options = StreamReadOptions::default()
            .block(BLOCK.as_millis() as usize)
            .count(1024);
        let read: redis::RedisResult<Option<StreamReadReply>> = redis::cmd("XREAD")
            .arg(&options)
            .arg("STREAMS")
            .arg(&streams)
            .arg(&ids)
            .query_async(&mut connection)
            .await;
        let reply = match read {
            Ok(reply) => {
                if failed {
                    info!("Redis is back");
                    failed = false;
                }
                backoff.reset();
                conn = Some(connection);
                reply
            }
            Err(e) => {
                if !failed {
                    warn!(error = %e, "lost Redis; retrying");
                    failed = true;
                }
                backoff.wait().await;
                continue;
            }
        };
        let Some(reply) = reply else {
            continue;
        };
        for key in reply.keys {
            if key.key == inbox {
                for id in &key.ids {
                    inbox_last.clone_from(&id.id);
                    let item = id
                        .get::<String>("i")
                        .and_then(|json| serde_json::from_str::<InboxItem>(&json).ok());
                    match item {
                        Some(InboxItem::Wake) | None => {}
                        Some(item) => {
                            let _ = directory.send(Internal::Inbox(item)).await;
                        }
                    }
                }
                continue;
            }
            let Some(f) = followed.get_mut(&key.key) else {
                continue;
            };
            let batch: Vec<_> = key
                .ids
                .iter()
                .filter_map(|id| decode(id, &f.room, cluster.node()))
                .collect();
            if let Some(last) = key.ids.last() {
                f.last.clone_from(&last.id);
            }
            if !batch.is_empty() && f.tx.send(ToRoom::Logged(batch)).await.is_err() {
                followed.remove(&key.key);
            }
        }
    }
}
