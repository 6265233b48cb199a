//! An IRC client on a raw socket, for the gateway's tests: every read
//! has a deadline, every line must end in `\r\n`.

use std::net::SocketAddr;
use std::time::Duration;

use async_std::io::{BufReader, WriteExt};
use async_std::net::TcpStream;
use async_std::prelude::*;
use chat_server::{Config, ServerHandle};

use super::{within, Plain};

/// An IRC client on a raw socket.
pub struct Irc {
    pub nick: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// The line [`Irc::until`] stopped at.
    pub last: Option<String>,
}

impl Irc {
    pub async fn connect(addr: SocketAddr) -> Irc {
        let stream = within("connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Irc {
            nick: "*".to_owned(),
            reader: BufReader::new(stream.clone()),
            writer: stream,
            last: None,
        }
    }

    /// Connects and registers as `nick`; returns what came up to the end
    /// of the default room's names.
    pub async fn register(addr: SocketAddr, nick: &str) -> (Irc, Vec<String>) {
        let mut irc = Irc::connect(addr).await;
        let lines = irc.finish_registration(nick).await;
        (irc, lines)
    }

    /// Registers as `nick` on a connection the test began itself (with
    /// `PASS`, or commands refused before registration); returns what came
    /// up to the end of the default room's names.
    pub async fn finish_registration(&mut self, nick: &str) -> Vec<String> {
        self.send_nick_and_user(nick).await;
        self.until_registered(nick).await
    }

    /// Ends a `CAP` negotiation begun by the test: `NICK`, `USER` and
    /// `CAP END`, then reads up to the end of the default room's names.
    pub async fn end_negotiation(&mut self, nick: &str) {
        self.send_nick_and_user(nick).await;
        self.send("CAP END").await;
        self.until_registered(nick).await;
    }

    /// `NICK` and `USER` as `nick`, without waiting for the answer (the
    /// server may refuse the nick).
    pub async fn send_nick_and_user(&mut self, nick: &str) {
        self.send(&format!("NICK {nick}")).await;
        self.send(&format!("USER {nick} 0 * :{nick} the tester"))
            .await;
    }

    /// Reads up to the end of the default room's names, the last thing
    /// registration sends, and is `nick` from then on; returns those lines,
    /// the last one too.
    pub async fn until_registered(&mut self, nick: &str) -> Vec<String> {
        let mut lines = self.until(LOBBY_JOIN_END).await;
        lines.push(self.last.take().unwrap_or_default());
        self.nick = nick.to_owned();
        lines
    }

    /// Joins `channel`; returns what came before the end of its names.
    pub async fn join(&mut self, channel: &str) -> Vec<String> {
        self.send(&format!("JOIN {channel}")).await;
        let end = format!(" 366 {} {channel} ", self.nick);
        self.until(&end).await
    }

    pub async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        within("write", self.writer.write_all(bytes))
            .await
            .expect("write");
    }

    /// The next line without `\r\n`; `None` at EOF.
    pub async fn try_line(&mut self) -> Option<String> {
        let mut line = String::new();
        let n = within("read a line", self.reader.read_line(&mut line))
            .await
            .expect("read");
        if n == 0 {
            return None;
        }
        assert!(line.ends_with("\r\n"), "not CRLF-terminated: {line:?}");
        line.truncate(line.len() - 2);
        Some(line)
    }

    pub async fn line(&mut self) -> String {
        match self.try_line().await {
            Some(line) => line,
            None => panic!("{}: connection closed", self.nick),
        }
    }

    pub async fn next_is(&mut self, want: &str) {
        let line = self.line().await;
        assert_eq!(line, want, "{}", self.nick);
    }

    /// Lines up to (not including) one that contains `needle`, which is
    /// kept in `last`.
    pub async fn until(&mut self, needle: &str) -> Vec<String> {
        let mut skipped = Vec::new();
        loop {
            let line = self.line().await;
            if line.contains(needle) {
                self.last = Some(line);
                return skipped;
            }
            skipped.push(line);
        }
    }

    /// Whatever arrives within `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match async_std::future::timeout(quiet, self.reader.read_line(&mut line)).await {
                Ok(Ok(n)) if n > 0 => lines.push(line.trim_end().to_owned()),
                _ => return lines,
            }
        }
    }
}

/// The gateway tests' configuration: rate limiting off (tests send fast)
/// and no status log.
pub fn config() -> Config {
    Config {
        rate_limit: None,
        status_interval: None,
        ..Config::default()
    }
}

/// A server on 127.0.0.1:0 with an IRC listener, configured by [`config`].
pub async fn server() -> ServerHandle {
    server_with(config()).await
}

pub async fn server_with(config: Config) -> ServerHandle {
    ServerHandle::start_with_irc(config)
        .await
        .expect("server starts")
}

/// A native client called `native`, then an IRC client called `nick`
/// whose join the native client has seen; with what the IRC client was
/// sent up to the end of the default room's names.
pub async fn native_then_irc(
    server: &ServerHandle,
    native: &str,
    nick: &str,
) -> (Plain, Irc, Vec<String>) {
    let mut plain = Plain::join(server.addr(), native).await;
    let (irc, lines) = Irc::register(irc_addr(server), nick).await;
    plain.next_is(&format!("* {nick} joined")).await;
    (plain, irc, lines)
}

pub fn irc_addr(server: &ServerHandle) -> SocketAddr {
    server.irc_addr().expect("an IRC listener")
}

pub const LOBBY_JOIN_END: &str = ":chat-server 366 ";
