//! The typed errors a client of `chat-core` can meet, so a caller can tell
//! "server closed" from "name rejected", a bad frame or an I/O failure.

use std::io;

use crate::codec::DecodeError;
use crate::protocol::ErrorCode;

/// Everything that can go wrong in a chat session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    /// The TCP connection could not be made.
    // The OS error is in the message, not also a `source`, so that error
    // reporters do not print it twice.
    #[error("cannot connect to {addr}: {}", describe_io(.error))]
    Connect {
        /// The address tried.
        addr: String,
        /// What the operating system said.
        error: io::Error,
    },
    /// The server did not answer in time.
    #[error("{addr} did not answer within {secs} s while {during}; is it a chat server?")]
    Timeout {
        /// The address tried.
        addr: String,
        /// What the session was waiting for.
        during: &'static str,
        /// How long it waited.
        secs: u64,
    },
    /// The server refused the name; another may be tried.
    #[error("name {name:?} rejected: {message}")]
    NameRejected {
        /// The name asked for.
        name: String,
        /// `name_taken` or `invalid_name`.
        code: ErrorCode,
        /// The server's sentence.
        message: String,
    },
    /// The server refused the connection for another reason (full, version...).
    #[error("refused by server: {message}")]
    Refused {
        /// The server's code.
        code: ErrorCode,
        /// The server's sentence.
        message: String,
    },
    /// The TLS handshake failed, or TLS could not be set up.
    #[error("TLS with {addr} failed: {message}")]
    Tls {
        /// The address tried.
        addr: String,
        /// What went wrong.
        message: String,
    },
    /// The server's certificate is signed by no one this client trusts: the
    /// usual case of a self-signed server reached without `--ca`, or with
    /// the certificate of another server or of an earlier `gen-cert`. Says
    /// how to trust it, so every program built on `chat-core` gives the same
    /// hint.
    #[error(
        "TLS with {addr} failed: {message}. The server's certificate is not trusted: to trust \
         a self-signed server, connect with --ca FILE holding the very certificate it serves \
         (the chat-cert.pem written by chat-server gen-cert), or the certificate of the CA \
         that signed it"
    )]
    UntrustedCertificate {
        /// The address tried.
        addr: String,
        /// What the TLS library said.
        message: String,
    },
    /// The server answered in plain text to a TLS client.
    #[error("the server at {addr} does not speak TLS (it answered in plain text); connect without --tls")]
    NotTls {
        /// The address tried.
        addr: String,
    },
    /// The server closed the connection.
    #[error("server closed the connection")]
    ServerClosed,
    /// The WebSocket could not be opened (`ws://`, `wss://` addresses):
    /// the server refused the handshake, or is not a chat server's web
    /// gateway.
    #[error("WebSocket with {addr} failed: {message}")]
    WebSocket {
        /// The address tried.
        addr: String,
        /// What went wrong, with the server's reason when it gave one.
        message: String,
    },
    /// The server sent something that is not the protocol.
    #[error("bad frame from server: {0}")]
    BadFrame(#[from] DecodeError),
    /// Reading or writing the socket failed.
    #[error("connection error: {}", describe_io(.0))]
    Io(#[from] io::Error),
    /// The session is not connected right now (it may be reconnecting).
    #[error("not connected: nothing was sent")]
    NotConnected,
    /// The session is not in the room named.
    #[error("you are not in #{0}: /join it first")]
    NotInRoom(String),
    /// The session has ended for good.
    #[error("the session has ended")]
    Closed,
    /// Too many requests are waiting to be written; try again shortly.
    #[error("too many unsent messages; nothing was sent")]
    Busy,
}

/// A short, lower-case description of an I/O error, without the OS error
/// number, for messages people read.
pub fn describe_io(err: &io::Error) -> String {
    use io::ErrorKind::*;
    let text = match err.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by peer",
        ConnectionAborted => "connection aborted",
        TimedOut => "timed out",
        AddrInUse => "address already in use",
        AddrNotAvailable => "address not available",
        BrokenPipe => "connection closed by peer",
        UnexpectedEof => "connection closed by peer",
        PermissionDenied => "permission denied",
        _ => return err.to_string(),
    };
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_error_reads_well() {
        let err = ChatError::Connect {
            addr: "127.0.0.1:8001".into(),
            error: io::Error::from(io::ErrorKind::ConnectionRefused),
        };
        assert!(
            std::error::Error::source(&err).is_none(),
            "said once, not twice"
        );
        assert_eq!(
            err.to_string(),
            "cannot connect to 127.0.0.1:8001: connection refused"
        );
    }
}
