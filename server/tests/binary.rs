//! The `chat-server` binary itself: graceful shutdown on SIGTERM/SIGINT,
//! failing fast on an address in use, and its flags.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{within, Plain};

const BIN: &str = env!("CARGO_BIN_EXE_chat-server");

/// Kills the child if the test fails before it exits on its own.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the binary on a free port and waits for its "server started" log.
    fn start(extra: &[&str]) -> Server {
        Server::start_with_fd_limit(extra, None).0
    }

    /// Like `start`, optionally under `ulimit -n LIMIT`; also returns the
    /// rest of the server's log as it comes.
    fn start_with_fd_limit(
        extra: &[&str],
        fd_limit: Option<u32>,
    ) -> (Server, std::sync::mpsc::Receiver<String>) {
        Server::start_full(extra, fd_limit, &[])
    }

    fn start_full(
        extra: &[&str],
        fd_limit: Option<u32>,
        env: &[(&str, &str)],
    ) -> (Server, std::sync::mpsc::Receiver<String>) {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut command = match fd_limit {
            Some(limit) => {
                let mut c = Command::new("bash");
                c.args([
                    "-c",
                    &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
                    BIN,
                ]);
                c
            }
            None => Command::new(BIN),
        };
        let mut child = command
            .args(["--listen", &addr, "--status-interval", "0"])
            // Tests that want a database say which.
            .args((!extra.contains(&"--history-db")).then_some("--no-history"))
            .args(extra)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn chat-server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("server started") => break,
                Ok(_) => {}
                Err(e) => panic!("chat-server did not start: {e}"),
            }
        }
        (Server { child, addr }, rx)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "chat-server did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn shutdown_on(signal: &str) {
    let (mut server, log) = Server::start_with_fd_limit(&["--rate-limit", "off"], None);
    let mut alice = Plain::join(server.addr.as_str(), "alice").await;
    let mut bob = Plain::join(server.addr.as_str(), "bob").await;
    alice.next_is("* bob joined").await;
    for i in 0..100 {
        bob.send(&format!("message {i}")).await;
    }
    // Wait until the server has taken all of them, then stop it.
    bob.expect("<bob> message 99").await;
    server.signal(signal);
    // Alice has not read a thing yet: all of it must still arrive, then the notice.
    let lines = within("alice reads to the end", alice.until_closed()).await;
    let messages: Vec<_> = lines.iter().filter(|l| l.starts_with("<bob>")).collect();
    assert_eq!(messages.len(), 100, "{lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("* server is shutting down")
    );
    let status = server.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "exit status {status}");
    // The server closed them, and its log says so.
    // The log ends when the server has exited.
    let log: Vec<String> = log.iter().collect();
    let gone: Vec<&String> = log.iter().filter(|l| l.contains("disconnected")).collect();
    assert_eq!(gone.len(), 2, "{log:#?}");
    assert!(
        gone.iter()
            .all(|l| l.contains("reason=\"server shutdown\"")),
        "{gone:#?}"
    );
}

#[async_std::test]
async fn sigterm_delivers_what_was_queued_and_exits_0() {
    shutdown_on("TERM").await;
}

#[async_std::test]
async fn ctrl_c_delivers_what_was_queued_and_exits_0() {
    shutdown_on("INT").await;
}

#[test]
fn an_address_in_use_fails_fast_with_a_clear_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(["--listen", &addr, "--no-history"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chat-server sat on an address in use");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    assert!(!status.success());
    assert_eq!(
        stderr.trim(),
        format!("chat-server: cannot listen on {addr}: address already in use")
    );
    eprintln!("failed in {:?}", started.elapsed());
}

#[test]
fn help_lists_the_flags() {
    let out = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--room",
        "--max-line",
        "--rate-limit",
        "--max-clients",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

/// Runs the binary with `args`, which it must refuse; returns its stderr.
fn refused(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().expect("run");
    assert!(!out.status.success(), "{args:?} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_bad_flag_value_is_refused_clearly() {
    let stderr = refused(&["--rate-limit", "lots"]);
    assert!(
        stderr.contains("--rate-limit takes BURST/PER_SECOND"),
        "{stderr}"
    );
}

#[async_std::test]
async fn running_out_of_file_descriptors_does_not_stop_the_accept_loop() {
    let (server, log) = Server::start_with_fd_limit(&["--rate-limit", "off"], Some(40));
    let mut alice = Plain::join(server.addr.as_str(), "alice").await;
    // Far more connections than the server has descriptors for.
    let mut crowd = Vec::new();
    for _ in 0..60 {
        match async_std::net::TcpStream::connect(server.addr.as_str()).await {
            Ok(stream) => crowd.push(stream),
            Err(_) => break,
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut saw_failure = false;
    while !saw_failure && Instant::now() < deadline {
        if let Ok(line) = log.recv_timeout(Duration::from_millis(100)) {
            saw_failure = line.contains("accept failed");
        }
    }
    assert!(
        saw_failure,
        "the server never ran out of descriptors: raise the crowd"
    );
    // The crowd leaves; the server recovers and serves newcomers.
    drop(crowd);
    let mut bob = within(
        "join after EMFILE",
        Plain::join(server.addr.as_str(), "bob"),
    )
    .await;
    alice.expect("* bob joined").await;
    bob.send("made it").await;
    alice.expect("<bob> made it").await;
}

#[async_std::test]
async fn a_wrong_password_is_logged_with_the_peer_address() {
    let (server, log) = Server::start_full(&[], None, &[("CHAT_PASSWORD", "letmein")]);
    let mut guesser = Plain::connect(server.addr.as_str()).await;
    guesser.send("guesser").await;
    guesser.line().await;
    guesser.send("password123").await;
    guesser.next_is("! wrong password").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("a log line about the wrong password");
        if line.contains("wrong password for the room") {
            assert!(line.contains("peer=127.0.0.1:"), "{line}");
            assert!(!line.contains("password123"), "the guess is not logged");
            break;
        }
    }
    // The password never shows in the process's arguments.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.child.id())).expect("cmdline");
    assert!(!String::from_utf8_lossy(&cmdline).contains("letmein"));
}

#[test]
fn a_second_server_on_the_same_database_is_refused_and_says_who_holds_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("history.sqlite3");
    let db_arg = db.to_str().expect("utf-8 path");
    let start_on_db = || Server::start(&["--history-db", db_arg]);
    let first = start_on_db();
    let addr = first.addr.clone();

    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--history-db", db_arg])
        .stdin(Stdio::null())
        .output()
        .expect("run the second server");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "history database {db_arg} is in use by another chat-server (pid {}, listening on {addr})",
            first.child.id()
        )),
        "{stderr}"
    );
    drop(first);
    // Once the first has gone, the database is free again.
    drop(start_on_db());
}

#[async_std::test]
async fn a_frozen_server_is_noticed_and_the_session_comes_back_when_it_thaws() {
    use chat_core::{Backoff, ChatSession, Event, SessionConfig, Status, TcpSession};
    use futures::StreamExt;

    let server = Server::start(&["--rate-limit", "off"]);
    let mut config = SessionConfig::new(&server.addr, "patient")
        .with_backoff(Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(1),
            jitter: 0.1,
        })
        .with_liveness(Duration::from_secs(1), Duration::from_secs(2));
    config.connect_timeout = Duration::from_secs(2);
    let session = within("connect", TcpSession::connect(config))
        .await
        .expect("connect");
    let (sender, mut events) = session.split();
    let started = Instant::now();
    server.signal("STOP");
    let reason = within("the frozen server is noticed", async {
        loop {
            if let Some(Event::Status(Status::Disconnected { reason, .. })) = events.next().await {
                return reason;
            }
        }
    })
    .await;
    assert_eq!(reason, "server not responding");
    // Silence for 1 s, a ping, 2 s more: about 3 s, never the kernel's minutes.
    eprintln!("frozen server noticed after {:?}", started.elapsed());
    server.signal("CONT");
    within("back after the thaw", async {
        loop {
            if let Some(Event::Status(Status::Connected { .. })) = events.next().await {
                return;
            }
        }
    })
    .await;
    let mut witness = Plain::join(server.addr.as_str(), "witness").await;
    sender.say("thawed").await.expect("say");
    witness.expect("<patient> thawed").await;
}

/// Starts the binary with its log on a pipe that this test holds, read up
/// to "server started" and no further.
fn start_with_log_pipe() -> (Server, BufReader<std::process::ChildStderr>) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(BIN)
        .args(["--listen", &addr, "--status-interval", "0", "--no-history"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chat-server");
    let mut log = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    while !line.contains("server started") {
        line.clear();
        let read = log.read_line(&mut line).expect("read the log");
        assert!(read > 0, "the server did not start");
    }
    (Server { child, addr }, log)
}

#[async_std::test]
async fn the_server_keeps_serving_when_nobody_reads_its_log_any_more() {
    let (server, log) = start_with_log_pipe();
    // The log's reader is gone (as with `chat-server | head`): every line
    // the server logs from now on fails to write.
    drop(log);
    for name in ["first", "second"] {
        let mut client = Plain::join(server.addr.as_str(), name).await;
        client.send("still here?").await;
        client.expect(&format!("<{name}> still here?")).await;
    }
}

/// Runs the binary to its exit (or kills it after ten seconds) and returns
/// the status and what it wrote on stderr.
fn run_to_exit(args: &[&std::ffi::OsStr]) -> (ExitStatus, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chat-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chat-server kept running with {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    (status, stderr)
}

#[test]
fn a_password_file_of_two_lines_is_refused_at_start_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("two-lines");
    std::fs::write(&file, "open\nsesame\n").expect("write");
    for flag in ["--password-file", "--operator-password-file"] {
        let (status, stderr) = run_to_exit(&[
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--no-history".as_ref(),
            flag.as_ref(),
            file.as_os_str(),
        ]);
        assert_eq!(status.code(), Some(1), "{flag}: {stderr}");
        assert_eq!(
            stderr.trim(),
            format!(
                "chat-server: the password file {} has more than one line: the password is the \
                 whole file, less a final line break, and a line break inside it could not be typed",
                file.display()
            ),
            "{flag}"
        );
    }
}

#[test]
fn help_says_what_a_password_file_holds() {
    let out = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("run --help");
    // clap wraps the help to the terminal: compare words, not lines.
    let help = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    // Both password flags, in the words every program uses.
    assert_eq!(
        help.matches(chat_core::credentials::PASSWORD_FILE_RULE)
            .count(),
        2,
        "{help}"
    );
    assert!(!help.contains("first line"), "{help}");
}

/// The names of the server's threads that run its tasks, from /proc.
fn worker_threads(server: &Server) -> usize {
    let tasks = format!("/proc/{}/task", server.child.id());
    std::fs::read_dir(&tasks)
        .expect("read /proc/PID/task")
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .filter(|comm| comm.trim() == "chat-worker")
        .count()
}

async fn relays_on(threads: Option<&str>, expected_workers: usize) {
    let mut flags = vec!["--rate-limit", "off"];
    if let Some(n) = threads {
        flags.extend(["--threads", n]);
    }
    let server = Server::start(&flags);
    let mut alice = Plain::join(server.addr.as_str(), "alice").await;
    let mut bob = Plain::join(server.addr.as_str(), "bob").await;
    alice.next_is("* bob joined").await;
    for i in 0..20 {
        bob.send(&format!("line {i}")).await;
    }
    for i in 0..20 {
        alice.next_is(&format!("<bob> line {i}")).await;
    }
    assert_eq!(worker_threads(&server), expected_workers, "{flags:?}");
}

#[async_std::test]
async fn one_worker_thread_runs_the_chat_by_default() {
    relays_on(None, 1).await;
}

#[async_std::test]
async fn threads_sets_how_many_workers_run_the_chat() {
    relays_on(Some("3"), 3).await;
}

#[test]
fn zero_threads_is_refused_clearly() {
    let stderr = refused(&["--threads", "0"]);
    assert!(stderr.contains("--threads"), "{stderr}");
}

#[async_std::test]
async fn the_server_keeps_serving_when_its_log_is_not_read_but_stays_open() {
    // From here on nobody reads the log, but its pipe stays open (a
    // terminal scrolled back and paused, a stuck log shipper): once the
    // pipe's buffer is full, a write to it waits for ever.
    let (server, log) = start_with_log_pipe();
    for i in 0..600 {
        let name = format!("visitor{i}");
        let mut visitor = Plain::join(server.addr.as_str(), &name).await;
        visitor.send("hello").await;
        visitor.expect(&format!("<{name}> hello")).await;
    }
    let mut last = Plain::join(server.addr.as_str(), "last").await;
    last.send("still here?").await;
    last.expect("<last> still here?").await;
    drop(log);
}
