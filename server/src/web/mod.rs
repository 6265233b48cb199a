//! The web gateway (`--web-listen`): serves the web client's page and, at
//! `/ws`, the structured protocol over WebSocket — one JSON frame per text
//! message, with the same frames, limits and errors as structured mode over
//! TCP. HTTP is hyper's; WebSocket framing is tungstenite's.
//!
//! - `page`: the embedded page and the headers it is served with.
//! - `origin`: which pages may open the WebSocket.
//! - `socket`: a WebSocket as a client's transport (messages in, lines out).

mod origin;
mod page;
mod socket;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_std::channel::Sender;
use async_std::net::TcpStream;
use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::future::Shared;
use futures::io::{AsyncRead, AsyncWrite};
use futures::FutureExt;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use smol_hyper::rt::{FuturesIo, SmolTimer};
use tracing::{debug, info};

pub use origin::{normalize as normalize_origin, OriginError};

use crate::config::Config;
use crate::directory::{ClientId, ToDirectory};
use crate::Slots;

/// How long a browser has to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a TLS handshake may take.
const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

/// Either byte stream an HTTP connection runs on: plain TCP or TLS.
trait Io: AsyncRead + AsyncWrite + Send + Sync + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin> Io for T {}
type BoxedIo = Box<dyn Io>;

/// What every web connection shares with the server.
#[derive(Clone)]
pub(crate) struct Gateway {
    pub(crate) broker: Sender<ToDirectory>,
    pub(crate) config: Arc<Config>,
    pub(crate) slots: Slots,
    /// Completes when the server stops: open HTTP connections end.
    pub(crate) stop: Shared<oneshot::Receiver<()>>,
}

/// One accepted web connection.
pub(crate) struct Visitor {
    pub(crate) id: ClientId,
    pub(crate) peer: SocketAddr,
    /// Held until the connection's writer is done, as every client's is.
    pub(crate) writer_token: mpsc::Sender<()>,
    /// Why every request is refused (a banned address), if it is.
    pub(crate) refused: Option<String>,
}

/// Everything a request's handler needs.
struct Context {
    gateway: Gateway,
    id: ClientId,
    peer: SocketAddr,
    writer_token: mpsc::Sender<()>,
    refused: Option<String>,
    tls: bool,
    socket: TcpStream,
}

/// Serves one HTTP connection: the page's files, or the upgrade of `/ws`
/// to a WebSocket that then lives on as a client.
pub(crate) async fn serve(gateway: Gateway, visitor: Visitor, stream: TcpStream) {
    let Visitor {
        id,
        peer,
        writer_token,
        refused,
    } = visitor;
    if let Err(e) = stream.set_nodelay(true) {
        debug!(client = id, error = %e, "cannot set TCP_NODELAY");
    }
    crate::set_keepalive(&stream, &gateway.config, id);
    let tls = gateway.config.tls.clone();
    let io: BoxedIo = match tls {
        None => Box::new(stream.clone()),
        Some(tls) => {
            let acceptor = futures_rustls::TlsAcceptor::from(tls);
            match async_std::future::timeout(TLS_HANDSHAKE, acceptor.accept(stream.clone())).await {
                Ok(Ok(secured)) => Box::new(secured),
                Ok(Err(e)) => {
                    debug!(%peer, error = %e, "web: TLS handshake failed");
                    return;
                }
                Err(_) => {
                    debug!(%peer, "web: TLS handshake timed out");
                    return;
                }
            }
        }
    };
    let stop = gateway.stop.clone();
    let context = Arc::new(Context {
        tls: gateway.config.tls.is_some(),
        gateway,
        id,
        peer,
        writer_token,
        refused,
        socket: stream,
    });
    let service = hyper::service::service_fn(move |request| {
        let context = context.clone();
        async move { Ok::<_, Infallible>(respond(&context, request)) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(SmolTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(FuturesIo::new(io), service)
        .with_upgrades();
    futures::pin_mut!(connection);
    let mut stop = stop.fuse();
    let served = futures::select! {
        served = connection.as_mut().fuse() => served,
        _ = stop => {
            // Let a response under way finish, then close.
            connection.as_mut().graceful_shutdown();
            match async_std::future::timeout(Duration::from_secs(1), connection).await {
                Ok(served) => served,
                Err(_) => Ok(()),
            }
        }
    };
    if let Err(e) = served {
        debug!(%peer, error = %e, "web: HTTP connection ended");
    }
}

/// The answer to one request.
fn respond(context: &Context, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if let Some(why) = &context.refused {
        return page::text(StatusCode::FORBIDDEN, why);
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = page::text(StatusCode::METHOD_NOT_ALLOWED, "only GET is served here");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match request.uri().path() {
        "/ws" => upgrade(context, request),
        path => page::file(path),
    }
}

/// Answers a WebSocket handshake and hands the upgraded connection to
/// [`socket::run`], or says why not.
fn upgrade(context: &Context, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let headers = request.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if !has_token(header::CONNECTION, "upgrade") || !has_token(header::UPGRADE, "websocket") {
        return page::text(
            StatusCode::BAD_REQUEST,
            "this address is the chat's WebSocket: connect with a WebSocket client",
        );
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        let mut response = page::text(
            StatusCode::UPGRADE_REQUIRED,
            "unsupported WebSocket version: this server speaks 13",
        );
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return response;
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return page::text(StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing");
    };
    let origin = headers.get(header::ORIGIN).map(HeaderValue::to_str);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = match origin {
        None => None,
        Some(Ok(origin)) => Some(origin),
        Some(Err(_)) => Some("(not text)"),
    };
    if let Err(why) = origin::check(
        origin,
        host,
        context.tls,
        &context.gateway.config.web_origins,
    ) {
        info!(client = context.id, peer = %context.peer, origin = ?origin, "web: refused WebSocket: {why}");
        return page::text(StatusCode::FORBIDDEN, &why);
    }
    let slot = match context.gateway.slots.acquire(context.peer.ip()) {
        Ok(slot) => slot,
        Err(why) => {
            crate::connection::log_refused(context.peer, &why);
            return page::text(StatusCode::SERVICE_UNAVAILABLE, &why);
        }
    };
    let accept = async_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let client = crate::Client {
        id: context.id,
        peer: context.peer,
        broker: context.gateway.broker.clone(),
        config: context.gateway.config.clone(),
        writer_token: context.writer_token.clone(),
        kind: crate::Kind::Web,
    };
    let socket = context.socket.clone();
    let upgraded = hyper::upgrade::on(request);
    async_std::task::spawn(async move {
        match upgraded.await {
            Ok(upgraded) => socket::run(client, upgraded, socket, slot).await,
            Err(e) => debug!(client = client.id, error = %e, "web: upgrade failed"),
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}
