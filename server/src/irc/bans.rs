//! The server's bans as IRC sees them: a banned name is the mask
//! `name!*@*`, a banned address `*!*@address`, and a channel's ban list
//! (`367`/`368`) is the server's, the same in every channel.

use bytes::Bytes;

use super::form::{numeric, HOST};
use super::message::Message;
use super::numeric::*;
use crate::access::{Ban, BanTarget};

/// A ban as an IRC mask: `name!*@*` or `*!*@address`.
pub fn ban_mask(target: &BanTarget) -> String {
    match target {
        BanTarget::Name(name) => format!("{name}!*@*"),
        BanTarget::Address(ip) => format!("*!*@{ip}"),
    }
}

/// What an IRC ban mask bans: a name (`name`, `name!*@*`, and the
/// `*!name@chat` clients make from `name!name@chat`) or an address
/// (`1.2.3.4`, `*!*@1.2.3.4`); `None` for masks with wildcards the
/// server's bans cannot express.
pub fn ban_target(mask: &str) -> Option<String> {
    let (left, host) = mask.split_once('@').unwrap_or((mask, "*"));
    let (nick, user) = left.split_once('!').unwrap_or((left, "*"));
    let any = |s: &str| s.is_empty() || s == "*";
    let plain = |s: &str| !s.is_empty() && !s.contains(['*', '?', '!', '@']);
    let user = user.trim_start_matches(['*', '~']);
    let our_host = any(host) || host == HOST || host == "*.chat";
    if any(nick) && (any(user)) && host.parse::<std::net::IpAddr>().is_ok() {
        return Some(host.to_owned());
    }
    if plain(nick) && our_host && (any(user) || user == nick) {
        return Some(nick.to_owned());
    }
    if any(nick) && plain(user) && our_host {
        return Some(user.to_owned());
    }
    None
}

/// The server's bans as the ban list (`367`s, `368`) of `channel`.
pub fn ban_list(me: &str, channel: &str, bans: &[Ban]) -> Bytes {
    let mut out: Vec<Message> = bans
        .iter()
        .map(|ban| {
            let set = (ban.time / 1000).to_string();
            numeric(
                me,
                RPL_BANLIST,
                &[channel, &ban_mask(&ban.target), &ban.by, &set],
            )
        })
        .collect();
    out.push(numeric(
        me,
        RPL_ENDOFBANLIST,
        &[channel, "End of channel ban list"],
    ));
    Bytes::from(out.iter().map(Message::to_line).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_that_name_a_name_or_an_address() {
        for (mask, target) in [
            ("bob", Some("bob")),
            ("bob!*@*", Some("bob")),
            ("bob!bob@chat", Some("bob")),
            ("*!bob@chat", Some("bob")),
            ("*!*bob@*", Some("bob")),
            ("1.2.3.4", Some("1.2.3.4")),
            ("*!*@1.2.3.4", Some("1.2.3.4")),
            ("*!*@::1", Some("::1")),
            ("*!*@*", None),
            ("b*b!*@*", None),
            ("bob!*@*.example.org", None),
            ("*!*@*.example.org", None),
            ("bob!eve@*", None),
            ("", None),
        ] {
            assert_eq!(ban_target(mask).as_deref(), target, "{mask}");
        }
    }

    #[test]
    fn bans_read_back_as_the_masks_they_came_from() {
        let name = BanTarget::Name("bob".into());
        let address = BanTarget::Address("10.0.0.1".parse().unwrap());
        assert_eq!(ban_mask(&name), "bob!*@*");
        assert_eq!(ban_mask(&address), "*!*@10.0.0.1");
        assert_eq!(ban_target(&ban_mask(&name)).as_deref(), Some("bob"));
        assert_eq!(ban_target(&ban_mask(&address)).as_deref(), Some("10.0.0.1"));
        let list = ban_list(
            "op",
            "#lobby",
            &[Ban {
                target: name,
                by: "op".into(),
                time: 5_000,
                until: None,
                reason: None,
            }],
        );
        assert_eq!(
            &list[..],
            b":chat-server 367 op #lobby bob!*@* op 5\r\n:chat-server 368 op #lobby :End of channel ban list\r\n"
        );
    }
}
