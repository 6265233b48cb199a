//! Micro-benchmarks of the codec, each beside a baseline that only splits
//! the same bytes into lines, so a regression shows as a ratio.
//!
//! `cargo bench -p chat-core --bench codec`

use chat_core::codec::{encode_frame, FrameDecoder, LineDecoder};
use chat_core::protocol::{ChatMessage, ServerFrame};
use divan::{black_box, Bencher};

fn main() {
    divan::main();
}

const LINES: usize = 1000;

fn message(i: usize) -> ServerFrame {
    ServerFrame::Message(ChatMessage {
        room: None,
        seq: i as u64,
        time: 1_795_000_000_000,
        from: "alice".into(),
        text: format!("message number {i} with some ordinary chat text in it"),
        id: None,
    })
}

fn stream() -> Vec<u8> {
    (0..LINES).flat_map(|i| encode_frame(&message(i))).collect()
}

/// Baseline: find the newlines, nothing else.
#[divan::bench]
fn split_lines_baseline(bencher: Bencher) {
    let bytes = stream();
    bencher
        .counter(divan::counter::ItemsCount::new(LINES))
        .bench(|| {
            black_box(&bytes)
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count()
        });
}

/// Lines out of 4 KiB chunks, UTF-8 checked.
#[divan::bench]
fn decode_lines(bencher: Bencher) {
    let bytes = stream();
    bencher
        .counter(divan::counter::ItemsCount::new(LINES))
        .bench(|| {
            let mut decoder = LineDecoder::new(8192);
            let mut n = 0;
            for chunk in black_box(&bytes).chunks(4096) {
                decoder.feed(chunk);
                while let Some(line) = decoder.next_line() {
                    n += usize::from(line.is_ok());
                }
            }
            n
        });
}

/// Frames out of 4 KiB chunks: lines plus JSON.
#[divan::bench]
fn decode_frames(bencher: Bencher) {
    let bytes = stream();
    bencher
        .counter(divan::counter::ItemsCount::new(LINES))
        .bench(|| {
            let mut decoder = FrameDecoder::<ServerFrame>::new(8192);
            let mut n = 0;
            for chunk in black_box(&bytes).chunks(4096) {
                decoder.feed(chunk);
                while let Some(frame) = decoder.next_frame() {
                    n += usize::from(frame.is_ok());
                }
            }
            n
        });
}

/// One message serialised, as the broker does once per message.
#[divan::bench]
fn encode_one(bencher: Bencher) {
    let frame = message(7);
    bencher.bench(|| encode_frame(black_box(&frame)));
}
