//! Where a client's lines come from: a byte stream cut at newlines (TCP and
//! TLS), or a transport that frames its messages itself (WebSocket), where
//! each message is one line. The reader handles both alike, so every mode's
//! limits and errors are the same whatever carried the bytes.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use chat_core::codec::{DecodeError, LineDecoder};
use futures::io::{AsyncRead, AsyncReadExt};
use futures::{Stream, StreamExt};

/// Bytes read from a socket at a time while input keeps coming.
const READ_CHUNK: usize = 4096;

/// Bytes a connection waits for input with. An idle connection (most of
/// them, most of the time) holds its read buffer for as long as it waits, so
/// that buffer is kept to a line or two; a read that fills it grows it to
/// [`READ_CHUNK`] for the reads that follow, and the read that drains the
/// socket shrinks it back.
const IDLE_CHUNK: usize = 256;

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
            chunk: vec![0u8; IDLE_CHUNK],
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
                if n == chunk.len() && n < READ_CHUNK {
                    // Probably more waiting: take it in larger bites.
                    *chunk = vec![0u8; READ_CHUNK];
                } else if n < chunk.len() && chunk.len() > IDLE_CHUNK {
                    // The socket ran dry: the next read is likely to wait.
                    *chunk = vec![0u8; IDLE_CHUNK];
                }
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

    /// Reads and drops what the peer already sent (a byte stream only), up
    /// to 64 KiB or until it has been quiet for 200 ms, before the server
    /// closes the connection.
    pub async fn drain(&mut self) {
        let Self::Bytes { stream, chunk, .. } = self else {
            return;
        };
        let mut left: usize = 64 * 1024;
        while left > 0 {
            let read = async_std::future::timeout(Duration::from_millis(200), stream.read(chunk));
            match read.await {
                Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
                _ => return,
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk_len(source: &Source) -> usize {
        match source {
            Source::Bytes { chunk, .. } => chunk.len(),
            Source::Messages { .. } => 0,
        }
    }

    #[async_std::test]
    async fn the_read_buffer_grows_for_a_burst_and_shrinks_when_drained() {
        let long = "x".repeat(3 * READ_CHUNK);
        let input = format!("hi\n{long}\nlast\n");
        let stream = futures::io::Cursor::new(input.into_bytes());
        let mut source = Source::bytes(Box::new(stream), 4 * READ_CHUNK);
        assert_eq!(chunk_len(&source), IDLE_CHUNK);
        let mut lines = Vec::new();
        let mut grew = false;
        while source.fill().await.unwrap() != Arrived::Closed {
            grew |= chunk_len(&source) == READ_CHUNK;
            while let Some(line) = source.next_line() {
                lines.push(line.unwrap());
            }
            source.shrink();
        }
        assert_eq!(lines, ["hi", long.as_str(), "last"]);
        assert!(grew, "a long line is read in READ_CHUNK bites");
        assert_eq!(
            chunk_len(&source),
            IDLE_CHUNK,
            "drained: back to the idle size"
        );
    }
}
