//! Who may enter: the room password, operator rights, and bans (of a name
//! and its look-alikes, or of an address; for good or for a while).
//!
//! Passwords are compared in constant time (over SHA-256 digests, so the
//! time does not depend on the length either), and a wrong one is answered
//! only after a delay, so guessing is slow.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use chat_core::names::{look_alike, name_key};
use chat_core::protocol::{now_millis, BanInfo};
use subtle::ConstantTimeEq;

/// A password that never shows in logs or `Debug` output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// Whether `given` is this password, in constant time.
    pub fn matches(&self, given: &str) -> bool {
        secret_matches(given, &self.0)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Whether `given` is the `expected` secret, in time that depends on neither.
pub fn secret_matches(given: &str, expected: &str) -> bool {
    let given = ring::digest::digest(&ring::digest::SHA256, given.as_bytes());
    let expected = ring::digest::digest(&ring::digest::SHA256, expected.as_bytes());
    given.as_ref().ct_eq(expected.as_ref()).into()
}

/// One ban: a name (and every name that looks like it) or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub target: BanTarget,
    /// The operator who banned it.
    pub by: String,
    /// When, in milliseconds since the Unix epoch.
    pub time: u64,
    /// Until when (same unit); for good without it.
    pub until: Option<u64>,
    pub reason: Option<String>,
}

/// What a ban refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BanTarget {
    /// The name as it was banned; look-alikes are refused too.
    Name(String),
    Address(IpAddr),
}

impl BanTarget {
    /// The target as people write it.
    pub fn text(&self) -> String {
        match self {
            BanTarget::Name(name) => name.clone(),
            BanTarget::Address(ip) => ip.to_string(),
        }
    }

    /// Whether `target` (a name or an address, as typed) names this ban.
    pub fn matches(&self, target: &str) -> bool {
        match self {
            BanTarget::Address(ip) => target.parse::<IpAddr>().is_ok_and(|t| t == *ip),
            BanTarget::Name(name) => name_key(name) == name_key(target),
        }
    }
}

impl Ban {
    fn in_force(&self, now: u64) -> bool {
        self.until.is_none_or(|until| now < until)
    }

    /// The ban as the protocol shows it.
    pub fn info(&self) -> BanInfo {
        BanInfo {
            target: self.target.text(),
            address: matches!(self.target, BanTarget::Address(_)),
            by: self.by.clone(),
            time: self.time,
            until: self.until,
            reason: self.reason.clone(),
        }
    }
}

/// The bans in force, shared by the accept loop and the directory. A ban
/// that has run out is forgotten the next time anyone looks.
#[derive(Debug, Clone, Default)]
pub struct Bans {
    inner: Arc<Mutex<Vec<Ban>>>,
}

impl Bans {
    /// Bans as loaded from the database.
    pub fn new(bans: Vec<Ban>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(bans)),
        }
    }

    /// The bans in force, with those run out dropped.
    fn lists(&self) -> MutexGuard<'_, Vec<Ban>> {
        let mut bans = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = now_millis();
        bans.retain(|b| b.in_force(now));
        bans
    }

    /// Adds a ban, replacing one on the same target.
    pub fn ban(&self, ban: Ban) {
        let mut bans = self.lists();
        bans.retain(|b| !b.target.matches(&ban.target.text()));
        bans.push(ban);
    }

    /// Lifts the ban that `target` names; returns it.
    pub fn unban(&self, target: &str) -> Option<Ban> {
        let mut bans = self.lists();
        let at = bans.iter().position(|b| b.target.matches(target))?;
        Some(bans.remove(at))
    }

    /// Every ban in force, oldest first.
    pub fn list(&self) -> Vec<Ban> {
        self.lists().clone()
    }

    /// The banned name that `name` is or looks like, if any.
    pub fn name_banned(&self, name: &str) -> Option<String> {
        self.lists().iter().find_map(|b| match &b.target {
            BanTarget::Name(banned) if look_alike(banned, name) => Some(banned.clone()),
            _ => None,
        })
    }

    /// Whether the address is banned.
    pub fn address_banned(&self, address: IpAddr) -> bool {
        self.lists()
            .iter()
            .any(|b| b.target == BanTarget::Address(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_leak_into_debug_output() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(secret.matches("hunter2"));
    }

    #[test]
    fn secrets() {
        assert!(secret_matches("hunter2", "hunter2"));
        assert!(!secret_matches("hunter", "hunter2"));
        assert!(!secret_matches("", "hunter2"));
        assert!(!secret_matches("Hunter2", "hunter2"));
    }

    fn ban(target: BanTarget, until: Option<u64>) -> Ban {
        Ban {
            target,
            by: "oscar".into(),
            time: now_millis(),
            until,
            reason: None,
        }
    }

    #[test]
    fn names_and_addresses_are_banned_apart() {
        let bans = Bans::default();
        let ip: IpAddr = "10.0.0.7".parse().expect("ip");
        bans.ban(ban(BanTarget::Name("bob".into()), None));
        assert!(
            !bans.address_banned(ip),
            "a name ban leaves the address alone"
        );
        assert_eq!(bans.name_banned("B0B").as_deref(), Some("bob"));
        assert_eq!(bans.name_banned("alice"), None);
        bans.ban(ban(BanTarget::Address(ip), None));
        assert!(bans.address_banned(ip));
        assert!(bans.unban("10.0.0.7").is_some());
        assert!(!bans.address_banned(ip));
        assert!(bans.unban("BOB").is_some());
        assert_eq!(bans.list(), []);
    }

    #[test]
    fn bans_run_out() {
        let bans = Bans::default();
        bans.ban(ban(BanTarget::Name("bob".into()), Some(now_millis() - 1)));
        assert_eq!(bans.name_banned("bob"), None);
        assert_eq!(bans.list(), []);
    }
}
