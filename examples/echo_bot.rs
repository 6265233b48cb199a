//! `echo_bot`: answers every private message with the same text, privately —
//! the smallest useful bot. Run it with
//! `cargo run --example echo_bot -- --server 127.0.0.1:8001 [--room rust]`,
//! then in any client type `/msg echo hello`. Private messages are
//! server-wide, so `--room` only makes it show up in those rooms' lists.

use anyhow::Context;
use chat_core::{ChatSession, Event, SessionConfig, TcpSession};
use clap::Parser;
use futures::StreamExt;

/// Answers every private message with the same text, privately.
#[derive(Debug, Parser)]
pub struct Args {
    /// HOST:PORT of the chat server.
    #[arg(long, default_value = chat_core::DEFAULT_ADDR)]
    pub server: String,
    /// The name to join as.
    #[arg(long, default_value = "echo")]
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
    let config = args
        .access
        .apply(SessionConfig::new(args.server, args.name))?;
    run(config, args.rooms.names).await
}

/// Joins (and joins `rooms`) and echoes until the server goes away.
pub async fn run(config: SessionConfig, rooms: Vec<String>) -> anyhow::Result<()> {
    // Returns once the server has granted the name (or says why not).
    let session = TcpSession::connect(config).await.context("cannot join")?;
    // The name the server granted, to recognise our own messages.
    let me = session.welcome().name.clone();
    println!("{me} is in {}", session.welcome().room);
    let (sender, mut events) = session.split();
    chat_examples::join_rooms(&sender, &rooms).await?;
    while let Some(event) = events.next().await {
        match event {
            // The server sends every private message back to its sender too,
            // so our own answers arrive here: answering those would loop.
            Event::Private(pm) if pm.from != me => {
                sender.tell(pm.from, pm.text).await.context("no answer")?;
            }
            // Tell the operator why the bot stopped, or what was refused.
            Event::Status(status) => println!("{}", chat_core::render::status_text(&status)),
            Event::Error(e) => eprintln!("! {}", chat_core::sanitize(&e.message)),
            _ => {}
        }
    }
    Ok(())
}
