//! Getting into a protected room: the TLS settings from the flags, and the
//! room's password from a file, the environment or the terminal (read
//! without echo), remembered for every `/connect`; and how long a silent
//! server is waited for.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chat_core::protocol::ErrorCode;
use chat_core::{ChatError, SessionConfig, TlsOptions};

/// The environment variable that may hold the room's password. A variable,
/// not a flag, because flags are visible to everyone in `ps`.
pub use chat_core::credentials::PASSWORD_ENV;

/// What `--insecure` prints on stderr at start-up.
pub const INSECURE_WARNING: &str = "WARNING: --insecure: the server's certificate is NOT checked. \
Anyone on the path can pose as the server and read the whole chat, password included. \
Use --ca FILE with the server's certificate instead.";

/// How to get into the room, for the first connection and every `/connect`.
#[derive(Clone, Default)]
pub struct Access {
    /// Connect over TLS, checking the server this way.
    pub tls: Option<TlsOptions>,
    /// The room's password, when known.
    pub password: Option<String>,
    /// Where the password came from, for error messages.
    pub source: Option<String>,
    /// Whether the password may be asked for on the terminal.
    pub can_ask: bool,
    /// When a silent server is pinged, and how long after that ping it is
    /// given up on (`--ping-after`, `--dead-after`); chat-core's defaults
    /// without them.
    pub liveness: Option<(Duration, Duration)>,
}

impl std::fmt::Debug for Access {
    // Never print the password itself, whatever ends up logging this.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("tls", &self.tls)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("source", &self.source)
            .field("can_ask", &self.can_ask)
            .field("liveness", &self.liveness)
            .finish()
    }
}

impl Access {
    /// The settings the flags describe: `--ca` and `--insecure` imply TLS;
    /// the password comes from `--password-file`, else from `env_password`
    /// (the value of [`PASSWORD_ENV`]; empty counts as unset).
    ///
    /// # Errors
    /// When the password file cannot be read or is empty.
    pub fn from_flags(
        tls: bool,
        ca: Option<PathBuf>,
        insecure: bool,
        password_file: Option<&Path>,
        env_password: Option<String>,
    ) -> anyhow::Result<Access> {
        let tls = (tls || ca.is_some() || insecure).then_some(TlsOptions {
            ca_file: ca,
            insecure,
        });
        let (password, source) = match password_file {
            Some(path) => (
                Some(read_password_file(path)?),
                Some(format!("--password-file {}", path.display())),
            ),
            None => match env_password.filter(|p| !p.is_empty()) {
                Some(password) => (Some(password), Some(PASSWORD_ENV.to_owned())),
                None => (None, None),
            },
        };
        Ok(Access {
            tls,
            password,
            source,
            can_ask: false,
            liveness: None,
        })
    }

    /// `config` with these settings applied.
    pub fn apply(&self, mut config: SessionConfig) -> SessionConfig {
        if let Some(tls) = &self.tls {
            config = config.with_tls(tls.clone());
        }
        if let Some(password) = &self.password {
            config = config.with_password(password.clone());
        }
        if let Some((ping_after, dead_after)) = self.liveness {
            config = config.with_liveness(ping_after, dead_after);
        }
        config
    }

    /// A failed connection as one line, saying where a refused password came
    /// from or how to give one.
    pub fn explain(&self, err: &ChatError) -> String {
        match (err, &self.source) {
            (
                ChatError::Refused {
                    code: ErrorCode::BadPassword,
                    ..
                },
                Some(source),
            ) => format!("{err} (the password from {source})"),
            (
                ChatError::Refused {
                    code: ErrorCode::BadPassword,
                    ..
                },
                None,
            ) => format!("{err} (give it with --password-file FILE or {PASSWORD_ENV})"),
            _ => err.to_string(),
        }
    }
}

/// Whether `err` is the server asking for (another) password.
pub fn is_bad_password(err: &ChatError) -> bool {
    matches!(
        err,
        ChatError::Refused {
            code: ErrorCode::BadPassword,
            ..
        }
    )
}

pub use chat_core::credentials::read_password_file;

/// Asks on the terminal, without echo; `None` when nothing was typed or
/// there is no terminal to ask on.
pub async fn ask(prompt: String) -> Option<String> {
    // rpassword reads /dev/tty with echo off; it blocks, so not on an
    // executor thread.
    async_std::task::spawn_blocking(move || rpassword::prompt_password(prompt))
        .await
        .ok()
        .filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_and_insecure_imply_tls() {
        let plain = Access::from_flags(false, None, false, None, None).expect("no file");
        assert_eq!(plain.tls, None);
        let system = Access::from_flags(true, None, false, None, None).expect("no file");
        assert_eq!(system.tls, Some(TlsOptions::default()));
        let ca =
            Access::from_flags(false, Some("ca.pem".into()), false, None, None).expect("no file");
        assert_eq!(
            ca.tls.and_then(|t| t.ca_file),
            Some(PathBuf::from("ca.pem"))
        );
        let insecure = Access::from_flags(false, None, true, None, None).expect("no file");
        assert!(insecure.tls.is_some_and(|t| t.insecure));
    }

    #[test]
    fn the_password_file_wins_over_the_environment() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("pw");
        std::fs::write(&file, "open sesame \r\n").expect("writes");
        let access =
            Access::from_flags(false, None, false, Some(&file), Some("env".into())).expect("reads");
        assert_eq!(access.password.as_deref(), Some("open sesame "));
        assert_eq!(
            access.source,
            Some(format!("--password-file {}", file.display()))
        );
        let env = Access::from_flags(false, None, false, None, Some("env".into())).expect("env");
        assert_eq!(env.password.as_deref(), Some("env"));
        let empty = Access::from_flags(false, None, false, None, Some(String::new())).expect("env");
        assert_eq!(empty.password, None);
        assert!(!format!("{env:?}").contains("env\""), "{env:?}");

        std::fs::write(&file, "\n").expect("writes");
        let err = Access::from_flags(false, None, false, Some(&file), None).expect_err("empty");
        assert!(err.to_string().contains("is empty"), "{err}");
        let missing = dir.path().join("missing");
        let err = Access::from_flags(false, None, false, Some(&missing), None).expect_err("none");
        assert!(
            err.to_string().starts_with("cannot read the password file"),
            "{err}"
        );
    }

    #[test]
    fn refusals_say_where_the_password_came_from() {
        let refused = ChatError::Refused {
            code: ErrorCode::BadPassword,
            message: "wrong password".into(),
        };
        let access = Access::from_flags(false, None, false, None, Some("x".into())).expect("env");
        assert_eq!(
            access.explain(&refused),
            "refused by server: wrong password (the password from CHAT_PASSWORD)"
        );
        assert!(Access::default()
            .explain(&refused)
            .ends_with("(give it with --password-file FILE or CHAT_PASSWORD)"));
        assert!(is_bad_password(&refused));
        assert!(!is_bad_password(&ChatError::ServerClosed));
    }
}
