//! `chat-core`: everything that talks to a chat server — the wire protocol,
//! its codec, user-input parsing, rendering, and the [`ChatSession`] client.
//!
//! A complete bot that answers every private message with the same text:
//!
//! ```no_run
//! use chat_core::{ChatSession, Event, SessionConfig, TcpSession};
//! use futures::StreamExt;
//!
//! # async fn bot() -> Result<(), chat_core::ChatError> {
//! let config = SessionConfig::new("127.0.0.1:8001", "echo");
//! let session = TcpSession::connect(config).await?;
//! let me = session.welcome().name.clone();
//! let (sender, mut events) = session.split();
//! while let Some(event) = events.next().await {
//!     match event {
//!         // The server echoes our own answers back to us: skip those.
//!         Event::Private(pm) if pm.from != me => sender.tell(pm.from, pm.text).await.map(drop)?,
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`protocol`]: the frames of the structured protocol (JSON Lines).
//! - [`codec`]: bytes in, lines and frames out; no I/O.
//! - [`rate`]: a token bucket, to keep to a server's rate limit.
//! - [`split`]: a long text cut into messages that fit the server's line limit.
//! - [`names`]: the rules for names and message text.
//! - [`input`]: what a person typed (`/nick`, `/me`, `/msg` …) as an [`Input`].
//! - [`render`](mod@render): an [`Event`] as display text, sanitised for terminals.
//! - [`session`]: the [`ChatSession`] trait, [`Event`]s, [`SessionSender`] and
//!   [`EventStream`] — runtime-free, only `futures` types.
//! - [`tcp`]: [`TcpSession`], the implementation on async-std, with reconnection.
//! - [`ws`]: the session over WebSocket (`ws://`, `wss://` addresses, a
//!   server's web gateway), and [`WsSession`].
//! - [`tls`]: [`TlsOptions`] and the rustls client configuration.
//! - [`credentials`]: reading the room password from a file or `CHAT_PASSWORD`.
//! - [`error`]: [`ChatError`], the typed errors.

pub mod codec;
pub mod credentials;
pub mod error;
pub mod input;
pub mod names;
pub mod protocol;
pub mod rate;
pub mod render;
pub mod session;
pub mod split;
pub mod tcp;
pub mod tls;
pub mod ws;

pub use error::ChatError;
pub use input::{parse_input, Input, InputError};
pub use protocol::{DEFAULT_ADDR, DEFAULT_PORT};
pub use render::{render, sanitize, Line, LineKind};
pub use session::{Backoff, ChatSession, Event, EventStream, SessionConfig, SessionSender, Status};
pub use tcp::TcpSession;
pub use tls::TlsOptions;
pub use ws::WsSession;
