//! Shared bits for the example bots: the flags for getting into a protected
//! room (TLS, the room password), the rooms to join besides the default one
//! (`--room`), joining with an error message that says who could not join
//! where, waiting for a server that is not up yet, and turning the end of a
//! session into an error (so a supervisor restarts the bot). Each bot stays
//! readable on its own; this file only holds what would otherwise be copied
//! four times.

use std::path::PathBuf;

use anyhow::Context;
use chat_core::{
    ChatError, ChatSession, Event, SessionConfig, SessionSender, Status, TcpSession, TlsOptions,
};

/// The environment variable that may hold the room's password (a variable,
/// not a flag: flags are visible to everyone in `ps`).
pub use chat_core::credentials::PASSWORD_ENV;

/// What `--insecure` prints on stderr before the bot connects.
pub const INSECURE_WARNING: &str = "WARNING: --insecure: the server's certificate is NOT checked. \
Anyone on the path can pose as the server and read the whole chat, password included. \
Use --ca FILE with the server's certificate instead.";

/// How to get into the room; every bot flattens it into its flags
/// (`#[command(flatten)]`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Access {
    /// Connect over TLS, checking the server's certificate against the
    /// system's trusted roots.
    #[arg(long)]
    pub tls: bool,
    /// Connect over TLS, trusting only the certificate(s) in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Connect over TLS WITHOUT checking the certificate: anyone on the path
    /// can read the chat. For testing only.
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,
    /// Read the room's password from this file. The whole file is the
    /// password, less a final line break; a file of more than one line is
    /// refused. Otherwise from $CHAT_PASSWORD, if set.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

impl Access {
    /// `config` with TLS (`--ca` and `--insecure` imply it) and the password
    /// from `--password-file` or `$CHAT_PASSWORD`. Prints the `--insecure`
    /// warning on stderr.
    ///
    /// # Errors
    /// When the password file cannot be read, is empty or has more than one
    /// line.
    pub fn apply(&self, config: SessionConfig) -> anyhow::Result<SessionConfig> {
        self.apply_with_env(config, std::env::var(PASSWORD_ENV).ok())
    }

    /// [`apply`](Self::apply) with the environment's password given, for tests.
    ///
    /// # Errors
    /// As `apply`.
    pub fn apply_with_env(
        &self,
        mut config: SessionConfig,
        env_password: Option<String>,
    ) -> anyhow::Result<SessionConfig> {
        if self.tls || self.ca.is_some() || self.insecure {
            if self.insecure {
                eprintln!("{INSECURE_WARNING}");
            }
            config = config.with_tls(TlsOptions {
                ca_file: self.ca.clone(),
                insecure: self.insecure,
            });
        }
        let password = match &self.password_file {
            Some(path) => Some(read_password_file(path)?),
            None => env_password.filter(|p| !p.is_empty()),
        };
        if let Some(password) = password {
            config = config.with_password(password);
        }
        Ok(config)
    }
}

pub use chat_core::credentials::read_password_file;

/// The rooms a bot joins after connecting, besides the server's default room
/// (which every connection is in, and which the bots stay in); every bot
/// flattens it into its flags (`#[command(flatten)]`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RoomFlags {
    /// Join this room too after connecting (repeat for more; with or without
    /// the `#`). The bot stays in the server's default room as well.
    #[arg(short = 'r', long = "room", value_name = "NAME", value_parser = chat_core::names::room_arg)]
    pub names: Vec<String>,
}

/// Asks to join each of `rooms`. The answers (`Event::RoomJoined`, or an
/// `Event::Error` for a refusal such as too many rooms) arrive in the event
/// stream; a bot prints refusals and goes on in the rooms it got into. After
/// a reconnection core joins again every room the session was in.
///
/// # Errors
/// When the session is disconnected or over.
pub async fn join_rooms(sender: &SessionSender, rooms: &[String]) -> anyhow::Result<()> {
    for room in rooms {
        sender
            .join(room.as_str())
            .await
            .with_context(|| format!("cannot join #{room}"))?;
    }
    Ok(())
}

/// A bot's configuration from its flags: `server` and `name`, TLS and the
/// password from `access`, and reconnecting (with core's default backoff)
/// when the server goes away, as a long-running bot should.
///
/// # Errors
/// As [`Access::apply`].
pub fn bot_config(server: String, name: String, access: &Access) -> anyhow::Result<SessionConfig> {
    Ok(access
        .apply(SessionConfig::new(server, name))?
        .reconnecting())
}

/// Connects and joins the room as `config.name`, or says why not
/// ("echo cannot join 127.0.0.1:8001: cannot connect to …: connection
/// refused"). While the server cannot be reached and `config` reconnects,
/// waits as core does between reconnections (the config's backoff), tells
/// `on_wait` (which prints it) and tries again. A refusal (name taken,
/// server full, wrong password) ends the bot: waiting would not change it.
///
/// # Errors
/// A refusal, or the first failure when `config` does not reconnect, with
/// the bot's name and the server's address as context; whatever `on_wait`
/// returns.
pub async fn join_patiently(
    config: SessionConfig,
    mut on_wait: impl FnMut(Status) -> anyhow::Result<()>,
) -> anyhow::Result<TcpSession> {
    let context = format!("{} cannot join {}", config.name, config.addr);
    for attempt in 1.. {
        let error = match TcpSession::connect(config.clone()).await {
            Ok(session) => return Ok(session),
            Err(e) => e,
        };
        let unreachable = matches!(
            error,
            ChatError::Connect { .. }
                | ChatError::Timeout { .. }
                | ChatError::ServerClosed
                | ChatError::Io(_)
        );
        let Some(backoff) = config.reconnect.filter(|_| unreachable) else {
            return Err(error).context(context);
        };
        let delay = backoff.delay(attempt);
        on_wait(Status::Disconnected {
            reason: error.to_string(),
            retry_in: Some(delay),
        })?;
        async_std::task::sleep(delay).await;
    }
    unreachable!("the attempts never run out")
}

/// [`join_patiently`], printing each wait on stdout.
///
/// # Errors
/// As [`join_patiently`].
pub async fn join(config: SessionConfig) -> anyhow::Result<TcpSession> {
    join_patiently(config, |status| {
        println!("{}", chat_core::render::status_text(&status));
        Ok(())
    })
    .await
}

/// What a bot tells its operator about its session, and why the session
/// ended. Every bot feeds it each event; the event stream ends only when the
/// session is over for good (kicked, refused on reconnecting, or the server
/// gone without reconnecting), and [`Watch::ended`] turns that into an
/// error, so the bot exits non-zero and a supervisor restarts it.
#[derive(Debug, Default)]
pub struct Watch {
    reason: Option<String>,
}

impl Watch {
    /// Prints the connection's changes on stdout and refusals on stderr
    /// (never answered in a room: that is how loops start), and remembers
    /// why the session ended.
    pub fn note(&mut self, event: &Event) {
        match event {
            Event::Status(status) => {
                println!("{}", chat_core::render::status_text(status));
                if let Status::Disconnected {
                    reason,
                    retry_in: None,
                } = status
                {
                    self.reason = Some(reason.clone());
                }
            }
            Event::Error(e) => eprintln!("! {}", chat_core::sanitize(&e.message)),
            _ => {}
        }
    }

    /// The error to end the bot with, once its event stream is over.
    ///
    /// # Errors
    /// Always: a bot's session ends only when something went wrong.
    pub fn ended(self) -> anyhow::Result<()> {
        let reason = self
            .reason
            .unwrap_or_else(|| "the connection ended".to_owned());
        Err(anyhow::anyhow!("the session ended: {reason}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(args: &[&str]) -> Access {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            access: Access,
        }
        let args = std::iter::once("bot").chain(args.iter().copied());
        <Flags as clap::Parser>::try_parse_from(args)
            .expect("valid flags")
            .access
    }

    #[test]
    fn ca_and_insecure_imply_tls_and_conflict() {
        let config = |a: &Access| {
            a.apply_with_env(SessionConfig::new("h:1", "b"), None)
                .expect("no file to read")
        };
        assert_eq!(config(&access(&[])).tls, None);
        assert_eq!(config(&access(&["--tls"])).tls, Some(TlsOptions::default()));
        let ca = config(&access(&["--ca", "ca.pem"])).tls.expect("TLS");
        assert_eq!(ca.ca_file, Some(PathBuf::from("ca.pem")));
        assert!(config(&access(&["--insecure"])).tls.expect("TLS").insecure);
        #[derive(Debug, clap::Parser)]
        struct Flags {
            #[command(flatten)]
            access: Access,
        }
        assert!(<Flags as clap::Parser>::try_parse_from(["b", "--ca", "x", "--insecure"]).is_err());
    }

    #[test]
    fn rooms_repeat_lose_their_hash_and_are_checked() {
        #[derive(Debug, clap::Parser)]
        struct Flags {
            #[command(flatten)]
            rooms: RoomFlags,
        }
        let parse = |args: &[&str]| {
            let args = std::iter::once("bot").chain(args.iter().copied());
            <Flags as clap::Parser>::try_parse_from(args).map(|f| f.rooms.names)
        };
        assert_eq!(parse(&[]).expect("none"), Vec::<String>::new());
        assert_eq!(
            parse(&["--room", "#rust", "--room", "café"]).expect("two"),
            ["rust", "café"]
        );
        let err = parse(&["--room", "../etc"]).expect_err("not a room name");
        assert!(err.to_string().contains("--room"), "{err}");
        assert!(parse(&["--room", ""]).is_err());
    }

    #[test]
    fn the_password_comes_from_the_file_then_the_environment() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("pw");
        std::fs::write(&file, "open sesame\n").expect("writes");
        let with_file = access(&["--password-file", file.to_str().expect("UTF-8")]);
        let config = with_file
            .apply_with_env(SessionConfig::new("h:1", "b"), Some("env".into()))
            .expect("reads");
        assert_eq!(config.password.as_deref(), Some("open sesame"));
        let env = access(&[])
            .apply_with_env(SessionConfig::new("h:1", "b"), Some("env".into()))
            .expect("no file");
        assert_eq!(env.password.as_deref(), Some("env"));
        let unset = access(&[])
            .apply_with_env(SessionConfig::new("h:1", "b"), Some(String::new()))
            .expect("no file");
        assert_eq!(unset.password, None);
        std::fs::write(&file, "").expect("writes");
        let err = with_file
            .apply_with_env(SessionConfig::new("h:1", "b"), None)
            .expect_err("empty file");
        assert!(err.to_string().contains("is empty"), "{err}");
        std::fs::write(&file, "open\nsesame\n").expect("writes");
        let err = with_file
            .apply_with_env(SessionConfig::new("h:1", "b"), None)
            .expect_err("two lines");
        assert!(err.to_string().contains("has more than one line"), "{err}");
    }

    #[test]
    fn help_says_what_a_password_file_holds() {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            access: Access,
        }
        let command = <Flags as clap::CommandFactory>::command();
        let flag = command
            .get_arguments()
            .find(|arg| arg.get_id() == "password_file")
            .expect("--password-file");
        let help = flag.get_help().expect("help").to_string();
        assert!(
            help.contains(chat_core::credentials::PASSWORD_FILE_RULE),
            "{help}"
        );
    }
}
