//! `chat-core`'s `TcpSession` against the real server: connecting, typed
//! errors, and reconnecting under the same name after a server restart.

mod common;

use std::time::Duration;

use async_std::net::TcpListener;
use async_std::task;
use chat_core::{Backoff, ChatError, ChatSession, Event, Input, SessionConfig, Status, TcpSession};
use chat_server::Config;
use common::{within, Plain, Structured};
use futures::channel::oneshot;
use futures::FutureExt;

fn quiet() -> Config {
    Config {
        rate_limit: None,
        status_interval: None,
        ..Config::default()
    }
}

/// Runs a server on `listener`; the returned sender stops it.
fn serve(listener: TcpListener) -> (oneshot::Sender<()>, task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = task::spawn(async move {
        chat_server::run(listener, quiet(), stopped.map(drop))
            .await
            .expect("server runs");
    });
    (stop, handle)
}

#[async_std::test]
async fn a_refused_connection_is_a_typed_error_that_reads_well() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let err = within(
        "connect",
        TcpSession::connect(SessionConfig::new(&addr, "x")),
    )
    .await
    .expect_err("nobody listens");
    assert!(matches!(err, ChatError::Connect { .. }));
    assert_eq!(
        err.to_string(),
        format!("cannot connect to {addr}: connection refused")
    );
}

#[async_std::test]
async fn a_session_reconnects_with_backoff_and_claims_its_name_again() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, first) = serve(listener);

    let config = SessionConfig::new(addr.to_string(), "phoenix").with_backoff(Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
        jitter: 0.1,
    });
    let session = within("connect", TcpSession::connect(config))
        .await
        .expect("connect");
    assert_eq!(session.welcome().name, "phoenix");
    let (sender, events) = session.split();
    let mut client = Structured { sender, events };
    client
        .next_matching(|e| matches!(e, Event::Joined(p) if p.name == "phoenix"))
        .await;

    // The server goes away.
    drop(stop);
    within("first server stops", first).await;
    client
        .next_matching(|e| matches!(e, Event::Notice(n) if n.text == "server is shutting down"))
        .await;
    let lost = client
        .next_matching(|e| matches!(e, Event::Status(Status::Disconnected { .. })))
        .await;
    assert!(
        matches!(
            &lost,
            Event::Status(Status::Disconnected {
                retry_in: Some(_),
                ..
            })
        ),
        "{lost:?}"
    );
    // While it is away, sending is refused rather than silently lost.
    assert!(matches!(
        client.sender.try_send(Input::Say("into the void".into())),
        Err(ChatError::NotConnected)
    ));
    // Let at least one attempt fail against the closed port.
    client
        .next_matching(|e| matches!(e, Event::Status(Status::Connecting { .. })))
        .await;

    // It comes back on the same address.
    let listener = TcpListener::bind(addr).await.expect("rebind the same port");
    let (_stop, _second) = serve(listener);
    let connected = client
        .next_matching(|e| matches!(e, Event::Status(Status::Connected { .. })))
        .await;
    assert_eq!(
        connected,
        Event::Status(Status::Connected {
            addr: addr.to_string(),
            name: "phoenix".into()
        })
    );
    let welcome = client.next().await;
    assert!(
        matches!(&welcome, Event::Welcome(w) if w.name == "phoenix"),
        "{welcome:?}"
    );
    assert!(client.sender.is_connected());

    let mut witness = Plain::join(addr, "witness").await;
    client.sender.say("I am back").await.expect("say");
    witness.expect("<phoenix> I am back").await;
}

#[async_std::test]
async fn quitting_ends_the_event_stream_cleanly() {
    let server = chat_server::ServerHandle::start(quiet())
        .await
        .expect("server");
    let mut watcher = Plain::join(server.addr(), "watcher").await;
    let mut client = Structured::join(server.addr(), "leaver").await;
    client
        .sender
        .quit(Some("done here".into()))
        .await
        .expect("quit");
    let last = client
        .next_matching(|e| matches!(e, Event::Status(_)))
        .await;
    assert_eq!(
        last,
        Event::Status(Status::Disconnected {
            reason: "you left".into(),
            retry_in: None
        })
    );
    assert_eq!(
        within("stream end", futures::StreamExt::next(&mut client.events)).await,
        None
    );
    watcher.expect("* leaver left (quit: done here)").await;
}

#[async_std::test]
async fn help_is_answered_locally_in_the_event_stream() {
    let server = chat_server::ServerHandle::start(quiet())
        .await
        .expect("server");
    let mut client = Structured::join(server.addr(), "curious").await;
    client.sender.send(Input::Help).await.expect("help");
    let first = client.next().await;
    assert!(
        matches!(&first, Event::Notice(n) if n.text.starts_with("/nick NAME")),
        "{first:?}"
    );
}

#[async_std::test]
async fn after_a_reconnection_the_session_is_back_in_its_rooms_with_the_same_current_one() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, first) = serve(listener);
    let config = SessionConfig::new(addr.to_string(), "roamer").with_backoff(Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        jitter: 0.1,
    });
    let session = within("connect", TcpSession::connect(config))
        .await
        .expect("connect");
    let (sender, events) = session.split();
    let mut client = Structured { sender, events };
    for room in ["rust", "ops"] {
        within("join", client.sender.join(room))
            .await
            .expect("join");
        client
            .next_matching(|e| matches!(e, Event::Joined(p) if p.room.as_deref() == Some(room)))
            .await;
    }
    client.sender.switch_room("rust").expect("in #rust");

    drop(stop);
    within("first server stops", first).await;
    let listener = TcpListener::bind(addr).await.expect("rebind the same port");
    let (_stop, _second) = serve(listener);
    // Back in both rooms, #rust current again (it was joined last).
    // Back in both rooms (each room answers on its own, in any order).
    let mut back = std::collections::HashSet::new();
    while back.len() < 2 {
        if let Event::Joined(p) = client
            .next_matching(|e| matches!(e, Event::Joined(p) if p.name == "roamer" && p.room.as_deref() != Some("lobby")))
            .await
        {
            back.insert(p.room.unwrap_or_default());
        }
    }
    let rooms = client.sender.rooms();
    assert_eq!(rooms.joined.len(), 3, "{rooms:?}");
    assert_eq!(
        rooms.current.as_deref(),
        Some("rust"),
        "#rust is current again"
    );
    let mut witness = Plain::join(addr, "witness").await;
    witness.send("/join rust").await;
    witness.expect("* witness joined").await;
    client.sender.say("still here").await.expect("say");
    witness.expect("<roamer> still here").await;
    // The other room works too.
    client
        .sender
        .send_in("ops", Input::Who(None))
        .await
        .expect("who");
    let who = client.next_matching(|e| matches!(e, Event::Users(_))).await;
    assert!(
        matches!(&who, Event::Users(u) if u.room.as_deref() == Some("ops")),
        "{who:?}"
    );
}

#[async_std::test]
async fn a_kicked_session_does_not_come_back_by_itself() {
    let server = common::server_with(Config {
        operator_password: Some(chat_server::Secret::new("op")),
        ..quiet()
    })
    .await;
    let mut oscar = Plain::join(server.addr(), "oscar").await;
    oscar.send("/oper op").await;
    oscar.expect("* oscar is now an operator").await;
    let config = SessionConfig::new(server.addr().to_string(), "victor").with_backoff(Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(100),
        jitter: 0.1,
    });
    let session = within("connect", TcpSession::connect(config))
        .await
        .expect("connect");
    let (sender, events) = session.split();
    let mut victor = Structured { sender, events };
    oscar.expect("* victor joined").await;
    oscar.send("/kick victor stop spamming").await;
    let ended = victor
        .next_matching(|e| matches!(e, Event::Status(Status::Disconnected { .. })))
        .await;
    assert_eq!(
        ended,
        Event::Status(Status::Disconnected {
            reason: "you were kicked by oscar: stop spamming".into(),
            retry_in: None
        })
    );
    assert_eq!(
        within(
            "the stream ends",
            futures::StreamExt::next(&mut victor.events)
        )
        .await,
        None
    );
    // Nobody came back under that name.
    oscar
        .expect("* victor left (kicked by oscar: stop spamming)")
        .await;
    let stray = oscar.drain(Duration::from_millis(500)).await;
    assert!(stray.is_empty(), "{stray:?}");
}
