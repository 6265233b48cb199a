//! An IRC client's operator commands: `OPER` with the server's operator
//! password, `KICK` as the server's kick, and `MODE`, whose only settable
//! modes are `+b`/`-b` (the server's bans) and whose queries get honest
//! answers. Operators are made with `OPER` alone, never with `MODE +o`.

use chat_core::names::{name_key, validate_text};

use super::bans;
use super::message::Message;
use super::numeric::*;
use crate::connection::{Flow, Reader};
use crate::directory::Request;
use crate::want::Want;

impl Reader {
    /// `OPER name password`: the name is not checked (the server has one
    /// operator password); a wrong password is refused after a delay.
    pub(super) async fn oper_irc(&mut self, m: &Message) -> Flow {
        let Some(given) = m.param(1) else {
            return self.need_more_params("OPER").await;
        };
        let Some(password) = &self.config.operator_password else {
            self.reply(ERR_NOOPERHOST, &["No O-lines for your host"])
                .await;
            return Flow::Continue;
        };
        if !password.matches(given) {
            tracing::warn!(client = self.id, "wrong operator password");
            async_std::task::sleep(self.config.refusal_delay).await;
            self.reply(ERR_PASSWDMISMATCH, &["Password incorrect"])
                .await;
            return Flow::Continue;
        }
        self.reply(RPL_YOUREOPER, &["You are now an IRC operator"])
            .await;
        self.irc.oper = true;
        self.forward(Request::Oper).await
    }

    /// `482` unless this client is an operator (the directory checks
    /// again; this gives IRC's numeric about the channel).
    async fn need_operator(&self, channel: &str) -> bool {
        if !self.irc.oper {
            self.reply(
                ERR_CHANOPRIVSNEEDED,
                &[channel, "You're not channel operator"],
            )
            .await;
        }
        self.irc.oper
    }

    /// The room of a channel this client is in; `403` or `442` if not.
    async fn my_room(&self, channel: &str) -> Option<String> {
        let room = self.room_of(channel).await?;
        match self.rooms.find(room) {
            Some(link) => Some(link.key.clone()),
            None => {
                self.reply(ERR_NOTONCHANNEL, &[channel, "You're not on that channel"])
                    .await;
                None
            }
        }
    }

    /// `KICK #channel nick[,nick] [:reason]`: the server's kick, which
    /// puts them out of the server, not only the channel.
    pub(super) async fn kick(&mut self, m: &Message) -> Flow {
        let (Some(channel), Some(nicks)) = (m.param(0), m.param(1)) else {
            return self.need_more_params("KICK").await;
        };
        let Some(room) = self.my_room(channel).await else {
            return Flow::Continue;
        };
        if !self.need_operator(channel).await {
            return Flow::Continue;
        }
        let reason = m
            .param(2)
            .filter(|r| !r.is_empty() && validate_text(r).is_ok());
        for nick in nicks.split(',').filter(|n| !n.is_empty()) {
            if let Some(flow) = self.admit(None).await {
                return flow;
            }
            let kick = Request::Kick {
                name: nick.to_owned(),
                reason: reason.map(str::to_owned),
                room: Some(room.clone()),
            };
            if let Flow::Close(why) = self.forward(kick).await {
                return Flow::Close(why);
            }
        }
        Flow::Continue
    }

    /// `MODE`: queries get honest answers; `+b`/`-b` are the server's bans
    /// and `b` its ban list. Nothing else can be set: operators are made
    /// with `OPER`.
    pub(super) async fn mode_command(&mut self, m: &Message) -> Flow {
        let Some(target) = m.param(0) else {
            return self.need_more_params("MODE").await;
        };
        if target.starts_with('#') {
            return self.channel_mode(target, m).await;
        }
        let me = self.me();
        if name_key(target) != name_key(&me) {
            self.reply(ERR_USERSDONTMATCH, &["Cant change mode for other users"])
                .await;
        } else if m.param(1).is_none() {
            let modes = if self.irc.oper { "+o" } else { "+" };
            self.reply(RPL_UMODEIS, &[modes]).await;
        }
        // Setting one's own modes (irssi asks for +i) changes nothing.
        Flow::Continue
    }

    async fn channel_mode(&mut self, channel: &str, m: &Message) -> Flow {
        if self.room_of(channel).await.is_none() {
            return Flow::Continue;
        }
        let Some(modes) = m.param(1) else {
            self.reply(RPL_CHANNELMODEIS, &[channel, "+"]).await;
            return Flow::Continue;
        };
        let mut args = m.params.iter().skip(2);
        let mut adding = true;
        for mode in modes.chars() {
            let flow = match mode {
                '+' | '-' => {
                    adding = mode == '+';
                    continue;
                }
                'b' => match args.next() {
                    None => self.ban_list(channel).await,
                    Some(mask) => self.ban_mode(channel, adding, mask).await,
                },
                'o' => {
                    if args.next().is_none() {
                        return self.need_more_params("MODE").await;
                    }
                    if self.need_operator(channel).await {
                        let why = "Permission Denied- operators are made with OPER, not with MODE";
                        self.reply(ERR_NOPRIVILEGES, &[why]).await;
                    }
                    Flow::Continue
                }
                other => {
                    let c = other.to_string();
                    self.reply(ERR_UNKNOWNMODE, &[&c, "is unknown mode char to me"])
                        .await;
                    Flow::Continue
                }
            };
            if let Flow::Close(why) = flow {
                return Flow::Close(why);
            }
        }
        Flow::Continue
    }

    /// `MODE #channel b`: the server's bans for an operator; for anyone
    /// else only the end of the list (clients ask on every join).
    async fn ban_list(&mut self, channel: &str) -> Flow {
        if !self.irc.oper {
            let text = "End of channel ban list (only operators see the bans)";
            self.reply(RPL_ENDOFBANLIST, &[channel, text]).await;
            return Flow::Continue;
        }
        match self.admit(None).await {
            Some(flow) => flow,
            None => {
                let channel = channel.to_owned();
                self.forward(Request::IrcBans { channel }).await
            }
        }
    }

    /// `MODE #channel +b mask` / `-b mask`: a ban of the server.
    async fn ban_mode(&mut self, channel: &str, adding: bool, mask: &str) -> Flow {
        if !self.need_operator(channel).await {
            return Flow::Continue;
        }
        let Some(target) = bans::ban_target(mask) else {
            let why = "only name!*@* and *!*@address masks can be banned here";
            self.reply(ERR_INVALIDMODEPARAM, &[channel, "b", mask, why])
                .await;
            return Flow::Continue;
        };
        let want = match adding {
            true => Want::Ban {
                target,
                address: false,
                duration: None,
                reason: None,
            },
            false => Want::Unban(target),
        };
        self.want(want).await
    }
}
