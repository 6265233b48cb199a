//! Several servers sharing rooms and names through a real `redis-server`
//! (started per test on a free port, persistence off): one order for a
//! room on every node, names unique across nodes, private messages and
//! kicks between nodes, a node killed with SIGKILL, Redis stopped and
//! started again, and a client moving to the next node when its own dies.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chat_core::protocol::ErrorCode;
use chat_core::{ChatSession, Event, SessionConfig, Status, TcpSession};
use chat_server::config::ClusterConfig;
use chat_server::{Config, ServerHandle};
use common::{within, Plain, Structured};
use futures::StreamExt;

const BIN: &str = env!("CARGO_BIN_EXE_chat-server");

/// A `redis-server` of this test's own, stopped when dropped.
struct Redis {
    child: Option<Child>,
    port: u16,
    /// Set once it has run: restarts use the same port.
    port_fixed: Option<u16>,
    dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut redis = Redis {
            child: None,
            port: free_port(),
            port_fixed: None,
            dir,
        };
        redis.run();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again), with nothing kept on disk: on its port, or on
    /// another when that one was taken meanwhile by a test running beside
    /// this one (only before its first start: a restart keeps the port).
    fn run(&mut self) {
        let first = self.child.is_none() && self.port_fixed.is_none();
        for _ in 0..5 {
            let mut child = Command::new("redis-server")
                .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(self.dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server runs (scripts/deps.sh test installs it)");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    self.child = Some(child);
                    self.port_fixed = Some(self.port);
                    return;
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(
                first,
                "redis-server could not start again on port {}",
                self.port
            );
            self.port = free_port();
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// Stops it at once: what it held is gone.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn node_config(redis: &Redis, node: &str) -> Config {
    Config {
        rate_limit: None,
        status_interval: None,
        replay: 50,
        cluster: Some(ClusterConfig {
            url: redis.url(),
            node: node.to_owned(),
        }),
        ..Config::default()
    }
}

async fn node(redis: &Redis, name: &str) -> ServerHandle {
    within(
        "a node joins its cluster",
        ServerHandle::start(node_config(redis, name)),
    )
    .await
    .expect("node starts")
}

/// A node in its own process, to be killed for real.
struct Process {
    child: Child,
    addr: SocketAddr,
}

impl Process {
    /// Starts a node on a port of its own choosing (so that no test beside
    /// this one can take it first) and reads the address from its log.
    fn start(redis: &Redis, node: &str) -> Process {
        let mut child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--status-interval", "0"])
            .args([
                "--cluster",
                &redis.url(),
                "--node",
                node,
                "--rate-limit",
                "off",
            ])
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
        let mut seen = Vec::new();
        let addr = loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line.contains("server started") => {
                    let addr = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("addr="))
                        .and_then(|a| a.parse().ok());
                    break addr.unwrap_or_else(|| panic!("no address in {line:?}"));
                }
                Ok(line) => seen.push(line),
                Err(e) => panic!("chat-server did not start ({e}); it said: {seen:?}"),
            }
        };
        Process { child, addr }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `<name> text` lines among `lines`.
fn said(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with('<') && !l.contains(" -> "))
        .cloned()
        .collect()
}

#[async_std::test]
async fn two_nodes_share_a_room_its_order_its_names_and_private_messages() {
    let redis = Redis::start();
    let a = node(&redis, "a").await;
    let b = node(&redis, "b").await;
    let mut alice = Plain::join(a.addr(), "alice").await;
    let mut bob = Plain::join(b.addr(), "bob").await;
    alice.expect("* bob joined").await;
    bob.send("/who").await;
    bob.expect("* online (2): alice, bob").await;

    // One namespace: neither the same name nor a look-alike on the other node.
    let mut taken = Plain::connect(b.addr()).await;
    taken.send("ALICE").await;
    taken.expect("! the name \"ALICE\" is taken").await;
    taken.send("a1ice").await;
    taken
        .expect("! the name \"a1ice\" looks like \"alice\", who is online")
        .await;

    // Both talk at once: both see one and the same order.
    for i in 0..40 {
        alice.send(&format!("a{i}")).await;
        bob.send(&format!("b{i}")).await;
    }
    let mut seen_by_alice = Vec::new();
    let mut seen_by_bob = Vec::new();
    while seen_by_alice.len() < 80 {
        let line = alice.line().await;
        seen_by_alice.extend(said(&[line]));
    }
    while seen_by_bob.len() < 80 {
        let line = bob.line().await;
        seen_by_bob.extend(said(&[line]));
    }
    assert_eq!(seen_by_alice, seen_by_bob);
    let from_alice: Vec<&String> = seen_by_alice
        .iter()
        .filter(|l| l.starts_with("<alice>"))
        .collect();
    let expected: Vec<String> = (0..40).map(|i| format!("<alice> a{i}")).collect();
    assert_eq!(from_alice, expected.iter().collect::<Vec<_>>());

    // Private messages cross, both ways, with the sender's copy.
    alice.send("/msg bob psst").await;
    bob.expect("<alice -> bob> psst").await;
    alice.expect("<alice -> bob> psst").await;
    bob.send("/msg ALICE back").await;
    alice.expect("<bob -> alice> back").await;
    bob.send("/msg nobody hello?").await;
    bob.expect("! nobody called \"nobody\" is online").await;

    // A newcomer on either node gets the same history.
    let mut carol = Plain::connect(a.addr()).await;
    carol.send("carol").await;
    let intro = carol.expect("* carol joined").await;
    let replayed: Vec<String> = intro
        .iter()
        .filter_map(|l| l.split_once("] ").map(|(_, rest)| rest.to_owned()))
        .filter(|l| l.starts_with('<'))
        .collect();
    assert_eq!(replayed, seen_by_alice[30..].to_vec());

    // Other rooms stay apart, on every node.
    alice.send("/join rust").await;
    alice.expect("* alice joined").await;
    bob.send("/join rust").await;
    alice.expect("* bob joined").await;
    bob.send("only for rust").await;
    alice.expect("<bob> only for rust").await;
    carol.send("after").await;
    let lines = alice.expect("[#lobby] <carol> after").await;
    assert!(!lines.iter().any(|l| l.contains("only for rust")));
    // A topic set on one node shows on the other, and to newcomers there.
    bob.send("/topic all things Rust").await;
    alice.expect("* bob set the topic: all things Rust").await;
    alice.send("/topic").await;
    alice.expect("* topic: all things Rust").await;
    let mut dora = Plain::join(a.addr(), "dora").await;
    dora.send("/join rust").await;
    dora.expect("* topic: all things Rust").await;
    // Quitting on one node shows on the other.
    drop(bob);
    let mut left = Vec::new();
    while left.len() < 2 {
        let line = alice.line().await;
        if line.contains("bob left") {
            left.push(line);
        }
    }
    left.sort();
    assert!(left[0].starts_with("* bob left ("), "{left:?}");
    assert!(left[1].starts_with("[#lobby] * bob left ("), "{left:?}");
    a.shutdown().await.expect("node a stops");
    b.shutdown().await.expect("node b stops");
}

#[async_std::test]
async fn structured_clients_see_the_same_numbers_and_get_their_echo_through_the_stream() {
    let redis = Redis::start();
    let a = node(&redis, "a").await;
    let b = node(&redis, "b").await;
    let mut ann = Structured::join(a.addr(), "ann").await;
    let mut ben = Structured::join(b.addr(), "ben").await;
    ann.next_matching(|e| matches!(e, Event::Joined(p) if p.name == "ben"))
        .await;
    ann.sender.say("first").await.expect("say");
    ben.sender.say("second").await.expect("say");
    let mut by_ann = Vec::new();
    let mut by_ben = Vec::new();
    for (client, seen) in [(&mut ann, &mut by_ann), (&mut ben, &mut by_ben)] {
        while seen.len() < 2 {
            if let Event::Message(m) = client.next().await {
                seen.push((m.seq, m.from.clone(), m.text.clone()));
            }
        }
    }
    assert_eq!(by_ann, by_ben);
    assert!(by_ann[0].0 < by_ann[1].0, "{by_ann:?}");
    a.shutdown().await.expect("node a stops");
    b.shutdown().await.expect("node b stops");
}

#[async_std::test]
async fn an_operator_on_one_node_kicks_someone_on_another() {
    let redis = Redis::start();
    let secret = chat_server::Secret::new("opsecret".to_owned());
    let a = within(
        "node a",
        ServerHandle::start(Config {
            operator_password: Some(secret),
            ..node_config(&redis, "a")
        }),
    )
    .await
    .expect("node a starts");
    let b = node(&redis, "b").await;
    let mut op = Plain::join(a.addr(), "op").await;
    let mut troll = Plain::join(b.addr(), "troll").await;
    op.expect("* troll joined").await;
    op.send("/oper opsecret").await;
    op.expect("* op is now an operator").await;
    op.send("/kick troll spam").await;
    troll.expect("* you were kicked by op: spam").await;
    op.expect("* troll left (kicked by op: spam)").await;
    a.shutdown().await.expect("node a stops");
    b.shutdown().await.expect("node b stops");
}

#[async_std::test]
async fn a_killed_node_s_users_leave_everywhere_and_free_their_names() {
    let redis = Redis::start();
    let mut a = Process::start(&redis, "a");
    let b = node(&redis, "b").await;
    let mut carol = Plain::join(a.addr, "carol").await;
    let mut dave = Plain::join(b.addr(), "dave").await;
    carol.expect("* dave joined").await;
    for i in 0..20 {
        carol.send(&format!("c{i}")).await;
    }
    // What carol's node accepted, dave has — and carol has it back too.
    carol.expect("<carol> c19").await;
    dave.expect("<carol> c19").await;
    let killed = Instant::now();
    a.kill();
    // Allow the heartbeat's 6 s, a beat, and the announcement.
    async_std::future::timeout(
        Duration::from_secs(15),
        dave.expect("* carol left (server a stopped)"),
    )
    .await
    .expect("carol is shown as gone within 15 s");
    eprintln!("carol left after {:?}", killed.elapsed());
    // Her name is free again, and nothing she said is missing.
    let mut again = Plain::connect(b.addr()).await;
    again.send("carol").await;
    let intro = again.expect("* carol joined").await;
    let replayed: Vec<&String> = intro.iter().filter(|l| l.contains("<carol> c")).collect();
    assert_eq!(replayed.len(), 20, "{intro:?}");
    b.shutdown().await.expect("node b stops");
}

#[async_std::test]
async fn with_redis_stopped_messages_are_refused_and_the_chat_resumes_by_itself() {
    let mut redis = Redis::start();
    let a = node(&redis, "a").await;
    let b = node(&redis, "b").await;
    let mut alice = Plain::join(a.addr(), "alice").await;
    let mut bob = Plain::join(b.addr(), "bob").await;
    let mut ann = Structured::join(a.addr(), "ann").await;
    alice.expect("* bob joined").await;
    alice.send("before").await;
    bob.expect("<alice> before").await;

    redis.stop();
    alice.send("during").await;
    alice
        .expect("! the chat is unavailable right now: nothing was sent")
        .await;
    // Structured clients get the typed error.
    ann.sender.say("during too").await.expect("say");
    let refused = ann
        .next_matching(|e| match e {
            Event::Error(_) => true,
            Event::Message(m) => m.text == "during too",
            _ => false,
        })
        .await;
    assert!(
        matches!(&refused, Event::Error(e) if e.code == ErrorCode::Unavailable),
        "{refused:?}"
    );

    redis.run();
    // Each node finds Redis again by itself; try until a probe gets through.
    let mut probe = 0;
    let mut seen_by_alice = Vec::new();
    while !seen_by_alice
        .iter()
        .any(|l: &String| l.starts_with("<alice> probe"))
    {
        probe += 1;
        assert!(probe <= 40, "the chat did not come back: {seen_by_alice:?}");
        alice.send(&format!("probe {probe}")).await;
        seen_by_alice.extend(alice.drain(Duration::from_millis(500)).await);
    }
    alice.send("after").await;
    seen_by_alice.extend(alice.expect("<alice> after").await);
    seen_by_alice.push("<alice> after".to_owned());
    // Bob's node resumed too: he gets what got through, once each, in the
    // same order; nothing from before the outage comes again.
    let mut seen_by_bob = bob.expect("<alice> after").await;
    seen_by_bob.push("<alice> after".to_owned());
    let (by_alice, by_bob) = (said(&seen_by_alice), said(&seen_by_bob));
    assert_eq!(by_alice, by_bob);
    let mut unique = by_bob.clone();
    unique.dedup();
    assert_eq!(unique, by_bob, "nothing twice");
    assert!(!by_bob
        .iter()
        .any(|l| l.contains("before") || l.contains("during")));
    // Connections were kept throughout.
    bob.send("still here").await;
    alice.expect("<bob> still here").await;
    // Redis came back empty: within a heartbeat the nodes have written
    // their names and members again, so a node that starts now knows them.
    async_std::task::sleep(Duration::from_secs(3)).await;
    let c = node(&redis, "c").await;
    let mut carl = Plain::connect(c.addr()).await;
    carl.send("carl").await;
    carl.expect_prefix("* you are carl in lobby — online (4): alice, ann, bob, carl")
        .await;
    let mut taken = Plain::connect(c.addr()).await;
    taken.send("bob").await;
    taken.expect("! the name \"bob\" is taken").await;
    c.shutdown().await.expect("node c stops");
    a.shutdown().await.expect("node a stops");
    b.shutdown().await.expect("node b stops");
}

/// The address of the next `Connected` status.
async fn connected(events: &mut chat_core::EventStream) -> String {
    loop {
        match within("a status", events.next()).await {
            Some(Event::Status(Status::Connected { addr, .. })) => return addr,
            Some(_) => {}
            None => panic!("the session ended"),
        }
    }
}

#[async_std::test]
async fn a_client_moves_to_the_next_node_when_its_own_dies() {
    let redis = Redis::start();
    let mut a = Process::start(&redis, "a");
    let b = node(&redis, "b").await;
    let list = format!("{},{}", a.addr, b.addr());
    let mut config = SessionConfig::new(list, "eve");
    config.reconnect = Some(chat_core::Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(500),
        jitter: 0.0,
    });
    let session = within("connect", TcpSession::connect(config))
        .await
        .expect("connects to the first node");
    let (sender, mut events) = session.split();
    assert_eq!(connected(&mut events).await, a.addr.to_string());
    a.kill();
    // Its name is held by the dead node until a survivor reaps it (within
    // seconds); the session keeps trying, on the other node.
    let moved = async_std::future::timeout(Duration::from_secs(20), connected(&mut events))
        .await
        .expect("reconnected to the other node within 20 s");
    assert_eq!(moved, b.addr().to_string());
    // And it chats there, under its name.
    let mut watcher = Plain::join(b.addr(), "watcher").await;
    sender.say("moved").await.expect("say");
    watcher.expect("<eve> moved").await;
    b.shutdown().await.expect("node b stops");
}
