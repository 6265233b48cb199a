//! End-to-end tests: the real `chat-repl` binary against the real server on
//! 127.0.0.1:0. Terminal mode is driven in tmux (send-keys, capture-pane);
//! line-by-line mode through pipes, as a script would. The other side of
//! every conversation is a plain `chat-core` `TcpSession`.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use async_std::future::timeout;
use chat_core::protocol::RoomInfo;
use chat_core::{
    render, ChatSession, Event, EventStream, Input, SessionConfig, SessionSender, TcpSession,
};
use chat_server::{Config, ServerHandle};
use futures::StreamExt;

const BIN: &str = env!("CARGO_BIN_EXE_chat-repl");

/// A server's settings without its rate limit: tests type faster than
/// people, and only the tests of pacing want the limit.
fn unlimited() -> Config {
    Config {
        rate_limit: None,
        ..Default::default()
    }
}

async fn start_server() -> ServerHandle {
    start_server_with(unlimited()).await
}

async fn start_server_with(config: Config) -> ServerHandle {
    ServerHandle::start(config).await.expect("server starts")
}

/// Another person in the room: a chat-core session.
async fn join(addr: SocketAddr, name: &str) -> (SessionSender, EventStream) {
    let session = timeout(
        WAIT,
        TcpSession::connect(SessionConfig::new(addr.to_string(), name)),
    )
    .await
    .expect("connect in time")
    .expect("connects");
    session.split()
}

/// The first event that matches, failing after [`WAIT`].
async fn expect_event(events: &mut EventStream, what: &str, f: impl Fn(&Event) -> bool) -> Event {
    let found = timeout(WAIT, async {
        while let Some(event) = events.next().await {
            if f(&event) {
                return Some(event);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(event)) => event,
        Ok(None) => panic!("session ended before {what}"),
        Err(_) => panic!("no {what} within {WAIT:?}"),
    }
}

fn shown(event: &Event) -> String {
    render(event).expect("has a line").to_string()
}

#[allow(dead_code)]
#[path = "../../../server/tests/common/tmux.rs"]
mod tmux;

use tmux::{Tmux, WAIT};

/// Runs `command` in a 120x30 pane that stays after the command ends (it
/// prints `exit=CODE` and sleeps), so its exit code can be read.
fn start(command: &str) -> Tmux {
    Tmux::start_sized(&format!("{command}; echo \"exit=$?\"; sleep 600"), 120, 30)
}

/// Non-blank lines of a screen, without trailing blanks.
fn rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect()
}

/// The last non-blank row: the prompt line while the REPL runs.
fn last_row(screen: &str) -> &str {
    rows(screen).last().copied().unwrap_or("")
}

/// `[HH:MM] rest`
fn is_stamped(row: &str, rest: &str) -> bool {
    let b = row.as_bytes();
    b.len() > 8
        && b[0] == b'['
        && b[1..3].iter().all(u8::is_ascii_digit)
        && b[3] == b':'
        && b[4..6].iter().all(u8::is_ascii_digit)
        && &row[6..8] == "] "
        && &row[8..] == rest
}

/// The shell command that runs the REPL in tmux, in a clean environment of
/// our choosing (no history unless `data_home` is given).
fn repl_command(addr: &str, name: &str, data_home: Option<&std::path::Path>) -> String {
    let mut command = format!("'{BIN}' --server {addr} --name {name}");
    match data_home {
        Some(dir) => command = format!("XDG_DATA_HOME='{}' {command}", dir.display()),
        None => command.push_str(" --no-history"),
    }
    command
}

/// The prompt line in the default room: `#lobby> text`.
fn prompt_is(screen: &str, text: &str) -> bool {
    prompt_in(screen, "lobby", text)
}

/// The prompt line in `room`: `#room> text`.
fn prompt_in(screen: &str, room: &str, text: &str) -> bool {
    last_row(screen) == format!("#{room}> {text}").trim_end()
}

/// Waits until the REPL says it is connected as `name`; the screen then.
fn wait_connected(tmux: &Tmux, name: &str) -> String {
    let status = format!("connected as {name} to");
    tmux.wait_for("connected status", |s| s.contains(&status))
}

/// Waits for `name` to join, as `events` (another person) see it.
async fn seen_joining(events: &mut EventStream, name: &str) {
    expect_event(
        events,
        &format!("{name} joining"),
        |e| matches!(e, Event::Joined(p) if p.name == name),
    )
    .await;
}

/// Waits until the REPL in `tmux` is in as `name` on both sides: its own
/// status, and the room seeing it join (so what it sends next is heard).
async fn arrives(tmux: &Tmux, events: &mut EventStream, name: &str) {
    wait_connected(tmux, name);
    seen_joining(events, name).await;
}

/// A server started with `config`, a watcher in #lobby (chat-core) and
/// alice's REPL in tmux, in the room and seen there by the watcher.
async fn alice_watched(config: Config) -> (ServerHandle, SessionSender, EventStream, Tmux) {
    let server = start_server_with(config).await;
    let (watcher, mut events) = join(server.addr(), "watcher").await;
    let tmux = start(&repl_command(&server.addr().to_string(), "alice", None));
    arrives(&tmux, &mut events, "alice").await;
    (server, watcher, events, tmux)
}

/// The next line said by `from`, as `events` see it.
async fn line_from(events: &mut EventStream, what: &str, from: &str) -> Event {
    expect_event(
        events,
        what,
        |e| matches!(e, Event::Message(m) if m.from == from),
    )
    .await
}

/// Waits for the next leave and checks it is `name` quitting, not dropped.
async fn expect_quit(events: &mut EventStream, name: &str) {
    let left = expect_event(events, &format!("{name} leaving"), |e| {
        matches!(e, Event::Left(_))
    })
    .await;
    assert_eq!(shown(&left), format!("* {name} left (quit)"));
}

/// Ctrl-D, then the exit code: 0 says the REPL left cleanly.
fn quit_with_ctrl_d(tmux: &Tmux) {
    tmux.keys(&["C-d"]);
    tmux.wait_for("exit code 0", |s| s.contains("exit=0"));
}

#[async_std::test]
async fn incoming_message_prints_above_a_half_typed_line() {
    let (_server, watcher, mut events, tmux) = alice_watched(unlimited()).await;

    tmux.type_text("half typed");
    tmux.wait_for("the half-typed line", |s| prompt_is(s, "half typed"));
    watcher.say("hello from watcher").await.expect("sent");

    let screen = tmux.wait_for("the message above the prompt", |s| {
        let rows = rows(s);
        let message = rows
            .iter()
            .position(|r| r.ends_with("<watcher> hello from watcher"));
        let prompt = rows.iter().position(|r| *r == "#lobby> half typed");
        matches!((message, prompt), (Some(m), Some(p)) if m < p && p == rows.len() - 1)
    });
    assert!(
        rows(&screen)
            .iter()
            .any(|r| is_stamped(r, "<watcher> hello from watcher")),
        "{screen}"
    );

    tmux.keys(&["Enter"]);
    let said = line_from(&mut events, "alice's line", "alice").await;
    assert_eq!(shown(&said), "<alice> half typed");
    // Her own copy comes back too, under the prompt's line.
    tmux.wait_for("alice's own copy", |s| {
        rows(s).iter().any(|r| is_stamped(r, "<alice> half typed")) && prompt_is(s, "")
    });
}

#[async_std::test]
async fn a_sent_line_shows_once_as_its_echo() {
    let (_server, _watcher, _events, tmux) = alice_watched(unlimited()).await;
    let before = rows(&tmux.screen()).len();

    tmux.type_text("hello once");
    tmux.wait_for("the typed line", |s| prompt_is(s, "hello once"));
    tmux.keys(&["Enter"]);
    // Its echo first: a message printed above a line being typed that
    // wraps leaves a row behind (rustyline's repaint, not this erasing).
    tmux.wait_for("the first echo", |s| {
        rows(s).iter().any(|r| is_stamped(r, "<alice> hello once")) && prompt_is(s, "")
    });
    // Wider than the 120-column pane: it takes two rows while typed.
    let long = format!("long {}", "word ".repeat(30)).trim_end().to_owned();
    tmux.type_text(&long);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("both echoes", |s| {
        rows(s).iter().any(|r| is_stamped(r, "<alice> hello once"))
            && rows(s).iter().any(|r| r.ends_with("word word"))
            && prompt_is(s, "")
    });
    let rows = rows(&screen);
    assert!(
        !rows
            .iter()
            .any(|r| r.starts_with("#lobby> ") && r.len() > "#lobby> ".len()),
        "the typed lines are gone:\n{screen}"
    );
    // What was on screen before stays; after it come the two echoes (the
    // long one on two rows) and the prompt, nothing else.
    assert_eq!(rows.len(), before + 3, "{screen}");
    assert!(
        is_stamped(rows[before - 1], "<alice> hello once"),
        "{screen}"
    );
    assert!(rows[before].starts_with('[') && rows[before].contains("<alice> long word"));
}

#[async_std::test]
async fn typed_commands_reach_others_and_keys_work() {
    let (_server, _watcher, mut events, tmux) = alice_watched(unlimited()).await;

    enter(&tmux, "hello all");
    let said = expect_event(&mut events, "a message", |e| matches!(e, Event::Message(_))).await;
    assert_eq!(shown(&said), "<alice> hello all");

    enter(&tmux, "/me waves");
    let action = expect_event(&mut events, "an action", |e| matches!(e, Event::Action(_))).await;
    assert_eq!(shown(&action), "* alice waves");

    // Tab completes the command, then the name of someone online.
    tmux.type_text("/ms");
    tmux.keys(&["Tab"]);
    tmux.wait_for("/msg completed", |s| prompt_is(s, "/msg"));
    tmux.type_text("wat");
    tmux.keys(&["Tab"]);
    tmux.wait_for("watcher completed", |s| prompt_is(s, "/msg watcher"));
    enter(&tmux, "psst");
    let private = expect_event(&mut events, "a private message", |e| {
        matches!(e, Event::Private(_))
    })
    .await;
    assert_eq!(shown(&private), "<alice -> watcher> psst");

    // Refused input is said, not lost silently.
    enter(&tmux, "/frobnicate");
    tmux.wait_for("the unknown-command error", |s| {
        rows(s)
            .iter()
            .any(|r| is_stamped(r, "! unknown command /frobnicate — try /help"))
    });

    // Ctrl-C clears the line; the REPL stays.
    tmux.type_text("oops");
    tmux.wait_for("oops typed", |s| prompt_is(s, "oops"));
    tmux.keys(&["C-c"]);
    tmux.wait_for("a cleared line", |s| prompt_is(s, ""));
    tmux.keys(&["C-y"]);
    tmux.wait_for("the line yanked back", |s| prompt_is(s, "oops"));
    tmux.keys(&["C-c"]);
    tmux.wait_for("a cleared line", |s| prompt_is(s, ""));

    // Ctrl-D leaves: a quit reaches the room and the exit code is 0.
    quit_with_ctrl_d(&tmux);
    expect_quit(&mut events, "alice").await;
}

/// A server we can stop (by dropping the sender) and start again on the
/// same port.
async fn serve(
    addr: &str,
) -> (
    futures::channel::oneshot::Sender<()>,
    async_std::task::JoinHandle<()>,
) {
    let listener = async_std::net::TcpListener::bind(addr)
        .await
        .expect("binds");
    let (stop, stopped) = futures::channel::oneshot::channel::<()>();
    let task = async_std::task::spawn(async move {
        let _ = chat_server::run(listener, unlimited(), async move {
            let _ = stopped.await;
        })
        .await;
    });
    (stop, task)
}

/// Stops a server from [`serve`] and waits until its port is free again.
async fn stop_serving(
    stop: futures::channel::oneshot::Sender<()>,
    task: async_std::task::JoinHandle<()>,
) {
    drop(stop);
    timeout(WAIT, task).await.expect("server stops");
}

#[async_std::test]
async fn connection_state_is_shown_and_input_refused_while_disconnected() {
    let addr = refused_addr();
    let (stop, task) = serve(&addr).await;
    let tmux = start(&repl_command(&addr, "alice", None));
    wait_connected(&tmux, "alice");

    stop_serving(stop, task).await;
    tmux.wait_for("the disconnection", |s| {
        s.contains("disconnected: ") && s.contains("reconnecting in")
    });
    enter(&tmux, "anyone there?");
    tmux.wait_for("the refusal", |s| {
        s.contains("! not connected: nothing was sent")
    });

    let (stop, task) = serve(&addr).await;
    tmux.wait_for("the reconnection", |s| {
        s.matches("connected as alice to").count() >= 2
    });
    let (_watcher, mut events) = join(addr.parse().expect("an address"), "watcher").await;

    enter(&tmux, "/disconnect");
    expect_quit(&mut events, "alice").await;
    tmux.wait_for("disconnected status", |s| {
        s.contains("* disconnected: you left")
    });
    enter(&tmux, "still there?");
    tmux.wait_for("the refusal", |s| {
        s.contains("! not connected: nothing was sent (/connect to join again)")
    });

    // Out of the room, /nick picks the name the next /connect asks for.
    enter(&tmux, "/nick alicia");
    tmux.wait_for("the new name noted", |s| {
        s.contains("* /connect will ask for the name alicia")
    });
    enter(&tmux, "/connect");
    arrives(&tmux, &mut events, "alicia").await;

    // /clear empties the screen, so what follows is all there is.
    clear(&tmux, "lobby");

    // Ctrl-D while the server is away still leaves at once, with exit code 0.
    stop_serving(stop, task).await;
    tmux.wait_for("the second disconnection", |s| {
        s.contains("reconnecting in")
    });
    quit_with_ctrl_d(&tmux);
}

#[async_std::test]
async fn history_persists_between_runs() {
    let server = start_server().await;
    let addr = server.addr().to_string();
    let data = std::env::temp_dir().join(format!("chat-repl-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);

    let first = start(&repl_command(&addr, "alice", Some(&data)));
    wait_connected(&first, "alice");
    enter(&first, "remember me");
    first.wait_for("the line echoed", |s| s.contains("<alice> remember me"));
    quit_with_ctrl_d(&first);
    let saved = std::fs::read_to_string(data.join("chat-repl/history.txt")).expect("history saved");
    assert!(saved.contains("remember me"), "{saved}");

    let second = start(&repl_command(&addr, "alice", Some(&data)));
    wait_connected(&second, "alice");
    second.keys(&["Up"]);
    second.wait_for("the recalled line", |s| prompt_is(s, "remember me"));
    second.keys(&["C-c", "C-d"]);
    second.wait_for("exit code 0", |s| s.contains("exit=0"));
    let _ = std::fs::remove_dir_all(&data);
}

/// A child process killed if the test fails before it exits.
struct Running(Child);

impl Running {
    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.0.try_wait().expect("child state") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "chat-repl did not exit within {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads a pipe line by line on a thread, so tests can wait with a deadline.
fn lines_of(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn expect_line(lines: &mpsc::Receiver<String>, want: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + WAIT;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if line == want => return,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no line {want:?} within {WAIT:?}; saw {seen:?}");
}

/// Waits for every line of `wants`, in any order: answers that different
/// parts of the server give (a room's, the directory's) keep no order
/// between them.
fn expect_lines(lines: &mpsc::Receiver<String>, wants: &[&str], seen: &mut Vec<String>) {
    let mut missing: Vec<&str> = wants.to_vec();
    let deadline = Instant::now() + WAIT;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => match missing.iter().position(|want| *want == line) {
                Some(i) => {
                    missing.remove(i);
                    if missing.is_empty() {
                        return;
                    }
                }
                None => seen.push(line),
            },
            Err(_) => break,
        }
    }
    panic!("no lines {missing:?} within {WAIT:?}; saw {seen:?}");
}

#[async_std::test]
async fn piped_mode_works_from_a_script() {
    let server = start_server().await;
    let (_watcher, mut events) = join(server.addr(), "watcher").await;
    let script = format!(
        "printf 'hi\\n/me waves\\n/who\\n/quit\\n' | '{BIN}' --server {} --name bot",
        server.addr()
    );
    let Finished {
        code,
        stdout,
        stderr,
    } = run_to_end(Command::new("sh").args(["-c", &script]));
    assert_eq!(code, Some(0), "non-zero exit");

    // The room saw everything, in order, and then a clean leave.
    let hi = expect_event(&mut events, "hi", |e| matches!(e, Event::Message(_))).await;
    assert_eq!(shown(&hi), "<bot> hi");
    let waves = expect_event(&mut events, "waves", |e| matches!(e, Event::Action(_))).await;
    assert_eq!(shown(&waves), "* bot waves");
    expect_quit(&mut events, "bot").await;

    // The script got plain lines, answers to its last commands included.
    let lines: Vec<&str> = stdout.lines().collect();
    for want in [
        "<bot> hi",
        "* bot waves",
        "* online (2): bot, watcher",
        "* disconnected: you left",
    ] {
        assert!(lines.contains(&want), "{want:?} missing from {lines:?}");
    }
    assert_eq!(lines.last(), Some(&"* disconnected: you left"), "{lines:?}");
    assert!(
        !stdout.contains('\x1b'),
        "colour in piped output: {stdout:?}"
    );
    assert!(stderr.is_empty(), "{stderr}");
}

#[async_std::test]
async fn piped_mode_asks_for_a_name_and_prints_what_arrives() {
    let server = start_server().await;
    let (watcher, mut events) = join(server.addr(), "watcher").await;
    let (mut child, mut stdin, out, _err) =
        spawn_piped(Command::new(BIN).args(["--server", &server.addr().to_string()]));
    let mut seen = Vec::new();

    // Without --name, the first line is the name.
    writeln!(stdin, "bot").expect("writes");
    expect_line(
        &out,
        &format!("* connected as bot to {}", server.addr()),
        &mut seen,
    );
    seen_joining(&mut events, "bot").await;
    watcher.say("hello bot").await.expect("sent");
    expect_line(&out, "<watcher> hello bot", &mut seen);

    writeln!(stdin, "hello watcher").expect("writes");
    let reply = line_from(&mut events, "the reply", "bot").await;
    assert_eq!(shown(&reply), "<bot> hello watcher");

    // End of input leaves like /quit.
    drop(stdin);
    assert!(child.wait().success(), "non-zero exit");
    expect_quit(&mut events, "bot").await;
}

/// An address nothing listens on.
fn refused_addr() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = probe.local_addr().expect("has an address").to_string();
    drop(probe);
    addr
}

#[test]
fn failed_connect_exits_non_zero_with_one_line() {
    let addr = refused_addr();
    let run = run_to_end(Command::new(BIN).args(["--server", &addr, "--name", "x"]));
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        format!("cannot connect to {addr}: connection refused\n")
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn failed_connect_in_a_terminal_exits_non_zero_with_one_line() {
    let addr = refused_addr();
    let tmux = start(&repl_command(&addr, "x", None));
    let screen = tmux.wait_for("the exit code", |s| s.contains("exit="));
    let rows = rows(&screen);
    let at = rows
        .iter()
        .position(|r| r.starts_with("exit="))
        .expect("exit row");
    assert_eq!(rows[at], "exit=1", "{screen}");
    assert_eq!(
        rows[at - 1],
        format!("cannot connect to {addr}: connection refused"),
        "{screen}"
    );
    assert!(
        !screen.contains("panicked") && !screen.contains("Caused by"),
        "{screen}"
    );
}

#[async_std::test]
async fn asks_for_a_name_and_again_when_it_is_taken() {
    let server = start_server().await;
    let (_watcher, mut events) = join(server.addr(), "watcher").await;
    let tmux = start(&format!("'{BIN}' --server {} --no-history", server.addr()));
    tmux.wait_for("the name question", |s| last_row(s) == "your name:");
    enter(&tmux, "Watcher");
    tmux.wait_for("the refusal and the question again", |s| {
        s.contains("! name \"Watcher\" rejected") && last_row(s) == "your name:"
    });
    enter(&tmux, "carol");
    arrives(&tmux, &mut events, "carol").await;
    enter(&tmux, "/quit");
    tmux.wait_for("exit code 0", |s| s.contains("exit=0"));
}

/// What a line-by-line run printed, and how it ended.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Starts `command` reading `stdin`, its stdout and stderr piped to the test.
fn spawn(command: &mut Command, stdin: Stdio) -> Running {
    let child = command
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command runs");
    Running(child)
}

/// Runs `command` with nothing to read until it exits; what it printed is
/// read whole afterwards, so a missing or extra newline shows.
fn run_to_end(command: &mut Command) -> Finished {
    let mut child = spawn(command, Stdio::null());
    let code = child.wait().code();
    let mut stdout = String::new();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0.stdout.as_mut().expect("piped"), &mut stdout)
        .expect("reads");
    std::io::Read::read_to_string(child.0.stderr.as_mut().expect("piped"), &mut stderr)
        .expect("reads");
    Finished {
        code,
        stdout,
        stderr,
    }
}

/// Starts `command` (the REPL) with its stdin to write to, and its stdout
/// and stderr read line by line on threads, so tests can wait with a
/// deadline. Keep the receivers until the end: dropping one closes a pipe
/// the REPL may still write to.
fn spawn_piped(
    command: &mut Command,
) -> (
    Running,
    ChildStdin,
    mpsc::Receiver<String>,
    mpsc::Receiver<String>,
) {
    let mut child = spawn(command, Stdio::piped());
    let stdout = lines_of(child.0.stdout.take().expect("piped"));
    let stderr = lines_of(child.0.stderr.take().expect("piped"));
    let stdin = child.0.stdin.take().expect("piped");
    (child, stdin, stdout, stderr)
}

/// Runs the REPL in line-by-line mode with `args`, the environment `env`
/// (`CHAT_PASSWORD` only as given) and `input` on stdin, until it exits.
fn run_piped(args: &[&str], env: &[(&str, &str)], input: &str) -> Finished {
    let (mut child, mut stdin, stdout, stderr) = spawn_piped(
        Command::new(BIN)
            .args(args)
            .env_remove("CHAT_PASSWORD")
            .envs(env.iter().copied()),
    );
    // A REPL that already exited (refused) closed its stdin: not an error.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let code = child.wait().code();
    // The pipes close when the process exits, which ends the readers.
    let collect = |rx: mpsc::Receiver<String>| {
        let mut text = String::new();
        while let Ok(line) = rx.recv_timeout(WAIT) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    };
    Finished {
        code,
        stdout: collect(stdout),
        stderr: collect(stderr),
    }
}

/// A self-signed certificate for 127.0.0.1 in `dir`: (cert, key) paths.
fn certificate(dir: &std::path::Path, stem: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = chat_server::tls::generate_self_signed(&["127.0.0.1".into()])
        .expect("generates a certificate");
    let paths = (
        dir.join(format!("{stem}-cert.pem")),
        dir.join(format!("{stem}-key.pem")),
    );
    std::fs::write(&paths.0, cert).expect("writes the certificate");
    std::fs::write(&paths.1, key).expect("writes the key");
    paths
}

/// What chat-core says of a server whose certificate nobody vouched for
/// (rustls's `reason`), hint included.
fn untrusted(addr: &str, reason: &str) -> String {
    format!(
        "TLS with {addr} failed: invalid peer certificate: {reason}. The server's certificate \
         is not trusted: to trust a self-signed server, connect with --ca FILE holding the very \
         certificate it serves (the chat-cert.pem written by chat-server gen-cert), or the \
         certificate of the CA that signed it"
    )
}

#[async_std::test]
async fn an_untrusted_certificate_in_a_terminal_says_how_to_trust_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path(), "server");
    // Another machine's certificate: no anchor of the server's name at all.
    let (other, _) = chat_server::tls::generate_self_signed(&["elsewhere.lan".into()])
        .expect("generates a certificate");
    let stranger = dir.path().join("elsewhere-cert.pem");
    std::fs::write(&stranger, other).expect("writes the certificate");
    let server = start_server_with(Config {
        tls: Some(chat_server::tls::load(&cert, &key).expect("loads")),
        ..Default::default()
    })
    .await;
    let addr = server.addr().to_string();
    let command = format!(
        "{} --ca '{}'",
        repl_command(&addr, "eve", None),
        stranger.display()
    );
    let tmux = start(&command);
    let screen = tmux.wait_for("the exit code", |s| s.contains("exit="));
    assert!(screen.contains("exit=1"), "{screen}");
    // The pane wraps the long line at 120 columns: compare without spacing.
    let squeeze = |text: &str| text.split_whitespace().collect::<String>();
    assert!(
        squeeze(&screen).contains(&squeeze(&untrusted(&addr, "UnknownIssuer"))),
        "{screen}"
    );
}

/// Another person in a TLS room, trusting `ca`.
async fn join_tls(
    addr: SocketAddr,
    name: &str,
    ca: &std::path::Path,
) -> (SessionSender, EventStream) {
    let config = SessionConfig::new(addr.to_string(), name).with_tls(chat_core::TlsOptions {
        ca_file: Some(ca.to_owned()),
        insecure: false,
    });
    let session = timeout(WAIT, TcpSession::connect(config))
        .await
        .expect("connect in time")
        .expect("connects over TLS");
    session.split()
}

#[async_std::test]
async fn piped_mode_over_tls_and_a_wrong_ca_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path(), "server");
    let (stranger, _) = certificate(dir.path(), "stranger");
    let server = start_server_with(Config {
        tls: Some(chat_server::tls::load(&cert, &key).expect("loads")),
        ..unlimited()
    })
    .await;
    let addr = server.addr().to_string();
    let (_watcher, mut events) = join_tls(server.addr(), "watcher", &cert).await;

    let ca = cert.to_str().expect("a UTF-8 path");
    let run = run_piped(
        &["--server", &addr, "--name", "bot", "--ca", ca],
        &[],
        "secret plans\n/quit\n",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("<bot> secret plans\n"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stderr, "");
    let said = expect_event(&mut events, "bot's line", |e| {
        matches!(e, Event::Message(_))
    })
    .await;
    assert_eq!(shown(&said), "<bot> secret plans");

    // A certificate the given CA did not sign: one clear line, exit 1.
    let wrong = run_piped(
        &[
            "--server",
            &addr,
            "--name",
            "eve",
            "--ca",
            stranger.to_str().expect("UTF-8"),
        ],
        &[],
        "hi\n",
    );
    assert_eq!(wrong.code, Some(1));
    assert_eq!(wrong.stdout, "");
    assert_eq!(wrong.stderr.lines().count(), 1, "{}", wrong.stderr);
    // Both certificates name 127.0.0.1, so rustls finds the wrong one's
    // signature bad rather than its issuer unknown: the same hint either way.
    assert_eq!(
        wrong.stderr,
        format!("{}\n", untrusted(&addr, "BadSignature"))
    );

    // --insecure gets in, but says loudly what it costs.
    let insecure = run_piped(
        &["--server", &addr, "--name", "tester", "--insecure"],
        &[],
        "/quit\n",
    );
    assert_eq!(insecure.code, Some(0), "{}", insecure.stderr);
    assert!(
        insecure
            .stderr
            .starts_with("WARNING: --insecure: the server's certificate is NOT checked"),
        "{}",
        insecure.stderr
    );
    assert!(
        insecure.stdout.contains("* connected as tester to"),
        "{}",
        insecure.stdout
    );

    // Plain text to a TLS port and TLS to a plain port: one line each.
    let plain = run_piped(&["--server", &addr, "--name", "p"], &[], "");
    assert_eq!(plain.code, Some(1));
    assert_eq!(plain.stderr.lines().count(), 1, "{}", plain.stderr);
    let plain_server = start_server().await;
    let mixed = run_piped(
        &[
            "--server",
            &plain_server.addr().to_string(),
            "--name",
            "t",
            "--tls",
        ],
        &[],
        "",
    );
    assert_eq!(mixed.code, Some(1));
    assert_eq!(
        mixed.stderr,
        format!(
            "the server at {} does not speak TLS (it answered in plain text); connect without --tls\n",
            plain_server.addr()
        )
    );
}

#[async_std::test]
async fn the_room_password_comes_from_the_environment_or_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start_server_with(Config {
        password: Some(chat_server::Secret::new("open sesame")),
        refusal_delay: Duration::from_millis(50),
        ..unlimited()
    })
    .await;
    let addr = server.addr().to_string();
    let watcher = timeout(
        WAIT,
        TcpSession::connect(SessionConfig::new(&addr, "watcher").with_password("open sesame")),
    )
    .await
    .expect("in time")
    .expect("the right password lets the watcher in");
    let (_watcher, mut events) = watcher.split();

    let admitted = run_piped(
        &["--server", &addr, "--name", "bot"],
        &[("CHAT_PASSWORD", "open sesame")],
        "let me in\n",
    );
    assert_eq!(admitted.code, Some(0), "{}", admitted.stderr);
    assert_eq!(admitted.stderr, "");
    let said = expect_event(&mut events, "bot's line", |e| {
        matches!(e, Event::Message(_))
    })
    .await;
    assert_eq!(shown(&said), "<bot> let me in");

    let file = dir.path().join("password");
    std::fs::write(&file, "open sesame\n").expect("writes");
    let from_file = run_piped(
        &[
            "--server",
            &addr,
            "--name",
            "filer",
            "--password-file",
            file.to_str().expect("UTF-8"),
        ],
        &[("CHAT_PASSWORD", "not this one")],
        "from a file\n",
    );
    assert_eq!(from_file.code, Some(0), "{}", from_file.stderr);
    assert!(
        from_file.stdout.contains("<filer> from a file\n"),
        "{}",
        from_file.stdout
    );

    let wrong = run_piped(
        &["--server", &addr, "--name", "mallory"],
        &[("CHAT_PASSWORD", "guess")],
        "hi\n",
    );
    assert_eq!(wrong.code, Some(1));
    assert_eq!(
        wrong.stderr,
        "refused by server: wrong password (the password from CHAT_PASSWORD)\n"
    );
    assert_eq!(wrong.stdout, "");

    // No password and no terminal to ask on: says how to give one.
    let none = run_piped(&["--server", &addr, "--name", "nopw"], &[], "hi\n");
    assert_eq!(none.code, Some(1));
    assert_eq!(
        none.stderr,
        "refused by server: this room needs a password (give it with --password-file FILE or CHAT_PASSWORD)\n"
    );
}

#[async_std::test]
async fn history_is_replayed_on_joining_and_shown_by_slash_history() {
    let server = start_server_with(Config {
        replay: 2,
        ..unlimited()
    })
    .await;
    let (watcher, mut events) = join(server.addr(), "watcher").await;
    let mut times = Vec::new();
    for n in 1..=5 {
        watcher.say(format!("m{n}")).await.expect("sent");
        let own = expect_event(&mut events, "own copy", |e| matches!(e, Event::Message(_))).await;
        let Event::Message(m) = own else {
            unreachable!()
        };
        times.push(chat_core::render::clock(m.time));
    }
    let said = |n: usize| format!("[{}] <watcher> m{n}", times[n - 1]);

    let run = run_piped(
        &["--server", &server.addr().to_string(), "--name", "bot"],
        &[],
        "/history 3\n",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let lines: Vec<&str> = run.stdout.lines().collect();
    let from_welcome = lines
        .iter()
        .position(|l| l.starts_with("* you are bot"))
        .expect("the welcome");
    let expected = [
        // The replay on joining: the last two.
        said(4),
        said(5),
        "* bot joined".to_owned(),
        // The answer to /history 3, and its end.
        said(3),
        said(4),
        said(5),
        "* 3 older messages shown; more are stored".to_owned(),
        "* disconnected: you left".to_owned(),
    ];
    assert_eq!(&lines[from_welcome + 1..], expected, "{lines:?}");
}

#[async_std::test]
async fn the_password_is_asked_for_without_echo_in_a_terminal() {
    let server = start_server_with(Config {
        password: Some(chat_server::Secret::new("open sesame")),
        operator_password: Some(chat_server::Secret::new("root pw")),
        refusal_delay: Duration::from_millis(50),
        ..unlimited()
    })
    .await;
    let addr = server.addr().to_string();
    let tmux = start(&format!(
        "env -u CHAT_PASSWORD {}",
        repl_command(&addr, "alice", None)
    ));
    tmux.wait_for("the password question", |s| {
        s.contains("! refused by server: this room needs a password")
            && last_row(s) == format!("password for {addr}:")
    });
    enter(&tmux, "open sesame");
    let screen = wait_connected(&tmux, "alice");
    assert!(
        !screen.contains("sesame"),
        "the password was echoed:\n{screen}"
    );

    // /oper alone asks too, without echo.
    enter(&tmux, "/oper");
    tmux.wait_for("the operator question", |s| {
        last_row(s) == "operator password:"
    });
    enter(&tmux, "root pw");
    let screen = tmux.wait_for("operator status", |s| {
        s.contains("alice is now an operator")
    });
    assert!(
        !screen.contains("root pw"),
        "the password was echoed:\n{screen}"
    );
    quit_with_ctrl_d(&tmux);
}

/// Another person who joins `room` (and sets its topic, if given) before
/// the REPL arrives.
async fn join_room(
    addr: SocketAddr,
    name: &str,
    room: &str,
    topic: Option<&str>,
) -> (SessionSender, EventStream) {
    let (sender, mut events) = join(addr, name).await;
    sender.join(room).await.expect("sent");
    expect_event(
        &mut events,
        "the room joined",
        |e| matches!(e, Event::RoomJoined(r) if r.room == room),
    )
    .await;
    if let Some(topic) = topic {
        sender
            .send(Input::Topic(Some(topic.to_owned())))
            .await
            .expect("sent");
        expect_event(
            &mut events,
            "the topic set",
            |e| matches!(e, Event::Topic(t) if t.topic == topic),
        )
        .await;
    }
    (sender, events)
}

/// Whether some row reads `[HH:MM] rest`.
fn has_row(screen: &str, rest: &str) -> bool {
    rows(screen).iter().any(|r| is_stamped(r, rest))
}

/// `/clear`, waiting until the screen is empty but for the prompt in
/// `room`: what is typed meanwhile may be lost with the old screen.
fn clear(tmux: &Tmux, room: &str) {
    enter(tmux, "/clear");
    let prompt = format!("#{room}>");
    tmux.wait_for("a clear screen", |s| rows(s) == [prompt.as_str()]);
}

/// `/rooms` on a screen cleared first (in `room`), waiting for every row
/// of `want`: an older list must not pass for the new one.
fn rooms_listed(tmux: &Tmux, room: &str, what: &str, want: &[&str]) {
    clear(tmux, room);
    enter(tmux, "/rooms");
    tmux.wait_for(what, |s| want.iter().all(|row| has_row(s, row)));
}

/// How the REPL shows joining `room` while `users` are in it.
fn room_joined(room: &str, users: &[&str]) -> String {
    render(&Event::RoomJoined(RoomInfo {
        room: room.into(),
        topic: None,
        users: users.iter().map(|&u| u.to_owned()).collect(),
    }))
    .expect("renders")
    .to_string()
}

/// Types a line and presses Enter.
fn enter(tmux: &Tmux, line: &str) {
    tmux.type_text(line);
    tmux.keys(&["Enter"]);
}

#[async_std::test]
async fn rooms_in_a_terminal_prompt_tab_prefixes_and_unread_counts() {
    let server = start_server().await;
    let addr = server.addr();
    // The watcher stays in #lobby; bob is in #lobby and #rust, whose topic he set.
    let (watcher, _watcher_events) = join(addr, "watcher").await;
    let (bob, mut bob_events) = join_room(addr, "bob", "rust", Some("all things Rust")).await;
    let tmux = start(&repl_command(&addr.to_string(), "alice", None));
    tmux.wait_for("the prompt in #lobby", |s| {
        s.contains("connected as alice to") && prompt_is(s, "")
    });

    enter(&tmux, "/rooms");
    tmux.wait_for("the room list", |s| {
        has_row(s, "* #lobby (3 members, current)")
            && has_row(s, "* #rust (1 member): all things Rust")
    });

    // Tab completes the room; /join switches, shows the topic and the prompt follows.
    tmux.type_text("/join ru");
    tmux.keys(&["Tab"]);
    tmux.wait_for("#rust completed", |s| prompt_is(s, "/join #rust"));
    tmux.keys(&["Enter"]);
    let joined = room_joined("rust", &["alice", "bob"]);
    tmux.wait_for("the prompt in #rust", |s| {
        has_row(s, &joined) && has_row(s, "* topic: all things Rust") && prompt_in(s, "rust", "")
    });
    expect_event(
        &mut bob_events,
        "alice joining #rust",
        |e| matches!(e, Event::Joined(p) if p.name == "alice" && p.room.as_deref() == Some("rust")),
    )
    .await;

    // What she types goes to #rust.
    enter(&tmux, "hello rust");
    let said = line_from(&mut bob_events, "alice's line", "alice").await;
    assert!(
        matches!(&said, Event::Message(m) if m.room.as_deref() == Some("rust") && m.text == "hello rust"),
        "{said:?}"
    );

    // Lines from #lobby carry their room, and count as unread there.
    watcher.say("lobby news 1").await.expect("sent");
    watcher.say("lobby news 2").await.expect("sent");
    tmux.wait_for("prefixed lobby lines", |s| {
        has_row(s, "[#lobby] <watcher> lobby news 1")
            && has_row(s, "[#lobby] <watcher> lobby news 2")
            && prompt_in(s, "rust", "")
    });
    rooms_listed(
        &tmux,
        "rust",
        "unread counts",
        &[
            "* #lobby (3 members, joined, 2 unread)",
            "* #rust (2 members, current): all things Rust",
        ],
    );
    enter(&tmux, "/who lobby");
    tmux.wait_for("the lobby's members", |s| {
        has_row(s, "[#lobby] * online (3): alice, bob, watcher")
    });
    enter(&tmux, "/topic");
    tmux.wait_for("the topic", |s| {
        rows(s)
            .iter()
            .filter(|r| is_stamped(r, "* topic: all things Rust"))
            .count()
            == 1
    });

    // Back to #lobby: it is current, its count starts over.
    tmux.type_text("/join #l");
    tmux.keys(&["Tab"]);
    tmux.wait_for("#lobby completed", |s| prompt_in(s, "rust", "/join #lobby"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the prompt in #lobby", |s| prompt_is(s, ""));
    rooms_listed(
        &tmux,
        "lobby",
        "no unread",
        &[
            "* #lobby (3 members, current)",
            "* #rust (2 members, joined): all things Rust",
        ],
    );

    // Parting the current room lands in the one joined last; parting that
    // one leaves her in no room, still connected.
    enter(&tmux, "/part");
    tmux.wait_for("back in #rust", |s| {
        has_row(s, "* alice left (part)")
            && has_row(s, "* now talking in #rust")
            && prompt_in(s, "rust", "")
    });
    bob.say("still here").await.expect("sent");
    tmux.wait_for("#rust unprefixed", |s| has_row(s, "<bob> still here"));
    enter(&tmux, "/part rust bedtime");
    tmux.wait_for("in no room", |s| {
        has_row(s, "* alice left (part: bedtime)")
            && has_row(s, "* you are in no room now: /join ROOM")
            && last_row(s) == ">"
    });
    quit_with_ctrl_d(&tmux);
}

#[async_std::test]
async fn room_flags_join_before_the_first_line_is_read() {
    let server = start_server().await;
    let addr = server.addr();
    let (_bob, mut bob_events) = join_room(addr, "bob", "rust", None).await;
    // -r as in every client; the line goes to the last room joined.
    let finished = run_piped(
        &[
            "-s",
            &addr.to_string(),
            "-n",
            "bot",
            "-r",
            "#go",
            "-r",
            "rust",
        ],
        &[],
        "in rust\n/quit\n",
    );
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let said = line_from(&mut bob_events, "bot's line", "bot").await;
    let Event::Message(m) = said else {
        unreachable!()
    };
    assert_eq!(
        (m.room.as_deref(), m.text.as_str()),
        (Some("rust"), "in rust")
    );
    assert!(finished.stdout.contains("#go"), "{}", finished.stdout);
}

#[async_std::test]
async fn rooms_line_by_line() {
    let server = start_server().await;
    let addr = server.addr();
    let (watcher, mut watcher_events) = join(addr, "watcher").await;
    let (_bob, mut bob_events) = join_room(addr, "bob", "rust", None).await;
    let (mut child, mut stdin, out, err) =
        spawn_piped(Command::new(BIN).args(["--server", &addr.to_string(), "--name", "bot"]));
    let mut seen = Vec::new();
    expect_line(
        &out,
        "* you are bot in lobby — online (3): bob, bot, watcher; /help lists commands",
        &mut seen,
    );
    expect_line(&out, "* bot joined", &mut seen);

    // The line after /join goes to the new room: the REPL waited for the answer.
    writeln!(stdin, "/join #rust\nhello rust").expect("writes");
    let joined = room_joined("rust", &["bob", "bot"]);
    expect_line(&out, &joined, &mut seen);
    expect_line(&out, "* bot joined", &mut seen);
    expect_line(&out, "<bot> hello rust", &mut seen);
    let said = line_from(&mut bob_events, "bot's line", "bot").await;
    assert!(
        matches!(&said, Event::Message(m) if m.room.as_deref() == Some("rust")),
        "{said:?}"
    );

    watcher.say("lobby news").await.expect("sent");
    expect_line(&out, "[#lobby] <watcher> lobby news", &mut seen);
    writeln!(stdin, "/rooms").expect("writes");
    expect_line(&out, "* #lobby (3 members, joined, 1 unread)", &mut seen);
    expect_line(&out, "* #rust (2 members, current)", &mut seen);
    writeln!(stdin, "/topic Rust things\n/who\n/who lobby").expect("writes");
    expect_lines(
        &out,
        &[
            "* bot set the topic: Rust things",
            "* online (2): bob, bot",
            "[#lobby] * online (3): bob, bot, watcher",
        ],
        &mut seen,
    );

    // A room name the server would refuse is refused before sending.
    writeln!(stdin, "/join no/slash").expect("writes");
    let mut errors = Vec::new();
    expect_line(
        &err,
        "! the room name \"no/slash\" contains '/': use letters, digits, _ and -",
        &mut errors,
    );

    writeln!(stdin, "/part\nhello lobby").expect("writes");
    expect_line(&out, "* bot left (part)", &mut seen);
    expect_line(&out, "* now talking in #lobby", &mut seen);
    expect_line(&out, "<bot> hello lobby", &mut seen);
    // The lobby heard only what was said in the lobby.
    let first = line_from(&mut watcher_events, "bot's first lobby line", "bot").await;
    assert_eq!(shown(&first), "<bot> hello lobby");

    // In no room, leaving has nothing to wait for.
    writeln!(stdin, "/part").expect("writes");
    expect_line(&out, "* you are in no room now: /join ROOM", &mut seen);
    let asked = Instant::now();
    writeln!(stdin, "/quit").expect("writes");
    assert!(child.wait().success(), "non-zero exit");
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "leaving took {:?}",
        asked.elapsed()
    );
    expect_line(&out, "* disconnected: you left", &mut seen);
    assert!(
        !seen.iter().any(|l| l.contains('\x1b')),
        "colour in piped output: {seen:?}"
    );
}

#[async_std::test]
async fn rooms_are_joined_again_after_a_reconnection() {
    let addr = refused_addr();
    let (stop, task) = serve(&addr).await;
    let tmux = start(&repl_command(&addr, "alice", None));
    tmux.wait_for("the prompt in #lobby", |s| prompt_is(s, ""));
    enter(&tmux, "/join rust");
    tmux.wait_for("the prompt in #rust", |s| prompt_in(s, "rust", ""));
    enter(&tmux, "/join go");
    tmux.wait_for("the prompt in #go", |s| prompt_in(s, "go", ""));
    enter(&tmux, "/join rust");
    tmux.wait_for("the prompt in #rust again", |s| prompt_in(s, "rust", ""));

    stop_serving(stop, task).await;
    tmux.wait_for("the disconnection", |s| s.contains("reconnecting in"));
    let (stop, task) = serve(&addr).await;
    // chat-core joins the rooms again; after the second welcome, #rust
    // comes back as the current room and #go as another room, in whichever
    // order the rooms answer.
    let rust = room_joined("rust", &["alice"]);
    tmux.wait_for("the rooms joined again", |s| {
        let rows = rows(s);
        let Some(back) = rows
            .iter()
            .rposition(|r| r.contains("* connected as alice to"))
            .filter(|_| s.matches("* connected as alice to").count() == 2)
        else {
            return false;
        };
        let again = |text: &str| rows.iter().skip(back).any(|r| is_stamped(r, text));
        again(&rust) && again("[#go] * rejoined — online (1): alice") && prompt_in(s, "rust", "")
    });

    let addr: SocketAddr = addr.parse().expect("an address");
    let (_watcher, mut events) = join_room(addr, "watcher", "rust", None).await;
    enter(&tmux, "back in rust");
    tmux.wait_for("her own line", |s| has_row(s, "<alice> back in rust"));
    let said = line_from(&mut events, "alice's line", "alice").await;
    assert!(
        matches!(&said, Event::Message(m) if m.room.as_deref() == Some("rust")),
        "{said:?}"
    );
    rooms_listed(
        &tmux,
        "rust",
        "every room back",
        &[
            "* #go (1 member, joined)",
            "* #lobby (2 members, joined)",
            "* #rust (2 members, current)",
        ],
    );
    quit_with_ctrl_d(&tmux);
    stop_serving(stop, task).await;
}

/// The texts of the next `n` messages (or actions) from `from`, in order.
async fn texts_from(events: &mut EventStream, from: &str, n: usize) -> Vec<String> {
    let mut texts = Vec::new();
    while texts.len() < n {
        let event = expect_event(
            events,
            &format!("{from}'s message {}", texts.len() + 1),
            |e| matches!(e, Event::Message(m) | Event::Action(m) if m.from == from),
        )
        .await;
        if let Event::Message(m) | Event::Action(m) = event {
            texts.push(m.text);
        }
    }
    texts
}

#[async_std::test]
async fn every_line_typed_or_pasted_is_sent_in_order_and_long_ones_split() {
    // The server's usual rate limit (10 at once, 5 a second): a 20-line
    // paste arrives whole because chat-core keeps to it.
    let (_server, _watcher, mut events, tmux) = alice_watched(Config::default()).await;

    // Typed in one burst: three lines, three Enters, one write.
    tmux.keys(&["A", "Enter", "B", "Enter", "C", "Enter"]);
    assert_eq!(texts_from(&mut events, "alice", 3).await, ["A", "B", "C"]);

    // Pasted without bracketed paste: each line break is an Enter.
    let lines: Vec<String> = (1..=20).map(|n| format!("line {n}")).collect();
    tmux.paste(&(lines.join("\n") + "\n"), false);
    assert_eq!(texts_from(&mut events, "alice", 20).await, lines);

    // With bracketed paste: the block lands on the prompt as one edit,
    // and Enter sends it a line at a time (not refused as U+000A).
    tmux.paste("x1\nx2\n/me x3", true);
    tmux.keys(&["Enter"]);
    assert_eq!(
        texts_from(&mut events, "alice", 3).await,
        ["x1", "x2", "x3"]
    );

    // 10,000 characters: more than the server's 8192-byte line, so split
    // at word boundaries into messages that each fit, in order.
    let long: String = (0..1_000).map(|n| format!("w{n:07}x ")).collect();
    assert_eq!(long.len(), 10_000);
    tmux.paste(long.trim_end(), true);
    tmux.keys(&["Enter"]);
    let pieces = texts_from(&mut events, "alice", 2).await;
    assert_eq!(pieces.concat(), long.trim_end());
    assert!(
        pieces[0].ends_with(' ') && pieces[0].len() < 8192,
        "cut after a word: {:?}",
        &pieces[0][pieces[0].len() - 20..]
    );
    tmux.wait_for("no refusal", |s| {
        !s.contains("too long") && !s.contains("control character")
    });
}

#[async_std::test]
async fn connecting_again_by_hand_shows_only_what_was_not_seen() {
    let server = start_server_with(Config {
        replay: 50,
        ..unlimited()
    })
    .await;
    let (watcher, mut events) = join(server.addr(), "watcher").await;
    for n in 1..=5 {
        watcher.say(format!("seen {n}")).await.expect("sent");
        expect_event(&mut events, "own copy", |e| matches!(e, Event::Message(_))).await;
    }
    let tmux = start(&repl_command(&server.addr().to_string(), "alice", None));
    tmux.wait_for("the history on joining", |s| {
        s.contains("<watcher> seen 5") && s.contains("connected as alice to")
    });
    seen_joining(&mut events, "alice").await;
    enter(&tmux, "/disconnect");
    expect_event(&mut events, "alice leaving", |e| {
        matches!(e, Event::Left(_))
    })
    .await;
    tmux.wait_for("disconnected status", |s| {
        s.contains("* disconnected: you left")
    });
    watcher.say("said while away").await.expect("sent");
    enter(&tmux, "/connect");
    let screen = tmux.wait_for("connected again, with what was missed", |s| {
        s.matches("connected as alice to").count() == 2 && s.contains("<watcher> said while away")
    });
    // Give a wrong replay the time to arrive before judging.
    std::thread::sleep(Duration::from_millis(300));
    let screen = format!("{screen}\n{}", tmux.screen());
    for n in 1..=5 {
        let once = rows(&tmux.screen())
            .iter()
            .filter(|r| r.ends_with(&format!("<watcher> seen {n}")))
            .count();
        assert_eq!(once, 1, "seen {n} shown again:\n{screen}");
    }
}

/// A `chat-server` process of its own (so it can be frozen with SIGSTOP),
/// killed when dropped.
struct ServerProcess {
    child: Child,
    addr: String,
}

impl ServerProcess {
    /// The `chat-server` binary beside ours, built first when it is not
    /// there (cargo builds only this package's binaries for its tests).
    fn binary() -> std::path::PathBuf {
        let dir = std::path::Path::new(BIN)
            .parent()
            .expect("the binary's directory");
        let server = dir.join("chat-server");
        if !server.exists() {
            let target = dir.parent().expect("the target directory");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = Command::new(cargo)
                .args([
                    "build",
                    "-p",
                    "chat-server",
                    "--bin",
                    "chat-server",
                    "--target-dir",
                ])
                .arg(target)
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building chat-server");
        }
        server
    }

    fn start() -> ServerProcess {
        let addr = refused_addr();
        let child = Command::new(Self::binary())
            .args(["--listen", &addr, "--no-history", "--status-interval", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chat-server starts");
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "chat-server not listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        ServerProcess { child, addr }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal}");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.signal("CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[async_std::test]
async fn a_frozen_server_is_reported_and_the_repl_comes_back_having_missed_nothing() {
    let server = ServerProcess::start();
    let command = format!(
        "'{BIN}' --server {} --name alice --no-history --ping-after 1 --dead-after 8",
        server.addr
    );
    let tmux = start(&command);
    wait_connected(&tmux, "alice");
    let (watcher, mut events) = join(server.addr.parse().expect("an address"), "watcher").await;
    watcher.say("before the freeze").await.expect("sent");
    tmux.wait_for("the first line", |s| {
        s.contains("<watcher> before the freeze")
    });

    server.signal("STOP");
    let frozen_at = Instant::now();
    tmux.wait_for("the lag shown", |s| {
        s.contains(&format!("* server {} not responding for", server.addr))
    });
    tmux.wait_for("the dead connection reported", |s| {
        s.contains("disconnected: server not responding; reconnecting in")
    });
    // Pinged after 1 s, the lag shown 5 s after that, given up at 9 s.
    assert!(frozen_at.elapsed() < Duration::from_secs(15));
    // Said while the server is frozen: it reads it when it wakes, while
    // alice is away, so only the history can give it back to her.
    timeout(WAIT, watcher.say("during the freeze"))
        .await
        .expect("queued in time")
        .expect("sent");

    server.signal("CONT");
    let woke_at = Instant::now();
    let screen = tmux.wait_for("back, with what was said meanwhile", |s| {
        s.matches("connected as alice to").count() >= 2 && s.contains("<watcher> during the freeze")
    });
    assert!(
        woke_at.elapsed() < Duration::from_secs(12),
        "back {:?} after SIGCONT",
        woke_at.elapsed()
    );
    assert_eq!(
        rows(&screen)
            .iter()
            .filter(|r| r.ends_with("<watcher> before the freeze"))
            .count(),
        1,
        "shown once:\n{screen}"
    );
    enter(&tmux, "back again");
    expect_event(
        &mut events,
        "alice's line after the freeze",
        |e| matches!(e, Event::Message(m) if m.from == "alice" && m.text == "back again"),
    )
    .await;
}

#[async_std::test]
async fn a_bot_s_long_texts_arrive_split_in_order_within_the_limit() {
    // chat-core does the splitting, so a bot gets it too: the real server
    // with its usual line limit and rate limit, two chat-core sessions.
    let server = start_server_with(Config::default()).await;
    let (bot, _bot_events) = join(server.addr(), "bot").await;
    let (_reader, mut events) = join(server.addr(), "reader").await;
    // Quotes and backslashes take two bytes in JSON, é and 😀 several in
    // UTF-8: 20,000 characters, well over 8192 bytes however counted.
    let text: String = (0..2_000)
        .map(|n| match n % 4 {
            0 => "\"quoted\" ".to_owned(),
            1 => "back\\slash ".to_owned(),
            2 => "é😀é😀 ".to_owned(),
            _ => format!("{n:>9} "),
        })
        .collect::<String>()
        .trim_end()
        .to_owned();
    timeout(WAIT, bot.say(text.clone()))
        .await
        .expect("queued in time")
        .expect("sent");
    let mut said = String::new();
    while said.len() < text.len() {
        let event = expect_event(&mut events, "a piece", |e| matches!(e, Event::Message(_))).await;
        if let Event::Message(m) = event {
            assert!(m.text.len() < 8192, "{} bytes", m.text.len());
            said.push_str(&m.text);
        }
    }
    assert_eq!(said, text);

    timeout(WAIT, bot.tell("reader", text.clone()))
        .await
        .expect("queued in time")
        .expect("sent");
    let mut told = String::new();
    while told.len() < text.len() {
        let event = expect_event(&mut events, "a private piece", |e| {
            matches!(e, Event::Private(_))
        })
        .await;
        if let Event::Private(p) = event {
            told.push_str(&p.text);
        }
    }
    assert_eq!(told, text);
}
