//! ngIRCd, the C IRC server, spawned on a free loopback port with a
//! configuration of its own, so `chat-bench ircd` can load it with the same
//! IRC traffic as chat-server's IRC listener and read its CPU and memory
//! from `/proc` the same way.
//!
//! Its limits are opened as chat-server's are for benchmarks
//! (`--rate-limit off`): no penalty time for commands sent quickly (ngIRCd
//! would otherwise throttle a client past a few lines a second), no limit on
//! connections per address or channels per client, and no DNS or ident
//! lookups.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};

use crate::procfs::Probe;
use crate::spawned::wait_listening;

/// Where Debian's `ngircd` package puts it.
pub const DEFAULT_BIN: &str = "/usr/sbin/ngircd";

/// A running ngIRCd, stopped (and its directory removed) when dropped.
#[derive(Debug)]
pub struct Ngircd {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Ngircd {
    /// Starts `bin` in the foreground on a free port of 127.0.0.1 and waits
    /// until it accepts connections.
    ///
    /// # Errors
    /// When `bin` is missing or cannot start, or does not listen within 10 s.
    pub fn spawn(bin: &Path) -> anyhow::Result<Self> {
        check(bin)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("cannot find a free port")?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let dir =
            std::env::temp_dir().join(format!("chat-bench-ngircd-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let conf = dir.join("ngircd.conf");
        std::fs::write(&conf, config(port, &dir)?)
            .with_context(|| format!("cannot write {}", conf.display()))?;
        let child = Command::new(bin)
            .arg("--nodaemon")
            .arg("--config")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e).with_context(|| format!("cannot start {}", bin.display()));
            }
        };
        let mut server = Self { child, addr, dir };
        wait_listening(&mut server.child, addr, "ngIRCd")?;
        Ok(server)
    }

    /// Where IRC clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The whole process.
    pub fn probe(&self) -> Probe {
        Probe::Process(self.child.id())
    }
}

impl Drop for Ngircd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `bin` is there to run, said before anything else is started.
///
/// # Errors
/// When it is missing, with how to install it.
pub fn check(bin: &Path) -> anyhow::Result<()> {
    if !bin.exists() {
        bail!(
            "{} not found: install ngIRCd (`apt-get install ngircd`) or give --ngircd",
            bin.display()
        );
    }
    Ok(())
}

/// The configuration: listening on `port` of 127.0.0.1 only, as the user
/// running this (started as root, ngIRCd would otherwise switch to an
/// unprivileged user that cannot write its pid file in `dir`).
fn config(port: u16, dir: &Path) -> anyhow::Result<String> {
    let me = std::fs::metadata("/proc/self").context("cannot read /proc/self")?;
    Ok(format!(
        "[Global]\n\
         Name = bench.invalid\n\
         Info = chat-bench\n\
         Listen = 127.0.0.1\n\
         Ports = {port}\n\
         MotdPhrase = \"chat-bench\"\n\
         PidFile = {pid}\n\
         ServerUID = {uid}\n\
         ServerGID = {gid}\n\
         [Limits]\n\
         MaxConnections = 0\n\
         MaxConnectionsIP = 0\n\
         MaxJoins = 0\n\
         MaxNickLength = 30\n\
         MaxPenaltyTime = 0\n\
         PingTimeout = 600\n\
         PongTimeout = 60\n\
         [Options]\n\
         DNS = no\n\
         Ident = no\n\
         PAM = no\n",
        pid = dir.join("ngircd.pid").display(),
        uid = me.uid(),
        gid = me.gid(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_opens_the_limits_a_benchmark_needs() {
        let conf = config(6999, Path::new("/tmp/x")).expect("/proc/self is readable");
        for line in [
            "Ports = 6999",
            "Listen = 127.0.0.1",
            "MaxPenaltyTime = 0",
            "MaxConnectionsIP = 0",
            "PidFile = /tmp/x/ngircd.pid",
            "DNS = no",
        ] {
            assert!(
                conf.lines().any(|l| l == line),
                "{line} missing from:\n{conf}"
            );
        }
    }
}
