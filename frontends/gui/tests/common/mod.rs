//! What the end-to-end tests share: a private Xvfb display, the real
//! `chat-gui` binary started on it with a transcript, xdotool, the real
//! server, `chat-core` peers on the other side, and polling with deadlines.

// Each test binary uses part of this module; the rest would warn there.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_std::future::timeout;
use chat_core::{ChatSession, Event, EventStream, SessionConfig, SessionSender, TcpSession};
use chat_server::{Config, ServerHandle};
use futures::StreamExt;

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

/// Waits until the transcript has a line starting with `start` that
/// contains `part`, and returns it.
pub fn wait_for_line_like(path: &Path, gui: &mut Reaper, start: &str, part: &str) -> String {
    wait_for(&format!("a line {start}…{part}… in the window"), || {
        gui.assert_running();
        transcript(path)
            .lines()
            .find(|l| l.starts_with(start) && l.contains(part))
            .map(str::to_owned)
    })
}

/// Waits until the window says `name` is connected to `addr`.
pub fn wait_connected(path: &Path, gui: &mut Reaper, name: &str, addr: &str) {
    wait_for_line(path, gui, &format!("* connected as {name} to {addr}"));
}

/// The title of the window while `name` is connected to `addr`.
pub fn window_title(name: &str, addr: &str) -> String {
    format!("chat-gui — {name} @ {addr}")
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

/// `chat-gui` told to connect to the plain server at `addr` as `name`,
/// once its window says it is connected.
pub fn start_connected_gui(
    display: &Display,
    dir: &Path,
    addr: &str,
    name: &str,
) -> (Reaper, PathBuf) {
    let (mut gui, transcript_path) = start_gui(
        display,
        dir,
        &["--server", addr, "--name", name, "--connect"],
    );
    wait_connected(&transcript_path, &mut gui, name, addr);
    (gui, transcript_path)
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

/// Where most tests start: a private display, the real server and its
/// address, and a fresh directory named for `tag`.
pub async fn display_and_server(tag: &str) -> (Display, ServerHandle, String, PathBuf) {
    let display = start_display();
    let server = start_server().await;
    let addr = server.addr().to_string();
    (display, server, addr, temp_dir(tag))
}

/// Stops `server` and removes the test's directory. Neither is what a
/// test checks, so a slow or failed shutdown is not a failure.
pub async fn stop_server_and_remove(server: ServerHandle, dir: &Path) {
    let _ = timeout(Duration::from_secs(10), server.shutdown()).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A `chat-core` peer connected as `config` says: what it sends and what
/// it receives.
pub async fn connect_peer(config: SessionConfig) -> (SessionSender, EventStream) {
    let name = config.name.clone();
    timeout(Duration::from_secs(10), TcpSession::connect(config))
        .await
        .unwrap_or_else(|_| panic!("{name} did not connect in time"))
        .unwrap_or_else(|e| panic!("{name} cannot connect: {e}"))
        .split()
}

/// Says `text` as `peer` in its default room.
pub async fn say(peer: &SessionSender, text: impl Into<String>) {
    timeout(Duration::from_secs(10), peer.say(text))
        .await
        .expect("say in time")
        .expect("say");
}

/// Says `text` as `peer` in `room`.
pub async fn say_in(peer: &SessionSender, room: &str, text: impl Into<String>) {
    timeout(Duration::from_secs(10), peer.say_in(room, text))
        .await
        .expect("say in time")
        .expect("say");
}

/// The next event `pick` accepts, within the deadline (others are skipped).
pub async fn next_matching<T>(
    events: &mut EventStream,
    what: &str,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    timeout(DEADLINE, async {
        while let Some(event) = events.next().await {
            if let Some(found) = pick(&event) {
                return Some(found);
            }
        }
        None
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    .unwrap_or_else(|| panic!("the peer's session ended before {what}"))
}

/// The text of the next message `from` says, in any room.
pub async fn next_from(events: &mut EventStream, from: &str) -> String {
    next_matching(
        events,
        &format!("a message from {from}"),
        |event| match event {
            Event::Message(m) if m.from == from => Some(m.text.clone()),
            _ => None,
        },
    )
    .await
}

/// Focuses the window titled `title` and types `text` + Enter.
pub fn type_line(display: &Display, title: &str, text: &str) {
    let window = wait_for("the window", || {
        xdotool(display, &["search", "--name", title])
            .and_then(|out| out.lines().next().map(str::to_owned))
    });
    // No window manager here, so windowfocus rather than windowactivate.
    wait_for("the window to take the keyboard focus", || {
        xdotool(display, &["windowfocus", "--sync", &window])?;
        let focused = xdotool(display, &["getwindowfocus"])?;
        (focused.trim() == window).then_some(())
    });
    // A fresh X server can swallow the first key while xdotool sets up
    // its keyboard mapping: press one that types nothing first.
    xdotool(display, &["key", "shift"]).expect("xdotool key shift");
    xdotool(display, &["type", "--delay", "20", text]).expect("xdotool type");
    xdotool(display, &["key", "Return"]).expect("xdotool key Return");
}
