//! Where a client's room password comes from: a file or the environment,
//! never a command-line flag (anyone on the machine can read those in `ps`).
//! Shared by the server, both front ends and the bots so that they read it
//! alike, and so that their `--help` can promise the same thing
//! ([`PASSWORD_FILE_RULE`]).

use std::path::{Path, PathBuf};

/// The environment variable every client reads the room password from.
pub const PASSWORD_ENV: &str = "CHAT_PASSWORD";

/// What every program's `--help` says about `--password-file`, word for
/// word; [`read_password_file`] is what makes it true.
pub const PASSWORD_FILE_RULE: &str = "The whole file is the password, less a final line break; a file of more than one line is refused.";

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
    /// A line break before the end: the password would hold one, and a
    /// person typing into `nc` ends the line there, so nobody could give it.
    #[error(
        "the password file {path} has more than one line: the password is the whole file, \
         less a final line break, and a line break inside it could not be typed"
    )]
    MultiLine {
        /// The file.
        path: PathBuf,
    },
}

/// The password in `path`: its contents without the final line break (`\n`
/// or `\r\n`). A password may contain spaces, so nothing else is trimmed.
///
/// # Errors
/// When the file cannot be read, holds nothing, or holds a line break
/// anywhere but at its end ([`PasswordFileError::MultiLine`]): people type
/// the password on one line (in `nc`, a line break sends it), so a
/// password with a break inside could never be given.
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
    // A lone `\r` counts too: the server keeps it inside a line, but no
    // terminal sends one when a person presses Enter.
    if password.contains(['\n', '\r']) {
        return Err(PasswordFileError::MultiLine {
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

    #[test]
    fn a_line_break_before_the_end_is_refused_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("chat-core-pw-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        for text in [
            "first\nsecond\n",
            "first\nsecond",
            "first\r\nsecond\r\n",
            "secret\n\n",
            "\nsecret",
            "lone\rcr",
            "secret\r",
        ] {
            std::fs::write(&file, text).unwrap();
            let err = read_password_file(&file).unwrap_err();
            assert!(
                matches!(err, PasswordFileError::MultiLine { .. }),
                "{text:?}: {err}"
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "the password file {} has more than one line: the password is the whole \
                     file, less a final line break, and a line break inside it could not be typed",
                    file.display()
                )
            );
        }
        for (text, password) in [
            ("secret", "secret"),
            ("secret\n", "secret"),
            ("a b\r\n", "a b"),
        ] {
            std::fs::write(&file, text).unwrap();
            assert_eq!(read_password_file(&file).unwrap(), password, "{text:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
