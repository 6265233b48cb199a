//! A WebSocket as one client's transport: each text message in is one line
//! for the reader, and each line the writer drains from the outbox goes out
//! as one text message. Everything else — modes, limits, errors, rooms — is
//! the structured protocol's own machinery.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_std::net::TcpStream;
use async_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use async_tungstenite::tungstenite::{Error as WsError, Message};
use async_tungstenite::{WebSocketReceiver, WebSocketSender, WebSocketStream};
use chat_core::codec::DecodeError;
use futures::io::AsyncWrite;
use futures::{Sink, StreamExt};
use smol_hyper::rt::FuturesIo;
use tracing::{debug, info};

use super::BoxedIo;
use crate::source::{Messages, Source};
use crate::{Client, Slot, Transport};

/// The largest message read at all, as a multiple of the line limit: a
/// message up to it that is over the limit is refused like an over-long
/// line and the client carries on; past it, the connection is closed
/// without reading it all.
const HARD_LIMIT_LINES: usize = 8;

/// Runs an upgraded connection as a client until it ends.
pub(super) async fn run(
    client: Client,
    upgraded: hyper::upgrade::Upgraded,
    socket: TcpStream,
    slot: Slot,
) {
    // The connection was served as `FuturesIo<BoxedIo>`; anything the
    // browser sent after its handshake is in `read_buf`.
    let parts = match upgraded.downcast::<FuturesIo<BoxedIo>>() {
        Ok(parts) => parts,
        Err(_) => {
            debug!(
                client = client.id,
                "web: upgraded connection of an unknown kind"
            );
            return;
        }
    };
    let max_line = client.config.max_line;
    let hard_limit = receiver_limit(max_line);
    let config = WebSocketConfig::default()
        // Idle clients are most clients: keep their buffers small.
        .read_buffer_size(4096)
        .max_message_size(Some(hard_limit))
        .max_frame_size(Some(hard_limit));
    let ws = WebSocketStream::from_partially_read(
        parts.io.into_inner(),
        parts.read_buf.to_vec(),
        Role::Server,
        Some(config),
    )
    .await;
    info!(client = client.id, peer = %client.peer, "connected over WebSocket");
    let (sender, receiver) = ws.split();
    let transport = Transport {
        source: Source::messages(lines(receiver, max_line)),
        sink: Box::new(LineSink::new(sender)),
        socket,
        plain: false,
    };
    client.attach(transport, slot).await;
}

/// The lines a WebSocket's messages carry, one per text message; a message
/// over `max_line` bytes or a binary one is refused as a bad line would be.
fn lines(receiver: WebSocketReceiver<BoxedIo>, max_line: usize) -> Messages {
    let lines = futures::stream::unfold(receiver, move |mut receiver| async move {
        loop {
            let line = match receiver.next().await? {
                Ok(Message::Text(text)) if text.len() > max_line => {
                    Ok(Err(DecodeError::LineTooLong { max: max_line }))
                }
                Ok(Message::Text(text)) => Ok(Ok(text.as_str().to_owned())),
                Ok(Message::Binary(_)) => Ok(Err(DecodeError::Malformed(
                    "a binary message; send each frame as one text message".to_owned(),
                ))),
                Ok(Message::Close(_)) | Err(WsError::ConnectionClosed) => return None,
                // tungstenite answers pings itself.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                Err(WsError::Capacity(_)) => Err(io::Error::other(format!(
                    "WebSocket message too big (over {} bytes)",
                    receiver_limit(max_line)
                ))),
                Err(WsError::Io(e)) => Err(e),
                Err(e) => Err(io::Error::other(format!("WebSocket: {e}"))),
            };
            return Some((line, receiver));
        }
    });
    Box::pin(lines)
}

fn receiver_limit(max_line: usize) -> usize {
    max_line.saturating_mul(HARD_LIMIT_LINES).max(64 * 1024)
}

/// The writer's side of a WebSocket: bytes written are lines (each ending
/// in `\n`, as the outbox holds them), sent one text message per line.
struct LineSink {
    sender: WebSocketSender<BoxedIo>,
    /// Bytes written and not yet sent; lines before `sent` are gone.
    pending: Vec<u8>,
    sent: usize,
}

impl LineSink {
    fn new(sender: WebSocketSender<BoxedIo>) -> Self {
        Self {
            sender,
            pending: Vec::new(),
            sent: 0,
        }
    }

    /// Hands every complete line to the WebSocket.
    fn poll_send_lines(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(end) = self.pending[self.sent..].iter().position(|&b| b == b'\n') {
            match Pin::new(&mut self.sender).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(io_error(e))),
                Poll::Pending => return Poll::Pending,
            }
            let line = &self.pending[self.sent..self.sent + end];
            let text = std::str::from_utf8(line)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
                .to_owned();
            self.sent += end + 1;
            Pin::new(&mut self.sender)
                .start_send(Message::text(text))
                .map_err(io_error)?;
        }
        self.pending.drain(..self.sent);
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

fn io_error(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        e => io::Error::other(e),
    }
}

impl AsyncWrite for LineSink {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.poll_send_lines(cx) {
            Poll::Ready(Ok(())) => {
                this.pending.extend_from_slice(buf);
                Poll::Ready(Ok(buf.len()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_send_lines(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.sender).poll_flush(cx).map_err(io_error),
            other => other,
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut *this).poll_flush(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.sender).poll_close(cx).map_err(io_error),
            other => other,
        }
    }
}
