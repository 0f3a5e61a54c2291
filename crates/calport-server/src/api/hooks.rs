//! `/api/webhooks` (outbound, after each run) and `/api/conflicts`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use calport_secure::webhooks::WebhookSecret;
use calport_state::{ConflictRecord, DeliveryRow, WebhookRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::{App, WEBHOOK_SECRET_CONTEXT};
use crate::error::{ApiError, ApiJson, ErrorBody};

/// A webhook (its secret is shown only when created).
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    /// Id.
    pub id: i64,
    /// Where run summaries are POSTed.
    pub url: String,
    /// Only this job's runs (`null`: every job).
    pub job_id: Option<i64>,
    /// Whether deliveries are made (a 410 answer turns it off).
    pub enabled: bool,
    /// Created (unix ms).
    pub created_at: i64,
}

impl From<WebhookRow> for Webhook {
    fn from(row: WebhookRow) -> Self {
        Webhook {
            id: row.id,
            url: row.url,
            job_id: row.job_id,
            enabled: row.enabled != 0,
            created_at: row.created_at,
        }
    }
}

/// A new webhook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// http(s) URL to POST to.
    pub url: String,
    /// Only this job's runs.
    #[serde(default)]
    pub job_id: Option<i64>,
    /// The signing secret as `whsec_<base64>`; generated when absent.
    #[serde(default)]
    pub secret: Option<String>,
}

/// A created webhook with its signing secret (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The webhook.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_…`: verify `webhook-signature` with it (Standard Webhooks).
    pub secret: String,
}

/// Every webhook.
#[utoipa::path(get, path = "/api/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<Webhook>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(State(app): State<App>) -> Result<Json<Vec<Webhook>>, ApiError> {
    Ok(Json(
        app.db
            .webhooks()
            .await?
            .into_iter()
            .map(Webhook::from)
            .collect(),
    ))
}

/// Adds a webhook: after each run (of its job, or of every job) calport POSTs a signed
/// JSON summary to it.
#[utoipa::path(post, path = "/api/webhooks", tag = "webhooks", request_body = WebhookInput,
    responses((status = 201, body = CreatedWebhook), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<App>,
    ApiJson(input): ApiJson<WebhookInput>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    if let Err(e) = calport_secure::delivery::check_url(&input.url, true) {
        return Err(ApiError::invalid(
            "url",
            format!("not a usable http(s) URL: {e:?}"),
        ));
    }
    if let Some(job) = input.job_id
        && app.db.job(job).await?.is_none()
    {
        return Err(ApiError::invalid(
            "job_id",
            format!("there is no job {job}"),
        ));
    }
    let secret = match &input.secret {
        Some(text) => {
            WebhookSecret::parse(text).map_err(|e| ApiError::invalid("secret", format!("{e}")))?
        }
        None => WebhookSecret::generate(),
    };
    let sealed = app
        .key
        .encrypt(secret.expose_bytes(), WEBHOOK_SECRET_CONTEXT);
    let row = app
        .db
        .create_webhook(&input.url, input.job_id, &sealed)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            webhook: row.into(),
            secret: secret.to_whsec().to_string(),
        }),
    ))
}

/// Deletes a webhook.
#[utoipa::path(delete, path = "/api/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "webhook id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(State(app): State<App>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    if app.db.delete_webhook(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook", id))
    }
}

/// One delivery attempt log entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    /// Id.
    pub id: i64,
    /// The run reported.
    pub run_id: Option<i64>,
    /// `webhook-id` (the same on every attempt).
    pub msg_id: String,
    /// `pending`, `delivered`, `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// Last HTTP status.
    pub last_status: Option<i64>,
    /// Last error or response snippet.
    pub last_error: Option<String>,
    /// Next attempt (unix ms).
    pub next_attempt_at: Option<i64>,
    /// Created (unix ms).
    pub created_at: i64,
    /// Delivered (unix ms).
    pub delivered_at: Option<i64>,
}

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        Delivery {
            id: r.id,
            run_id: r.run_id,
            msg_id: r.msg_id,
            state: r.state,
            attempts: r.attempts,
            last_status: r.last_status,
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at,
            created_at: r.created_at,
            delivered_at: r.delivered_at,
        }
    }
}

/// A webhook's latest deliveries.
#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path, description = "webhook id")),
    responses((status = 200, body = Vec<Delivery>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn deliveries(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    if app.db.webhook(id).await?.is_none() {
        return Err(ApiError::not_found("webhook", id));
    }
    Ok(Json(
        app.db
            .deliveries(id, 100)
            .await?
            .into_iter()
            .map(Delivery::from)
            .collect(),
    ))
}

/// One side of a conflict.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictVersion {
    /// Where it lives.
    pub href: String,
    /// Its etag when parked.
    pub etag: Option<String>,
    /// The whole item (iCalendar or vCard).
    pub body: String,
}

/// A parked conflict with both versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Conflict {
    /// Id.
    pub id: i64,
    /// The job (when it is a service job).
    pub job_id: Option<i64>,
    /// Side A's collection.
    pub a_collection: String,
    /// Side B's collection.
    pub b_collection: String,
    /// The item's UID.
    pub uid: String,
    /// `event`, `todo`, `card`, …
    pub kind: String,
    /// Why it was parked.
    pub reason: String,
    /// Side A's version (`null`: deleted there).
    pub a: Option<ConflictVersion>,
    /// Side B's version.
    pub b: Option<ConflictVersion>,
    /// What differs, one line each.
    pub differences: Vec<String>,
    /// The chosen version (`a`, `b`, `both`), applied by the job's next run.
    pub resolution: Option<String>,
    /// Parked (unix ms).
    pub created_at: i64,
}

fn job_id_of(key: &str) -> Option<i64> {
    key.strip_prefix("job-")
        .map(|rest| rest.split(' ').next().unwrap_or(rest))
        .and_then(|id| id.parse().ok())
}

fn conflict_view(c: ConflictRecord) -> Conflict {
    let version = |s: &Option<calport_state::ConflictSide>| {
        s.as_ref().map(|s| ConflictVersion {
            href: s.href.to_string(),
            etag: s.etag.as_ref().map(ToString::to_string),
            body: String::from_utf8_lossy(&s.body).into_owned(),
        })
    };
    let differences = match (&c.a, &c.b) {
        (Some(a), Some(b)) => {
            calport_ical::compare(&a.body, &b.body, &calport_ical::Tolerance::default())
                .map(|d| d.iter().map(ToString::to_string).collect())
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    Conflict {
        id: c.id,
        job_id: job_id_of(&c.job),
        a_collection: c.a_collection.clone(),
        b_collection: c.b_collection.clone(),
        uid: c.uid.clone(),
        kind: c.kind.clone(),
        reason: c.reason.clone(),
        a: version(&c.a),
        b: version(&c.b),
        differences,
        resolution: c.resolution.clone(),
        created_at: c.created_at,
    }
}

/// Parked conflicts.
#[utoipa::path(get, path = "/api/conflicts", tag = "conflicts",
    responses((status = 200, body = Vec<Conflict>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn conflicts(State(app): State<App>) -> Result<Json<Vec<Conflict>>, ApiError> {
    Ok(Json(
        app.db
            .conflicts(None)
            .await?
            .into_iter()
            .map(conflict_view)
            .collect(),
    ))
}

/// One parked conflict with both versions.
#[utoipa::path(get, path = "/api/conflicts/{id}", tag = "conflicts",
    params(("id" = i64, Path, description = "conflict id")),
    responses((status = 200, body = Conflict), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn conflict(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<Conflict>, ApiError> {
    let c = app
        .db
        .conflict(id)
        .await?
        .ok_or_else(|| ApiError::not_found("conflict", id))?;
    Ok(Json(conflict_view(c)))
}

/// A decision on a conflict.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// `a`, `b` or `both`.
    pub keep: String,
}

/// Resolves a conflict: records the choice and queues a run of its job, which applies it.
#[utoipa::path(post, path = "/api/conflicts/{id}/resolve", tag = "conflicts", request_body = Resolve,
    params(("id" = i64, Path, description = "conflict id")),
    responses((status = 202, body = Conflict), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn resolve(
    State(app): State<App>,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<Resolve>,
) -> Result<(StatusCode, Json<Conflict>), ApiError> {
    if !matches!(input.keep.as_str(), "a" | "b" | "both") {
        return Err(ApiError::invalid("keep", "must be a, b or both"));
    }
    let c = app
        .db
        .conflict(id)
        .await?
        .ok_or_else(|| ApiError::not_found("conflict", id))?;
    app.db.resolve_conflict(id, &input.keep).await?;
    // Only a job that still exists can run (its conflicts outlive a deleted job).
    if let Some(job) = job_id_of(&c.job)
        && app.db.job(job).await?.is_some()
    {
        // Already in flight: the choice is applied by that run's next pass or the next run.
        let _ = app.db.enqueue_run(job, "api", false).await?;
    }
    let c = app.db.conflict(id).await?.unwrap_or(c);
    Ok((StatusCode::ACCEPTED, Json(conflict_view(c))))
}

/// An item that kept failing, parked for a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetter {
    /// Id.
    pub id: i64,
    /// `sync` (an item of a job's collection pair).
    pub source: String,
    /// The job (when it is a service job).
    pub job_id: Option<i64>,
    /// `a` or `b`: the side of `href`, where a retry reads the item again.
    pub side: String,
    /// The item's UID.
    pub uid: String,
    /// Where it lives.
    pub href: Option<String>,
    /// The last failure (the server's own words where it gave any).
    pub reason: String,
    /// The item as it was read (iCalendar / vCard), when it could be read.
    pub payload: Option<String>,
    /// Failures in a row.
    pub attempts: i64,
    /// `open` (parked), `retry` (asked to try again; the next run does), `skipped`.
    pub state: String,
    /// First failure (unix ms).
    pub first_at: i64,
    /// Last failure (unix ms).
    pub last_at: i64,
}

async fn dead_letter_view(
    app: &App,
    d: calport_state::DeadLetterRow,
) -> Result<DeadLetter, ApiError> {
    let job_id = match d.pair_id {
        Some(pair) => app.db.pair_job(pair).await?.as_deref().and_then(job_id_of),
        None => None,
    };
    Ok(DeadLetter {
        id: d.id,
        source: d.source,
        job_id,
        side: d.side,
        uid: d.uid,
        href: d.href,
        reason: d.reason,
        payload: d.payload.map(|p| String::from_utf8_lossy(&p).into_owned()),
        attempts: d.attempts,
        state: d.state,
        first_at: d.first_at,
        last_at: d.last_at,
    })
}

/// Filter of the dead-letter list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterQuery {
    /// `open`, `retry` or `skipped` (default: all).
    pub state: Option<String>,
}

/// Items parked after failing too many runs in a row.
#[utoipa::path(get, path = "/api/dead-letters", tag = "conflicts", params(DeadLetterQuery),
    responses((status = 200, body = Vec<DeadLetter>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn dead_letters(
    State(app): State<App>,
    crate::error::ApiQuery(query): crate::error::ApiQuery<DeadLetterQuery>,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    if let Some(state) = &query.state
        && !matches!(state.as_str(), "open" | "retry" | "skipped")
    {
        return Err(ApiError::invalid("state", "must be open, retry or skipped"));
    }
    let mut out = Vec::new();
    for d in app.db.dead_letters(query.state.as_deref()).await? {
        out.push(dead_letter_view(&app, d).await?);
    }
    Ok(Json(out))
}

async fn load_dead_letter(app: &App, id: i64) -> Result<calport_state::DeadLetterRow, ApiError> {
    app.db
        .dead_letter(id)
        .await?
        .filter(|d| d.state != "failing")
        .ok_or_else(|| ApiError::not_found("dead letter", id))
}

/// One dead letter with its payload.
#[utoipa::path(get, path = "/api/dead-letters/{id}", tag = "conflicts",
    params(("id" = i64, Path, description = "dead letter id")),
    responses((status = 200, body = DeadLetter), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn dead_letter(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<DeadLetter>, ApiError> {
    let d = load_dead_letter(&app, id).await?;
    Ok(Json(dead_letter_view(&app, d).await?))
}

/// Tries a dead letter again: its job's next run (queued now) reads and writes it anew;
/// a pushed change (`source: inbox`) is applied again from its stored body.
#[utoipa::path(post, path = "/api/dead-letters/{id}/retry", tag = "conflicts",
    params(("id" = i64, Path, description = "dead letter id")),
    responses((status = 202, body = DeadLetter), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn retry_dead_letter(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<DeadLetter>), ApiError> {
    let letter = load_dead_letter(&app, id).await?;
    app.db.set_dead_letter_state(id, "retry").await?;
    if letter.source == "inbox" {
        // A pushed change: its inbox entry (keyed by request id) is applied again.
        app.db.requeue_inbox(&letter.uid).await?;
        app.ingest.wake.notify_one();
    }
    let d = load_dead_letter(&app, id).await?;
    let view = dead_letter_view(&app, d).await?;
    if let Some(job) = view.job_id
        && app.db.job(job).await?.is_some()
    {
        let _ = app.db.enqueue_run(job, "api", false).await?;
    }
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Leaves a dead letter alone for good: runs skip the item until it is retried.
#[utoipa::path(post, path = "/api/dead-letters/{id}/skip", tag = "conflicts",
    params(("id" = i64, Path, description = "dead letter id")),
    responses((status = 200, body = DeadLetter), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn skip_dead_letter(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<DeadLetter>, ApiError> {
    load_dead_letter(&app, id).await?;
    app.db.set_dead_letter_state(id, "skipped").await?;
    let d = load_dead_letter(&app, id).await?;
    Ok(Json(dead_letter_view(&app, d).await?))
}
