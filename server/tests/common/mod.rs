//! Test helpers: a plain-mode client over a raw socket, a structured client
//! over `chat-core`, and a deadline on every await; an IRC client in
//! [`irc`], a terminal program in tmux in [`tmux`].

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use async_std::io::{BufReader, ReadExt, WriteExt};
use async_std::net::TcpStream;
use async_std::prelude::*;
use chat_core::{ChatSession, Event, EventStream, SessionConfig, SessionSender, TcpSession};
use chat_server::{Config, ServerHandle};

pub mod irc;
pub mod tmux;

/// How long any single step may take before the test fails.
pub const STEP: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test after [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match async_std::future::timeout(STEP, fut).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {STEP:?}: {what}"),
    }
}

/// A server on 127.0.0.1:0 with rate limiting off (tests send fast).
pub async fn server() -> ServerHandle {
    server_with(Config {
        rate_limit: None,
        status_interval: None,
        ..Config::default()
    })
    .await
}

pub async fn server_with(config: Config) -> ServerHandle {
    ServerHandle::start(config).await.expect("server starts")
}

/// A person on `nc`: raw lines in and out.
pub struct Plain {
    pub name: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Plain {
    /// Connects and reads the banner, without naming.
    pub async fn connect(addr: impl async_std::net::ToSocketAddrs) -> Plain {
        let stream = within("connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        Plain::over(stream).await
    }

    /// Reads the banner on an already connected stream.
    pub async fn over(stream: TcpStream) -> Plain {
        stream.set_nodelay(true).expect("nodelay");
        let mut client = Plain {
            name: String::new(),
            reader: BufReader::new(stream.clone()),
            writer: stream,
        };
        let banner = client.line().await;
        assert!(banner.contains("type your name"), "banner: {banner}");
        client
    }

    /// Connects and joins as `name`, reading up to its own join notice.
    pub async fn join(addr: impl async_std::net::ToSocketAddrs, name: &str) -> Plain {
        let mut client = Plain::connect(addr).await;
        client.send(name).await;
        let welcome = client.line().await;
        assert!(
            welcome.starts_with(&format!("* you are {name} in ")),
            "welcome: {welcome}"
        );
        client.expect(&format!("* {name} joined")).await;
        client.name = name.to_owned();
        client
    }

    pub async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes()).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        within("write", self.writer.write_all(bytes))
            .await
            .expect("write");
    }

    /// The next line, without its newline; panics at EOF.
    pub async fn line(&mut self) -> String {
        self.try_line()
            .await
            .unwrap_or_else(|| panic!("{}: connection closed", self.name))
    }

    /// The next line, or `None` at EOF.
    pub async fn try_line(&mut self) -> Option<String> {
        self.read()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    /// The next line (`None` at EOF), or why none came within [`STEP`].
    async fn read(&mut self) -> Result<Option<String>, String> {
        let mut line = String::new();
        match async_std::future::timeout(STEP, self.reader.read_line(&mut line)).await {
            Err(_) => Err(format!("timed out after {STEP:?}: read a line")),
            Ok(Err(e)) => Err(format!("read: {e}")),
            Ok(Ok(0)) => Ok(None),
            Ok(Ok(_)) => {
                assert!(line.ends_with('\n'), "partial line: {line:?}");
                line.pop();
                Ok(Some(line))
            }
        }
    }

    /// The next line, or `None` at EOF or on a reset connection.
    pub async fn try_line_lossy(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line).await {
            Ok(n) if n > 0 && line.ends_with('\n') => {
                line.pop();
                Some(line)
            }
            _ => None,
        }
    }

    /// Reads lines until one equals `want`; returns the lines skipped (and
    /// says what they were when `want` never comes).
    pub async fn expect(&mut self, want: &str) -> Vec<String> {
        let mut skipped = Vec::new();
        loop {
            let line = match self.read().await {
                Ok(Some(line)) => line,
                Ok(None) => panic!(
                    "{}: connection closed waiting for {want:?} after {skipped:?}",
                    self.name
                ),
                Err(e) => panic!("{}: {e} waiting for {want:?} after {skipped:?}", self.name),
            };
            if line == want {
                return skipped;
            }
            skipped.push(line);
        }
    }

    /// Skips lines until one that starts with `prefix`; returns it.
    pub async fn expect_prefix(&mut self, prefix: &str) -> String {
        loop {
            let line = self.line().await;
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Asserts the very next line is `want`.
    pub async fn next_is(&mut self, want: &str) {
        let line = self.line().await;
        assert_eq!(line, want, "{}", self.name);
    }

    /// Reads until the server closes the connection; returns what came first.
    pub async fn until_closed(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(line) = self.try_line().await {
            lines.push(line);
        }
        lines
    }

    /// Reads everything that is available right now (waiting `quiet` for more).
    pub async fn drain(&mut self, quiet: Duration) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match async_std::future::timeout(quiet, self.reader.read_line(&mut line)).await {
                Ok(Ok(n)) if n > 0 => lines.push(line.trim_end_matches('\n').to_owned()),
                _ => return lines,
            }
        }
    }

    /// The client's own port, to find its connection in the kernel's tables.
    pub fn local_port(&self) -> u16 {
        self.writer.local_addr().expect("local address").port()
    }

    /// Half-closes nothing: just drops the socket.
    pub fn vanish(self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }

    /// The raw read half, for tests that read bytes.
    pub async fn read_some(&mut self, buf: &mut [u8]) -> usize {
        within("read bytes", self.reader.read(buf))
            .await
            .expect("read")
    }
}

/// A program on `chat-core`.
pub struct Structured {
    pub sender: SessionSender,
    pub events: EventStream,
}

impl Structured {
    pub async fn join(addr: std::net::SocketAddr, name: &str) -> Structured {
        let session = within(
            "structured connect",
            TcpSession::connect(SessionConfig::new(addr.to_string(), name)),
        )
        .await
        .expect("structured client joins");
        let (sender, events) = session.split();
        let mut client = Structured { sender, events };
        let own = name.to_owned();
        client
            .next_matching(|e| matches!(e, Event::Joined(p) if p.name == own))
            .await;
        client
    }

    pub async fn next(&mut self) -> Event {
        within("next event", self.events.next())
            .await
            .expect("event stream ended")
    }

    pub async fn next_matching(&mut self, want: impl Fn(&Event) -> bool) -> Event {
        loop {
            let event = self.next().await;
            if want(&event) {
                return event;
            }
        }
    }
}
