//! The status database on SQLite or PostgreSQL.
//!
//! Both backends run the same statements: [`StateDb`] holds the pool of one of them and
//! [`on_pool!`] expands each method body once per backend, so every query is written once
//! and compiled against both drivers. The few statements that differ are kept as two
//! static strings and picked by [`Backend`].

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use calport_core::{Etag, ItemRef};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Row};
use thiserror::Error;

use crate::model::{ConflictRecord, ConflictSide, FailureRecord, ItemStatus, PairState, SideState};

/// A failure of the status database.
#[derive(Debug, Error)]
pub enum StateError {
    /// The database file could not be created or opened, or the server not reached.
    #[error("cannot open the state database {path}: {source}")]
    Open {
        /// The file, or the URL (without its password).
        path: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// The URL names no supported database.
    #[error("unsupported state database URL {url}: {reason}")]
    Url {
        /// The URL as given (without its password).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate the state database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("state database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// Which database a [`StateDb`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// An SQLite file (or private in-memory database): one machine, one writer at a time.
    Sqlite,
    /// A PostgreSQL database, which several calport processes can share.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// `SELECT` of conflict rows joined with their pair, followed by the given clause (a
/// static string, as sqlx wants).
macro_rules! select_conflicts {
    ($clause:literal) => {
        concat!(
            "SELECT c.id, c.pair_id, p.job, p.src_collection, p.dst_collection, c.uid, c.kind,
                    c.reason, c.a_ref, c.a_etag, c.a_body, c.b_ref, c.b_etag, c.b_body,
                    c.base_a_hash, c.base_b_hash, c.resolution, c.created_at, c.updated_at
             FROM conflicts c JOIN pairs p ON p.id = c.pair_id ",
            $clause
        )
    };
}

/// The upsert of a parked conflict, with `$same` as the null-safe equality operator
/// (`IS` in SQLite, `IS NOT DISTINCT FROM` in PostgreSQL).
macro_rules! park_conflict_sql {
    ($same:literal) => {
        concat!(
            "INSERT INTO conflicts (pair_id, uid, kind, reason, a_ref, a_etag, a_body,
                                    b_ref, b_etag, b_body, base_a_hash, base_b_hash,
                                    resolution, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13, $13)
             ON CONFLICT (pair_id, uid) DO UPDATE SET
                kind = excluded.kind, reason = excluded.reason,
                resolution = CASE
                    WHEN conflicts.a_etag ",
            $same,
            " excluded.a_etag
                     AND conflicts.b_etag ",
            $same,
            " excluded.b_etag
                     AND conflicts.a_ref ",
            $same,
            " excluded.a_ref
                     AND conflicts.b_ref ",
            $same,
            " excluded.b_ref
                    THEN conflicts.resolution ELSE NULL END,
                updated_at = CASE
                    WHEN conflicts.a_etag ",
            $same,
            " excluded.a_etag
                     AND conflicts.b_etag ",
            $same,
            " excluded.b_etag
                    THEN conflicts.updated_at ELSE excluded.updated_at END,
                a_ref = excluded.a_ref, a_etag = excluded.a_etag, a_body = excluded.a_body,
                b_ref = excluded.b_ref, b_etag = excluded.b_etag, b_body = excluded.b_body,
                base_a_hash = excluded.base_a_hash, base_b_hash = excluded.base_b_hash
             RETURNING id"
        )
    };
}

/// Evaluates `$body` with `$pool` bound to the pool of whichever backend `$db` runs on.
/// The body is expanded once per backend, so queries, binds and row decoding are written
/// once and type-checked against both drivers.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            $crate::db::Pool::Sqlite($pool) => $body,
            $crate::db::Pool::Postgres($pool) => $body,
        }
    };
}
// For other modules of the crate that add statements to `StateDb`.
#[allow(unused_imports)]
pub(crate) use on_pool;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per SQLite file: WAL lets readers run beside the one writer.
const SQLITE_CONNECTIONS: u32 = 4;
/// Connections per process to a shared PostgreSQL database (several workers share its
/// connection limit).
const POSTGRES_CONNECTIONS: u32 = 8;
/// How long to wait for the PostgreSQL server, at first and for a pooled connection.
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The pool of the backend a [`StateDb`] runs on.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Handle to the status database; cheap to clone.
#[derive(Clone, Debug)]
pub struct StateDb {
    pub(crate) pool: Pool,
}

/// Now, in unix milliseconds (the unit of every time column).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// `url` with any password replaced, for messages.
pub(crate) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Not parseable as a URL: cannot tell where a password would be.
        Err(_) if url.contains('@') => "<unparseable URL>".to_owned(),
        Err(_) => url.to_owned(),
    }
}

/// The settings every SQLite connection of a file database gets.
fn sqlite_file_options(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30))
        .foreign_keys(true)
}

impl StateDb {
    /// Opens the database named by `url` and migrates it:
    ///
    /// - `postgres://…` or `postgresql://…`: a PostgreSQL database (which must exist),
    ///   in any form [`PgConnectOptions`] accepts;
    /// - `sqlite://PATH` or `sqlite:PATH` (percent-encoded as sqlx expects), or a plain
    ///   file path: an SQLite file, created if needed, as [`StateDb::open`];
    /// - `sqlite::memory:`: a private in-memory database, as [`StateDb::open_in_memory`].
    ///
    /// # Errors
    /// [`StateError::Url`] for another scheme or a malformed URL, [`StateError::Open`]
    /// when the database cannot be opened or reached, [`StateError::Migrate`] when the
    /// schema cannot be applied.
    pub async fn connect(url: &str) -> Result<Self, StateError> {
        let bad_url = |reason: String| StateError::Url {
            url: redact(url),
            reason,
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| bad_url(e.to_string()))?
                .application_name("calport");
            return Self::connect_postgres(options, &redact(url)).await;
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            if rest == ":memory:" {
                return Self::open_in_memory().await;
            }
            if rest.is_empty() {
                return Err(bad_url("no file path".into()));
            }
            let options =
                SqliteConnectOptions::from_str(url).map_err(|e| bad_url(e.to_string()))?;
            if let Some(parent) = options.get_filename().parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let label = options.get_filename().display().to_string();
            return Self::connect_sqlite(sqlite_file_options(options), &label, SQLITE_CONNECTIONS)
                .await;
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(bad_url(format!(
                "the scheme `{scheme}` is not supported (use sqlite:// or postgres://)"
            )));
        }
        Self::open(Path::new(url)).await
    }

    /// Opens (creating if needed) the SQLite database file at `path` and migrates it.
    ///
    /// # Errors
    /// [`StateError::Open`] when the file cannot be opened, [`StateError::Migrate`] when
    /// the schema cannot be applied.
    pub async fn open(path: &Path) -> Result<Self, StateError> {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let options = sqlite_file_options(SqliteConnectOptions::new().filename(path));
        Self::connect_sqlite(options, &path.display().to_string(), SQLITE_CONNECTIONS).await
    }

    /// Opens a private in-memory SQLite database (for tests and dry runs).
    ///
    /// # Errors
    /// As [`StateDb::open`].
    pub async fn open_in_memory() -> Result<Self, StateError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|source| StateError::Open {
                path: ":memory:".into(),
                source,
            })?
            .foreign_keys(true);
        // One connection: every connection to `:memory:` is a different database.
        Self::connect_sqlite(options, ":memory:", 1).await
    }

    async fn connect_sqlite(
        options: SqliteConnectOptions,
        label: &str,
        connections: u32,
    ) -> Result<Self, StateError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .connect_with(options)
            .await
            .map_err(|source| StateError::Open {
                path: label.to_owned(),
                source,
            })?;
        SQLITE_MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool: Pool::Sqlite(pool),
        })
    }

    async fn connect_postgres(options: PgConnectOptions, label: &str) -> Result<Self, StateError> {
        let open_error = |source| StateError::Open {
            path: label.to_owned(),
            source,
        };
        // One connection of its own first: a pool retries until its acquire timeout and
        // then reports only that, while this reports why (refused, authentication, no
        // such database) at once.
        let probe = tokio::time::timeout(POSTGRES_CONNECT_TIMEOUT, options.connect())
            .await
            .map_err(|_| {
                open_error(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {} s", POSTGRES_CONNECT_TIMEOUT.as_secs()),
                )))
            })?
            .map_err(open_error)?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(POSTGRES_CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        // The migrator holds an advisory lock while it runs, so workers starting together
        // migrate one after the other.
        POSTGRES_MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool: Pool::Postgres(pool),
        })
    }

    /// Which database this handle runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Returns the pair row for (job, source collection, destination collection),
    /// creating it on first use.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn pair(&self, job: &str, src: &str, dst: &str) -> Result<PairState, StateError> {
        if let Some(pair) = self.find_pair(job, src, dst).await? {
            return Ok(pair);
        }
        // Another process may insert it between the lookup and here: DO NOTHING, then read
        // whichever row won.
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO pairs (job, src_collection, dst_collection, updated_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (job, src_collection, dst_collection) DO NOTHING",
            )
            .bind(job)
            .bind(src)
            .bind(dst)
            .bind(now_ms())
            .execute(pool)
            .await?;
        });
        match self.find_pair(job, src, dst).await? {
            Some(pair) => Ok(pair),
            None => Err(StateError::Query(sqlx::Error::RowNotFound)),
        }
    }

    /// Looks up a pair without creating it.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn find_pair(
        &self,
        job: &str,
        src: &str,
        dst: &str,
    ) -> Result<Option<PairState>, StateError> {
        on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT id, src_token, dst_token, src_marker, dst_marker FROM pairs
                 WHERE job = $1 AND src_collection = $2 AND dst_collection = $3",
            )
            .bind(job)
            .bind(src)
            .bind(dst)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(pair_from_row).transpose()
        })
    }

    /// Stores both sides' tokens after a complete pass over the pair.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn set_tokens(
        &self,
        pair_id: i64,
        src_token: Option<&str>,
        dst_token: Option<&str>,
    ) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE pairs SET src_token = $1, dst_token = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(src_token)
            .bind(dst_token)
            .bind(now_ms())
            .bind(pair_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Every item row of a pair, by UID (byte order on both backends). Rows are small
    /// (refs, etags, hashes: no bodies).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn items(&self, pair_id: i64) -> Result<Vec<ItemStatus>, StateError> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT uid, kind, src_ref, src_etag, src_hash, dst_ref, dst_etag, dst_hash,
                        span_start, span_end
                 FROM items WHERE pair_id = $1 ORDER BY uid",
            )
            .bind(pair_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(item_from_row).collect()
        })
    }

    /// Inserts or replaces the row of `item.uid`.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn upsert_item(&self, pair_id: i64, item: &ItemStatus) -> Result<(), StateError> {
        let (src_ref, src_etag, src_hash) = side_columns(item.src.as_ref());
        let (dst_ref, dst_etag, dst_hash) = side_columns(item.dst.as_ref());
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO items (pair_id, uid, kind, src_ref, src_etag, src_hash,
                                    dst_ref, dst_etag, dst_hash, updated_at, span_start, span_end)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (pair_id, uid) DO UPDATE SET
                    kind = excluded.kind, src_ref = excluded.src_ref,
                    src_etag = excluded.src_etag, src_hash = excluded.src_hash,
                    dst_ref = excluded.dst_ref, dst_etag = excluded.dst_etag,
                    dst_hash = excluded.dst_hash, updated_at = excluded.updated_at,
                    span_start = excluded.span_start, span_end = excluded.span_end",
            )
            .bind(pair_id)
            .bind(&item.uid)
            .bind(&item.kind)
            .bind(src_ref)
            .bind(src_etag)
            .bind(src_hash)
            .bind(dst_ref)
            .bind(dst_etag)
            .bind(dst_hash)
            .bind(now_ms())
            .bind(item.span.map(|s| s.0))
            .bind(item.span.and_then(|s| s.1))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Removes the row of `uid` (the item is gone from both sides).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn delete_item(&self, pair_id: i64, uid: &str) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM items WHERE pair_id = $1 AND uid = $2")
                .bind(pair_id)
                .bind(uid)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records that transferring a source member failed (replacing an earlier record
    /// and counting the attempt).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn record_failure(
        &self,
        pair_id: i64,
        failure: &FailureRecord,
    ) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO failures (pair_id, src_ref, src_etag, uid, class, reason, attempts,
                                       last_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
                 ON CONFLICT (pair_id, src_ref, uid) DO UPDATE SET
                    src_etag = excluded.src_etag, class = excluded.class,
                    reason = excluded.reason, attempts = failures.attempts + 1,
                    last_at = excluded.last_at",
            )
            .bind(pair_id)
            .bind(failure.src_ref.as_str())
            .bind(failure.src_etag.as_ref().map(Etag::as_str))
            .bind(&failure.uid)
            .bind(&failure.class)
            .bind(&failure.reason)
            .bind(now_ms())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Forgets every failure recorded for a source member (it landed, or it is gone).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn clear_failures(&self, pair_id: i64, src_ref: &ItemRef) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM failures WHERE pair_id = $1 AND src_ref = $2")
                .bind(pair_id)
                .bind(src_ref.as_str())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Every failure recorded for a pair, by source ref then UID (byte order).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn failures(&self, pair_id: i64) -> Result<Vec<FailureRecord>, StateError> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT src_ref, src_etag, uid, class, reason, attempts FROM failures
                 WHERE pair_id = $1 ORDER BY src_ref, uid",
            )
            .bind(pair_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(failure_from_row).collect()
        })
    }

    /// Stores both sides' tokens and collection markers after a complete, clean pass.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn set_sync_point(
        &self,
        pair_id: i64,
        src: (Option<&str>, Option<&str>),
        dst: (Option<&str>, Option<&str>),
    ) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE pairs SET src_token = $1, src_marker = $2, dst_token = $3,
                                  dst_marker = $4, updated_at = $5
                 WHERE id = $6",
            )
            .bind(src.0)
            .bind(src.1)
            .bind(dst.0)
            .bind(dst.1)
            .bind(now_ms())
            .bind(pair_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Parks a conflict, or refreshes a parked one. A user's resolution is kept only
    /// while both versions are the ones it was made for (same refs and etags).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn park_conflict(&self, conflict: &ConflictRecord) -> Result<i64, StateError> {
        let side = |s: Option<&ConflictSide>| match s {
            Some(s) => (
                Some(s.href.as_str().to_owned()),
                s.etag.as_ref().map(|e| e.as_str().to_owned()),
                Some(s.body.clone()),
            ),
            None => (None, None, None),
        };
        let (a_ref, a_etag, a_body) = side(conflict.a.as_ref());
        let (b_ref, b_etag, b_body) = side(conflict.b.as_ref());
        let now = now_ms();
        let sql = match self.backend() {
            Backend::Sqlite => park_conflict_sql!("IS"),
            Backend::Postgres => park_conflict_sql!("IS NOT DISTINCT FROM"),
        };
        on_pool!(self, pool => {
            let row = sqlx::query(sql)
                .bind(conflict.pair_id)
                .bind(&conflict.uid)
                .bind(&conflict.kind)
                .bind(&conflict.reason)
                .bind(a_ref)
                .bind(a_etag)
                .bind(a_body)
                .bind(b_ref)
                .bind(b_etag)
                .bind(b_body)
                .bind(&conflict.base_a_hash)
                .bind(&conflict.base_b_hash)
                .bind(now)
                .fetch_one(pool)
                .await?;
            Ok(row.int("id")?)
        })
    }

    /// The parked conflicts of one pair.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn pair_conflicts(&self, pair_id: i64) -> Result<Vec<ConflictRecord>, StateError> {
        let sql = select_conflicts!("WHERE c.pair_id = $1 ORDER BY c.id");
        on_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(pair_id).fetch_all(pool).await?;
            rows.iter().map(conflict_from_row).collect()
        })
    }

    /// Every parked conflict, of one job or of all.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn conflicts(&self, job: Option<&str>) -> Result<Vec<ConflictRecord>, StateError> {
        let sql = select_conflicts!("WHERE $1 IS NULL OR p.job = $1 ORDER BY c.id");
        on_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(job).fetch_all(pool).await?;
            rows.iter().map(conflict_from_row).collect()
        })
    }

    /// One parked conflict by id.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn conflict(&self, id: i64) -> Result<Option<ConflictRecord>, StateError> {
        let sql = select_conflicts!("WHERE c.id = $1");
        on_pool!(self, pool => {
            let row = sqlx::query(sql).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(conflict_from_row).transpose()
        })
    }

    /// Records a user's choice for a parked conflict; false when there is no such conflict.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn resolve_conflict(&self, id: i64, keep: &str) -> Result<bool, StateError> {
        let affected = on_pool!(self, pool => {
            sqlx::query("UPDATE conflicts SET resolution = $1 WHERE id = $2")
                .bind(keep)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected == 1)
    }

    /// Drops the parked conflict of `uid` (it was resolved or went away).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn clear_conflict(&self, pair_id: i64, uid: &str) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM conflicts WHERE pair_id = $1 AND uid = $2")
                .bind(pair_id)
                .bind(uid)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The discovery state saved for `account` (see `Store::discovery_state`).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn discovery_state(&self, account: &str) -> Result<Option<String>, StateError> {
        on_pool!(self, pool => {
            let row = sqlx::query("SELECT state FROM discovery WHERE account = $1")
                .bind(account)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|r| r.text("state")).transpose()?)
        })
    }

    /// Saves what discovery learned for `account`.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn set_discovery_state(&self, account: &str, state: &str) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO discovery (account, state, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (account) DO UPDATE SET state = excluded.state,
                                                     updated_at = excluded.updated_at",
            )
            .bind(account)
            .bind(state)
            .bind(now_ms())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Closes the pool (for SQLite, flushing the WAL).
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

/// Typed column access shared by the row types of both backends, so that row decoding
/// is written once.
trait Columns {
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    fn opt_blob(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;
}

macro_rules! impl_columns {
    ($($row:ty),*) => {$(
        impl Columns for $row {
            fn text(&self, column: &str) -> Result<String, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(column)
            }
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_blob(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
                self.try_get(column)
            }
        }
    )*};
}

impl_columns!(SqliteRow, PgRow);

fn side_columns(side: Option<&SideState>) -> (Option<&str>, Option<&str>, Option<&str>) {
    match side {
        Some(side) => (
            Some(side.href.as_str()),
            side.etag.as_ref().map(Etag::as_str),
            side.hash.as_deref(),
        ),
        None => (None, None, None),
    }
}

fn side_from_row(row: &impl Columns, prefix: &str) -> Result<Option<SideState>, sqlx::Error> {
    let Some(href) = row.opt_text(&format!("{prefix}_ref"))? else {
        return Ok(None);
    };
    Ok(Some(SideState {
        href: ItemRef::new(href),
        etag: row.opt_text(&format!("{prefix}_etag"))?.map(Etag::new),
        hash: row.opt_text(&format!("{prefix}_hash"))?,
    }))
}

fn item_from_row(row: &impl Columns) -> Result<ItemStatus, StateError> {
    Ok(ItemStatus {
        uid: row.text("uid")?,
        kind: row.text("kind")?,
        src: side_from_row(row, "src")?,
        dst: side_from_row(row, "dst")?,
        span: row
            .opt_int("span_start")?
            .map(|start| -> Result<_, sqlx::Error> { Ok((start, row.opt_int("span_end")?)) })
            .transpose()?,
    })
}

fn pair_from_row(row: &impl Columns) -> Result<PairState, StateError> {
    Ok(PairState {
        id: row.int("id")?,
        src_token: row.opt_text("src_token")?,
        dst_token: row.opt_text("dst_token")?,
        src_marker: row.opt_text("src_marker")?,
        dst_marker: row.opt_text("dst_marker")?,
    })
}

fn failure_from_row(row: &impl Columns) -> Result<FailureRecord, StateError> {
    Ok(FailureRecord {
        src_ref: ItemRef::new(row.text("src_ref")?),
        src_etag: row.opt_text("src_etag")?.map(Etag::new),
        uid: row.text("uid")?,
        class: row.text("class")?,
        reason: row.text("reason")?,
        attempts: row.int("attempts")?,
    })
}

fn conflict_side(row: &impl Columns, prefix: &str) -> Result<Option<ConflictSide>, sqlx::Error> {
    let Some(href) = row.opt_text(&format!("{prefix}_ref"))? else {
        return Ok(None);
    };
    Ok(Some(ConflictSide {
        href: ItemRef::new(href),
        etag: row.opt_text(&format!("{prefix}_etag"))?.map(Etag::new),
        body: row.opt_blob(&format!("{prefix}_body"))?.unwrap_or_default(),
    }))
}

fn conflict_from_row(row: &impl Columns) -> Result<ConflictRecord, StateError> {
    Ok(ConflictRecord {
        id: row.int("id")?,
        pair_id: row.int("pair_id")?,
        job: row.text("job")?,
        a_collection: row.text("src_collection")?,
        b_collection: row.text("dst_collection")?,
        uid: row.text("uid")?,
        kind: row.text("kind")?,
        reason: row.text("reason")?,
        a: conflict_side(row, "a")?,
        b: conflict_side(row, "b")?,
        base_a_hash: row.opt_text("base_a_hash")?,
        base_b_hash: row.opt_text("base_b_hash")?,
        resolution: row.opt_text("resolution")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::{Backend, POSTGRES_MIGRATOR, Pool, SQLITE_MIGRATOR, StateDb, redact};
    use sqlx::Row;

    #[test]
    fn urls_in_messages_lose_their_password() {
        assert_eq!(
            redact("postgres://calport:s3cret@db.example:5432/state"),
            "postgres://calport:***@db.example:5432/state"
        );
        assert_eq!(
            redact("postgres://calport@db.example/state"),
            "postgres://calport@db.example/state"
        );
        assert_eq!(
            redact("/var/lib/calport/state.sqlite"),
            "/var/lib/calport/state.sqlite"
        );
    }

    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let versions = |m: &sqlx::migrate::Migrator| {
            m.iter()
                .map(|m| (m.version, m.description.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(&SQLITE_MIGRATOR), versions(&POSTGRES_MIGRATOR));
    }

    async fn sqlite_pragmas(db: &StateDb) -> (String, i64, i64, i64) {
        let Pool::Sqlite(pool) = &db.pool else {
            panic!("not SQLite")
        };
        let one =
            |sql: &'static str| async move { sqlx::query(sql).fetch_one(pool).await.unwrap() };
        (
            one("PRAGMA journal_mode").await.get(0),
            one("PRAGMA busy_timeout").await.get(0),
            one("PRAGMA foreign_keys").await.get(0),
            one("PRAGMA synchronous").await.get(0),
        )
    }

    #[tokio::test]
    async fn sqlite_files_keep_wal_busy_timeout_foreign_keys_and_normal_sync() {
        let dir = tempfile::tempdir().unwrap();
        let by_path = StateDb::open(&dir.path().join("a/state.sqlite"))
            .await
            .unwrap();
        let url = format!("sqlite://{}", dir.path().join("b/state.sqlite").display());
        let by_url = StateDb::connect(&url).await.unwrap();
        let plain = dir.path().join("c/state.sqlite");
        let by_plain_path = StateDb::connect(plain.to_str().unwrap()).await.unwrap();
        for db in [by_path, by_url, by_plain_path] {
            assert_eq!(db.backend(), Backend::Sqlite);
            // journal_mode, busy_timeout (ms), foreign_keys, synchronous (1 = NORMAL).
            assert_eq!(sqlite_pragmas(&db).await, ("wal".to_owned(), 30_000, 1, 1));
            db.close().await;
        }
        assert!(plain.exists());
    }

    #[tokio::test]
    async fn in_memory_databases_enforce_foreign_keys() {
        for db in [
            StateDb::open_in_memory().await.unwrap(),
            StateDb::connect("sqlite::memory:").await.unwrap(),
            StateDb::connect("sqlite://:memory:").await.unwrap(),
        ] {
            assert_eq!(db.backend(), Backend::Sqlite);
            assert_eq!(sqlite_pragmas(&db).await.2, 1);
            db.close().await;
        }
    }

    /// Every table's columns in order, with a backend-neutral type and NOT NULL-ness.
    async fn columns(db: &StateDb) -> Vec<(String, String, String, bool)> {
        let neutral = |t: &str| match t.to_ascii_lowercase().as_str() {
            "integer" | "bigint" => "integer".to_owned(),
            "text" => "text".to_owned(),
            "blob" | "bytea" => "blob".to_owned(),
            other => other.to_owned(),
        };
        match &db.pool {
            Pool::Sqlite(pool) => sqlx::query(
                "SELECT m.name AS tbl, c.name AS col, c.type AS ty, (c.\"notnull\" OR c.pk > 0) AS nn
                 FROM sqlite_master m JOIN pragma_table_info(m.name) c
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
                   AND m.name <> '_sqlx_migrations'
                 ORDER BY m.name, c.cid",
            )
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("tbl"), r.get("col"), neutral(&r.get::<String, _>("ty")), r.get("nn")))
            .collect(),
            Pool::Postgres(pool) => sqlx::query(
                "SELECT table_name::text AS tbl, column_name::text AS col,
                        data_type::text AS ty, is_nullable = 'NO' AS nn
                 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'
                 ORDER BY table_name COLLATE \"C\", ordinal_position",
            )
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("tbl"), r.get("col"), neutral(&r.get::<String, _>("ty")), r.get("nn")))
            .collect(),
        }
    }

    #[cfg(feature = "test-support")]
    #[tokio::test]
    async fn both_backends_have_the_same_tables_and_columns() {
        let (url, _guard) = crate::testing::fresh_postgres_url()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let pg = StateDb::connect(&url).await.unwrap();
        let sqlite = StateDb::open_in_memory().await.unwrap();
        let on_sqlite = columns(&sqlite).await;
        assert!(on_sqlite.len() > 30, "{on_sqlite:?}");
        assert_eq!(on_sqlite, columns(&pg).await);
        pg.close().await;
    }
}
