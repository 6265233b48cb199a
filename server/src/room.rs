//! A room's broker: one task per room that owns its members and its order.
//!
//! Members' connections send it what they say ([`ToRoom::Say`]) directly;
//! the directory tells it who joins, leaves and renames. It numbers each
//! message through the room's [`RoomLog`] and queues it, serialised once per
//! form, in every member's [`Outbox`] before taking the next request, so
//! everyone in the room sees one order; its [`Fanout`] then writes what was
//! queued. Rooms run side by side on the runtime's threads: a busy room
//! never waits for another.

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_std::channel::{Receiver, Sender, TryRecvError};
use bytes::Bytes;
use chat_core::names::{name_key, room_key};
use chat_core::protocol::{
    now_millis, ChatMessage, Departure, Headcount, HistoryEnd, MessageKind, Presence, Rename,
    Replayed, RoomInfo, ServerFrame, TopicInfo, UserList, Welcome,
};
use futures::channel::oneshot;
use tracing::debug;

use crate::deadline::Deadline;
use crate::directory::{ClientId, Internal};
use crate::fanout::Fanout;
use crate::irc;
use crate::log::{Entry, Logged, RoomLog, Source};
use crate::outbox::{Outbox, Overflow};
use crate::wire::{self, Mode};

/// Identifies a room for as long as it is open (a room created again after
/// it closed gets a new one).
pub type RoomId = u64;

/// How a connection is heard in a room.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub outbox: Outbox,
    pub mode: Mode,
    /// Version-1 clients know only their default room and its frames.
    pub version: u32,
    /// The connection's current room: plain lines about any other room are
    /// prefixed with `[#room] `.
    pub current: Arc<AtomicU64>,
    /// Whether it is an operator or away, which may change while it is in
    /// the room: IRC clients see operators as `@nick` and away users as
    /// gone (`G`) in `WHO`.
    pub standing: Arc<Standing>,
}

/// What IRC shows of a connection beside its name, shared by the
/// directory (which changes it) and the rooms the connection is in.
#[derive(Debug, Default)]
pub struct Standing {
    pub operator: std::sync::atomic::AtomicBool,
    pub away: std::sync::atomic::AtomicBool,
}

/// What a newcomer is told first.
#[derive(Debug)]
pub enum Intro {
    /// The connection was just named: its welcome (users filled in here).
    Welcome(Welcome),
    /// It joined this room.
    Joined,
}

/// What a room's broker is asked to do.
#[derive(Debug)]
pub enum ToRoom {
    /// A member says something (or acts it, with `action`).
    Say {
        id: ClientId,
        text: String,
        req_id: Option<String>,
        action: bool,
    },
    /// A member asks for older messages.
    History {
        id: ClientId,
        before: Option<u64>,
        limit: u32,
    },
    /// A member asks who is here; `irc_who` answers an IRC `WHO` (not
    /// `NAMES`) in its own numerics.
    Who { id: ClientId, irc_who: bool },
    /// A member joined again a room it is in: tell it the room's state.
    Info { id: ClientId },
    /// Someone joins: greet them, replay the newest, announce them.
    Add {
        id: ClientId,
        member: Member,
        intro: Intro,
        topic: Option<String>,
    },
    /// Someone leaves, for `reason`; the room is told (the leaver too with
    /// `tell_leaver`). `farewell` is one last line for the leaver; `done`
    /// fires once all of it is queued.
    Remove {
        id: ClientId,
        reason: String,
        tell_leaver: bool,
        farewell: Option<Bytes>,
        done: Option<oneshot::Sender<()>>,
    },
    /// A member's new name (the directory announces it).
    Rename { id: ClientId, name: String },
    /// The topic changed: tell everyone.
    Topic(TopicInfo),
    /// Entries the room's log accepted (in a cluster, from every node), in
    /// the room's order: relay them.
    Logged(Vec<Logged>),
    /// The log could not take what a member said: tell them nothing was
    /// sent.
    Refused {
        id: ClientId,
        req_id: Option<String>,
        why: String,
    },
    /// The room is empty and forgotten, or the server is stopping: end.
    Close,
}

impl ToRoom {
    /// Whether it carries chat lines, which people and bots send in bursts
    /// (joins, lists and history are answered at once, so that a client
    /// joining several rooms hears back in the order it asked).
    fn is_chat(&self) -> bool {
        match self {
            ToRoom::Say { .. } => true,
            ToRoom::Logged(items) => items.iter().any(|l| matches!(l.entry, Entry::Said(_))),
            _ => false,
        }
    }
}

/// How often a large room tells its members how many came and went.
const HEADCOUNT_EVERY: Duration = Duration::from_secs(1);

/// A large room's arrivals and departures since its last headcount.
#[derive(Debug, Default)]
struct Crowd {
    joined: u32,
    left: u32,
    /// When the next headcount is due: set by the first arrival or
    /// departure after the last one.
    due: Option<Instant>,
}

/// A room event serialised at most once per form, however many receive it.
struct Shared<'a> {
    frame: &'a ServerFrame,
    json: OnceCell<Bytes>,
    plain: OnceCell<Option<Bytes>>,
    prefixed: OnceCell<Option<Bytes>>,
    /// The IRC form, when it is the same for every reader: without and
    /// with `server-time`.
    irc: [OnceCell<Option<Bytes>>; 2],
}

impl<'a> Shared<'a> {
    fn new(frame: &'a ServerFrame) -> Self {
        Self {
            frame,
            json: OnceCell::new(),
            plain: OnceCell::new(),
            prefixed: OnceCell::new(),
            irc: [OnceCell::new(), OnceCell::new()],
        }
    }

    fn get(&self, member: &Member, room: RoomId) -> Option<Bytes> {
        match member.mode {
            Mode::Structured => Some(
                self.json
                    .get_or_init(|| wire::json_line(self.frame))
                    .clone(),
            ),
            Mode::Plain if member.current.load(Ordering::Relaxed) == room => self
                .plain
                .get_or_init(|| wire::plain_frame(self.frame, false))
                .clone(),
            Mode::Plain => self
                .prefixed
                .get_or_init(|| wire::plain_frame(self.frame, true))
                .clone(),
            // IRC clients did not ask for echo-message: their own words
            // and joins are not sent back to them.
            Mode::Irc(caps) if irc::form::own(self.frame, &member.name, caps) => None,
            Mode::Irc(caps) if irc::form::shared(self.frame) => self.irc
                [usize::from(caps.server_time)]
            .get_or_init(|| wire::irc_line(self.frame, &member.name, caps))
            .clone(),
            Mode::Irc(caps) => wire::irc_line(self.frame, &member.name, caps),
        }
    }
}

/// Requests a busy room handles before it wakes the writers of what they
/// queued, even if more requests are waiting.
const FLUSH_EVERY: usize = 16;

/// Queues `line` for a member without waking its writer, noting the outbox
/// for the next [`Room::flush`].
fn hold(held: &mut Vec<Outbox>, outbox: &Outbox, line: Bytes) -> Result<(), Overflow> {
    if outbox.hold(line)? {
        held.push(outbox.clone());
    }
    Ok(())
}

/// The broker of one room.
pub struct Room {
    id: RoomId,
    name: String,
    replay: usize,
    /// Past this many people the room is large (see [`Crowd`]).
    large: Option<usize>,
    /// While the room is large: who came and went since the last headcount.
    crowd: Option<Crowd>,
    log: Box<dyn RoomLog>,
    members: HashMap<ClientId, Member>,
    /// Name key → member, so that user lists come out sorted.
    names: BTreeMap<String, ClientId>,
    /// In a cluster, the members on other nodes: name key → (name, node).
    remote: BTreeMap<String, (String, String)>,
    /// In a cluster, the topic as the log tells it (the directory's copy
    /// may lag behind another node's change).
    topic: Option<TopicInfo>,
    /// Members whose queue overflowed: the directory drops them.
    overflowed: HashSet<ClientId>,
    /// Outboxes with lines whose writers have not been woken yet (see
    /// [`Room::flush`]).
    held: Vec<Outbox>,
    fanout: Fanout,
    /// How long a quiet room waits, once woken, before it writes.
    linger: Duration,
    directory: Sender<Internal>,
    relayed: Arc<AtomicU64>,
}

/// How many looks at the sockets a quiet room takes at most, while each
/// brings it more lines, before it writes.
const MAX_LOOKS: usize = 8;

impl Room {
    /// `settings`: how many recent messages newcomers are shown, the size
    /// past which the room is large (`None`: never), and how long a quiet
    /// room waits, once woken, for what was sent with the first request.
    pub fn new(
        id: RoomId,
        name: String,
        (replay, large, linger): (usize, Option<usize>, Duration),
        mut log: Box<dyn RoomLog>,
        directory: Sender<Internal>,
        relayed: Arc<AtomicU64>,
    ) -> Self {
        let topic = log.topic();
        if let Some(topic) = &topic {
            let _ = directory.try_send(Internal::Topic {
                key: room_key(&name),
                topic: topic.clone(),
            });
        }
        let remote = log
            .elsewhere()
            .into_iter()
            .map(|(name, node)| (name_key(&name), (name, node)))
            .collect();
        Self {
            id,
            name,
            replay,
            large,
            crowd: None,
            log,
            members: HashMap::new(),
            names: BTreeMap::new(),
            remote,
            topic,
            overflowed: HashSet::new(),
            held: Vec::new(),
            fanout: Fanout::start(),
            linger,
            directory,
            relayed,
        }
    }

    /// Serves the room until it is closed; gives back its key and log.
    pub async fn run(mut self, requests: Receiver<ToRoom>) -> (String, Box<dyn RoomLog>) {
        // One timer for every wait on a headcount, not one per request.
        let mut deadline = Deadline::default();
        let mut since_flush = 0;
        loop {
            let due = self.crowd.as_ref().and_then(|c| c.due);
            let request = match requests.try_recv() {
                Ok(request) => request,
                Err(TryRecvError::Closed) => break,
                Err(TryRecvError::Empty) => {
                    // Nothing more to take now: what was queued goes out.
                    self.flush();
                    since_flush = 0;
                    let got = match due {
                        Some(due) => {
                            let wait = due.saturating_duration_since(Instant::now());
                            match deadline.within(wait, requests.recv()).await {
                                Ok(got) => got,
                                Err(_) => {
                                    self.count_heads(false);
                                    continue;
                                }
                            }
                        }
                        None => requests.recv().await,
                    };
                    let Ok(request) = got else { break };
                    if request.is_chat() {
                        // A line woke a quiet room; lines sent with it may
                        // already wait in other sockets. Taking them first
                        // sends them all in one write per member.
                        if !self.linger.is_zero() {
                            // Asked to wait for later ones too.
                            let _ = deadline
                                .within(self.linger, futures::future::pending::<()>())
                                .await;
                        }
                        // Each look that brought more lines may be in the
                        // middle of a burst: look again, up to a few times.
                        for _ in 0..MAX_LOOKS {
                            let waiting = requests.len();
                            crate::runtime::next_turn().await;
                            if requests.len() == waiting {
                                break;
                            }
                        }
                    }
                    request
                }
            };
            if let ToRoom::Close = request {
                break;
            }
            self.handle(request);
            since_flush += 1;
            if since_flush == FLUSH_EVERY {
                self.flush();
                since_flush = 0;
            }
            // A busy room may never be idle for a whole second.
            if due.is_some_and(|due| due <= Instant::now()) {
                self.count_heads(false);
            }
            if let Some(waiting) = self.log.backlog() {
                self.flush();
                waiting.await;
            }
        }
        self.flush();
        debug!(room = %self.name, "room broker stopped");
        (room_key(&self.name), self.log)
    }

    fn handle(&mut self, request: ToRoom) {
        match request {
            ToRoom::Say {
                id,
                text,
                req_id,
                action,
            } => self.relay(id, text, req_id, action),
            ToRoom::History { id, before, limit } => self.history(id, before, limit),
            ToRoom::Who { id, irc_who: true } => {
                let users = self.standings();
                let line = self
                    .members
                    .get(&id)
                    .and_then(|m| irc::form::who(&m.name, &self.name, &users));
                if let Some(line) = line {
                    self.push(id, line);
                }
            }
            ToRoom::Who { id, .. } => {
                let users = ServerFrame::Users(UserList {
                    room: Some(self.name.clone()),
                    users: self.listed(id),
                });
                self.send_frame(id, &users);
            }
            ToRoom::Info { id } => {
                let info = ServerFrame::RoomJoined(self.info(id, None));
                self.send_frame(id, &info);
            }
            ToRoom::Add {
                id,
                member,
                intro,
                topic,
            } => self.add(id, member, intro, topic),
            ToRoom::Remove {
                id,
                reason,
                tell_leaver,
                farewell,
                done,
            } => {
                self.remove(id, reason, tell_leaver, farewell);
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            ToRoom::Rename { id, name } => {
                if let Some(member) = self.members.get_mut(&id) {
                    let from = std::mem::replace(&mut member.name, name.clone());
                    self.names.remove(&name_key(&from));
                    self.names.insert(name_key(&name), id);
                    // The directory tells this server's clients; other
                    // nodes hear it through the log.
                    if self.log.shared() {
                        self.offer(Entry::Renamed { from, to: name }, id, None);
                    }
                }
            }
            ToRoom::Topic(topic) => self.offer(Entry::Topic(topic), 0, None),
            ToRoom::Logged(batch) => {
                for logged in batch {
                    self.log.delivered(&logged);
                    self.apply(logged);
                }
            }
            ToRoom::Refused { id, req_id, why } => {
                let line = self.members.get(&id).map(|m| {
                    wire::error(
                        m.mode,
                        chat_core::protocol::ErrorCode::Unavailable,
                        &why,
                        req_id,
                    )
                });
                if let Some(line) = line {
                    self.push(id, line);
                }
            }
            ToRoom::Close => {}
        }
    }

    fn info(&self, reader: ClientId, topic: Option<String>) -> RoomInfo {
        RoomInfo {
            room: self.name.clone(),
            topic,
            users: self.listed(reader),
        }
    }

    /// Everyone in the room (on every node), in name-key order, as
    /// `reader` reads it: IRC clients see this server's operators as
    /// `@nick`.
    fn listed(&self, reader: ClientId) -> Vec<String> {
        let irc = self
            .members
            .get(&reader)
            .is_some_and(|m| matches!(m.mode, Mode::Irc(_)));
        self.standings()
            .into_iter()
            .map(|(name, op, _)| match irc && op {
                true => format!("@{name}"),
                false => name,
            })
            .collect()
    }

    /// Everyone in the room (on every node), in name-key order, with
    /// whether they are an operator and away (known of this server's
    /// members only).
    fn standings(&self) -> Vec<(String, bool, bool)> {
        let here = self.names.iter().filter_map(|(key, id)| {
            let member = self.members.get(id)?;
            let standing = &member.standing;
            let op = standing.operator.load(Ordering::Relaxed);
            let away = standing.away.load(Ordering::Relaxed);
            Some((key, (member.name.clone(), op, away)))
        });
        if self.remote.is_empty() {
            // The names index is in key order already: no merge to sort
            // (each IRC newcomer to a large room is sent the whole list).
            return here.map(|(_, standing)| standing).collect();
        }
        let elsewhere = self
            .remote
            .iter()
            .filter(|(key, _)| !self.names.contains_key(*key))
            .map(|(key, (name, _))| (key, (name.clone(), false, false)));
        let all: BTreeMap<&String, _> = here.chain(elsewhere).collect();
        all.into_values().collect()
    }

    /// Offers an entry to the log on behalf of member `id`, relaying it at
    /// once when the log accepts it at once.
    fn offer(&mut self, entry: Entry, id: ClientId, req_id: Option<String>) {
        let source = Source::Here { client: id, req_id };
        if let Some(logged) = self.log.append(entry, source) {
            self.apply(logged);
        }
    }

    /// Relays an accepted entry to this server's members.
    fn apply(&mut self, logged: Logged) {
        let Logged { entry, source } = logged;
        match entry {
            Entry::Said(item) => {
                self.relayed.fetch_add(1, Ordering::Relaxed);
                let wrap = match item.kind {
                    MessageKind::Action => ServerFrame::Action,
                    MessageKind::Message => ServerFrame::Message,
                };
                let mut message = item.message;
                message.room = Some(self.name.clone());
                match source {
                    Source::Here {
                        client,
                        req_id: Some(req_id),
                    } => {
                        let echo = wrap(ChatMessage {
                            id: Some(req_id),
                            ..message.clone()
                        });
                        self.broadcast(&wrap(message), Some((client, &echo)));
                    }
                    _ => self.broadcast(&wrap(message), None),
                }
            }
            Entry::Joined { name } => {
                let join = ServerFrame::Join(Presence {
                    room: Some(self.name.clone()),
                    time: now_millis(),
                    name: name.clone(),
                });
                if let Source::Node(node) = &source {
                    self.remote.insert(name_key(&name), (name, node.clone()));
                }
                match (&mut self.crowd, source) {
                    (Some(crowd), source) => {
                        crowd.joined += 1;
                        crowd
                            .due
                            .get_or_insert_with(|| Instant::now() + HEADCOUNT_EVERY);
                        // The joiner is still told of its own join.
                        if let Source::Here { client, .. } = source {
                            self.send_frame(client, &join);
                        }
                    }
                    (None, _) => self.broadcast(&join, None),
                }
                self.resize();
            }
            Entry::Left { name, reason } => {
                if let Source::Node(node) = &source {
                    let key = name_key(&name);
                    if self.remote.get(&key).is_some_and(|(_, n)| n == node) {
                        self.remote.remove(&key);
                    }
                }
                match &mut self.crowd {
                    Some(crowd) => {
                        crowd.left += 1;
                        crowd
                            .due
                            .get_or_insert_with(|| Instant::now() + HEADCOUNT_EVERY);
                    }
                    None => self.broadcast(
                        &ServerFrame::Leave(Departure {
                            room: Some(self.name.clone()),
                            time: now_millis(),
                            name,
                            reason,
                        }),
                        None,
                    ),
                }
                self.resize();
            }
            Entry::Topic(topic) => {
                if let Source::Node(_) = source {
                    let _ = self.directory.try_send(Internal::Topic {
                        key: room_key(&self.name),
                        topic: topic.clone(),
                    });
                }
                self.topic = Some(topic.clone());
                self.broadcast(&ServerFrame::Topic(topic), None);
            }
            // This server's renames were told by the directory.
            Entry::Renamed { .. } if matches!(source, Source::Here { .. }) => {}
            Entry::Renamed { from, to } => {
                if let Source::Node(node) = source {
                    self.remote.remove(&name_key(&from));
                    self.remote.insert(name_key(&to), (to.clone(), node));
                }
                self.broadcast(
                    &ServerFrame::Rename(Rename {
                        time: now_millis(),
                        from,
                        to,
                    }),
                    None,
                );
            }
        }
    }

    /// How many are in the room, on every node.
    fn size(&self) -> usize {
        self.members.len() + self.remote.len()
    }

    /// Whether the room has more people than it announces joins to.
    fn over(&self) -> bool {
        self.large.is_some_and(|large| self.size() > large)
    }

    /// Makes the room large once it passes its size, and small again once
    /// it is well below it (not at the first departure, so that a room at
    /// the edge does not send everyone its whole list again and again).
    fn resize(&mut self) {
        let Some(large) = self.large else { return };
        if self.crowd.is_none() && self.size() > large {
            self.crowd = Some(Crowd::default());
            self.count_heads(true);
        } else if self.crowd.is_some() && self.size() <= large - large / 5 {
            self.count_heads(true);
            self.crowd = None;
        }
    }

    /// Tells everyone how many are here and how many came and went since
    /// the last count; `always` sends it even if nobody did (the room just
    /// became large, or small again — then with the whole list).
    fn count_heads(&mut self, always: bool) {
        let Some(crowd) = self.crowd.as_mut() else {
            return;
        };
        let (joined, left) = (crowd.joined, crowd.left);
        *crowd = Crowd::default();
        if joined == 0 && left == 0 && !always {
            return;
        }
        // Forced while not over the size: the room just became small again.
        let users = (always && !self.over()).then(|| {
            self.standings()
                .into_iter()
                .map(|(name, _, _)| name)
                .collect()
        });
        let headcount = self.headcount(joined, left, users);
        self.broadcast(&headcount, None);
    }

    /// The room's headcount now, with who came and went since the last.
    fn headcount(&self, joined: u32, left: u32, users: Option<Vec<String>>) -> ServerFrame {
        ServerFrame::Headcount(Headcount {
            room: self.name.clone(),
            time: now_millis(),
            count: u32::try_from(self.size()).unwrap_or(u32::MAX),
            joined,
            left,
            users,
        })
    }

    /// Whether a member can read this frame: version-1 clients get only
    /// the frames they know, version-2 clients no headcounts.
    fn understands(member: &Member, frame: &ServerFrame) -> bool {
        match frame {
            ServerFrame::Headcount(_) => member.mode != Mode::Structured || member.version >= 3,
            ServerFrame::Topic(_) | ServerFrame::RoomJoined(_) | ServerFrame::Rooms(_) => {
                member.version >= 2
            }
            _ => true,
        }
    }

    fn push(&mut self, id: ClientId, line: Bytes) {
        let Some(member) = self.members.get(&id) else {
            return;
        };
        if hold(&mut self.held, &member.outbox, line).is_err() && self.overflowed.insert(id) {
            // The directory drops it everywhere; until then, skip it.
            let _ = self.directory.try_send(Internal::Overflowed { id });
        }
    }

    /// Sends every line held since the last flush, through the fan-out.
    fn flush(&mut self) {
        self.fanout.give(&mut self.held);
    }

    fn send_frame(&mut self, id: ClientId, frame: &ServerFrame) {
        let Some(member) = self.members.get(&id) else {
            return;
        };
        if !Self::understands(member, frame) {
            return;
        }
        let line = Shared::new(frame).get(member, self.id);
        if let Some(line) = line {
            self.push(id, line);
        }
    }

    /// Sends a room event to every member; `echo` is the sender's own copy
    /// (carrying the id it gave).
    fn broadcast(&mut self, frame: &ServerFrame, echo: Option<(ClientId, &ServerFrame)>) {
        let shared = Shared::new(frame);
        let echo = echo.map(|(id, frame)| (id, Shared::new(frame)));
        let mut failed = Vec::new();
        for (&id, member) in &self.members {
            if !Self::understands(member, frame) {
                continue;
            }
            let copy = match &echo {
                Some((sender, own)) if *sender == id => own,
                _ => &shared,
            };
            if let Some(line) = copy.get(member, self.id) {
                if hold(&mut self.held, &member.outbox, line).is_err() {
                    failed.push(id);
                }
            }
        }
        for id in failed {
            if self.overflowed.insert(id) {
                let _ = self.directory.try_send(Internal::Overflowed { id });
            }
        }
    }

    fn add(&mut self, id: ClientId, member: Member, intro: Intro, topic: Option<String>) {
        let topic = match self.log.shared() {
            true => self.topic.as_ref().map(|t| t.topic.clone()),
            false => topic,
        };
        let mode = member.mode;
        let name = member.name.clone();
        self.names.insert(name_key(&name), id);
        self.members.insert(id, member);
        // In a large room a newcomer who reads headcounts is told the size,
        // not everyone's name: listing N people to each of N newcomers is
        // quadratic too. IRC clients always get NAMES.
        let counted = self.over()
            && self.members.get(&id).is_some_and(|m| {
                m.mode == Mode::Plain || (m.mode == Mode::Structured && m.version >= 3)
            });
        let users = match counted {
            true => Vec::new(),
            false => self.listed(id),
        };
        let first = match intro {
            Intro::Welcome(mut welcome) => {
                welcome.users = users;
                if welcome.version >= 2 {
                    welcome.topic.clone_from(&topic);
                }
                ServerFrame::Welcome(welcome)
            }
            Intro::Joined => ServerFrame::RoomJoined(RoomInfo {
                room: self.name.clone(),
                topic: topic.clone(),
                users,
            }),
        };
        self.send_frame(id, &first);
        if counted {
            let size = self.headcount(0, 0, None);
            self.send_frame(id, &size);
        }
        // Structured clients have the topic in the frame above.
        if let (Mode::Plain, Some(topic)) = (mode, topic.filter(|t| !t.is_empty())) {
            let shown = ServerFrame::Topic(TopicInfo {
                room: self.name.clone(),
                topic,
                by: None,
                time: 0,
            });
            self.send_frame(id, &shown);
        }
        for item in self.log.recent(self.replay) {
            self.send_frame(id, &ServerFrame::Replay(item));
        }
        self.offer(Entry::Joined { name }, id, None);
    }

    fn remove(&mut self, id: ClientId, reason: String, tell_leaver: bool, farewell: Option<Bytes>) {
        let Some(member) = self.members.get(&id) else {
            return;
        };
        let name = member.name.clone();
        if tell_leaver {
            let leave = ServerFrame::Leave(Departure {
                room: Some(self.name.clone()),
                time: now_millis(),
                name: name.clone(),
                reason: reason.clone(),
            });
            self.send_frame(id, &leave);
        }
        if let Some(line) = farewell {
            self.push(id, line);
        }
        self.members.remove(&id);
        self.names.remove(&name_key(&name));
        self.overflowed.remove(&id);
        self.offer(Entry::Left { name, reason }, id, None);
    }

    fn relay(&mut self, id: ClientId, text: String, req_id: Option<String>, action: bool) {
        let Some(from) = self.members.get(&id).map(|m| m.name.clone()) else {
            // It left (or was never let in) before this arrived.
            debug!(client = id, room = %self.name, "message from a non-member dropped");
            return;
        };
        debug!(client = id, room = %self.name, from = %from, text = %text, "relay");
        let kind = if action {
            MessageKind::Action
        } else {
            MessageKind::Message
        };
        let item = Replayed {
            kind,
            message: ChatMessage {
                room: None,
                seq: 0,
                time: now_millis(),
                from,
                text,
                id: None,
            },
        };
        self.offer(Entry::Said(item), id, req_id);
    }

    /// Answers a history request through the log, which may look on disk
    /// on another thread (the room does not wait for it).
    fn history(&mut self, id: ClientId, before: Option<u64>, limit: u32) {
        let Some(member) = self.members.get(&id) else {
            return;
        };
        let (mode, outbox, me) = (member.mode, member.outbox.clone(), member.name.clone());
        let room = self.name.clone();
        self.log.page(
            before,
            limit,
            Box::new(move |items, more| {
                let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
                for item in items {
                    if let Some(line) = wire::encode_to(mode, &ServerFrame::Replay(item), &me) {
                        let _ = outbox.push(line);
                    }
                }
                let end = ServerFrame::HistoryEnd(HistoryEnd {
                    room: Some(room),
                    count,
                    more,
                });
                if let Some(line) = wire::encode_to(mode, &end, &me) {
                    let _ = outbox.push(line);
                }
            }),
        );
    }
}
