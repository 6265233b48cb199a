//! Helpers shared by the bots' tests: the real server on port 0, a client
//! that watches its rooms the way a person would, and waits that fail fast
//! instead of hanging.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_std::net::TcpListener;
use chat_core::names::room_key;
use chat_core::protocol::PrivateMessage;
use chat_core::{
    Backoff, ChatSession, Event, EventStream, SessionConfig, SessionSender, TcpSession,
};
use chat_server::{Config, ServerHandle};
use futures::channel::oneshot;
use futures::{FutureExt, StreamExt};

/// The longest any single step may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test with `what` if it takes longer than [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match async_std::future::timeout(WAIT, fut).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {WAIT:?} {what}"),
    }
}

/// The server's settings for tests: as shipped, minus the rate limit.
pub fn server_config() -> Config {
    Config {
        rate_limit: None,
        ..Default::default()
    }
}

/// The real server on 127.0.0.1:0.
pub async fn server() -> ServerHandle {
    server_with(server_config()).await
}

/// The real server on 127.0.0.1:0, set up as `config` says.
pub async fn server_with(config: Config) -> ServerHandle {
    within("starting the server", ServerHandle::start(config))
        .await
        .expect("the server starts")
}

/// Stops `server`, failing the test unless it stops cleanly.
pub async fn stop_server(server: ServerHandle) {
    within("stopping the server", server.shutdown())
        .await
        .expect("clean shutdown");
}

/// The real server, a bot on it that `run` starts from its configuration
/// as `name`, and alice in the lobby once the bot is there. alice joins
/// first, so the bot sees her there already rather than arriving: the
/// bot's first words are about whatever the test does next.
pub async fn alice_and_bot<Bot>(
    name: &'static str,
    run: impl FnOnce(SessionConfig) -> Bot,
) -> (ServerHandle, String, Client)
where
    Bot: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let server = server().await;
    let addr = server.addr().to_string();
    let mut alice = client(&addr, "alice").await;
    spawn_bot(name, run(SessionConfig::new(&addr, name)));
    alice.wait_for(name).await;
    (server, addr, alice)
}

/// Runs a bot in the background, as `cargo run --example` would run it in
/// its own process; if it stops with an error, the error is printed so a
/// failing test shows why.
pub fn spawn_bot(
    name: &'static str,
    bot: impl Future<Output = anyhow::Result<()>> + Send + 'static,
) {
    async_std::task::spawn(async move {
        if let Err(e) = bot.await {
            eprintln!("{name} stopped: {e:#}");
        }
    });
}

/// Core's real backoff, only shorter, so the test does not wait seconds.
pub const QUICK: Backoff = Backoff {
    initial: Duration::from_millis(50),
    max: Duration::from_millis(500),
    jitter: 0.1,
};

/// A server run with `chat_server::run` on a listener we bound ourselves, so
/// it can take over the port of one that stopped.
pub struct Restarted {
    stop: Option<oneshot::Sender<()>>,
    task: async_std::task::JoinHandle<Result<(), chat_server::ServerError>>,
}

impl Restarted {
    /// A server on `addr`, once the one before has let go of it.
    pub async fn on(addr: SocketAddr, config: Config) -> Self {
        // The old server's sockets may take a moment to let go of the port.
        let deadline = Instant::now() + WAIT;
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("rebinding {addr}: {e}; retrying");
                    async_std::task::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot bind {addr} again: {e}"),
            }
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = async_std::task::spawn(chat_server::run(listener, config, stopped.map(drop)));
        Self {
            stop: Some(stop),
            task,
        }
    }

    /// Stops the server.
    pub async fn shutdown(mut self) {
        drop(self.stop.take());
        within("stopping the server", self.task)
            .await
            .expect("clean shutdown");
    }
}

/// Stops `server` and starts another on its port: a server restart as the
/// bots see it.
pub async fn restart(server: ServerHandle) -> Restarted {
    let addr = server.addr();
    within("stopping the first server", server.shutdown())
        .await
        .expect("clean shutdown");
    Restarted::on(addr, server_config()).await
}

/// What a bot returned when it stopped by itself, failing the test if it
/// did not stop within [`WAIT`].
pub async fn stopped(bot: async_std::task::JoinHandle<anyhow::Result<()>>) -> anyhow::Result<()> {
    within("the bot to stop", bot).await
}

/// What a bot's restart drill checks while the bot is up, as the client
/// `alice` who joined after it (an async check on a borrowed client).
pub type Probe = for<'a> fn(&'a mut Client) -> futures::future::BoxFuture<'a, ()>;

/// The drill every bot passes. Started with `config`, the configuration
/// its flags make, it reconnects: it passes `probe`, the server restarts,
/// it passes `probe` again. Started as `again` with a configuration that
/// does not reconnect, it ends with an error when its session ends, so a
/// supervisor sees a failure (exit status not 0).
pub async fn restart_drill<Bot>(
    first: ServerHandle,
    (name, again): (&'static str, &str),
    config: SessionConfig,
    run: impl Fn(SessionConfig) -> Bot,
    probe: Probe,
) where
    Bot: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let addr = first.addr().to_string();
    assert!(
        config.reconnect.is_some(),
        "a bot from its flags reconnects"
    );
    spawn_bot(name, run(config.with_backoff(QUICK)));
    let mut alice = client(&addr, "alice").await;
    alice.wait_for(name).await;
    probe(&mut alice).await;

    drop(alice);
    let second = restart(first).await;
    let mut alice = client(&addr, "alice").await;
    alice.wait_for(name).await;
    probe(&mut alice).await;

    let once = async_std::task::spawn(run(SessionConfig::new(&addr, again)));
    alice.wait_for(again).await;
    second.shutdown().await;
    let err = stopped(once).await.expect_err("the session ended");
    assert!(
        format!("{err:#}").contains("the session ended: "),
        "{err:#}"
    );
}

/// Fails unless `command`'s help fits in 60 columns (clap's `wrap_help`).
pub fn assert_help_wraps(command: &clap::Command) {
    let help = command
        .clone()
        .term_width(60)
        .render_long_help()
        .to_string();
    let long: Vec<&str> = help.lines().filter(|l| l.chars().count() > 60).collect();
    assert!(long.is_empty(), "lines wider than 60 columns: {long:#?}");
}

/// Someone in the room, watching what the bots do.
pub struct Client {
    /// The server it joined.
    pub addr: String,
    /// Everyone online when this client joined.
    pub users: Vec<String>,
    pub sender: SessionSender,
    pub events: EventStream,
}

/// Joins `addr` as `name`.
pub async fn client(addr: &str, name: &str) -> Client {
    client_with(SessionConfig::new(addr, name)).await
}

/// Joins as `config` says (over TLS, with a password, ...).
pub async fn client_with(config: SessionConfig) -> Client {
    let (addr, name) = (config.addr.clone(), config.name.clone());
    let session = within("joining", TcpSession::connect(config))
        .await
        .unwrap_or_else(|e| panic!("{name} cannot join {addr}: {e}"));
    let users = session.welcome().users.clone();
    let (sender, events) = session.split();
    Client {
        addr,
        users,
        sender,
        events,
    }
}

impl Client {
    /// Skips events until one matches `wanted`, and returns it.
    pub async fn expect(&mut self, what: &str, mut wanted: impl FnMut(&Event) -> bool) -> Event {
        let events = &mut self.events;
        within(&format!("waiting for {what}"), async {
            loop {
                match events.next().await {
                    Some(event) if wanted(&event) => return event,
                    Some(_) => {}
                    None => panic!("the session ended while waiting for {what}"),
                }
            }
        })
        .await
    }

    /// Returns once `name` is in the room: already there when this client
    /// joined, or joining later.
    pub async fn wait_for(&mut self, name: &str) {
        if self.users.iter().any(|u| u == name) {
            return;
        }
        self.expect(
            &format!("{name} to join"),
            |e| matches!(e, Event::Joined(p) if p.name == name),
        )
        .await;
    }

    /// The next message `from` says in the room: its text.
    pub async fn next_message_from(&mut self, from: &str) -> String {
        match self
            .expect(
                &format!("a message from {from}"),
                |e| matches!(e, Event::Message(m) if m.from == from),
            )
            .await
        {
            Event::Message(m) => m.text,
            other => unreachable!("expect returned {other:?}"),
        }
    }

    /// Tells `bot` `text` privately and returns its private answer. This
    /// client's own copy of what it told comes first, and is skipped.
    pub async fn private_answer(&mut self, bot: &str, text: &str) -> PrivateMessage {
        within("sending", self.sender.tell(bot, text))
            .await
            .expect("connected");
        match self
            .expect(
                &format!("{bot}'s private answer"),
                |e| matches!(e, Event::Private(p) if p.from == bot),
            )
            .await
        {
            Event::Private(p) => p,
            other => unreachable!("expect returned {other:?}"),
        }
    }

    /// Says `text` in the room.
    pub async fn say(&self, text: &str) {
        within("saying something", self.sender.say(text))
            .await
            .expect("connected, so the message is sent");
    }

    /// Says `text` in `room`.
    pub async fn say_in(&self, room: &str, text: &str) {
        within("saying something", self.sender.say_in(room, text))
            .await
            .expect("connected, so the message is sent");
    }

    /// The next message `from` says in any room: the room and the text.
    pub async fn next_said_by(&mut self, from: &str) -> (Option<String>, String) {
        match self
            .expect(
                &format!("a message from {from}"),
                |e| matches!(e, Event::Message(m) if m.from == from),
            )
            .await
        {
            Event::Message(m) => (m.room, m.text),
            other => unreachable!("expect returned {other:?}"),
        }
    }

    /// Joins `room` and returns once `name` is in it too: there already, or
    /// joining later (a bot with `--room` joins just after connecting).
    pub async fn join_and_wait_for(&mut self, room: &str, name: &str) {
        within("joining a room", self.sender.join(room))
            .await
            .expect("connected, so the join is sent");
        let key = room_key(room);
        let answer = self
            .expect(
                &format!("the answer to joining #{room}"),
                |e| matches!(e, Event::RoomJoined(r) if room_key(&r.room) == key),
            )
            .await;
        let Event::RoomJoined(info) = answer else {
            unreachable!("expect returned {answer:?}")
        };
        if info.users.iter().any(|u| u == name) {
            return;
        }
        self.expect(&format!("{name} to join #{room}"), |e| {
            matches!(e, Event::Joined(p) if p.name == name
                && p.room.as_deref().is_some_and(|r| room_key(r) == key))
        })
        .await;
    }
}
