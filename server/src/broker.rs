//! The broker: one task that owns the room — who is in it, under which name,
//! and the order of everything said.
//!
//! Connections send it [`ToBroker`] requests over one channel; it answers by
//! pushing pre-serialised lines into each client's [`Outbox`], which never
//! blocks. Because only this task touches the room, there is no lock around
//! it, and because it pushes each room event to every queue before taking the
//! next request, every client sees the same order.

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use async_std::channel::Receiver;
use async_std::net::TcpStream;
use bytes::Bytes;
use chat_core::names::{name_key, validate_name};
use chat_core::protocol::{
    now_millis, ChatMessage, Departure, ErrorCode, HistoryEnd, Limits, MessageKind, Presence,
    PrivateMessage, Rename, Replayed, ServerFrame, UserList, Welcome, MAX_NAME_CHARS,
    PROTOCOL_VERSION,
};
use futures::channel::oneshot;
use tracing::{debug, info, warn};

use crate::access::Bans;
use crate::config::Config;
use crate::history::{Loaded, Store, MAX_PAGE};
use crate::outbox::Outbox;
use crate::wire::{self, Mode};

/// Identifies a connection in logs and in the broker.
pub type ClientId = u64;

/// A named client's request, already checked for well-formedness by its
/// connection.
#[derive(Debug)]
pub enum Request {
    /// A message to the room.
    Say { text: String, id: Option<String> },
    /// An action to the room.
    Action { text: String, id: Option<String> },
    /// A private message.
    Private {
        to: String,
        text: String,
        id: Option<String>,
    },
    /// A change of name.
    Nick(String),
    /// The user list.
    Who,
    /// Older messages: up to `limit` before `before`.
    History { before: Option<u64>, limit: u32 },
    /// The operator password was given (and checked by the connection).
    Oper,
    /// Operators: put `name` out of the room, and with `ban` keep them out.
    Kick {
        name: String,
        reason: Option<String>,
        ban: bool,
    },
}

/// What connections tell the broker.
#[derive(Debug)]
pub enum ToBroker {
    /// A connection was accepted; `closer` lets the broker cut it off.
    Connected {
        id: ClientId,
        peer: SocketAddr,
        outbox: Outbox,
        closer: TcpStream,
    },
    /// The connection asks for a name; the reply says whether it got it.
    Claim {
        id: ClientId,
        name: String,
        mode: Mode,
        reply: oneshot::Sender<bool>,
    },
    /// A named client's request.
    Request { id: ClientId, request: Request },
    /// The connection ended, for the reason given.
    Gone { id: ClientId, reason: String },
    /// A line for one client alone (errors, help, pongs), kept in order
    /// with the room's lines.
    Direct { id: ClientId, line: Bytes },
    /// Log the one-line status.
    Status,
    /// Tell everyone the server is going away and close every queue; `done`
    /// fires once that is queued.
    Shutdown { done: oneshot::Sender<()> },
}

struct Client {
    peer: SocketAddr,
    outbox: Outbox,
    closer: TcpStream,
    mode: Mode,
    name: Option<String>,
    operator: bool,
}

/// A room event serialised at most once per mode, however many receive it.
struct Shared<'a> {
    frame: &'a ServerFrame,
    json: OnceCell<Bytes>,
    plain: OnceCell<Option<Bytes>>,
}

impl<'a> Shared<'a> {
    fn new(frame: &'a ServerFrame) -> Self {
        Self {
            frame,
            json: OnceCell::new(),
            plain: OnceCell::new(),
        }
    }

    fn get(&self, mode: Mode) -> Option<Bytes> {
        match mode {
            Mode::Structured => Some(
                self.json
                    .get_or_init(|| wire::json_line(self.frame))
                    .clone(),
            ),
            Mode::Plain => self
                .plain
                .get_or_init(|| wire::plain_frame(self.frame))
                .clone(),
        }
    }
}

pub struct Broker {
    config: Arc<Config>,
    clients: HashMap<ClientId, Client>,
    /// Name key → holder, for uniqueness by case and look; kept in key
    /// order so that user lists need no sorting.
    names: BTreeMap<String, ClientId>,
    next_seq: u64,
    relayed: u64,
    /// Clients whose queues overflowed, dropped once the current event is out.
    overflowed: Vec<ClientId>,
    shutting_down: bool,
    /// The newest messages, replayed to newcomers and answering history
    /// requests when there is no database.
    recent: VecDeque<Replayed>,
    /// How many of `recent` to keep.
    keep: usize,
    store: Option<Store>,
    bans: Bans,
}

impl Broker {
    /// A broker for an empty room, or one continuing from `history`.
    pub fn new(config: Arc<Config>, history: Option<(Store, Loaded)>, bans: Bans) -> Self {
        // Enough for the replay and for a page of history that the database
        // may not hold yet.
        let keep = config.replay.max(MAX_PAGE as usize);
        let (store, next_seq, recent) = match history {
            Some((store, loaded)) => (Some(store), loaded.next_seq, loaded.recent.into()),
            // With nothing stored, start from the clock (in microseconds, well
            // inside JSON's exact integers) so that numbers still rise across
            // restarts and clients never take new messages for old ones.
            None => (
                None,
                now_millis().saturating_mul(1000).max(1),
                VecDeque::new(),
            ),
        };
        Self {
            config,
            clients: HashMap::new(),
            names: BTreeMap::new(),
            next_seq,
            relayed: 0,
            overflowed: Vec::new(),
            shutting_down: false,
            recent,
            keep,
            store,
            bans,
        }
    }

    pub async fn run(mut self, events: Receiver<ToBroker>) {
        while let Ok(event) = events.recv().await {
            self.handle(event);
            while let Some(id) = self.overflowed.pop() {
                self.remove(id, "send queue exceeded", true);
            }
        }
    }

    fn handle(&mut self, event: ToBroker) {
        match event {
            ToBroker::Connected {
                id,
                peer,
                outbox,
                closer,
            } => {
                if self.shutting_down {
                    outbox.close();
                }
                self.clients.insert(
                    id,
                    Client {
                        peer,
                        outbox,
                        closer,
                        mode: Mode::Plain,
                        name: None,
                        operator: false,
                    },
                );
            }
            ToBroker::Claim {
                id,
                name,
                mode,
                reply,
            } => {
                let granted = self.claim(id, name, mode);
                // The connection may have vanished meanwhile; nothing to do.
                let _ = reply.send(granted);
            }
            ToBroker::Request { id, request } => self.request(id, request),
            ToBroker::Gone { id, reason } => self.remove(id, &reason, false),
            ToBroker::Direct { id, line } => self.send_to(id, line),
            ToBroker::Status => info!(
                online = self.names.len(),
                connections = self.clients.len(),
                relayed = self.relayed,
                "status"
            ),
            ToBroker::Shutdown { done } => {
                self.shutting_down = true;
                for client in self.clients.values() {
                    let _ = client
                        .outbox
                        .push(wire::notice(client.mode, "server is shutting down"));
                    client.outbox.close();
                }
                match self.store.take() {
                    // Everything accepted is stored before shutdown completes.
                    Some(store) => {
                        async_std::task::spawn_blocking(move || {
                            store.close();
                            let _ = done.send(());
                        });
                    }
                    None => {
                        let _ = done.send(());
                    }
                }
            }
        }
    }

    fn send_to(&mut self, id: ClientId, line: Bytes) {
        if let Some(client) = self.clients.get(&id) {
            if client.outbox.push(line).is_err() {
                self.overflowed.push(id);
            }
        }
    }

    fn error_to(&mut self, id: ClientId, code: ErrorCode, message: String, req_id: Option<String>) {
        if let Some(mode) = self.clients.get(&id).map(|c| c.mode) {
            self.send_to(id, wire::error(mode, code, message, req_id));
        }
    }

    /// Sends a room event to every named client.
    fn broadcast(&mut self, frame: &ServerFrame) {
        let shared = Shared::new(frame);
        for (&id, client) in &self.clients {
            if client.name.is_none() {
                continue;
            }
            if let Some(line) = shared.get(client.mode) {
                if client.outbox.push(line).is_err() {
                    self.overflowed.push(id);
                }
            }
        }
    }

    /// Sends a room event to every named client, the sender's own copy
    /// carrying the id it gave.
    fn broadcast_with_echo(&mut self, frame: &ServerFrame, sender: ClientId, echo: ServerFrame) {
        let shared = Shared::new(frame);
        let echo = Shared::new(&echo);
        for (&id, client) in &self.clients {
            if client.name.is_none() {
                continue;
            }
            let copy = if id == sender { &echo } else { &shared };
            if let Some(line) = copy.get(client.mode) {
                if client.outbox.push(line).is_err() {
                    self.overflowed.push(id);
                }
            }
        }
    }

    /// Everyone in the room, in name-key order.
    fn users(&self) -> Vec<String> {
        self.names
            .values()
            .filter_map(|id| self.clients.get(id)?.name.clone())
            .collect()
    }

    /// Checks a wanted name: valid, not banned, and free unless `id`
    /// already holds it (or a name that looks the same).
    fn check_name(&self, id: ClientId, name: &str) -> Result<(), (ErrorCode, String)> {
        validate_name(name).map_err(|e| (ErrorCode::InvalidName, e.to_string()))?;
        if self.bans.name_banned(&name_key(name)) {
            return Err((
                ErrorCode::Banned,
                format!("the name \"{name}\" is banned from this room"),
            ));
        }
        match self.names.get(&name_key(name)) {
            Some(&holder) if holder != id => Err((
                ErrorCode::NameTaken,
                format!("the name \"{name}\" is taken"),
            )),
            _ => Ok(()),
        }
    }

    fn claim(&mut self, id: ClientId, name: String, mode: Mode) -> bool {
        let Some(client) = self.clients.get_mut(&id) else {
            return false;
        };
        client.mode = mode;
        if self.shutting_down {
            let line = wire::error(mode, ErrorCode::Other, "server is shutting down", None);
            self.send_to(id, line);
            return false;
        }
        if self.bans.address_banned(client_ip(&self.clients, id)) {
            let line = wire::error(
                mode,
                ErrorCode::Banned,
                "you are banned from this server",
                None,
            );
            self.send_to(id, line);
            return false;
        }
        if let Err((code, message)) = self.check_name(id, &name) {
            info!(client = id, name = %name, reason = %message, "name refused");
            self.error_to(id, code, message, None);
            return false;
        }
        self.names.insert(name_key(&name), id);
        let peer = match self.clients.get_mut(&id) {
            Some(client) => {
                client.name = Some(name.clone());
                client.peer
            }
            None => return false,
        };
        info!(client = id, %peer, name = %name, mode = ?mode, "named");
        let welcome = ServerFrame::Welcome(Welcome {
            rooms: Vec::new(),
            topic: None,
            version: PROTOCOL_VERSION,
            name: name.clone(),
            room: self.config.room.clone(),
            users: self.users(),
            limits: Limits {
                max_rooms: 0,
                max_line: self.config.max_line,
                max_name: MAX_NAME_CHARS,
                rate_per_sec: self
                    .config
                    .rate_limit
                    .map_or(0, |r| r.per_sec.ceil() as u32),
                burst: self.config.rate_limit.map_or(0, |r| r.burst),
            },
        });
        if let Some(line) = wire::encode(mode, &welcome) {
            self.send_to(id, line);
        }
        let skip = self.recent.len().saturating_sub(self.config.replay);
        let replay: Vec<Bytes> = self
            .recent
            .iter()
            .skip(skip)
            .filter_map(|r| wire::encode(mode, &ServerFrame::Replay(r.clone())))
            .collect();
        for line in replay {
            self.send_to(id, line);
        }
        self.broadcast(&ServerFrame::Join(Presence {
            room: None,
            time: now_millis(),
            name,
        }));
        true
    }

    fn request(&mut self, id: ClientId, request: Request) {
        if self.shutting_down {
            return;
        }
        let Some(name) = self.clients.get(&id).and_then(|c| c.name.clone()) else {
            return;
        };
        match request {
            Request::Say { text, id: req_id } => self.relay(id, name, text, req_id, false),
            Request::Action { text, id: req_id } => self.relay(id, name, text, req_id, true),
            Request::Private {
                to,
                text,
                id: req_id,
            } => self.private(id, name, to, text, req_id),
            Request::Nick(new) => self.rename(id, name, new),
            Request::Who => {
                let users = ServerFrame::Users(UserList {
                    room: None,
                    users: self.users(),
                });
                if let Some(line) = self
                    .clients
                    .get(&id)
                    .and_then(|c| wire::encode(c.mode, &users))
                {
                    self.send_to(id, line);
                }
            }
            Request::History { before, limit } => self.history(id, before, limit),
            Request::Oper => {
                if let Some(client) = self.clients.get_mut(&id) {
                    client.operator = true;
                    info!(client = id, peer = %client.peer, name = %name, "operator");
                }
                self.broadcast(&ServerFrame::Notice(chat_core::protocol::Notice {
                    text: format!("{name} is now an operator"),
                }));
            }
            Request::Kick {
                name: target,
                reason,
                ban,
            } => self.kick(id, name, target, reason, ban),
        }
    }

    /// An operator puts `target` out (and with `ban`, keeps them out).
    fn kick(
        &mut self,
        id: ClientId,
        by: String,
        target: String,
        reason: Option<String>,
        ban: bool,
    ) {
        let verb = if ban { "ban" } else { "kick" };
        if !self.clients.get(&id).is_some_and(|c| c.operator) {
            let message = format!("only operators may {verb}: /oper PASSWORD first");
            self.error_to(id, ErrorCode::NotOperator, message, None);
            return;
        }
        let Some(&victim) = self.names.get(&name_key(&target)) else {
            let message = format!("nobody called \"{target}\" is online");
            self.error_to(id, ErrorCode::UnknownUser, message, None);
            return;
        };
        if victim == id {
            self.error_to(
                id,
                ErrorCode::BadCommand,
                format!("you cannot {verb} yourself"),
                None,
            );
            return;
        }
        let Some((victim_name, peer, mode)) = self
            .clients
            .get(&victim)
            .and_then(|c| Some((c.name.clone()?, c.peer, c.mode)))
        else {
            return;
        };
        let done = if ban { "banned" } else { "kicked" };
        let why = match &reason {
            Some(reason) => format!("{done} by {by}: {reason}"),
            None => format!("{done} by {by}"),
        };
        if ban {
            self.bans.ban(name_key(&victim_name), peer.ip());
        }
        warn!(client = victim, %peer, name = %victim_name, by = %by, reason = ?reason, "{done}");
        self.send_to(victim, wire::notice(mode, format!("you were {why}")));
        self.remove(victim, &why, false);
        if ban {
            // Other connections from the banned address go too, named or not,
            // so that one opened beforehand cannot come back under a new name.
            let same_address: Vec<ClientId> = self
                .clients
                .iter()
                .filter(|(&other, c)| other != id && c.peer.ip() == peer.ip())
                .map(|(&other, _)| other)
                .collect();
            for other in same_address {
                if let Some(mode) = self.clients.get(&other).map(|c| c.mode) {
                    self.send_to(other, wire::notice(mode, format!("you were {why}")));
                }
                self.remove(other, &why, false);
            }
        }
    }

    /// Answers a history request: from the database on a blocking thread
    /// (the relay does not wait for the disk), or from memory.
    fn history(&mut self, id: ClientId, before: Option<u64>, limit: u32) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        let (mode, outbox) = (client.mode, client.outbox.clone());
        let answer = move |items: Vec<Replayed>, more: bool| {
            let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
            for item in items {
                if let Some(line) = wire::encode(mode, &ServerFrame::Replay(item)) {
                    let _ = outbox.push(line);
                }
            }
            let end = ServerFrame::HistoryEnd(HistoryEnd {
                room: None,
                count,
                more,
            });
            if let Some(line) = wire::encode(mode, &end) {
                let _ = outbox.push(line);
            }
        };
        let limit = limit.min(MAX_PAGE);
        // The newest messages may not be in the database yet (the writer
        // commits in batches), so memory answers for them.
        let newest: Vec<Replayed> = self
            .recent
            .iter()
            .filter(|r| before.is_none_or(|b| r.message.seq < b))
            .rev()
            .take(limit as usize + 1)
            .cloned()
            .collect();
        match &self.store {
            Some(store) => {
                let reader = store.reader();
                async_std::task::spawn_blocking(move || match reader.page(before, limit) {
                    Ok((stored, more)) => {
                        let (items, more_in_memory) = merge_newest(stored, newest, limit);
                        answer(items, more || more_in_memory);
                    }
                    Err(e) => {
                        warn!(client = id, error = %e, "history request failed");
                        answer(Vec::new(), false);
                    }
                });
            }
            None => {
                let (items, more) = merge_newest(Vec::new(), newest, limit);
                answer(items, more);
            }
        }
    }

    fn relay(
        &mut self,
        id: ClientId,
        from: String,
        text: String,
        req_id: Option<String>,
        action: bool,
    ) {
        debug!(client = id, from = %from, text = %text, "relay");
        let message = ChatMessage {
            room: None,
            seq: self.next_seq,
            time: now_millis(),
            from,
            text,
            id: None,
        };
        self.next_seq += 1;
        self.relayed += 1;
        let stored = Replayed {
            kind: if action {
                MessageKind::Action
            } else {
                MessageKind::Message
            },
            message: message.clone(),
        };
        if let Some(store) = &self.store {
            store.append(stored.clone());
        }
        if self.keep > 0 {
            if self.recent.len() == self.keep {
                self.recent.pop_front();
            }
            self.recent.push_back(stored);
        }
        let wrap = if action {
            ServerFrame::Action
        } else {
            ServerFrame::Message
        };
        if req_id.is_some() {
            let echo = wrap(ChatMessage {
                id: req_id,
                ..message.clone()
            });
            self.broadcast_with_echo(&wrap(message), id, echo);
        } else {
            self.broadcast(&wrap(message));
        }
    }

    fn private(
        &mut self,
        id: ClientId,
        from: String,
        to: String,
        text: String,
        req_id: Option<String>,
    ) {
        let Some(&target) = self.names.get(&name_key(&to)) else {
            let message = format!("nobody called \"{to}\" is online");
            self.error_to(id, ErrorCode::UnknownUser, message, req_id);
            return;
        };
        let to = self
            .clients
            .get(&target)
            .and_then(|c| c.name.clone())
            .unwrap_or(to);
        debug!(client = id, from = %from, to = %to, text = %text, "private");
        let message = PrivateMessage {
            time: now_millis(),
            from,
            to,
            text,
            id: None,
        };
        if target != id {
            if let Some(line) = self
                .clients
                .get(&target)
                .and_then(|c| wire::encode(c.mode, &ServerFrame::Private(message.clone())))
            {
                self.send_to(target, line);
            }
        }
        let echo = ServerFrame::Private(PrivateMessage {
            id: req_id,
            ..message
        });
        if let Some(line) = self
            .clients
            .get(&id)
            .and_then(|c| wire::encode(c.mode, &echo))
        {
            self.send_to(id, line);
        }
    }

    fn rename(&mut self, id: ClientId, old: String, new: String) {
        if old == new {
            return;
        }
        if let Err((code, message)) = self.check_name(id, &new) {
            self.error_to(id, code, message, None);
            return;
        }
        self.names.remove(&name_key(&old));
        self.names.insert(name_key(&new), id);
        if let Some(client) = self.clients.get_mut(&id) {
            client.name = Some(new.clone());
        }
        info!(client = id, from = %old, to = %new, "renamed");
        self.broadcast(&ServerFrame::Rename(Rename {
            time: now_millis(),
            from: old,
            to: new,
        }));
    }

    /// Forgets a client and tells the room it left. `abort` drops what was
    /// still queued for it (it is too slow to take it) and cuts the socket.
    fn remove(&mut self, id: ClientId, reason: &str, abort: bool) {
        let Some(client) = self.clients.remove(&id) else {
            return;
        };
        if abort {
            client.outbox.abort();
            // Unblocks a writer stuck on a full socket and the reader too.
            let _ = client.closer.shutdown(std::net::Shutdown::Both);
        } else {
            client.outbox.close();
        }
        match &client.name {
            Some(name) => {
                if abort {
                    warn!(client = id, peer = %client.peer, name = %name, reason, "disconnected");
                } else {
                    info!(client = id, peer = %client.peer, name = %name, reason, "disconnected");
                }
                self.names.remove(&name_key(name));
                if !self.shutting_down {
                    self.broadcast(&ServerFrame::Leave(Departure {
                        room: None,
                        time: now_millis(),
                        name: name.clone(),
                        reason: reason.to_owned(),
                    }));
                }
            }
            None => info!(client = id, peer = %client.peer, reason, "disconnected before naming"),
        }
    }
}

/// The newest `limit` messages of a page from the database and the newest
/// from memory (each newest first or oldest first, overlapping or not),
/// oldest first, and whether older ones were left out.
fn merge_newest(stored: Vec<Replayed>, newest: Vec<Replayed>, limit: u32) -> (Vec<Replayed>, bool) {
    let mut by_seq: std::collections::BTreeMap<u64, Replayed> = stored
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

/// The address a client connected from (unspecified when unknown).
fn client_ip(clients: &HashMap<ClientId, Client>, id: ClientId) -> std::net::IpAddr {
    clients
        .get(&id)
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.peer.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
