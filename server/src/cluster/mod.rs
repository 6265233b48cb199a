//! The cluster engine: several servers serving the same rooms and names
//! through Redis (`--cluster redis://…`).
//!
//! - A room's log is a Redis stream ([`stream::RedisLog`]): a node accepts
//!   what is said, and who joins, leaves or is renamed, by appending it
//!   (one writer task per node, pipelined); one reader task per node reads
//!   the streams of the rooms that have members here, with its own inbox
//!   ([`reader`]), and hands each room's entries to its broker. The
//!   stream's order is the room's order on every node, and its entries are
//!   the history.
//! - Names are keys that expire unless the node holding them renews them;
//!   a heartbeat says the node is alive, and when one stops, exactly one
//!   survivor announces its users' departures ([`presence`]).
//! - Private messages and kicks go to the recipient's node through that
//!   node's inbox stream.
//!
//! Everything above [`crate::log::RoomLog`] is the same with or without a
//! cluster; the directory only asks this module about names and nodes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_std::channel::Sender;
use chat_core::names::name_keys;
use futures::future::BoxFuture;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ServerErrorKind};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::directory::{ClientId, Internal};
use crate::room::ToRoom;

pub mod presence;
pub mod reader;
pub mod stream;

/// What a refused message's sender reads.
pub const UNAVAILABLE: &str = "the chat is unavailable right now: nothing was sent";

/// How long a name is held without its node renewing it.
const NAME_TTL: Duration = Duration::from_secs(10);

/// Where the cluster is and who this node is in it.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://host:port` (with `/db`, user and password as Redis URLs
    /// allow).
    pub url: String,
    /// This node's name, unique in the cluster.
    pub node: String,
}

/// Why a node cannot join its cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The URL is not a Redis URL.
    #[error("bad --cluster address {url}: {source}")]
    Url {
        url: String,
        source: redis::RedisError,
    },
    /// Redis did not answer.
    #[error("cannot reach Redis at {url}: {source}")]
    Unreachable {
        url: String,
        source: redis::RedisError,
    },
    /// The node name cannot be used in keys.
    #[error("bad --node name {0:?}: use 1-64 letters, digits, '-', '_' or '.'")]
    BadNode(String),
}

/// Redis could not be reached for a request: nothing was done.
#[derive(Debug, thiserror::Error)]
#[error("Redis is unavailable: {0}")]
pub struct Unavailable(#[from] redis::RedisError);

/// Where a name is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub node: String,
    pub client: ClientId,
    pub name: String,
}

impl Holder {
    fn encode(&self) -> String {
        format!("{}\t{}\t{}", self.node, self.client, self.name)
    }

    fn decode(value: &str) -> Option<Self> {
        let mut parts = value.splitn(3, '\t');
        let node = parts.next()?.to_owned();
        let client = parts.next()?.parse().ok()?;
        let name = parts.next()?.to_owned();
        Some(Self { node, client, name })
    }
}

/// Something for one node's clients, through its inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum InboxItem {
    /// A private message for the client `to` (holding name `to_name`).
    Private {
        to: ClientId,
        to_name: String,
        from: String,
        text: String,
        time: u64,
    },
    /// An operator (`by`) on another node put the client out.
    Kick {
        to: ClientId,
        to_name: String,
        by: String,
        why: String,
    },
    /// Nothing: wakes the node's reader when it has new streams to read.
    Wake,
}

/// Redis key names, in one place.
pub(crate) mod keys {
    pub fn stream(room: &str) -> String {
        format!("chat:room:{room}")
    }
    pub fn seq(room: &str) -> String {
        format!("chat:room:{room}:seq")
    }
    pub fn who(room: &str) -> String {
        format!("chat:room:{room}:who")
    }
    pub fn topic(room: &str) -> String {
        format!("chat:room:{room}:topic")
    }
    pub fn name(key: &str) -> String {
        format!("chat:name:{key}")
    }
    pub fn alive(node: &str) -> String {
        format!("chat:node:{node}:alive")
    }
    pub fn node_who(node: &str) -> String {
        format!("chat:node:{node}:who")
    }
    pub fn node_names(node: &str) -> String {
        format!("chat:node:{node}:names")
    }
    pub fn inbox(node: &str) -> String {
        format!("chat:node:{node}:inbox")
    }
    pub fn reap(node: &str) -> String {
        format!("chat:reap:{node}")
    }
    pub const NODES: &str = "chat:nodes";
}

/// A connection for short commands, made again after Redis went away.
struct Link {
    client: redis::Client,
    conn: async_std::sync::Mutex<Option<MultiplexedConnection>>,
}

impl Link {
    fn config() -> AsyncConnectionConfig {
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)))
    }

    async fn get(&self) -> Result<MultiplexedConnection, Unavailable> {
        let mut conn = self.conn.lock().await;
        if let Some(conn) = conn.as_ref() {
            return Ok(conn.clone());
        }
        let fresh = self
            .client
            .get_multiplexed_async_connection_with_config(&Self::config())
            .await?;
        *conn = Some(fresh.clone());
        Ok(fresh)
    }

    /// Forgets a connection that failed, so the next request dials
    /// again; whether it did.
    async fn failed(&self, error: &redis::RedisError) -> bool {
        let broken = error.is_io_error()
            || error.is_connection_dropped()
            || error.is_timeout()
            || error.is_connection_refusal()
            || error.is_unrecoverable_error();
        if broken {
            *self.conn.lock().await = None;
        }
        broken
    }
}

/// This node's hold on the cluster: shared by the directory, the rooms'
/// logs, the reader, the writer and the heartbeat.
pub struct Cluster {
    node: String,
    link: Link,
    /// Messages newer than this many are trimmed from a room's stream
    /// (`MAXLEN ~`); 0 keeps all.
    max_len: u64,
    appends: Sender<stream::Append>,
    watch: Sender<reader::Watch>,
    /// Name keys this node holds, with their values, renewed by the
    /// heartbeat (and written again if Redis lost them).
    held: Mutex<HashMap<String, String>>,
    /// (room key, name) of this node's members of every room, written
    /// again if Redis lost the rooms' member lists.
    present: Mutex<std::collections::HashSet<(String, String)>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("node", &self.node).finish()
    }
}

impl Cluster {
    /// Joins the cluster: checks Redis answers, announces the departure of
    /// whoever this node held before it restarted, and starts the node's
    /// writer, reader and heartbeat. Inbox items and the end of the
    /// reader go to the directory through `directory`.
    ///
    /// # Errors
    /// When the URL is wrong or Redis does not answer.
    pub async fn start(
        config: &ClusterConfig,
        max_len: u64,
        directory: Sender<Internal>,
    ) -> Result<Arc<Self>, ClusterError> {
        let node = &config.node;
        let valid = !node.is_empty()
            && node.len() <= 64
            && node
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            return Err(ClusterError::BadNode(node.clone()));
        }
        let client =
            redis::Client::open(config.url.as_str()).map_err(|source| ClusterError::Url {
                url: config.url.clone(),
                source,
            })?;
        let unreachable = |source| ClusterError::Unreachable {
            url: config.url.clone(),
            source,
        };
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&Link::config())
            .await
            .map_err(unreachable)?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unreachable)?;
        let (appends, appends_rx) = async_std::channel::bounded(4096);
        let (watch, watch_rx) = async_std::channel::unbounded();
        let cluster = Arc::new(Self {
            node: node.clone(),
            link: Link {
                client: client.clone(),
                conn: async_std::sync::Mutex::new(Some(conn)),
            },
            max_len,
            appends,
            watch,
            held: Mutex::new(HashMap::new()),
            present: Mutex::new(std::collections::HashSet::new()),
        });
        // A node that restarts under its name first says goodbye for the
        // users it had: their connections are gone.
        if let Err(e) = presence::reap(&cluster, node).await {
            warn!(error = %e, "could not clear what this node held before");
        }
        presence::beat(&cluster).await;
        let inbox_from = cluster
            .last_id(&keys::inbox(node))
            .await
            .map_err(|e| unreachable(e.0))?;
        async_std::task::spawn(stream::write_loop(cluster.clone(), appends_rx));
        async_std::task::spawn(reader::read_loop(
            cluster.clone(),
            client,
            watch_rx,
            inbox_from,
            directory,
        ));
        async_std::task::spawn(presence::heartbeat(cluster.clone()));
        info!(node = %node, url = %config.url, "joined the cluster");
        Ok(cluster)
    }

    /// The id of the newest entry of `stream` (`0-0` when it is empty).
    async fn last_id(&self, stream: &str) -> Result<String, Unavailable> {
        let stream = stream.to_owned();
        let newest: redis::streams::StreamRangeReply = self
            .query(
                redis::cmd("XREVRANGE")
                    .arg(&stream)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1),
            )
            .await?;
        Ok(newest
            .ids
            .first()
            .map_or_else(|| "0-0".to_owned(), |id| id.id.clone()))
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Runs a command or a pipeline. A connection that broke while idle
    /// (Redis restarted) is only found out by using it, so a request that
    /// fails on a connection made earlier is tried once more on a new one.
    pub(crate) async fn query<T: redis::FromRedisValue + Send>(
        &self,
        request: &(impl Query + ?Sized),
    ) -> Result<T, Unavailable> {
        let (mut retried, mut loaded) = (false, false);
        loop {
            let mut conn = self.link.get().await?;
            match request.run(&mut conn).await {
                Ok(value) => return Ok(value),
                Err(e)
                    if !loaded
                        && e.kind() == redis::ErrorKind::Server(ServerErrorKind::NoScript) =>
                {
                    // Redis restarted (or flushed its scripts) since they
                    // were loaded: load them, and try once more.
                    self.load_scripts().await?;
                    loaded = true;
                }
                Err(e) => {
                    let broken = self.link.failed(&e).await;
                    if !broken || retried {
                        return Err(Unavailable(e));
                    }
                    retried = true;
                }
            }
        }
    }

    /// Loads every script the node runs by its hash into Redis.
    pub(crate) async fn load_scripts(&self) -> Result<(), Unavailable> {
        let mut pipe = redis::pipe();
        for lua in [&stream::APPEND, &CLAIM, &FREE] {
            pipe.cmd("SCRIPT").arg("LOAD").arg(lua.code).ignore();
        }
        let mut conn = self.link.get().await?;
        pipe.query_async::<()>(&mut conn).await.map_err(Unavailable)
    }

    /// Claims `name` for client `client` of this node in the whole
    /// cluster. `Ok(None)` when it is now held here; `Ok(Some(holder))`
    /// when another client holds it (or a name that looks the same).
    pub async fn claim(&self, name: &str, client: ClientId) -> Result<Option<Holder>, Unavailable> {
        let holder = Holder {
            node: self.node.clone(),
            client,
            name: name.to_owned(),
        };
        let value = holder.encode();
        let owner = format!("{}\t{}\t", self.node, client);
        let keys: Vec<String> = name_keys(name).iter().map(|k| keys::name(k)).collect();
        let node_names = keys::node_names(&self.node);
        let mut script = CLAIM.cmd();
        script.arg(keys.len()).arg(&keys);
        script
            .arg(&value)
            .arg(NAME_TTL.as_millis() as u64)
            .arg(&node_names)
            .arg(&owner);
        let taken: Option<String> = self.query(&script).await?;
        if let Some(taken) = taken {
            return Ok(Holder::decode(&taken));
        }
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        for key in name_keys(name) {
            held.insert(keys::name(&key), holder.encode());
        }
        Ok(None)
    }

    /// Lets go of `name`, held by this node's client `client`.
    pub async fn free(&self, name: &str, client: ClientId) {
        let owner = format!("{}\t{}\t", self.node, client);
        let keys: Vec<String> = name_keys(name).iter().map(|k| keys::name(k)).collect();
        {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            for key in &keys {
                if held.get(key).is_some_and(|v| v.starts_with(&owner)) {
                    held.remove(key);
                }
            }
        }
        let node_names = keys::node_names(&self.node);
        let mut script = FREE.cmd();
        script.arg(keys.len()).arg(&keys);
        script.arg(&owner).arg(&node_names);
        let freed = self.query::<()>(&script).await;
        // Not renewed any more, it expires by itself.
        if let Err(e) = freed {
            warn!(name, error = %e, "could not free a name in Redis; it will expire");
        }
    }

    /// Notes who of this node is in room `room` after `entry`.
    pub(crate) fn note_presence(&self, room: &str, entry: &crate::log::Entry) {
        use crate::log::Entry;
        // Messages are the hot path: they never take the lock.
        if matches!(entry, Entry::Said(_) | Entry::Topic(_)) {
            return;
        }
        let mut present = self.present.lock().unwrap_or_else(|p| p.into_inner());
        match entry {
            Entry::Joined { name } => {
                present.insert((room.to_owned(), name.clone()));
            }
            Entry::Left { name, .. } => {
                present.remove(&(room.to_owned(), name.clone()));
            }
            Entry::Renamed { from, to } => {
                present.remove(&(room.to_owned(), from.clone()));
                present.insert((room.to_owned(), to.clone()));
            }
            Entry::Said(_) | Entry::Topic(_) => {}
        }
    }

    /// Who holds `name` anywhere in the cluster.
    pub async fn locate(&self, name: &str) -> Result<Option<Holder>, Unavailable> {
        let key = keys::name(&chat_core::names::name_key(name));
        let value: Option<String> = self.query(redis::cmd("GET").arg(&key)).await?;
        Ok(value.as_deref().and_then(Holder::decode))
    }

    /// Puts `item` in node `node`'s inbox.
    pub async fn deliver(&self, node: &str, item: &InboxItem) -> Result<(), Unavailable> {
        let key = keys::inbox(node);
        let json = serde_json::to_string(item).unwrap_or_default();
        self.query::<String>(
            redis::cmd("XADD")
                .arg(&key)
                .arg("MAXLEN")
                .arg("~")
                .arg(10_000)
                .arg("*")
                .arg("i")
                .arg(&json),
        )
        .await
        .map(|_| ())
    }

    /// Starts reading room `room`'s stream after `from`, for `tx`, and
    /// wakes the reader from the read it is waiting on.
    pub(crate) async fn watch(&self, room: &str, from: String, tx: Sender<ToRoom>) {
        let _ = self.watch.try_send(reader::Watch::Add {
            stream: keys::stream(room),
            from,
            tx,
        });
        if let Err(e) = self.deliver(&self.node, &InboxItem::Wake).await {
            warn!(room, error = %e, "could not wake the reader; the room's news may wait a few seconds");
        }
    }

    /// Stops reading room `room`'s stream.
    pub(crate) fn unwatch(&self, room: &str) {
        let _ = self.watch.try_send(reader::Watch::Remove {
            stream: keys::stream(room),
        });
    }
}

/// Claims every key of a name for one holder, or names who holds one.
/// KEYS: the name's keys. ARGV: value, time to live (ms), the node's set
/// of names, the holder's prefix (a client may take a look-alike of the
/// name it holds).
static CLAIM: Lua = Lua::new(
    r"
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and string.sub(v, 1, #ARGV[4]) ~= ARGV[4] then return v end
end
for _, k in ipairs(KEYS) do
  redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
  redis.call('SADD', ARGV[3], k)
end
return false
",
);

/// Frees the keys of a name that its holder holds. KEYS: the name's keys.
/// ARGV: the holder's prefix, the node's set of names.
static FREE: Lua = Lua::new(
    r"
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then redis.call('DEL', k) end
  redis.call('SREM', ARGV[2], k)
end
return false
",
);

/// A Lua script that Redis runs by its SHA1 (`EVALSHA`), so that its text
/// crosses the wire once per Redis start rather than with every append.
pub(crate) struct Lua {
    code: &'static str,
    sha: OnceLock<String>,
}

impl Lua {
    pub const fn new(code: &'static str) -> Self {
        Self {
            code,
            sha: OnceLock::new(),
        }
    }

    /// `EVALSHA <its hash>`, for the caller to add the keys and arguments.
    pub fn cmd(&self) -> redis::Cmd {
        let sha = self
            .sha
            .get_or_init(|| redis::Script::new(self.code).get_hash().to_owned());
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(sha.as_str());
        cmd
    }
}

/// A Redis command or pipeline, run on a connection.
pub(crate) trait Query: Sync {
    fn run<'a, T: redis::FromRedisValue + Send + 'a>(
        &'a self,
        conn: &'a mut MultiplexedConnection,
    ) -> BoxFuture<'a, redis::RedisResult<T>>;
}

impl Query for redis::Cmd {
    fn run<'a, T: redis::FromRedisValue + Send + 'a>(
        &'a self,
        conn: &'a mut MultiplexedConnection,
    ) -> BoxFuture<'a, redis::RedisResult<T>> {
        Box::pin(self.query_async(conn))
    }
}

impl Query for redis::Pipeline {
    fn run<'a, T: redis::FromRedisValue + Send + 'a>(
        &'a self,
        conn: &'a mut MultiplexedConnection,
    ) -> BoxFuture<'a, redis::RedisResult<T>> {
        Box::pin(self.query_async(conn))
    }
}

/// Waits out a failure: 100 ms, doubling to 2 s.
pub(crate) struct Backoff(Duration);

impl Backoff {
    pub fn new() -> Self {
        Self(Duration::from_millis(100))
    }

    pub async fn wait(&mut self) {
        async_std::task::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(2));
    }

    pub fn reset(&mut self) {
        self.0 = Duration::from_millis(100);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_round_trip_with_tabs_in_names_refused_elsewhere() {
        let holder = Holder {
            node: "a".into(),
            client: 42,
            name: "Zoë".into(),
        };
        assert_eq!(Holder::decode(&holder.encode()), Some(holder));
        assert_eq!(Holder::decode("a\tnot-a-number\tx"), None);
    }

    #[test]
    fn inbox_items_are_tagged_json() {
        let item = InboxItem::Kick {
            to: 3,
            to_name: "bob".into(),
            by: "alice".into(),
            why: "kicked by alice".into(),
        };
        let json = serde_json::to_string(&item).unwrap_or_default();
        assert!(json.contains(r#""k":"kick""#), "{json}");
        let back: InboxItem = serde_json::from_str(&json).unwrap_or(InboxItem::Wake);
        assert_eq!(back, item);
    }
}
