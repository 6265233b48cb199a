//! The tool tested against the real server in-process: a small relay run and
//! a short soak with every kind of misbehaviour must come out clean, and the
//! baseline must carry the same load cleanly.

use std::future::Future;
use std::time::Duration;

use chat_bench::baseline::{Baseline, BaselineProcess};
use chat_bench::scenario::{run_relay, RelayParams};
use chat_bench::soak::{run_soak, SoakParams};
use chat_server::{Config, ServerHandle};

async fn within<T>(secs: u64, fut: impl Future<Output = T>) -> T {
    async_std::future::timeout(Duration::from_secs(secs), fut)
        .await
        .expect("the scenario finished in time")
}

#[async_std::test]
async fn relay_run_against_the_real_server_is_clean() {
    let server = ServerHandle::start(Config {
        rate_limit: None,
        status_interval: None,
        ..Default::default()
    })
    .await
    .expect("server starts");
    let mut params = RelayParams::new(server.addr(), 5, 2, 50);
    params.timeout = Duration::from_secs(10);
    let report = within(15, run_relay(&params)).await.expect("run");
    assert_eq!(report.expected, 5 * 2 * 50);
    assert_eq!(report.delivered, report.expected, "{report:?}");
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.latency.count, report.delivered);

    // Paced, with payload, through the same server.
    params.rate = Some(200.0);
    params.messages = 20;
    params.payload = 500;
    let paced = within(15, run_relay(&params)).await.expect("paced run");
    assert!(paced.is_clean(), "{paced:?}");
    // And with the senders spread over each period instead of in step.
    params.stagger = true;
    let staggered = within(15, run_relay(&params)).await.expect("staggered run");
    assert!(staggered.is_clean(), "{staggered:?}");
    assert_eq!(staggered.delivered, 5 * 2 * 20, "{staggered:?}");
    within(10, server.shutdown()).await.expect("shutdown");
}

#[async_std::test]
async fn relay_refuses_a_rate_limited_server_and_non_loopback() {
    let server = ServerHandle::start(Config {
        status_interval: None,
        ..Default::default()
    })
    .await
    .expect("server starts");
    let params = RelayParams::new(server.addr(), 2, 1, 5);
    let err = within(15, run_relay(&params)).await.expect_err("refused");
    assert!(err.to_string().contains("--rate-limit off"), "{err:#}");
    let far = RelayParams::new("192.0.2.1:8001".parse().expect("addr"), 2, 1, 5);
    let err = within(5, run_relay(&far)).await.expect_err("refused");
    assert!(err.to_string().contains("loopback"), "{err:#}");
}

#[async_std::test]
async fn baseline_carries_the_same_load_cleanly() {
    let baseline = Baseline::start().expect("baseline starts");
    let mut params = RelayParams::new(baseline.addr(), 5, 2, 50);
    params.timeout = Duration::from_secs(10);
    params.probe = baseline.probe();
    let report = within(15, run_relay(&params)).await.expect("run");
    assert!(report.is_clean(), "{report:?}");
    assert!(report.server.is_some(), "the baseline thread's CPU is read");
}

#[async_std::test]
async fn baseline_in_a_process_of_its_own_carries_the_load_and_is_measured_whole() {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_chat-bench"));
    let baseline = BaselineProcess::spawn(exe).expect("serve-baseline starts");
    let mut params = RelayParams::new(baseline.addr(), 5, 2, 50);
    params.timeout = Duration::from_secs(10);
    params.probe = Some(baseline.probe());
    let report = within(15, run_relay(&params)).await.expect("run");
    assert!(report.is_clean(), "{report:?}");
    let server = report.server.expect("the process is read from /proc");
    assert!(
        server.rss_connected_kib.is_some(),
        "a whole process has memory figures: {server:?}"
    );
}

#[async_std::test]
async fn short_soak_with_every_misbehaviour_is_clean() {
    // The flooder needs the rate limit, so this server keeps its default one;
    // the steady clients stay under it.
    let server = ServerHandle::start(Config {
        status_interval: None,
        ..Default::default()
    })
    .await
    .expect("server starts");
    let mut params = SoakParams::soak(server.addr(), Duration::from_secs(6));
    params.steady = 6;
    params.steady_rate = 3.0;
    params.churners = 3;
    let report = within(40, run_soak(&params)).await.expect("soak");
    assert!(report.is_clean(), "{}", report.table());
    assert!(
        report.sent > 0 && report.accepted == report.sent,
        "{}",
        report.table()
    );
    assert_eq!(report.expected, report.accepted * 6);
    assert!(
        report.churn_cycles > 10 && report.churn_mid_line > 0,
        "{}",
        report.table()
    );
    assert!(
        report.flood_refused > 0,
        "the flooder met the limit: {}",
        report.table()
    );
    assert!(report.garbage_sent > 0, "{}", report.table());
    assert_eq!(
        report.garbage_errors,
        report.garbage_sent,
        "one error per bad line: {}",
        report.table()
    );
    within(10, server.shutdown()).await.expect("shutdown");
}

#[async_std::test]
async fn idle_clients_of_both_kinds_are_named_and_stay_connected() {
    use chat_bench::idle::{run_idle, IdleParams, Speech};
    use chat_bench::procfs::Probe;
    let server = ServerHandle::start(Config {
        status_interval: None,
        ..Default::default()
    })
    .await
    .expect("server starts");
    // The server runs in this process: its memory is this process's.
    let me = Probe::Process(std::process::id());
    for speech in [Speech::Structured, Speech::Plain] {
        let mut params = IdleParams::new(server.addr(), me.clone(), 6, speech);
        params.timeout = Duration::from_secs(10);
        params.quiet = Duration::from_millis(300);
        let report = within(20, run_idle(&params)).await.expect("idle run");
        assert_eq!(report.clients, 6, "{speech:?}: {report:?}");
        assert_eq!(report.dropped, 0, "{speech:?}: {report:?}");
        assert!(report.rss_idle_kib > 0, "{report:?}");
    }
    within(10, server.shutdown()).await.expect("shutdown");
}

/// A paced IRC run on `addr`: 5 clients in #lobby, 2 senders × 30.
fn irc_params(addr: std::net::SocketAddr) -> RelayParams {
    let mut params = RelayParams::new(addr, 5, 2, 30);
    params.irc = Some("#lobby".to_owned());
    params.rate = Some(100.0);
    params.timeout = Duration::from_secs(10);
    params
}

#[async_std::test]
async fn irc_run_against_the_real_servers_irc_listener_is_clean() {
    let server = ServerHandle::start_with_irc(Config {
        rate_limit: None,
        status_interval: None,
        ..Default::default()
    })
    .await
    .expect("server starts");
    let addr = server.irc_addr().expect("an IRC listener");
    let report = within(15, run_relay(&irc_params(addr))).await.expect("run");
    // IRC senders hear everyone's messages but their own.
    assert_eq!(report.expected, (5 * 2 - 2) * 30);
    assert_eq!(report.delivered, report.expected, "{report:?}");
    assert!(report.is_clean(), "{report:?}");
    within(10, server.shutdown()).await.expect("shutdown");
}

#[async_std::test]
async fn the_same_irc_load_runs_on_ngircd_and_its_idle_clients_stay() {
    use chat_bench::idle::{run_idle, IdleParams, Speech};
    use chat_bench::ngircd::{Ngircd, DEFAULT_BIN};
    // CI installs ngIRCd (.ci/run); a missing one is a failure, not a skip.
    let ngircd = Ngircd::spawn(std::path::Path::new(DEFAULT_BIN)).expect("ngIRCd starts");
    let mut params = irc_params(ngircd.addr());
    params.probe = Some(ngircd.probe());
    let report = within(15, run_relay(&params)).await.expect("run");
    assert_eq!(report.delivered, (5 * 2 - 2) * 30, "{report:?}");
    assert!(report.is_clean(), "{report:?}");
    assert!(report.server.is_some(), "ngIRCd's CPU is read");
    drop(ngircd);

    let ngircd = Ngircd::spawn(std::path::Path::new(DEFAULT_BIN)).expect("ngIRCd starts");
    let mut idle = IdleParams::new(ngircd.addr(), ngircd.probe(), 6, Speech::Irc);
    idle.channel = Some("#lobby".to_owned());
    idle.timeout = Duration::from_secs(20);
    idle.quiet = Duration::from_millis(300);
    let report = within(30, run_idle(&idle)).await.expect("idle run");
    assert_eq!((report.clients, report.dropped), (6, 0), "{report:?}");
    assert!(report.rss_idle_kib > 0, "{report:?}");
}
