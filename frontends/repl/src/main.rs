//! `chat-repl`: the terminal client. Parses flags, picks terminal or
//! line-by-line mode, and turns any failure into one line on stderr and a
//! non-zero exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use chat_core::ChatError;
use clap::Parser;

mod client;
mod commands;
mod format;
mod helper;
mod interactive;
mod piped;
mod state;

/// Chat in a room from the terminal. Without a terminal (stdin or stdout
/// piped), each input line is sent and each event printed as a line.
#[derive(Debug, Parser)]
#[command(name = "chat-repl", version)]
struct Args {
    /// The server to connect to.
    #[arg(short, long, value_name = "HOST:PORT", default_value = chat_core::DEFAULT_ADDR)]
    server: String,
    /// The name to use in the room; asked for when missing.
    #[arg(short, long)]
    name: Option<String>,
    /// Neither read nor save the input history.
    #[arg(long)]
    no_history: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let result = if interactive {
        let history = if args.no_history {
            None
        } else {
            interactive::history_path()
        };
        interactive::run(args.server, args.name, history)
    } else {
        async_std::task::block_on(piped::run(args.server, args.name))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error as one line. Core's errors already say everything (the I/O
/// cause included, in words), so their source chain is left out.
fn one_line(err: &anyhow::Error) -> String {
    match err.downcast_ref::<ChatError>() {
        Some(chat) => chat.to_string(),
        None => format!("{err:#}"),
    }
}
