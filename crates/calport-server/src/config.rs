//! Service configuration: defaults, then `calport.toml` in the data directory, then
//! `CALPORT_*` environment variables. Invalid values are refused at start-up, naming the
//! key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// A configuration problem.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A key has a bad value, or is unknown.
    #[error("configuration: {key}: {message}")]
    Invalid {
        /// The key, as `section.key` (or the environment variable).
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// `[worker]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// Run a worker inside `calport serve`.
    pub enabled: bool,
    /// Runs executed at the same time by one worker.
    pub parallel_runs: usize,
    /// How long a claimed run stays reserved without a heartbeat, in seconds.
    pub lease_seconds: u64,
    /// How often an idle worker looks for queued runs, in seconds.
    pub poll_seconds: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            parallel_runs: 2,
            lease_seconds: 60,
            poll_seconds: 2,
        }
    }
}

/// `[http]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Mark the web UI's session cookie `Secure` (set this when calport is served over
    /// HTTPS, e.g. behind a TLS proxy).
    pub secure_cookies: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            secure_cookies: false,
        }
    }
}

/// `[remote]`: how calport talks to CalDAV/CardDAV servers.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteConfig {
    /// Requests in parallel per remote server.
    pub concurrency: usize,
    /// Time limit for one request, in seconds.
    pub timeout_seconds: u64,
    /// Retries after 429/5xx/connection errors.
    pub retries: u32,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            timeout_seconds: 120,
            retries: 4,
        }
    }
}

/// `[webhooks]`: outbound webhooks after each run.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Time limit for one delivery, in seconds.
    pub timeout_seconds: u64,
    /// Most changed items listed in a run summary.
    pub max_changed_items: usize,
    /// Allow targets on loopback or private addresses (off: such targets are refused at
    /// connect time, against SSRF).
    pub allow_private_targets: bool,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            timeout_seconds: 15,
            max_changed_items: 100,
            allow_private_targets: false,
        }
    }
}

/// `[ingest]`: applying pushed changes (webhooks) from the inbox.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Failed attempts after which a pushed change becomes a dead letter.
    pub max_attempts: i64,
    /// The first retry waits this long, in seconds; each next one twice as long.
    pub retry_seconds: u64,
    /// Inbox entries claimed at once by one worker.
    pub batch: i64,
    /// How long claimed entries stay reserved without renewal, in seconds: a worker
    /// killed while applying them hands them to another after this time.
    pub lease_seconds: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            retry_seconds: 2,
            batch: 64,
            lease_seconds: 30,
        }
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite database, the secret key file and `calport.toml` live.
    #[serde(skip)]
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: String,
    /// `sqlite://PATH` or `postgres://…`; default: `calport.sqlite` in the data directory.
    pub database_url: Option<String>,
    /// `[worker]`.
    pub worker: WorkerConfig,
    /// `[http]`.
    pub http: HttpConfig,
    /// `[remote]`.
    pub remote: RemoteConfig,
    /// `[webhooks]`.
    pub webhooks: WebhooksConfig,
    /// `[ingest]`.
    pub ingest: IngestConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            listen: "127.0.0.1:8080".to_owned(),
            database_url: None,
            worker: WorkerConfig::default(),
            http: HttpConfig::default(),
            remote: RemoteConfig::default(),
            webhooks: WebhooksConfig::default(),
            ingest: IngestConfig::default(),
        }
    }
}

/// Environment variables read, as (variable, `section.key`).
const ENV_KEYS: &[(&str, &str)] = &[
    ("CALPORT_LISTEN", "listen"),
    ("CALPORT_DATABASE_URL", "database_url"),
    ("CALPORT_WORKER_ENABLED", "worker.enabled"),
    ("CALPORT_WORKER_PARALLEL_RUNS", "worker.parallel_runs"),
    ("CALPORT_WORKER_LEASE_SECONDS", "worker.lease_seconds"),
    ("CALPORT_WORKER_POLL_SECONDS", "worker.poll_seconds"),
    ("CALPORT_HTTP_MAX_BODY_BYTES", "http.max_body_bytes"),
    ("CALPORT_HTTP_SECURE_COOKIES", "http.secure_cookies"),
    ("CALPORT_REMOTE_CONCURRENCY", "remote.concurrency"),
    ("CALPORT_REMOTE_TIMEOUT_SECONDS", "remote.timeout_seconds"),
    ("CALPORT_REMOTE_RETRIES", "remote.retries"),
    (
        "CALPORT_WEBHOOKS_TIMEOUT_SECONDS",
        "webhooks.timeout_seconds",
    ),
    (
        "CALPORT_WEBHOOKS_MAX_CHANGED_ITEMS",
        "webhooks.max_changed_items",
    ),
    (
        "CALPORT_WEBHOOKS_ALLOW_PRIVATE_TARGETS",
        "webhooks.allow_private_targets",
    ),
    ("CALPORT_INGEST_MAX_ATTEMPTS", "ingest.max_attempts"),
    ("CALPORT_INGEST_RETRY_SECONDS", "ingest.retry_seconds"),
    ("CALPORT_INGEST_BATCH", "ingest.batch"),
    ("CALPORT_INGEST_LEASE_SECONDS", "ingest.lease_seconds"),
];

/// A documented example of `calport.toml`, printed by `calport config example`.
pub const EXAMPLE: &str = r#"# calport.toml — read from the data directory (CALPORT_DATA_DIR, default ./data).
# Every key can also be set by an environment variable, which wins over this file:
# CALPORT_LISTEN, CALPORT_DATABASE_URL, CALPORT_<SECTION>_<KEY> (e.g. CALPORT_WORKER_PARALLEL_RUNS).
# Secrets (account passwords, webhook secrets) are encrypted with the key in
# CALPORT_SECRET_KEY (base64 of 32 bytes) or, when unset, with data/secret.key (created
# on first start, mode 0600). Keep that key: without it stored passwords cannot be read.

# Address of the REST API (and, later, the web UI).                  default: 127.0.0.1:8080
listen = "127.0.0.1:8080"

# The database. Default: SQLite file calport.sqlite in the data directory. PostgreSQL
# lets several calport processes (serve and extra `calport worker`s) share the work:
# database_url = "postgres://calport@db.example.com/calport"

[worker]
# Run a worker (and the scheduler) inside `calport serve`.            default: true
enabled = true
# Runs one worker executes at the same time.                          default: 2
parallel_runs = 2
# A claimed run is reserved this long without a heartbeat; when its   default: 60
# worker dies, another worker takes the run over after this time.
lease_seconds = 60
# How often an idle worker looks for queued runs.                     default: 2
poll_seconds = 2

[http]
# Largest accepted request body (bytes); larger ones get 413.         default: 1048576
max_body_bytes = 1048576
# Mark the web UI's session cookie Secure (when served over HTTPS).    default: false
secure_cookies = false

[remote]
# Requests in parallel per CalDAV/CardDAV server.                     default: 8
concurrency = 8
# Time limit for one request to a server, in seconds.                 default: 120
timeout_seconds = 120
# Retries after 429 / 502 / 503 / 504 or a dropped connection.        default: 4
retries = 4

[webhooks]
# Time limit for one outbound webhook delivery, in seconds.           default: 15
timeout_seconds = 15
# Most changed items listed in a run summary.                         default: 100
max_changed_items = 100
# Allow webhook targets on loopback / private networks (SSRF guard).  default: false
allow_private_targets = false

[ingest]
# Pushed changes (POST /api/webhook/event/...) are stored, answered 202, then applied to
# CalDAV by the worker. Failed attempts before one becomes a dead letter.  default: 5
max_attempts = 5
# Wait before the first retry, in seconds; doubled each time (max 300).  default: 2
retry_seconds = 2
# Inbox entries one worker claims at once.                            default: 64
batch = 64
# Claimed entries stay reserved this long without renewal; a killed   default: 30
# worker's entries are applied by another (or after restart) after this time.
lease_seconds = 30
"#;

impl Config {
    /// Loads the configuration for `data_dir` (`calport.toml` there if present) and the
    /// environment `env` (pass `std::env::vars()`).
    ///
    /// # Errors
    /// [`ConfigError`] naming the file or key.
    pub fn load(
        data_dir: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let path = data_dir.join("calport.toml");
        let mut table = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .parse::<toml::Table>()
                .map_err(|e| invalid(&path.display().to_string(), e.message().to_owned()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let env: Vec<(String, String)> = env.into_iter().collect();
        for (var, key) in ENV_KEYS {
            let Some((_, raw)) = env.iter().find(|(k, _)| k == var) else {
                continue;
            };
            let value = env_value(key, raw).map_err(|m| invalid(var, m))?;
            let (section, name) = match key.split_once('.') {
                Some((s, n)) => (Some(s), n),
                None => (None, *key),
            };
            let target = match section {
                Some(s) => table
                    .entry(s)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                    .ok_or_else(|| invalid(s, "must be a table"))?,
                None => &mut table,
            };
            target.insert(name.to_owned(), value);
        }
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| invalid("calport.toml", e.message().to_owned()))?;
        config.data_dir = data_dir.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    /// The database URL: the configured one, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir.join("calport.sqlite").display()
            )
        })
    }

    /// The listen address, parsed.
    ///
    /// # Errors
    /// When `listen` is not `HOST:PORT` with an IP host.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            invalid(
                "listen",
                format!("{:?} is not an address like 127.0.0.1:8080", self.listen),
            )
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite: or postgres://",
            ));
        }
        let i = &self.ingest;
        if !(1..=100).contains(&i.max_attempts) {
            return Err(invalid("ingest.max_attempts", "must be between 1 and 100"));
        }
        if !(1..=300).contains(&i.retry_seconds) {
            return Err(invalid("ingest.retry_seconds", "must be between 1 and 300"));
        }
        if !(1..=1000).contains(&i.batch) {
            return Err(invalid("ingest.batch", "must be between 1 and 1000"));
        }
        if !(2..=3600).contains(&i.lease_seconds) {
            return Err(invalid(
                "ingest.lease_seconds",
                "must be between 2 and 3600",
            ));
        }
        let w = &self.worker;
        if !(1..=64).contains(&w.parallel_runs) {
            return Err(invalid("worker.parallel_runs", "must be between 1 and 64"));
        }
        if !(5..=3600).contains(&w.lease_seconds) {
            return Err(invalid(
                "worker.lease_seconds",
                "must be between 5 and 3600",
            ));
        }
        if !(1..=300).contains(&w.poll_seconds) {
            return Err(invalid("worker.poll_seconds", "must be between 1 and 300"));
        }
        if self.http.max_body_bytes < 1024 {
            return Err(invalid("http.max_body_bytes", "must be at least 1024"));
        }
        if !(1..=64).contains(&self.remote.concurrency) {
            return Err(invalid("remote.concurrency", "must be between 1 and 64"));
        }
        if self.remote.timeout_seconds == 0 {
            return Err(invalid("remote.timeout_seconds", "must be at least 1"));
        }
        if !(1..=300).contains(&self.webhooks.timeout_seconds) {
            return Err(invalid(
                "webhooks.timeout_seconds",
                "must be between 1 and 300",
            ));
        }
        Ok(())
    }
}

/// An environment value as the TOML type its key expects.
fn env_value(key: &str, raw: &str) -> Result<toml::Value, String> {
    let numeric = key.ends_with("parallel_runs")
        || key.ends_with("_seconds")
        || key.ends_with("max_body_bytes")
        || key.ends_with("concurrency")
        || key.ends_with("retries")
        || key.ends_with("max_changed_items")
        || key.ends_with("max_attempts")
        || key.ends_with("ingest.batch");
    let boolean = key.ends_with("enabled")
        || key.ends_with("allow_private_targets")
        || key.ends_with("secure_cookies");
    if numeric {
        raw.trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("{raw:?} is not a whole number"))
    } else if boolean {
        match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(toml::Value::Boolean(true)),
            "0" | "false" | "no" | "off" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("{raw:?} is not true or false")),
        }
    } else {
        Ok(toml::Value::String(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(dir.path(), env(&[])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert!(config.database_url().ends_with("calport.sqlite"));
        std::fs::write(
            dir.path().join("calport.toml"),
            "listen = \"127.0.0.1:9000\"\n[worker]\nparallel_runs = 3\n",
        )
        .unwrap();
        let config = Config::load(dir.path(), env(&[])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9000");
        assert_eq!(config.worker.parallel_runs, 3);
        let config = Config::load(
            dir.path(),
            env(&[
                ("CALPORT_WORKER_PARALLEL_RUNS", "5"),
                ("CALPORT_DATABASE_URL", "postgres://x@127.0.0.1/db"),
                ("CALPORT_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "yes"),
            ]),
        )
        .unwrap();
        assert_eq!(config.worker.parallel_runs, 5);
        assert_eq!(config.database_url(), "postgres://x@127.0.0.1/db");
        assert!(config.webhooks.allow_private_targets);
    }

    #[test]
    fn bad_values_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        for (file, vars, expected) in [
            (
                "[worker]\nparallel_runs = 0\n",
                vec![],
                "worker.parallel_runs",
            ),
            ("listen = \"nowhere\"\n", vec![], "listen"),
            ("colour = 1\n", vec![], "colour"),
            (
                "",
                vec![("CALPORT_WORKER_LEASE_SECONDS", "soon")],
                "CALPORT_WORKER_LEASE_SECONDS",
            ),
            (
                "",
                vec![("CALPORT_DATABASE_URL", "mysql://x")],
                "database_url",
            ),
        ] {
            std::fs::write(dir.path().join("calport.toml"), file).unwrap();
            let err = Config::load(dir.path(), env(&vars))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{err:?} should name {expected}");
        }
    }

    #[test]
    fn the_example_is_valid_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("calport.toml"), EXAMPLE).unwrap();
        let config = Config::load(dir.path(), env(&[])).unwrap();
        assert_eq!(
            Config {
                data_dir: dir.path().to_path_buf(),
                ..Config::default()
            },
            config
        );
    }
}
