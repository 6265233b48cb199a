//! Where a client's lines come from: a byte stream cut at newlines (TCP and
//! TLS), or a transport that frames its messages itself (WebSocket), where
//! each message is one line. The reader handles both alike, so every mode's
//! limits and errors are the same whatever carried the bytes.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;

use chat_core::codec::{DecodeError, LineDecoder};
use futures::io::{AsyncRead, AsyncReadExt};
use futures::{Stream, StreamExt};

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 4096;

/// The first byte of every TLS connection: never the start of a name.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Lines already framed by their transport: each item is one line, or why
/// the message could not be one (too long, not text).
pub type Messages =
    Pin<Box<dyn Stream<Item = io::Result<Result<String, DecodeError>>> + Send + Sync>>;

/// A client's incoming lines.
pub enum Source {
    /// A byte stream, cut into lines by `decoder`.
    Bytes {
        stream: Box<dyn AsyncRead + Send + Sync + Unpin>,
        decoder: LineDecoder,
        chunk: Vec<u8>,
    },
    /// Messages framed by the transport, each one line.
    Messages {
        messages: Messages,
        ready: VecDeque<Result<String, DecodeError>>,
    },
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes { decoder, .. } => {
                f.debug_struct("Bytes").field("decoder", decoder).finish()
            }
            Self::Messages { ready, .. } => {
                f.debug_struct("Messages").field("ready", ready).finish()
            }
        }
    }
}

/// What a wait for input brought.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrived {
    /// More input: take its lines with [`Source::next_line`].
    Input {
        /// The input opens with a TLS handshake record (a TLS client on a
        /// plain port), and nothing came before it.
        tls_hello: bool,
    },
    /// The peer closed its side.
    Closed,
}

impl Source {
    /// Lines cut from a byte stream, none longer than `max_line` bytes.
    pub fn bytes(stream: Box<dyn AsyncRead + Send + Sync + Unpin>, max_line: usize) -> Self {
        Self::Bytes {
            stream,
            decoder: LineDecoder::new(max_line),
            chunk: vec![0u8; READ_CHUNK],
        }
    }

    /// Lines that arrive framed, one per message.
    pub fn messages(messages: Messages) -> Self {
        Self::Messages {
            messages,
            ready: VecDeque::new(),
        }
    }

    /// Waits for more input.
    ///
    /// # Errors
    /// What the transport reported.
    pub async fn fill(&mut self) -> io::Result<Arrived> {
        match self {
            Self::Bytes {
                stream,
                decoder,
                chunk,
            } => {
                let n = stream.read(chunk).await?;
                if n == 0 {
                    return Ok(Arrived::Closed);
                }
                let tls_hello = decoder.buffered() == 0 && chunk[0] == TLS_HANDSHAKE_RECORD;
                decoder.feed(&chunk[..n]);
                Ok(Arrived::Input { tls_hello })
            }
            Self::Messages { messages, ready } => match messages.next().await {
                Some(item) => {
                    ready.push_back(item?);
                    Ok(Arrived::Input { tls_hello: false })
                }
                None => Ok(Arrived::Closed),
            },
        }
    }

    /// The next complete line received, if any.
    pub fn next_line(&mut self) -> Option<Result<String, DecodeError>> {
        match self {
            Self::Bytes { decoder, .. } => decoder.next_line(),
            Self::Messages { ready, .. } => ready.pop_front(),
        }
    }

    /// Bytes received that are not yet a whole line.
    pub fn buffered(&self) -> usize {
        match self {
            Self::Bytes { decoder, .. } => decoder.buffered(),
            Self::Messages { .. } => 0,
        }
    }

    /// Gives back buffer space that lines no longer use.
    pub fn shrink(&mut self) {
        if let Self::Bytes { decoder, .. } = self {
            decoder.shrink();
        }
    }
}
