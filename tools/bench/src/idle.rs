//! The idle scenario (issue 18): N clients connect, pick a name — with the
//! structured `hello`, or as plain-text clients typing a name — and then sit
//! idle. What the server holds for them is its RSS growth over N, read from
//! `/proc/PID/status` once every join has been delivered and the traffic
//! has stopped for 3 s.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::client::{Counters, End};
use crate::procfs::{Probe, Sample};
use crate::report::cell;
use crate::report::Unit;
use crate::scenario::{check_loopback, connect_all, settle, ConnectPlan, Seat};
use crate::stats::median;
use crate::tracker::{Senders, Tracker};

pub use crate::client::Speech;

/// What to run.
#[derive(Debug, Clone)]
pub struct IdleParams {
    /// The server (loopback only).
    pub addr: SocketAddr,
    /// Its process, for `/proc`.
    pub probe: Probe,
    /// Clients connected.
    pub clients: usize,
    /// How they speak.
    pub speech: Speech,
    /// The channel IRC clients join (chat-server puts every client in its
    /// default room by itself; another IRC server needs the `JOIN` to hold
    /// the same); `None`: registered, in no channel.
    pub channel: Option<String>,
    /// Time limit for connecting everyone and the traffic settling.
    pub timeout: Duration,
    /// No line for this long: the joins are delivered, the clients idle.
    pub quiet: Duration,
    /// Handshakes at once.
    pub concurrency: usize,
    /// How long the clients stay connected after the measurement (to look
    /// at the server meanwhile: gdb, heaptrack, `/proc/PID/smaps`).
    pub hold: Duration,
}

impl IdleParams {
    /// `clients` clients speaking `speech` to the server at `addr`, whose
    /// process `probe` reads.
    pub fn new(addr: SocketAddr, probe: Probe, clients: usize, speech: Speech) -> Self {
        Self {
            addr,
            probe,
            clients,
            speech,
            channel: None,
            timeout: Duration::from_secs(600),
            // Idle means idle for a while: the server gives memory back a
            // second after connections stop coming (chat_server::heap).
            quiet: Duration::from_secs(3),
            concurrency: 64,
            hold: Duration::ZERO,
        }
    }
}

/// What an idle run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdleReport {
    /// Clients that connected and were named.
    pub clients: usize,
    /// Server RSS before anyone connected, KiB.
    pub rss_start_kib: u64,
    /// Server RSS with every client connected and idle, KiB.
    pub rss_idle_kib: u64,
    /// Server peak RSS (VmHWM) by then, KiB.
    pub hwm_kib: u64,
    /// Connecting everyone until the traffic settled.
    pub connect_time: Duration,
    /// Server CPU seconds meanwhile.
    pub connect_cpu_secs: f64,
    /// Clients the server closed before the end (should be none).
    pub dropped: usize,
}

impl IdleReport {
    /// Server memory added per idle client, KiB.
    pub fn kib_per_connection(&self) -> f64 {
        self.rss_idle_kib.saturating_sub(self.rss_start_kib) as f64 / self.clients.max(1) as f64
    }

    fn row_values(&self) -> [f64; 6] {
        let mib = |k: u64| k as f64 / 1024.0;
        [
            self.kib_per_connection(),
            mib(self.rss_start_kib),
            mib(self.rss_idle_kib),
            mib(self.hwm_kib),
            self.connect_time.as_secs_f64(),
            self.connect_cpu_secs,
        ]
    }
}

fn memory(sample: &Sample) -> anyhow::Result<crate::procfs::Memory> {
    sample
        .memory
        .context("the probe reads no memory: give the server's pid")
}

/// Connects `p.clients` clients, waits until nothing has arrived for
/// `p.quiet`, and reads the server's memory; then closes every client.
///
/// # Errors
/// When a client cannot connect or be named, or `/proc` cannot be read.
pub async fn run_idle(p: &IdleParams) -> anyhow::Result<IdleReport> {
    check_loopback(p.addr)?;
    let start = p.probe.sample()?;
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = async_std::channel::bounded::<()>(1);
    let seats = (0..p.clients)
        .map(|i| Seat {
            room: p.channel.clone().filter(|_| p.speech == Speech::Irc),
            ..Seat::default_room(format!("i{i}"))
        })
        .collect();
    let plan = ConnectPlan {
        addr: p.addr,
        concurrency: p.concurrency,
        wait: p.timeout,
        allow_rate_limit: true,
        speech: p.speech,
    };
    let began = Instant::now();
    let (writers, done) = async_std::future::timeout(
        p.timeout,
        connect_all(
            &plan,
            seats,
            // Nobody sends: each client only reads (and answers pings).
            |_| (Tracker::new(Senders::new(Vec::new()), 0), None),
            &counters,
            &stop_rx,
        ),
    )
    .await
    .context("connecting took longer than --timeout")??;
    let left = p.timeout.saturating_sub(began.elapsed());
    settle(&counters, p.quiet, left).await;
    let connect_time = began.elapsed();
    let idle = p.probe.sample()?;
    if !p.hold.is_zero() {
        eprintln!(
            "measured; holding {} clients for {:?}",
            writers.len(),
            p.hold
        );
        async_std::task::sleep(p.hold).await;
    }
    drop(stop_tx);
    let mut dropped = 0;
    for _ in 0..writers.len() {
        match async_std::future::timeout(Duration::from_secs(10), done.recv()).await {
            Ok(Ok(r)) if matches!(r.end, End::Closed(_)) => dropped += 1,
            Ok(Ok(_)) => {}
            _ => break,
        }
    }
    for w in &writers {
        w.close().await;
    }
    let (m0, m1) = (memory(&start)?, memory(&idle)?);
    Ok(IdleReport {
        clients: writers.len(),
        rss_start_kib: m0.rss_kib,
        rss_idle_kib: m1.rss_kib,
        hwm_kib: m1.hwm_kib,
        connect_time,
        connect_cpu_secs: idle.cpu_since(&start),
        dropped,
    })
}

const ROWS: [(&str, Unit); 6] = [
    ("server memory per idle connection, KiB", Unit::Fixed2),
    ("server RSS before connecting, MiB", Unit::Fixed2),
    ("server RSS, all idle, MiB", Unit::Fixed2),
    ("server peak RSS (VmHWM), MiB", Unit::Fixed2),
    ("connect + settle, s", Unit::Secs),
    ("server CPU while connecting, s", Unit::Secs),
];

/// A Markdown table with one column per mode (or server), headed by its
/// label: the median of each figure over that column's runs.
pub fn idle_table(title: &str, columns: &[(&str, Vec<IdleReport>)]) -> String {
    let mut out = format!("| {title} |");
    for (label, _) in columns {
        out.push_str(&format!(" {label} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(columns.len()));
    out.push('\n');
    for (i, (label, unit)) in ROWS.iter().enumerate() {
        out.push_str(&format!("| {label} |"));
        for (_, runs) in columns {
            let values: Vec<f64> = runs.iter().map(|r| r.row_values()[i]).collect();
            out.push_str(&format!(" {} |", cell(median(&values), *unit)));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(start: u64, idle: u64) -> IdleReport {
        IdleReport {
            clients: 1000,
            rss_start_kib: start,
            rss_idle_kib: idle,
            hwm_kib: idle + 100,
            connect_time: Duration::from_secs(2),
            connect_cpu_secs: 1.0,
            dropped: 0,
        }
    }

    #[test]
    fn memory_per_connection_is_growth_over_clients() {
        assert_eq!(report(6000, 11_000).kib_per_connection(), 5.0);
        // A server that shrank holds nothing extra per client.
        assert_eq!(report(6000, 5000).kib_per_connection(), 0.0);
    }

    #[test]
    fn the_table_shows_the_median_of_each_mode() {
        let structured = vec![
            report(6000, 11_000),
            report(6000, 13_000),
            report(6000, 12_000),
        ];
        let plain = vec![report(6000, 10_000)];
        let table = idle_table(
            "idle: 1000 clients",
            &[
                (Speech::Structured.label(), structured),
                (Speech::Plain.label(), plain),
            ],
        );
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "| idle: 1000 clients | structured | plain |");
        assert_eq!(lines[1], "|---|---:|---:|");
        assert_eq!(
            lines[2],
            "| server memory per idle connection, KiB | 6.00 | 4.00 |"
        );
    }
}
