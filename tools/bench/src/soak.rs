//! The soak and churn runs (issue 6): steady chatters paced under the rate
//! limit, slow readers, a flooder, churning clients (some vanishing
//! mid-line) and garbage senders, all at once; at the end every message the
//! server accepted (its echo came back to its sender) must have reached every
//! steady client that stayed connected.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_std::io::{ReadExt, WriteExt};
use async_std::task;
use chat_core::codec::encode_frame;
use chat_core::protocol::ClientFrame;

use crate::client::{self, Conn, Counters, End, Speech};
use crate::procfs::Probe;
use crate::scenario::{check_loopback, connect_all, settle, ConnectPlan, Seat};
use crate::tracker::{Senders, Tracker};

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakParams {
    /// The server (loopback only).
    pub addr: SocketAddr,
    /// Where to read the server's memory.
    pub probe: Option<Probe>,
    /// How long traffic runs (the churn run ends earlier once its cycles are done).
    pub duration: Duration,
    /// Clients that chat steadily and stay connected throughout.
    pub steady: usize,
    /// Messages per second per steady client: below the server's rate limit.
    pub steady_rate: f64,
    /// Largest steady message text, bytes (sizes vary up to it).
    pub payload_max: usize,
    /// Clients that connect and then never read.
    pub slow_readers: usize,
    /// Whether one client at a time floods (about 1,000 messages/s) and reconnects when dropped.
    pub flood: bool,
    /// Churn loops running at once.
    pub churners: usize,
    /// Stop after this many churn cycles in all (the churn run).
    pub churn_cycles: Option<u64>,
    /// Pause after each churn cycle, per churn loop.
    pub churn_pause: Duration,
    /// Clients sending invalid UTF-8, oversized lines and malformed frames.
    pub garbage: usize,
}

impl SoakParams {
    /// Every kind of misbehaviour against `addr` for `duration`.
    pub fn soak(addr: SocketAddr, duration: Duration) -> Self {
        Self {
            addr,
            probe: None,
            duration,
            steady: 12,
            steady_rate: 2.0,
            payload_max: 3000,
            slow_readers: 3,
            flood: true,
            churners: 8,
            churn_cycles: None,
            churn_pause: Duration::from_millis(20),
            garbage: 2,
        }
    }

    /// `cycles` clients connecting and disconnecting while steady clients chat.
    pub fn churn(addr: SocketAddr, cycles: u64) -> Self {
        Self {
            duration: Duration::from_secs(600),
            slow_readers: 0,
            flood: false,
            garbage: 0,
            churners: 10,
            churn_cycles: Some(cycles),
            // 10 loops × 10 cycles/s: 1,000 cycles take 10 s of chatting.
            churn_pause: Duration::from_millis(100),
            steady: 10,
            payload_max: 200,
            ..Self::soak(addr, Duration::ZERO)
        }
    }
}

/// What a soak run saw.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// How long traffic ran.
    pub ran: Duration,
    /// Steady clients.
    pub steady: usize,
    /// Steady clients the server closed before the end (should be 0).
    pub steady_dropped: usize,
    /// Messages the steady clients sent.
    pub sent: u64,
    /// Of them, accepted (echo came back).
    pub accepted: u64,
    /// Of them, refused with an error (should be 0: they stay under the limit).
    pub refused: u64,
    /// Deliveries expected: accepted messages × steady clients that stayed.
    pub expected: u64,
    /// Of them, received.
    pub delivered: u64,
    /// Expected but never received.
    pub missing: u64,
    /// Received twice or more.
    pub duplicated: u64,
    /// Damaged.
    pub corrupted: u64,
    /// Out of order within a sender.
    pub out_of_order: u64,
    /// Received, but never confirmed to its sender.
    pub unconfirmed: u64,
    /// Churn cycles completed.
    pub churn_cycles: u64,
    /// Of them, ended by vanishing mid-line.
    pub churn_mid_line: u64,
    /// Churn connections refused or failed.
    pub churn_failures: u64,
    /// Flood connections the server dropped.
    pub flood_disconnects: u64,
    /// Flood messages refused with `slow down`.
    pub flood_refused: u64,
    /// Slow readers the server dropped by the end.
    pub slow_dropped: usize,
    /// Slow readers started.
    pub slow_readers: usize,
    /// Garbage lines sent.
    pub garbage_sent: u64,
    /// Error replies the garbage clients got.
    pub garbage_errors: u64,
    /// Garbage clients still connected at the end.
    pub garbage_alive: usize,
    /// Garbage clients started.
    pub garbage_clients: usize,
    /// Server RSS before anything connected, KiB.
    pub rss_start_kib: Option<u64>,
    /// Server RSS once the steady clients were in, KiB.
    pub rss_steady_kib: Option<u64>,
    /// Highest RSS sampled during the run, KiB.
    pub rss_max_sampled_kib: Option<u64>,
    /// Server RSS after the churn ended and traffic settled, KiB.
    pub rss_after_kib: Option<u64>,
    /// Peak RSS (VmHWM), KiB.
    pub hwm_kib: Option<u64>,
}

impl SoakReport {
    /// Every accepted message reached every steady client, nothing broke.
    pub fn is_clean(&self) -> bool {
        self.missing == 0
            && self.duplicated == 0
            && self.corrupted == 0
            && self.out_of_order == 0
            && self.unconfirmed == 0
            && self.steady_dropped == 0
            && self.refused == 0
            && self.garbage_alive == self.garbage_clients
    }

    /// The report as a two-column Markdown table.
    pub fn table(&self) -> String {
        let mib =
            |k: Option<u64>| k.map_or("–".to_owned(), |k| format!("{:.2}", k as f64 / 1024.0));
        let rows: Vec<(&str, String)> = vec![
            ("traffic ran (s)", format!("{:.1}", self.ran.as_secs_f64())),
            (
                "steady clients (dropped)",
                format!("{} ({})", self.steady, self.steady_dropped),
            ),
            (
                "steady messages sent / accepted / refused",
                format!("{} / {} / {}", self.sent, self.accepted, self.refused),
            ),
            (
                "deliveries expected / received",
                format!("{} / {}", self.expected, self.delivered),
            ),
            (
                "missing / duplicated / corrupted / out of order",
                format!(
                    "{} / {} / {} / {}",
                    self.missing, self.duplicated, self.corrupted, self.out_of_order
                ),
            ),
            ("received but never confirmed", self.unconfirmed.to_string()),
            (
                "churn cycles (vanished mid-line, failed)",
                format!(
                    "{} ({}, {})",
                    self.churn_cycles, self.churn_mid_line, self.churn_failures
                ),
            ),
            (
                "flood: refused messages / disconnects",
                format!("{} / {}", self.flood_refused, self.flood_disconnects),
            ),
            (
                "slow readers dropped by the server",
                format!("{} of {}", self.slow_dropped, self.slow_readers),
            ),
            (
                "garbage lines sent / error replies",
                format!("{} / {}", self.garbage_sent, self.garbage_errors),
            ),
            (
                "garbage clients still connected",
                format!("{} of {}", self.garbage_alive, self.garbage_clients),
            ),
            ("server RSS at start (MiB)", mib(self.rss_start_kib)),
            (
                "server RSS with steady clients in (MiB)",
                mib(self.rss_steady_kib),
            ),
            (
                "server RSS highest sample (MiB)",
                mib(self.rss_max_sampled_kib),
            ),
            (
                "server RSS after churn, settled (MiB)",
                mib(self.rss_after_kib),
            ),
            ("server peak RSS, VmHWM (MiB)", mib(self.hwm_kib)),
            (
                "verdict",
                if self.is_clean() {
                    "clean".to_owned()
                } else {
                    "PROBLEMS".to_owned()
                },
            ),
        ];
        let mut out = "| soak | |\n|---|---:|\n".to_owned();
        for (k, v) in rows {
            out.push_str(&format!("| {k} | {v} |\n"));
        }
        out
    }
}

/// Shared by every task of a run.
#[derive(Debug, Default)]
struct Tally {
    churn_cycles: AtomicU64,
    churn_mid_line: AtomicU64,
    churn_failures: AtomicU64,
    flood_disconnects: AtomicU64,
    flood_refused: AtomicU64,
    garbage_sent: AtomicU64,
}

fn rss(probe: Option<&Probe>) -> (Option<u64>, Option<u64>) {
    match probe.and_then(|p| p.sample().ok()).and_then(|s| s.memory) {
        Some(m) => (Some(m.rss_kib), Some(m.hwm_kib)),
        None => (None, None),
    }
}

/// Runs the soak (or churn) scenario.
///
/// # Errors
/// When the steady clients cannot connect.
pub async fn run_soak(p: &SoakParams) -> anyhow::Result<SoakReport> {
    check_loopback(p.addr)?;
    let probe = p.probe.clone();
    let mut report = SoakReport {
        steady: p.steady,
        slow_readers: p.slow_readers,
        garbage_clients: p.garbage,
        ..Default::default()
    };
    (report.rss_start_kib, _) = rss(probe.as_ref());
    let wait = Duration::from_secs(20);

    let names: Vec<String> = (0..p.steady).map(|i| format!("st{i}")).collect();
    let senders = Senders::new(names.clone());
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = async_std::channel::bounded::<()>(1);
    let plan = ConnectPlan {
        addr: p.addr,
        concurrency: 16,
        wait,
        allow_rate_limit: true,
        speech: Speech::Structured,
    };
    let (writers, done) = connect_all(
        &plan,
        names.into_iter().map(Seat::default_room).collect(),
        |_| (Tracker::new(senders.clone(), u64::MAX), None),
        &counters,
        &stop_rx,
    )
    .await?;
    settle(
        &counters,
        Duration::from_millis(300),
        Duration::from_secs(5),
    )
    .await;
    (report.rss_steady_kib, _) = rss(probe.as_ref());

    let running = Arc::new(AtomicBool::new(true));
    let tally = Arc::new(Tally::default());
    let started = Instant::now();

    let max_rss = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (running, max_rss, probe) = (running.clone(), max_rss.clone(), probe.clone());
        task::spawn(async move {
            while running.load(Ordering::Relaxed) {
                if let (Some(kib), _) = rss(probe.as_ref()) {
                    max_rss.fetch_max(kib, Ordering::Relaxed);
                }
                task::sleep(Duration::from_millis(500)).await;
            }
        })
    };

    let mut steady_tasks = Vec::new();
    for (i, writer) in writers.iter().enumerate() {
        let (writer, running) = (writer.clone(), running.clone());
        let (rate, max) = (p.steady_rate, p.payload_max.max(48));
        steady_tasks.push(task::spawn(async move {
            let start = Instant::now();
            let mut num = 0u64;
            while running.load(Ordering::Relaxed) {
                let due = start + Duration::from_secs_f64(num as f64 / rate);
                if let Some(w) = due.checked_duration_since(Instant::now()) {
                    task::sleep(w).await;
                }
                let len = 40 + (num as usize * 997 + i * 131) % (max - 40);
                if writer
                    .send(&client::message_line(None, i as u32, num, len))
                    .await
                    .is_err()
                {
                    break;
                }
                num += 1;
            }
            num
        }));
    }

    let mut slow = Vec::new();
    for i in 0..p.slow_readers {
        slow.push(Conn::connect(p.addr, &format!("slow{i}"), wait).await?);
    }

    let mut side_tasks = Vec::new();
    let (churn_done_tx, churn_done_rx) = async_std::channel::bounded::<()>(1);
    for l in 0..p.churners {
        let (addr, running, tally, limit) =
            (p.addr, running.clone(), tally.clone(), p.churn_cycles);
        let pause = p.churn_pause;
        let done = churn_done_tx.clone();
        side_tasks.push(task::spawn(async move {
            churn_loop(addr, l, &running, &tally, limit, pause).await;
            drop(done);
        }));
    }
    drop(churn_done_tx);
    if p.flood {
        let (addr, running, tally) = (p.addr, running.clone(), tally.clone());
        side_tasks.push(task::spawn(async move {
            flood_loop(addr, &running, &tally).await
        }));
    }
    let garbage_counters = Arc::new(Counters::default());
    let mut garbage_rx = Vec::new();
    for g in 0..p.garbage {
        let conn = Conn::connect(p.addr, &format!("junk{g}"), wait).await?;
        let writer = conn.writer.clone();
        let (running, tally) = (running.clone(), tally.clone());
        side_tasks.push(task::spawn(async move {
            garbage_loop(&writer, &running, &tally).await
        }));
        let (c, s) = (garbage_counters.clone(), stop_rx.clone());
        garbage_rx.push(task::spawn(async move {
            client::receive(conn, Tracker::new(Senders::new(Vec::new()), 0), None, c, s).await
        }));
    }

    // Run for the duration, or until the churn cycles are done.
    let until = async_std::future::timeout(p.duration, async {
        if p.churn_cycles.is_some() {
            let _ = churn_done_rx.recv().await;
        } else {
            futures::future::pending::<()>().await;
        }
    });
    let _ = until.await;
    running.store(false, Ordering::Relaxed);
    report.ran = started.elapsed();
    for t in side_tasks {
        let _ = async_std::future::timeout(Duration::from_secs(10), t).await;
    }
    for t in steady_tasks {
        report.sent += async_std::future::timeout(Duration::from_secs(10), t)
            .await
            .unwrap_or(0);
    }
    settle(&counters, Duration::from_secs(1), Duration::from_secs(20)).await;
    let _ = sampler.await;
    (report.rss_after_kib, report.hwm_kib) = rss(probe.as_ref());
    report.rss_max_sampled_kib = Some(max_rss.load(Ordering::Relaxed)).filter(|&k| k > 0);

    let drained = futures::future::join_all(slow.into_iter().map(drained_to_eof)).await;
    report.slow_dropped = drained.into_iter().filter(|&gone| gone).count();
    drop(stop_tx);
    let mut results = Vec::new();
    while results.len() < p.steady {
        match async_std::future::timeout(Duration::from_secs(10), done.recv()).await {
            Ok(Ok(r)) => results.push(r),
            _ => break,
        }
    }
    for t in garbage_rx {
        let (received, _) = t.await;
        report.garbage_errors += received.errors;
        if received.end == End::Stopped {
            report.garbage_alive += 1;
        }
    }
    for w in &writers {
        w.close().await;
    }

    // Which messages the server accepted, by sender index.
    let mut accepted: Vec<Vec<u64>> = vec![Vec::new(); p.steady];
    for r in &results {
        if let Some(i) = senders.index_of(&r.name) {
            accepted[i as usize] = r.accepted.clone();
            report.accepted += r.accepted.len() as u64;
            report.refused += r.refused.len() as u64;
        }
    }
    report.steady_dropped = p.steady - results.iter().filter(|r| r.end == End::Stopped).count();
    for r in results.iter().filter(|r| r.end == End::Stopped) {
        let t = &r.tracker;
        report.duplicated += t.duplicated;
        report.corrupted += t.corrupted;
        report.out_of_order += t.out_of_order;
        let mut confirmed = 0;
        for (s, nums) in accepted.iter().enumerate() {
            for &num in nums {
                report.expected += 1;
                if t.has(s as u32, num) {
                    report.delivered += 1;
                    confirmed += 1;
                }
            }
        }
        report.unconfirmed += t.delivered - confirmed;
    }
    report.missing = report.expected - report.delivered;
    report.churn_cycles = tally.churn_cycles.load(Ordering::Relaxed);
    report.churn_mid_line = tally.churn_mid_line.load(Ordering::Relaxed);
    report.churn_failures = tally.churn_failures.load(Ordering::Relaxed);
    report.flood_disconnects = tally.flood_disconnects.load(Ordering::Relaxed);
    report.flood_refused = tally.flood_refused.load(Ordering::Relaxed);
    report.garbage_sent = tally.garbage_sent.load(Ordering::Relaxed);
    Ok(report)
}

/// Reads what a slow reader never read; true when the server had closed it.
async fn drained_to_eof(conn: Conn) -> bool {
    let mut stream = conn.into_reader();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match async_std::future::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// Clients that come and go, in five ways, until told to stop.
async fn churn_loop(
    addr: SocketAddr,
    l: usize,
    running: &AtomicBool,
    tally: &Tally,
    limit: Option<u64>,
    pause: Duration,
) {
    let mut k = 0u64;
    while running.load(Ordering::Relaxed) {
        let cycle = tally.churn_cycles.fetch_add(1, Ordering::Relaxed);
        if limit.is_some_and(|max| cycle >= max) {
            tally.churn_cycles.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let name = format!("c{l}x{k}");
        k += 1;
        let ok = match cycle % 5 {
            // Leaves before saying hello, halfway through a line.
            0 => match client::open(addr).await {
                Ok(mut s) => {
                    let _ = s.write_all(b"{\"type\":\"hel").await;
                    tally.churn_mid_line.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(_) => false,
            },
            kind => match Conn::connect(addr, &name, Duration::from_secs(10)).await {
                Ok(conn) => {
                    let w = &conn.writer;
                    let _ = match kind {
                        1 => {
                            w.send(&encode_frame(&ClientFrame::Quit {
                                reason: Some("bye".into()),
                            }))
                            .await
                        }
                        2 => {
                            w.send(&encode_frame(&ClientFrame::Message {
                                room: None,
                                text: "churning".into(),
                                id: None,
                            }))
                            .await
                        }
                        3 => {
                            tally.churn_mid_line.fetch_add(1, Ordering::Relaxed);
                            w.send(b"{\"type\":\"message\",\"text\":\"half").await
                        }
                        _ => Ok(()),
                    };
                    w.close().await;
                    true
                }
                Err(_) => false,
            },
        };
        if !ok {
            tally.churn_failures.fetch_add(1, Ordering::Relaxed);
            task::sleep(Duration::from_millis(100)).await;
        }
        task::sleep(pause).await;
    }
}

/// One flooder at a time: about 1,000 messages/s until the server drops it, then
/// another, until told to stop.
async fn flood_loop(addr: SocketAddr, running: &AtomicBool, tally: &Tally) {
    let mut k = 0;
    while running.load(Ordering::Relaxed) {
        k += 1;
        let Ok(conn) = Conn::connect(addr, &format!("flood{k}"), Duration::from_secs(10)).await
        else {
            task::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let writer = conn.writer.clone();
        let (stop_tx, stop_rx) = async_std::channel::bounded::<()>(1);
        let reader = task::spawn(client::receive(
            conn,
            Tracker::new(Senders::new(Vec::new()), 0),
            None,
            Arc::new(Counters::default()),
            stop_rx,
        ));
        let mut num = 0u64;
        while running.load(Ordering::Relaxed) {
            let line = encode_frame(&ClientFrame::Message {
                room: None,
                text: format!("flood {num}"),
                id: Some(num.to_string()),
            });
            if writer.send(&line).await.is_err() {
                break;
            }
            num += 1;
            // Fast enough that the 1-in-N accepted message cannot reset the
            // "refused in a row" count before it reaches the disconnect limit.
            task::sleep(Duration::from_millis(1)).await;
        }
        drop(stop_tx);
        let (received, _) = reader.await;
        tally
            .flood_refused
            .fetch_add(received.refused.len() as u64, Ordering::Relaxed);
        if matches!(received.end, End::Closed(_)) {
            tally.flood_disconnects.fetch_add(1, Ordering::Relaxed);
        }
        writer.close().await;
        task::sleep(Duration::from_millis(200)).await;
    }
}

/// Lines the server must refuse, each with one error, without dropping the sender.
fn garbage_lines() -> Vec<Vec<u8>> {
    let mut oversized = vec![b'x'; 20_000];
    oversized.push(b'\n');
    vec![
        b"bad \xff\xfe utf-8\n".to_vec(),
        oversized,
        b"{\"type\":\"message\"\n".to_vec(),
        b"{not json at all\n".to_vec(),
        b"{\"type\":\"teleport\"}\n".to_vec(),
        b"{\"type\":\"message\",\"text\":\"bell \\u0007 here\"}\n".to_vec(),
        b"{\"type\":\"message\",\"text\":\"\"}\n".to_vec(),
    ]
}

async fn garbage_loop(writer: &client::Writer, running: &AtomicBool, tally: &Tally) {
    let lines = garbage_lines();
    let mut i = 0;
    while running.load(Ordering::Relaxed) {
        if writer.send(&lines[i % lines.len()]).await.is_err() {
            return;
        }
        tally.garbage_sent.fetch_add(1, Ordering::Relaxed);
        i += 1;
        task::sleep(Duration::from_millis(250)).await;
    }
}
