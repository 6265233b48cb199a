//! `chat-repl`: the terminal client. Parses flags, picks terminal or
//! line-by-line mode, and turns any failure into one line on stderr and a
//! non-zero exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chat_core::ChatError;
use clap::Parser;

mod access;
mod client;
mod commands;
mod format;
mod gate;
mod helper;
mod interactive;
mod piped;
mod rooms;
mod shown;
mod state;

/// Chat in a room from the terminal. Without a terminal (stdin or stdout
/// piped), each input line is sent and each event printed as a line.
#[derive(Debug, Parser)]
#[command(name = "chat-repl", version)]
struct Args {
    /// The server to connect to: HOST:PORT, ws://HOST:PORT for the web
    /// gateway, or several separated by commas (a cluster's nodes: the next
    /// is tried when one fails).
    #[arg(short, long, value_name = "HOST:PORT", default_value = chat_core::DEFAULT_ADDR)]
    server: String,
    /// The name to use in the room; asked for when missing.
    #[arg(short, long)]
    name: Option<String>,
    /// Join this room too after connecting, as `/join NAME` would (repeat
    /// for more; with or without the `#`). The last one is the current room.
    #[arg(short, long = "room", value_name = "NAME", value_parser = chat_core::names::room_arg)]
    rooms: Vec<String>,
    /// Neither read nor save the input history.
    #[arg(long)]
    no_history: bool,
    /// Connect over TLS, checking the server's certificate against the
    /// system's trusted roots.
    #[arg(long)]
    tls: bool,
    /// Connect over TLS, trusting only the certificate(s) in this PEM file
    /// (for a self-signed server: its certificate).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Connect over TLS WITHOUT checking the certificate: anyone on the path
    /// can read the chat. For testing only.
    #[arg(long, conflicts_with = "ca")]
    insecure: bool,
    /// Read the room's password from this file. The whole file is the
    /// password, less a final line break; a file of more than one line is
    /// refused. Otherwise $CHAT_PASSWORD is used, and in a terminal the REPL
    /// asks when the room wants one.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Seconds of silence from the server before the REPL pings it.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    ping_after: u64,
    /// Seconds after that ping, still unanswered, before the connection is
    /// taken for dead and replaced.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    dead_after: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.insecure {
        eprintln!("{}", access::INSECURE_WARNING);
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let env_password = std::env::var(access::PASSWORD_ENV).ok();
    let mut access = access::Access::from_flags(
        args.tls,
        args.ca,
        args.insecure,
        args.password_file.as_deref(),
        env_password,
    )?;
    access.can_ask = std::io::stdin().is_terminal();
    access.liveness = Some((
        Duration::from_secs(args.ping_after),
        Duration::from_secs(args.dead_after),
    ));
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if interactive {
        let history = if args.no_history {
            None
        } else {
            interactive::history_path()
        };
        interactive::run(args.server, args.name, args.rooms, access, history)
    } else {
        async_std::task::block_on(piped::run(args.server, args.name, args.rooms, access))
    }
}

/// The error as one line: each context, then the cause. Core's errors
/// already say everything (the I/O cause included, in words), so the chain
/// stops at the first of them.
fn one_line(err: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in err.chain() {
        parts.push(cause.to_string());
        if cause.downcast_ref::<ChatError>().is_some() {
            break;
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

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
            "chat-repl",
            "-s",
            "h:1",
            "-n",
            "ann",
            "-r",
            "#rust",
            "-r",
            "go",
        ])
        .expect("short flags");
        assert_eq!(
            (args.server.as_str(), args.name.as_deref()),
            ("h:1", Some("ann"))
        );
        assert_eq!(args.rooms, ["rust", "go"]);
        let err = Args::try_parse_from(["chat-repl", "--room", "../etc"]).expect_err("bad room");
        assert!(err.to_string().contains("--room"), "{err}");
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
