//! Test support (feature `test-support`): a fresh PostgreSQL database per test.
//!
//! [`fresh_postgres_url`] connects to an admin database, creates a database with a random
//! name and returns its URL with a [`TestDatabase`] guard that drops it again, so tests
//! running in parallel processes never share state. The server is the one named by
//! [`ADMIN_URL_ENV`], else [`DEFAULT_ADMIN_URL`]. An unreachable server is an error, not a
//! reason to skip: callers are expected to fail the test with its message.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use thiserror::Error;

/// Environment variable naming the admin URL: a database the tests may connect to, as a
/// role allowed to `CREATE DATABASE`.
pub const ADMIN_URL_ENV: &str = "CALPORT_TEST_POSTGRES";

/// The admin URL when [`ADMIN_URL_ENV`] is not set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long to wait for the server before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why no test database could be had.
#[derive(Debug, Error)]
pub enum TestDbError {
    /// The admin URL is not a PostgreSQL URL.
    #[error("the PostgreSQL admin URL {url} is unusable: {reason} (set {ADMIN_URL_ENV})")]
    AdminUrl {
        /// The URL (without its password).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server did not answer, or refused the connection.
    #[error(
        "PostgreSQL is not reachable at {url}: {reason}. The PostgreSQL tests need a running \
         server: start it (scripts/test.sh does) or point {ADMIN_URL_ENV} at one"
    )]
    Unreachable {
        /// The admin URL (without its password).
        url: String,
        /// The connection error.
        reason: String,
    },
    /// The server refused to create the database.
    #[error("cannot create the test database {name} on {url}: {source}")]
    Create {
        /// The database that was to be created.
        name: String,
        /// The admin URL (without its password).
        url: String,
        /// The cause.
        source: sqlx::Error,
    },
}

/// A test database that is dropped (best effort) when this guard is dropped.
#[derive(Debug)]
#[must_use = "the database is dropped when the guard is"]
pub struct TestDatabase {
    url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// The URL of the database, for [`crate::StateDb::connect`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop may run inside an async runtime, which must not be blocked on: do the work
        // on a thread of its own with a runtime of its own, and wait for it.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let done = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let admin = PgConnectOptions::from_str(&admin_url).map_err(|e| e.to_string())?;
                let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, admin.connect())
                    .await
                    .map_err(|_| "timed out connecting".to_owned())?
                    .map_err(|e| e.to_string())?;
                // FORCE: pools of the test may still hold connections.
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok(())
            })
        })
        .join();
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}

/// The admin URL: [`ADMIN_URL_ENV`] if set and not empty, else [`DEFAULT_ADMIN_URL`].
pub fn admin_url() -> String {
    std::env::var(ADMIN_URL_ENV)
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

/// A name no other test process picks: pid, a per-process counter and random bits.
fn fresh_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!(
        "calport_test_{}_{:016x}",
        std::process::id(),
        hasher.finish()
    )
}

/// Creates a fresh, empty database on the test server (see the module docs) and returns
/// its URL and the guard that drops it.
///
/// # Errors
/// [`TestDbError::Unreachable`] when the server cannot be reached, with a message saying
/// how to provide one; [`TestDbError::AdminUrl`] or [`TestDbError::Create`] otherwise.
pub async fn fresh_postgres_url() -> Result<(String, TestDatabase), TestDbError> {
    let admin_url = admin_url();
    let shown = crate::db::redact(&admin_url);
    let bad = |reason: String| TestDbError::AdminUrl {
        url: shown.clone(),
        reason,
    };
    if !(admin_url.starts_with("postgres://") || admin_url.starts_with("postgresql://")) {
        return Err(bad("not a postgres:// URL".into()));
    }
    let admin = PgConnectOptions::from_str(&admin_url).map_err(|e| bad(e.to_string()))?;
    let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, admin.connect()).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            return Err(TestDbError::Unreachable {
                url: shown,
                reason: e.to_string(),
            });
        }
        Err(_) => {
            return Err(TestDbError::Unreachable {
                url: shown,
                reason: format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
            });
        }
    };

    let name = fresh_name();
    let created = sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    if let Err(source) = created {
        return Err(TestDbError::Create {
            name,
            url: shown,
            source,
        });
    }

    let mut url = url::Url::parse(&admin_url).map_err(|e| bad(e.to_string()))?;
    url.set_path(&format!("/{name}"));
    let url = url.to_string();
    let guard = TestDatabase {
        url: url.clone(),
        admin_url,
        name,
    };
    Ok((url, guard))
}
