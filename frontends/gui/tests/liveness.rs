//! End-to-end: a server frozen with `SIGSTOP` while `chat-gui` is connected.
//! The kernel keeps ACKing a stopped process's socket, so only silence
//! tells. With `--ping-after 1 --dead-after 9`, a short freeze is a lag
//! the window records when the server answers again; a long one is given
//! up (`server not responding`) and the window is back once the server
//! runs again.
//!
//! The server runs in a process of its own, so that it alone can be
//! stopped: this test binary started again with only the ignored `serve`
//! test, which runs the real server (`ServerHandle`) and writes its
//! address to a file. Needs `Xvfb` and `xdotool`, like `e2e.rs`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// Set for the child that is the server: where to write its address.
const SERVE_ENV: &str = "CHAT_GUI_TEST_SERVE";
/// The server child's lifetime, in case the test that started it died
/// without killing it.
const SERVE_AT_MOST: Duration = Duration::from_secs(180);

#[test]
#[ignore = "the server process of a_frozen_server_is_noticed_and_left_behind, started by it"]
fn serve() {
    let Some(addr_file) = std::env::var_os(SERVE_ENV) else {
        return;
    };
    let server = async_std::task::block_on(start_server());
    std::fs::write(&addr_file, server.addr().to_string()).expect("write the address");
    std::thread::sleep(SERVE_AT_MOST);
}

fn start_server_process(dir: &Path) -> (Reaper, String) {
    let addr_file = dir.join("server-addr");
    let child = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--ignored", "--exact", "serve", "--test-threads", "1"])
        .env(SERVE_ENV, &addr_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server process");
    let mut server = Reaper(child, "server process");
    let addr = wait_for("the server's address", || {
        server.assert_running();
        std::fs::read_to_string(&addr_file)
            .ok()
            .filter(|a| !a.is_empty())
    });
    (server, addr)
}

fn signal(process: &Reaper, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &process.0.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal}");
}

fn count(path: &Path, prefix: &str) -> usize {
    transcript(path)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .count()
}

#[test]
fn a_frozen_server_is_noticed_and_left_behind() {
    let display = start_display();
    let dir = temp_dir("liveness");
    let (server, addr) = start_server_process(&dir);
    let (mut gui, transcript_path) = start_gui(
        &display,
        &dir,
        &[
            "--server",
            &addr,
            "--name",
            "guiuser",
            "--connect",
            "--ping-after",
            "1",
            "--dead-after",
            "9",
        ],
    );
    let connected = format!("* connected as guiuser to {addr}");
    wait_for_line(&transcript_path, &mut gui, &connected);
    // A healthy server is pinged every second of silence and answers at
    // once: nothing in the conversation.
    std::thread::sleep(Duration::from_secs(3));
    let answered = format!("* server {addr} answered again after ");
    assert_eq!(count(&transcript_path, &answered), 0);

    // Frozen for 7.5 s: pinged within 1 s, the lag is shown 5 s after the
    // ping, and it is given up 9 s after it. Woken in between, the server
    // answers and the window records the gap, still connected.
    signal(&server, "-STOP");
    std::thread::sleep(Duration::from_millis(7_500));
    signal(&server, "-CONT");
    wait_for("the window to record the lag", || {
        gui.assert_running();
        (count(&transcript_path, &answered) == 1).then_some(())
    });
    let given_up = "* disconnected: server not responding; reconnecting in ";
    assert_eq!(count(&transcript_path, given_up), 0, "never given up");
    assert_eq!(count(&transcript_path, &connected), 1);

    // Frozen until given up: the window says so, and once the server runs
    // again it reconnects.
    signal(&server, "-STOP");
    wait_for("the window to give the server up", || {
        gui.assert_running();
        (count(&transcript_path, given_up) == 1).then_some(())
    });
    signal(&server, "-CONT");
    wait_for("the window to be back", || {
        gui.assert_running();
        (count(&transcript_path, &connected) == 2).then_some(())
    });
    drop(gui);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
