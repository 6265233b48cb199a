//! `chat-bench cluster`: what sharing rooms through Redis costs. The same
//! load runs on one server alone, on one cluster node (every message
//! through Redis), and split over two nodes (clients dealt out in turn, so
//! every message crosses between nodes); server CPU counts every node and
//! Redis together.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chat_bench::procfs::Probe;
use chat_bench::report::{cell, figures, labelled_comparison, median_figures, Figure, Unit};
use chat_bench::scenario::{run_relay, RelayReport};

use super::{print_warnings, ServerProcess, Shape, Spawn, BENCH_SERVER_FLAGS};

/// A redis-server of the benchmark's own, persistence off, stopped when
/// dropped.
struct Redis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("cannot find a free port")?
            .port();
        let dir =
            std::env::temp_dir().join(format!("chat-bench-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server (Debian package redis-server)")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("redis-server did not listen on port {port} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self { child, port, dir })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How the load is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    Alone,
    OneNode,
    TwoNodes,
}

impl Setup {
    fn label(self) -> &'static str {
        match self {
            Setup::Alone => "1 server",
            Setup::OneNode => "1 node + Redis",
            Setup::TwoNodes => "2 nodes + Redis",
        }
    }
}

async fn run(spawn: &Spawn, shape: &Shape, setup: Setup) -> anyhow::Result<RelayReport> {
    let (redis, nodes) = match setup {
        Setup::Alone => (
            None,
            vec![ServerProcess::spawn(spawn, &BENCH_SERVER_FLAGS)?],
        ),
        Setup::OneNode | Setup::TwoNodes => {
            let redis = Redis::start()?;
            let count = if setup == Setup::TwoNodes { 2 } else { 1 };
            let nodes = (0..count)
                .map(|i| {
                    let node = format!("bench{i}");
                    ServerProcess::spawn_node(
                        spawn,
                        &BENCH_SERVER_FLAGS,
                        Some((&redis.url(), &node)),
                    )
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            (Some(redis), nodes)
        }
    };
    let mut p = shape.params(nodes[0].addr)?;
    p.also = nodes[1..]
        .iter()
        .map(|n| n.addr)
        .collect::<Vec<SocketAddr>>();
    let mut pids: Vec<u32> = nodes.iter().map(|n| n.child.id()).collect();
    if let Some(redis) = &redis {
        pids.push(redis.child.id());
    }
    p.probe = Some(Probe::Processes(pids));
    let r = run_relay(&p)
        .await
        .with_context(|| format!("run on {}", setup.label()))?;
    print_warnings(setup.label(), &r);
    Ok(r)
}

fn summary(r: &RelayReport) -> String {
    format!(
        "{:.0} deliveries/s, {} µs CPU/delivery (nodes + Redis), p50 {:.2} ms, p99 {:.2} ms",
        r.deliveries_per_sec(),
        cell(r.cpu_us_per_delivery(), Unit::Fixed2),
        r.latency.p50.as_secs_f64() * 1e3,
        r.latency.p99.as_secs_f64() * 1e3,
    )
}

pub(super) async fn compare(spawn: &Spawn, runs: usize, shape: &Shape) -> anyhow::Result<bool> {
    if shape.rooms > 0 || shape.irc.is_some() {
        bail!(
            "chat-bench cluster runs one room of structured clients: leave out --rooms and --irc"
        );
    }
    let mut spawn = spawn.clone();
    spawn.max_send_queue.get_or_insert(16 << 20);
    let setups = [Setup::Alone, Setup::OneNode, Setup::TwoNodes];
    let mut all: Vec<Vec<Vec<Figure>>> = vec![Vec::new(); setups.len()];
    let mut clean = true;
    for run_no in 1..=runs.max(1) {
        // Rotating which goes first spreads the machine's drift over all.
        for k in 0..setups.len() {
            let i = (k + run_no - 1) % setups.len();
            let r = run(&spawn, shape, setups[i]).await?;
            clean &= r.is_clean();
            eprintln!("run {run_no}: {}: {}", setups[i].label(), summary(&r));
            all[i].push(figures(&r));
        }
    }
    let title = if runs > 1 {
        format!("{} (median of {runs})", shape.title())
    } else {
        shape.title()
    };
    let [alone, one, two] = [0, 1, 2].map(|i| median_figures(&all[i]));
    println!(
        "{}",
        labelled_comparison(
            &title,
            [Setup::TwoNodes.label(), Setup::Alone.label()],
            &two,
            &alone
        )
    );
    println!(
        "{}",
        labelled_comparison(
            &title,
            [Setup::OneNode.label(), Setup::Alone.label()],
            &one,
            &alone
        )
    );
    Ok(clean)
}
