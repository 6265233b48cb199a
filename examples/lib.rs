//! Shared bits for the example bots: joining with an error message that says
//! who could not join where. Each bot stays readable on its own; this file only
//! holds what would otherwise be copied four times.

use anyhow::Context;
use chat_core::{ChatSession, SessionConfig, TcpSession};

/// Connects and joins the room as `config.name`, or says why not
/// ("echo cannot join 127.0.0.1:8001: cannot connect to …: connection refused").
///
/// # Errors
/// Whatever [`TcpSession::connect`] refused, with the bot's name and the
/// server's address as context.
pub async fn join(config: SessionConfig) -> anyhow::Result<TcpSession> {
    let context = format!("{} cannot join {}", config.name, config.addr);
    TcpSession::connect(config).await.context(context)
}
