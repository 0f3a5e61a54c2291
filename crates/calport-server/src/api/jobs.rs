//! `/api/sync-jobs`: jobs, their control (start, pause, resume, cancel) and their runs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use calport_state::{JobFields, JobRow, RunRow, Saved};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::runs::Run;
use crate::app::App;
use crate::error::{ApiError, ApiJson, ApiQuery, ErrorBody};
use crate::jobspec::{JobInput, merge_patch};

/// A job as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Job {
    /// Id.
    pub id: i64,
    /// The job's definition.
    #[serde(flatten)]
    pub spec: JobInput,
    /// The latest run, if any.
    pub last_run: Option<Run>,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

async fn load(app: &App, id: i64) -> Result<JobRow, ApiError> {
    app.db
        .job(id)
        .await?
        .ok_or_else(|| ApiError::not_found("sync job", id))
}

fn spec_of(row: &JobRow) -> Result<JobInput, ApiError> {
    serde_json::from_str(&row.spec).map_err(ApiError::internal)
}

async fn view(app: &App, row: JobRow) -> Result<Job, ApiError> {
    let last_run = app
        .db
        .job_runs(row.id, 1)
        .await?
        .into_iter()
        .next()
        .map(Run::from);
    Ok(Job {
        id: row.id,
        spec: spec_of(&row)?,
        last_run,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

async fn fields(app: &App, input: &JobInput) -> Result<JobFields, ApiError> {
    input.validate()?;
    for (field, id) in [
        ("a_account_id", input.a_account_id),
        ("b_account_id", input.b_account_id),
    ] {
        if app.db.account(id).await?.is_none() {
            return Err(ApiError::invalid(
                field,
                format!("there is no account {id}"),
            ));
        }
    }
    Ok(JobFields {
        name: input.name.trim().to_owned(),
        kind: input.kind.as_str().to_owned(),
        a_account: input.a_account_id,
        b_account: input.b_account_id,
        spec: serde_json::to_string(input).map_err(ApiError::internal)?,
        schedule: input.schedule.clone(),
        enabled: input.enabled,
    })
}

/// Every job with its latest run.
#[utoipa::path(get, path = "/api/sync-jobs", tag = "jobs",
    responses((status = 200, body = Vec<Job>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(State(app): State<App>) -> Result<Json<Vec<Job>>, ApiError> {
    let mut out = Vec::new();
    for row in app.db.jobs().await? {
        out.push(view(&app, row).await?);
    }
    Ok(Json(out))
}

/// Creates a job.
#[utoipa::path(post, path = "/api/sync-jobs", tag = "jobs", request_body = JobInput,
    responses((status = 201, body = Job), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<App>,
    ApiJson(input): ApiJson<JobInput>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    let fields = fields(&app, &input).await?;
    match app.db.create_job(&fields).await? {
        Saved::Ok(row) => Ok((StatusCode::CREATED, Json(view(&app, row).await?))),
        Saved::Duplicate => Err(ApiError::conflict(format!(
            "a job named {:?} exists",
            fields.name
        ))),
    }
}

/// One job.
#[utoipa::path(get, path = "/api/sync-jobs/{id}", tag = "jobs",
    params(("id" = i64, Path, description = "job id")),
    responses((status = 200, body = Job), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Job>, ApiError> {
    let row = load(&app, id).await?;
    Ok(Json(view(&app, row).await?))
}

/// Changes a job (JSON merge patch over its definition).
#[utoipa::path(patch, path = "/api/sync-jobs/{id}", tag = "jobs", request_body = Object,
    params(("id" = i64, Path, description = "job id")),
    responses((status = 200, body = Job), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> Result<Json<Job>, ApiError> {
    let row = load(&app, id).await?;
    if !patch.is_object() {
        return Err(ApiError::invalid(
            "body",
            "a JSON object of the fields to change",
        ));
    }
    let mut current = serde_json::to_value(spec_of(&row)?).map_err(ApiError::internal)?;
    merge_patch(&mut current, &patch);
    let input: JobInput = serde_json::from_value(current).map_err(|e| {
        let message = e.to_string();
        let field = message
            .split_once('`')
            .and_then(|(_, rest)| rest.split_once('`'))
            .map_or("body".to_owned(), |(f, _)| f.to_owned());
        ApiError::invalid(&field, message)
    })?;
    let fields = fields(&app, &input).await?;
    match app.db.update_job(id, &fields).await? {
        Some(Saved::Ok(row)) => Ok(Json(view(&app, row).await?)),
        Some(Saved::Duplicate) => Err(ApiError::conflict(format!(
            "a job named {:?} exists",
            fields.name
        ))),
        None => Err(ApiError::not_found("sync job", id)),
    }
}

/// Deletes a job and its runs (not while a run is in flight).
#[utoipa::path(delete, path = "/api/sync-jobs/{id}", tag = "jobs",
    params(("id" = i64, Path, description = "job id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(State(app): State<App>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    load(&app, id).await?;
    if let Some(run) = app.db.active_run(id).await? {
        return Err(ApiError::conflict(format!(
            "run {} is {}; cancel it first",
            run.id, run.state
        )));
    }
    app.db.delete_job(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Options of a start.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartInput {
    /// Plan and report only.
    #[serde(default)]
    pub dry_run: bool,
}

/// Queues a run now (409 when one is already queued, running or paused).
#[utoipa::path(post, path = "/api/sync-jobs/{id}/start", tag = "jobs", request_body(content = StartInput, description = "optional"),
    params(("id" = i64, Path, description = "job id")),
    responses((status = 202, body = Run), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn start(
    State(app): State<App>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Run>), ApiError> {
    load(&app, id).await?;
    let dry_run = if body.iter().all(u8::is_ascii_whitespace) {
        false
    } else {
        serde_json::from_slice::<StartInput>(&body)
            .map_err(|e| ApiError::invalid("body", e.to_string()))?
            .dry_run
    };
    match app.db.enqueue_run(id, "api", dry_run).await? {
        Some(run) => Ok((StatusCode::ACCEPTED, Json(run.into()))),
        None => {
            let active = app.db.active_run(id).await?;
            Err(ApiError::conflict(match active {
                Some(run) => format!("run {} is already {}", run.id, run.state),
                None => "a run is already in flight".to_owned(),
            }))
        }
    }
}

async fn active(app: &App, id: i64) -> Result<RunRow, ApiError> {
    load(app, id).await?;
    app.db
        .active_run(id)
        .await?
        .ok_or_else(|| ApiError::conflict("the job has no run queued, running or paused"))
}

/// Pauses the job's run at the next item boundary (a queued run is paused at once).
/// The pause survives a restart; resume continues where it stopped.
#[utoipa::path(post, path = "/api/sync-jobs/{id}/pause", tag = "jobs",
    params(("id" = i64, Path, description = "job id")),
    responses((status = 202, body = Run), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn pause(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Run>), ApiError> {
    let run = active(&app, id).await?;
    match run.state.as_str() {
        "queued" => {
            let moved = app.db.transition_run(run.id, "queued", "paused").await?;
            Ok((StatusCode::ACCEPTED, Json(moved.unwrap_or(run).into())))
        }
        "running" => {
            app.db.set_run_control(run.id, Some("pause")).await?;
            let run = app.db.run(run.id).await?.unwrap_or(run);
            Ok((StatusCode::ACCEPTED, Json(run.into())))
        }
        _ => Err(ApiError::conflict(format!(
            "run {} is already paused",
            run.id
        ))),
    }
}

/// Resumes a paused run: it is queued again and continues from the sync status.
#[utoipa::path(post, path = "/api/sync-jobs/{id}/resume", tag = "jobs",
    params(("id" = i64, Path, description = "job id")),
    responses((status = 202, body = Run), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn resume(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Run>), ApiError> {
    let run = active(&app, id).await?;
    match app.db.transition_run(run.id, "paused", "queued").await? {
        Some(run) => Ok((StatusCode::ACCEPTED, Json(run.into()))),
        None => Err(ApiError::conflict(format!(
            "run {} is {}, not paused",
            run.id, run.state
        ))),
    }
}

/// Cancels the job's run (a running one stops at the next item boundary).
#[utoipa::path(post, path = "/api/sync-jobs/{id}/cancel", tag = "jobs",
    params(("id" = i64, Path, description = "job id")),
    responses((status = 202, body = Run), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Run>), ApiError> {
    let run = active(&app, id).await?;
    if run.state == "running" {
        app.db.set_run_control(run.id, Some("cancel")).await?;
        let run = app.db.run(run.id).await?.unwrap_or(run);
        return Ok((StatusCode::ACCEPTED, Json(run.into())));
    }
    let moved = app
        .db
        .transition_run(run.id, &run.state, "cancelled")
        .await?;
    if let Some(moved) = &moved {
        let _ = crate::webhooks::enqueue_for_run(&app, moved.id).await;
    }
    Ok((StatusCode::ACCEPTED, Json(moved.unwrap_or(run).into())))
}

/// Paging of a job's runs.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// At most this many, newest first (1–500, default 50).
    pub limit: Option<i64>,
}

/// A job's runs, newest first.
#[utoipa::path(get, path = "/api/sync-jobs/{id}/runs", tag = "jobs",
    params(("id" = i64, Path, description = "job id"), RunsQuery),
    responses((status = 200, body = Vec<Run>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn runs(
    State(app): State<App>,
    Path(id): Path<i64>,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> Result<Json<Vec<Run>>, ApiError> {
    load(&app, id).await?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 500"));
    }
    Ok(Json(
        app.db
            .job_runs(id, limit)
            .await?
            .into_iter()
            .map(Run::from)
            .collect(),
    ))
}

/// What `POST /api/sync` queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncAll {
    /// Runs queued now.
    pub queued: Vec<Run>,
    /// Jobs skipped because a run was already in flight.
    pub already_running: Vec<i64>,
}

/// Queues a run of every enabled job.
#[utoipa::path(post, path = "/api/sync", tag = "jobs",
    responses((status = 202, body = SyncAll), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn sync_all(State(app): State<App>) -> Result<(StatusCode, Json<SyncAll>), ApiError> {
    let mut out = SyncAll {
        queued: Vec::new(),
        already_running: Vec::new(),
    };
    for job in app.db.jobs().await? {
        if job.enabled == 0 {
            continue;
        }
        match app.db.enqueue_run(job.id, "api", false).await? {
            Some(run) => out.queued.push(run.into()),
            None => out.already_running.push(job.id),
        }
    }
    Ok((StatusCode::ACCEPTED, Json(out)))
}
