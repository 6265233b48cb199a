//! Micro-benchmarks of the fan-out path: one message serialised once and
//! pushed to every client's outbox, then each outbox drained in one batch —
//! beside a baseline that pushes the same shared bytes into plain queues.
//!
//! `cargo bench -p chat-server --bench fanout`

use std::collections::VecDeque;

use bytes::Bytes;
use chat_core::protocol::{ChatMessage, ServerFrame};
use chat_server::outbox::Outbox;
use chat_server::wire;
use divan::{black_box, Bencher};

fn main() {
    divan::main();
}

const CLIENTS: usize = 50;
const MESSAGES: usize = 100;

fn frame(i: usize) -> ServerFrame {
    ServerFrame::Message(ChatMessage {
        room: None,
        seq: i as u64,
        time: 1_795_000_000_000,
        from: "alice".into(),
        text: "an ordinary line of chat".into(),
        id: None,
    })
}

/// Baseline: the same shared bytes into plain queues, then concatenated.
#[divan::bench]
fn plain_queues_baseline(bencher: Bencher) {
    let lines: Vec<Bytes> = (0..MESSAGES).map(|i| wire::json_line(&frame(i))).collect();
    bencher
        .counter(divan::counter::ItemsCount::new(CLIENTS * MESSAGES))
        .bench(|| {
            let mut queues: Vec<VecDeque<Bytes>> = vec![VecDeque::new(); CLIENTS];
            for line in &lines {
                for queue in &mut queues {
                    queue.push_back(line.clone());
                }
            }
            let mut written = 0;
            let mut batch = Vec::new();
            for queue in &mut queues {
                batch.clear();
                for line in queue.drain(..) {
                    batch.extend_from_slice(&line);
                }
                written += black_box(&batch).len();
            }
            written
        });
}

/// The relay's path: serialise once per message, push to every outbox, and
/// drain each outbox in one batch per client.
#[divan::bench]
fn serialise_push_drain(bencher: Bencher) {
    let frames: Vec<ServerFrame> = (0..MESSAGES).map(frame).collect();
    bencher
        .counter(divan::counter::ItemsCount::new(CLIENTS * MESSAGES))
        .bench(|| {
            let outboxes: Vec<Outbox> = (0..CLIENTS).map(|_| Outbox::new(1 << 24)).collect();
            for frame in &frames {
                let line = wire::json_line(frame);
                for outbox in &outboxes {
                    let _ = outbox.push(line.clone());
                }
            }
            let mut written = 0;
            let mut batch = Vec::new();
            for outbox in &outboxes {
                async_std::task::block_on(outbox.next_batch(&mut batch));
                outbox.written();
                written += black_box(&batch).len();
            }
            written
        });
}
