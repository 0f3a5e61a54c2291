//! The webhook routes: authenticate the source, validate the body, store it in the inbox,
//! answer `202` with a request id. Nothing is written to CalDAV here.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use calport_m365::payload::{self, PayloadError};
use calport_state::SourceRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{ApiError, ErrorBody};

/// The header naming the source of a webhook.
pub const SOURCE_HEADER: &str = "x-calendar-source";
/// The header carrying a source's key (or `Authorization: Bearer`).
pub const KEY_HEADER: &str = "x-api-key";
/// Longest Graph `validationToken` echoed back.
const MAX_VALIDATION_TOKEN: usize = 2048;

/// The answer to an accepted webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Always `accepted`: stored, to be applied by a worker.
    pub status: &'static str,
    /// The id of this delivery: `GET /api/inbox/{request_id}` tells what became of it.
    pub request_id: String,
    /// The source.
    pub source: String,
    /// The source's event id (for Graph notifications, the first one).
    pub event_id: String,
}

fn request_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("req_{hex}")
}

/// The source a key belongs to, checked against the database (through a short cache).
async fn source_of_key(app: &App, presented: &str) -> Result<Option<SourceRow>, ApiError> {
    let Some(lookup) = calport_secure::apikeys::lookup_id_of(presented) else {
        return Ok(None);
    };
    let rows = match app.ingest.cached(&lookup) {
        Some(rows) => rows,
        None => {
            let rows = app.db.sources_by_key(&lookup).await?;
            app.ingest.remember(&lookup, rows.clone());
            rows
        }
    };
    Ok(rows
        .into_iter()
        .find(|row| calport_secure::apikeys::verify(presented, &row.key_hash)))
}

/// Authenticates a webhook: the key (`X-API-Key` or `Authorization: Bearer`) must be
/// the key of the source named by `X-Calendar-Source`.
///
/// # Errors
/// 400 without `X-Calendar-Source`; 401 for a missing or wrong key (the same answer for
/// both); 404 when the key is valid but the named source does not exist; 403 when the
/// key belongs to another source or the source is disabled.
pub async fn authenticate_source(app: &App, headers: &HeaderMap) -> Result<SourceRow, ApiError> {
    let named = headers
        .get(SOURCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let presented = headers
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
        })
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let refuse = || {
        app.metrics.auth_failure();
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid source key: send X-API-Key: <the source's key>",
        )
    };
    let presented = presented.ok_or_else(refuse)?;
    let owner = source_of_key(app, presented).await?.ok_or_else(refuse)?;
    let Some(named) = named else {
        return Err(
            ApiError::bad_request("send the source id in the X-Calendar-Source header")
                .within("X-Calendar-Source"),
        );
    };
    if owner.id != named {
        app.metrics.auth_failure();
        return Err(if app.db.source(named).await?.is_none() {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_source",
                format!("there is no source {named:?}"),
            )
        } else {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_source",
                format!("this key does not belong to source {named:?}"),
            )
        });
    }
    if owner.enabled == 0 {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "source_disabled",
            format!("source {named:?} is disabled"),
        ));
    }
    Ok(owner)
}

/// A body that does not describe a usable event: 400 when it is not JSON, 422 naming the
/// field otherwise.
fn payload_error(err: PayloadError) -> ApiError {
    match &err {
        PayloadError::Malformed(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", err.to_string()).within("body")
        }
        PayloadError::UnknownTimeZone { field, .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_time_zone",
            err.to_string(),
        )
        .within(field),
        _ => ApiError::invalid(err.field(), err.to_string()),
    }
}

fn accepted(source: &str, request_id: String, event_id: String) -> Response {
    let mut response = (
        StatusCode::ACCEPTED,
        Json(Accepted {
            status: "accepted",
            request_id: request_id.clone(),
            source: source.to_owned(),
            event_id,
        }),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// A Microsoft 365 event change, as Power Automate ("When an event is added, updated or
/// deleted") or a Graph HTTP action posts it. Stored, answered 202, applied by a worker.
#[utoipa::path(post, path = "/api/webhook/event/{action}", tag = "ingest",
    params(
        ("action" = String, Path, description = "`created`, `updated` or `deleted`"),
        ("X-Calendar-Source" = String, Header, description = "the source id"),
        ("X-API-Key" = String, Header, description = "the source's key (or Authorization: Bearer)"),
    ),
    request_body(content = serde_json::Value, description = "Graph event JSON or the Power Automate V3 payload", content_type = "application/json"),
    responses(
        (status = 202, body = Accepted),
        (status = 400, body = ErrorBody, description = "not JSON, or no X-Calendar-Source"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "unknown action or source"),
        (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "a required field missing or unreadable, an unknown time zone"),
    ))]
pub async fn event(
    State(app): State<App>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !matches!(action.as_str(), "created" | "updated" | "deleted") {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "the action must be created, updated or deleted",
        ));
    }
    let source = authenticate_source(&app, &headers).await?;
    // A flow may post every change to one route: its own actionType says what happened.
    let action = if action != "deleted" && says_deleted(&body) {
        "deleted".to_owned()
    } else {
        action
    };
    let event_id = if action == "deleted" {
        payload::parse_deleted(&body).map_err(payload_error)?.id
    } else {
        payload::parse(&body).map_err(payload_error)?.id
    };
    let request_id = request_id();
    app.db
        .enqueue_inbox(&request_id, &source.id, &action, &event_id, &body)
        .await?;
    app.metrics.webhook_received();
    app.ingest.wake.notify_one();
    Ok(accepted(&source.id, request_id, event_id))
}

/// Whether a Power Automate body says `actionType: deleted` (V3) or `ActionType` /
/// `IsDeleted` (V2).
fn says_deleted(body: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return false;
    };
    map.iter()
        .any(|(key, value)| match key.to_ascii_lowercase().as_str() {
            "actiontype" => value
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case("deleted")),
            "isdeleted" => value.as_bool() == Some(true),
            _ => false,
        })
}

/// The query of a Graph notification request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct GraphQuery {
    /// Sent once when the subscription is created: echoed back as text.
    #[serde(rename = "validationToken")]
    pub validation_token: Option<String>,
}

/// A Graph change notification item (only the fields calport reads).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    client_state: Option<String>,
    change_type: Option<String>,
    resource: Option<String>,
    resource_data: Option<serde_json::Value>,
    lifecycle_event: Option<String>,
}

/// Microsoft Graph change notifications for a source: answers the `validationToken`
/// handshake, checks every item's `clientState` (constant time) and stores the valid
/// ones in the inbox.
#[utoipa::path(post, path = "/api/webhook/graph/{source}", tag = "ingest",
    params(("source" = String, Path, description = "the source id"), GraphQuery),
    request_body(content = serde_json::Value, description = "`{\"value\": [notification, …]}`", content_type = "application/json"),
    responses(
        (status = 200, description = "the validation token, as text/plain", content_type = "text/plain"),
        (status = 202, body = Accepted),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    ))]
pub async fn graph(
    State(app): State<App>,
    Path(source_id): Path<String>,
    Query(query): Query<GraphQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if let Some(token) = query.validation_token {
        if token.len() > MAX_VALIDATION_TOKEN {
            return Err(ApiError::bad_request("validationToken is too long"));
        }
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            token,
        )
            .into_response());
    }
    let refuse = || {
        app.metrics.auth_failure();
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown source or wrong clientState",
        )
    };
    let source = app.db.source(&source_id).await?.ok_or_else(refuse)?;
    let Some(expected) = source.client_state_hash.as_deref() else {
        return Err(refuse());
    };
    #[derive(Deserialize)]
    struct Batch {
        value: Vec<Notification>,
    }
    let batch: Batch = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("not a Graph notification batch: {e}"),
        )
        .within("body")
    })?;
    let mut first = None;
    let mut stored = 0usize;
    for item in &batch.value {
        let valid = item
            .client_state
            .as_deref()
            .is_some_and(|state| calport_secure::apikeys::verify(state, expected));
        if !valid {
            continue;
        }
        let event_id = item
            .resource_data
            .as_ref()
            .and_then(|d| d.get("id"))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .or_else(|| item.lifecycle_event.clone())
            .unwrap_or_default();
        let summary = serde_json::json!({
            "changeType": item.change_type,
            "resource": item.resource,
            "lifecycleEvent": item.lifecycle_event,
            "id": event_id,
        });
        let request_id = request_id();
        app.db
            .enqueue_inbox(
                &request_id,
                &source.id,
                "notification",
                &event_id,
                summary.to_string().as_bytes(),
            )
            .await?;
        stored += 1;
        first.get_or_insert((request_id, event_id));
    }
    let Some((request_id, event_id)) = first else {
        return Err(refuse());
    };
    app.metrics.webhook_received();
    tracing::debug!(source = %source.id, stored, "Graph notifications stored");
    app.ingest.wake.notify_one();
    Ok(accepted(&source.id, request_id, event_id))
}
