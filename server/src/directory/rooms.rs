//! The directory's registry of rooms: opening a room's broker, joining,
//! parting, topics and the room list. A room nobody configured closes when
//! its last member leaves.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use chat_core::names::{parse_room, room_key};
use chat_core::protocol::{now_millis, ErrorCode, RoomList, RoomSummary, ServerFrame, TopicInfo};
use futures::channel::oneshot;
use tracing::{info, warn};

use super::{
    ClientId, Directory, Internal, Refusal, RoomEntry, RoomLink, MAX_TOPIC_CHARS, ROOM_QUEUE,
};
use crate::cluster::stream::RedisLog;
use crate::log::{LocalLog, RoomLog};
use crate::room::{Intro, Room, ToRoom};

impl Directory {
    /// Starts the broker of room `name`, with its log loaded on a blocking
    /// thread while the first requests queue.
    pub(super) fn open_room(&mut self, name: &str, permanent: bool) -> &mut RoomEntry {
        let key = room_key(name);
        let id = self.next_room;
        self.next_room += 1;
        let (tx, rx) = async_std::channel::bounded(ROOM_QUEUE);
        let (store, replay) = (self.store.clone(), self.config.replay);
        let (large, linger) = (self.config.large_room, self.config.linger);
        let (log_key, log_name) = (key.clone(), name.to_owned());
        let room_name = name.to_owned();
        let internal = self.internal.clone();
        let relayed = self.relayed.clone();
        let retired = self
            .retired
            .iter()
            .position(|(k, _)| *k == key)
            .map(|at| self.retired.remove(at).1);
        let cluster = self.cluster.clone();
        let room_tx = tx.clone();
        async_std::task::spawn(async move {
            let log: Box<dyn RoomLog> = match (retired, cluster) {
                (Some(log), _) => log,
                (None, Some(cluster)) => {
                    Box::new(RedisLog::open(cluster, &log_key, &log_name, replay, room_tx).await)
                }
                (None, None) => {
                    let opened = async_std::task::spawn_blocking(move || {
                        LocalLog::open(store, &log_key, &log_name, replay).or_else(|e| {
                            warn!(room = %log_name, error = %e, "cannot read the room's history; keeping it in memory");
                            LocalLog::open(None, &log_key, &log_name, replay)
                        })
                    })
                    .await;
                    match opened {
                        Ok(log) => Box::new(log),
                        // A memory log cannot fail to open.
                        Err(_) => return,
                    }
                }
            };
            let room = Room::new(
                id,
                room_name,
                (replay, large, linger),
                log,
                internal.clone(),
                relayed,
            );
            let (key, log) = room.run(rx).await;
            let _ = internal.try_send(Internal::Retired { key, log });
        });
        info!(room = %name, permanent, "room opened");
        self.rooms.entry(room_key(name)).or_insert(RoomEntry {
            link: RoomLink {
                id,
                key: room_key(name),
                name: name.to_owned(),
                tx,
            },
            members: HashSet::new(),
            permanent,
            topic: None,
        })
    }

    pub(super) async fn join(
        &mut self,
        id: ClientId,
        name: &str,
        room: &str,
    ) -> Result<RoomLink, Refusal> {
        let Some(client) = self.clients.get(&id) else {
            return Err((ErrorCode::Other, "not connected".to_owned()));
        };
        if client.version < 2 {
            return Err((
                ErrorCode::UnsupportedVersion,
                "rooms need protocol version 2: say so in hello".to_owned(),
            ));
        }
        let room = parse_room(room).map_err(|e| (ErrorCode::InvalidRoom, e.to_string()))?;
        let key = room_key(room);
        if client.rooms.contains(&key) {
            // Already in: only make it current, and say what it is like.
            let link = self.rooms.get(&key).map(|r| r.link.clone());
            if let Some(link) = &link {
                client.current.store(link.id, Ordering::Relaxed);
                let _ = link.tx.send(ToRoom::Info { id }).await;
            }
            return link.ok_or((ErrorCode::NotInRoom, format!("#{room} is gone")));
        }
        let most = self.config.max_rooms_per_client;
        if client.rooms.len() >= most {
            return Err((
                ErrorCode::TooManyRooms,
                format!("you are in {most} rooms, the most allowed: /part one first"),
            ));
        }
        if !self.rooms.contains_key(&key) {
            let most = self.config.max_rooms;
            if self.rooms.len() >= most {
                return Err((
                    ErrorCode::TooManyRooms,
                    format!("this server has {most} rooms, the most it allows: join one of them (/rooms)"),
                ));
            }
            self.open_room(room, false);
            info!(client = id, name = %name, room = %room, "room created");
        }
        let link = self
            .enter(id, &key, Intro::Joined)
            .await
            .ok_or((ErrorCode::Other, "cannot join now".to_owned()))?;
        info!(client = id, name = %name, room = %link.name, "joined");
        Ok(link)
    }

    /// Takes a client out of one room; a created room that is left empty
    /// closes (its history stays).
    pub(super) async fn leave_room(
        &mut self,
        id: ClientId,
        key: &str,
        reason: String,
        farewell: Option<Bytes>,
        done: Option<oneshot::Sender<()>>,
    ) {
        if let Some(client) = self.clients.get_mut(&id) {
            client.rooms.retain(|r| r != key);
        }
        let Some(room) = self.rooms.get_mut(key) else {
            return;
        };
        room.members.remove(&id);
        // A part is told to the leaver too; a disconnected client is gone.
        let remove = ToRoom::Remove {
            id,
            reason,
            tell_leaver: done.is_some(),
            farewell,
            done,
        };
        let _ = room.link.tx.send(remove).await;
        if room.members.is_empty() && !room.permanent {
            if let Some(room) = self.rooms.remove(key) {
                info!(room = %room.link.name, "room removed (empty)");
                let _ = room.link.tx.send(ToRoom::Close).await;
            }
        }
    }

    pub(super) async fn part(
        &mut self,
        id: ClientId,
        name: &str,
        key: &str,
        reason: Option<String>,
        farewell: Option<Bytes>,
        done: oneshot::Sender<()>,
    ) {
        let member = self
            .clients
            .get(&id)
            .is_some_and(|c| c.rooms.iter().any(|r| r == key));
        if !member {
            let _ = done.send(());
            return;
        }
        let room_name = self
            .rooms
            .get(key)
            .map_or_else(|| key.to_owned(), |r| r.link.name.clone());
        info!(client = id, name = %name, room = %room_name, reason = reason.as_deref().unwrap_or(""), "parted");
        let reason = match reason {
            Some(reason) if !reason.is_empty() => format!("part: {reason}"),
            _ => "part".to_owned(),
        };
        self.leave_room(id, key, reason, farewell, Some(done)).await;
    }

    pub(super) async fn topic(
        &mut self,
        id: ClientId,
        name: String,
        key: &str,
        text: Option<String>,
    ) {
        let (member, operator) = self.clients.get(&id).map_or((false, false), |c| {
            (c.rooms.iter().any(|r| r == key), c.is_operator())
        });
        let Some(room) = self.rooms.get_mut(key).filter(|_| member) else {
            let message = format!("you are not in #{key}: /join it first");
            let about = format!("#{key}");
            self.error_about(id, ErrorCode::NotInRoom, message, None, Some(&about));
            return;
        };
        let Some(text) = text else {
            let shown = room.topic.clone().map_or_else(
                || TopicInfo {
                    room: room.link.name.clone(),
                    topic: String::new(),
                    by: None,
                    time: 0,
                },
                |t| TopicInfo { by: None, ..t },
            );
            self.frame_to(id, &ServerFrame::Topic(shown));
            return;
        };
        if self.config.topic_ops_only && !operator {
            let about = format!("#{}", room.link.name);
            let message = format!("only operators may set the topic of {about}");
            self.error_about(id, ErrorCode::NotOperator, message, None, Some(&about));
            return;
        }
        if text.chars().count() > MAX_TOPIC_CHARS {
            let message = format!("a topic is at most {MAX_TOPIC_CHARS} characters");
            self.error_to(id, ErrorCode::BadCommand, message, None);
            return;
        }
        let topic = TopicInfo {
            room: room.link.name.clone(),
            topic: text,
            by: Some(name.clone()),
            time: now_millis(),
        };
        info!(client = id, name = %name, room = %topic.room, topic = %topic.topic, "topic set");
        room.topic = Some(topic.clone());
        let _ = room.link.tx.send(ToRoom::Topic(topic)).await;
    }

    pub(super) fn list_rooms(&mut self, id: ClientId) {
        let list = ServerFrame::Rooms(RoomList {
            rooms: self
                .rooms
                .values()
                .map(|r| RoomSummary {
                    room: r.link.name.clone(),
                    members: r.members.len(),
                    topic: r
                        .topic
                        .as_ref()
                        .map(|t| t.topic.clone())
                        .filter(|t| !t.is_empty()),
                })
                .collect(),
        });
        self.frame_to(id, &list);
    }
}
