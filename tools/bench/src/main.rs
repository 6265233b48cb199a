//! The `chat-bench` command line: relay, baseline and compare runs, presets,
//! one busy room against several, soak and churn, with a spawned
//! `chat-server` when asked.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use chat_bench::baseline::{Baseline, BaselineProcess};
use chat_bench::idle::{idle_table, run_idle, IdleParams, Speech};
use chat_bench::procfs::Probe;
use chat_bench::report::{
    cell, comparison_table, figures, labelled_comparison, median_figures, rooms_figures,
    single_table, Figure, Unit,
};
use chat_bench::scenario::{check_loopback, run_relay, RelayParams, RelayReport};
use chat_bench::soak::{run_soak, SoakParams, SoakReport};
use chat_bench::spawned::wait_listening;
use clap::{Args, Parser, Subcommand, ValueEnum};

mod cluster;
mod ircd;

/// Load generator, raw fan-out baseline and soak test for chat-server.
/// Loopback only. Many clients need `ulimit -n` raised in the same shell.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Load a running server (start it with `--rate-limit off`).
    Relay {
        /// The server's address.
        #[arg(long)]
        server: String,
        /// The server's pid, to read its CPU time and memory from /proc.
        #[arg(long)]
        server_pid: Option<u32>,
        #[command(flatten)]
        shape: Shape,
    },
    /// Run the same load against an in-process raw fan-out (no chat logic).
    Baseline {
        #[command(flatten)]
        shape: Shape,
    },
    /// Spawn chat-server, load it, then the baseline; print both and the ratios.
    Compare {
        #[command(flatten)]
        spawn: Spawn,
        /// Runs of each; the table shows medians.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Where the baseline runs.
        #[arg(long, value_enum, default_value_t = BaselineHome::Process)]
        baseline: BaselineHome,
        #[command(flatten)]
        shape: Shape,
    },
    /// One busy room, then R busy rooms of the same shape, each on a freshly
    /// spawned chat-server; print both and R rooms / 1 room (issue 12).
    Rooms {
        #[command(flatten)]
        spawn: Spawn,
        /// Runs of each; the table shows medians.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        #[command(flatten)]
        shape: RoomsShape,
    },
    /// The same load on one server, on one cluster node with Redis, and
    /// split over two cluster nodes sharing the room through Redis (a
    /// redis-server of its own, persistence off); print all three and what
    /// the hop through Redis costs (issue 14).
    Cluster {
        #[command(flatten)]
        spawn: Spawn,
        /// Runs of each; the tables show medians.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        #[command(flatten)]
        shape: Shape,
    },
    /// The same IRC load on chat-server's IRC listener and on ngIRCd (the C
    /// IRC server), each freshly spawned: a busy channel (every client joins
    /// #lobby; a preset or the shape given), then idle IRC clients (in
    /// #lobby too) for the memory per connection; print both and
    /// chat-server / ngIRCd (issue 18).
    Ircd {
        #[command(flatten)]
        spawn: Spawn,
        /// The ngIRCd binary (Debian package ngircd).
        #[arg(long, default_value = chat_bench::ngircd::DEFAULT_BIN)]
        ngircd: PathBuf,
        /// Runs of each; the tables show medians.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Idle IRC clients (registered, in #lobby) for the memory per
        /// connection; 0 skips that part.
        #[arg(long, default_value_t = 2_000)]
        idle: usize,
        #[command(flatten)]
        shape: Shape,
    },
    /// Minutes of mixed traffic and misbehaviour (the server keeps its rate limit).
    Soak {
        #[command(flatten)]
        target: Target,
        /// How long traffic runs.
        #[arg(long, default_value_t = 2.0)]
        minutes: f64,
        /// Steady chatters.
        #[arg(long, default_value_t = 12)]
        steady: usize,
    },
    /// N clients pick a name and sit idle, structured and plain, each mode
    /// on a freshly spawned chat-server: the server's memory per idle
    /// connection (VmRSS growth / N, from /proc) for each (issue 18).
    Idle {
        #[command(flatten)]
        spawn: Spawn,
        /// A running server instead (then one --mode, and --server-pid).
        #[arg(long)]
        server: Option<String>,
        /// The running server's pid, to read its memory from /proc.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Idle clients (10,000 needs `ulimit -n` above 10,100).
        #[arg(long, default_value_t = 2_000)]
        clients: usize,
        /// How the clients speak.
        #[arg(long, value_enum, default_value_t = IdleMode::Both)]
        mode: IdleMode,
        /// Runs of each mode, each on a fresh server; the table shows medians.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Seconds a run may take to connect everyone and settle.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// Seconds the clients stay connected after the measurement, to
        /// inspect the server meanwhile (gdb, heaptrack, /proc/PID/smaps).
        #[arg(long, default_value_t = 0.0)]
        hold: f64,
    },
    /// Serve the raw fan-out baseline in this process until stdin closes
    /// (to measure it from outside, as a server is measured).
    #[command(hide = true)]
    ServeBaseline,
    /// Clients connecting and disconnecting while others chat.
    Churn {
        #[command(flatten)]
        target: Target,
        /// Connect/disconnect cycles in all.
        #[arg(long, default_value_t = 1000)]
        cycles: u64,
    },
}

/// Where `compare` runs the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BaselineHome {
    /// A process of its own, measured whole as the server is (fair: each
    /// side pays for its own reactor).
    Process,
    /// A thread of this process, beside the clients, whose threads share its
    /// reactor and pay for part of its waiting (the figures before issue 18,
    /// round 3).
    Thread,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Preset {
    /// 50 clients, 5 senders × 2,000 messages, as fast as possible.
    Burst,
    /// 50 clients, 5 senders × 200 messages/s for 5 s.
    Paced,
    /// 10,000 idle clients, then one message to all.
    Scale,
}

/// How the idle clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum IdleMode {
    /// The structured protocol (`hello`).
    Structured,
    /// Plain text: a name on a line, as with `nc`.
    Plain,
    /// Structured, then plain, each on its own server.
    Both,
}

impl IdleMode {
    fn speeches(self) -> Vec<Speech> {
        match self {
            Self::Structured => vec![Speech::Structured],
            Self::Plain => vec![Speech::Plain],
            Self::Both => vec![Speech::Structured, Speech::Plain],
        }
    }
}

/// The shape of a relay run; a preset fills what is not given.
#[derive(Debug, Clone, Args)]
struct Shape {
    /// A scenario from issue 7.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Clients connected (up to 10,000 and beyond, given `ulimit -n`).
    #[arg(long)]
    clients: Option<usize>,
    /// How many of the clients send.
    #[arg(long)]
    senders: Option<usize>,
    /// Messages per sender.
    #[arg(long)]
    messages: Option<u64>,
    /// Messages per second per sender (default: as fast as possible).
    #[arg(long, value_name = "PER_SEC")]
    rate: Option<f64>,
    /// Bytes of text per message.
    #[arg(long, default_value_t = 32)]
    payload: usize,
    /// With --rate: spread the senders' messages evenly over each period,
    /// as independent people would send, instead of all senders sending
    /// in step (one message each at the same instants).
    #[arg(long)]
    stagger: bool,
    /// Leave each client's TCP acknowledgements as set-up left them. By
    /// default every client starts the run out of Linux's delayed-ACK
    /// "ping-pong" mode, which some clients' set-up traffic leaves them in
    /// and others' not; on loopback their acknowledgements then land on
    /// the server's CPU or the clients' (docs/BENCHMARKS.md).
    #[arg(long)]
    keep_ack_mode: bool,
    /// Seconds before a run gives up.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Rooms `r1`…`rN`, each with `--clients` clients and `--senders`
    /// senders (relay only: the baseline has no rooms); 0 keeps everyone in
    /// the server's default room.
    #[arg(long, default_value_t = 0)]
    rooms: usize,
    /// Speak IRC instead, every client in this channel (`relay` against an
    /// IRC listener or any IRC server, e.g. `--irc '#lobby'`; `ircd` uses
    /// it for both servers, `#lobby` when not given).
    #[arg(long, value_name = "CHANNEL")]
    irc: Option<String>,
}

/// The shape of a rooms comparison: the same room, once alone and then
/// `rooms` times at once.
#[derive(Debug, Clone, Args)]
struct RoomsShape {
    /// Busy rooms in the second run (the first has one).
    #[arg(long, default_value_t = 4)]
    rooms: usize,
    /// Clients in each room; each joins it after its welcome.
    #[arg(long, default_value_t = 50)]
    members: usize,
    /// How many of each room's clients send there.
    #[arg(long, default_value_t = 5)]
    senders: usize,
    /// Messages per sender.
    #[arg(long, default_value_t = 2_000)]
    messages: u64,
    /// Messages per second per sender (default: as fast as possible).
    #[arg(long, value_name = "PER_SEC")]
    rate: Option<f64>,
    /// Bytes of text per message.
    #[arg(long, default_value_t = 32)]
    payload: usize,
    /// Seconds before a run gives up.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

impl RoomsShape {
    fn params(&self, addr: SocketAddr, rooms: usize) -> anyhow::Result<RelayParams> {
        if self.rooms < 2 || self.senders == 0 || self.messages == 0 {
            bail!("--rooms must be at least 2, --senders and --messages at least 1");
        }
        let mut p = RelayParams::new(addr, self.members, self.senders, self.messages);
        p.rooms = rooms;
        p.rate = self.rate;
        p.payload = self.payload;
        p.timeout = Duration::from_secs(self.timeout);
        Ok(p)
    }

    fn title(&self) -> String {
        format!(
            "rooms of {} clients, {} × {} msgs each{}",
            self.members,
            self.senders,
            self.messages,
            self.rate.map_or(String::new(), |r| format!(" at {r}/s"))
        )
    }
}

/// Issue 12: R busy rooms should carry at least this many times the
/// deliveries per second of one.
const ROOMS_TARGET: f64 = 1.6;

/// Where soak and churn send their load.
#[derive(Debug, Clone, Args)]
struct Target {
    /// A running server; without it, chat-server is spawned with its default limits.
    #[arg(long)]
    server: Option<String>,
    /// The running server's pid, for /proc figures.
    #[arg(long)]
    server_pid: Option<u32>,
    #[command(flatten)]
    spawn: Spawn,
}

/// How to spawn chat-server.
#[derive(Debug, Clone, Args)]
struct Spawn {
    /// The chat-server binary (default: next to this executable).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// The spawned server's --max-send-queue, in bytes (its default: 262144).
    #[arg(long)]
    max_send_queue: Option<usize>,
    /// Where the spawned server's log goes (RUST_LOG=warn); default: discarded.
    #[arg(long)]
    server_log: Option<PathBuf>,
    /// More flags for the spawned server (repeat for each word).
    #[arg(long, value_name = "WORD", allow_hyphen_values = true)]
    server_arg: Vec<String>,
    /// Store the spawned server's history in this SQLite file (removed
    /// first, so each run starts empty) instead of keeping it in memory: for
    /// measuring what storing costs the relay.
    #[arg(long, value_name = "PATH")]
    history_db: Option<PathBuf>,
}

impl Shape {
    fn params(&self, addr: SocketAddr) -> anyhow::Result<RelayParams> {
        let (c, s, m, r) = match self.preset {
            Some(Preset::Burst) => (50, 5, 2_000, None),
            Some(Preset::Paced) => (50, 5, 1_000, Some(200.0)),
            Some(Preset::Scale) => (10_000, 1, 1, None),
            None => (10, 2, 1_000, None),
        };
        let mut p = RelayParams::new(
            addr,
            self.clients.unwrap_or(c),
            self.senders.unwrap_or(s),
            self.messages.unwrap_or(m),
        );
        p.rate = self.rate.or(r);
        p.stagger = self.stagger;
        p.keep_ack_mode = self.keep_ack_mode;
        p.payload = self.payload;
        p.timeout = Duration::from_secs(self.timeout);
        p.rooms = self.rooms;
        p.irc.clone_from(&self.irc);
        if p.senders == 0 || p.messages == 0 {
            bail!("--senders and --messages must be at least 1");
        }
        Ok(p)
    }

    /// The baseline speaks no rooms: a run that compares with it cannot
    /// have them.
    fn one_room(&self) -> anyhow::Result<()> {
        if self.rooms > 0 {
            bail!(
                "the baseline has no rooms: use `chat-bench relay --rooms` or `chat-bench rooms`"
            );
        }
        if self.irc.is_some() {
            bail!("the baseline speaks no IRC: use `chat-bench ircd` or `chat-bench relay --irc`");
        }
        Ok(())
    }

    fn title(&self) -> String {
        let preset = self
            .preset
            .map_or(String::new(), |p| format!("{p:?} ").to_lowercase());
        let p = self.params(SocketAddr::from(([127, 0, 0, 1], 0)));
        match p {
            Ok(p) => format!(
                "{preset}{}{}{} clients, {} × {} msgs{}",
                p.irc
                    .as_ref()
                    .map_or(String::new(), |channel| format!("IRC {channel}, ")),
                match p.rooms {
                    0 => String::new(),
                    n => format!("{n} rooms × "),
                },
                p.clients,
                p.senders,
                p.messages,
                p.rate.map_or(String::new(), |r| format!(
                    " at {r}/s, {}",
                    if p.stagger { "staggered" } else { "in step" }
                ))
            ),
            Err(_) => preset,
        }
    }
}

fn resolve(addr: &str) -> anyhow::Result<SocketAddr> {
    let addr = std::net::ToSocketAddrs::to_socket_addrs(addr)
        .with_context(|| format!("cannot resolve {addr}"))?
        .next()
        .with_context(|| format!("{addr} resolves to nothing"))?;
    check_loopback(addr)?;
    Ok(addr)
}

/// A spawned chat-server, killed when dropped.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn spawn(spawn: &Spawn, extra: &[&str]) -> anyhow::Result<Self> {
        Self::spawn_node(spawn, extra, None)
    }

    /// Spawns a server; with `cluster` (Redis URL, node name), a node of
    /// that cluster, whose history is the Redis streams.
    fn spawn_node(
        spawn: &Spawn,
        extra: &[&str],
        cluster: Option<(&str, &str)>,
    ) -> anyhow::Result<Self> {
        let bin = match &spawn.server_bin {
            Some(bin) => bin.clone(),
            None => std::env::current_exe()
                .context("cannot find this executable")?
                .with_file_name("chat-server"),
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("cannot find a free port")?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut cmd = Command::new(&bin);
        cmd.args(["--listen", &addr.to_string(), "--status-interval", "0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // History starts empty on every run, in memory unless asked to store it.
        match (&spawn.history_db, cluster) {
            (_, Some((url, node))) => {
                cmd.args(["--cluster", url, "--node", node]);
            }
            (Some(db), None) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = db.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
                cmd.arg("--history-db").arg(db);
            }
            (None, None) => {
                cmd.arg("--no-history");
            }
        }
        cmd.args(&spawn.server_arg);
        if let Some(q) = spawn.max_send_queue {
            cmd.args(["--max-send-queue", &q.to_string()]);
        }
        match &spawn.server_log {
            Some(path) => {
                let log = std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                cmd.stderr(log);
            }
            None => {
                cmd.stderr(Stdio::null());
            }
        }
        let child = cmd.spawn().with_context(|| {
            format!(
                "cannot start {} (build it with `cargo build --release -p chat-server`)",
                bin.display()
            )
        })?;
        let mut server = Self { child, addr };
        wait_listening(&mut server.child, addr, "chat-server")?;
        Ok(server)
    }

    fn probe(&self) -> Probe {
        Probe::Process(self.child.id())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const BENCH_SERVER_FLAGS: [&str; 8] = [
    "--replay",
    "0",
    "--rate-limit",
    "off",
    "--max-clients",
    "100000",
    "--max-per-ip",
    "100000",
];

fn print_warnings(label: &str, r: &RelayReport) {
    if !r.is_clean() {
        eprintln!(
            "warning: {label}: missing {}, duplicated {}, corrupted {}, out of order {}, clients dropped {}{}",
            r.missing,
            r.duplicated,
            r.corrupted,
            r.out_of_order,
            r.dropped_clients,
            if r.timed_out { ", timed out" } else { "" }
        );
    }
}

fn extra_lines(r: &[Figure], preset: Option<Preset>) -> String {
    let find = |l: &str| {
        r.iter()
            .find(|f| f.label.starts_with(l))
            .and_then(|f| f.value)
    };
    match preset {
        Some(Preset::Scale) => format!(
            "\nscale: one message reached all clients in {:.1} ms; server memory per connection {} KiB\n",
            find("latency max").unwrap_or(f64::NAN),
            find("server memory per connection").map_or("–".to_owned(), |k| format!("{k:.2}")),
        ),
        _ => String::new(),
    }
}

/// The baseline holds both ends of every connection in this process: two
/// descriptors per client. Fewer clients than asked when the limit says so.
fn baseline_clients(wanted: usize) -> usize {
    let limit = chat_bench::procfs::open_files_limit().unwrap_or(1024) as usize;
    let fits = limit.saturating_sub(100) / 2;
    if wanted > fits {
        eprintln!(
            "note: the in-process baseline needs two descriptors per client and `ulimit -n` is \
             {limit}: it runs {fits} clients instead of {wanted} (raise `ulimit -n` to run all)"
        );
        fits
    } else {
        wanted
    }
}

async fn compare(
    spawn: &Spawn,
    runs: usize,
    home: BaselineHome,
    shape: &Shape,
) -> anyhow::Result<bool> {
    shape.one_room()?;
    let mut relay_runs = Vec::new();
    let mut base_runs = Vec::new();
    // Run by run: on a noisy machine the ratio within one run, relay and
    // baseline a few seconds apart, moves less than either figure.
    let mut ratios = Vec::new();
    let mut clean = true;
    for run in 1..=runs.max(1) {
        let relay = {
            let server = ServerProcess::spawn(spawn, &BENCH_SERVER_FLAGS)?;
            let mut p = shape.params(server.addr)?;
            p.probe = Some(server.probe());
            let r = run_relay(&p).await.context("relay run")?;
            print_warnings("relay", &r);
            r
        };
        let base = {
            let r = match home {
                BaselineHome::Process => {
                    let exe = std::env::current_exe().context("cannot find this executable")?;
                    let baseline = BaselineProcess::spawn(&exe)?;
                    let mut p = shape.params(baseline.addr())?;
                    p.probe = Some(baseline.probe());
                    run_relay(&p).await
                }
                BaselineHome::Thread => {
                    let baseline = Baseline::start()?;
                    let mut p = shape.params(baseline.addr())?;
                    p.clients = baseline_clients(p.clients);
                    p.probe = baseline.probe();
                    run_relay(&p).await
                }
            }
            .context("baseline run")?;
            print_warnings("baseline", &r);
            r
        };
        clean &= relay.is_clean() && base.is_clean();
        let cpu = |r: &RelayReport| r.cpu_us_per_delivery().filter(|c| *c > 0.0);
        let ratio = cpu(&relay).zip(cpu(&base)).map(|(r, b)| r / b);
        ratios.extend(ratio);
        eprintln!(
            "run {run}: relay {:.0} deliveries/s, {} µs CPU/delivery; baseline {:.0} \
             deliveries/s, {} µs CPU/delivery; relay / baseline {}",
            relay.deliveries_per_sec(),
            cell(cpu(&relay), Unit::Fixed2),
            base.deliveries_per_sec(),
            cell(cpu(&base), Unit::Fixed2),
            cell(ratio, Unit::Fixed2),
        );
        relay_runs.push(figures(&relay));
        base_runs.push(figures(&base));
    }
    let title = if runs > 1 {
        format!("{} (median of {runs})", shape.title())
    } else {
        shape.title()
    };
    let relay = median_figures(&relay_runs);
    let base = median_figures(&base_runs);
    println!("{}", comparison_table(&title, &relay, &base));
    if ratios.len() > 1 {
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        if let Some(m) = chat_bench::stats::median(&ratios) {
            println!(
                "server CPU per delivery, relay / baseline run by run: {} (median {m:.2})",
                each.join(", ")
            );
        }
    }
    print!("{}", extra_lines(&relay, shape.preset));
    Ok(clean)
}

/// One room on a fresh server, measured like `compare` measures the relay.
async fn rooms_run(spawn: &Spawn, shape: &RoomsShape, rooms: usize) -> anyhow::Result<RelayReport> {
    let server = ServerProcess::spawn(spawn, &BENCH_SERVER_FLAGS)?;
    let mut p = shape.params(server.addr, rooms)?;
    p.probe = Some(server.probe());
    let r = run_relay(&p)
        .await
        .with_context(|| format!("run with {rooms} room(s)"))?;
    print_warnings(&format!("{rooms} room(s)"), &r);
    Ok(r)
}

fn rooms_summary(r: &RelayReport) -> String {
    let opt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.2}"));
    format!(
        "{:.0} deliveries/s, {} µs CPU/delivery, cores busy: server {}, clients {}, others {}",
        r.deliveries_per_sec(),
        opt(r.cpu_us_per_delivery()),
        opt(r.server_cores()),
        opt(r.client_cores()),
        opt(r.other_cores()),
    )
}

async fn rooms(spawn: &Spawn, runs: usize, shape: &RoomsShape) -> anyhow::Result<bool> {
    // Like the burst table, a queue deep enough that a receiver in this
    // loaded process is not dropped as a slow reader: this measures the
    // relay, not the harness.
    let mut spawn = spawn.clone();
    spawn.max_send_queue.get_or_insert(16 << 20);
    let mut one_runs = Vec::new();
    let mut many_runs = Vec::new();
    let mut clean = true;
    for run in 1..=runs.max(1) {
        // Alternating which goes first spreads the machine's drift (other
        // builds, warm caches) over both.
        let (one, many) = if run % 2 == 1 {
            let one = rooms_run(&spawn, shape, 1).await?;
            (one, rooms_run(&spawn, shape, shape.rooms).await?)
        } else {
            let many = rooms_run(&spawn, shape, shape.rooms).await?;
            (rooms_run(&spawn, shape, 1).await?, many)
        };
        clean &= one.is_clean() && many.is_clean();
        eprintln!(
            "run {run}: 1 room {}; {} rooms {}",
            rooms_summary(&one),
            shape.rooms,
            rooms_summary(&many)
        );
        one_runs.push(rooms_figures(&one));
        many_runs.push(rooms_figures(&many));
    }
    let title = if runs > 1 {
        format!("{} (median of {runs})", shape.title())
    } else {
        shape.title()
    };
    let one = median_figures(&one_runs);
    let many = median_figures(&many_runs);
    let many_label = format!("{} rooms", shape.rooms);
    println!(
        "{}",
        labelled_comparison(&title, [&many_label, "1 room"], &many, &one)
    );
    let rate = |f: &[Figure]| {
        f.iter()
            .find(|f| f.label == "deliveries/s")
            .and_then(|f| f.value)
    };
    if let (Some(m), Some(o)) = (rate(&many), rate(&one)) {
        if o > 0.0 {
            let ratio = m / o;
            // Paced, both carry what is offered: the ratio is the offered
            // load, and says nothing about the target, which is capacity.
            let verdict = match shape.rate {
                Some(_) => format!(
                    "paced: the offered load, not capacity; the ≥ {ROOMS_TARGET} target is for \
                     runs without --rate"
                ),
                None if ratio >= ROOMS_TARGET => format!("target ≥ {ROOMS_TARGET}: met"),
                None => format!("target ≥ {ROOMS_TARGET}: missed"),
            };
            println!("throughput, {many_label} / 1 room: {ratio:.2} ({verdict})");
        }
    }
    Ok(clean)
}

/// Runs `runs` idle runs of each mode (on fresh servers, or on the one
/// given) and prints their medians side by side.
/// What `chat-bench idle` was asked for.
struct IdleShape {
    clients: usize,
    mode: IdleMode,
    runs: usize,
    timeout: Duration,
    hold: Duration,
}

async fn idle(
    spawn: &Spawn,
    server: Option<(SocketAddr, u32)>,
    shape: &IdleShape,
) -> anyhow::Result<bool> {
    let &IdleShape {
        clients,
        mode,
        runs,
        timeout,
        hold,
    } = shape;
    if server.is_some() && (mode == IdleMode::Both || runs > 1) {
        bail!("against a running server, give one --mode and one run: clients of a run stay until it ends, and the next would start from their memory");
    }
    let mut columns = Vec::new();
    let mut clean = true;
    for speech in mode.speeches() {
        let mut reports = Vec::new();
        for run in 1..=runs.max(1) {
            let spawned;
            let (addr, pid) = match server {
                Some(running) => running,
                None => {
                    spawned = ServerProcess::spawn(spawn, &BENCH_SERVER_FLAGS)?;
                    (spawned.addr, spawned.child.id())
                }
            };
            let mut p = IdleParams::new(addr, Probe::Process(pid), clients, speech);
            p.timeout = timeout;
            p.hold = hold;
            let r = run_idle(&p)
                .await
                .with_context(|| format!("{} run {run}", speech.label()))?;
            if r.dropped > 0 {
                eprintln!("warning: {}: {} clients dropped", speech.label(), r.dropped);
                clean = false;
            }
            eprintln!(
                "{} run {run}: {:.2} KiB per connection, connected in {:.1} s",
                speech.label(),
                r.kib_per_connection(),
                r.connect_time.as_secs_f64()
            );
            reports.push(r);
        }
        columns.push((speech.label(), reports));
    }
    let title = match runs {
        0 | 1 => format!("idle: {clients} clients"),
        n => format!("idle: {clients} clients (median of {n})"),
    };
    println!("{}", idle_table(&title, &columns));
    Ok(clean)
}

async fn soak_target(
    target: &Target,
    extra: &[&str],
    run: impl AsyncFnOnce(SocketAddr, Option<Probe>) -> anyhow::Result<SoakReport>,
) -> anyhow::Result<SoakReport> {
    match &target.server {
        Some(addr) => {
            let addr = resolve(addr)?;
            run(addr, target.server_pid.map(Probe::Process)).await
        }
        None => {
            let server = ServerProcess::spawn(&target.spawn, extra)?;
            run(server.addr, Some(server.probe())).await
        }
    }
}

async fn main_async(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Cmd::Relay {
            server,
            server_pid,
            shape,
        } => {
            let mut p = shape.params(resolve(&server)?)?;
            p.probe = server_pid.map(Probe::Process);
            let r = run_relay(&p).await?;
            print_warnings("relay", &r);
            let f = figures(&r);
            println!("{}", single_table(&format!("relay: {}", shape.title()), &f));
            print!("{}", extra_lines(&f, shape.preset));
            Ok(r.is_clean())
        }
        // Served from `main`, outside async-std's runtime (see there).
        Cmd::ServeBaseline => Ok(true),
        Cmd::Baseline { shape } => {
            shape.one_room()?;
            let baseline = Baseline::start()?;
            let mut p = shape.params(baseline.addr())?;
            p.clients = baseline_clients(p.clients);
            p.probe = baseline.probe();
            let r = run_relay(&p).await?;
            print_warnings("baseline", &r);
            println!(
                "{}",
                single_table(&format!("baseline: {}", shape.title()), &figures(&r))
            );
            Ok(r.is_clean())
        }
        Cmd::Compare {
            spawn,
            runs,
            baseline,
            shape,
        } => compare(&spawn, runs, baseline, &shape).await,
        Cmd::Rooms { spawn, runs, shape } => rooms(&spawn, runs, &shape).await,
        Cmd::Cluster { spawn, runs, shape } => cluster::compare(&spawn, runs, &shape).await,
        Cmd::Ircd {
            spawn,
            ngircd,
            runs,
            idle,
            shape,
        } => {
            ircd::compare(&ircd::IrcdShape {
                spawn: &spawn,
                ngircd: &ngircd,
                runs,
                idle,
                shape: &shape,
            })
            .await
        }
        Cmd::Soak {
            target,
            minutes,
            steady,
        } => {
            if minutes.is_nan() || minutes <= 0.0 {
                bail!("--minutes must be above 0");
            }
            // The soak keeps the server's rate limit (the flooder needs it) but
            // many connections come from one address.
            let extra = ["--max-per-ip", "1000"];
            let r = soak_target(&target, &extra, async |addr, probe| {
                let mut p = SoakParams::soak(addr, Duration::from_secs_f64(minutes * 60.0));
                p.probe = probe;
                p.steady = steady;
                run_soak(&p).await
            })
            .await?;
            println!("{}", r.table());
            Ok(r.is_clean())
        }
        Cmd::Idle {
            spawn,
            server,
            server_pid,
            clients,
            mode,
            runs,
            timeout,
            hold,
        } => {
            let running = match (server, server_pid) {
                (Some(addr), Some(pid)) => Some((resolve(&addr)?, pid)),
                (Some(_), None) => bail!("--server needs --server-pid: the figure is its memory"),
                (None, _) => None,
            };
            let shape = IdleShape {
                clients,
                mode,
                runs,
                timeout: Duration::from_secs(timeout),
                hold: Duration::try_from_secs_f64(hold).context("--hold")?,
            };
            idle(&spawn, running, &shape).await
        }
        Cmd::Churn { target, cycles } => {
            let extra = ["--max-per-ip", "1000"];
            let r = soak_target(&target, &extra, async |addr, probe| {
                let mut p = SoakParams::churn(addr, cycles);
                p.probe = probe;
                run_soak(&p).await
            })
            .await?;
            println!("{}", r.table().replace("| soak |", "| churn |"));
            Ok(r.is_clean())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The baseline alone is served without async-std's runtime, whose
    // worker threads, idle here, would take turns at its reactor and be
    // counted as its CPU.
    if let Cmd::ServeBaseline = cli.command {
        return match chat_bench::baseline::serve_until_stdin_closes() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("chat-bench serve-baseline: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    match async_std::task::block_on(main_async(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("chat-bench: the run was not clean (see the warnings above)");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("chat-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
