//! What the end-to-end tests share: a private Xvfb display, the real
//! `chat-gui` binary started on it with a transcript, xdotool, the real
//! server, and polling with deadlines.

// Each test binary uses part of this module; the rest would warn there.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_std::future::timeout;
use chat_server::{Config, ServerHandle};

pub const DEADLINE: Duration = Duration::from_secs(30);

/// Kills and reaps a child process when dropped, so a failing test leaves
/// nothing running.
pub struct Reaper(pub Child, pub &'static str);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Reaper {
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.0.try_wait() {
            panic!("{} exited early: {status}", self.1);
        }
    }
}

/// A private X display: `Xvfb -displayfd` picks a free number itself.
pub struct Display {
    pub name: String,
    _server: Reaper,
}

pub fn start_display() -> Display {
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start Xvfb ({e}): the GUI end-to-end tests need Xvfb and xdotool \
                 (apt-get install xvfb xdotool)"
            )
        });
    let stdout = child.stdout.take().expect("Xvfb stdout");
    let server = Reaper(child, "Xvfb");
    // Xvfb writes the display number once it accepts connections.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(DEADLINE)
        .expect("Xvfb reported its display number");
    let number: u32 = line.trim().parse().expect("a display number from Xvfb");
    Display {
        name: format!(":{number}"),
        _server: server,
    }
}

pub fn xdotool(display: &Display, args: &[&str]) -> Option<String> {
    let out = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", &display.name)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run xdotool ({e}): install it (apt-get install xdotool)")
        });
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Polls `check` every 100 ms until it gives a value or the deadline passes.
pub fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn transcript(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

pub fn wait_for_line(path: &Path, gui: &mut Reaper, line: &str) {
    wait_for(&format!("{line:?} in the window"), || {
        gui.assert_running();
        transcript(path).lines().any(|l| l == line).then_some(())
    });
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chat-gui-e2e-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub fn start_gui(display: &Display, dir: &Path, args: &[&str]) -> (Reaper, PathBuf) {
    start_gui_with(display, dir, args, &[])
}

pub fn start_gui_with(
    display: &Display,
    dir: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (Reaper, PathBuf) {
    let transcript = dir.join("transcript.txt");
    let child = Command::new(env!("CARGO_BIN_EXE_chat-gui"))
        .args(args)
        .env_remove("CHAT_PASSWORD")
        .envs(envs.iter().copied())
        .env("DISPLAY", &display.name)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("CHAT_GUI_TRANSCRIPT", &transcript)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chat-gui");
    (Reaper(child, "chat-gui"), transcript)
}

pub async fn start_server() -> ServerHandle {
    timeout(
        Duration::from_secs(10),
        ServerHandle::start(Config {
            rate_limit: None,
            ..Default::default()
        }),
    )
    .await
    .expect("server start in time")
    .expect("server starts")
}

/// Focuses the window titled `title` and types `text` + Enter.
pub fn type_line(display: &Display, title: &str, text: &str) {
    let window = wait_for("the window", || {
        xdotool(display, &["search", "--name", title])
            .and_then(|out| out.lines().next().map(str::to_owned))
    });
    wait_for("the window to take the keyboard focus", || {
        xdotool(display, &["windowfocus", "--sync", &window])?;
        let focused = xdotool(display, &["getwindowfocus"])?;
        (focused.trim() == window).then_some(())
    });
    xdotool(display, &["key", "shift"]).expect("xdotool key shift");
    xdotool(display, &["type", "--delay", "20", text]).expect("xdotool type");
    xdotool(display, &["key", "Return"]).expect("xdotool key Return");
}
