//! `chat-gui`: the desktop client. Parses the flags, loads the remembered
//! fields, and runs the druid window; the network runs on async-std tasks
//! (see `net`).

mod compose;
mod config;
mod conversation;
mod keys;
mod label;
mod log;
mod mask;
mod net;
mod paste;
mod roomlist;
mod rooms;
mod route;
mod state;
mod theme;
#[cfg(test)]
mod typing_tests;
mod ui;
mod view;
mod viewport;
#[cfg(test)]
mod window_tests;
mod wrap;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use druid::{AppDelegate, AppLauncher, DelegateCtx, Env, WindowDesc, WindowId};
use serde::{Deserialize, Serialize};

use crate::log::Transcript;
use crate::state::AppState;

/// The chat room's desktop client.
#[derive(Debug, Clone, Parser, Serialize, Deserialize)]
#[command(version, about)]
struct Args {
    /// Server address, HOST:PORT (default: the last one used, else
    /// 127.0.0.1:8001); several separated by commas are a cluster's nodes,
    /// tried in turn.
    #[arg(short, long, value_name = "HOST:PORT")]
    server: Option<String>,
    /// Your name (default: the last one used, else your login name).
    #[arg(short, long)]
    name: Option<String>,
    /// Join this room too after connecting (repeat for more; with or
    /// without the `#`). The last one is shown.
    #[arg(short, long = "room", value_name = "NAME", value_parser = chat_core::names::room_arg)]
    #[serde(default)]
    rooms: Vec<String>,
    /// Connect as soon as the window opens.
    #[arg(long)]
    connect: bool,
    /// How many lines each room's conversation keeps.
    #[arg(long, value_name = "LINES", default_value_t = log::SCROLLBACK)]
    scrollback: usize,
    /// Append every line the conversation shows to this file (for tests and
    /// logs; also CHAT_GUI_TRANSCRIPT).
    #[arg(long, value_name = "FILE")]
    transcript: Option<PathBuf>,
    /// Tick the TLS box (otherwise it is as last time).
    #[arg(long)]
    tls: bool,
    /// With TLS, trust only the certificates in this PEM file (a private CA
    /// or the server's self-signed certificate) instead of the system roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// With TLS, do NOT check the server's certificate. Anyone on the path
    /// can then read the chat: for testing only.
    #[arg(long)]
    insecure: bool,
    /// Read the room password from this file into the password field. The
    /// whole file is the password, less a final line break; a file of more
    /// than one line is refused. CHAT_PASSWORD in the environment does the
    /// same.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Ping the server after this many seconds of silence (default 30); the
    /// status bar shows how long it has not answered.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    ping_after: Option<u64>,
    /// Give a pinged server up after this many more seconds without an
    /// answer, and reconnect (default 30).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    dead_after: Option<u64>,
}

impl Args {
    /// `--ping-after` / `--dead-after`, the one not given at its default;
    /// `None` when neither is given.
    fn liveness(&self) -> Option<(Duration, Duration)> {
        if self.ping_after.is_none() && self.dead_after.is_none() {
            return None;
        }
        let secs = |s: Option<u64>| Duration::from_secs(s.unwrap_or(DEFAULT_LIVENESS_SECS));
        Some((secs(self.ping_after), secs(self.dead_after)))
    }
}

/// chat-core's default for both liveness intervals.
const DEFAULT_LIVENESS_SECS: u64 = 30;

/// The room password from `--password-file` or `CHAT_PASSWORD`. The
/// variable is removed from the environment once read.
fn initial_password(args: &Args) -> anyhow::Result<String> {
    let from_env = std::env::var(PASSWORD_ENV).ok();
    std::env::remove_var(PASSWORD_ENV);
    match &args.password_file {
        Some(path) => Ok(chat_core::credentials::read_password_file(path)?),
        None => Ok(from_env.unwrap_or_default()),
    }
}

/// Where a password can be handed over without showing in `ps`.
use chat_core::credentials::PASSWORD_ENV;

/// Carries the parsed flags across the re-exec that hides them from GTK.
const ARGS_ENV: &str = "CHAT_GUI_ARGS";

fn main() -> anyhow::Result<()> {
    let args = match std::env::var(ARGS_ENV) {
        Ok(json) => {
            std::env::remove_var(ARGS_ENV);
            serde_json::from_str(&json).context("bad CHAT_GUI_ARGS")?
        }
        Err(_) => {
            let args = Args::parse();
            if std::env::args_os().len() > 1 {
                hide_args_from_gtk(&args)?;
            }
            args
        }
    };
    run(args)
}

/// GTK parses the process arguments itself and refuses ours (`--server`…),
/// and druid offers no way to hand it others. So, once clap has parsed
/// them, the program replaces itself (same process, same pid) with a copy
/// started with no arguments and the parsed flags in an environment variable.
fn hide_args_from_gtk(args: &Args) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find my own executable")?;
    let json = serde_json::to_string(args).context("cannot encode the flags")?;
    let mut command = std::process::Command::new(&exe);
    command.env(ARGS_ENV, json);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        if let Some(arg0) = std::env::args_os().next() {
            command.arg0(arg0);
        }
        let error = command.exec();
        Err(error).with_context(|| format!("cannot restart {}", exe.display()))
    }
    #[cfg(not(unix))]
    {
        let status = command
            .status()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        std::process::exit(status.code().unwrap_or(1));
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let config_path = config::path();
    let saved = config::Config::load(config_path.as_deref());
    let server = args.server.clone().unwrap_or(saved.server);
    let name = args.name.clone().unwrap_or(saved.name);
    let password = initial_password(&args)?;
    if args.insecure {
        eprintln!("chat-gui: WARNING: {}", state::INSECURE_WARNING);
    }

    let ids = ui::Ids::new();
    let window = WindowDesc::new(ui::build(ids))
        .title(|d: &AppState, _: &Env| d.title())
        .window_size((980.0, 640.0))
        .with_min_size(ui::MIN_WINDOW);
    let launcher = AppLauncher::with_window(window).configure_env(|env, _| theme::configure(env));
    let net = net::Net::new(launcher.get_external_handle());
    let mut state = AppState::new(server, name)
        .with_connector(Arc::new(net))
        .with_config_path(config_path)
        .with_scrollback(args.scrollback);
    state.password = mask::Masked::new(&password);
    state.tls = args.tls || saved.tls;
    state.liveness = args.liveness();
    state.join_at_start.clone_from(&args.rooms);
    state.ca_file = match &args.ca {
        Some(path) => path.display().to_string(),
        None => saved.ca_file,
    };
    state.tls_options = chat_core::TlsOptions {
        ca_file: None,
        insecure: args.insecure,
    };
    let transcript = args
        .transcript
        .clone()
        .or_else(|| std::env::var_os("CHAT_GUI_TRANSCRIPT").map(PathBuf::from));
    if let Some(path) = &transcript {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the transcript {}", path.display()))?;
        state = state.with_transcript(Transcript::new(file));
    }
    launcher
        .delegate(Delegate {
            connect_at_start: args.connect,
        })
        .launch(state)
        .context("cannot open the window (is there a display?)")?;
    // Closing the window queued a polite quit; give it a moment to be written.
    std::thread::sleep(std::time::Duration::from_millis(200));
    Ok(())
}

/// Starts the network once the window exists: druid drops idle callbacks
/// submitted before that, so `--connect` must not act earlier.
struct Delegate {
    connect_at_start: bool,
}

impl AppDelegate<AppState> for Delegate {
    fn window_added(
        &mut self,
        _id: WindowId,
        _handle: druid::WindowHandle,
        data: &mut AppState,
        _env: &Env,
        _ctx: &mut DelegateCtx,
    ) {
        if std::mem::take(&mut self.connect_at_start) {
            data.connect();
        }
    }

    fn window_removed(
        &mut self,
        _id: WindowId,
        data: &mut AppState,
        _env: &Env,
        _ctx: &mut DelegateCtx,
    ) {
        data.disconnect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn liveness_flags_default_the_other_interval() {
        let parse = |args: &[&str]| {
            Args::try_parse_from(std::iter::once("chat-gui").chain(args.iter().copied()))
                .map(|a| a.liveness())
        };
        assert_eq!(parse(&[]).ok(), Some(None));
        let secs = Duration::from_secs;
        assert_eq!(
            parse(&["--ping-after", "2"]).ok(),
            Some(Some((secs(2), secs(30))))
        );
        assert_eq!(
            parse(&["--ping-after", "2", "--dead-after", "4"]).ok(),
            Some(Some((secs(2), secs(4))))
        );
        assert!(parse(&["--dead-after", "0"]).is_err());
    }

    #[test]
    fn help_says_what_a_password_file_holds() {
        let command = Args::command();
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

    #[test]
    fn short_flags_match_the_other_clients() {
        let args = Args::try_parse_from([
            "chat-gui", "-s", "h:1", "-n", "ann", "-r", "#rust", "-r", "go",
        ])
        .expect("short flags");
        assert_eq!(args.server.as_deref(), Some("h:1"));
        assert_eq!(args.name.as_deref(), Some("ann"));
        assert_eq!(args.rooms, ["rust", "go"]);
    }

    #[test]
    fn help_wraps_to_the_terminal_width() {
        let help = Args::command()
            .term_width(60)
            .render_long_help()
            .to_string();
        let long: Vec<&str> = help.lines().filter(|l| l.chars().count() > 60).collect();
        assert!(long.is_empty(), "lines wider than 60 columns: {long:#?}");
    }
}
