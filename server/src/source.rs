//! Where a client's lines come from: a byte stream cut at newlines (TCP and
//! TLS), or a transport that frames its messages itself (WebSocket), where
//! each message is one line. The reader handles both alike, so every mode's
//! limits and errors are the same whatever carried the bytes.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use chat_core::codec::{DecodeError, LineDecoder};
use futures::io::AsyncRead;
use futures::{Stream, StreamExt};

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 4096;

thread_local! {
    /// The buffer every byte-stream reader on this thread reads into.
    ///
    /// A read is polled, not awaited with a buffer of its own: the bytes
    /// are needed only while the poll runs (they go straight into the
    /// decoder), so a reader waiting for input, which is what most
    /// connections do most of the time, holds no read buffer at all, and
    /// every read can still take a whole [`READ_CHUNK`].
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// Polls one read of `stream` into this thread's scratch buffer and hands
/// what arrived (empty at end of stream) to `take`, before returning.
fn poll_read_with<T>(
    stream: &mut (dyn AsyncRead + Send + Sync + Unpin),
    cx: &mut Context<'_>,
    take: impl FnOnce(&[u8]) -> T,
) -> Poll<io::Result<T>> {
    let mut read = |buf: &mut [u8]| Pin::new(&mut *stream).poll_read(cx, buf);
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => read(&mut buf).map_ok(|n| take(&buf[..n])),
        // Only a stream that is itself read through a `Source` on this
        // thread could get here; it gets a buffer of its own.
        Err(_) => {
            let mut buf = vec![0; READ_CHUNK];
            read(&mut buf).map_ok(|n| take(&buf[..n]))
        }
    })
}

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
            Self::Bytes { stream, decoder } => {
                futures::future::poll_fn(|cx| {
                    poll_read_with(stream.as_mut(), cx, |bytes| {
                        let Some(&first) = bytes.first() else {
                            return Arrived::Closed;
                        };
                        let tls_hello = decoder.buffered() == 0 && first == TLS_HANDSHAKE_RECORD;
                        decoder.feed(bytes);
                        Arrived::Input { tls_hello }
                    })
                })
                .await
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
        let Self::Bytes { stream, .. } = self else {
            return;
        };
        let mut left: usize = 64 * 1024;
        while left > 0 {
            let read =
                futures::future::poll_fn(|cx| poll_read_with(stream.as_mut(), cx, <[u8]>::len));
            match async_std::future::timeout(Duration::from_millis(200), read).await {
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

    #[async_std::test]
    async fn lines_longer_than_a_read_come_out_whole_and_nothing_is_kept_once_drained() {
        let long = "x".repeat(3 * READ_CHUNK);
        let input = format!("hi\n{long}\nlast\n");
        let stream = futures::io::Cursor::new(input.into_bytes());
        let mut source = Source::bytes(Box::new(stream), 4 * READ_CHUNK);
        let mut lines = Vec::new();
        let mut reads = 0;
        while source.fill().await.unwrap() != Arrived::Closed {
            reads += 1;
            while let Some(line) = source.next_line() {
                lines.push(line.unwrap());
            }
            source.shrink();
        }
        assert_eq!(lines, ["hi", long.as_str(), "last"]);
        assert_eq!(reads, 4, "every read takes up to READ_CHUNK bytes");
        assert_eq!(source.buffered(), 0);
    }

    #[async_std::test]
    async fn the_first_byte_tells_a_tls_handshake() {
        let stream = futures::io::Cursor::new(vec![TLS_HANDSHAKE_RECORD, 3, 1, b'\n']);
        let mut source = Source::bytes(Box::new(stream), 100);
        assert_eq!(
            source.fill().await.unwrap(),
            Arrived::Input { tls_hello: true }
        );
        let stream = futures::io::Cursor::new(b"alice\n".to_vec());
        let mut source = Source::bytes(Box::new(stream), 100);
        assert_eq!(
            source.fill().await.unwrap(),
            Arrived::Input { tls_hello: false }
        );
        assert_eq!(source.next_line().unwrap().unwrap(), "alice");
        assert_eq!(source.fill().await.unwrap(), Arrived::Closed);
    }

    #[async_std::test]
    async fn drain_reads_and_drops_what_was_sent() {
        let stream = futures::io::Cursor::new(vec![b'x'; 3 * READ_CHUNK]);
        let mut source = Source::bytes(Box::new(stream), 100);
        source.drain().await;
        assert_eq!(source.fill().await.unwrap(), Arrived::Closed);
    }
}
