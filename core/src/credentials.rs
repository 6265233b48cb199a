//! Where a client's room password comes from: a file or the environment,
//! never a command-line flag (anyone on the machine can read those in `ps`).
//! Shared by both front ends and the bots so that they read it alike.

use std::path::{Path, PathBuf};

/// The environment variable every client reads the room password from.
pub const PASSWORD_ENV: &str = "CHAT_PASSWORD";

/// Why a password file gave no password.
#[derive(Debug, thiserror::Error)]
pub enum PasswordFileError {
    /// The file could not be read.
    #[error("cannot read the password file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no password.
    #[error("the password file {path} is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// The password in `path`: its contents without the final line break. A
/// password may contain spaces, so nothing else is trimmed.
///
/// # Errors
/// When the file cannot be read, or holds nothing.
pub fn read_password_file(path: &Path) -> Result<String, PasswordFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| PasswordFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let password = text
        .strip_suffix('\n')
        .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
    if password.is_empty() {
        return Err(PasswordFileError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_final_line_break_goes() {
        let dir = std::env::temp_dir().join(format!("chat-core-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, " two words \r\n").unwrap();
        assert_eq!(read_password_file(&file).unwrap(), " two words ");
        std::fs::write(&file, "\n").unwrap();
        assert!(matches!(
            read_password_file(&file),
            Err(PasswordFileError::Empty { .. })
        ));
        let missing = read_password_file(&dir.join("missing")).unwrap_err();
        assert!(missing
            .to_string()
            .starts_with("cannot read the password file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
