//! `migrate.toml`: where the two accounts are and what to move. Every key is documented
//! in `examples/migrate.toml`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// A configuration problem, naming the section and key.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys / wrong types.
    #[error("config file {path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// What the TOML parser said (it names the key).
        message: String,
    },
    /// A required key is missing or a value is unusable.
    #[error("config: [{section}] {key}: {message}")]
    Invalid {
        /// `source`, `destination`, `options`, `accounts.NAME`, `jobs.NAME`, …
        section: String,
        /// The key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// One account as written in the file (every field optional, checked afterwards).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountFile {
    /// Any URL on the server; discovery finds the rest.
    pub url: Option<String>,
    /// User name.
    pub username: Option<String>,
    /// Password in clear (discouraged).
    pub password: Option<String>,
    /// Name of an environment variable holding the password.
    pub password_env: Option<String>,
    /// File whose first line is the password.
    pub password_file: Option<PathBuf>,
}

/// The `[options]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptionsFile {
    /// Move events.
    pub calendars: bool,
    /// Move tasks and journals.
    pub tasks: bool,
    /// Move contacts.
    pub contacts: bool,
    /// Create missing collections on the destination.
    pub create_collections: bool,
    /// Parallel requests per server.
    pub concurrency: usize,
    /// Per-request timeout in seconds.
    pub timeout_seconds: u64,
    /// Retries after 429/5xx/connection errors.
    pub retries: u32,
    /// Members fetched per multiget.
    pub batch_size: usize,
    /// Add `SCHEDULE-AGENT=CLIENT` to organizer/attendees (no invitations sent).
    pub suppress_invitations: bool,
    /// Read back every written item and compare it with what was sent.
    pub verify: bool,
    /// Status database path.
    pub state: Option<PathBuf>,
}

impl Default for OptionsFile {
    fn default() -> Self {
        Self {
            calendars: true,
            tasks: true,
            contacts: true,
            create_collections: true,
            concurrency: 8,
            timeout_seconds: 120,
            retries: 4,
            batch_size: 200,
            suppress_invitations: true,
            verify: true,
            state: None,
        }
    }
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateFile {
    /// `[source]`.
    pub source: Option<AccountFile>,
    /// `[destination]`.
    pub destination: Option<AccountFile>,
    /// `[options]`.
    #[serde(default)]
    pub options: OptionsFile,
}

/// A usable account: URL, user and the password already resolved.
#[derive(Clone)]
pub struct Account {
    /// Where discovery starts.
    pub url: url::Url,
    /// User name.
    pub username: String,
    /// The password (never printed).
    pub password: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("url", &self.url.as_str())
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

impl MigrateFile {
    /// Reads and parses a config file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] or [`ConfigError::Syntax`].
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|err| ConfigError::Syntax {
            path: path.display().to_string(),
            message: err.message().to_owned()
                + &err
                    .span()
                    .map(|span| format!(" (at line {})", line_of(&text, span.start)))
                    .unwrap_or_default(),
        })
    }

    /// Checks the options that have ranges.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key.
    pub fn validate_options(&self) -> Result<(), ConfigError> {
        let o = &self.options;
        check_transfer_options(o.concurrency, o.batch_size, o.timeout_seconds)?;
        if !(o.calendars || o.tasks || o.contacts) {
            return Err(invalid(
                "options",
                "calendars",
                "calendars, tasks and contacts are all false: nothing to migrate",
            ));
        }
        Ok(())
    }
}

/// Checks the `[options]` every command that talks to servers shares.
///
/// # Errors
/// [`ConfigError::Invalid`] naming the key.
pub(crate) fn check_transfer_options(
    concurrency: usize,
    batch_size: usize,
    timeout_seconds: u64,
) -> Result<(), ConfigError> {
    if concurrency == 0 || concurrency > 64 {
        return Err(invalid(
            "options",
            "concurrency",
            "must be between 1 and 64",
        ));
    }
    if batch_size == 0 || batch_size > 500 {
        return Err(invalid(
            "options",
            "batch_size",
            "must be between 1 and 500",
        ));
    }
    if timeout_seconds == 0 {
        return Err(invalid("options", "timeout_seconds", "must be at least 1"));
    }
    Ok(())
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

pub(crate) fn invalid(section: &str, key: &'static str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        section: section.to_owned(),
        key,
        message: message.to_owned(),
    }
}

impl AccountFile {
    /// Resolves the account, reading the password from where the file says.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the missing or unusable key.
    pub fn resolve(&self, section: &str) -> Result<Account, ConfigError> {
        let raw_url = self
            .url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| invalid(section, "url", "is missing"))?;
        let url = url::Url::parse(raw_url.trim())
            .map_err(|e| invalid(section, "url", &format!("{raw_url:?} is not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(
                section,
                "url",
                "must start with http:// or https://",
            ));
        }
        let username = self
            .username
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| invalid(section, "username", "is missing"))?;
        let given = [
            self.password.is_some(),
            self.password_env.is_some(),
            self.password_file.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given > 1 {
            return Err(invalid(
                section,
                "password",
                "give only one of password, password_env, password_file",
            ));
        }
        let password = if let Some(password) = &self.password {
            password.clone()
        } else if let Some(var) = &self.password_env {
            std::env::var(var).map_err(|_| {
                invalid(
                    section,
                    "password_env",
                    &format!("the environment variable {var} is not set"),
                )
            })?
        } else if let Some(file) = &self.password_file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                invalid(
                    section,
                    "password_file",
                    &format!("cannot read {}: {e}", file.display()),
                )
            })?;
            text.lines().next().unwrap_or_default().to_owned()
        } else {
            return Err(invalid(
                section,
                "password",
                "is missing (set password, password_env or password_file)",
            ));
        };
        Ok(Account {
            url,
            username,
            password,
        })
    }
}

/// The default status database: `$XDG_STATE_HOME/calport/state.sqlite`, else
/// `~/.local/state/calport/state.sqlite`, else `./calport-state.sqlite`.
pub fn default_state_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("calport").join("state.sqlite");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home)
            .join(".local/state/calport")
            .join("state.sqlite");
    }
    PathBuf::from("calport-state.sqlite")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MigrateFile, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn missing_keys_are_named_with_their_section() {
        let file = parse("[source]\nusername = \"a\"\npassword = \"p\"\n").unwrap();
        let err = file
            .source
            .unwrap()
            .resolve("source")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "config: [source] url: is missing");
        let file = parse("[destination]\nurl = \"http://x/\"\nusername = \"a\"\n").unwrap();
        let err = file
            .destination
            .unwrap()
            .resolve("destination")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config: [destination] password: is missing"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_urls_are_refused() {
        let err = parse("[source]\npasword = \"x\"\n").unwrap_err();
        assert!(err.contains("pasword"), "{err}");
        let file =
            parse("[source]\nurl = \"ftp://x/\"\nusername = \"a\"\npassword = \"p\"\n").unwrap();
        let err = file
            .source
            .unwrap()
            .resolve("source")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[source] url"), "{err}");
    }

    #[test]
    fn passwords_come_from_env_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\nignored\n").unwrap();
        let file = parse(&format!(
            "[source]\nurl = \"http://x/\"\nusername = \"a\"\npassword_file = {:?}\n",
            path.display().to_string()
        ))
        .unwrap();
        assert_eq!(
            file.source.unwrap().resolve("source").unwrap().password,
            "s3cret"
        );
        let file = parse("[source]\nurl = \"http://x/\"\nusername = \"a\"\npassword_env = \"CALPORT_TEST_SURELY_UNSET\"\n").unwrap();
        let err = file
            .source
            .unwrap()
            .resolve("source")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("password_env") && err.contains("CALPORT_TEST_SURELY_UNSET"),
            "{err}"
        );
    }

    #[test]
    fn option_ranges_are_checked() {
        let file = parse("[options]\nconcurrency = 0\n").unwrap();
        assert!(
            file.validate_options()
                .unwrap_err()
                .to_string()
                .contains("concurrency")
        );
        assert!(parse("").unwrap().validate_options().is_ok());
    }
}
