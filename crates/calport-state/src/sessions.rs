//! Web UI sessions: found by the hash of the browser's cookie token.

use crate::db::{StateDb, StateError, now_ms, on_pool};

/// A signed-in browser session.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    /// SHA-256 of the cookie token (hex); the token itself is never stored.
    pub token_hash: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last request (unix ms).
    pub last_seen_at: i64,
    /// Expires (unix ms).
    pub expires_at: i64,
}

impl StateDb {
    /// Stores a new session.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn create_session(
        &self,
        token_hash: &str,
        csrf: &str,
        expires_at: i64,
    ) -> Result<(), StateError> {
        let now = now_ms();
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO sessions (token_hash, csrf, created_at, last_seen_at, expires_at)
                 VALUES ($1, $2, $3, $3, $4)",
            )
            .bind(token_hash)
            .bind(csrf)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// A session that has not expired; its expiry slides to `extend_to` when later.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn live_session(
        &self,
        token_hash: &str,
        extend_to: i64,
    ) -> Result<Option<SessionRow>, StateError> {
        let now = now_ms();
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, SessionRow>(
                "UPDATE sessions SET last_seen_at = $1,
                        expires_at = CASE WHEN expires_at < $2 THEN $2 ELSE expires_at END
                 WHERE token_hash = $3 AND expires_at > $1 RETURNING *",
            )
            .bind(now)
            .bind(extend_to)
            .bind(token_hash)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Ends a session; also removes expired ones.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn end_session(&self, token_hash: &str) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2")
                .bind(token_hash)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
