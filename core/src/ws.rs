//! The session over WebSocket: `ws://HOST:PORT[/PATH]` and
//! `wss://HOST:PORT[/PATH]` addresses reach a server's web gateway
//! (`chat-server --web-listen`), for networks that let only HTTP(S) out.
//! The frames are the structured protocol's, one per text message; the
//! session around them — reconnection, pacing, rooms, liveness — is
//! [`TcpSession`]'s own, which opens a WebSocket for such addresses, so
//! every front end and bot takes them as they are. [`WsSession`] is the same
//! session for callers that want nothing but a WebSocket.

use std::time::Duration;

use async_std::net::TcpStream;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::{Error as WsError, Message};
use async_tungstenite::WebSocketStream;
use futures::io::{AsyncRead, AsyncWrite};
use futures::StreamExt;

use crate::codec::{encode_frame, DecodeError};
use crate::error::ChatError;
use crate::protocol::{ClientFrame, Welcome};
use crate::session::{ChatSession, EventStream, SessionConfig, SessionSender};
use crate::tcp::TcpSession;

/// The path of the gateway's WebSocket when an address names none.
pub const DEFAULT_PATH: &str = "/ws";

/// Where a `ws://` or `wss://` address points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Over TLS (`wss://`).
    pub secure: bool,
    /// `HOST:PORT`, the port given or 80 / 443.
    pub host_port: String,
    /// The path, [`DEFAULT_PATH`] when none is given.
    pub path: String,
}

/// The WebSocket an address names, or `None` when it is a plain
/// `HOST:PORT` (the line protocol over TCP).
pub fn target(addr: &str) -> Option<Target> {
    let lower = addr
        .get(..6)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let (secure, rest) = if lower.starts_with("ws://") {
        (false, &addr[5..])
    } else if lower == "wss://" {
        (true, &addr[6..])
    } else {
        return None;
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, DEFAULT_PATH),
    };
    let has_port = match authority.rfind(':') {
        // `[::1]` has colons but no port; `[::1]:8080` has one.
        Some(at) => !authority[at..].contains(']'),
        None => false,
    };
    let host_port = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:{}", if secure { 443 } else { 80 })
    };
    Some(Target {
        secure,
        host_port,
        path: path.to_owned(),
    })
}

/// Anything a WebSocket runs over: TCP, or TLS on it.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// One open WebSocket to the gateway, after its handshake.
pub(crate) struct WsWire {
    ws: WebSocketStream<Box<dyn Io>>,
}

impl std::fmt::Debug for WsWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsWire").finish_non_exhaustive()
    }
}

impl WsWire {
    /// Opens the WebSocket on a connected `stream`: TLS first for `wss://`,
    /// then the HTTP upgrade.
    pub(crate) async fn open(
        stream: TcpStream,
        target: &Target,
        addr: &str,
        config: &SessionConfig,
    ) -> Result<WsWire, ChatError> {
        let wait = config.connect_timeout;
        let timeout = |during| ChatError::Timeout {
            addr: addr.to_owned(),
            during,
            secs: wait.as_secs(),
        };
        let io: Box<dyn Io> = if target.secure {
            let options = config.tls.clone().unwrap_or_default();
            let tls = crate::tls::client_config(&options, &target.host_port)?;
            let name = crate::tls::server_name(&target.host_port)?;
            let connector = futures_rustls::TlsConnector::from(tls);
            let secured = async_std::future::timeout(wait, connector.connect(name, stream))
                .await
                .map_err(|_| timeout("in the TLS handshake"))?
                .map_err(|e| crate::tls::handshake_error(addr, &e))?;
            Box::new(secured)
        } else {
            Box::new(stream)
        };
        let scheme = if target.secure { "wss" } else { "ws" };
        let request = format!("{scheme}://{}{}", target.host_port, target.path)
            .into_client_request()
            .map_err(|e| handshake_error(addr, e))?;
        // Frames from the server are lines: the same bound as over TCP,
        // with room for a long one to be refused as too long.
        let limit = config.max_line.saturating_mul(8).max(64 * 1024);
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(limit))
            .max_frame_size(Some(limit));
        let handshake = async_tungstenite::client_async_with_config(request, io, Some(ws_config));
        let (ws, _response) = async_std::future::timeout(wait, handshake)
            .await
            .map_err(|_| timeout("in the WebSocket handshake"))?
            .map_err(|e| handshake_error(addr, e))?;
        Ok(WsWire { ws })
    }

    /// The next frame's line, or `None` when the server closed.
    pub(crate) async fn next_line(&mut self, max_line: usize) -> Result<Option<String>, ChatError> {
        loop {
            match self.ws.next().await {
                None | Some(Ok(Message::Close(_))) | Some(Err(WsError::ConnectionClosed)) => {
                    return Ok(None)
                }
                Some(Ok(Message::Text(text))) if text.len() > max_line => {
                    return Err(DecodeError::LineTooLong { max: max_line }.into())
                }
                Some(Ok(Message::Text(text))) => return Ok(Some(text.as_str().to_owned())),
                Some(Ok(Message::Binary(_))) => {
                    return Err(DecodeError::Malformed("a binary message".to_owned()).into())
                }
                // tungstenite answers pings itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Err(WsError::Io(e))) => return Err(e.into()),
                Some(Err(e)) => return Err(std::io::Error::other(e).into()),
            }
        }
    }

    /// Sends one frame as one text message.
    pub(crate) async fn write(&mut self, frame: &ClientFrame) -> Result<(), ChatError> {
        let mut line = encode_frame(frame);
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let text = String::from_utf8(line).map_err(|e| std::io::Error::other(e.to_string()))?;
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| match e {
                WsError::Io(e) => ChatError::Io(e),
                e => ChatError::Io(std::io::Error::other(e)),
            })
    }

    /// Closes politely (a close frame), waiting a moment for the server's.
    pub(crate) async fn close(&mut self) {
        let _ = async_std::future::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}

fn handshake_error(addr: &str, error: WsError) -> ChatError {
    let message = match error {
        WsError::Http(response) => {
            let status = response.status();
            let body = response
                .body()
                .as_deref()
                .map(|body| String::from_utf8_lossy(body).trim().to_owned())
                .unwrap_or_default();
            match body.is_empty() {
                true => format!("the server answered {status}"),
                false => format!("the server answered {status}: {body}"),
            }
        }
        WsError::Io(e) => return ChatError::Io(e),
        e => e.to_string(),
    };
    ChatError::WebSocket {
        addr: addr.to_owned(),
        message: crate::render::sanitize(&message),
    }
}

/// A chat session over WebSocket only: [`TcpSession`]'s session (the same
/// reconnection, pacing and events) on a `ws://` or `wss://` address.
#[derive(Debug)]
pub struct WsSession {
    inner: TcpSession,
}

impl ChatSession for WsSession {
    async fn connect(config: SessionConfig) -> Result<Self, ChatError> {
        let list = crate::tcp::addresses(&config.addr);
        if list.is_empty() || list.iter().any(|addr| target(addr).is_none()) {
            return Err(ChatError::WebSocket {
                addr: config.addr.clone(),
                message: "not a WebSocket address: give ws://HOST:PORT or wss://HOST:PORT"
                    .to_owned(),
            });
        }
        let inner = TcpSession::connect(config).await?;
        Ok(Self { inner })
    }

    fn welcome(&self) -> &Welcome {
        self.inner.welcome()
    }

    fn split(self) -> (SessionSender, EventStream) {
        self.inner.split()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_that_name_a_websocket() {
        let t = |addr| target(addr).map(|t| (t.secure, t.host_port, t.path));
        assert_eq!(t("127.0.0.1:8001"), None);
        assert_eq!(t("chat.lan"), None);
        assert_eq!(
            t("ws://127.0.0.1:8080"),
            Some((false, "127.0.0.1:8080".into(), "/ws".into()))
        );
        assert_eq!(
            t("WSS://chat.example/chat/ws"),
            Some((true, "chat.example:443".into(), "/chat/ws".into()))
        );
        assert_eq!(
            t("ws://[::1]"),
            Some((false, "[::1]:80".into(), "/ws".into()))
        );
        assert_eq!(
            t("ws://[::1]:9000/"),
            Some((false, "[::1]:9000".into(), "/".into()))
        );
    }
}
