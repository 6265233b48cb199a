//! The server, name and CA file fields and the TLS box, remembered between runs in
//! `<config dir>/chat-gui/config.json` (on Linux
//! `$XDG_CONFIG_HOME/chat-gui/config.json`, usually `~/.config/chat-gui/`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What is remembered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `HOST:PORT` of the last server.
    pub server: String,
    /// The last name.
    pub name: String,
    /// Whether the TLS box was ticked. (The password is never saved.)
    pub tls: bool,
    /// The CA file field ("" when empty).
    pub ca_file: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: chat_core::DEFAULT_ADDR.to_owned(),
            name: default_name(),
            tls: false,
            ca_file: String::new(),
        }
    }
}

/// The login name, so the name field is rarely empty the first time.
fn default_name() -> String {
    name_or_guest(
        std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .ok(),
    )
}

/// `login` when it is usable as a name, else `guest-NNNN`: never a word
/// like `me` or `guest` that ordinary messages contain, which would make
/// them all mentions. Saved with the other fields on connect, so the same
/// guest name comes back next time.
fn name_or_guest(login: Option<String>) -> String {
    login
        .filter(|n| !n.trim().is_empty() && !n.contains(char::is_whitespace))
        .unwrap_or_else(chat_core::names::guest_name)
}

/// Where the file lives, when the platform has a config directory.
pub fn path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "chat-gui").map(|d| d.config_dir().join("config.json"))
}

impl Config {
    /// Reads the file; a missing or unreadable file gives the defaults (a
    /// broken config must never keep the window from opening).
    pub fn load(path: Option<&Path>) -> Self {
        path.and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Writes the file, creating its directory.
    ///
    /// # Errors
    /// When the directory or file cannot be written.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self).context("cannot encode the config")?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_missing_or_broken_files() {
        let dir = std::env::temp_dir().join(format!("chat-gui-config-{}", std::process::id()));
        let path = dir.join("sub").join("config.json");
        // Without a login name the default name is a random guest name:
        // compare the rest.
        let defaults = |c: Config| (c.server, c.tls);
        assert_eq!(
            defaults(Config::load(Some(&path))),
            defaults(Config::default())
        );
        let config = Config {
            server: "example.org:9000".into(),
            name: "zoe".into(),
            tls: true,
            ca_file: "/etc/chat/ca.pem".into(),
        };
        config.save(&path).unwrap();
        assert_eq!(Config::load(Some(&path)), config);
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(
            defaults(Config::load(Some(&path))),
            defaults(Config::default())
        );
        std::fs::write(&path, r#"{"name":"only"}"#).unwrap();
        let partial = Config::load(Some(&path));
        assert_eq!(partial.name, "only");
        assert_eq!(partial.server, chat_core::DEFAULT_ADDR);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(defaults(Config::load(None)), defaults(Config::default()));
    }

    #[test]
    fn without_a_login_name_the_name_is_a_guest_name() {
        assert_eq!(name_or_guest(Some("zoe".into())), "zoe");
        for login in [None, Some(String::new()), Some("two words".into())] {
            let name = name_or_guest(login);
            let digits = name.strip_prefix("guest-").expect("guest-NNNN");
            assert!(
                digits.len() == 4 && digits.chars().all(|c| c.is_ascii_digit()),
                "{name}"
            );
        }
    }
}
