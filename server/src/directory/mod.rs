//! The directory: one task that owns who is connected, under which name,
//! and which rooms exist with whom in them.
//!
//! Names are unique server-wide, so claiming, renaming and private messages
//! come here; so do joins, parts, topics and the room list, because they
//! change or read the registry of rooms. What is said in a room does not:
//! connections send it straight to the room's broker ([`crate::room`]), so
//! the directory is never on the path of a room's messages. It opens a
//! room's broker when the room is created and closes it when the last
//! member of a room nobody configured leaves.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_std::channel::{Receiver, Sender};
use async_std::net::TcpStream;
use bytes::Bytes;
use chat_core::names::{name_key, room_key};
use chat_core::protocol::{
    now_millis, ErrorCode, Notice, PrivateMessage, ServerFrame, TopicInfo, PROTOCOL_VERSION,
};
use futures::channel::oneshot;
use futures::StreamExt;
use tracing::{debug, info, warn};

use crate::access::Bans;
use crate::cluster::{Cluster, InboxItem};
use crate::config::Config;
use crate::history::Store;
use crate::log::RoomLog;
use crate::outbox::Outbox;
use crate::room::{Intro, Member, RoomId, Standing, ToRoom};
use crate::wire::{self, Mode};

mod irc;
mod moderation;
mod names;
mod remote;
mod rooms;

fn lower(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// Identifies a connection in logs, in the directory and in rooms.
pub type ClientId = u64;

/// Requests queued for one room's broker before its members wait.
const ROOM_QUEUE: usize = 1024;

/// Longest topic, in characters.
pub const MAX_TOPIC_CHARS: usize = 300;

/// A connection's way into a room it is in.
#[derive(Debug, Clone)]
pub struct RoomLink {
    pub id: RoomId,
    /// The room's key (case folded, no `#`).
    pub key: String,
    /// The room's name as people see it.
    pub name: String,
    pub tx: Sender<ToRoom>,
}

/// A refusal for the client: its code and the sentence people read.
pub type Refusal = (ErrorCode, String);

/// A named client's request that the directory answers.
#[derive(Debug)]
pub enum Request {
    /// A private message.
    Private {
        to: String,
        text: String,
        id: Option<String>,
    },
    /// A change of name; `done` fires once every room knows it, with the
    /// name the client has then (the new one, or the old one if refused).
    Nick {
        name: String,
        done: oneshot::Sender<Option<String>>,
    },
    /// Join (or create) a room.
    Join {
        room: String,
        reply: oneshot::Sender<Result<RoomLink, Refusal>>,
    },
    /// Leave the room with key `room`; `farewell` is a last line for the
    /// leaver from that room; `done` fires once the room has said goodbye.
    Part {
        room: String,
        reason: Option<String>,
        farewell: Option<Bytes>,
        done: oneshot::Sender<()>,
    },
    /// Show (`text: None`) or set the topic of the room with key `room`.
    Topic { room: String, text: Option<String> },
    /// List the rooms.
    Rooms,
    /// The operator password was given (and checked by the connection).
    Oper,
    /// Operators: put `name` out of the server; IRC's `KICK` names the
    /// room (key) they must be in.
    Kick {
        name: String,
        reason: Option<String>,
        room: Option<String>,
    },
    /// Operators: refuse a name (and its look-alikes), or with `address`
    /// an address, for `duration` or for good.
    Ban {
        target: String,
        address: bool,
        duration: Option<std::time::Duration>,
        reason: Option<String>,
    },
    /// Operators: lift a ban.
    Unban(String),
    /// Operators: list the bans.
    Bans,
    /// IRC's `WHOIS nick`, answered in IRC numerics.
    Whois(String),
    /// IRC's `ISON` (`userhost: false`) or `USERHOST` of these nicks.
    Online { nicks: Vec<String>, userhost: bool },
    /// IRC's `NOTICE` to a nick: a private message that gets no word back
    /// (no `401`, no `301`).
    Notice { to: String, text: String },
    /// IRC's `AWAY`: away with this message, or back with `None`.
    Away(Option<String>),
    /// IRC's `LUSERS`.
    Lusers,
    /// IRC's `MODE #channel b`: the bans as a channel's ban list.
    IrcBans { channel: String },
}

/// What connections tell the directory.
#[derive(Debug)]
pub enum ToDirectory {
    /// A connection was accepted; `closer` lets the directory cut it off;
    /// `current` is the connection's current room, shared with its reader
    /// and with the rooms it joins.
    Connected {
        id: ClientId,
        peer: SocketAddr,
        /// IRC, or native (plain until its first line says otherwise).
        mode: Mode,
        outbox: Outbox,
        closer: TcpStream,
        current: Arc<AtomicU64>,
    },
    /// The connection asks for a name; the reply is its way into the
    /// default room when it got the name.
    Claim {
        id: ClientId,
        name: String,
        mode: Mode,
        version: u32,
        reply: oneshot::Sender<Option<RoomLink>>,
    },
    /// A named client's request.
    Request { id: ClientId, request: Request },
    /// The connection ended, for the reason given.
    Gone { id: ClientId, reason: String },
    /// A line for one client alone (errors, help, pongs).
    Direct { id: ClientId, line: Bytes },
    /// Log the one-line status.
    Status,
    /// Tell everyone the server is going away and close every queue; `done`
    /// fires once that is queued and the history is stored.
    Shutdown { done: oneshot::Sender<()> },
}

/// What rooms tell the directory (never waiting for it).
pub enum Internal {
    /// The client's queue overflowed: it is too slow and must go.
    Overflowed { id: ClientId },
    /// A room closed: its log, for when the room is created again.
    Retired { key: String, log: Box<dyn RoomLog> },
    /// In a cluster: something from another node for a client here.
    Inbox(InboxItem),
    /// In a cluster: another node changed a room's topic.
    Topic { key: String, topic: TopicInfo },
}

impl std::fmt::Debug for Internal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Internal::Overflowed { id } => write!(f, "Overflowed({id})"),
            Internal::Retired { key, .. } => write!(f, "Retired({key})"),
            Internal::Inbox(item) => write!(f, "Inbox({item:?})"),
            Internal::Topic { key, .. } => write!(f, "Topic({key})"),
        }
    }
}

struct Client {
    peer: SocketAddr,
    outbox: Outbox,
    closer: TcpStream,
    mode: Mode,
    version: u32,
    name: Option<String>,
    /// Operator and away, shared with its room memberships, which show
    /// them to IRC.
    standing: Arc<Standing>,
    /// IRC's away message.
    away: Option<String>,
    /// Keys of the rooms it is in, oldest first.
    rooms: Vec<String>,
    current: Arc<AtomicU64>,
}

struct RoomEntry {
    link: RoomLink,
    members: HashSet<ClientId>,
    /// Configured rooms stay when empty; created ones go.
    permanent: bool,
    topic: Option<TopicInfo>,
}

pub struct Directory {
    config: Arc<Config>,
    clients: HashMap<ClientId, Client>,
    /// Name key → holder, for uniqueness by case and look.
    names: HashMap<String, ClientId>,
    /// Room key → room, in key order for the room list.
    rooms: BTreeMap<String, RoomEntry>,
    default_room: String,
    next_room: RoomId,
    store: Option<Arc<Store>>,
    /// Without a database, the logs of rooms that closed, newest last, so
    /// that a room created again continues its numbers and history. At
    /// most `max_rooms` are kept.
    retired: Vec<(String, Box<dyn RoomLog>)>,
    bans: Bans,
    internal: Sender<Internal>,
    relayed: Arc<AtomicU64>,
    shutting_down: bool,
    /// The cluster this server is a node of, if any: names are claimed
    /// there too, and rooms' logs are its streams.
    cluster: Option<Arc<Cluster>>,
}

impl Directory {
    /// A directory with the configured rooms open.
    pub fn new(
        config: Arc<Config>,
        store: Option<Arc<Store>>,
        bans: Bans,
        internal: Sender<Internal>,
        cluster: Option<Arc<Cluster>>,
    ) -> Self {
        let mut directory = Self {
            default_room: room_key(&config.default_room),
            config: config.clone(),
            clients: HashMap::new(),
            names: HashMap::new(),
            rooms: BTreeMap::new(),
            next_room: 1,
            store,
            retired: Vec::new(),
            bans,
            internal,
            relayed: Arc::new(AtomicU64::new(0)),
            shutting_down: false,
            cluster,
        };
        for name in std::iter::once(&config.default_room).chain(&config.rooms) {
            if !directory.rooms.contains_key(&room_key(name)) {
                directory.open_room(name, true);
            }
        }
        directory
    }

    pub async fn run(mut self, requests: Receiver<ToDirectory>, internal: Receiver<Internal>) {
        enum Next {
            Request(ToDirectory),
            Internal(Internal),
        }
        let mut next =
            futures::stream::select(requests.map(Next::Request), internal.map(Next::Internal));
        while let Some(event) = next.next().await {
            match event {
                Next::Request(request) => self.handle(request).await,
                Next::Internal(Internal::Overflowed { id }) => {
                    self.remove(id, "send queue exceeded", true).await;
                }
                // With a database (or a cluster) the room's history is
                // there; keep nothing.
                Next::Internal(Internal::Retired { .. })
                    if self.store.is_some() || self.cluster.is_some() => {}
                Next::Internal(Internal::Inbox(item)) => self.inbox(item).await,
                Next::Internal(Internal::Topic { key, topic }) => {
                    if let Some(room) = self.rooms.get_mut(&key) {
                        room.topic = Some(topic);
                    }
                }
                Next::Internal(Internal::Retired { key, log }) => {
                    if self.retired.len() >= self.config.max_rooms {
                        self.retired.remove(0);
                    }
                    self.retired.push((key, log));
                }
            }
        }
    }

    async fn handle(&mut self, event: ToDirectory) {
        match event {
            ToDirectory::Connected {
                id,
                peer,
                mode,
                outbox,
                closer,
                current,
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
                        mode,
                        version: PROTOCOL_VERSION,
                        name: None,
                        standing: Arc::default(),
                        away: None,
                        rooms: Vec::new(),
                        current,
                    },
                );
            }
            ToDirectory::Claim {
                id,
                name,
                mode,
                version,
                reply,
            } => {
                let granted = self.claim(id, name, mode, version).await;
                // The connection may have vanished meanwhile; nothing to do.
                let _ = reply.send(granted);
            }
            ToDirectory::Request { id, request } => self.request(id, request).await,
            ToDirectory::Gone { id, reason } => self.remove(id, &reason, false).await,
            ToDirectory::Direct { id, line } => self.send_to(id, line),
            ToDirectory::Status => info!(
                online = self.clients.values().filter(|c| c.name.is_some()).count(),
                connections = self.clients.len(),
                rooms = self.rooms.len(),
                relayed = self.relayed.load(Ordering::Relaxed),
                "status"
            ),
            ToDirectory::Shutdown { done } => self.shutdown(done).await,
        }
    }

    async fn shutdown(&mut self, done: oneshot::Sender<()>) {
        self.shutting_down = true;
        // The server closes them all: that is what the log says, whatever
        // their readers see next (most often the close itself).
        for (id, client) in self.clients.drain() {
            let _ = client
                .outbox
                .push(wire::notice(client.mode, "server is shutting down"));
            client.outbox.close();
            match &client.name {
                Some(name) => {
                    info!(client = id, peer = %client.peer, name = %name, reason = "server shutdown", "disconnected")
                }
                None => {
                    info!(client = id, peer = %client.peer, reason = "server shutdown", "disconnected before naming")
                }
            }
        }
        self.names.clear();
        for room in self.rooms.values() {
            let _ = room.link.tx.send(ToRoom::Close).await;
        }
        match self.store.take() {
            // Everything accepted is stored before shutdown completes.
            Some(store) => {
                async_std::task::spawn_blocking(move || {
                    store.flush();
                    let _ = done.send(());
                });
            }
            None => {
                let _ = done.send(());
            }
        }
    }

    fn send_to(&mut self, id: ClientId, line: Bytes) {
        if let Some(client) = self.clients.get(&id) {
            if client.outbox.push(line).is_err() {
                let _ = self.internal.try_send(Internal::Overflowed { id });
            }
        }
    }

    fn frame_to(&mut self, id: ClientId, frame: &ServerFrame) {
        if let Some(line) = self
            .clients
            .get(&id)
            .and_then(|c| wire::encode_to(c.mode, frame, c.name.as_deref().unwrap_or("*")))
        {
            self.send_to(id, line);
        }
    }

    fn error_to(&mut self, id: ClientId, code: ErrorCode, message: String, req_id: Option<String>) {
        self.error_about(id, code, message, req_id, None);
    }

    /// A refusal about the nick or channel `about`, which IRC numerics name.
    fn error_about(
        &mut self,
        id: ClientId,
        code: ErrorCode,
        message: String,
        req_id: Option<String>,
        about: Option<&str>,
    ) {
        if let Some(client) = self.clients.get(&id) {
            let me = client.name.as_deref().unwrap_or("*");
            let line = wire::error_about(client.mode, me, code, message, req_id, about);
            self.send_to(id, line);
        }
    }

    /// Sends a frame once to `id` and to everyone who shares a room with it.
    fn tell_neighbours(&mut self, id: ClientId, frame: &ServerFrame) {
        let mut told: HashSet<ClientId> = HashSet::from([id]);
        if let Some(client) = self.clients.get(&id) {
            for key in &client.rooms {
                if let Some(room) = self.rooms.get(key) {
                    told.extend(&room.members);
                }
            }
        }
        let (mut json, mut plain) = (None, None);
        for other in told {
            let Some(client) = self.clients.get(&other) else {
                continue;
            };
            let line = match client.mode {
                // Renames and notices are rare: no cache for IRC's form.
                Mode::Irc(caps) => {
                    let me = client.name.as_deref().unwrap_or("*");
                    match wire::irc_line(frame, me, caps) {
                        Some(line) => line,
                        None => continue,
                    }
                }
                Mode::Structured => json.get_or_insert_with(|| wire::json_line(frame)).clone(),
                Mode::Plain => match plain
                    .get_or_insert_with(|| wire::plain_frame(frame, false))
                    .clone()
                {
                    Some(line) => line,
                    None => continue,
                },
            };
            if client.outbox.push(line).is_err() {
                let _ = self.internal.try_send(Internal::Overflowed { id: other });
            }
        }
    }

    fn member(&self, id: ClientId) -> Option<Member> {
        let client = self.clients.get(&id)?;
        Some(Member {
            name: client.name.clone()?,
            outbox: client.outbox.clone(),
            mode: client.mode,
            version: client.version,
            current: client.current.clone(),
            standing: client.standing.clone(),
        })
    }

    /// Puts a named client into the room with key `key` (open), makes it
    /// the client's current room, and has the room greet it.
    async fn enter(&mut self, id: ClientId, key: &str, intro: Intro) -> Option<RoomLink> {
        let member = self.member(id)?;
        let room = self.rooms.get_mut(key)?;
        room.members.insert(id);
        let link = room.link.clone();
        let topic = room.topic.as_ref().map(|t| t.topic.clone());
        let intro = match intro {
            Intro::Welcome(mut welcome) => {
                if welcome.version >= 2 {
                    welcome.rooms = vec![link.name.clone()];
                }
                Intro::Welcome(welcome)
            }
            other => other,
        };
        member.current.store(link.id, Ordering::Relaxed);
        if let Some(client) = self.clients.get_mut(&id) {
            client.rooms.push(key.to_owned());
        }
        let add = ToRoom::Add {
            id,
            member,
            intro,
            topic,
        };
        // A room's queue drains on its own: waiting here is brief.
        let _ = link.tx.send(add).await;
        Some(link)
    }

    async fn request(&mut self, id: ClientId, request: Request) {
        if self.shutting_down {
            return;
        }
        let Some(name) = self.clients.get(&id).and_then(|c| c.name.clone()) else {
            return;
        };
        match request {
            Request::Private {
                to,
                text,
                id: req_id,
            } => {
                self.private(id, name, to.clone(), text, req_id).await;
                self.tell_away(id, &to);
            }
            Request::Notice { to, text } => self.notice(id, name, to, text).await,
            Request::Nick { name: new, done } => {
                self.rename(id, name, new).await;
                let now = self.clients.get(&id).and_then(|c| c.name.clone());
                let _ = done.send(now);
            }
            Request::Join { room, reply } => {
                let answer = self.join(id, &name, &room).await;
                let _ = reply.send(answer);
            }
            Request::Part {
                room,
                reason,
                farewell,
                done,
            } => self.part(id, &name, &room, reason, farewell, done).await,
            Request::Topic { room, text } => self.topic(id, name, &room, text).await,
            Request::Rooms => self.list_rooms(id),
            Request::Oper => {
                if let Some(client) = self.clients.get_mut(&id) {
                    client.standing.operator.store(true, Ordering::Relaxed);
                    info!(client = id, peer = %client.peer, name = %name, "operator");
                }
                self.tell_neighbours(
                    id,
                    &ServerFrame::Notice(Notice {
                        text: format!("{name} is now an operator"),
                    }),
                );
                self.irc_operator_modes(id, &name);
            }
            Request::Kick {
                name: target,
                reason,
                room,
            } => self.kick(id, name, target, reason, room).await,
            Request::Ban {
                target,
                address,
                duration,
                reason,
            } => self.ban(id, name, target, address, duration, reason).await,
            Request::Unban(target) => self.unban(id, name, &target),
            Request::Bans => self.list_bans(id),
            Request::Whois(nick) => self.whois(id, &name, &nick),
            Request::Online { nicks, userhost } => {
                let online: Vec<(String, bool)> = nicks
                    .iter()
                    .filter_map(|nick| self.names.get(&name_key(nick)))
                    .filter_map(|t| self.clients.get(t))
                    .filter_map(|c| Some((c.name.clone()?, c.is_operator())))
                    .collect();
                let line = match userhost {
                    true => crate::irc::form::userhost(&name, &online),
                    false => {
                        let names: Vec<String> = online.into_iter().map(|(n, _)| n).collect();
                        crate::irc::form::ison(&name, &names)
                    }
                };
                self.send_to(id, line);
            }
            Request::Away(message) => self.away(id, message),
            Request::Lusers => self.lusers(id, &name),
            Request::IrcBans { channel } => self.irc_bans(id, &name, &channel),
        }
    }

    fn whois(&mut self, id: ClientId, me: &str, nick: &str) {
        let target = self
            .names
            .get(&name_key(nick))
            .and_then(|t| self.clients.get(t));
        let found = target.and_then(|c| {
            let rooms: Vec<String> = c
                .rooms
                .iter()
                .filter_map(|key| Some(self.rooms.get(key)?.link.name.clone()))
                .collect();
            Some((c.name.clone()?, rooms, c.is_operator(), c.away.clone()))
        });
        let who = found
            .as_ref()
            .map(|(name, rooms, op, away)| (name.as_str(), rooms.as_slice(), *op, away.as_deref()));
        if let Some(line) = crate::irc::form::whois(me, nick, who) {
            self.send_to(id, line);
        }
    }

    async fn private(
        &mut self,
        id: ClientId,
        from: String,
        to: String,
        text: String,
        req_id: Option<String>,
    ) {
        let Some(&target) = self.names.get(&name_key(&to)) else {
            if self.cluster.is_some() {
                self.private_elsewhere(id, from, to, text, req_id).await;
                return;
            }
            let message = format!("nobody called \"{to}\" is online");
            self.error_about(id, ErrorCode::UnknownUser, message, req_id, Some(&to));
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
            self.frame_to(target, &ServerFrame::Private(message.clone()));
        }
        let echo = ServerFrame::Private(PrivateMessage {
            id: req_id,
            ..message
        });
        self.frame_to(id, &echo);
    }

    /// Forgets a client and tells its rooms it left. `abort` drops what was
    /// still queued for it (it is too slow to take it) and cuts the socket.
    async fn remove(&mut self, id: ClientId, reason: &str, abort: bool) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        let rooms = client.rooms.clone();
        if !self.shutting_down {
            for key in &rooms {
                self.leave_room(id, key, reason.to_owned(), None, None)
                    .await;
            }
        }
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
                self.free_name(id, name);
                self.free_in_cluster(id, name).await;
            }
            None => info!(client = id, peer = %client.peer, reason, "disconnected before naming"),
        }
    }
}
