//! The `chat-server` binary: parses flags, sets up logging, binds, and runs
//! the server until Ctrl-C or SIGTERM.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use async_std::net::TcpListener;
use chat_server::config::{ClusterConfig, DEFAULT_LINGER};
use chat_server::{Config, RateLimit, Secret};
use clap::Parser;
use futures::channel::mpsc;
use futures::StreamExt;
use tracing::{info, warn};

/// The chat room's relay server: accepts clients, relays every message to
/// everyone in one order, and logs each client's life to the terminal.
///
/// Connect with `chat-repl`, `chat-gui`, a bot, or plainly with
/// `nc HOST PORT`. Logging follows RUST_LOG (default: info).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Tool>,
    /// Address to listen on; 0.0.0.0:8001 serves the LAN.
    #[arg(long, default_value = chat_core::DEFAULT_ADDR)]
    listen: String,
    /// Also accept IRC clients (irssi, WeeChat, HexChat) on this address,
    /// in the same rooms under the same names; 6667 by convention. Plain
    /// TCP, even with --tls-cert (see --irc-tls-listen).
    #[arg(long, value_name = "ADDR")]
    irc_listen: Option<String>,
    /// Accept IRC clients over TLS on this address, with the server's
    /// certificate (--tls-cert, --tls-key); 6697 by convention.
    #[arg(long, value_name = "ADDR", requires = "tls_cert")]
    irc_tls_listen: Option<String>,
    /// Serve the web client on this address: open http://ADDR/ in a
    /// browser, name yourself, chat in the same rooms. Its WebSocket (/ws)
    /// carries the structured protocol. HTTPS and WSS with --tls-cert.
    #[arg(long, value_name = "ADDR")]
    web_listen: Option<String>,
    /// Let pages of this origin (scheme://host[:port]) open the web
    /// client's WebSocket too (repeatable); only the server's own page may
    /// otherwise, so another site cannot chat in a visitor's name.
    #[arg(long = "web-origin", value_name = "ORIGIN", requires = "web_listen")]
    web_origins: Vec<String>,
    /// The room everyone joins on connecting (nc users, version-1 clients
    /// and bots included).
    #[arg(long, value_name = "NAME", default_value = "lobby")]
    default_room: String,
    /// A room that always exists, even when empty (repeatable). Others are
    /// created by /join and removed when their last member leaves.
    #[arg(long = "room", value_name = "NAME")]
    rooms: Vec<String>,
    /// Rooms at once on the server, configured ones included.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_rooms: usize,
    /// Rooms one connection may be in at once, the default room included.
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_rooms_per_client: usize,
    /// Only operators may set a room's topic (anyone in the room otherwise).
    #[arg(long)]
    topic_ops_only: bool,
    /// History each room keeps in the database: a count of messages
    /// (10000), an age (30d, 12h, 90m) or "all".
    #[arg(long, value_name = "N|AGE|all", default_value = "10000")]
    history_keep: chat_server::history::Keep,
    /// Longest accepted line in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8192)]
    max_line: usize,
    /// Bytes queued for a client before it is dropped as a slow reader.
    #[arg(long, value_name = "BYTES", default_value_t = 256 * 1024)]
    max_send_queue: usize,
    /// Per-client rate: BURST/PER_SECOND (e.g. 10/5), or "off".
    #[arg(long, value_name = "BURST/RATE|off", default_value = "10/5")]
    rate_limit: String,
    /// Connections at once, over all addresses.
    #[arg(long, default_value_t = 10_000)]
    max_clients: usize,
    /// Connections at once from one IP address.
    #[arg(long, default_value_t = 100)]
    max_per_ip: usize,
    /// Seconds a new connection may take to pick a name.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    name_timeout: u64,
    /// Seconds of silence before a structured client is pinged.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    ping_interval: u64,
    /// Seconds of silence (ping unanswered) before a structured client is dropped.
    #[arg(long, value_name = "SECS", default_value_t = 90)]
    idle_timeout: u64,
    /// Seconds a connection may be idle before the kernel's keepalive probes
    /// (every 10 s, 6 of them) check the peer is still there; 0 turns them off.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    tcp_keepalive: u64,
    /// Seconds between one-line status logs; 0 for none.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    status_interval: u64,
    /// Recent messages shown to each newcomer on joining; 0 for none.
    #[arg(long, value_name = "N", default_value_t = 50)]
    replay: usize,
    /// Rooms with more than N people count arrivals and departures once a
    /// second instead of announcing each one, and list their members only
    /// when asked (/who); "off" announces every join and leave in every
    /// room.
    #[arg(long, value_name = "N|off", default_value = "250")]
    large_room: String,
    /// When a chat line wakes a quiet room, the room takes the lines
    /// already waiting in other connections before it writes, so that lines
    /// sent together reach each member in one write. With N > 0 it also
    /// waits N microseconds first, for lines that come a little later: fewer
    /// writes then, at the cost of a wake-up per line and N µs more latency.
    #[arg(long, value_name = "MICROS", default_value_t = DEFAULT_LINGER.as_micros() as u64)]
    linger: u64,
    /// Worker threads that run connections and rooms. One thread hands a
    /// line from reader to room to every member without waking another
    /// thread; more help only when the rooms keep a whole core busy.
    /// ASYNC_STD_THREAD_COUNT, if set, wins.
    #[arg(long, value_name = "N", default_value_t = chat_server::runtime::DEFAULT_THREADS)]
    threads: std::num::NonZeroUsize,
    /// Serve the same rooms and names as every other server given this
    /// Redis (redis://HOST:PORT): each room's history is then a Redis
    /// stream, not SQLite. See docs/CLUSTER.md.
    #[arg(long, value_name = "REDIS_URL", conflicts_with_all = ["history_db", "no_history"])]
    cluster: Option<String>,
    /// This server's name in the cluster, unique among its nodes
    /// [default: HOSTNAME-PORT].
    #[arg(long, value_name = "NAME", requires = "cluster")]
    node: Option<String>,
    /// SQLite file that keeps the room's history across restarts
    /// [default: history.sqlite3 in the user's data directory].
    #[arg(long, value_name = "PATH", conflicts_with = "no_history")]
    history_db: Option<PathBuf>,
    /// Keep history in memory only: nothing is written to disk.
    #[arg(long)]
    no_history: bool,
    /// Serve TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "CERT.pem", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, value_name = "KEY.pem", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A file holding the room's password, which every client must give.
    /// The whole file is the password, less a final line break; a file of
    /// more than one line is refused. Or set CHAT_PASSWORD. Never a bare
    /// flag: flags show in `ps`.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// A file holding the operator password, for /oper, /kick and /ban.
    /// The whole file is the password, less a final line break; a file of
    /// more than one line is refused. Or set CHAT_OPERATOR_PASSWORD.
    #[arg(long, value_name = "FILE")]
    operator_password_file: Option<PathBuf>,
}

/// A password from `--…-file` (read as the clients read theirs: all but the
/// final line break, and one line only, since people type it) or else the
/// environment variable; `None` if neither.
fn read_secret(file: Option<&std::path::Path>, env: &str) -> anyhow::Result<Option<Secret>> {
    let password = match file {
        Some(path) => chat_core::credentials::read_password_file(path)?,
        None => match std::env::var(env) {
            Ok(value) if !value.is_empty() => value,
            _ => return Ok(None),
        },
    };
    Ok(Some(Secret::new(password)))
}

#[derive(Debug, clap::Subcommand)]
enum Tool {
    /// Makes a self-signed certificate for a LAN, named after the hosts it
    /// covers and valid for two years from today: clients trust it with
    /// `--tls --ca CERT.pem`.
    GenCert {
        /// A name or address clients use to reach the server (repeatable);
        /// the first name is also the certificate's subject [default: this
        /// machine's host name, localhost, 127.0.0.1].
        #[arg(long = "host", visible_alias = "name", value_name = "NAME|IP")]
        hosts: Vec<String>,
        /// Where to write the certificate.
        #[arg(long, value_name = "PATH", default_value = "chat-cert.pem")]
        cert: PathBuf,
        /// Where to write the private key (readable by you only).
        #[arg(long, value_name = "PATH", default_value = "chat-key.pem")]
        key: PathBuf,
    },
}

/// Writes a self-signed certificate and key, refusing to overwrite, and
/// says what it covers and until when.
fn gen_cert(hosts: &[String], cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let hosts = if hosts.is_empty() {
        chat_server::tls::default_cert_hosts()
    } else {
        hosts.to_vec()
    };
    let made = chat_server::tls::self_signed(&hosts, chrono::Utc::now().date_naive())?;
    for path in [cert, key] {
        if path.exists() {
            bail!("{} exists; not overwriting it", path.display());
        }
    }
    std::fs::write(cert, &made.cert_pem)
        .with_context(|| format!("cannot write {}", cert.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(key)
        .and_then(|mut f| f.write_all(made.key_pem.as_bytes()))
        .with_context(|| format!("cannot write {}", key.display()))?;
    println!(
        "wrote {} and {} for {} (subject CN={})\nvalid:   from {} to {} (00:00 UTC)\nserve:   chat-server --listen 0.0.0.0:8001 --tls-cert {} --tls-key {}\nconnect: chat-repl --server HOST:8001 --tls --ca {}",
        cert.display(),
        key.display(),
        hosts.join(", "),
        made.common_name,
        made.not_before,
        made.not_after,
        cert.display(),
        key.display(),
        cert.display()
    );
    Ok(())
}

/// `~/.local/share/chat-server/history.sqlite3` on Linux.
fn default_history_db() -> anyhow::Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "chat-server")
        .context("cannot find the user's data directory; pass --history-db PATH or --no-history")?;
    Ok(dirs.data_dir().join("history.sqlite3"))
}

fn parse_large_room(spec: &str) -> anyhow::Result<Option<usize>> {
    if spec.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    match spec.parse::<usize>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => bail!("--large-room takes a number of people above 0, or off, not {spec:?}"),
    }
}

fn parse_rate(spec: &str) -> anyhow::Result<Option<RateLimit>> {
    if spec.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let Some((burst, per_sec)) = spec.split_once('/') else {
        bail!("--rate-limit takes BURST/PER_SECOND (e.g. 10/5) or off, not {spec:?}");
    };
    let burst: u32 = burst.trim().parse().context("--rate-limit burst")?;
    let per_sec: f64 = per_sec.trim().parse().context("--rate-limit rate")?;
    if burst == 0 || per_sec.is_nan() || per_sec <= 0.0 {
        bail!("--rate-limit needs a burst and a rate above 0 (or off)");
    }
    Ok(Some(RateLimit { burst, per_sec }))
}

/// A room name from a flag, with or without `#`.
fn parse_room_flag(flag: &str, room: &str) -> anyhow::Result<String> {
    chat_core::names::parse_room(room)
        .map(str::to_owned)
        .with_context(|| format!("{flag} {room}"))
}

/// A node name from the host's name and the listening port.
fn default_node(listen: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    let port = listen.rsplit(':').next().unwrap_or("0");
    let name: String = format!("{host}-{port}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    name
}

impl Args {
    fn config(&self) -> anyhow::Result<Config> {
        Ok(Config {
            default_room: parse_room_flag("--default-room", &self.default_room)?,
            rooms: self
                .rooms
                .iter()
                .map(|room| parse_room_flag("--room", room))
                .collect::<anyhow::Result<_>>()?,
            max_rooms: self.max_rooms.max(1 + self.rooms.len()),
            max_rooms_per_client: self.max_rooms_per_client.max(1),
            topic_ops_only: self.topic_ops_only,
            history_keep: self.history_keep,
            max_line: self.max_line,
            max_send_queue: self.max_send_queue,
            rate_limit: parse_rate(&self.rate_limit)?,
            large_room: parse_large_room(&self.large_room)?,
            linger: Duration::from_micros(self.linger),
            max_clients: self.max_clients,
            max_per_ip: self.max_per_ip,
            name_timeout: Duration::from_secs(self.name_timeout),
            ping_interval: Duration::from_secs(self.ping_interval),
            idle_timeout: Duration::from_secs(self.idle_timeout.max(self.ping_interval + 1)),
            keepalive: (self.tcp_keepalive > 0).then(|| {
                chat_server::config::keepalive(
                    Duration::from_secs(self.tcp_keepalive),
                    Duration::from_secs(10),
                    6,
                )
            }),
            status_interval: (self.status_interval > 0)
                .then(|| Duration::from_secs(self.status_interval)),
            replay: self.replay,
            history_db: match (&self.history_db, self.no_history) {
                _ if self.cluster.is_some() => None,
                (_, true) => None,
                (Some(path), false) => Some(path.clone()),
                (None, false) => Some(default_history_db()?),
            },
            password: read_secret(self.password_file.as_deref(), "CHAT_PASSWORD")?,
            operator_password: read_secret(
                self.operator_password_file.as_deref(),
                "CHAT_OPERATOR_PASSWORD",
            )?,
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(chat_server::tls::load(cert, key)?),
                _ => None,
            },
            cluster: self.cluster.as_ref().map(|url| ClusterConfig {
                url: url.clone(),
                node: self
                    .node
                    .clone()
                    .unwrap_or_else(|| default_node(&self.listen)),
            }),
            web_origins: self
                .web_origins
                .iter()
                .map(|origin| chat_server::web::normalize_origin(origin))
                .collect::<Result<_, _>>()
                .context("--web-origin")?,
            ..Config::default()
        })
    }
}

fn main() -> ExitCode {
    // Before any thread starts: thousands of idle connections cost half
    // the memory in one malloc arena (see chat_server::heap).
    chat_server::heap::one_arena();
    let args = Args::parse();
    if let Some(Tool::GenCert { hosts, cert, key }) = &args.command {
        return match gen_cert(hosts, cert, key) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("chat-server gen-cert: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    // Lines go to stderr from a thread of their own: with one worker
    // thread, a log pipe that fills up must not stop the chat.
    let log = match chat_server::stderr_log::StderrLog::start() {
        Ok(log) => log,
        Err(e) => {
            eprintln!("chat-server: cannot start the log's thread: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_writer(log.clone())
        .with_ansi(std::io::stderr().is_terminal())
        // A log nobody reads any more (a closed pipe) must not stop the
        // server: by default a failed write would be reported with
        // eprintln!, which panics on that same closed pipe (the log's
        // thread gives up on failed writes itself).
        .log_internal_errors(false)
        .init();
    let served = chat_server::runtime::run(args.threads, serve(args));
    // The last lines (who was disconnected, "server stopped") before exit.
    log.flush(Duration::from_secs(2));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves and binds `addr`, the value of `flag`.
async fn bind(flag: &str, addr: &str) -> anyhow::Result<(TcpListener, Vec<SocketAddr>)> {
    let addrs: Vec<SocketAddr> = async_std::net::ToSocketAddrs::to_socket_addrs(addr)
        .await
        .with_context(|| format!("cannot resolve {flag} {addr}"))?
        .collect();
    let listener = TcpListener::bind(&addrs[..])
        .await
        .map_err(|e| anyhow::anyhow!(chat_core::error::describe_io(&e)))
        .with_context(|| format!("cannot listen on {addr}"))?;
    Ok((listener, addrs))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let config = args.config()?;
    let (listener, addrs) = bind("--listen", &args.listen).await?;
    let irc = match &args.irc_listen {
        Some(addr) => {
            let (irc, irc_addrs) = bind("--irc-listen", addr).await?;
            if irc_addrs.iter().any(|a| !a.ip().is_loopback()) {
                warn!(
                    "serving IRC in plain TCP beyond this machine: anyone on the path can read it"
                );
            }
            Some(irc)
        }
        None => None,
    };

    if config.tls.is_none() && addrs.iter().any(|a| !a.ip().is_loopback()) {
        warn!(
            "serving plain TCP beyond this machine: anyone on the path can read the chat; \
             use --tls-cert and --tls-key (chat-server gen-cert makes a pair)"
        );
    }

    let (signal_tx, mut signals) = mpsc::unbounded::<()>();
    ctrlc::set_handler(move || {
        // A second Ctrl-C means "now": skip the graceful flush.
        if signal_tx.unbounded_send(()).is_err() {
            std::process::exit(130);
        }
    })
    .context("cannot install the Ctrl-C / SIGTERM handler")?;
    let shutdown = async move {
        signals.next().await;
        info!("signal received");
        signals.close();
    };
    let irc_tls = match &args.irc_tls_listen {
        Some(addr) => Some(bind("--irc-tls-listen", addr).await?.0),
        None => None,
    };
    let web = match &args.web_listen {
        Some(addr) => {
            let (web, web_addrs) = bind("--web-listen", addr).await?;
            if config.tls.is_none() && web_addrs.iter().any(|a| !a.ip().is_loopback()) {
                warn!(
                    "serving the web client over plain HTTP beyond this machine: anyone on the \
                     path can read the chat; use --tls-cert and --tls-key for HTTPS"
                );
            }
            Some(web)
        }
        None => None,
    };
    let listeners = chat_server::Listeners {
        chat: listener,
        irc,
        irc_tls,
        web,
    };
    chat_server::run_with(listeners, config, shutdown).await?;
    Ok(())
}
