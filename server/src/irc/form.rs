//! The server's frames as IRC lines: what an IRC client reads for each
//! thing that happens in the rooms, and the numerics that answer it.
//!
//! `me` is the reader's own nick (`*` before it has one): numerics name
//! it first, and an IRC client is not shown its own messages and joins
//! again (it did not ask for `echo-message`). A frame whose form does not
//! depend on `me` is [`shared`], so a room serialises it once for all its
//! IRC members.

use bytes::Bytes;
use chat_core::protocol::{
    ChatMessage, ErrorCode, MessageKind, ServerFrame, Welcome, MAX_NAME_CHARS, MAX_ROOM_CHARS,
};
use chat_core::render::clock;

use super::message::{Message, MAX_LINE};
use super::numeric::*;

/// The server's name in numerics and `PONG`s.
pub const SERVER: &str = "chat-server";
/// The host part of everyone's `nick!user@host`: addresses are not shown.
pub const HOST: &str = "chat";
/// The `NETWORK` ISUPPORT token.
pub const NETWORK: &str = "chat";

/// The IRCv3 capabilities a client took (`CAP REQ`), fixed at
/// registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps {
    /// `server-time`: events carry `@time=` (and history its own time).
    pub server_time: bool,
    /// `echo-message`: the client reads its own messages back.
    pub echo_message: bool,
    /// `message-tags`: the client may send tags (and `TAGMSG`); the
    /// gateway reads and drops them, relaying none.
    pub message_tags: bool,
    /// `multi-prefix`: every prefix in `NAMES` and `WHO`; with the one
    /// prefix there is (`@`), that is what everyone gets.
    pub multi_prefix: bool,
}

/// The capabilities offered, as `CAP LS` lists them (their order there).
pub const OFFERED: &str = "echo-message message-tags multi-prefix server-time";

impl Caps {
    /// Takes a `CAP REQ` list (`-name` drops one); `None` if it names a
    /// capability not offered, which refuses the whole request.
    pub fn request(self, list: &str) -> Option<Caps> {
        let mut caps = self;
        for item in list.split(' ').filter(|i| !i.is_empty()) {
            let (name, on) = match item.strip_prefix('-') {
                Some(name) => (name, false),
                None => (item, true),
            };
            match name {
                "server-time" => caps.server_time = on,
                "echo-message" => caps.echo_message = on,
                "message-tags" => caps.message_tags = on,
                "multi-prefix" => caps.multi_prefix = on,
                _ => return None,
            }
        }
        Some(caps)
    }

    /// The capabilities on, as `CAP LIST` names them.
    pub fn names(self) -> String {
        let mut names = Vec::new();
        if self.echo_message {
            names.push("echo-message");
        }
        if self.message_tags {
            names.push("message-tags");
        }
        if self.multi_prefix {
            names.push("multi-prefix");
        }
        if self.server_time {
            names.push("server-time");
        }
        names.join(" ")
    }
}

/// Milliseconds since the epoch as IRCv3's `time` tag wants them:
/// `2026-12-01T22:58:00.000Z` (UTC).
pub fn timestamp(millis: u64) -> String {
    let secs = millis / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        millis % 1000
    )
}

/// When a frame happened, for `server-time`.
fn time_of(frame: &ServerFrame) -> Option<u64> {
    match frame {
        ServerFrame::Message(m) | ServerFrame::Action(m) => Some(m.time),
        ServerFrame::Replay(r) => Some(r.message.time),
        ServerFrame::Private(p) => Some(p.time),
        ServerFrame::Join(p) => Some(p.time),
        ServerFrame::Leave(d) => Some(d.time),
        ServerFrame::Rename(r) => Some(r.time),
        ServerFrame::Topic(t) if t.by.is_some() => Some(t.time),
        ServerFrame::Headcount(h) => Some(h.time),
        _ => None,
    }
}

/// `nick!nick@HOST`.
pub fn source(nick: &str) -> String {
    format!("{nick}!{nick}@{HOST}")
}

fn owned(params: &[&str]) -> Vec<String> {
    params.iter().map(|p| (*p).to_owned()).collect()
}

/// A numeric from the server to `me`.
pub fn numeric(me: &str, code: &str, params: &[&str]) -> Message {
    let mut all = vec![me.to_owned()];
    all.extend(owned(params));
    Message::new(Some(SERVER), code, all)
}

fn bytes(messages: &[Message]) -> Option<Bytes> {
    if messages.is_empty() {
        return None;
    }
    let text: String = messages.iter().map(Message::to_line).collect();
    Some(Bytes::from(text))
}

/// One line as bytes.
pub fn line(message: &Message) -> Bytes {
    Bytes::from(message.to_line())
}

/// Whether a frame's IRC form is the same for every reader.
pub fn shared(frame: &ServerFrame) -> bool {
    matches!(
        frame,
        ServerFrame::Message(_)
            | ServerFrame::Action(_)
            | ServerFrame::Join(_)
            | ServerFrame::Leave(_)
            | ServerFrame::Rename(_)
            | ServerFrame::Topic(_)
            | ServerFrame::Headcount(_)
    ) && !matches!(frame, ServerFrame::Topic(t) if t.by.is_none())
        && !matches!(frame, ServerFrame::Headcount(h) if h.users.is_some())
}

/// Whether the IRC client called `me` does not read this frame: its own
/// join (it is told of it in its own way), and its own messages unless it
/// asked for `echo-message`.
pub fn own(frame: &ServerFrame, me: &str, caps: Caps) -> bool {
    match frame {
        ServerFrame::Message(m) | ServerFrame::Action(m) => !caps.echo_message && m.from == me,
        ServerFrame::Join(p) => p.name == me,
        _ => false,
    }
}

fn channel(room: Option<&str>) -> String {
    format!("#{}", room.unwrap_or("*"))
}

/// `text` cut at character boundaries into pieces that fit one line after
/// `overhead` bytes (source, command, target, `\r\n`): never cut inside a
/// character, never a piece longer than it may be.
pub fn split_text(text: &str, overhead: usize) -> Vec<&str> {
    // Always room for one character, however long the prefix.
    let budget = MAX_LINE.saturating_sub(overhead).max(4);
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (at, c) in text.char_indices() {
        if used + c.len_utf8() > budget {
            pieces.push(&text[start..at]);
            start = at;
            used = 0;
        }
        used += c.len_utf8();
    }
    pieces.push(&text[start..]);
    pieces
}

/// PRIVMSG lines from `from` to `target`, split to fit, as ACTIONs when
/// `action`.
pub fn privmsgs(from: &str, target: &str, text: &str, action: bool) -> Vec<Message> {
    let source = source(from);
    // ":source PRIVMSG target :" + "\r\n", and the CTCP wrapping.
    let mut overhead = 1 + source.len() + " PRIVMSG ".len() + target.len() + 2 + 2;
    if action {
        overhead += "\u{1}ACTION \u{1}".len();
    }
    split_text(text, overhead)
        .into_iter()
        .map(|piece| {
            let text = if action {
                format!("\u{1}ACTION {piece}\u{1}")
            } else {
                piece.to_owned()
            };
            Message::new(Some(&source), "PRIVMSG", vec![target.to_owned(), text])
        })
        .collect()
}

fn said(m: &ChatMessage, action: bool) -> Vec<Message> {
    privmsgs(&m.from, &channel(m.room.as_deref()), &m.text, action)
}

/// `353`s (as many as the names need) and the closing `366`.
pub fn names(me: &str, room: &str, users: &[String]) -> Vec<Message> {
    let chan = format!("#{room}");
    let overhead = SERVER.len() + me.len() + chan.len() + 20;
    let mut out = Vec::new();
    let mut batch = String::new();
    for user in users {
        if !batch.is_empty() && overhead + batch.len() + user.len() + 1 > MAX_LINE {
            out.push(numeric(me, RPL_NAMREPLY, &["=", &chan, &batch]));
            batch.clear();
        }
        if !batch.is_empty() {
            batch.push(' ');
        }
        batch.push_str(user);
    }
    if !batch.is_empty() {
        out.push(numeric(me, RPL_NAMREPLY, &["=", &chan, &batch]));
    }
    out.push(numeric(me, RPL_ENDOFNAMES, &[&chan, "End of /NAMES list"]));
    out
}

/// The `352`s and `315` that answer `WHO #room`, from each member's name,
/// whether an operator and whether away.
pub fn who(me: &str, room: &str, users: &[(String, bool, bool)]) -> Option<Bytes> {
    let chan = format!("#{room}");
    let mut out: Vec<Message> = users
        .iter()
        .map(|(u, op, away)| {
            // Here or gone; an operator is a server operator (`*`) and
            // shown as a channel operator (`@`).
            let mut flags = String::from(if *away { "G" } else { "H" });
            if *op {
                flags.push_str("*@");
            }
            numeric(
                me,
                RPL_WHOREPLY,
                &[&chan, u, HOST, SERVER, u, &flags, &format!("0 {u}")],
            )
        })
        .collect();
    out.push(numeric(me, RPL_ENDOFWHO, &[&chan, "End of WHO list"]));
    bytes(&out)
}

/// Who `WHOIS` is about: name, rooms, whether an operator, away message.
pub type Whois<'a> = (&'a str, &'a [String], bool, Option<&'a str>);

/// The answer to `WHOIS nick`: `None` for `who` when nobody has the nick
/// (then `401`), else who they are, their rooms, whether they are an
/// operator and away; `318` closes it either way.
pub fn whois(me: &str, nick: &str, who: Option<Whois>) -> Option<Bytes> {
    let mut out = Vec::new();
    match who {
        None => out.push(numeric(me, ERR_NOSUCHNICK, &[nick, "No such nick/channel"])),
        Some((name, rooms, operator, away)) => {
            out.push(numeric(me, RPL_WHOISUSER, &[name, name, HOST, "*", name]));
            if let Some(away) = away {
                out.push(numeric(me, RPL_AWAY, &[name, away]));
            }
            if !rooms.is_empty() {
                let chans: Vec<String> = rooms.iter().map(|r| format!("#{r}")).collect();
                out.push(numeric(me, RPL_WHOISCHANNELS, &[name, &chans.join(" ")]));
            }
            out.push(numeric(
                me,
                RPL_WHOISSERVER,
                &[name, SERVER, "a chat relay with an IRC gateway"],
            ));
            if operator {
                out.push(numeric(me, RPL_WHOISOPERATOR, &[name, "is an operator"]));
            }
        }
    }
    out.push(numeric(me, RPL_ENDOFWHOIS, &[nick, "End of /WHOIS list"]));
    bytes(&out)
}

/// The answer to `ISON a b c`: those online, as they spell their names.
pub fn ison(me: &str, online: &[String]) -> Bytes {
    line(&numeric(me, RPL_ISON, &[&online.join(" ")]))
}

/// The answer to `USERHOST a b`: `name=+name@HOST` for those online
/// (`*` after the name for operators).
pub fn userhost(me: &str, online: &[(String, bool)]) -> Bytes {
    let replies: Vec<String> = online
        .iter()
        .map(|(name, op)| format!("{name}{}=+{name}@{HOST}", if *op { "*" } else { "" }))
        .collect();
    line(&numeric(me, RPL_USERHOST, &[&replies.join(" ")]))
}

/// `301`: `nick` is away with `message` (said to whoever writes to them).
pub fn away(me: &str, nick: &str, message: &str) -> Bytes {
    line(&numeric(me, RPL_AWAY, &[nick, message]))
}

/// `305` (back) or `306` (away), answering `AWAY`.
pub fn away_set(me: &str, back: bool) -> Bytes {
    line(&match back {
        true => numeric(me, RPL_UNAWAY, &["You are no longer marked as being away"]),
        false => numeric(me, RPL_NOWAWAY, &["You have been marked as being away"]),
    })
}

/// `441`: `nick` is not in `#room`.
pub fn not_in_channel(me: &str, nick: &str, room: &str) -> Bytes {
    let chan = format!("#{room}");
    line(&numeric(
        me,
        ERR_USERNOTINCHANNEL,
        &[nick, &chan, "They aren't on that channel"],
    ))
}

/// What a kicked (or banned) IRC client reads: a `KICK` by `by` from each
/// of its `rooms`, then the `ERROR` that ends its link.
pub fn kicked(by: &str, name: &str, rooms: &[&str], why: &str, told: &str) -> Bytes {
    let mut out: Vec<Message> = rooms
        .iter()
        .map(|room| {
            let params = vec![format!("#{room}"), name.to_owned(), why.to_owned()];
            Message::new(Some(&source(by)), "KICK", params)
        })
        .collect();
    out.push(Message::new(None, "ERROR", vec![told.to_owned()]));
    bytes(&out).unwrap_or_default()
}

/// `MODE #room +o name`: `name` became an operator.
pub fn operator_mode(room: &str, name: &str) -> Bytes {
    let params = vec![format!("#{room}"), "+o".to_owned(), name.to_owned()];
    line(&Message::new(Some(SERVER), "MODE", params))
}

/// Who put a leaver out, if a kick or a ban did (the reason the
/// directory gives then is `kicked by NAME…` or `banned by NAME…`).
fn kicker(reason: &str) -> Option<&str> {
    let rest = reason
        .strip_prefix("kicked by ")
        .or_else(|| reason.strip_prefix("banned by "))?;
    rest.split([':', ' ']).next().filter(|n| !n.is_empty())
}

/// The `251`–`255`, `265` and `266` that answer `LUSERS`.
pub fn lusers(me: &str, users: usize, operators: usize, unnamed: usize, rooms: usize) -> Bytes {
    let (u, o, n, r) = (
        users.to_string(),
        operators.to_string(),
        unnamed.to_string(),
        rooms.to_string(),
    );
    let out = [
        numeric(
            me,
            RPL_LUSERCLIENT,
            &[&format!(
                "There are {users} users and 0 invisible on 1 servers"
            )],
        ),
        numeric(me, RPL_LUSEROP, &[&o, "operator(s) online"]),
        numeric(me, RPL_LUSERUNKNOWN, &[&n, "unknown connection(s)"]),
        numeric(me, RPL_LUSERCHANNELS, &[&r, "channels formed"]),
        numeric(
            me,
            RPL_LUSERME,
            &[&format!("I have {users} clients and 0 servers")],
        ),
        numeric(
            me,
            RPL_LOCALUSERS,
            &[&u, &u, &format!("Current local users {users}")],
        ),
        numeric(
            me,
            RPL_GLOBALUSERS,
            &[&u, &u, &format!("Current global users {users}")],
        ),
    ];
    bytes(&out).unwrap_or_default()
}

/// The ISUPPORT tokens (`005`), `max_rooms` being how many rooms a client
/// may be in.
fn isupport(me: &str, max_rooms: usize) -> Message {
    let tokens = [
        format!("NETWORK={NETWORK}"),
        "CHANTYPES=#".to_owned(),
        format!("CHANLIMIT=#:{max_rooms}"),
        format!("CHANNELLEN={}", MAX_ROOM_CHARS + 1),
        format!("NICKLEN={MAX_NAME_CHARS}"),
        // Unicode case folding; look-alike names are refused besides.
        "CASEMAPPING=rfc8265".to_owned(),
        "PREFIX=(o)@".to_owned(),
        // `b` is the server's own bans, the same in every channel.
        "CHANMODES=b,,,".to_owned(),
        format!("TOPICLEN={}", crate::directory::MAX_TOPIC_CHARS),
        "UTF8ONLY".to_owned(),
    ];
    let mut params: Vec<&str> = tokens.iter().map(String::as_str).collect();
    params.push("are supported by this server");
    numeric(me, RPL_ISUPPORT, &params)
}

/// The answer to `VERSION`: `351` and the ISUPPORT tokens.
pub fn version(me: &str, max_rooms: usize) -> Bytes {
    let version = env!("CARGO_PKG_VERSION");
    let out = [
        numeric(
            me,
            RPL_VERSION,
            &[version, SERVER, "a chat relay with an IRC gateway"],
        ),
        isupport(me, max_rooms),
    ];
    bytes(&out).unwrap_or_default()
}

/// What a client reads on entering a room: its own JOIN, the topic and
/// the names (borrowed: a large room's list is not copied again for each
/// newcomer).
fn entered(me: &str, room: &str, topic: Option<&str>, users: &[String]) -> Vec<Message> {
    let chan = format!("#{room}");
    let mut out = vec![Message::new(Some(&source(me)), "JOIN", vec![chan.clone()])];
    if let Some(topic) = topic.filter(|t| !t.is_empty()) {
        out.push(numeric(me, RPL_TOPIC, &[&chan, topic]));
    }
    out.extend(names(me, room, users));
    out
}

/// Registration's end: `001`–`005`, `422`, then the default room.
fn welcome(me: &str, w: &Welcome) -> Vec<Message> {
    let version = env!("CARGO_PKG_VERSION");
    let mut out = vec![
        numeric(
            me,
            RPL_WELCOME,
            &[&format!("Welcome to the {NETWORK} network, {me}")],
        ),
        numeric(
            me,
            RPL_YOURHOST,
            &[&format!("Your host is {SERVER}, running version {version}")],
        ),
        numeric(
            me,
            RPL_CREATED,
            &["This server is a chat relay with an IRC gateway"],
        ),
        numeric(me, RPL_MYINFO, &[SERVER, version, "o", "bo", "bo"]),
        isupport(me, w.limits.max_rooms),
        numeric(me, ERR_NOMOTD, &["MOTD File is missing"]),
    ];
    out.extend(entered(me, &w.room, w.topic.as_deref(), &w.users));
    out
}

/// The numeric for a refusal, `about` naming its nick or channel.
pub fn error(me: &str, code: ErrorCode, message: &str, about: Option<&str>) -> Message {
    let about = about.unwrap_or("*");
    let (numeric_code, with_about) = match code {
        ErrorCode::NameTaken => (ERR_NICKNAMEINUSE, true),
        ErrorCode::InvalidName => (ERR_ERRONEUSNICKNAME, true),
        ErrorCode::UnknownUser => (ERR_NOSUCHNICK, true),
        ErrorCode::NotInRoom => (ERR_NOTONCHANNEL, true),
        ErrorCode::InvalidRoom => (ERR_NOSUCHCHANNEL, true),
        ErrorCode::TooManyRooms => (ERR_TOOMANYCHANNELS, true),
        ErrorCode::NotOperator if about.starts_with('#') => (ERR_CHANOPRIVSNEEDED, true),
        ErrorCode::NotOperator => (ERR_NOPRIVILEGES, false),
        ErrorCode::EmptyMessage => (ERR_NOTEXTTOSEND, false),
        ErrorCode::UnknownCommand => (ERR_UNKNOWNCOMMAND, true),
        ErrorCode::LineTooLong => (ERR_INPUTTOOLONG, false),
        ErrorCode::NotNamed => (ERR_NOTREGISTERED, false),
        ErrorCode::BadPassword => (ERR_PASSWDMISMATCH, false),
        ErrorCode::Banned | ErrorCode::Kicked => (ERR_YOUREBANNEDCREEP, false),
        // No numeric says these: a notice carries the server's sentence.
        _ => {
            return Message::new(
                Some(SERVER),
                "NOTICE",
                vec![me.to_owned(), message.to_owned()],
            )
        }
    };
    if with_about {
        numeric(me, numeric_code, &[about, message])
    } else {
        numeric(me, numeric_code, &[message])
    }
}

/// A notice from the server.
pub fn notice(me: &str, text: &str) -> Message {
    Message::new(Some(SERVER), "NOTICE", vec![me.to_owned(), text.to_owned()])
}

/// The frame as IRC lines for the client called `me`, with the
/// capabilities it took; `None` when it has nothing to read for it.
pub fn frame(frame: &ServerFrame, me: &str, caps: Caps) -> Option<Bytes> {
    let mut lines = lines(frame, me, caps);
    if let Some(time) = time_of(frame).filter(|_| caps.server_time) {
        let stamp = timestamp(time);
        for line in &mut lines {
            line.tags.push(("time".to_owned(), Some(stamp.clone())));
        }
    }
    bytes(&lines)
}

fn lines(frame: &ServerFrame, me: &str, caps: Caps) -> Vec<Message> {
    match frame {
        ServerFrame::Welcome(w) => welcome(me, w),
        ServerFrame::RoomJoined(info) => {
            entered(me, &info.room, info.topic.as_deref(), &info.users)
        }
        ServerFrame::Message(m) => said(m, false),
        ServerFrame::Action(m) => said(m, true),
        ServerFrame::Private(p) if p.from == me && p.to != me && !caps.echo_message => Vec::new(),
        ServerFrame::Private(p) => privmsgs(&p.from, &p.to, &p.text, false),
        ServerFrame::Replay(r) => {
            // Without server-time, the time goes into the text, as it does
            // for plain clients, so history is not mistaken for live talk.
            let m = &r.message;
            let text = match caps.server_time {
                true => m.text.clone(),
                false => format!("[{}] {}", clock(m.time), m.text),
            };
            let action = r.kind == MessageKind::Action;
            privmsgs(&m.from, &channel(m.room.as_deref()), &text, action)
        }
        ServerFrame::HistoryEnd(_) | ServerFrame::Pong { token: None } => Vec::new(),
        ServerFrame::Join(p) => vec![Message::new(
            Some(&source(&p.name)),
            "JOIN",
            vec![channel(p.room.as_deref())],
        )],
        ServerFrame::Leave(d) => {
            let chan = channel(d.room.as_deref());
            let from = Some(source(&d.name));
            if let Some(by) = kicker(&d.reason) {
                let params = vec![chan, d.name.clone(), d.reason.clone()];
                return vec![Message::new(Some(&source(by)), "KICK", params)];
            }
            vec![match d.reason.strip_prefix("part") {
                Some("") => Message::new(from.as_deref(), "PART", vec![chan]),
                Some(rest) if rest.starts_with(": ") => {
                    Message::new(from.as_deref(), "PART", vec![chan, rest[2..].to_owned()])
                }
                _ => Message::new(from.as_deref(), "QUIT", vec![d.reason.clone()]),
            }]
        }
        ServerFrame::Rename(r) => vec![Message::new(
            Some(&source(&r.from)),
            "NICK",
            vec![r.to.clone()],
        )],
        ServerFrame::Users(list) => names(me, list.room.as_deref().unwrap_or("*"), &list.users),
        // IRC has no headcount: a notice to the channel, and the names
        // again when the room is small enough to follow joins and parts.
        ServerFrame::Headcount(h) => {
            let chan = format!("#{}", h.room);
            let text = chat_core::render::headcount_text(h);
            let mut out = vec![Message::new(Some(SERVER), "NOTICE", vec![chan, text])];
            if let Some(users) = &h.users {
                out.extend(names(me, &h.room, users));
            }
            out
        }
        ServerFrame::Rooms(list) => {
            let mut out = vec![numeric(me, RPL_LISTSTART, &["Channel", "Users  Name"])];
            for r in &list.rooms {
                out.push(numeric(
                    me,
                    RPL_LIST,
                    &[
                        &format!("#{}", r.room),
                        &r.members.to_string(),
                        r.topic.as_deref().unwrap_or(""),
                    ],
                ));
            }
            out.push(numeric(me, RPL_LISTEND, &["End of /LIST"]));
            out
        }
        ServerFrame::Topic(t) => {
            let chan = format!("#{}", t.room);
            match &t.by {
                Some(by) => vec![Message::new(
                    Some(&source(by)),
                    "TOPIC",
                    vec![chan, t.topic.clone()],
                )],
                None if t.topic.is_empty() => {
                    vec![numeric(me, RPL_NOTOPIC, &[&chan, "No topic is set"])]
                }
                None => vec![numeric(me, RPL_TOPIC, &[&chan, &t.topic])],
            }
        }
        ServerFrame::Bans(list) => chat_core::render::ban_lines(list)
            .iter()
            .map(|l| notice(me, l))
            .collect(),
        ServerFrame::Notice(n) => vec![notice(me, &n.text)],
        ServerFrame::Error(e) => vec![error(me, e.code, &e.message, None)],
        ServerFrame::Ping { token } => vec![Message::new(
            None,
            "PING",
            vec![token.clone().unwrap_or_else(|| SERVER.to_owned())],
        )],
        ServerFrame::Pong { token: Some(token) } => vec![Message::new(
            Some(SERVER),
            "PONG",
            vec![SERVER.to_owned(), token.clone()],
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::{Departure, Presence, PrivateMessage};

    fn text(b: Option<Bytes>) -> String {
        String::from_utf8(b.unwrap_or_default().to_vec()).unwrap()
    }

    fn said_by(from: &str, text: &str) -> ChatMessage {
        ChatMessage {
            room: Some("lobby".into()),
            seq: 1,
            time: 0,
            from: from.into(),
            text: text.into(),
            id: None,
        }
    }

    #[test]
    fn messages_actions_and_privates() {
        let m = ServerFrame::Message(said_by("alice", "hi"));
        assert_eq!(
            text(frame(&m, "bob", Caps::default())),
            ":alice!alice@chat PRIVMSG #lobby hi\r\n"
        );
        let a = ServerFrame::Action(said_by("alice", "waves"));
        assert_eq!(
            text(frame(&a, "bob", Caps::default())),
            ":alice!alice@chat PRIVMSG #lobby :\u{1}ACTION waves\u{1}\r\n"
        );
        let p = PrivateMessage {
            time: 0,
            from: "alice".into(),
            to: "bob".into(),
            text: "psst you".into(),
            id: None,
        };
        assert_eq!(
            text(frame(
                &ServerFrame::Private(p.clone()),
                "bob",
                Caps::default()
            )),
            ":alice!alice@chat PRIVMSG bob :psst you\r\n"
        );
        // The sender's echo is not shown to an IRC sender.
        assert_eq!(
            frame(&ServerFrame::Private(p), "alice", Caps::default()),
            None
        );
    }

    #[test]
    fn joins_parts_and_quits() {
        let join = ServerFrame::Join(Presence {
            room: Some("rust".into()),
            time: 0,
            name: "bob".into(),
        });
        assert_eq!(
            text(frame(&join, "x", Caps::default())),
            ":bob!bob@chat JOIN #rust\r\n"
        );
        let leave = |reason: &str| {
            ServerFrame::Leave(Departure {
                room: Some("rust".into()),
                time: 0,
                name: "bob".into(),
                reason: reason.into(),
            })
        };
        assert_eq!(
            text(frame(&leave("part"), "x", Caps::default())),
            ":bob!bob@chat PART #rust\r\n"
        );
        assert_eq!(
            text(frame(&leave("part: off to bed"), "x", Caps::default())),
            ":bob!bob@chat PART #rust :off to bed\r\n"
        );
        assert_eq!(
            text(frame(&leave("quit: bye"), "x", Caps::default())),
            ":bob!bob@chat QUIT :quit: bye\r\n"
        );
        // Put out by an operator: a KICK from them, in each channel.
        assert_eq!(
            text(frame(&leave("kicked by op: spam"), "x", Caps::default())),
            ":op!op@chat KICK #rust bob :kicked by op: spam\r\n"
        );
        assert_eq!(
            text(frame(&leave("banned by op for 1 h"), "x", Caps::default())),
            ":op!op@chat KICK #rust bob :banned by op for 1 h\r\n"
        );
    }

    #[test]
    fn server_time_and_echo_message() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_709_251_199_123), "2024-02-29T23:59:59.123Z");
        let caps = Caps::default()
            .request("server-time echo-message")
            .expect("offered");
        let m = ServerFrame::Message(ChatMessage {
            time: 86_400_000,
            ..said_by("alice", "hi")
        });
        assert_eq!(
            text(frame(&m, "bob", caps)),
            "@time=1970-01-02T00:00:00.000Z :alice!alice@chat PRIVMSG #lobby hi\r\n"
        );
        // History keeps its own time: in the tag, not in the text.
        let replay = ServerFrame::Replay(chat_core::protocol::Replayed {
            kind: MessageKind::Message,
            message: ChatMessage {
                time: 60_000,
                ..said_by("alice", "old")
            },
        });
        assert_eq!(
            text(frame(&replay, "bob", caps)),
            "@time=1970-01-01T00:01:00.000Z :alice!alice@chat PRIVMSG #lobby old\r\n"
        );
        assert!(text(frame(&replay, "bob", Caps::default())).ends_with("] old\r\n"));
        assert!(own(&m, "alice", Caps::default()));
        assert!(!own(&m, "alice", caps));
        assert_eq!(Caps::default().request("sasl"), None);
        assert_eq!(
            caps.request("-echo-message").map(Caps::names),
            Some("server-time".into())
        );
    }

    #[test]
    fn long_text_is_split_at_character_boundaries() {
        let long = "é".repeat(1000);
        let lines = text(frame(
            &ServerFrame::Message(said_by("alice", &long)),
            "bob",
            Caps::default(),
        ));
        let mut joined = String::new();
        for line in lines.split_terminator("\r\n") {
            assert!(line.len() + 2 <= MAX_LINE, "{} bytes", line.len());
            let parsed = super::super::message::parse(line).unwrap();
            joined.push_str(&parsed.params[1]);
        }
        assert_eq!(joined, long);
    }

    #[test]
    fn errors_are_numerics_naming_their_subject() {
        assert_eq!(
            error("*", ErrorCode::NameTaken, "taken", Some("alice")).to_string(),
            ":chat-server 433 * alice taken"
        );
        assert_eq!(
            error(
                "bob",
                ErrorCode::UnknownUser,
                "nobody called \"x\"",
                Some("x")
            )
            .to_string(),
            ":chat-server 401 bob x :nobody called \"x\""
        );
        assert_eq!(
            error("bob", ErrorCode::RateLimited, "slow down", None).to_string(),
            ":chat-server NOTICE bob :slow down"
        );
    }

    #[test]
    fn names_fit_in_lines() {
        let users: Vec<String> = (0..200).map(|i| format!("user{i:03}")).collect();
        let out = names("me", "lobby", &users);
        assert!(out.len() > 2);
        for m in &out {
            assert!(m.to_line().len() <= MAX_LINE);
        }
        assert_eq!(out.last().map(|m| m.command.as_str()), Some(RPL_ENDOFNAMES));
    }
}
