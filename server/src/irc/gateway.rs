//! An IRC client's commands, translated into the requests every other
//! mode makes ([`Want`], joins, parts, room requests): one handler per
//! command, looked up by name, as Ergo's `handlers.go` does.
//!
//! What IRC says that the server has no notion of (user modes, channel
//! modes, MOTD) is answered here with the honest numeric; everything else
//! goes through the same checks, rate limit and directory as plain and
//! structured clients, so the rooms never know an IRC client from another.

use chat_core::names::{parse_room, validate_text};

use super::form::{self, numeric, SERVER};
use super::message::{self, Message};
use super::numeric::*;
use crate::connection::{quit_reason, Flow, Phase, Reader};
use crate::directory::Request;
use crate::room::ToRoom;
use crate::want::Want;
use crate::wire::Mode;

/// What an IRC client has said about itself before it is registered.
#[derive(Debug, Default)]
pub struct Registration {
    /// `PASS`: the room's password.
    pass: Option<String>,
    /// `NICK`: the name it wants.
    nick: Option<String>,
    /// `USER` was given.
    user: bool,
    /// `CAP LS` or `REQ` began a negotiation that `CAP END` has not ended:
    /// registration waits for it.
    negotiating: bool,
    /// The nick or channel the command being handled is about, for the
    /// numeric of a refusal.
    pub about: Option<String>,
    /// `OPER` succeeded: this client is an operator (the only way an IRC
    /// connection becomes one).
    pub(super) oper: bool,
}

/// Longest tag section a client may send, `@` and the space after it
/// included (IRCv3 message-tags: 4094 bytes of tags).
pub const MAX_TAGS: usize = 4096;

/// The body of a CTCP ACTION (`\x01ACTION text\x01`), if `text` is one.
fn action(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('\u{1}')?;
    let inner = inner.strip_suffix('\u{1}').unwrap_or(inner);
    inner.strip_prefix("ACTION ")
}

impl Reader {
    /// The client's nick as numerics name it: the one granted, else the
    /// one asked for, else `*`.
    pub(crate) fn me(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.irc.nick.clone())
            .unwrap_or_else(|| "*".to_owned())
    }

    pub(super) async fn reply(&self, code: &str, params: &[&str]) {
        let me = self.me();
        self.push(form::line(&numeric(&me, code, params))).await;
    }

    pub(super) async fn send(&self, message: Message) {
        self.push(form::line(&message)).await;
    }

    pub(super) async fn need_more_params(&self, command: &str) -> Flow {
        self.reply(ERR_NEEDMOREPARAMS, &[command, "Not enough parameters"])
            .await;
        Flow::Continue
    }

    /// One line from an IRC client.
    pub(crate) async fn on_irc(&mut self, line: &str) -> Flow {
        // Tags have their own budget; the rest must fit IRC's 512 bytes.
        let (tags, rest) = match line.strip_prefix('@') {
            Some(_) => line
                .split_once(' ')
                .map_or((line.len(), ""), |(t, r)| (t.len() + 1, r)),
            None => (0, line),
        };
        if tags > MAX_TAGS || rest.len() + 2 > message::MAX_LINE {
            let what = if tags > MAX_TAGS {
                "Tags"
            } else {
                "Input line"
            };
            let text = format!("{what} too long; nothing was done");
            self.reply(ERR_INPUTTOOLONG, &[&text]).await;
            return Flow::Continue;
        }
        let message = match message::parse(line) {
            Ok(message) => message,
            Err(message::ParseError::Empty) => return Flow::Continue,
            Err(e) => {
                let me = self.me();
                self.send(form::notice(&me, &format!("not an IRC line: {e}")))
                    .await;
                return Flow::Continue;
            }
        };
        let registered = matches!(self.phase, Phase::Named(_));
        let m = &message;
        match m.command.as_str() {
            "CAP" => self.cap(m).await,
            "PING" => match m.param(0) {
                Some(token) => {
                    let pong = Message::new(
                        Some(SERVER),
                        "PONG",
                        vec![SERVER.to_owned(), token.to_owned()],
                    );
                    self.send(pong).await;
                    Flow::Continue
                }
                None => self.need_more_params("PING").await,
            },
            "PONG" => Flow::Continue,
            "QUIT" => {
                // `ERROR :Closing link: …` follows when the connection ends.
                Flow::Close(quit_reason(m.param(0).map(str::to_owned)))
            }
            "PASS" | "USER" if registered => {
                self.reply(ERR_ALREADYREGISTERED, &["You may not reregister"])
                    .await;
                Flow::Continue
            }
            "PASS" => match m.param(0) {
                Some(pass) => {
                    self.irc.pass = Some(pass.to_owned());
                    Flow::Continue
                }
                None => self.need_more_params("PASS").await,
            },
            "NICK" if !registered => match m.param(0).filter(|n| !n.is_empty()) {
                Some(nick) => {
                    self.irc.nick = Some(nick.to_owned());
                    self.register().await
                }
                None => {
                    self.reply(ERR_NONICKNAMEGIVEN, &["No nickname given"])
                        .await;
                    Flow::Continue
                }
            },
            "USER" if m.params.len() < 4 => self.need_more_params("USER").await,
            "USER" => {
                self.irc.user = true;
                self.register().await
            }
            _ if !registered => {
                self.reply(ERR_NOTREGISTERED, &["You have not registered"])
                    .await;
                Flow::Continue
            }
            _ => {
                let flow = self.registered(m).await;
                self.irc.about = None;
                flow
            }
        }
    }

    /// Commands of a registered client.
    async fn registered(&mut self, m: &Message) -> Flow {
        match m.command.as_str() {
            "NICK" => match m.param(0).filter(|n| !n.is_empty()) {
                Some(nick) => self.want(Want::Nick(nick.to_owned())).await,
                None => {
                    self.reply(ERR_NONICKNAMEGIVEN, &["No nickname given"])
                        .await;
                    Flow::Continue
                }
            },
            "PRIVMSG" | "NOTICE" => self.privmsg(m).await,
            "JOIN" => self.join_channels(m).await,
            "PART" => self.part_channels(m).await,
            "TOPIC" => self.topic(m).await,
            "NAMES" => self.names(m).await,
            "WHO" => self.who(m).await,
            "LIST" => self.want(Want::Rooms).await,
            "MODE" => self.mode_command(m).await,
            "OPER" => self.oper_irc(m).await,
            "KICK" => self.kick(m).await,
            "AWAY" => {
                let message = m.param(0).filter(|a| !a.is_empty());
                if let Some(Err(e)) = message.map(validate_text) {
                    let me = self.me();
                    self.send(form::notice(&me, &e.to_string())).await;
                    return Flow::Continue;
                }
                match self.admit(None).await {
                    Some(flow) => flow,
                    None => {
                        let away = Request::Away(message.map(str::to_owned));
                        self.forward(away).await
                    }
                }
            }
            "LUSERS" => match self.admit(None).await {
                Some(flow) => flow,
                None => self.forward(Request::Lusers).await,
            },
            "VERSION" => {
                let me = self.me();
                let max_rooms = self.config.max_rooms_per_client;
                self.push(form::version(&me, max_rooms)).await;
                Flow::Continue
            }
            "TIME" => {
                let now = form::timestamp(chat_core::protocol::now_millis());
                self.reply(RPL_TIME, &[SERVER, &now]).await;
                Flow::Continue
            }
            "ADMIN" => {
                let text = "No administrative info available";
                self.reply(ERR_NOADMININFO, &[SERVER, text]).await;
                Flow::Continue
            }
            "INFO" => {
                let about = format!(
                    "{SERVER} {}: a chat relay with an IRC gateway",
                    env!("CARGO_PKG_VERSION")
                );
                self.reply(RPL_INFO, &[&about]).await;
                self.reply(RPL_ENDOFINFO, &["End of INFO list"]).await;
                Flow::Continue
            }
            // Tags alone (typing notices and the like): nothing is relayed.
            "TAGMSG" => Flow::Continue,
            "ISON" | "USERHOST" if m.params.is_empty() => self.need_more_params(&m.command).await,
            "ISON" | "USERHOST" => {
                let userhost = m.command == "USERHOST";
                // ISON may have them all in one trailing parameter; USERHOST
                // answers at most 5, as RFC 2812 says.
                let mut nicks: Vec<String> = m
                    .params
                    .iter()
                    .flat_map(|p| p.split(' '))
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect();
                if userhost {
                    nicks.truncate(5);
                }
                match self.admit(None).await {
                    Some(flow) => flow,
                    None => self.forward(Request::Online { nicks, userhost }).await,
                }
            }
            // `WHOIS [server] nick`: the nick is the last parameter.
            "WHOIS" => match m.params.last().filter(|n| !n.is_empty()) {
                Some(nick) => match self.admit(None).await {
                    Some(flow) => flow,
                    None => self.forward(Request::Whois(nick.clone())).await,
                },
                None => {
                    self.reply(ERR_NONICKNAMEGIVEN, &["No nickname given"])
                        .await;
                    Flow::Continue
                }
            },
            "MOTD" => {
                self.reply(ERR_NOMOTD, &["MOTD File is missing"]).await;
                Flow::Continue
            }
            other => {
                self.reply(ERR_UNKNOWNCOMMAND, &[other, "Unknown command"])
                    .await;
                Flow::Continue
            }
        }
    }

    /// `CAP`: `server-time` and `echo-message` are offered; registration
    /// waits for `CAP END` once a negotiation began.
    async fn cap(&mut self, m: &Message) -> Flow {
        let me = self.me();
        let registered = matches!(self.phase, Phase::Named(_));
        let caps = match self.mode() {
            Mode::Irc(caps) => caps,
            _ => form::Caps::default(),
        };
        let sub = m.param(0).unwrap_or("").to_ascii_uppercase();
        let answer = |params: Vec<String>| {
            let mut all = vec![me.clone(), sub.clone()];
            all.extend(params);
            Message::new(Some(SERVER), "CAP", all)
        };
        match sub.as_str() {
            "LS" => {
                if !registered {
                    self.irc.negotiating = true;
                }
                self.send(answer(vec![form::OFFERED.to_owned()])).await;
            }
            "LIST" => self.send(answer(vec![caps.names()])).await,
            "REQ" => {
                let asked = m.param(1).unwrap_or("").to_owned();
                // The rooms serialise for the capabilities taken when the
                // client registered: they are not changed afterwards.
                let granted = caps.request(&asked).filter(|_| !registered);
                let mut reply = answer(vec![asked]);
                match granted {
                    Some(granted) => {
                        self.irc.negotiating = true;
                        self.phase = Phase::Naming(Mode::Irc(granted));
                        reply.params[1] = "ACK".to_owned();
                    }
                    None => reply.params[1] = "NAK".to_owned(),
                }
                self.send(reply).await;
            }
            "END" => {
                self.irc.negotiating = false;
                return self.register().await;
            }
            "" => return self.need_more_params("CAP").await,
            _ => {
                // ERR_INVALIDCAPCMD (410) is the only numeric for this.
                self.reply("410", &[&sub, "Invalid CAP command"]).await;
            }
        }
        Flow::Continue
    }

    /// Registration ends once NICK and USER are in and CAP is done: the
    /// password is checked, then the nick is claimed like any name.
    async fn register(&mut self) -> Flow {
        if matches!(self.phase, Phase::Named(_)) || !self.irc.user || self.irc.negotiating {
            return Flow::Continue;
        }
        let Some(nick) = self.irc.nick.clone() else {
            return Flow::Continue;
        };
        if !self.admitted {
            let given = self.irc.pass.clone();
            match given {
                Some(given)
                    if self
                        .config
                        .password
                        .as_ref()
                        .is_none_or(|p| p.matches(&given)) =>
                {
                    self.admitted = true;
                }
                _ => {
                    return self.wrong_password(given.is_none()).await;
                }
            }
        }
        self.claim(nick).await
    }

    /// The room a `#channel` names, if it is a valid one; a `403` if not.
    pub(super) async fn room_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        let room = channel.strip_prefix('#').and_then(|c| parse_room(c).ok());
        if room.is_none() {
            self.reply(ERR_NOSUCHCHANNEL, &[channel, "No such channel"])
                .await;
        }
        room
    }

    /// `PRIVMSG` and `NOTICE`. A `NOTICE` gets no error numeric and no
    /// `301`, as the protocol asks (only `slow down` if it is one too many).
    async fn privmsg(&mut self, m: &Message) -> Flow {
        let command = m.command.as_str();
        let quiet = command == "NOTICE";
        let Some(targets) = m.param(0).filter(|t| !t.is_empty()) else {
            if !quiet {
                let text = format!("No recipient given ({command})");
                self.reply(ERR_NORECIPIENT, &[&text]).await;
            }
            return Flow::Continue;
        };
        let Some(text) = m.param(1).filter(|t| !t.is_empty()) else {
            if !quiet {
                self.reply(ERR_NOTEXTTOSEND, &["No text to send"]).await;
            }
            return Flow::Continue;
        };
        let (text, is_action) = match action(text) {
            Some(body) => (body, true),
            // Other CTCP requests (VERSION, PING…) have no native meaning.
            None if text.starts_with('\u{1}') => return Flow::Continue,
            None => (text, false),
        };
        for target in targets.split(',').filter(|t| !t.is_empty()) {
            self.irc.about = Some(target.to_owned());
            let flow = if target.starts_with('#') {
                let room = match quiet {
                    true => target.strip_prefix('#').and_then(|c| parse_room(c).ok()),
                    false => self.room_of(target).await,
                };
                let Some(room) = room else {
                    continue;
                };
                if self.rooms.find(room).is_none() {
                    if !quiet {
                        let why = "Cannot send to channel";
                        self.reply(ERR_CANNOTSENDTOCHAN, &[target, why]).await;
                    }
                    continue;
                }
                let say = Want::Say {
                    room: Some(room.to_owned()),
                    text: text.to_owned(),
                    id: None,
                    action: is_action,
                };
                self.want(say).await
            } else if is_action {
                let me = self.me();
                let why = "actions in private messages are not carried yet; nothing was sent";
                self.send(form::notice(&me, why)).await;
                Flow::Continue
            } else if quiet {
                // Checked here, silently: a refusal would be a reply.
                if validate_text(text).is_err() {
                    continue;
                }
                match self.admit(None).await {
                    Some(flow) => flow,
                    None => {
                        let (to, text) = (target.to_owned(), text.to_owned());
                        self.forward(Request::Notice { to, text }).await
                    }
                }
            } else {
                let private = Want::Private {
                    to: target.to_owned(),
                    text: text.to_owned(),
                    id: None,
                };
                self.want(private).await
            };
            if let Flow::Close(reason) = flow {
                return Flow::Close(reason);
            }
        }
        Flow::Continue
    }

    async fn join_channels(&mut self, m: &Message) -> Flow {
        let Some(channels) = m.param(0) else {
            return self.need_more_params("JOIN").await;
        };
        if channels == "0" {
            // `JOIN 0` leaves every channel.
            let all: Vec<String> = self.rooms.names();
            for room in all {
                if let Flow::Close(reason) = self.part(Some(&room), None).await {
                    return Flow::Close(reason);
                }
            }
            return Flow::Continue;
        }
        for channel in channels.split(',').filter(|c| !c.is_empty()) {
            let Some(room) = self.room_of(channel).await else {
                continue;
            };
            // IRC servers ignore a JOIN of a channel one is on.
            if self.rooms.find(room).is_some() {
                continue;
            }
            match self.admit(None).await {
                None => {}
                // Refused (`slow down`, already said): try the next one.
                Some(Flow::Continue) => continue,
                Some(close) => return close,
            }
            self.irc.about = Some(channel.to_owned());
            if let Flow::Close(reason) = self.join(room.to_owned()).await {
                return Flow::Close(reason);
            }
        }
        Flow::Continue
    }

    async fn part_channels(&mut self, m: &Message) -> Flow {
        let Some(channels) = m.param(0) else {
            return self.need_more_params("PART").await;
        };
        let reason = m.param(1).filter(|r| !r.is_empty());
        for channel in channels.split(',').filter(|c| !c.is_empty()) {
            let Some(room) = self.room_of(channel).await else {
                continue;
            };
            if self.rooms.find(room).is_none() {
                self.reply(ERR_NOTONCHANNEL, &[channel, "You're not on that channel"])
                    .await;
                continue;
            }
            self.irc.about = Some(channel.to_owned());
            let part = Want::Part {
                room: Some(room.to_owned()),
                reason: reason.map(str::to_owned),
            };
            if let Flow::Close(reason) = self.want(part).await {
                return Flow::Close(reason);
            }
        }
        Flow::Continue
    }

    async fn topic(&mut self, m: &Message) -> Flow {
        let Some(channel) = m.param(0) else {
            return self.need_more_params("TOPIC").await;
        };
        let Some(room) = self.room_of(channel).await else {
            return Flow::Continue;
        };
        if self.rooms.find(room).is_none() {
            self.reply(ERR_NOTONCHANNEL, &[channel, "You're not on that channel"])
                .await;
            return Flow::Continue;
        }
        self.irc.about = Some(channel.to_owned());
        let topic = Want::Topic {
            room: Some(room.to_owned()),
            text: m.param(1).map(str::to_owned),
        };
        self.want(topic).await
    }

    async fn names(&mut self, m: &Message) -> Flow {
        let Some(channel) = m.param(0) else {
            // Every channel one is on.
            for room in self.rooms.names() {
                if let Flow::Close(reason) = self.want(Want::Who(Some(room))).await {
                    return Flow::Close(reason);
                }
            }
            return Flow::Continue;
        };
        match channel.strip_prefix('#').and_then(|c| parse_room(c).ok()) {
            Some(room) if self.rooms.find(room).is_some() => {
                self.want(Want::Who(Some(room.to_owned()))).await
            }
            // A channel one is not on, or none: only the end, as RFC 2812 says.
            _ => {
                self.reply(RPL_ENDOFNAMES, &[channel, "End of /NAMES list"])
                    .await;
                Flow::Continue
            }
        }
    }

    async fn who(&mut self, m: &Message) -> Flow {
        let mask = m.param(0).unwrap_or("*");
        let room = mask
            .strip_prefix('#')
            .and_then(|c| parse_room(c).ok())
            .filter(|room| self.rooms.find(room).is_some());
        let Some(room) = room else {
            // Nicks and channels one is not on: an empty answer.
            self.reply(RPL_ENDOFWHO, &[mask, "End of WHO list"]).await;
            return Flow::Continue;
        };
        if let Some(flow) = self.admit(None).await {
            return flow;
        }
        let who = ToRoom::Who {
            id: self.id,
            irc_who: true,
        };
        self.send_to_room(Some(room), None, who).await
    }
}
