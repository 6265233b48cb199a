//! A real IRC client: irssi (the Debian package) in a tmux pane joins the
//! server's IRC port, lands in `#lobby`, and talks with a native plain
//! client both ways.

mod common;

use std::process::Command;

use common::irc::{irc_addr, server};
use common::tmux::Tmux;
use common::Plain;

#[async_std::test]
async fn irssi_joins_the_lobby_and_talks_with_a_native_client() {
    let have_irssi = Command::new("irssi").arg("--version").output().is_ok();
    assert!(have_irssi, "irssi is not installed: scripts/deps.sh test");
    let server = server().await;
    let irc = irc_addr(&server);
    let mut bob = Plain::join(server.addr(), "bob").await;
    let home = tempfile::tempdir().expect("a home for irssi");
    let command = format!(
        "TERM=screen irssi --home={} -c {} -p {} -n ircy",
        home.path().display(),
        irc.ip(),
        irc.port()
    );
    let irssi = Tmux::start(&command);

    bob.expect("* ircy joined").await;
    // The server joined irssi to #lobby; go to its window.
    irssi.wait_for("the end of registration", |s| {
        s.contains("MOTD File is missing")
    });
    irssi.type_line("/window goto #lobby");
    irssi.wait_for("the lobby's names", |s| {
        s.contains("ircy") && s.contains("bob") && s.contains("#lobby")
    });

    irssi.type_line("hello from irssi");
    bob.next_is("<ircy> hello from irssi").await;
    bob.send("hi ircy, welcome").await;
    bob.next_is("<bob> hi ircy, welcome").await;
    irssi.wait_for("bob's message", |s| s.contains("hi ircy, welcome"));
    irssi.type_line("/me waves");
    bob.next_is("* ircy waves").await;
    bob.send("/msg ircy psst").await;
    bob.next_is("<bob -> ircy> psst").await;
    // irssi opens a query window for it.
    irssi.wait_for("a query window", |s| s.contains("Act: 3"));
    irssi.type_line("/window goto bob");
    irssi.wait_for("bob's private message", |s| s.contains("psst"));
    irssi.type_line("psst back");
    bob.next_is("<ircy -> bob> psst back").await;

    irssi.type_line("/quit see you");
    bob.next_is("* ircy left (quit: see you)").await;
}
