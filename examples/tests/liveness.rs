//! A bot connected to a server frozen with `SIGSTOP`: the kernel keeps
//! ACKing a stopped process's socket, so only silence tells. The logger
//! (which reconnects) writes `server not responding` into its transcript
//! and is back once the server runs again.
//!
//! The server runs in a process of its own, so that it alone can be
//! stopped: this test binary started again with only the ignored `serve`
//! test, which runs the real server (`ServerHandle`) and writes its address.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chat_core::{Backoff, SessionConfig};
use chat_server::ServerHandle;
use common::{server_config, spawn_bot, WAIT};

// The very file `cargo run --example logger` builds, run in-process.
#[path = "../logger.rs"]
#[allow(dead_code)]
mod logger;

/// Set for the child that is the server: where to write its address.
const SERVE_ENV: &str = "CHAT_BOTS_TEST_SERVE";
/// The server child's lifetime, in case the test that started it died
/// without killing it.
const SERVE_AT_MOST: Duration = Duration::from_secs(120);

#[test]
#[ignore = "the server process of a_bot_notices_a_frozen_server_and_comes_back, started by it"]
fn serve() {
    let Some(addr_file) = std::env::var_os(SERVE_ENV) else {
        return;
    };
    let server =
        async_std::task::block_on(ServerHandle::start(server_config())).expect("the server starts");
    std::fs::write(&addr_file, server.addr().to_string()).expect("write the address");
    std::thread::sleep(SERVE_AT_MOST);
}

/// Kills the server process however the test ends.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl ServerProcess {
    fn start(dir: &Path) -> (ServerProcess, String) {
        let addr_file = dir.join("server-addr");
        let child = Command::new(std::env::current_exe().expect("this test binary"))
            .args(["--ignored", "--exact", "serve", "--test-threads", "1"])
            .env(SERVE_ENV, &addr_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server process");
        let server = ServerProcess(child);
        let addr = poll("the server's address", || {
            std::fs::read_to_string(&addr_file)
                .ok()
                .filter(|a| !a.is_empty())
        });
        (server, addr)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.0.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal}");
    }
}

/// Polls `check` until it gives something, failing after [`WAIT`].
fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The index of the first line of the lobby's transcript after `from`
/// that contains `text`, once there is one.
fn wait_for_line(dir: &Path, from: usize, text: &str) -> usize {
    poll(&format!("{text:?} in lobby.log"), || {
        let transcript = std::fs::read_to_string(dir.join("lobby.log")).unwrap_or_default();
        transcript
            .lines()
            .enumerate()
            .skip(from)
            .find(|(_, line)| line.contains(text))
            .map(|(i, _)| i)
    })
}

#[test]
fn a_bot_notices_a_frozen_server_and_comes_back() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (server, addr) = ServerProcess::start(dir.path());
    let mut config = SessionConfig::new(&addr, "logger")
        .with_backoff(Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(1),
            jitter: 0.1,
        })
        .with_liveness(Duration::from_secs(1), Duration::from_secs(2));
    config.connect_timeout = Duration::from_secs(2);
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("the transcripts' directory");
    let bot_logs = logs.clone();
    spawn_bot("logger", async move {
        logger::run(config, Vec::new(), &bot_logs).await
    });
    let welcomed = wait_for_line(&logs, 0, "* logging lobby as logger");

    server.signal("-STOP");
    let lost = wait_for_line(&logs, welcomed, "disconnected: server not responding");
    server.signal("-CONT");
    let back = wait_for_line(&logs, lost, "* connected as logger to ");
    wait_for_line(&logs, back, "* logging lobby as logger");
}
