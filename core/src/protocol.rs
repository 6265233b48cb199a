//! Typed frames of the structured (JSON Lines) protocol, in both directions.
//!
//! Every frame is one JSON object on one line with a `"type"` field; see
//! `docs/PROTOCOL.md` for the whole conversation, including plain mode.
//! Encoding and decoding of lines lives in [`crate::codec`]; this module only
//! describes what the frames contain.

use serde::{Deserialize, Serialize};

/// Version of the structured protocol spoken by this crate: 2 added rooms,
/// 3 the headcounts of large rooms.
pub const PROTOCOL_VERSION: u32 = 3;

/// The oldest version a server still serves: a version-1 client sees only
/// its default room, in frames it already knows.
pub const MIN_PROTOCOL_VERSION: u32 = 1;

/// Longest room name, in characters.
pub const MAX_ROOM_CHARS: usize = 32;

/// The port a server listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8001;

/// The address clients and the server use unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8001";

/// Longest line (without its `\n`) a server accepts unless configured otherwise.
pub const DEFAULT_MAX_LINE: usize = 8192;

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 32;

/// A frame sent by a client in structured mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// First line of a structured connection: asks for a name.
    Hello {
        /// The name the client wants.
        name: String,
        /// The protocol version the client speaks (1 when absent).
        #[serde(default = "default_version")]
        version: u32,
        /// Free-form client identification, for the server's log.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
        /// The room's password, when the server requires one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
    /// A message to a room.
    Message {
        /// The room (without `#`); the current room when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// The text, one line.
        text: String,
        /// An id of the client's choosing, echoed back to the sender only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// An action (`/me waves`) to a room.
    Action {
        /// The room; the current room when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// The text after the sender's name.
        text: String,
        /// An id of the client's choosing, echoed back to the sender only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// A private message to one person.
    Private {
        /// Recipient's name.
        to: String,
        /// The text.
        text: String,
        /// An id of the client's choosing, echoed back to the sender only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// Asks to change the name.
    Nick {
        /// The new name.
        name: String,
    },
    /// Asks for a room's user list; answered with [`ServerFrame::Users`].
    Who {
        /// The room; the current room when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    /// Joins a room, creating it when the server allows, and makes it the
    /// current room. Answered with [`ServerFrame::RoomJoined`], the room's
    /// recent history as `replay` frames, then the joiner's own `join`.
    Join {
        /// The room, with or without a leading `#`.
        room: String,
    },
    /// Leaves a room (the current one without `room`); answered by the
    /// leaver's own `leave` in that room.
    Part {
        /// The room; the current room when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// Why, shown to the room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Asks for the list of rooms; answered with [`ServerFrame::Rooms`].
    Rooms,
    /// Shows (without `text`) or sets a room's topic; answered (and, when
    /// set, announced to the room) with [`ServerFrame::Topic`].
    Topic {
        /// The room; the current room when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// The new topic; empty clears it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// Liveness probe; answered with a `pong` carrying the same token.
    Ping {
        /// Opaque token echoed back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// Answer to a server's `ping`.
    Pong {
        /// The token of the ping being answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// Asks for older messages: up to `limit` before sequence number
    /// `before` (or the newest, without it). Answered with `replay` frames,
    /// oldest first, then one `history_end`.
    History {
        /// The room; the current room when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// Only messages with a lower sequence number.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        /// How many at most (the server caps it).
        #[serde(default = "default_history_limit")]
        limit: u32,
    },
    /// Claims operator rights with the operator password.
    Oper {
        /// The operator password.
        password: String,
    },
    /// Operators: puts someone out of the room.
    Kick {
        /// Who.
        name: String,
        /// Why, shown to the room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Operators: refuses a name from now on (and puts its holder out), or
    /// with `address`, every connection from an address.
    Ban {
        /// Who: a name, or with `address` a name online or an IP address.
        name: String,
        /// Ban the address rather than the name.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        address: bool,
        /// For how many seconds; for good without it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seconds: Option<u64>,
        /// Why, shown to the room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Operators: lifts the ban on a name or an address.
    Unban {
        /// The banned name or address.
        target: String,
    },
    /// Operators: asks for the list of bans; answered with [`ServerFrame::Bans`].
    Bans,
    /// Leaves the room; the server closes the connection after it.
    Quit {
        /// Shown to the others as `left (reason)`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// A hello without a version is from before versions mattered: version 1.
fn default_version() -> u32 {
    MIN_PROTOCOL_VERSION
}

fn default_history_limit() -> u32 {
    50
}

/// A frame sent by the server in structured mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The name was granted: the client is now in the room.
    Welcome(Welcome),
    /// A message to the room.
    Message(ChatMessage),
    /// An action (`/me`) to the room.
    Action(ChatMessage),
    /// A private message, sent to its recipient and echoed to its sender.
    Private(PrivateMessage),
    /// A message from the room's history: replayed on joining, or asked
    /// for with `history`. Shown apart from live messages.
    Replay(Replayed),
    /// The end of a `history` answer.
    HistoryEnd(HistoryEnd),
    /// Someone joined the room.
    Join(Presence),
    /// Someone left the room.
    Leave(Departure),
    /// Someone changed their name.
    Rename(Rename),
    /// Who is in a room, answering `who`.
    Users(UserList),
    /// A large room's arrivals and departures, counted instead of announced
    /// one by one (version 3).
    Headcount(Headcount),
    /// This client is now in a room (answering `join`): its topic and
    /// members. The room's recent history follows as `replay` frames, then
    /// the client's own `join`.
    RoomJoined(RoomInfo),
    /// The rooms on the server, answering `rooms`.
    Rooms(RoomList),
    /// A room's topic: answering `topic`, and to every member when it changes.
    Topic(TopicInfo),
    /// The bans in force, answering `bans`.
    Bans(BanList),
    /// A notice from the server itself (for example, shutdown).
    Notice(Notice),
    /// A request was refused; nothing was relayed.
    Error(ErrorFrame),
    /// Liveness probe; answer with `pong` and the same token.
    Ping {
        /// Opaque token to echo back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// Answer to a client's `ping`.
    Pong {
        /// The token of the ping being answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
}

/// Contents of a `welcome` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The protocol version the server speaks.
    pub version: u32,
    /// The name granted to this client.
    pub name: String,
    /// The default room, which the client is now in (and its current room).
    pub room: String,
    /// Everyone in that room, this client included, sorted case-insensitively.
    pub users: Vec<String>,
    /// The default room's topic, when it has one (version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The rooms the client is in (version 2): the default room.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<String>,
    /// The server's limits, so a client can refuse early what would be refused.
    pub limits: Limits,
}

/// Limits a server enforces, announced in `welcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Rooms one connection may be in at once (0: not announced).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_rooms: usize,
    /// Longest accepted line in bytes, without the newline.
    pub max_line: usize,
    /// Longest name in characters.
    pub max_name: usize,
    /// Messages per second allowed on average (0: no limit).
    #[serde(default)]
    pub rate_per_sec: u32,
    /// Messages allowed in a burst (0: no limit).
    #[serde(default)]
    pub burst: u32,
}

/// A message or an action relayed to the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The room it belongs to; absent only from a version-1 server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Position in the room's order: strictly rising, the same for every client.
    pub seq: u64,
    /// When the server accepted it, in milliseconds since the Unix epoch.
    pub time: u64,
    /// Sender's name.
    pub from: String,
    /// The text.
    pub text: String,
    /// The id the sender gave; present only in the sender's own copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Whether a stored message was said or acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// `<alice> hello`
    Message,
    /// `* alice waves`
    Action,
}

/// A message from the room's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replayed {
    /// Message or action.
    pub kind: MessageKind,
    /// The message as it was relayed (without the sender's id).
    #[serde(flatten)]
    pub message: ChatMessage,
}

/// Closes an answer to `history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEnd {
    /// The room it belongs to; absent only from a version-1 server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// How many `replay` frames the answer held.
    pub count: u32,
    /// Whether older messages remain.
    pub more: bool,
}

/// A private message between two people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateMessage {
    /// When the server accepted it, in milliseconds since the Unix epoch.
    pub time: u64,
    /// Sender's name.
    pub from: String,
    /// Recipient's name.
    pub to: String,
    /// The text.
    pub text: String,
    /// The id the sender gave; present only in the sender's own copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Someone joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The room it belongs to; absent only from a version-1 server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// When, in milliseconds since the Unix epoch.
    pub time: u64,
    /// Their name.
    pub name: String,
}

/// Someone left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departure {
    /// The room it belongs to; absent only from a version-1 server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// When, in milliseconds since the Unix epoch.
    pub time: u64,
    /// Their name.
    pub name: String,
    /// Why: `quit`, the quit message, `connection closed`, an error...
    pub reason: String,
}

/// Someone changed their name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rename {
    /// When, in milliseconds since the Unix epoch.
    pub time: u64,
    /// The old name.
    pub from: String,
    /// The new name.
    pub to: String,
}

/// Who is in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    /// The room it belongs to; absent only from a version-1 server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Names, sorted case-insensitively.
    pub users: Vec<String>,
}

/// How many are in a large room, and how many came and went since the
/// last count. A room past the server's announcement size stops sending
/// `join` and `leave` for each person (N people joining would otherwise
/// cost N²/2 lines) and sends this at most once a second instead; its
/// `room_joined` and `welcome` then list nobody (ask with `who`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headcount {
    /// The room it belongs to.
    pub room: String,
    /// When, in milliseconds since the Unix epoch.
    pub time: u64,
    /// How many are in the room now.
    pub count: u32,
    /// How many joined since the last headcount.
    pub joined: u32,
    /// How many left since the last headcount.
    pub left: u32,
    /// Present when the room became small enough to announce each join and
    /// leave again: everyone in it, sorted case-insensitively, to replace
    /// the list a client kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
}

/// A room the client has just joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// The room's name, without `#`.
    pub room: String,
    /// Its topic, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Its members, the joiner included, sorted case-insensitively.
    pub users: Vec<String>,
}

/// The rooms on a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomList {
    /// Every room, sorted by name.
    pub rooms: Vec<RoomSummary>,
}

/// One room in a [`RoomList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    /// The room's name, without `#`.
    pub room: String,
    /// How many are in it.
    pub members: usize,
    /// Its topic, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

/// A room's topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// The room, without `#`.
    pub room: String,
    /// The topic; empty when there is none.
    pub topic: String,
    /// Who set it, when it was just set (absent in answers to a query).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// When it was set, in milliseconds since the Unix epoch (0: never).
    #[serde(default)]
    pub time: u64,
}

/// The bans in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanList {
    /// Oldest first.
    pub bans: Vec<BanInfo>,
}

/// One ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanInfo {
    /// The banned name or address.
    pub target: String,
    /// Whether `target` is an address.
    #[serde(default)]
    pub address: bool,
    /// The operator who banned it.
    pub by: String,
    /// When, in milliseconds since the Unix epoch.
    pub time: u64,
    /// Until when (same unit); for good without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A notice from the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Human-readable text.
    pub text: String,
}

/// A refusal: what was wrong, for programs and for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// A sentence for people, saying exactly what was wrong.
    pub message: String,
    /// The id of the refused request, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The name is used by someone else (compared case-insensitively).
    NameTaken,
    /// The name breaks the naming rules.
    InvalidName,
    /// The line was longer than the server's limit; it was discarded.
    LineTooLong,
    /// The line was not valid UTF-8.
    InvalidUtf8,
    /// The line was not a valid frame of the structured protocol.
    BadFrame,
    /// The text held control characters.
    ControlCharacters,
    /// The text was empty.
    EmptyMessage,
    /// A private message named nobody online.
    UnknownUser,
    /// The command is not known.
    UnknownCommand,
    /// The command's arguments were wrong.
    BadCommand,
    /// A request that needs a name came before one was granted.
    NotNamed,
    /// Too many messages too fast; this one was not relayed.
    RateLimited,
    /// The server or this address has too many connections.
    ServerFull,
    /// The client's protocol version is not supported.
    UnsupportedVersion,
    /// The room's password was missing or wrong.
    BadPassword,
    /// The name or address is banned (also sent, before closing, to a
    /// connection being banned).
    Banned,
    /// Sent, before closing, to a connection an operator kicked: clients
    /// do not reconnect by themselves after it.
    Kicked,
    /// The command needs operator rights.
    NotOperator,
    /// The room name breaks the naming rules.
    InvalidRoom,
    /// The request names a room the client is not in (or that does not exist).
    NotInRoom,
    /// The server or the client has as many rooms as allowed.
    TooManyRooms,
    /// The server cannot reach what it needs to accept messages (in a
    /// cluster, its Redis): nothing was sent; try again shortly.
    Unavailable,
    /// Any other refusal.
    Other,
}

impl ErrorCode {
    /// The code's wire spelling, as in `docs/PROTOCOL.md`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::LineTooLong => "line_too_long",
            ErrorCode::InvalidUtf8 => "invalid_utf8",
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::ControlCharacters => "control_characters",
            ErrorCode::EmptyMessage => "empty_message",
            ErrorCode::UnknownUser => "unknown_user",
            ErrorCode::UnknownCommand => "unknown_command",
            ErrorCode::BadCommand => "bad_command",
            ErrorCode::NotNamed => "not_named",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ServerFull => "server_full",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::BadPassword => "bad_password",
            ErrorCode::Banned => "banned",
            ErrorCode::Kicked => "kicked",
            ErrorCode::NotOperator => "not_operator",
            ErrorCode::InvalidRoom => "invalid_room",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Other => "other",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Milliseconds since the Unix epoch, as used in every `time` field.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
