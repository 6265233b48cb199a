//! What a named client asks for, in either mode: plain commands and
//! structured frames become one [`Want`], so that both are checked, rate
//! limited and carried out by the same code in `connection`.

use chat_core::input::Input;
use chat_core::protocol::ClientFrame;

/// What a named client asked for, from either mode.
pub enum Want {
    Say {
        room: Option<String>,
        text: String,
        id: Option<String>,
        action: bool,
    },
    Private {
        to: String,
        text: String,
        id: Option<String>,
    },
    Nick(String),
    Who(Option<String>),
    History {
        room: Option<String>,
        before: Option<u64>,
        limit: u32,
    },
    Join(String),
    Part {
        room: Option<String>,
        reason: Option<String>,
    },
    Rooms,
    Topic {
        room: Option<String>,
        text: Option<String>,
    },
    Kick {
        name: String,
        reason: Option<String>,
    },
    Ban {
        target: String,
        address: bool,
        duration: Option<std::time::Duration>,
        reason: Option<String>,
    },
    Unban(String),
    Bans,
}

impl Want {
    /// A plain-mode command; `None` for those answered elsewhere.
    pub fn from_input(input: Input) -> Option<Want> {
        Some(match input {
            Input::Say(text) => Want::Say {
                room: None,
                text,
                id: None,
                action: false,
            },
            Input::Me(text) => Want::Say {
                room: None,
                text,
                id: None,
                action: true,
            },
            Input::Msg { to, text } => Want::Private { to, text, id: None },
            Input::Nick(name) => Want::Nick(name),
            Input::Who(room) => Want::Who(room),
            Input::History(limit) => Want::History {
                room: None,
                before: None,
                limit,
            },
            Input::Join(room) => Want::Join(room),
            Input::Part { room, reason } => Want::Part { room, reason },
            Input::Rooms => Want::Rooms,
            Input::Topic(text) => Want::Topic { room: None, text },
            Input::Kick { name, reason } => Want::Kick { name, reason },
            Input::Ban {
                name,
                address,
                duration,
                reason,
            } => Want::Ban {
                target: name,
                address,
                duration,
                reason,
            },
            Input::Unban(target) => Want::Unban(target),
            Input::Bans => Want::Bans,
            Input::Help | Input::Quit(_) | Input::Oper(_) => return None,
        })
    }

    /// A structured request; `None` for those answered elsewhere.
    pub fn from_frame(frame: ClientFrame) -> Option<Want> {
        Some(match frame {
            ClientFrame::Message { room, text, id } => Want::Say {
                room,
                text,
                id,
                action: false,
            },
            ClientFrame::Action { room, text, id } => Want::Say {
                room,
                text,
                id,
                action: true,
            },
            ClientFrame::Private { to, text, id } => Want::Private { to, text, id },
            ClientFrame::Nick { name } => Want::Nick(name),
            ClientFrame::Who { room } => Want::Who(room),
            ClientFrame::History {
                room,
                before,
                limit,
            } => Want::History {
                room,
                before,
                limit,
            },
            ClientFrame::Join { room } => Want::Join(room),
            ClientFrame::Part { room, reason } => Want::Part { room, reason },
            ClientFrame::Rooms => Want::Rooms,
            ClientFrame::Topic { room, text } => Want::Topic { room, text },
            ClientFrame::Kick { name, reason } => Want::Kick { name, reason },
            ClientFrame::Ban {
                name,
                address,
                seconds,
                reason,
            } => Want::Ban {
                target: name,
                address,
                duration: seconds.map(std::time::Duration::from_secs),
                reason,
            },
            ClientFrame::Unban { target } => Want::Unban(target),
            ClientFrame::Bans => Want::Bans,
            ClientFrame::Hello { .. }
            | ClientFrame::Ping { .. }
            | ClientFrame::Pong { .. }
            | ClientFrame::Oper { .. }
            | ClientFrame::Quit { .. } => return None,
        })
    }
}
