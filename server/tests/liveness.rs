//! Half-open connections: TCP keepalive on every accepted socket, read back
//! from the kernel's own table of sockets (`/proc/self/net/tcp`).

mod common;

use std::time::Duration;

use chat_server::config::keepalive;
use chat_server::Config;
use common::{server_with, Plain};

/// The kernel's timer for the server's end of the connection from
/// `client_port`: (timer kind, clock ticks until it fires). Kind 2 is the
/// keepalive timer.
fn server_side_timer(server_port: u16, client_port: u16) -> Option<(u8, u64)> {
    let table = std::fs::read_to_string("/proc/self/net/tcp").expect("read /proc/self/net/tcp");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let port = |field: &str| {
            field
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
        };
        if port(fields[1])? != server_port || port(fields[2])? != client_port {
            return None;
        }
        let (kind, when) = fields[5].split_once(':')?;
        Some((
            u8::from_str_radix(kind, 16).ok()?,
            u64::from_str_radix(when, 16).ok()?,
        ))
    })
}

async fn timer_on_an_idle_connection(config: Config) -> Option<(u8, u64)> {
    let server = server_with(config).await;
    let client = Plain::join(server.addr(), "idle").await;
    let client_port = client.local_port();
    // Let the welcome be acknowledged: then only the keepalive timer runs.
    async_std::task::sleep(Duration::from_millis(300)).await;
    server_side_timer(server.addr().port(), client_port)
}

#[async_std::test]
async fn accepted_sockets_carry_the_keepalive_timer() {
    let with = Config {
        rate_limit: None,
        status_interval: None,
        keepalive: Some(keepalive(
            Duration::from_secs(45),
            Duration::from_secs(10),
            6,
        )),
        ..Config::default()
    };
    let (kind, when) = timer_on_an_idle_connection(with)
        .await
        .expect("the server's socket is in the table");
    assert_eq!(kind, 2, "keepalive timer");
    // Ticks are USER_HZ (100 a second): idle time 45 s, less what passed.
    assert!((4000..=4500).contains(&when), "fires in {when} ticks");

    let without = Config {
        rate_limit: None,
        status_interval: None,
        keepalive: None,
        ..Config::default()
    };
    let (kind, _) = timer_on_an_idle_connection(without)
        .await
        .expect("the server's socket is in the table");
    assert_eq!(kind, 0, "no timer without keepalive");
}
