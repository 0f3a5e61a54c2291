//! `/api/sources`, `/api/events`, `/api/inbox`, `/api/ingest/...`: the sources of pushed
//! changes (webhooks), the mapping of their events to CalDAV items, the audit trail and
//! the conflicts parked for a person. Source keys and Graph `clientState`s are shown
//! once, when made; only their hashes are stored.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use calport_state::{AuditRow, EventRow, IngestConflictRow, SourceFields, SourceRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{ApiError, ApiJson, ApiQuery, ErrorBody};
use crate::ingest::SOURCE_KEY_PREFIX;
use crate::ingest::decide::Strategy;

/// A source as the API shows it (never its key).
#[derive(Debug, Serialize, ToSchema)]
pub struct Source {
    /// The id senders put in `X-Calendar-Source`.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// `m365`.
    pub kind: String,
    /// The account of the target calendar.
    pub account_id: i64,
    /// The target calendar's href.
    pub calendar: String,
    /// Higher wins under `priority_based`.
    pub priority: i64,
    /// `last_write_wins`, `priority_based` or `manual`.
    pub conflict: String,
    /// Whether webhooks are accepted.
    pub enabled: bool,
    /// The public start of the key, to recognise it.
    pub key_lookup: String,
    /// Whether Graph change notifications are accepted (a clientState is set).
    pub graph_notifications: bool,
    /// Where Graph sends its notifications for this source.
    pub graph_notification_path: String,
    /// Events by mapping status (`active`, `deleted`, `superseded`, …).
    pub events: std::collections::BTreeMap<String, i64>,
    /// Inbox entries by state (`pending`, `done`, `dead`).
    pub inbox: std::collections::BTreeMap<String, i64>,
    /// The last webhook received (unix ms).
    pub last_received_at: Option<i64>,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

async fn view(app: &App, row: SourceRow) -> Result<Source, ApiError> {
    let counts = app.db.source_counts(&row.id).await?;
    Ok(Source {
        graph_notification_path: format!("/api/webhook/graph/{}", row.id),
        graph_notifications: row.client_state_hash.is_some(),
        id: row.id,
        name: row.name,
        kind: row.kind,
        account_id: row.account_id,
        calendar: row.calendar,
        priority: row.priority,
        conflict: row.conflict,
        enabled: row.enabled != 0,
        key_lookup: row.key_lookup,
        events: counts.events.into_iter().collect(),
        inbox: counts.inbox.into_iter().collect(),
        last_received_at: counts.last_received_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A source just made or given new secrets: the only time they are shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceWithSecrets {
    /// The source.
    pub source: Source,
    /// Its key, for `X-API-Key` (shown once).
    pub key: String,
    /// The `clientState` to give Graph when subscribing (shown once).
    pub client_state: String,
}

/// A new source.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    /// Id: letters, digits, `.`, `_`, `-` (1–64).
    pub id: String,
    /// A name for people (default: the id).
    pub name: Option<String>,
    /// The account of the target calendar.
    pub account_id: i64,
    /// The target calendar's href (as `GET /api/accounts/{id}/collections` lists it).
    pub calendar: String,
    /// Priority (default 0); higher wins under `priority_based`.
    #[serde(default)]
    pub priority: i64,
    /// `last_write_wins` (default), `priority_based` or `manual`.
    pub conflict: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Changes to a source; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourcePatch {
    /// A name for people.
    pub name: Option<String>,
    /// The account of the target calendar.
    pub account_id: Option<i64>,
    /// The target calendar's href.
    pub calendar: Option<String>,
    /// Priority.
    pub priority: Option<i64>,
    /// Conflict strategy.
    pub conflict: Option<String>,
    /// Whether webhooks are accepted.
    pub enabled: Option<bool>,
}

async fn check(app: &App, f: &SourceFields) -> Result<(), ApiError> {
    if f.name.trim().is_empty() || f.name.len() > 200 {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    if app.db.account(f.account_id).await?.is_none() {
        return Err(ApiError::invalid(
            "account_id",
            format!("there is no account {}", f.account_id),
        ));
    }
    if f.calendar.trim().is_empty() {
        return Err(ApiError::invalid(
            "calendar",
            "name the target calendar's href",
        ));
    }
    if Strategy::parse(&f.conflict).is_none() {
        return Err(ApiError::invalid(
            "conflict",
            "must be last_write_wins, priority_based or manual",
        ));
    }
    if !(-1_000_000..=1_000_000).contains(&f.priority) {
        return Err(ApiError::invalid(
            "priority",
            "must be between -1000000 and 1000000",
        ));
    }
    Ok(())
}

fn secrets() -> (String, calport_secure::apikeys::StoredKey, String) {
    let (key, stored) = calport_secure::apikeys::generate(SOURCE_KEY_PREFIX);
    let (client_state, _) = calport_secure::apikeys::generate("cs");
    (key, stored, client_state)
}

async fn load(app: &App, id: &str) -> Result<SourceRow, ApiError> {
    app.db
        .source(id)
        .await?
        .ok_or_else(|| ApiError::not_found("source", id))
}

/// Configured sources with their target, priority, counts and last event.
#[utoipa::path(get, path = "/api/sources", tag = "ingest",
    responses((status = 200, body = Vec<Source>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(State(app): State<App>) -> Result<Json<Vec<Source>>, ApiError> {
    let mut out = Vec::new();
    for row in app.db.sources().await? {
        out.push(view(&app, row).await?);
    }
    Ok(Json(out))
}

/// Adds a source; answers its key and Graph clientState once.
#[utoipa::path(post, path = "/api/sources", tag = "ingest", request_body = SourceInput,
    responses((status = 201, body = SourceWithSecrets), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<App>,
    ApiJson(input): ApiJson<SourceInput>,
) -> Result<(StatusCode, Json<SourceWithSecrets>), ApiError> {
    let id = input.id.trim();
    let valid_id = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid_id {
        return Err(ApiError::invalid(
            "id",
            "must be 1 to 64 letters, digits, '.', '_' or '-'",
        ));
    }
    let fields = SourceFields {
        name: input.name.unwrap_or_else(|| id.to_owned()),
        account_id: input.account_id,
        calendar: input.calendar.trim().to_owned(),
        priority: input.priority,
        conflict: input
            .conflict
            .unwrap_or_else(|| "last_write_wins".to_owned()),
        enabled: input.enabled.unwrap_or(true),
    };
    check(&app, &fields).await?;
    let (key, stored, client_state) = secrets();
    let state_hash = calport_secure::apikeys::hash_key(&client_state);
    let row = app
        .db
        .create_source(
            id,
            &fields,
            &stored.lookup_id,
            &stored.hash,
            Some(&state_hash),
        )
        .await?
        .ok_or_else(|| ApiError::conflict(format!("a source {id:?} exists")))?;
    app.ingest.forget_keys();
    Ok((
        StatusCode::CREATED,
        Json(SourceWithSecrets {
            source: view(&app, row).await?,
            key,
            client_state,
        }),
    ))
}

/// One source.
#[utoipa::path(get, path = "/api/sources/{id}", tag = "ingest",
    params(("id" = String, Path, description = "source id")),
    responses((status = 200, body = Source), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Source>, ApiError> {
    let row = load(&app, &id).await?;
    Ok(Json(view(&app, row).await?))
}

/// Changes a source (target, priority, strategy, enabled).
#[utoipa::path(patch, path = "/api/sources/{id}", tag = "ingest", request_body = SourcePatch,
    params(("id" = String, Path, description = "source id")),
    responses((status = 200, body = Source), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<SourcePatch>,
) -> Result<Json<Source>, ApiError> {
    let row = load(&app, &id).await?;
    let fields = SourceFields {
        name: patch.name.unwrap_or(row.name),
        account_id: patch.account_id.unwrap_or(row.account_id),
        calendar: patch
            .calendar
            .map(|c| c.trim().to_owned())
            .unwrap_or(row.calendar),
        priority: patch.priority.unwrap_or(row.priority),
        conflict: patch.conflict.unwrap_or(row.conflict),
        enabled: patch.enabled.unwrap_or(row.enabled != 0),
    };
    check(&app, &fields).await?;
    let row = app
        .db
        .update_source(&id, &fields)
        .await?
        .ok_or_else(|| ApiError::not_found("source", &id))?;
    app.ingest.forget_keys();
    Ok(Json(view(&app, row).await?))
}

/// Deletes a source with its inbox and mappings (the CalDAV items stay; the audit
/// trail stays).
#[utoipa::path(delete, path = "/api/sources/{id}", tag = "ingest",
    params(("id" = String, Path, description = "source id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !app.db.delete_source(&id).await? {
        return Err(ApiError::not_found("source", &id));
    }
    app.ingest.forget_keys();
    Ok(StatusCode::NO_CONTENT)
}

/// Gives a source a new key and Graph clientState (the old ones stop working).
#[utoipa::path(post, path = "/api/sources/{id}/rotate-key", tag = "ingest",
    params(("id" = String, Path, description = "source id")),
    responses((status = 200, body = SourceWithSecrets), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate_key(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<SourceWithSecrets>, ApiError> {
    load(&app, &id).await?;
    let (key, stored, client_state) = secrets();
    let state_hash = calport_secure::apikeys::hash_key(&client_state);
    app.db
        .set_source_key(&id, &stored.lookup_id, &stored.hash, Some(&state_hash))
        .await?;
    app.ingest.forget_keys();
    let row = load(&app, &id).await?;
    Ok(Json(SourceWithSecrets {
        source: view(&app, row).await?,
        key,
        client_state,
    }))
}

/// A source event and its CalDAV item.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventMapping {
    /// The source.
    pub source: String,
    /// The source's event id.
    pub event_id: String,
    /// Graph iCalUId.
    pub ical_uid: Option<String>,
    /// For occurrences and exceptions: the series' event id.
    pub series_master_id: Option<String>,
    /// The CalDAV UID.
    pub caldav_uid: Option<String>,
    /// The CalDAV item.
    pub href: Option<String>,
    /// `active`, `superseded`, `conflict`, `pending_master`, `cancelled`, `deleted`.
    pub status: String,
    /// For `superseded`: the source shown instead.
    pub winner: Option<String>,
    /// lastModifiedDateTime applied (unix ms).
    pub modified_at: Option<i64>,
    /// The request that last changed it.
    pub request_id: Option<String>,
    /// The last error.
    pub error: Option<String>,
    /// Last change (unix ms).
    pub updated_at: i64,
}

impl From<EventRow> for EventMapping {
    fn from(r: EventRow) -> Self {
        EventMapping {
            source: r.source_id,
            event_id: r.event_id,
            ical_uid: r.ical_uid,
            series_master_id: r.series_master_id,
            caldav_uid: r.caldav_uid,
            href: r.href,
            status: r.status,
            winner: r.winner,
            modified_at: r.modified_at,
            request_id: r.request_id,
            error: r.error,
            updated_at: r.updated_at,
        }
    }
}

/// Filter of the event list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// One source.
    pub source: Option<String>,
    /// One status.
    pub status: Option<String>,
    /// At most this many (default 100, max 1000).
    pub limit: Option<i64>,
}

fn limit_of(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(100),
        Some(n) if (1..=1000).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid("limit", "must be between 1 and 1000")),
    }
}

/// Event mappings: source event id ↔ CalDAV UID/href, status, last change, error.
#[utoipa::path(get, path = "/api/events", tag = "ingest", params(EventQuery),
    responses((status = 200, body = Vec<EventMapping>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(
    State(app): State<App>,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<Vec<EventMapping>>, ApiError> {
    let limit = limit_of(q.limit)?;
    let rows = app
        .db
        .ingest_events(q.source.as_deref(), q.status.as_deref(), limit)
        .await?;
    Ok(Json(rows.into_iter().map(EventMapping::from).collect()))
}

/// One audited decision on a pushed change.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryLine {
    /// Line id.
    pub id: i64,
    /// When (unix ms).
    pub at: i64,
    /// The webhook it was about.
    pub request_id: String,
    /// The source.
    pub source: String,
    /// The source's event id.
    pub event_id: String,
    /// `create`, `update`, `delete`, `skip`, `conflict`, `retry`, `dead`, `noted`.
    pub action: String,
    /// In words.
    pub detail: String,
}

impl From<AuditRow> for HistoryLine {
    fn from(r: AuditRow) -> Self {
        HistoryLine {
            id: r.id,
            at: r.at,
            request_id: r.request_id,
            source: r.source_id,
            event_id: r.event_id,
            action: r.action,
            detail: r.detail,
        }
    }
}

/// The same meeting from two sources, parked for a person (`manual` strategy).
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestConflict {
    /// Id.
    pub id: i64,
    /// The source whose change was parked.
    pub source: String,
    /// Its event id.
    pub event_id: String,
    /// The shared iCalUId.
    pub ical_uid: String,
    /// The source whose version the calendar shows.
    pub other_source: String,
    /// Its event id.
    pub other_event: String,
    /// The parked webhook.
    pub request_id: String,
    /// `open` or `resolved`.
    pub state: String,
    /// `incoming` or `existing`.
    pub resolution: Option<String>,
    /// Parked (unix ms).
    pub created_at: i64,
    /// Resolved (unix ms).
    pub resolved_at: Option<i64>,
}

impl From<IngestConflictRow> for IngestConflict {
    fn from(r: IngestConflictRow) -> Self {
        IngestConflict {
            id: r.id,
            source: r.source_id,
            event_id: r.event_id,
            ical_uid: r.ical_uid,
            other_source: r.other_source,
            other_event: r.other_event,
            request_id: r.request_id,
            state: r.state,
            resolution: r.resolution,
            created_at: r.created_at,
            resolved_at: r.resolved_at,
        }
    }
}

/// One received webhook and what became of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxEntry {
    /// The id answered with the 202.
    pub request_id: String,
    /// The source.
    pub source: String,
    /// `created`, `updated`, `deleted`, `notification`.
    pub action: String,
    /// The source's event id.
    pub event_id: String,
    /// `pending`, `done` or `dead`.
    pub state: String,
    /// Failed attempts.
    pub attempts: i64,
    /// What applying it did: `create`, `update`, `delete`, `skip`, `conflict`, `noted`.
    pub outcome: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
    /// Received (unix ms).
    pub received_at: i64,
    /// Applied (unix ms).
    pub applied_at: Option<i64>,
    /// Every decision taken on it, oldest first.
    pub history: Vec<HistoryLine>,
}

/// What became of one webhook (by the request id of its 202).
#[utoipa::path(get, path = "/api/inbox/{request_id}", tag = "ingest",
    params(("request_id" = String, Path, description = "the request id answered with the 202")),
    responses((status = 200, body = InboxEntry), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn inbox_entry(
    State(app): State<App>,
    Path(request_id): Path<String>,
) -> Result<Json<InboxEntry>, ApiError> {
    let row = app
        .db
        .inbox_entry(&request_id)
        .await?
        .ok_or_else(|| ApiError::not_found("request", &request_id))?;
    let mut history = app
        .db
        .ingest_audit(None, None, Some(&request_id), None, 1000)
        .await?;
    history.reverse();
    Ok(Json(InboxEntry {
        request_id: row.request_id,
        source: row.source_id,
        action: row.action,
        event_id: row.event_id,
        state: row.state,
        attempts: row.attempts,
        outcome: row.outcome,
        last_error: row.last_error,
        received_at: row.received_at,
        applied_at: row.applied_at,
        history: history.into_iter().map(HistoryLine::from).collect(),
    }))
}

/// Filter of the audit trail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// One source.
    pub source: Option<String>,
    /// One source event.
    pub event: Option<String>,
    /// One webhook.
    pub request_id: Option<String>,
    /// One action: `create`, `update`, `delete`, `skip`, `conflict`, `retry`, `dead`, `noted`.
    pub action: Option<String>,
    /// At most this many (default 100, max 1000).
    pub limit: Option<i64>,
}

/// The sync history of pushed changes: every create, update, delete, skip, conflict,
/// retry and dead letter with its request id, newest first.
#[utoipa::path(get, path = "/api/ingest/history", tag = "ingest", params(HistoryQuery),
    responses((status = 200, body = Vec<HistoryLine>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn history(
    State(app): State<App>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<HistoryLine>>, ApiError> {
    let limit = limit_of(q.limit)?;
    let rows = app
        .db
        .ingest_audit(
            q.source.as_deref(),
            q.event.as_deref(),
            q.request_id.as_deref(),
            q.action.as_deref(),
            limit,
        )
        .await?;
    Ok(Json(rows.into_iter().map(HistoryLine::from).collect()))
}

/// Filter of the conflict list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConflictQuery {
    /// `open` or `resolved` (default: all).
    pub state: Option<String>,
}

/// Meetings carried by two sources under the `manual` strategy.
#[utoipa::path(get, path = "/api/ingest/conflicts", tag = "ingest", params(ConflictQuery),
    responses((status = 200, body = Vec<IngestConflict>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn conflicts(
    State(app): State<App>,
    ApiQuery(q): ApiQuery<ConflictQuery>,
) -> Result<Json<Vec<IngestConflict>>, ApiError> {
    let rows = app.db.ingest_conflicts(q.state.as_deref()).await?;
    Ok(Json(rows.into_iter().map(IngestConflict::from).collect()))
}

/// A person's choice for a conflict.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// `incoming` (show the parked source's version) or `existing` (keep what is shown).
    pub keep: String,
}

/// Settles a parked conflict; the parked webhook is applied again with the choice.
#[utoipa::path(post, path = "/api/ingest/conflicts/{id}/resolve", tag = "ingest", request_body = Resolve,
    params(("id" = i64, Path, description = "conflict id")),
    responses((status = 202, body = IngestConflict), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn resolve(
    State(app): State<App>,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<Resolve>,
) -> Result<(StatusCode, Json<IngestConflict>), ApiError> {
    let conflict = app
        .db
        .ingest_conflict(id)
        .await?
        .ok_or_else(|| ApiError::not_found("conflict", id))?;
    if !matches!(input.keep.as_str(), "incoming" | "existing") {
        return Err(ApiError::invalid("keep", "must be incoming or existing"));
    }
    if !app.db.resolve_ingest_conflict(id, &input.keep).await? {
        return Err(ApiError::conflict(format!(
            "conflict {id} is {} already",
            conflict.state
        )));
    }
    app.db.requeue_inbox(&conflict.request_id).await?;
    app.ingest.wake.notify_one();
    let conflict = app
        .db
        .ingest_conflict(id)
        .await?
        .ok_or_else(|| ApiError::not_found("conflict", id))?;
    Ok((StatusCode::ACCEPTED, Json(conflict.into())))
}
