//! Which pages may open the chat's WebSocket. A browser sends the page's
//! origin with every WebSocket handshake; without this check, any site a
//! visitor opens could chat in the visitor's name from their own machine.
//! The server's own page is allowed (same origin), others only when listed
//! with `--web-origin`. Programs that are not browsers send no `Origin`
//! and are let in: they could claim any origin anyway.

use hyper::Uri;

/// A `--web-origin` that is not an origin.
#[derive(Debug, thiserror::Error)]
#[error("{given:?} is not an origin: give scheme://host[:port], e.g. https://chat.example.org")]
pub struct OriginError {
    /// What was given.
    pub given: String,
}

/// An origin in one spelling — `scheme://host:port`, lower case, with the
/// scheme's default port written out — so that equal origins compare equal.
///
/// # Errors
/// [`OriginError`] for anything but an `http` or `https` origin.
pub fn normalize(origin: &str) -> Result<String, OriginError> {
    let error = || OriginError {
        given: origin.to_owned(),
    };
    let uri: Uri = origin.parse().map_err(|_| error())?;
    let scheme = uri.scheme_str().ok_or_else(error)?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(error()),
    };
    let authority = uri.authority().ok_or_else(error)?;
    let path_is_bare = matches!(uri.path(), "" | "/") && uri.query().is_none();
    if !path_is_bare || authority.as_str().contains('@') {
        return Err(error());
    }
    let port = authority.port_u16().unwrap_or(default_port);
    Ok(format!(
        "{scheme}://{}:{port}",
        authority.host().to_ascii_lowercase()
    ))
}

/// Whether a handshake's `Origin` may open the WebSocket of the server
/// reached as `host` (the `Host` header), over TLS or not; `Err` says why
/// not.
pub fn check(
    origin: Option<&str>,
    host: Option<&str>,
    tls: bool,
    allowed: &[String],
) -> Result<(), String> {
    let Some(origin) = origin else {
        return Ok(());
    };
    let refusal = || {
        format!(
            "a page from {origin} may not open this chat: only the server's own page may, and the origins given with --web-origin"
        )
    };
    let Ok(theirs) = normalize(origin) else {
        return Err(refusal());
    };
    if allowed.contains(&theirs) {
        return Ok(());
    }
    let scheme = if tls { "https" } else { "http" };
    let ours = host.and_then(|host| normalize(&format!("{scheme}://{host}")).ok());
    match ours {
        Some(ours) if ours == theirs => Ok(()),
        _ => Err(refusal()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_in_one_spelling() {
        assert_eq!(
            normalize("HTTP://Chat.Example:80").expect("origin"),
            "http://chat.example:80"
        );
        assert_eq!(
            normalize("https://chat.example/").expect("origin"),
            "https://chat.example:443"
        );
        assert_eq!(
            normalize("http://[::1]:8080").expect("origin"),
            "http://[::1]:8080"
        );
        for bad in [
            "null",
            "chat.example",
            "ftp://chat.example",
            "https://chat.example/page",
            "https://u@chat.example",
            "",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn same_origin_and_listed_origins_only() {
        let listed = vec![normalize("https://friend.example").expect("origin")];
        let check = |origin, host, tls| check(Some(origin), Some(host), tls, &listed);
        assert!(check("http://127.0.0.1:8080", "127.0.0.1:8080", false).is_ok());
        assert!(check("https://chat.example", "chat.example:443", true).is_ok());
        assert!(check("https://friend.example", "chat.example", false).is_ok());
        // Another site, another port, another scheme: all other origins.
        assert!(check("http://evil.example", "127.0.0.1:8080", false).is_err());
        assert!(check("http://127.0.0.1:9999", "127.0.0.1:8080", false).is_err());
        assert!(check("http://chat.example", "chat.example", true).is_err());
        assert!(check("null", "127.0.0.1:8080", false).is_err());
        let why = check("http://evil.example", "127.0.0.1:8080", false).expect_err("refused");
        assert!(why.contains("http://evil.example"), "{why}");
        // No Origin: not a browser.
        assert!(super::check(None, Some("x"), false, &[]).is_ok());
        assert!(super::check(Some("http://x"), None, false, &[]).is_err());
    }
}
