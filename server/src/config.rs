//! The server's settings and limits, with the defaults documented in
//! `docs/OPERATIONS.md`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chat_core::protocol::DEFAULT_MAX_LINE;

use crate::access::Secret;
pub use crate::cluster::ClusterConfig;
use crate::history::Keep;

/// A token bucket: `burst` messages at once, refilled at `per_sec` a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Messages a client may send in a burst.
    pub burst: u32,
    /// Messages a second on average.
    pub per_sec: f64,
}

impl Default for RateLimit {
    /// A fast typist never meets it: a burst of 10, then 5 a second.
    fn default() -> Self {
        Self {
            burst: 10,
            per_sec: 5.0,
        }
    }
}

/// The size past which a room counts arrivals instead of announcing each
/// one: the point where large chat services stop showing joins (Discord's
/// largest `large_threshold`).
pub const DEFAULT_LARGE_ROOM: usize = 250;

/// How long a quiet room waits, beyond its looks at the sockets, for the
/// rest of a burst by default: not at all. The looks take the lines already
/// sent with the first at no cost in sleep; a timed wait costs the room a
/// sleep and a wake-up for every line that arrives alone, which is most of
/// them when people send independently (docs/BENCHMARKS.md "Wake-ups,
/// round 4": 12 % more CPU per delivery with 100 µs, lines sent apart).
pub const DEFAULT_LINGER: Duration = Duration::ZERO;

/// Everything `run` needs to know besides the listener.
#[derive(Debug, Clone)]
pub struct Config {
    /// The room every connection joins when its name is accepted, shown in
    /// the banner and the welcome.
    pub default_room: String,
    /// More rooms that always exist, even when empty.
    pub rooms: Vec<String>,
    /// Rooms at once on the server (configured ones included).
    pub max_rooms: usize,
    /// Rooms one connection may be in at once (the default room included).
    pub max_rooms_per_client: usize,
    /// Only operators may set topics.
    pub topic_ops_only: bool,
    /// How much history each room keeps in the database.
    pub history_keep: Keep,
    /// Longest accepted line in bytes, without its newline.
    pub max_line: usize,
    /// Bytes queued for one client before it is dropped as a slow reader.
    pub max_send_queue: usize,
    /// Per-client message rate; `None` turns limiting off.
    pub rate_limit: Option<RateLimit>,
    /// Refused messages, beyond what drains at the rate, before a client is
    /// dropped for flooding.
    pub flood_disconnect: u32,
    /// Connections at once, over all addresses.
    pub max_clients: usize,
    /// Connections at once from one IP address.
    pub max_per_ip: usize,
    /// How long a new connection may take to pick a name.
    pub name_timeout: Duration,
    /// Silence after which a structured client is pinged.
    pub ping_interval: Duration,
    /// Silence after which any client that was pinged is dropped.
    pub idle_timeout: Duration,
    /// How often the one-line status is logged; `None` for never.
    pub status_interval: Option<Duration>,
    /// How long shutdown waits for queued lines to reach their clients.
    pub shutdown_grace: Duration,
    /// TCP keepalive on every accepted socket (`None`: off), so that peers
    /// gone without a word are found and their names freed.
    pub keepalive: Option<socket2::TcpKeepalive>,
    /// How many recent messages a newcomer is shown on joining (0: none).
    pub replay: usize,
    /// A room with more than this many people is large: it counts arrivals
    /// and departures in a headcount once a second instead of announcing
    /// each to everyone (which costs N²/2 lines for N people joining), and
    /// tells newcomers its size instead of listing everyone. `None`: every
    /// room announces each join and leave.
    pub large_room: Option<usize>,
    /// How long a quiet room, woken by a line, waits for later lines to
    /// send with it in one write per member, after taking those already
    /// waiting in other sockets (zero: it only takes those).
    pub linger: Duration,
    /// The SQLite file that keeps the room's history across restarts;
    /// `None` keeps it in memory only.
    pub history_db: Option<PathBuf>,
    /// Serve TLS with this configuration (see [`crate::tls::load`]).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The room's password; `None` lets anyone in.
    pub password: Option<Secret>,
    /// The password that makes a client an operator (`/oper`); `None`: no
    /// operators.
    pub operator_password: Option<Secret>,
    /// How long a wrong password waits before it is refused.
    pub refusal_delay: Duration,
    /// Serve the rooms together with other servers through Redis; `None`:
    /// this server alone (history in `history_db`).
    pub cluster: Option<ClusterConfig>,
    /// Pages of other origins that may open the web client's WebSocket
    /// (`--web-origin`), each as [`crate::web::normalize_origin`] spells
    /// it; the server's own page always may.
    pub web_origins: Vec<String>,
}

/// Keepalive probes after `idle` without traffic, every `interval`, giving
/// up after `probes` unanswered ones.
pub fn keepalive(idle: Duration, interval: Duration, probes: u32) -> socket2::TcpKeepalive {
    socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval(interval)
        .with_retries(probes)
}

impl Default for Config {
    fn default() -> Self {
        Self {
            default_room: "lobby".to_owned(),
            rooms: Vec::new(),
            max_rooms: 1000,
            max_rooms_per_client: 20,
            topic_ops_only: false,
            history_keep: Keep::default(),
            max_line: DEFAULT_MAX_LINE,
            max_send_queue: 256 * 1024,
            rate_limit: Some(RateLimit::default()),
            flood_disconnect: 50,
            max_clients: 10_000,
            max_per_ip: 100,
            name_timeout: Duration::from_secs(60),
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            status_interval: Some(Duration::from_secs(60)),
            shutdown_grace: Duration::from_secs(5),
            // Idle 60 s, then a probe every 10 s: a dead peer is found
            // within two minutes.
            keepalive: Some(keepalive(
                Duration::from_secs(60),
                Duration::from_secs(10),
                6,
            )),
            // Embedders and tests start with an empty, unpersisted room; the
            // binary turns replay and the database on.
            replay: 0,
            large_room: Some(DEFAULT_LARGE_ROOM),
            linger: DEFAULT_LINGER,
            history_db: None,
            tls: None,
            password: None,
            operator_password: None,
            refusal_delay: Duration::from_secs(1),
            cluster: None,
            web_origins: Vec::new(),
        }
    }
}
