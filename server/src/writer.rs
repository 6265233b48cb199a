//! A client's writer: drains its outbox into the socket, one write per
//! wake-up, and closes the socket when the queue is closed or abandoned.

use std::time::Duration;

use async_std::io::WriteExt;
use async_std::net::TcpStream;
use futures::io::AsyncWrite;
use tracing::debug;

use crate::outbox::{Next, Outbox};

/// Longest a single write may wait for a peer to read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Drains `outbox` into `stream`, one write per wake-up, until the queue is
/// closed (then flushes and closes the socket) or aborted.
pub async fn write_loop(
    mut stream: Box<dyn AsyncWrite + Send + Unpin>,
    socket: TcpStream,
    outbox: Outbox,
) {
    let mut batch = Vec::new();
    loop {
        if outbox.is_empty() {
            // About to wait, maybe for hours: an idle connection keeps no
            // buffer, which is most of what 10,000 idle clients would cost.
            batch = Vec::new();
        }
        match outbox.next_batch(&mut batch).await {
            Next::Write => {
                let written = async {
                    stream.write_all(&batch).await?;
                    // TLS holds records until flushed; plain TCP ignores it.
                    stream.flush().await
                };
                // A peer that stops reading and half-closes is gone for the
                // reader, but would hold this writer (and its socket) forever.
                match async_std::future::timeout(WRITE_TIMEOUT, written).await {
                    Ok(Ok(())) => outbox.written(),
                    Ok(Err(e)) => {
                        debug!(error = %e, "write failed");
                        outbox.abort();
                        break;
                    }
                    Err(_) => {
                        debug!("write timed out");
                        outbox.abort();
                        break;
                    }
                }
            }
            Next::Done => {
                // Ends TLS with a close_notify; a no-op for plain TCP.
                let closing = futures::io::AsyncWriteExt::close(&mut stream);
                let _ = async_std::future::timeout(Duration::from_secs(1), closing).await;
                break;
            }
            Next::Abort => break,
        }
    }
    // Ends the reader too, whatever it was waiting for.
    let _ = socket.shutdown(std::net::Shutdown::Both);
}
