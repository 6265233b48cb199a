//! Servers this tool spawns (chat-server, ngIRCd): waiting until one
//! listens before a run measures it.

use std::net::{SocketAddr, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::bail;

/// Waits up to 10 s until the server spawned as `child` (`name` in errors)
/// accepts connections on `addr`.
///
/// # Errors
/// When the server exits first, or does not listen in time.
pub fn wait_listening(child: &mut Child, addr: SocketAddr, name: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!("{name} exited at start: {status}");
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            // Let the probe connection's departure pass before measuring.
            std::thread::sleep(Duration::from_millis(200));
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{name} did not listen on {addr} within 10 s")
}
