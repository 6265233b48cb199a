//! What the directory answers for IRC alone: away messages, notices,
//! `LUSERS` and the ban list as a channel's, each written by `crate::irc::form`, since
//! only the directory knows everyone connected.

use std::sync::atomic::Ordering;

use chat_core::names::name_key;
use chat_core::protocol::ErrorCode;

use super::{ClientId, Directory};
use crate::access::Ban;
use crate::irc::form;
use crate::wire::{self, Mode};

impl Directory {
    /// `AWAY`: sets or clears the message, and says which (`306`/`305`).
    pub(super) fn away(&mut self, id: ClientId, message: Option<String>) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        let back = message.is_none();
        client.away = message;
        client.standing.away.store(!back, Ordering::Relaxed);
        let me = client.name.clone().unwrap_or_default();
        self.send_to(id, form::away_set(&me, back));
    }

    /// Tells `from`, who just wrote privately to `to`, that `to` is away.
    pub(super) fn tell_away(&mut self, from: ClientId, to: &str) {
        let Some((name, away)) = self
            .names
            .get(&name_key(to))
            .filter(|&&holder| holder != from)
            .and_then(|holder| self.clients.get(holder))
            .and_then(|c| Some((c.name.clone()?, c.away.clone()?)))
        else {
            return;
        };
        let Some(sender) = self.clients.get(&from) else {
            return;
        };
        let line = match sender.mode {
            Mode::Irc(_) => form::away(sender.name.as_deref().unwrap_or("*"), &name, &away),
            mode => wire::notice(mode, format!("{name} is away: {away}")),
        };
        self.send_to(from, line);
    }

    /// `NOTICE nick :text`: sent as a private message when someone here
    /// has the name, dropped without a word when nobody has it. In a
    /// cluster, a name not held here is looked for on the other nodes like
    /// any private message's (and is refused like one when nobody has it).
    pub(super) async fn notice(&mut self, id: ClientId, from: String, to: String, text: String) {
        if self.names.contains_key(&name_key(&to)) || self.cluster.is_some() {
            self.private(id, from, to, text, None).await;
        }
    }

    /// `LUSERS`, counted on this server.
    pub(super) fn lusers(&mut self, id: ClientId, me: &str) {
        let named = self.clients.values().filter(|c| c.name.is_some());
        let users = named.clone().count();
        let operators = named.filter(|c| c.is_operator()).count();
        let unnamed = self.clients.len() - users;
        let line = form::lusers(me, users, operators, unnamed, self.rooms.len());
        self.send_to(id, line);
    }

    /// `MODE #channel b` from an operator: the server's bans, which hold in
    /// every channel, as IRC masks (`367`s and `368`).
    pub(super) fn irc_bans(&mut self, id: ClientId, me: &str, channel: &str) {
        if !self.clients.get(&id).is_some_and(|c| c.is_operator()) {
            let message = "only operators may list the bans: OPER first".to_owned();
            self.error_about(id, ErrorCode::NotOperator, message, None, Some(channel));
            return;
        }
        let bans: Vec<Ban> = self.bans.list();
        self.send_to(id, crate::irc::bans::ban_list(me, channel, &bans));
    }
}
