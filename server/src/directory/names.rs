//! The directory's names: checking a wanted name (rules, bans, who holds
//! it or a look-alike), holding and freeing it, naming a new connection,
//! and renaming.

use chat_core::names::{name_keys, validate_name};
use chat_core::protocol::{
    now_millis, ErrorCode, Limits, Rename, ServerFrame, Welcome, MAX_NAME_CHARS, PROTOCOL_VERSION,
};
use tracing::info;

use super::{lower, ClientId, Directory, Refusal, RoomLink};
use crate::room::{Intro, ToRoom};
use crate::wire::{self, Mode};

impl Directory {
    /// Checks a wanted name: valid, not banned, and free unless `id`
    /// already holds it (or a name that looks the same).
    pub(super) fn check_name(&self, id: ClientId, name: &str) -> Result<(), Refusal> {
        validate_name(name).map_err(|e| (ErrorCode::InvalidName, e.to_string()))?;
        if let Some(banned) = self.bans.name_banned(name) {
            let message = if banned.eq_ignore_ascii_case(name) {
                format!("the name \"{name}\" is banned from this server")
            } else {
                format!(
                    "the name \"{name}\" looks like \"{banned}\", which is banned from this server"
                )
            };
            return Err((ErrorCode::Banned, message));
        }
        let holder = name_keys(name)
            .iter()
            .filter_map(|key| self.names.get(key))
            .find(|&&holder| holder != id);
        let Some(&holder) = holder else {
            return Ok(());
        };
        let taken = self
            .clients
            .get(&holder)
            .and_then(|c| c.name.clone())
            .unwrap_or_default();
        let message = if lower(&taken) == lower(name) {
            format!("the name \"{name}\" is taken")
        } else {
            format!("the name \"{name}\" looks like \"{taken}\", who is online")
        };
        Err((ErrorCode::NameTaken, message))
    }

    /// Holds every key of `name` for `id`.
    pub(super) fn hold_name(&mut self, id: ClientId, name: &str) {
        for key in name_keys(name) {
            self.names.insert(key, id);
        }
    }

    /// Frees every key of `name` that `id` holds.
    pub(super) fn free_name(&mut self, id: ClientId, name: &str) {
        for key in name_keys(name) {
            if self.names.get(&key) == Some(&id) {
                self.names.remove(&key);
            }
        }
    }

    pub(super) async fn claim(
        &mut self,
        id: ClientId,
        name: String,
        mode: Mode,
        version: u32,
    ) -> Option<RoomLink> {
        let client = self.clients.get_mut(&id)?;
        client.mode = mode;
        client.version = version;
        let peer = client.peer;
        if self.shutting_down {
            let line = wire::error(mode, ErrorCode::Other, "server is shutting down", None);
            self.send_to(id, line);
            return None;
        }
        if self.bans.address_banned(peer.ip()) {
            let line = wire::error(
                mode,
                ErrorCode::Banned,
                "you are banned from this server",
                None,
            );
            self.send_to(id, line);
            return None;
        }
        let checked = match self.check_name(id, &name) {
            Ok(()) => self.claim_in_cluster(id, &name).await,
            refused => refused,
        };
        if let Err((code, message)) = checked {
            info!(client = id, name = %name, reason = %message, "name refused");
            self.error_about(id, code, message, None, Some(&name));
            return None;
        }
        self.hold_name(id, &name);
        if let Some(client) = self.clients.get_mut(&id) {
            client.name = Some(name.clone());
        }
        info!(client = id, %peer, name = %name, mode = ?mode, version, "named");
        let default = self.default_room.clone();
        let welcome = Welcome {
            version: version.min(PROTOCOL_VERSION),
            name,
            room: self
                .rooms
                .get(&default)
                .map_or_else(|| default.clone(), |r| r.link.name.clone()),
            users: Vec::new(),
            topic: None,
            rooms: Vec::new(),
            limits: Limits {
                max_rooms: if version >= 2 {
                    self.config.max_rooms_per_client
                } else {
                    0
                },
                max_line: self.config.max_line,
                max_name: MAX_NAME_CHARS,
                rate_per_sec: self
                    .config
                    .rate_limit
                    .map_or(0, |r| r.per_sec.ceil() as u32),
                burst: self.config.rate_limit.map_or(0, |r| r.burst),
            },
        };
        self.enter(id, &default, Intro::Welcome(welcome)).await
    }

    pub(super) async fn rename(&mut self, id: ClientId, old: String, new: String) {
        if old == new {
            return;
        }
        let checked = match self.check_name(id, &new) {
            Ok(()) => self.claim_in_cluster(id, &new).await,
            refused => refused,
        };
        if let Err((code, message)) = checked {
            self.error_about(id, code, message, None, Some(&new));
            return;
        }
        self.free_name(id, &old);
        self.free_in_cluster(id, &old).await;
        self.hold_name(id, &new);
        let rooms = match self.clients.get_mut(&id) {
            Some(client) => {
                client.name = Some(new.clone());
                client.rooms.clone()
            }
            None => return,
        };
        info!(client = id, from = %old, to = %new, "renamed");
        for key in rooms {
            if let Some(room) = self.rooms.get(&key) {
                let rename = ToRoom::Rename {
                    id,
                    name: new.clone(),
                };
                let _ = room.link.tx.send(rename).await;
            }
        }
        self.tell_neighbours(
            id,
            &ServerFrame::Rename(Rename {
                time: now_millis(),
                from: old,
                to: new,
            }),
        );
    }
}
