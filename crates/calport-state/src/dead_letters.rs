//! Items that keep failing: counted per (source, pair, UID), parked as dead letters after
//! too many failures in a row, until a person retries or skips them.

use serde::Serialize;

use crate::db::{StateDb, StateError, now_ms, on_pool};

/// A failing item or dead letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DeadLetterRow {
    /// Row id.
    pub id: i64,
    /// `sync` or `inbox`.
    pub source: String,
    /// The collection pair (sync).
    pub pair_id: Option<i64>,
    /// `a` or `b`: the side of `href`, where the item is read again on a retry.
    pub side: String,
    /// The item's UID.
    pub uid: String,
    /// Where the item lives.
    pub href: Option<String>,
    /// The last failure, in words (the server's own where it gave any).
    pub reason: String,
    /// The item's bytes, when they could be read.
    #[serde(skip)]
    pub payload: Option<Vec<u8>>,
    /// Failures in a row.
    pub attempts: i64,
    /// `failing`, `open` (parked), `retry`, `skipped`.
    pub state: String,
    /// First failure (unix ms).
    pub first_at: i64,
    /// Last failure (unix ms).
    pub last_at: i64,
}

/// A failure to record.
#[derive(Clone, Debug)]
pub struct ItemFailure<'a> {
    /// The collection pair.
    pub pair_id: i64,
    /// `a` or `b`: the side of `href`.
    pub side: &'a str,
    /// The item's UID.
    pub uid: &'a str,
    /// Where it lives.
    pub href: Option<&'a str>,
    /// Why it failed.
    pub reason: &'a str,
    /// Its bytes, if read.
    pub payload: Option<&'a [u8]>,
}

impl StateDb {
    /// Counts one more failure of an item; after `park_after` failures in a row it
    /// becomes an `open` dead letter. Returns the row.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn record_item_failure(
        &self,
        failure: &ItemFailure<'_>,
        park_after: i64,
    ) -> Result<DeadLetterRow, StateError> {
        let now = now_ms();
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, DeadLetterRow>(
                "INSERT INTO dead_letters (source, pair_id, side, uid, href, reason, payload,
                                           attempts, state, first_at, last_at)
                 VALUES ('sync', $1, $2, $3, $4, $5, $6, 1,
                         CASE WHEN $7 <= 1 THEN 'open' ELSE 'failing' END, $8, $8)
                 ON CONFLICT (source, pair_id, uid) DO UPDATE SET
                    side = excluded.side, href = excluded.href, reason = excluded.reason,
                    payload = COALESCE(excluded.payload, dead_letters.payload),
                    attempts = dead_letters.attempts + 1, last_at = excluded.last_at,
                    state = CASE
                        WHEN dead_letters.state = 'skipped' THEN 'skipped'
                        WHEN dead_letters.attempts + 1 >= $7 OR dead_letters.state = 'retry'
                            THEN 'open'
                        ELSE 'failing' END
                 RETURNING *",
            )
            .bind(failure.pair_id)
            .bind(failure.side)
            .bind(failure.uid)
            .bind(failure.href)
            .bind(failure.reason)
            .bind(failure.payload)
            .bind(park_after)
            .bind(now)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Forgets an item's failures (it went through).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn clear_item_failure(&self, pair_id: i64, uid: &str) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM dead_letters WHERE source = 'sync' AND pair_id = $1 AND uid = $2")
                .bind(pair_id)
                .bind(uid)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The failing items and dead letters of a pair.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn pair_dead_letters(&self, pair_id: i64) -> Result<Vec<DeadLetterRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, DeadLetterRow>(
                "SELECT * FROM dead_letters WHERE source = 'sync' AND pair_id = $1 ORDER BY id",
            )
            .bind(pair_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Dead letters (not the items still being retried), optionally of one state.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn dead_letters(
        &self,
        state: Option<&str>,
    ) -> Result<Vec<DeadLetterRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, DeadLetterRow>(
                "SELECT * FROM dead_letters
                 WHERE state <> 'failing' AND ($1 IS NULL OR state = $1) ORDER BY id",
            )
            .bind(state)
            .fetch_all(pool)
            .await?)
        })
    }

    /// One dead letter.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn dead_letter(&self, id: i64) -> Result<Option<DeadLetterRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, DeadLetterRow>("SELECT * FROM dead_letters WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Sets a dead letter's state (`retry` or `skipped`); false when there is none.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn set_dead_letter_state(&self, id: i64, state: &str) -> Result<bool, StateError> {
        on_pool!(self, pool => {
            let done = sqlx::query("UPDATE dead_letters SET state = $1 WHERE id = $2")
                .bind(state)
                .bind(id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// The job key (`pairs.job`) of a pair.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn pair_job(&self, pair_id: i64) -> Result<Option<String>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_scalar::<_, String>("SELECT job FROM pairs WHERE id = $1")
                .bind(pair_id)
                .fetch_optional(pool)
                .await?)
        })
    }
}
