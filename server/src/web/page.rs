//! The web client's files, embedded in the binary, and the headers every
//! answer carries: a Content-Security-Policy that allows only the page's own
//! script and style and its own WebSocket, so that even a text that got into
//! the page as HTML could run nothing.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

/// Nothing but this server's own files and WebSocket; no inline script or
/// style, no plugins, no frames, no forms.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

const INDEX: &str = include_str!("static/index.html");
const SCRIPT: &str = include_str!("static/app.js");
const STYLE: &str = include_str!("static/style.css");
const ICON: &str = include_str!("static/favicon.svg");

/// The file at `path`, or 404.
pub fn file(path: &str) -> Response<Full<Bytes>> {
    let (body, kind) = match path {
        "/" | "/index.html" => (INDEX, "text/html; charset=utf-8"),
        "/app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "/style.css" => (STYLE, "text/css; charset=utf-8"),
        "/favicon.svg" => (ICON, "image/svg+xml"),
        _ => return text(StatusCode::NOT_FOUND, "not found"),
    };
    respond(StatusCode::OK, Bytes::from_static(body.as_bytes()), kind)
}

/// A short plain-text answer: an error and why.
pub fn text(status: StatusCode, why: &str) -> Response<Full<Bytes>> {
    let body = Bytes::from(format!("{why}\n"));
    respond(status, body, "text/plain; charset=utf-8")
}

fn respond(status: StatusCode, body: Bytes, kind: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // A new server binary may bring a new page: always ask.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
