//! Rooms end to end: a tiny rooms run against the real server in-process
//! must lose, duplicate, reorder and leak nothing, and a client must count a
//! message from a room it did not join as damage rather than a delivery.

use std::future::Future;
use std::time::Duration;

use async_std::io::{BufReadExt, WriteExt};
use async_std::net::TcpListener;
use chat_bench::client::{self, Conn, Counters};
use chat_bench::msgtext::{self, Stamp};
use chat_bench::scenario::{run_relay, RelayParams};
use chat_bench::tracker::{Senders, Tracker};
use chat_core::codec::encode_frame;
use chat_core::protocol::{ChatMessage, Limits, RoomInfo, ServerFrame, Welcome, PROTOCOL_VERSION};
use chat_server::{Config, ServerHandle};
use futures::StreamExt;

async fn within<T>(secs: u64, fut: impl Future<Output = T>) -> T {
    async_std::future::timeout(Duration::from_secs(secs), fut)
        .await
        .expect("finished in time")
}

async fn server() -> ServerHandle {
    within(
        10,
        ServerHandle::start(Config {
            rate_limit: None,
            status_interval: None,
            ..Default::default()
        }),
    )
    .await
    .expect("server starts")
}

#[async_std::test]
async fn rooms_run_against_the_real_server_loses_nothing() {
    // One room, then three at once, each on its own server (as `chat-bench
    // rooms` does), as fast as possible and then paced.
    for (rooms, rate) in [(1, None), (3, None), (3, Some(200.0))] {
        let server = server().await;
        let mut p = RelayParams::new(server.addr(), 4, 2, 30);
        p.rooms = rooms;
        p.rate = rate;
        p.timeout = Duration::from_secs(15);
        let r = within(20, run_relay(&p)).await.expect("run");
        assert_eq!(
            (r.rooms, r.clients, r.senders),
            (rooms, 4 * rooms, 2 * rooms)
        );
        // Every client gets every message of its own room (its own included)
        // and nothing from the others: a leak would count as corrupted.
        assert_eq!(r.expected, (rooms * 4 * 2 * 30) as u64);
        assert_eq!(r.delivered, r.expected, "{r:?}");
        assert_eq!(
            (r.missing, r.duplicated, r.corrupted, r.out_of_order),
            (0, 0, 0, 0),
            "{r:?}"
        );
        assert!(r.is_clean(), "{r:?}");
        assert!(r.client_cpu_secs.is_some(), "this process's CPU is read");
        within(10, server.shutdown()).await.expect("shutdown");
    }
}

fn line(frame: &ServerFrame) -> Vec<u8> {
    encode_frame(frame)
}

fn message(room: &str, num: u64) -> ServerFrame {
    ServerFrame::Message(ChatMessage {
        room: Some(room.to_owned()),
        seq: num,
        time: 0,
        from: "b0".to_owned(),
        text: msgtext::encode(
            Stamp {
                sender: 0,
                num,
                sent_nanos: 0,
            },
            32,
        ),
        id: None,
    })
}

#[async_std::test]
async fn a_message_from_another_room_is_not_a_delivery() {
    // A server that gets rooms wrong: after the join to r1 it sends one
    // message in r2, then one in r1.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("bound");
    let fake = async_std::task::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accepts");
        let mut writer = stream.clone();
        let mut lines = async_std::io::BufReader::new(stream).lines();
        writer.write_all(b"* welcome\n").await.expect("banner");
        let hello = lines.next().await.expect("hello").expect("UTF-8");
        // chat-bench says hello with the version chat-core speaks.
        let version = format!("\"version\":{PROTOCOL_VERSION}");
        assert!(hello.contains(&version), "{hello}");
        let welcome = ServerFrame::Welcome(Welcome {
            rooms: vec!["lobby".to_owned()],
            topic: None,
            version: 2,
            name: "b1".to_owned(),
            room: "lobby".to_owned(),
            users: Vec::new(),
            limits: Limits {
                max_rooms: 20,
                max_line: 8192,
                max_name: 32,
                rate_per_sec: 0,
                burst: 0,
            },
        });
        writer.write_all(&line(&welcome)).await.expect("welcome");
        let join = lines.next().await.expect("join").expect("UTF-8");
        assert!(join.contains("\"room\":\"r1\""), "{join}");
        let joined = ServerFrame::RoomJoined(RoomInfo {
            room: "r1".to_owned(),
            topic: None,
            users: vec!["b1".to_owned()],
        });
        writer.write_all(&line(&joined)).await.expect("joined");
        writer
            .write_all(&line(&message("r2", 0)))
            .await
            .expect("leak");
        writer
            .write_all(&line(&message("R1", 1)))
            .await
            .expect("message");
        // Keep the connection open until the client has read both.
        let _ = lines.next().await;
    });

    let conn = within(
        10,
        Conn::connect_in(addr, "b1", Some("r1"), Duration::from_secs(5)),
    )
    .await
    .expect("joins r1");
    let tracker = Tracker::new(Senders::new(vec!["b0".to_owned()]), 10);
    let (_stop_tx, stop_rx) = async_std::channel::bounded::<()>(1);
    let (received, writer) = within(
        10,
        client::receive(
            conn,
            tracker,
            Some(1),
            std::sync::Arc::new(Counters::default()),
            stop_rx,
        ),
    )
    .await;
    assert_eq!(received.tracker.corrupted, 1, "the r2 message");
    assert_eq!(received.tracker.delivered, 1, "the r1 message (any case)");
    assert!(received.tracker.has(0, 1) && !received.tracker.has(0, 0));
    writer.close().await;
    within(10, fake).await;
}
