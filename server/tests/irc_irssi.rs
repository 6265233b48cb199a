//! A real IRC client: irssi (the Debian package) in a tmux pane joins the
//! server's IRC port, lands in `#lobby`, and talks with a native plain
//! client both ways.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chat_server::{Config, ServerHandle};
use common::Plain;

/// How long irssi may take to show something.
const WAIT: Duration = Duration::from_secs(15);

/// A tmux server of its own, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "chat-irc-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let tmux = Tmux { socket };
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "150",
            "-y",
            "40",
            command,
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs (scripts/deps.sh test installs it)");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `line` and presses Enter.
    fn type_line(&self, line: &str) {
        self.run(&["send-keys", "-t", "t", "-l", line]);
        self.run(&["send-keys", "-t", "t", "Enter"]);
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {WAIT:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[async_std::test]
async fn irssi_joins_the_lobby_and_talks_with_a_native_client() {
    let have_irssi = Command::new("irssi").arg("--version").output().is_ok();
    assert!(have_irssi, "irssi is not installed: scripts/deps.sh test");
    let server = ServerHandle::start_with_irc(Config {
        rate_limit: None,
        status_interval: None,
        ..Config::default()
    })
    .await
    .expect("server starts");
    let irc = server.irc_addr().expect("an IRC listener");
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
