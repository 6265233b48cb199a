//! The relay scenario: N clients connect, S of them send M stamped messages
//! each, every client checks what it receives; with a probe, the server's
//! CPU time and memory are read from `/proc` around the run. With rooms, the
//! same happens in R rooms at once: N clients join each room (`r1`, `r2`, …)
//! and S of them send there. Over IRC, every client joins one channel and
//! the senders send `PRIVMSG`s there (an IRC sender hears no echo of its
//! own).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use async_std::task;
use futures::StreamExt;

use crate::client::{self, Conn, Counters, Dest, End, Received, Speech, Writer};
use crate::procfs::{Probe, Sample};
use crate::stats::Summary;
use crate::tracker::{Senders, Tracker};

/// How long a run waits without a delivery, once every sender is done,
/// before it gives up on the missing ones.
const STALL: Duration = Duration::from_secs(3);

/// What to run.
#[derive(Debug, Clone)]
pub struct RelayParams {
    /// The server (loopback only).
    pub addr: SocketAddr,
    /// Clients connected.
    pub clients: usize,
    /// How many of them send.
    pub senders: usize,
    /// Messages per sender.
    pub messages: u64,
    /// Messages per second per sender; `None` for as fast as possible.
    pub rate: Option<f64>,
    /// With a rate: senders' messages spread evenly over each period
    /// instead of sent in step.
    pub stagger: bool,
    /// Bytes of message text.
    pub payload: usize,
    /// The whole run's time limit.
    pub timeout: Duration,
    /// Where to read the server's CPU and memory.
    pub probe: Option<Probe>,
    /// Connections opened at once while connecting.
    pub connect_concurrency: usize,
    /// Rooms: 0 keeps everyone in the server's default room (nobody joins);
    /// R ≥ 1 puts `clients` clients, `senders` of them sending, into each of
    /// R rooms `r1`…`rR`, joined after the welcome.
    pub rooms: usize,
    /// More servers (nodes of one cluster): clients are dealt out in turn
    /// to `addr` and these, so senders and receivers sit on every node.
    pub also: Vec<SocketAddr>,
    /// Speak IRC to `addr` (an IRC listener) instead, every client in this
    /// channel (no rooms, no other servers).
    pub irc: Option<String>,
    /// Leave each client's sockets in the acknowledgement mode set-up left
    /// them in, instead of starting every client in the same one (see
    /// [`client::Writer::quick_ack`]).
    pub keep_ack_mode: bool,
}

impl RelayParams {
    /// A run against `addr` with the given shape and otherwise defaults.
    pub fn new(addr: SocketAddr, clients: usize, senders: usize, messages: u64) -> Self {
        Self {
            addr,
            clients,
            senders,
            messages,
            rate: None,
            stagger: false,
            payload: 32,
            timeout: Duration::from_secs(120),
            probe: None,
            connect_concurrency: 64,
            rooms: 0,
            also: Vec::new(),
            irc: None,
            keep_ack_mode: false,
        }
    }

    /// How many rooms carry traffic (the default room counts as one).
    pub fn busy_rooms(&self) -> usize {
        self.rooms.max(1)
    }

    /// The room of client `i` (clients are dealt out in blocks of
    /// `clients`), or `None` for the default room.
    pub fn room_of(&self, i: usize) -> Option<String> {
        (self.rooms > 0).then(|| format!("r{}", i / self.clients.max(1) + 1))
    }
}

/// The server's figures over a run, from `/proc`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerFigures {
    /// CPU seconds (user + system) spent while messages flowed.
    pub cpu_secs: f64,
    /// CPU seconds spent while the clients connected and the joins settled.
    pub connect_cpu_secs: f64,
    /// RSS before any client connected, KiB.
    pub rss_start_kib: Option<u64>,
    /// RSS once every client was connected and traffic settled, KiB.
    pub rss_connected_kib: Option<u64>,
    /// RSS at the end, KiB.
    pub rss_end_kib: Option<u64>,
    /// Peak RSS (VmHWM) at the end, KiB.
    pub hwm_kib: Option<u64>,
    /// Context switches of every server thread while messages flowed.
    pub switches: Option<crate::switches::Switches>,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct RelayReport {
    /// Rooms with traffic (1 for the default room alone).
    pub rooms: usize,
    /// Clients connected, in all rooms.
    pub clients: usize,
    /// Senders, in all rooms.
    pub senders: usize,
    /// Messages per sender.
    pub messages: u64,
    /// Deliveries expected: every client gets every message, its own
    /// included (over IRC, its own excepted).
    pub expected: u64,
    /// First copies received.
    pub delivered: u64,
    /// Expected but never received.
    pub missing: u64,
    /// Received more than once.
    pub duplicated: u64,
    /// Damaged or misattributed.
    pub corrupted: u64,
    /// Received after a later message of the same sender.
    pub out_of_order: u64,
    /// Clients the server closed, or that failed, before the end.
    pub dropped_clients: usize,
    /// Time to connect every client and let the joins settle.
    pub connect_time: Duration,
    /// From the first send to the last delivery.
    pub wall: Duration,
    /// Latency from send stamp to receipt.
    pub latency: Summary,
    /// Server figures, when a probe was given.
    pub server: Option<ServerFigures>,
    /// CPU seconds this process (every client) spent while messages flowed:
    /// on a machine the clients share with the server, what the server
    /// could not have.
    pub client_cpu_secs: Option<f64>,
    /// CPU seconds the whole machine (every process) was busy meanwhile.
    pub machine_cpu_secs: Option<f64>,
    /// Whether the run gave up: time limit, or deliveries stalled.
    pub timed_out: bool,
}

impl RelayReport {
    /// Deliveries per second of wall time.
    pub fn deliveries_per_sec(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.delivered as f64 / secs
        } else {
            0.0
        }
    }

    /// Server CPU microseconds per delivery.
    pub fn cpu_us_per_delivery(&self) -> Option<f64> {
        let server = self.server?;
        (self.delivered > 0).then(|| server.cpu_secs * 1e6 / self.delivered as f64)
    }

    /// Server context switches (`(voluntary, all)`) per delivery.
    pub fn switches_per_delivery(&self) -> Option<(f64, f64)> {
        let s = self.server?.switches?;
        let per = |n: u64| n as f64 / self.delivered as f64;
        (self.delivered > 0).then(|| (per(s.voluntary), per(s.total())))
    }

    /// Server CPU seconds per second of wall time while messages flowed:
    /// how many cores the server kept busy.
    pub fn server_cores(&self) -> Option<f64> {
        let server = self.server?;
        let secs = self.wall.as_secs_f64();
        (secs > 0.0).then(|| server.cpu_secs / secs)
    }

    /// The same for this process, the clients.
    pub fn client_cores(&self) -> Option<f64> {
        let secs = self.wall.as_secs_f64();
        (secs > 0.0).then_some(self.client_cpu_secs? / secs)
    }

    /// Cores busy with neither the server nor the clients (other people's
    /// builds on a shared machine) while messages flowed.
    pub fn other_cores(&self) -> Option<f64> {
        let secs = self.wall.as_secs_f64();
        let others = self.machine_cpu_secs?
            - self.client_cpu_secs?
            - self.server.map_or(0.0, |s| s.cpu_secs);
        (secs > 0.0).then_some((others / secs).max(0.0))
    }

    /// Server memory added per connected client, KiB.
    pub fn kib_per_connection(&self) -> Option<f64> {
        let s = self.server?;
        let grew = s.rss_connected_kib?.saturating_sub(s.rss_start_kib?);
        (self.clients > 0).then(|| grew as f64 / self.clients as f64)
    }

    /// Nothing lost, duplicated, damaged or reordered, nobody dropped.
    pub fn is_clean(&self) -> bool {
        self.missing == 0
            && self.duplicated == 0
            && self.corrupted == 0
            && self.out_of_order == 0
            && self.dropped_clients == 0
            && !self.timed_out
    }
}

/// Refuses anything but a loopback address: this tool floods what it targets.
///
/// # Errors
/// When `addr` is not loopback.
pub fn check_loopback(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("refusing to load {addr}: chat-bench only targets loopback addresses (127.0.0.0/8, ::1)");
    }
    Ok(())
}

fn sample(probe: Option<&Probe>) -> anyhow::Result<Option<Sample>> {
    probe.map(Probe::sample).transpose()
}

/// Waits until no line has arrived for `quiet`, or `limit` has passed.
pub async fn settle(counters: &Counters, quiet: Duration, limit: Duration) {
    let start = Instant::now();
    let mut last = counters.lines.load(Ordering::Relaxed);
    let mut still_since = Instant::now();
    while start.elapsed() < limit {
        task::sleep(Duration::from_millis(50)).await;
        let now = counters.lines.load(Ordering::Relaxed);
        if now != last {
            last = now;
            still_since = Instant::now();
        } else if still_since.elapsed() >= quiet {
            break;
        }
    }
}

/// How [`connect_all`] connects.
#[derive(Debug, Clone, Copy)]
pub struct ConnectPlan {
    /// The server.
    pub addr: SocketAddr,
    /// Handshakes at once.
    pub concurrency: usize,
    /// Time limit for each handshake.
    pub wait: Duration,
    /// Whether a server with a rate limit is fine (the soak wants one).
    pub allow_rate_limit: bool,
    /// How the clients speak: a plain seat's room is ignored; an IRC
    /// seat's room is the channel it joins.
    pub speech: Speech,
}

/// One client to connect: its name and the room it joins, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    /// The name it asks for.
    pub name: String,
    /// The room it joins after the welcome; `None`: the default room only.
    pub room: Option<String>,
    /// The server it connects to, when not the plan's (clients split
    /// across the nodes of a cluster).
    pub addr: Option<SocketAddr>,
}

impl Seat {
    /// A client that stays in the server's default room.
    pub fn default_room(name: String) -> Self {
        Self {
            name,
            room: None,
            addr: None,
        }
    }
}

/// Connects `seats` (at most `concurrency` handshakes at once, each joining
/// its room) and starts a receiver for each as soon as it is in, so early
/// clients keep reading the joins of later ones. Each receiver task hands
/// back what it saw, then keeps its connection open until `stop` closes.
/// The writers come back in the order of `seats`.
///
/// # Errors
/// The first connection that fails.
pub async fn connect_all(
    plan: &ConnectPlan,
    seats: Vec<Seat>,
    make_tracker: impl Fn(&Seat) -> (Tracker, Option<u64>),
    counters: &Arc<Counters>,
    stop: &async_std::channel::Receiver<()>,
) -> anyhow::Result<(Vec<Writer>, async_std::channel::Receiver<Received>)> {
    let ConnectPlan {
        addr,
        concurrency,
        wait,
        allow_rate_limit,
        speech,
    } = *plan;
    let (done_tx, done_rx) = async_std::channel::unbounded();
    let mut writers = Vec::with_capacity(seats.len());
    let mut handshakes = futures::stream::iter(seats)
        .map(|seat| async move {
            let to = seat.addr.unwrap_or(addr);
            let conn = match speech {
                Speech::Plain => Conn::connect_plain(to, &seat.name, wait).await,
                Speech::Structured => {
                    Conn::connect_in(to, &seat.name, seat.room.as_deref(), wait).await
                }
                Speech::Irc => Conn::connect_irc(to, &seat.name, seat.room.as_deref(), wait).await,
            };
            (seat, conn)
        })
        .buffered(concurrency.max(1));
    while let Some((seat, conn)) = handshakes.next().await {
        let conn = conn?;
        if conn.limits.rate_per_sec != 0 && !allow_rate_limit {
            bail!(
                "the server limits each client to {} messages/s: start it with `--rate-limit off` \
                 for benchmarks",
                conn.limits.rate_per_sec
            );
        }
        writers.push(conn.writer.clone());
        let (tracker, expect) = make_tracker(&seat);
        let counters = counters.clone();
        let stop = stop.clone();
        let done = done_tx.clone();
        task::spawn(async move {
            let (received, writer) =
                client::receive(conn, tracker, expect, counters, stop.clone()).await;
            let _ = done.send(received).await;
            let _ = stop.recv().await;
            drop(writer);
        });
    }
    Ok((writers, done_rx))
}

/// Runs the relay scenario once.
///
/// # Errors
/// When clients cannot connect or the probe cannot be read.
pub async fn run_relay(p: &RelayParams) -> anyhow::Result<RelayReport> {
    check_loopback(p.addr)?;
    for addr in &p.also {
        check_loopback(*addr)?;
    }
    if p.irc.is_some() && (p.rooms > 0 || !p.also.is_empty()) {
        bail!("over IRC every client is in one channel of one server: no rooms, no cluster");
    }
    if p.senders > p.clients {
        bail!(
            "--senders ({}) cannot exceed --clients ({})",
            p.senders,
            p.clients
        );
    }
    let deadline = Instant::now() + p.timeout;
    let probe = p.probe.as_ref();
    let start_sample = sample(probe)?;

    let total = p.clients * p.busy_rooms();
    let seats: Vec<Seat> = (0..total)
        .map(|i| Seat {
            name: format!("b{i}"),
            room: p.irc.clone().or_else(|| p.room_of(i)),
            addr: match p.also.len() {
                0 => None,
                n => Some(if i % (n + 1) == 0 {
                    p.addr
                } else {
                    p.also[i % (n + 1) - 1]
                }),
            },
        })
        .collect();
    // Each room's senders are its first clients; a receiver tracks the
    // senders of its own room, so a message from another room is caught.
    let senders_of: HashMap<Option<String>, Senders> = seats
        .chunks(p.clients.max(1))
        .map(|block| {
            let names = block.iter().take(p.senders).map(|s| s.name.clone());
            (block[0].room.clone(), Senders::new(names.collect()))
        })
        .collect();
    let every = p.senders as u64 * p.messages;
    // An IRC client is not sent its own messages back.
    let expect_of = |seat: &Seat| {
        let sends = senders_of
            .get(&seat.room)
            .is_some_and(|s| s.index_of(&seat.name).is_some());
        match p.irc {
            Some(_) if sends => every - p.messages,
            _ => every,
        }
    };
    let expected: u64 = seats.iter().map(expect_of).sum();
    let this_process = Probe::Process(std::process::id());
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = async_std::channel::bounded::<()>(1);
    let connect_start = Instant::now();
    let (writers, done) = async_std::future::timeout(
        p.timeout,
        connect_all(
            &ConnectPlan {
                addr: p.addr,
                concurrency: p.connect_concurrency,
                wait: p.timeout,
                allow_rate_limit: false,
                speech: match p.irc {
                    Some(_) => Speech::Irc,
                    None => Speech::Structured,
                },
            },
            seats,
            |seat| {
                let senders = senders_of
                    .get(&seat.room)
                    .cloned()
                    .unwrap_or_else(|| Senders::new(Vec::new()));
                (Tracker::new(senders, p.messages), Some(expect_of(seat)))
            },
            &counters,
            &stop_rx,
        ),
    )
    .await
    .context("connecting took longer than --timeout")??;
    let left = deadline.saturating_duration_since(Instant::now());
    settle(&counters, Duration::from_millis(300), left).await;
    let connect_time = connect_start.elapsed();
    // The clients' kernels otherwise acknowledge in whichever mode set-up
    // happened to leave them in: on loopback, with most of one server's
    // receivers acknowledging on its CPU and nearly all of another's on
    // their own, that was 4–5 % of the first server's figure.
    if !p.keep_ack_mode {
        for writer in &writers {
            writer
                .quick_ack()
                .await
                .context("cannot set TCP_QUICKACK on a client")?;
        }
    }
    let connected_sample = sample(probe)?;
    let switches_connected = probe.and_then(crate::switches::read);
    let clients_connected = this_process.sample().ok();
    let machine_connected = crate::procfs::machine_busy_secs();

    // Paced senders share one clock, started a little ahead so that each
    // task is waiting before its first message is due: whether they send in
    // step or staggered is then the run's choice, not the luck of when each
    // task first ran. The wall time counts from that start.
    let lead = match p.rate {
        Some(_) => Duration::from_millis(20),
        None => Duration::ZERO,
    };
    let start = Instant::now() + lead;
    let send_start = client::now_nanos() + u64::try_from(lead.as_nanos()).unwrap_or(0);
    let mut send_tasks = Vec::new();
    let senders_done = Arc::new(AtomicUsize::new(0));
    let all_senders = p.senders * p.busy_rooms();
    for (k, block) in writers.chunks(p.clients.max(1)).enumerate() {
        let room = p.room_of(k * p.clients);
        for (i, writer) in block.iter().take(p.senders).enumerate() {
            let (writer, finished, room) = (writer.clone(), senders_done.clone(), room.clone());
            let pace = p.rate.map(|rate| client::Pace {
                start,
                rate,
                offset: match p.stagger {
                    true => (k * p.senders + i) as f64 / (rate * all_senders as f64),
                    false => 0.0,
                },
            });
            let (messages, payload, irc) = (p.messages, p.payload, p.irc.clone());
            send_tasks.push(task::spawn(async move {
                let dest = match &irc {
                    Some(channel) => Dest::Channel(channel),
                    None => Dest::Room(room.as_deref()),
                };
                let sent =
                    client::send_stamped(&writer, dest, i as u32, messages, pace, payload).await;
                finished.fetch_add(1, Ordering::Relaxed);
                sent
            }));
        }
    }

    let mut results = Vec::with_capacity(total);
    let mut timed_out = false;
    let mut progress = (counters.deliveries.load(Ordering::Relaxed), Instant::now());
    while results.len() < total {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        match async_std::future::timeout(left.min(Duration::from_millis(250)), done.recv()).await {
            Ok(Ok(r)) => results.push(r),
            Ok(Err(_)) => break,
            Err(_) => {}
        }
        // A sender the server dropped never finishes its messages: once
        // every sender is done and nothing arrives for a while, give up.
        let now = counters.deliveries.load(Ordering::Relaxed);
        if now != progress.0 {
            progress = (now, Instant::now());
        } else if senders_done.load(Ordering::Relaxed) == all_senders
            && progress.1.elapsed() > STALL
        {
            timed_out = true;
            break;
        }
    }
    let end_sample = sample(probe)?;
    let switches_end = probe.and_then(crate::switches::read);
    let clients_end = this_process.sample().ok();
    let machine_end = crate::procfs::machine_busy_secs();
    // Late receivers hand in what they have once told to stop.
    drop(stop_tx);
    while results.len() < total {
        match async_std::future::timeout(Duration::from_secs(5), done.recv()).await {
            Ok(Ok(r)) => results.push(r),
            _ => break,
        }
    }
    for t in send_tasks {
        // A sender blocked on a full socket cannot finish once the run ended.
        let _ = async_std::future::timeout(Duration::from_secs(1), t).await;
    }
    for w in &writers {
        w.close().await;
    }

    let mut report = RelayReport {
        rooms: p.busy_rooms(),
        clients: total,
        senders: all_senders,
        messages: p.messages,
        expected,
        connect_time,
        timed_out,
        client_cpu_secs: clients_connected
            .zip(clients_end)
            .map(|(a, b)| b.cpu_since(&a)),
        machine_cpu_secs: machine_connected.zip(machine_end).map(|(a, b)| b - a),
        ..Default::default()
    };
    for r in &results {
        let t = &r.tracker;
        report.delivered += t.delivered;
        report.duplicated += t.duplicated;
        report.corrupted += t.corrupted;
        report.out_of_order += t.out_of_order;
        if matches!(r.end, End::Closed(_)) {
            report.dropped_clients += 1;
        }
    }
    report.missing = report.expected.saturating_sub(report.delivered);
    let last = counters.last_receipt.load(Ordering::Relaxed);
    report.wall = Duration::from_nanos(last.saturating_sub(send_start));
    report.latency = counters.histogram().summary();
    if let (Some(s0), Some(s1), Some(s2)) = (start_sample, connected_sample, end_sample) {
        report.server = Some(ServerFigures {
            cpu_secs: s2.cpu_since(&s1),
            connect_cpu_secs: s1.cpu_since(&s0),
            rss_start_kib: s0.memory.map(|m| m.rss_kib),
            rss_connected_kib: s1.memory.map(|m| m.rss_kib),
            rss_end_kib: s2.memory.map(|m| m.rss_kib),
            hwm_kib: s2.memory.map(|m| m.hwm_kib),
            switches: switches_end
                .zip(switches_connected)
                .map(|(end, start)| end.since(start)),
        });
    }
    Ok(report)
}
