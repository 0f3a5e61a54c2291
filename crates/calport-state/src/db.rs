//! SQLite implementation of the status database.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use calport_core::{Etag, ItemRef};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use thiserror::Error;

use crate::model::{ConflictRecord, ConflictSide, FailureRecord, ItemStatus, PairState, SideState};

/// A failure of the status database.
#[derive(Debug, Error)]
pub enum StateError {
    /// The database file could not be created or opened.
    #[error("cannot open the state database {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate the state database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("state database query failed: {0}")]
    Query(#[from] sqlx::Error),
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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Handle to the status database; cheap to clone.
#[derive(Clone, Debug)]
pub struct StateDb {
    pool: SqlitePool,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl StateDb {
    /// Opens (creating if needed) the database file at `path` and migrates it.
    ///
    /// # Errors
    /// [`StateError::Open`] when the file cannot be opened, [`StateError::Migrate`] when
    /// the schema cannot be applied.
    pub async fn open(path: &Path) -> Result<Self, StateError> {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        Self::connect(options, &path.display().to_string(), 4).await
    }

    /// Opens a private in-memory database (for tests and dry runs).
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
        Self::connect(options, ":memory:", 1).await
    }

    async fn connect(
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
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Returns the pair row for (job, source collection, destination collection),
    /// creating it on first use.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn pair(&self, job: &str, src: &str, dst: &str) -> Result<PairState, StateError> {
        sqlx::query(
            "INSERT INTO pairs (job, src_collection, dst_collection, updated_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (job, src_collection, dst_collection) DO NOTHING",
        )
        .bind(job)
        .bind(src)
        .bind(dst)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(
            "SELECT id, src_token, dst_token, src_marker, dst_marker FROM pairs
             WHERE job = $1 AND src_collection = $2 AND dst_collection = $3",
        )
        .bind(job)
        .bind(src)
        .bind(dst)
        .fetch_one(&self.pool)
        .await?;
        pair_from_row(&row)
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
        let row = sqlx::query(
            "SELECT id, src_token, dst_token, src_marker, dst_marker FROM pairs
             WHERE job = $1 AND src_collection = $2 AND dst_collection = $3",
        )
        .bind(job)
        .bind(src)
        .bind(dst)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| pair_from_row(&row)).transpose()
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
        sqlx::query(
            "UPDATE pairs SET src_token = $1, dst_token = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(src_token)
        .bind(dst_token)
        .bind(now_ms())
        .bind(pair_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every item row of a pair. Rows are small (refs, etags, hashes: no bodies).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn items(&self, pair_id: i64) -> Result<Vec<ItemStatus>, StateError> {
        let rows = sqlx::query(
            "SELECT uid, kind, src_ref, src_etag, src_hash, dst_ref, dst_etag, dst_hash,
                    span_start, span_end
             FROM items WHERE pair_id = $1 ORDER BY uid",
        )
        .bind(pair_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(item_from_row).collect()
    }

    /// Inserts or replaces the row of `item.uid`.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn upsert_item(&self, pair_id: i64, item: &ItemStatus) -> Result<(), StateError> {
        let (src_ref, src_etag, src_hash) = side_columns(item.src.as_ref());
        let (dst_ref, dst_etag, dst_hash) = side_columns(item.dst.as_ref());
        sqlx::query(
            "INSERT INTO items (pair_id, uid, kind, src_ref, src_etag, src_hash,
                                dst_ref, dst_etag, dst_hash, updated_at, span_start, span_end)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (pair_id, uid) DO UPDATE SET
                kind = excluded.kind, src_ref = excluded.src_ref, src_etag = excluded.src_etag,
                src_hash = excluded.src_hash, dst_ref = excluded.dst_ref,
                dst_etag = excluded.dst_etag, dst_hash = excluded.dst_hash,
                updated_at = excluded.updated_at, span_start = excluded.span_start,
                span_end = excluded.span_end",
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes the row of `uid` (the item is gone from both sides).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn delete_item(&self, pair_id: i64, uid: &str) -> Result<(), StateError> {
        sqlx::query("DELETE FROM items WHERE pair_id = $1 AND uid = $2")
            .bind(pair_id)
            .bind(uid)
            .execute(&self.pool)
            .await?;
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
        sqlx::query(
            "INSERT INTO failures (pair_id, src_ref, src_etag, uid, class, reason, attempts, last_at)
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
             ON CONFLICT (pair_id, src_ref, uid) DO UPDATE SET
                src_etag = excluded.src_etag, class = excluded.class, reason = excluded.reason,
                attempts = failures.attempts + 1, last_at = excluded.last_at",
        )
        .bind(pair_id)
        .bind(failure.src_ref.as_str())
        .bind(failure.src_etag.as_ref().map(Etag::as_str))
        .bind(&failure.uid)
        .bind(&failure.class)
        .bind(&failure.reason)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets every failure recorded for a source member (it landed, or it is gone).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn clear_failures(&self, pair_id: i64, src_ref: &ItemRef) -> Result<(), StateError> {
        sqlx::query("DELETE FROM failures WHERE pair_id = $1 AND src_ref = $2")
            .bind(pair_id)
            .bind(src_ref.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every failure recorded for a pair.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn failures(&self, pair_id: i64) -> Result<Vec<FailureRecord>, StateError> {
        let rows = sqlx::query(
            "SELECT src_ref, src_etag, uid, class, reason, attempts FROM failures
             WHERE pair_id = $1 ORDER BY src_ref, uid",
        )
        .bind(pair_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(FailureRecord {
                    src_ref: ItemRef::new(row.try_get::<String, _>("src_ref")?),
                    src_etag: row.try_get::<Option<String>, _>("src_etag")?.map(Etag::new),
                    uid: row.try_get("uid")?,
                    class: row.try_get("class")?,
                    reason: row.try_get("reason")?,
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect()
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
        sqlx::query(
            "UPDATE pairs SET src_token = $1, src_marker = $2, dst_token = $3, dst_marker = $4,
                              updated_at = $5
             WHERE id = $6",
        )
        .bind(src.0)
        .bind(src.1)
        .bind(dst.0)
        .bind(dst.1)
        .bind(now_ms())
        .bind(pair_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Parks a conflict, or refreshes a parked one. A user's resolution is kept only
    /// while both versions are the ones it was made for (same etags).
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
        let row = sqlx::query(
            "INSERT INTO conflicts (pair_id, uid, kind, reason, a_ref, a_etag, a_body,
                                    b_ref, b_etag, b_body, base_a_hash, base_b_hash,
                                    resolution, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13, $13)
             ON CONFLICT (pair_id, uid) DO UPDATE SET
                kind = excluded.kind, reason = excluded.reason,
                resolution = CASE
                    WHEN conflicts.a_etag IS excluded.a_etag
                     AND conflicts.b_etag IS excluded.b_etag
                     AND conflicts.a_ref IS excluded.a_ref
                     AND conflicts.b_ref IS excluded.b_ref
                    THEN conflicts.resolution ELSE NULL END,
                updated_at = CASE
                    WHEN conflicts.a_etag IS excluded.a_etag
                     AND conflicts.b_etag IS excluded.b_etag
                    THEN conflicts.updated_at ELSE excluded.updated_at END,
                a_ref = excluded.a_ref, a_etag = excluded.a_etag, a_body = excluded.a_body,
                b_ref = excluded.b_ref, b_etag = excluded.b_etag, b_body = excluded.b_body,
                base_a_hash = excluded.base_a_hash, base_b_hash = excluded.base_b_hash
             RETURNING id",
        )
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
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// The parked conflicts of one pair.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn pair_conflicts(&self, pair_id: i64) -> Result<Vec<ConflictRecord>, StateError> {
        let sql = select_conflicts!("WHERE c.pair_id = $1 ORDER BY c.id");
        let rows = sqlx::query(sql).bind(pair_id).fetch_all(&self.pool).await?;
        rows.iter().map(conflict_from_row).collect()
    }

    /// Every parked conflict, of one job or of all.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn conflicts(&self, job: Option<&str>) -> Result<Vec<ConflictRecord>, StateError> {
        let sql = select_conflicts!("WHERE $1 IS NULL OR p.job = $1 ORDER BY c.id");
        let rows = sqlx::query(sql).bind(job).fetch_all(&self.pool).await?;
        rows.iter().map(conflict_from_row).collect()
    }

    /// One parked conflict by id.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn conflict(&self, id: i64) -> Result<Option<ConflictRecord>, StateError> {
        let sql = select_conflicts!("WHERE c.id = $1");
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(conflict_from_row).transpose()
    }

    /// Records a user's choice for a parked conflict; false when there is no such conflict.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn resolve_conflict(&self, id: i64, keep: &str) -> Result<bool, StateError> {
        let done = sqlx::query("UPDATE conflicts SET resolution = $1 WHERE id = $2")
            .bind(keep)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Drops the parked conflict of `uid` (it was resolved or went away).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn clear_conflict(&self, pair_id: i64, uid: &str) -> Result<(), StateError> {
        sqlx::query("DELETE FROM conflicts WHERE pair_id = $1 AND uid = $2")
            .bind(pair_id)
            .bind(uid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The discovery state saved for `account` (see `Store::discovery_state`).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn discovery_state(&self, account: &str) -> Result<Option<String>, StateError> {
        let row = sqlx::query("SELECT state FROM discovery WHERE account = $1")
            .bind(account)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("state")).transpose()?)
    }

    /// Saves what discovery learned for `account`.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn set_discovery_state(&self, account: &str, state: &str) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO discovery (account, state, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (account) DO UPDATE SET state = excluded.state,
                                                 updated_at = excluded.updated_at",
        )
        .bind(account)
        .bind(state)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Closes the pool, flushing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

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

fn side_from_row(row: &SqliteRow, prefix: &str) -> Result<Option<SideState>, sqlx::Error> {
    let href: Option<String> = row.try_get(format!("{prefix}_ref").as_str())?;
    let Some(href) = href else { return Ok(None) };
    Ok(Some(SideState {
        href: ItemRef::new(href),
        etag: row
            .try_get::<Option<String>, _>(format!("{prefix}_etag").as_str())?
            .map(Etag::new),
        hash: row.try_get(format!("{prefix}_hash").as_str())?,
    }))
}

fn item_from_row(row: &SqliteRow) -> Result<ItemStatus, StateError> {
    Ok(ItemStatus {
        uid: row.try_get("uid")?,
        kind: row.try_get("kind")?,
        src: side_from_row(row, "src")?,
        dst: side_from_row(row, "dst")?,
        span: row
            .try_get::<Option<i64>, _>("span_start")?
            .map(|start| -> Result<_, sqlx::Error> { Ok((start, row.try_get("span_end")?)) })
            .transpose()?,
    })
}

fn pair_from_row(row: &SqliteRow) -> Result<PairState, StateError> {
    Ok(PairState {
        id: row.try_get("id")?,
        src_token: row.try_get("src_token")?,
        dst_token: row.try_get("dst_token")?,
        src_marker: row.try_get("src_marker")?,
        dst_marker: row.try_get("dst_marker")?,
    })
}

fn conflict_side(row: &SqliteRow, prefix: &str) -> Result<Option<ConflictSide>, sqlx::Error> {
    let href: Option<String> = row.try_get(format!("{prefix}_ref").as_str())?;
    let Some(href) = href else { return Ok(None) };
    Ok(Some(ConflictSide {
        href: ItemRef::new(href),
        etag: row
            .try_get::<Option<String>, _>(format!("{prefix}_etag").as_str())?
            .map(Etag::new),
        body: row
            .try_get::<Option<Vec<u8>>, _>(format!("{prefix}_body").as_str())?
            .unwrap_or_default(),
    }))
}

fn conflict_from_row(row: &SqliteRow) -> Result<ConflictRecord, StateError> {
    Ok(ConflictRecord {
        id: row.try_get("id")?,
        pair_id: row.try_get("pair_id")?,
        job: row.try_get("job")?,
        a_collection: row.try_get("src_collection")?,
        b_collection: row.try_get("dst_collection")?,
        uid: row.try_get("uid")?,
        kind: row.try_get("kind")?,
        reason: row.try_get("reason")?,
        a: conflict_side(row, "a")?,
        b: conflict_side(row, "b")?,
        base_a_hash: row.try_get("base_a_hash")?,
        base_b_hash: row.try_get("base_b_hash")?,
        resolution: row.try_get("resolution")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
