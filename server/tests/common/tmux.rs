//! A terminal program (irssi, WeeChat, chat-repl) in a tmux server of its
//! own: type and paste into it, read its screen, wait for something to show.
//! Shared by the server's and the REPL's tests (the REPL's include this
//! file by path).

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a program may take to show something: generous, the machine is
/// small and shared; a pass is usually far quicker.
pub const WAIT: Duration = Duration::from_secs(15);

/// A tmux server of its own (its own socket), killed on drop.
pub struct Tmux {
    socket: String,
    /// The socket file, removed on drop (kill-server leaves it behind).
    socket_path: Option<String>,
}

impl Tmux {
    /// Runs `command` in a 150x40 pane.
    pub fn start(command: &str) -> Tmux {
        Tmux::start_sized(command, 150, 40)
    }

    /// Runs `command` in a pane of `columns` x `rows`.
    pub fn start_sized(command: &str, columns: u16, rows: u16) -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "chat-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut tmux = Tmux {
            socket,
            socket_path: None,
        };
        let (columns, rows) = (columns.to_string(), rows.to_string());
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &columns,
            "-y",
            &rows,
            command,
        ]);
        let path = tmux.run(&["display-message", "-p", "#{socket_path}"]);
        tmux.socket_path = Some(path.trim().to_owned()).filter(|p| !p.is_empty());
        tmux
    }

    pub fn run(&self, args: &[&str]) -> String {
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

    /// Types `text` literally, without Enter.
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Types `line` and presses Enter.
    pub fn type_line(&self, line: &str) {
        self.type_text(line);
        self.keys(&["Enter"]);
    }

    /// Presses keys by tmux name: `Enter`, `Tab`, `C-c`, `Up`.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Pastes `text` as a terminal would: with bracketed-paste marks
    /// around it when `bracketed` (and the program asked for them), and
    /// each line break as the Enter key (`\r`), as tmux pastes.
    pub fn paste(&self, text: &str, bracketed: bool) {
        self.run(&["set-buffer", "-b", "paste", text]);
        let mut args = vec!["paste-buffer", "-b", "paste", "-t", "t"];
        if bracketed {
            args.push("-p");
        }
        self.run(&args);
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    /// Polls the screen until `ok` holds, failing with the last screen after
    /// [`WAIT`].
    pub fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
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
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}
