//! `echo_bot`: answers every private message with the same text, privately —
//! the smallest useful bot. Run it with
//! `cargo run --example echo_bot -- --server 127.0.0.1:8001 [--room rust]`,
//! then in any client type `/msg echo hello`. Private messages are
//! server-wide, so `--room` only makes it show up in those rooms' lists.
//! It comes back by itself when the server restarts, and exits non-zero
//! when its session ends for good.

use chat_core::{ChatSession, Event, SessionConfig};
use clap::Parser;
use futures::StreamExt;

/// Answers every private message with the same text, privately.
#[derive(Debug, Parser)]
pub struct Args {
    /// HOST:PORT of the chat server (several, comma-separated, for a
    /// cluster's nodes).
    #[arg(short, long, value_name = "HOST:PORT", default_value = chat_core::DEFAULT_ADDR)]
    pub server: String,
    /// The name to join as.
    #[arg(short, long, default_value = "echo")]
    pub name: String,
    /// TLS and the room's password.
    #[command(flatten)]
    pub access: chat_examples::Access,
    /// Rooms to join besides the default one.
    #[command(flatten)]
    pub rooms: chat_examples::RoomFlags,
}

#[async_std::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = chat_examples::bot_config(args.server, args.name, &args.access)?;
    run(config, args.rooms.names).await
}

/// Joins (and joins `rooms`) and echoes until the session ends.
///
/// # Errors
/// When joining is refused, or the session ends.
pub async fn run(config: SessionConfig, rooms: Vec<String>) -> anyhow::Result<()> {
    // Returns once the server has granted the name (or says why not).
    let session = chat_examples::join(config).await?;
    // The name the server granted, to recognise our own messages.
    let me = session.welcome().name.clone();
    println!("{me} is in {}", session.welcome().room);
    let (sender, mut events) = session.split();
    chat_examples::join_rooms(&sender, &rooms).await?;
    let mut watch = chat_examples::Watch::default();
    while let Some(event) = events.next().await {
        // Connection changes on stdout, refusals on stderr.
        watch.note(&event);
        match event {
            // The server sends every private message back to its sender
            // too, so our own answers arrive here: answering those would
            // loop.
            Event::Private(pm) if pm.from != me => {
                // A failed send means the connection is going; the stream
                // says why, and core reconnects.
                if let Err(e) = sender.tell(pm.from, pm.text).await {
                    eprintln!("cannot answer: {e}");
                }
            }
            _ => {}
        }
    }
    // The stream ends only when the session is over for good.
    watch.ended()
}
