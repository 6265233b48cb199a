//! Who may enter: the room password, operator rights, and bans.
//!
//! Passwords are compared in constant time (over SHA-256 digests, so the
//! time does not depend on the length either), and a wrong one is answered
//! only after a delay, so guessing is slow.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

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

/// Names (by their uniqueness key) and addresses banned for the server's
/// lifetime; shared by the accept loop and the broker.
#[derive(Debug, Clone, Default)]
pub struct Bans {
    inner: Arc<Mutex<BanLists>>,
}

#[derive(Debug, Default)]
struct BanLists {
    names: HashSet<String>,
    addresses: HashSet<IpAddr>,
}

impl Bans {
    fn lists(&self) -> MutexGuard<'_, BanLists> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Bans a name key and an address.
    pub fn ban(&self, name_key: String, address: IpAddr) {
        let mut lists = self.lists();
        lists.names.insert(name_key);
        lists.addresses.insert(address);
    }

    /// Whether the name key is banned.
    pub fn name_banned(&self, name_key: &str) -> bool {
        self.lists().names.contains(name_key)
    }

    /// Whether the address is banned.
    pub fn address_banned(&self, address: IpAddr) -> bool {
        self.lists().addresses.contains(&address)
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

    #[test]
    fn bans_by_name_and_address() {
        let bans = Bans::default();
        let ip: IpAddr = "10.0.0.7".parse().expect("ip");
        assert!(!bans.address_banned(ip));
        bans.ban("bob".into(), ip);
        assert!(bans.address_banned(ip) && bans.name_banned("bob"));
        assert!(!bans.name_banned("alice"));
    }
}
