//! Health, worker status, statistics, metrics, API keys.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{ApiError, ApiJson, ErrorBody};
use crate::progress::{KindCounts, RunStats};
use crate::worker::now_ms;

/// Service health.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: String,
    /// `ok`, or the database error.
    pub database: String,
    /// `sqlite` or `postgres`.
    pub database_backend: String,
    /// Workers that sent a heartbeat in the last minute.
    pub workers_alive: usize,
    /// calport's version.
    pub version: String,
    /// Seconds since this process started.
    pub uptime_seconds: u64,
}

/// Database and worker liveness (no authentication).
#[utoipa::path(get, path = "/api/health", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(app): State<App>) -> impl IntoResponse {
    let since = now_ms() - 60_000;
    let (database, workers) = match app.db.workers_since(since).await {
        Ok(w) => ("ok".to_owned(), w.len()),
        Err(e) => (e.to_string(), 0),
    };
    let healthy = database == "ok" && (workers > 0 || !app.config.worker.enabled);
    let body = Health {
        status: if healthy { "ok" } else { "degraded" }.to_owned(),
        database,
        database_backend: app.db.backend().to_string(),
        workers_alive: workers,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_seconds: app.started.elapsed().as_secs(),
    };
    let status = if body.database == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// One worker process.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerInfo {
    /// Id (host:pid:start).
    pub id: String,
    /// Host.
    pub hostname: String,
    /// Process id.
    pub pid: i64,
    /// Runs it executes now.
    pub running: i64,
    /// Last heartbeat (unix ms).
    pub heartbeat_at: i64,
    /// Started (unix ms).
    pub started_at: i64,
}

/// Workers and the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerStatus {
    /// Workers seen in the last minute.
    pub workers: Vec<WorkerInfo>,
    /// Runs waiting for a worker.
    pub queued: i64,
    /// Runs executing.
    pub running: i64,
    /// Runs paused.
    pub paused: i64,
}

fn count(counts: &[(String, i64)], state: &str) -> i64 {
    counts
        .iter()
        .find(|(s, _)| s == state)
        .map_or(0, |(_, n)| *n)
}

/// Workers alive and the run queue.
#[utoipa::path(get, path = "/api/worker/status", tag = "system",
    responses((status = 200, body = WorkerStatus), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn worker_status(State(app): State<App>) -> Result<Json<WorkerStatus>, ApiError> {
    let workers = app.db.workers_since(now_ms() - 60_000).await?;
    let counts = app.db.run_counts().await?;
    Ok(Json(WorkerStatus {
        workers: workers
            .into_iter()
            .map(|w| WorkerInfo {
                id: w.id,
                hostname: w.hostname,
                pid: w.pid,
                running: w.running,
                heartbeat_at: w.heartbeat_at,
                started_at: w.started_at,
            })
            .collect(),
        queued: count(&counts, "queued"),
        running: count(&counts, "running"),
        paused: count(&counts, "paused"),
    }))
}

/// Totals over everything.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    /// Accounts.
    pub accounts: usize,
    /// Jobs.
    pub jobs: usize,
    /// Runs by state.
    pub runs: std::collections::BTreeMap<String, i64>,
    /// Items over all finished runs: calendar items.
    pub events: KindCounts,
    /// Items over all finished runs: contacts.
    pub contacts: KindCounts,
    /// Parked conflicts.
    pub open_conflicts: usize,
    /// Webhook deliveries waiting.
    pub pending_deliveries: i64,
    /// Pushed changes (inbound webhooks).
    pub ingest: IngestStats,
}

/// Totals of pushed changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestStats {
    /// Configured sources.
    pub sources: usize,
    /// Inbox entries by state (`pending`, `done`, `dead`).
    pub inbox: std::collections::BTreeMap<String, i64>,
    /// Decisions by action (`create`, `update`, `delete`, `skip`, `conflict`, `retry`,
    /// `dead`, `noted`).
    pub decisions: std::collections::BTreeMap<String, i64>,
    /// Conflicts between sources waiting for a person.
    pub open_conflicts: usize,
}

fn add(into: &mut KindCounts, from: &KindCounts) {
    into.created += from.created;
    into.updated += from.updated;
    into.deleted += from.deleted;
    into.unchanged += from.unchanged;
    into.failed += from.failed;
    into.conflicts += from.conflicts;
}

/// Totals: accounts, jobs, runs by state, items by kind and outcome.
#[utoipa::path(get, path = "/api/stats", tag = "system",
    responses((status = 200, body = Stats), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn stats(State(app): State<App>) -> Result<Json<Stats>, ApiError> {
    let mut events = KindCounts::default();
    let mut contacts = KindCounts::default();
    for text in app.db.run_stats().await? {
        if let Ok(s) = serde_json::from_str::<RunStats>(&text) {
            add(&mut events, &s.events);
            add(&mut contacts, &s.contacts);
        }
    }
    Ok(Json(Stats {
        accounts: app.db.accounts().await?.len(),
        jobs: app.db.jobs().await?.len(),
        runs: app.db.run_counts().await?.into_iter().collect(),
        events,
        contacts,
        open_conflicts: app.db.conflicts(None).await?.len(),
        pending_deliveries: app.db.pending_deliveries().await?,
        ingest: IngestStats {
            sources: app.db.sources().await?.len(),
            inbox: app.db.inbox_counts().await?.into_iter().collect(),
            decisions: app.db.ingest_audit_counts().await?.into_iter().collect(),
            open_conflicts: app.db.ingest_conflicts(Some("open")).await?.len(),
        },
    }))
}

/// Prometheus metrics (text format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
              (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn metrics(State(app): State<App>) -> Result<impl IntoResponse, ApiError> {
    let counts = app.db.run_counts().await?;
    let text = app.metrics.render(
        &counts,
        count(&counts, "queued"),
        app.db.pending_deliveries().await?,
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    ))
}

/// An API key's record (never the key).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The key's public start (`cpk_…` lookup id), to recognise it.
    pub lookup_id: String,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last used (unix ms).
    pub last_used_at: Option<i64>,
    /// Revoked (unix ms).
    pub revoked_at: Option<i64>,
}

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    /// A name for people.
    pub name: String,
}

/// A created key: the only time the key is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The record.
    #[serde(flatten)]
    pub record: ApiKey,
    /// The key; store it now, it cannot be shown again.
    pub key: String,
}

/// Creates an API key and the key's hash; returns the key once.
///
/// # Errors
/// Database failures.
pub async fn new_key(app: &App, name: &str) -> Result<CreatedApiKey, ApiError> {
    let (key, stored) = calport_secure::apikeys::generate(calport_secure::apikeys::DEFAULT_PREFIX);
    let row = app
        .db
        .create_api_key(name, &stored.lookup_id, &stored.hash)
        .await?;
    Ok(CreatedApiKey {
        record: ApiKey {
            id: row.id,
            name: row.name,
            lookup_id: row.lookup_id,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        },
        key,
    })
}

/// Every API key (without the keys).
#[utoipa::path(get, path = "/api/keys", tag = "system",
    responses((status = 200, body = Vec<ApiKey>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_keys(State(app): State<App>) -> Result<Json<Vec<ApiKey>>, ApiError> {
    Ok(Json(
        app.db
            .api_keys()
            .await?
            .into_iter()
            .map(|row| ApiKey {
                id: row.id,
                name: row.name,
                lookup_id: row.lookup_id,
                created_at: row.created_at,
                last_used_at: row.last_used_at,
                revoked_at: row.revoked_at,
            })
            .collect(),
    ))
}

/// Creates an API key; the answer is the only time the key is shown.
#[utoipa::path(post, path = "/api/keys", tag = "system", request_body = ApiKeyInput,
    responses((status = 201, body = CreatedApiKey), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_key(
    State(app): State<App>,
    ApiJson(input): ApiJson<ApiKeyInput>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    if input.name.trim().is_empty() || input.name.len() > 200 {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    Ok((
        StatusCode::CREATED,
        Json(new_key(&app, input.name.trim()).await?),
    ))
}

/// Revokes an API key.
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "system",
    params(("id" = i64, Path, description = "key id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_key(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if app.db.revoke_api_key(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("API key", id))
    }
}
