//! The IRC gateway: IRC clients (irssi, WeeChat, HexChat) in the same
//! rooms, under the same names, as native clients.
//!
//! It is a translation layer and nothing more: [`message`] parses and
//! writes IRC lines, [`numeric`] names the numerics, `form` writes the
//! server's frames as IRC lines, and `gateway` turns an IRC client's
//! commands into the same requests the other modes make (`operator` its
//! `OPER`, `KICK` and `MODE`, [`bans`] ban masks as the server's bans). No room or
//! directory code knows IRC beyond asking `wire` for a line in its form.

pub mod bans;
pub mod form;
pub mod gateway;
pub mod message;
pub mod numeric;
mod operator;
