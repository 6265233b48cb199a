//! Operators over IRC, over real sockets: `OPER` with the server's
//! operator password, operators shown as `@`, `KICK` and `MODE ±b` as the
//! server's own kicks and bans (so they apply to native clients too), a
//! native operator's ban as seen by IRC clients, and each numeric a client
//! can trigger on the way.

mod common;

use std::time::Duration;

use chat_server::{Config, Secret, ServerHandle};
use common::irc::{config, irc_addr, server_with, Irc};
use common::Plain;

async fn server() -> ServerHandle {
    server_with(Config {
        operator_password: Some(Secret::new("root")),
        refusal_delay: Duration::from_millis(10),
        ..config()
    })
    .await
}

/// The `367` line's fixed part (its last field is when the ban was set).
fn ban_entry(line: &str) -> &str {
    line.rsplit_once(' ').map_or(line, |(head, _)| head)
}

#[async_std::test]
async fn an_irc_operator_kicks_and_bans_native_and_irc_users() {
    let server = server().await;
    let irc = irc_addr(&server);
    let (mut alice, _) = Irc::register(irc, "alice").await;
    let mut bob = Plain::join(server.addr(), "bob").await;
    let mut carol = Plain::join(server.addr(), "carol").await;
    let (mut eve, _) = Irc::register(irc, "eve").await;
    let (mut dave, _) = Irc::register(irc, "dave").await;
    dave.join("#rust").await;
    dave.send("PART #lobby").await;
    dave.next_is(":dave!dave@chat PART #lobby").await;
    eve.until(":dave!dave@chat PART #lobby").await;
    alice.until(":dave!dave@chat PART #lobby").await;
    bob.expect("* dave left (part)").await;

    // Not an operator yet: every operator's command is refused.
    for (send, want) in [
        (
            "OPER alice",
            ":chat-server 461 alice OPER :Not enough parameters",
        ),
        (
            "OPER alice guess",
            ":chat-server 464 alice :Password incorrect",
        ),
        (
            "KICK #lobby bob :out",
            ":chat-server 482 alice #lobby :You're not channel operator",
        ),
        (
            "MODE #lobby +b bob",
            ":chat-server 482 alice #lobby :You're not channel operator",
        ),
        (
            "MODE #lobby +o eve",
            ":chat-server 482 alice #lobby :You're not channel operator",
        ),
        (
            "MODE #lobby b",
            ":chat-server 368 alice #lobby :End of channel ban list (only operators see the bans)",
        ),
        ("MODE alice", ":chat-server 221 alice +"),
        (
            "KICK #rust bob",
            ":chat-server 442 alice #rust :You're not on that channel",
        ),
        (
            "KICK #lobby",
            ":chat-server 461 alice KICK :Not enough parameters",
        ),
        (
            "KICK lobby bob",
            ":chat-server 403 alice lobby :No such channel",
        ),
    ] {
        alice.send(send).await;
        alice.next_is(want).await;
    }

    alice.send("OPER alice root").await;
    alice
        .next_is(":chat-server 381 alice :You are now an IRC operator")
        .await;
    alice
        .next_is(":chat-server NOTICE alice :alice is now an operator")
        .await;
    alice.next_is(":chat-server MODE #lobby +o alice").await;
    eve.next_is(":chat-server NOTICE eve :alice is now an operator")
        .await;
    eve.next_is(":chat-server MODE #lobby +o alice").await;
    bob.next_is("* alice is now an operator").await;
    // NAMES and WHO show her as an operator from now on, to IRC only.
    eve.send("NAMES #lobby").await;
    eve.next_is(":chat-server 353 eve = #lobby :@alice bob carol eve")
        .await;
    eve.next_is(":chat-server 366 eve #lobby :End of /NAMES list")
        .await;
    eve.send("WHO #lobby").await;
    eve.next_is(":chat-server 352 eve #lobby alice chat chat-server alice H*@ :0 alice")
        .await;
    eve.until(" 315 eve #lobby ").await;
    bob.send("/who").await;
    bob.next_is("* online (4): alice, bob, carol, eve").await;
    alice.send("MODE alice").await;
    alice.next_is(":chat-server 221 alice +o").await;

    for (send, want) in [
        (
            "KICK #lobby nobody",
            ":chat-server 401 alice nobody :nobody called \"nobody\" is online",
        ),
        (
            "KICK #lobby dave",
            ":chat-server 441 alice dave #lobby :They aren't on that channel",
        ),
        (
            "MODE #lobby +o eve",
            ":chat-server 481 alice :Permission Denied- operators are made with OPER, not with MODE",
        ),
        (
            "MODE #lobby +k key",
            ":chat-server 472 alice k :is unknown mode char to me",
        ),
        (
            "MODE #lobby +b *!*@*.example.org",
            ":chat-server 696 alice #lobby b *!*@*.example.org :only name!*@* and *!*@address masks can be banned here",
        ),
        (
            "MODE eve",
            ":chat-server 502 alice :Cant change mode for other users",
        ),
        ("MODE #lobby b", ":chat-server 368 alice #lobby :End of channel ban list"),
    ] {
        alice.send(send).await;
        alice.next_is(want).await;
    }

    // An IRC kick of a native user: the server's kick.
    alice.send("KICK #lobby bob :enough").await;
    bob.next_is("* you were kicked by alice: enough").await;
    assert_eq!(bob.try_line().await, None);
    let kick = ":alice!alice@chat KICK #lobby bob :kicked by alice: enough";
    alice.next_is(kick).await;
    eve.next_is(kick).await;
    carol.expect("* bob left (kicked by alice: enough)").await;

    // An IRC ban of a native user, through the ban list.
    alice.send("MODE #lobby +b carol!*@*").await;
    alice
        .next_is(":chat-server NOTICE alice :carol is banned")
        .await;
    carol.next_is("* you were banned by alice").await;
    assert_eq!(carol.try_line().await, None);
    eve.next_is(":alice!alice@chat KICK #lobby carol :banned by alice")
        .await;
    alice
        .next_is(":alice!alice@chat KICK #lobby carol :banned by alice")
        .await;
    alice.send("MODE #lobby b").await;
    assert_eq!(
        ban_entry(&alice.line().await),
        ":chat-server 367 alice #lobby carol!*@* alice"
    );
    alice
        .next_is(":chat-server 368 alice #lobby :End of channel ban list")
        .await;
    let mut again = Plain::connect(server.addr()).await;
    again.send("carol").await;
    again
        .next_is("! the name \"carol\" is banned from this server")
        .await;
    alice.send("MODE #lobby -b carol!*@*").await;
    alice
        .next_is(":chat-server NOTICE alice :carol is no longer banned")
        .await;
    alice.send("MODE #lobby b").await;
    alice
        .next_is(":chat-server 368 alice #lobby :End of channel ban list")
        .await;

    // An IRC kick of an IRC user, who is told in each channel it was in.
    alice.send("KICK #lobby eve").await;
    eve.next_is(":alice!alice@chat KICK #lobby eve :kicked by alice")
        .await;
    eve.next_is("ERROR :you were kicked by alice").await;
    assert_eq!(eve.try_line().await, None);
    alice
        .next_is(":alice!alice@chat KICK #lobby eve :kicked by alice")
        .await;
}

#[async_std::test]
async fn a_native_operators_ban_reaches_irc_as_kicks_and_a_ban_list() {
    let server = server().await;
    let irc = irc_addr(&server);
    let mut op = Plain::join(server.addr(), "op").await;
    let (mut rude, _) = Irc::register(irc, "rude").await;
    let (mut watcher, _) = Irc::register(irc, "watcher").await;
    rude.join("#rust").await;
    op.expect("* watcher joined").await;
    op.send("/oper wrong").await;
    op.next_is("! wrong operator password").await;
    op.send("/oper root").await;
    op.next_is("* op is now an operator").await;
    watcher.until(":chat-server MODE #lobby +o op").await;
    // Operators are `@` in names, whoever made them so.
    watcher.send("NAMES #lobby").await;
    watcher
        .next_is(":chat-server 353 watcher = #lobby :@op rude watcher")
        .await;

    op.send("/ban rude 1h spam").await;
    op.next_is("* rude is banned for 1 h").await;
    rude.until(":chat-server MODE #lobby +o op").await;
    rude.next_is(":op!op@chat KICK #lobby rude :banned by op for 1 h: spam")
        .await;
    rude.next_is(":op!op@chat KICK #rust rude :banned by op for 1 h: spam")
        .await;
    rude.next_is("ERROR :you were banned by op for 1 h: spam")
        .await;
    assert_eq!(rude.try_line().await, None);
    watcher
        .until(":op!op@chat KICK #lobby rude :banned by op for 1 h: spam")
        .await;
    // Banned on IRC too: the nick is refused with the ban's numeric.
    let mut back = Irc::connect(irc).await;
    back.send_nick_and_user("rude").await;
    back.next_is(":chat-server 465 * :the name \"rude\" is banned from this server")
        .await;
    // A native operator's bans are an IRC operator's ban list.
    watcher.send("OPER watcher root").await;
    watcher.until(" 381 watcher ").await;
    watcher.send("MODE #lobby +b").await;
    watcher.until(" 367 ").await;
    assert_eq!(
        ban_entry(watcher.last.as_deref().unwrap_or_default()),
        ":chat-server 367 watcher #lobby rude!*@* op"
    );
    watcher
        .next_is(":chat-server 368 watcher #lobby :End of channel ban list")
        .await;
}
