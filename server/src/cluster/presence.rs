//! Nodes' liveness: each node's heartbeat (which also renews the names it
//! holds), and the reaping of a node whose heartbeat stopped — exactly one
//! survivor, holding a lock, announces its users' departures in their
//! rooms and frees their names.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::stream::{append_command, Record};
use super::{keys, Cluster, Unavailable, NAME_TTL};
use crate::log::{Entry, Source};

/// How often a node says it is alive.
const BEAT: Duration = Duration::from_secs(2);

/// Silence after which a node counts as gone: three missed beats.
const ALIVE_TTL: Duration = Duration::from_secs(6);

/// Says this node is alive and renews (or writes again, if Redis lost
/// them) the names it holds; when Redis had lost this node's heartbeat (it
/// restarted empty), also writes again who of this node is in which room.
pub async fn beat(cluster: &Cluster) {
    let mut pipe = redis::pipe();
    pipe.cmd("SET")
        .arg(keys::alive(&cluster.node))
        .arg(1)
        .arg("PX")
        .arg(ALIVE_TTL.as_millis() as u64)
        .arg("GET")
        .cmd("SADD")
        .arg(keys::NODES)
        .arg(&cluster.node)
        .ignore();
    {
        let held = cluster.held.lock().unwrap_or_else(|p| p.into_inner());
        for (key, value) in held.iter() {
            pipe.cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(NAME_TTL.as_millis() as u64)
                .ignore();
        }
    }
    let before = match cluster.query::<(Option<String>,)>(&pipe).await {
        Ok((before,)) => before,
        Err(e) => {
            warn!(error = %e, "heartbeat failed");
            return;
        }
    };
    if before.is_some() {
        return;
    }
    let mut pipe = redis::pipe();
    {
        let present = cluster.present.lock().unwrap_or_else(|p| p.into_inner());
        if present.is_empty() {
            return;
        }
        for (room, name) in present.iter() {
            pipe.cmd("HSET")
                .arg(keys::who(room))
                .arg(name)
                .arg(&cluster.node)
                .ignore()
                .cmd("SADD")
                .arg(keys::node_who(&cluster.node))
                .arg(format!("{room}\t{name}"))
                .ignore();
        }
    }
    match cluster.query::<()>(&pipe).await {
        Ok(()) => info!("wrote this node's room members to Redis again"),
        Err(e) => warn!(error = %e, "could not write this node's room members again"),
    }
}

/// Beats, and looks for nodes that stopped beating, until the server ends.
pub async fn heartbeat(cluster: Arc<Cluster>) {
    loop {
        async_std::task::sleep(BEAT).await;
        beat(&cluster).await;
        if let Err(e) = reap_silent(&cluster).await {
            warn!(error = %e, "could not look for departed nodes");
        }
    }
}

/// Reaps every node whose heartbeat expired.
async fn reap_silent(cluster: &Cluster) -> Result<(), Unavailable> {
    let nodes: Vec<String> = cluster
        .query(redis::cmd("SMEMBERS").arg(keys::NODES))
        .await?;
    for node in nodes.into_iter().filter(|n| *n != cluster.node) {
        let alive_key = keys::alive(&node);
        let alive: bool = cluster.query(redis::cmd("EXISTS").arg(&alive_key)).await?;
        if !alive {
            reap(cluster, &node).await?;
        }
    }
    Ok(())
}

/// Announces the departure of node `node`'s users from every room they
/// were in and frees their names — if this node wins the lock to do it.
pub async fn reap(cluster: &Cluster, node: &str) -> Result<(), Unavailable> {
    let lock = keys::reap(node);
    let me = cluster.node.clone();
    let won: Option<String> = cluster
        .query(
            redis::cmd("SET")
                .arg(&lock)
                .arg(&me)
                .arg("NX")
                .arg("PX")
                .arg(30_000),
        )
        .await?;
    if won.is_none() {
        return Ok(());
    }
    let who_key = keys::node_who(node);
    let members: Vec<String> = cluster.query(redis::cmd("SMEMBERS").arg(&who_key)).await?;
    let reason = if node == cluster.node {
        "server restarted".to_owned()
    } else {
        format!("server {node} stopped")
    };
    // Scripts fail inside a transaction rather than load: make sure they
    // are there (reaping is rare).
    cluster.load_scripts().await?;
    // One transaction: a client that sees the leave and takes the name at
    // once must find it free, and nobody may take it before the leave is in
    // the room's order.
    let mut pipe = redis::pipe();
    pipe.atomic();
    for member in &members {
        let Some((room, name)) = member.split_once('\t') else {
            continue;
        };
        let left = Entry::Left {
            name: name.to_owned(),
            reason: reason.clone(),
        };
        let record = Record::new(left, &Source::Node(node.to_owned()), &cluster.node);
        pipe.add_command(append_command(room, &record, cluster.max_len))
            .ignore();
    }
    let (names_key, inbox, alive) = (keys::node_names(node), keys::inbox(node), keys::alive(node));
    let prefix = format!("{node}\t");
    let own = node == cluster.node;
    pipe.cmd("EVAL")
        .arg(FORGET)
        .arg(0)
        .arg(&names_key)
        .arg(&prefix)
        .arg(&who_key)
        .arg(&inbox)
        .arg(keys::NODES)
        .arg(node)
        .arg(&alive)
        .arg(&lock)
        .arg(if own { "1" } else { "0" })
        .ignore();
    cluster.query::<()>(&pipe).await?;
    if !members.is_empty() || node != cluster.node {
        info!(
            node,
            users = members.len(),
            "announced the departure of a node's users"
        );
    }
    Ok(())
}

/// Forgets a departed node: frees the names it still holds and drops its
/// lists. ARGV: its set of names, its holders' prefix, its members, its
/// inbox, the set of nodes, its name, its heartbeat key, the reaping lock,
/// `1` when a node clears its own past. A node that came back meanwhile
/// (heartbeat present) keeps its names.
const FORGET: &str = r"
if ARGV[9] == '1' or redis.call('EXISTS', ARGV[7]) == 0 then
  for _, k in ipairs(redis.call('SMEMBERS', ARGV[1])) do
    local v = redis.call('GET', k)
    if v and string.sub(v, 1, #ARGV[2]) == ARGV[2] then redis.call('DEL', k) end
  end
  redis.call('DEL', ARGV[1])
  redis.call('SREM', ARGV[5], ARGV[6])
end
redis.call('DEL', ARGV[3], ARGV[4], ARGV[8])
return false
";
