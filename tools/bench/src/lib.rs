//! `chat-bench`: a load generator, a raw fan-out baseline and a soak test for
//! `chat-server`, as a library so that tests drive the same code as the CLI.
//!
//! - [`scenario`]: N clients, S senders × M messages, every delivery checked.
//! - [`baseline`]: the in-process raw fan-out the relay is compared with.
//! - [`soak`]: minutes of mixed traffic and misbehaviour; the churn run.
//! - [`idle`]: N clients, structured or plain, named and idle: the
//!   server's memory per connection.
//! - [`client`]: one client on a raw socket, using chat-core's codec (or
//!   speaking [`irc`]).
//! - [`ngircd`]: a spawned ngIRCd, to load with the same IRC traffic;
//!   [`spawned`]: waiting for a spawned server to listen.
//! - [`tracker`], [`msgtext`], [`stats`], [`procfs`], [`switches`]: the pure pieces.
//! - [`report`]: Markdown tables of the figures.

pub mod baseline;
pub mod client;
pub mod idle;
pub mod irc;
pub mod msgtext;
pub mod ngircd;
pub mod procfs;
pub mod report;
pub mod scenario;
pub mod soak;
pub mod spawned;
pub mod stats;
pub mod switches;
pub mod tracker;
