//! A real IRC client: WeeChat (the Debian package `weechat-headless`)
//! connects to the server's IRC port, lands in `#lobby`, and talks with a
//! native plain client both ways. It is driven through its FIFO plugin and
//! read through its logger plugin's files, so no terminal is needed.
//!
//! Without the binary the test is skipped, unless `CI` is set: there a
//! missing WeeChat is a failure (`.ci/run` installs it).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chat_server::{Config, Secret};
use common::irc::{config, irc_addr, server_with};
use common::tmux::WAIT;
use common::Plain;

const BINARY: &str = "weechat-headless";

/// A headless WeeChat of the test's own, killed on drop.
struct Weechat {
    child: Child,
    home: PathBuf,
}

impl Weechat {
    /// Starts WeeChat with only the plugins the test needs, connected to
    /// the IRC listener at `addr` as `nick`.
    fn start(home: &Path, addr: std::net::SocketAddr, nick: &str) -> Weechat {
        let commands = format!(
            "/set logger.file.flush_delay 0; \
             /server add chat {}/{} -notls -nicks={nick} -username={nick}; \
             /connect chat",
            addr.ip(),
            addr.port()
        );
        let log = std::fs::File::create(home.join("stdout.log")).expect("a log file");
        let child = Command::new(BINARY)
            .arg("--dir")
            .arg(home)
            .args(["--no-script", "--plugins", "irc,logger,fifo", "--stdout"])
            .args(["--run-command", &commands])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a second handle"))
            .stderr(log)
            .spawn()
            .expect("weechat-headless starts");
        Weechat {
            child,
            home: home.to_owned(),
        }
    }

    /// WeeChat's FIFO (`weechat_fifo_PID` in its home), once it is there.
    fn fifo(&self) -> PathBuf {
        let path = self.home.join(format!("weechat_fifo_{}", self.child.id()));
        // The fifo plugin is in weechat-plugins, which apt only recommends.
        wait_until("WeeChat's FIFO (is weechat-plugins installed?)", || {
            path.exists().then_some(())
        });
        path
    }

    /// Types `text` in the buffer called `buffer` (`irc.chat.#lobby`).
    fn type_in(&self, buffer: &str, text: &str) {
        let mut fifo = std::fs::OpenOptions::new()
            .write(true)
            .open(self.fifo())
            .expect("open WeeChat's FIFO");
        writeln!(fifo, "{buffer} *{text}").expect("write to WeeChat's FIFO");
    }

    /// Waits until the log of `buffer` has a line ending in `tail`.
    fn wait_for_log(&self, buffer: &str, tail: &str) {
        let path = self.home.join("logs").join(format!("{buffer}.weechatlog"));
        wait_until(&format!("{tail:?} in {}", path.display()), || {
            let log = std::fs::read_to_string(&path).ok()?;
            log.lines().any(|l| l.ends_with(tail)).then_some(())
        });
    }
}

impl Drop for Weechat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it gives something, failing after [`WAIT`].
fn wait_until<T>(what: &str, check: impl Fn() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "no {what} within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[async_std::test]
async fn weechat_joins_the_lobby_and_talks_with_a_native_client() {
    if Command::new(BINARY).arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{BINARY} is not installed: scripts/deps.sh test"
        );
        eprintln!("skipped: {BINARY} is not installed (scripts/deps.sh test)");
        return;
    }
    let server = server_with(Config {
        operator_password: Some(Secret::new("root")),
        ..config()
    })
    .await;
    let irc = irc_addr(&server);
    let mut bob = Plain::join(server.addr(), "bob").await;
    let home = tempfile::tempdir().expect("a home for WeeChat");
    let weechat = Weechat::start(home.path(), irc, "weechy");

    bob.expect("* weechy joined").await;
    let lobby = "irc.chat.#lobby";
    // Its buffer for #lobby is open once it logs its own join there.
    weechat.wait_for_log(lobby, "weechy (weechy@chat) has joined #lobby");
    weechat.type_in(lobby, "hello from weechat");
    bob.next_is("<weechy> hello from weechat").await;
    bob.send("hi weechy, welcome").await;
    bob.next_is("<bob> hi weechy, welcome").await;
    weechat.wait_for_log(lobby, "\tbob\thi weechy, welcome");
    weechat.type_in(lobby, "/me waves");
    bob.next_is("* weechy waves").await;

    bob.send("/msg weechy psst").await;
    bob.next_is("<bob -> weechy> psst").await;
    weechat.wait_for_log("irc.chat.bob", "\tbob\tpsst");
    weechat.type_in("irc.chat.bob", "psst back");
    bob.next_is("<weechy -> bob> psst back").await;

    weechat.type_in("irc.server.chat", "/join #rust");
    weechat.wait_for_log("irc.chat.#rust", "weechy (weechy@chat) has joined #rust");
    bob.send("/join rust").await;
    bob.expect("* bob joined").await;
    weechat.wait_for_log("irc.chat.#rust", "bob (bob@chat) has joined #rust");

    // An operator's kick, from WeeChat's own commands.
    weechat.type_in(lobby, "/oper weechy root");
    bob.expect("* weechy is now an operator").await;
    weechat.wait_for_log(lobby, "Mode #lobby [+o weechy] by chat-server");
    weechat.type_in(lobby, "/kick bob enough for today");
    bob.expect("* you were kicked by weechy: enough for today")
        .await;
    weechat.wait_for_log(
        lobby,
        "weechy has kicked bob (kicked by weechy: enough for today)",
    );

    let mut carol = Plain::join(server.addr(), "carol").await;
    weechat.type_in(lobby, "/quit see you");
    carol.expect("* weechy left (quit: see you)").await;
}
