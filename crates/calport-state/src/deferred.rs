//! Items left out of a sync for being outside the job's window, kept with their time
//! span so a later run picks them up once the window reaches them.

use crate::db::{StateDb, StateError, on_pool};

/// An item outside the window, on one side.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DeferredRow {
    /// The item's UID.
    pub uid: String,
    /// `a` or `b`.
    pub side: String,
    /// Where it lives on that side.
    pub href: String,
    /// Earliest occurrence start (unix seconds).
    pub span_start: i64,
    /// Latest occurrence end (unix seconds); `None` recurs forever.
    pub span_end: Option<i64>,
}

impl StateDb {
    /// Remembers an item left out for the window.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn defer_item(&self, pair_id: i64, row: &DeferredRow) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO deferred (pair_id, uid, side, href, span_start, span_end)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (pair_id, uid, side) DO UPDATE SET href = excluded.href,
                    span_start = excluded.span_start, span_end = excluded.span_end",
            )
            .bind(pair_id)
            .bind(&row.uid)
            .bind(&row.side)
            .bind(&row.href)
            .bind(row.span_start)
            .bind(row.span_end)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Items of a pair left out earlier whose span now meets `[from, to]` (unix seconds).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn deferred_in(
        &self,
        pair_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<DeferredRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, DeferredRow>(
                "SELECT uid, side, href, span_start, span_end FROM deferred
                 WHERE pair_id = $1 AND span_start <= $3 AND (span_end IS NULL OR span_end >= $2)
                 ORDER BY uid, side",
            )
            .bind(pair_id)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Forgets a deferred item (it was synced, or is gone).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn undefer_item(&self, pair_id: i64, uid: &str) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM deferred WHERE pair_id = $1 AND uid = $2")
                .bind(pair_id)
                .bind(uid)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
