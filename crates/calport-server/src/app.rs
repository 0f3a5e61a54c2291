//! What every request handler and background task shares, and the bearer-key check.

use std::sync::Arc;
use std::time::Instant;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use calport_secure::secrets::MasterKey;
use calport_state::StateDb;

use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Context for `secrets::MasterKey::encrypt` of account passwords.
pub const ACCOUNT_SECRET_CONTEXT: &[u8] = b"calport account password";
/// Context for webhook signing secrets.
pub const WEBHOOK_SECRET_CONTEXT: &[u8] = b"calport webhook secret";

/// Shared state of the service.
#[derive(Clone)]
pub struct App {
    /// The database.
    pub db: StateDb,
    /// The configuration.
    pub config: Arc<Config>,
    /// Encrypts secrets at rest.
    pub key: MasterKey,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// When the process started.
    pub started: Instant,
    /// The webhook routes' and the inbox applier's shared state.
    pub ingest: Arc<crate::ingest::Shared>,
}

impl App {
    /// Encrypts a password for storage.
    pub fn seal_password(&self, password: &str) -> Vec<u8> {
        self.key
            .encrypt(password.as_bytes(), ACCOUNT_SECRET_CONTEXT)
    }

    /// Decrypts a stored password.
    ///
    /// # Errors
    /// When the key does not open it (another key, damaged data).
    pub fn open_password(&self, sealed: &[u8]) -> Result<String, ApiError> {
        let plain = self
            .key
            .decrypt(sealed, ACCOUNT_SECRET_CONTEXT)
            .map_err(|e| ApiError::internal(format!("cannot decrypt a stored password: {e}")))?;
        String::from_utf8(plain.to_vec())
            .map_err(|_| ApiError::internal("a stored password is not UTF-8"))
    }
}

/// Checks `Authorization: Bearer <key>` against the stored key hashes.
///
/// # Errors
/// 401 for a missing, unknown, wrong or revoked key.
pub async fn authenticate(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let refuse = || {
        app.metrics.auth_failure();
        ApiError::unauthorized()
    };
    let presented = presented.ok_or_else(refuse)?;
    let lookup = calport_secure::apikeys::lookup_id_of(presented).ok_or_else(refuse)?;
    let rows = app.db.api_keys_by_lookup(&lookup).await?;
    let row = rows
        .into_iter()
        .find(|row| {
            row.revoked_at.is_none() && calport_secure::apikeys::verify(presented, &row.hash)
        })
        .ok_or_else(refuse)?;
    // Best effort: a failed touch must not fail the request.
    if let Err(err) = app.db.touch_api_key(row.id).await {
        tracing::warn!(error = %err, "cannot record an API key's last use");
    }
    Ok(())
}
