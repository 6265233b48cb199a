//! `chat-bench ircd`: chat-server against ngIRCd, the C IRC server, under
//! the same IRC load, each freshly spawned and measured from `/proc` the same
//! way: a busy channel (the preset or shape given: every client joins
//! `#lobby`, the senders send `PRIVMSG`s there) and the memory per idle IRC
//! connection (clients registered and in `#lobby`, where chat-server puts
//! every client by itself) — the two gaps to ngIRCd that issue 18 names.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use chat_bench::client::Speech;
use chat_bench::idle::{idle_table, run_idle, IdleParams, IdleReport};
use chat_bench::ngircd::Ngircd;
use chat_bench::procfs::Probe;
use chat_bench::report::{cell, figures, labelled_comparison, median_figures, Figure, Unit};
use chat_bench::scenario::{run_relay, RelayReport};

use super::{print_warnings, ServerProcess, Shape, Spawn, BENCH_SERVER_FLAGS};

/// The channel the clients join on both servers (chat-server's default
/// room, to an IRC client).
const CHANNEL: &str = "#lobby";

/// Which server a run loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    ChatServer,
    Ngircd,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::ChatServer => "chat-server",
            Side::Ngircd => "ngIRCd",
        }
    }
}

/// What `chat-bench ircd` runs.
pub(super) struct IrcdShape<'a> {
    pub spawn: &'a Spawn,
    pub ngircd: &'a Path,
    pub runs: usize,
    /// Idle IRC clients for the memory figure; 0 skips it.
    pub idle: usize,
    pub shape: &'a Shape,
}

/// A spawned server of either kind: where IRC clients connect, and its
/// process; dropping it stops the server.
enum Spawned {
    ChatServer(ServerProcess, SocketAddr),
    Ngircd(Ngircd),
}

impl Spawned {
    fn start(side: Side, spawn: &Spawn, ngircd: &Path) -> anyhow::Result<Self> {
        Ok(match side {
            Side::ChatServer => {
                let irc = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .context("cannot find a free port")?;
                let irc_arg = irc.to_string();
                let mut extra = BENCH_SERVER_FLAGS.to_vec();
                extra.extend(["--irc-listen", &irc_arg]);
                Self::ChatServer(ServerProcess::spawn(spawn, &extra)?, irc)
            }
            Side::Ngircd => Self::Ngircd(Ngircd::spawn(ngircd)?),
        })
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Self::ChatServer(_, irc) => *irc,
            Self::Ngircd(n) => n.addr(),
        }
    }

    fn probe(&self) -> Probe {
        match self {
            Self::ChatServer(s, _) => s.probe(),
            Self::Ngircd(n) => n.probe(),
        }
    }
}

async fn traffic(side: Side, s: &IrcdShape<'_>) -> anyhow::Result<RelayReport> {
    let server = Spawned::start(side, s.spawn, s.ngircd)?;
    let mut p = s.shape.params(server.addr())?;
    p.probe = Some(server.probe());
    let r = run_relay(&p)
        .await
        .with_context(|| format!("{} run", side.label()))?;
    print_warnings(side.label(), &r);
    Ok(r)
}

async fn idle(side: Side, s: &IrcdShape<'_>) -> anyhow::Result<IdleReport> {
    let server = Spawned::start(side, s.spawn, s.ngircd)?;
    let mut p = IdleParams::new(server.addr(), server.probe(), s.idle, Speech::Irc);
    p.channel.clone_from(&s.shape.irc);
    p.timeout = Duration::from_secs(s.shape.timeout);
    let r = run_idle(&p)
        .await
        .with_context(|| format!("{} idle run", side.label()))?;
    if r.dropped > 0 {
        eprintln!(
            "warning: {}: {} idle clients dropped",
            side.label(),
            r.dropped
        );
    }
    Ok(r)
}

fn summary(r: &RelayReport) -> String {
    format!(
        "{:.0} deliveries/s, {} µs CPU/delivery, p99 {:.2} ms",
        r.deliveries_per_sec(),
        cell(r.cpu_us_per_delivery(), Unit::Fixed2),
        r.latency.p99.as_secs_f64() * 1e3,
    )
}

/// Runs both servers `runs` times (alternating which goes first) and prints
/// the tables; whether every run was clean.
pub(super) async fn compare(s: &IrcdShape<'_>) -> anyhow::Result<bool> {
    if s.shape.rooms > 0 {
        bail!("chat-bench ircd loads one channel: leave out --rooms");
    }
    // Before the first run, not after chat-server's.
    chat_bench::ngircd::check(s.ngircd)?;
    // As in `chat-bench cluster`: a burst needs a deep queue.
    let mut spawn = s.spawn.clone();
    spawn.max_send_queue.get_or_insert(16 << 20);
    let mut shape = s.shape.clone();
    shape.irc.get_or_insert_with(|| CHANNEL.to_owned());
    let s = &IrcdShape {
        spawn: &spawn,
        shape: &shape,
        ..*s
    };
    let sides = [Side::ChatServer, Side::Ngircd];
    let mut busy: [Vec<Vec<Figure>>; 2] = [Vec::new(), Vec::new()];
    let mut still: [Vec<IdleReport>; 2] = [Vec::new(), Vec::new()];
    let mut clean = true;
    for run in 1..=s.runs.max(1) {
        for k in 0..sides.len() {
            let i = (k + run - 1) % sides.len();
            let side = sides[i];
            let r = traffic(side, s).await?;
            clean &= r.is_clean();
            eprintln!("run {run}: {}: {}", side.label(), summary(&r));
            busy[i].push(figures(&r));
            if s.idle > 0 {
                let r = idle(side, s).await?;
                clean &= r.dropped == 0;
                eprintln!(
                    "run {run}: {}: {:.2} KiB per idle IRC connection",
                    side.label(),
                    r.kib_per_connection()
                );
                still[i].push(r);
            }
        }
    }
    let median = |what: String| match s.runs {
        0 | 1 => what,
        n => format!("{what} (median of {n})"),
    };
    let title = median(s.shape.title());
    let [ours, theirs] = busy.map(|runs| median_figures(&runs));
    println!(
        "{}",
        labelled_comparison(
            &title,
            [Side::ChatServer.label(), Side::Ngircd.label()],
            &ours,
            &theirs
        )
    );
    if s.idle > 0 {
        let [ours, theirs] = still;
        let title = median(format!("idle IRC: {} clients", s.idle));
        println!(
            "{}",
            idle_table(
                &title,
                &[
                    (Side::ChatServer.label(), ours),
                    (Side::Ngircd.label(), theirs)
                ]
            )
        );
    }
    Ok(clean)
}
