//! Operators' tools: kicks, and bans of a name (with its look-alikes) or of
//! an address, for a while or for good, kept in the history database so
//! that they outlast a restart.

use std::net::IpAddr;
use std::time::Duration;

use chat_core::names::name_key;
use chat_core::protocol::{now_millis, BanList, ErrorCode, Notice, ServerFrame};
use tracing::{info, warn};

use super::{Client, ClientId, Directory};
use crate::access::{Ban, BanTarget};
use crate::wire::{self, Mode};

impl Client {
    pub(super) fn is_operator(&self) -> bool {
        self.standing
            .operator
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Directory {
    /// Refuses with a reason unless `id` is an operator.
    fn operator(&mut self, id: ClientId, what: &str) -> bool {
        if self.clients.get(&id).is_some_and(|c| c.is_operator()) {
            return true;
        }
        let message = format!("only operators may {what}: /oper PASSWORD first");
        self.error_to(id, ErrorCode::NotOperator, message, None);
        false
    }

    /// Puts a connection out, telling it why first: a structured client
    /// gets an error with `code` (kicked or banned), so that it does not
    /// come back by itself; an IRC client is kicked from each of its
    /// channels by `by`, then told why the link closes.
    pub(super) async fn put_out(&mut self, victim: ClientId, code: ErrorCode, by: &str, why: &str) {
        if let Some(client) = self.clients.get(&victim) {
            let told = format!("you were {why}");
            let line = match client.mode {
                Mode::Plain => wire::notice(client.mode, told),
                Mode::Structured => wire::error(client.mode, code, told, None),
                Mode::Irc(_) => {
                    let name = client.name.as_deref().unwrap_or("*");
                    let channels: Vec<&str> = client
                        .rooms
                        .iter()
                        .filter_map(|key| Some(self.rooms.get(key)?.link.name.as_str()))
                        .collect();
                    crate::irc::form::kicked(by, name, &channels, why, &told)
                }
            };
            self.send_to(victim, line);
        }
        self.remove(victim, why, false).await;
    }

    /// Tells the IRC clients in `id`'s rooms that it is an operator now,
    /// as a channel mode (`+o`), which is how IRC shows one.
    pub(super) fn irc_operator_modes(&mut self, id: ClientId, name: &str) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        let mut lines = Vec::new();
        for key in &client.rooms {
            let Some(room) = self.rooms.get(key) else {
                continue;
            };
            let line = crate::irc::form::operator_mode(&room.link.name, name);
            lines.extend(room.members.iter().map(|&member| (member, line.clone())));
        }
        for (member, line) in lines {
            if matches!(
                self.clients.get(&member).map(|c| c.mode),
                Some(Mode::Irc(_))
            ) {
                self.send_to(member, line);
            }
        }
    }

    /// An operator puts `target` out; nothing keeps them from coming back.
    pub(super) async fn kick(
        &mut self,
        id: ClientId,
        by: String,
        target: String,
        reason: Option<String>,
        room: Option<String>,
    ) {
        if !self.operator(id, "kick") {
            return;
        }
        let Some(&victim) = self.names.get(&name_key(&target)) else {
            if self.cluster.is_some() {
                self.kick_elsewhere(id, by, target, reason).await;
                return;
            }
            let message = format!("nobody called \"{target}\" is online");
            self.error_about(id, ErrorCode::UnknownUser, message, None, Some(&target));
            return;
        };
        // IRC kicks from a channel: the victim must be in it.
        if let Some(room) = room.and_then(|key| self.rooms.get(&key)) {
            if !room.members.contains(&victim) {
                let channel = room.link.name.clone();
                if let Some(line) = self.clients.get(&id).map(|c| {
                    let me = c.name.as_deref().unwrap_or("*");
                    crate::irc::form::not_in_channel(me, &target, &channel)
                }) {
                    self.send_to(id, line);
                }
                return;
            }
        }
        if victim == id {
            let message = "you cannot kick yourself".to_owned();
            self.error_to(id, ErrorCode::BadCommand, message, None);
            return;
        }
        let why = with_reason(format!("kicked by {by}"), reason.as_deref());
        if let Some(client) = self.clients.get(&victim) {
            let name = client.name.clone().unwrap_or_default();
            warn!(client = victim, peer = %client.peer, name = %name, by = %by, reason = reason.as_deref().unwrap_or(""), "kicked");
        }
        self.put_out(victim, ErrorCode::Kicked, &by, &why).await;
    }

    /// An operator bans a name (and puts out whoever holds it or a name
    /// that looks like it) or an address (and puts out every connection
    /// from it but the operator's own).
    pub(super) async fn ban(
        &mut self,
        id: ClientId,
        by: String,
        target: String,
        address: bool,
        duration: Option<Duration>,
        reason: Option<String>,
    ) {
        if !self.operator(id, "ban") {
            return;
        }
        let target = match self.ban_target(id, &target, address) {
            Ok(target) => target,
            Err(message) => {
                self.error_to(id, ErrorCode::BadCommand, message, None);
                return;
            }
        };
        let time = now_millis();
        let ban = Ban {
            target: target.clone(),
            by: by.clone(),
            time,
            until: duration
                .map(|d| time.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))),
            reason: reason.clone(),
        };
        let mut why = format!("banned by {by}");
        if let Some(d) = duration {
            why.push_str(&format!(" for {}", span(d)));
        }
        let why = with_reason(why, reason.as_deref());
        warn!(target = %target.text(), by = %by, until = ?ban.until, reason = reason.as_deref().unwrap_or(""), "ban");
        self.bans.ban(ban.clone());
        self.store_ban(Some(ban), target.clone());
        let victims: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(&other, c)| {
                other != id
                    && match &target {
                        BanTarget::Address(ip) => c.peer.ip() == *ip,
                        BanTarget::Name(name) => c
                            .name
                            .as_deref()
                            .is_some_and(|held| chat_core::names::look_alike(held, name)),
                    }
            })
            .map(|(&other, _)| other)
            .collect();
        let done = format!(
            "{} is banned{}",
            target.text(),
            match duration {
                Some(d) => format!(" for {}", span(d)),
                None => String::new(),
            }
        );
        self.frame_to(id, &ServerFrame::Notice(Notice { text: done }));
        for victim in victims {
            self.put_out(victim, ErrorCode::Banned, &by, &why).await;
        }
    }

    /// What `/ban` refuses: an IP address as given, the address of a name
    /// online (with `address`), or a name.
    fn ban_target(&self, id: ClientId, target: &str, address: bool) -> Result<BanTarget, String> {
        if let Ok(ip) = target.parse::<IpAddr>() {
            return Ok(BanTarget::Address(ip));
        }
        let holder = self.names.get(&name_key(target)).copied();
        if holder == Some(id) {
            return Err("you cannot ban yourself".to_owned());
        }
        if !address {
            // The name as its holder spells it, when someone holds it.
            let name = holder
                .and_then(|h| self.clients.get(&h)?.name.clone())
                .unwrap_or_else(|| target.to_owned());
            return Ok(BanTarget::Name(name));
        }
        let ip = holder
            .and_then(|h| self.clients.get(&h))
            .map(|c| c.peer.ip())
            .ok_or_else(|| {
                format!("nobody called \"{target}\" is online: give their address instead")
            })?;
        if self.clients.get(&id).is_some_and(|c| c.peer.ip() == ip) {
            return Err(format!(
                "{target} connects from your own address ({ip}): ban the name instead"
            ));
        }
        Ok(BanTarget::Address(ip))
    }

    /// Writes a ban (or, with `None`, its lifting) to the database, off the
    /// directory's thread.
    fn store_ban(&self, ban: Option<Ban>, target: BanTarget) {
        let Some(store) = self.store.clone() else {
            return;
        };
        async_std::task::spawn_blocking(move || {
            let stored = match &ban {
                Some(ban) => store.save_ban(ban),
                None => store.delete_ban(&target),
            };
            if let Err(e) = stored {
                warn!(target = %target.text(), error = %e, "cannot store the ban; it holds until the server stops");
            }
        });
    }

    pub(super) fn unban(&mut self, id: ClientId, by: String, target: &str) {
        if !self.operator(id, "unban") {
            return;
        }
        let Some(lifted) = self.bans.unban(target) else {
            let message = format!("{target} is not banned");
            self.error_to(id, ErrorCode::BadCommand, message, None);
            return;
        };
        info!(target = %lifted.target.text(), by = %by, "unban");
        self.store_ban(None, lifted.target.clone());
        let text = format!("{} is no longer banned", lifted.target.text());
        self.frame_to(id, &ServerFrame::Notice(Notice { text }));
    }

    pub(super) fn list_bans(&mut self, id: ClientId) {
        if !self.operator(id, "list the bans") {
            return;
        }
        let list = ServerFrame::Bans(BanList {
            bans: self.bans.list().iter().map(Ban::info).collect(),
        });
        self.frame_to(id, &list);
    }
}

pub(super) fn with_reason(what: String, reason: Option<&str>) -> String {
    match reason {
        Some(reason) if !reason.is_empty() => format!("{what}: {reason}"),
        _ => what,
    }
}

/// `90 s`, `30 min`, `2 h`, `3 d`: a ban's length as people say it.
fn span(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}
