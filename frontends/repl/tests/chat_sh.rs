//! `scripts/chat.sh`, run as a user runs it: the server it starts keeps
//! running after the starter's client quits (so nobody who joined is cut
//! off), running it again uses that server, and `--stop` stops it.
//!
//! The script runs the programs in `CHAT_BIN` instead of building them:
//! there, `chat-repl` is this package's binary, and `chat-server` a
//! wrapper that starts this very test binary with only the ignored `serve`
//! test, which runs the real server (`chat_server::run`) on the address
//! the script gives it.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chat_core::{ChatSession, Event, SessionConfig, TcpSession};
use futures::StreamExt;

const REPL: &str = env!("CARGO_BIN_EXE_chat-repl");
/// Set for the child that is the server: the address to listen on.
const SERVE_ENV: &str = "CHAT_SH_TEST_SERVE";
/// The server child's lifetime, in case the test that started it died
/// without stopping it.
const SERVE_AT_MOST: Duration = Duration::from_secs(120);
const WAIT: Duration = Duration::from_secs(10);

#[test]
#[ignore = "the server started by scripts/chat.sh in the_server_outlives_the_starter"]
fn serve() {
    let Ok(addr) = std::env::var(SERVE_ENV) else {
        return;
    };
    async_std::task::block_on(async {
        let listener = async_std::net::TcpListener::bind(&addr)
            .await
            .expect("bind the address chat.sh gave");
        let stop = async_std::task::sleep(SERVE_AT_MOST);
        chat_server::run(listener, chat_server::Config::default(), stop)
            .await
            .expect("the server runs");
    });
}

/// Runs `scripts/chat.sh ARGS` from the repository root with `stdin`.
fn chat_sh(bin: &Path, addr: &str, args: &[&str], stdin: &str) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut child = Command::new(root.join("scripts/chat.sh"))
        .args(args)
        .env("CHAT_BIN", bin)
        // Where the script keeps the server's pid and log: beside the
        // binaries, removed with them.
        .env("CARGO_TARGET_DIR", bin)
        .env("CHAT_ADDR", addr)
        .env("CHAT_NAME", "starter")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scripts/chat.sh runs");
    let mut input = child.stdin.take().expect("piped");
    std::io::Write::write_all(&mut input, stdin.as_bytes()).expect("write stdin");
    drop(input);
    let deadline = Instant::now() + WAIT;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("scripts/chat.sh {args:?} did not finish within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("its output")
}

/// Stops the server however the test ends.
struct Stop<'a>(&'a Path, &'a str);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        let _ = chat_sh(self.0, self.1, &["--stop"], "");
    }
}

/// Connects as `name`: `Ok` while a server listens on `addr`.
fn connect(addr: &str, name: &str) -> Result<TcpSession, chat_core::ChatError> {
    let mut config = SessionConfig::new(addr, name);
    config.connect_timeout = Duration::from_secs(5);
    async_std::task::block_on(TcpSession::connect(config))
}

#[test]
fn the_server_outlives_the_starter_and_stops_when_asked() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    let me = std::env::current_exe().expect("this test binary");
    let wrapper = format!(
        "#!/bin/bash\n# chat.sh runs: chat-server --listen ADDR\n\
         {SERVE_ENV}=\"$2\" exec -a chat-server '{}' --ignored --exact serve --test-threads 1\n",
        me.display()
    );
    std::fs::write(bin.join("chat-server"), wrapper).expect("write the wrapper");
    let chmod = Command::new("chmod")
        .args(["+x", &bin.join("chat-server").display().to_string()])
        .status()
        .expect("chmod");
    assert!(chmod.success());
    std::os::unix::fs::symlink(REPL, bin.join("chat-repl")).expect("link chat-repl");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let _stop = Stop(&bin, &addr);

    // The starter says something and quits (end of input).
    let first = chat_sh(&bin, &addr, &[], "hello from the starter\n");
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("chat-server is listening on {addr}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "stop it with: CHAT_ADDR={addr} scripts/chat.sh --stop"
        )),
        "{stderr}"
    );

    // Someone who joined is still connected, and can still talk.
    let guest = connect(&addr, "guest").expect("the server still runs");
    let (sender, mut events) = guest.split();
    async_std::task::block_on(async {
        async_std::future::timeout(WAIT, sender.say("still here"))
            .await
            .expect("in time")
            .expect("sent");
        let echo = async_std::future::timeout(WAIT, async {
            while let Some(event) = events.next().await {
                if let Event::Message(m) = event {
                    return m.text;
                }
            }
            String::new()
        })
        .await
        .expect("the echo in time");
        assert_eq!(echo, "still here");
    });

    // Running it again uses the same server.
    let again = chat_sh(&bin, &addr, &[], "back again\n");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(stderr.contains("is already running"), "{stderr}");

    let stopped = chat_sh(&bin, &addr, &["--stop"], "");
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert!(stopped.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("chat-server on {addr} stopped")),
        "{stderr}"
    );
    assert!(connect(&addr, "late").is_err(), "nothing listens any more");
    drop(sender);
}
