//! `/api/runs/{id}`: a run's state, progress and stats, its log, and live events (SSE).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use calport_state::RunRow;
use futures::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::error::{ApiError, ApiQuery, ErrorBody};
use crate::progress::{RunProgress, RunStats};

/// A run as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Run {
    /// Id.
    pub id: i64,
    /// The job.
    pub job_id: i64,
    /// `queued`, `running`, `paused`, `completed`, `partial_failure`, `failed`,
    /// `cancelled`.
    pub state: String,
    /// `api`, `schedule`.
    pub trigger: String,
    /// Whether nothing is written.
    pub dry_run: bool,
    /// `pause` or `cancel` when asked and not yet taken effect.
    pub requested: Option<String>,
    /// Progress.
    pub progress: RunProgress,
    /// Counts by kind (once finished, or paused).
    pub stats: Option<RunStats>,
    /// Why it failed.
    pub error: Option<String>,
    /// The worker executing it.
    pub worker: Option<String>,
    /// How many times a worker took it (more than 1: resumed after a worker died or a
    /// pause).
    pub attempts: i64,
    /// Queued (unix ms).
    pub queued_at: i64,
    /// Started (unix ms).
    pub started_at: Option<i64>,
    /// Finished (unix ms).
    pub finished_at: Option<i64>,
    /// Seconds from start to finish (or to now).
    pub duration_seconds: Option<f64>,
}

impl From<RunRow> for Run {
    fn from(row: RunRow) -> Self {
        let duration_seconds = row.started_at.map(|start| {
            let end = row.finished_at.unwrap_or_else(crate::worker::now_ms);
            (end - start).max(0) as f64 / 1000.0
        });
        Run {
            id: row.id,
            job_id: row.job_id,
            state: row.state.clone(),
            trigger: row.trigger,
            dry_run: row.dry_run != 0,
            requested: row.control,
            progress: row
                .progress
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default(),
            stats: row
                .stats
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok()),
            error: row.error,
            worker: row.lease_owner,
            attempts: row.attempts,
            queued_at: row.queued_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            duration_seconds,
        }
    }
}

async fn load(app: &App, id: i64) -> Result<RunRow, ApiError> {
    app.db
        .run(id)
        .await?
        .ok_or_else(|| ApiError::not_found("run", id))
}

/// One run.
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs",
    params(("id" = i64, Path, description = "run id")),
    responses((status = 200, body = Run), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Run>, ApiError> {
    Ok(Json(load(&app, id).await?.into()))
}

/// The engine's full report of a finished run (per collection pair: counts, planned
/// changes, failures with the server's reason).
#[utoipa::path(get, path = "/api/runs/{id}/report", tag = "runs",
    params(("id" = i64, Path, description = "run id")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn report(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let run = load(&app, id).await?;
    let report = run
        .report
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .ok_or_else(|| ApiError::not_found("report of run", id))?;
    Ok(Json(report))
}

/// Filters of a log page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Lowest level shown: `debug`, `info`, `warn`, `error` (default `debug`: all).
    pub level: Option<String>,
    /// Only lines containing this text (case-insensitive).
    pub q: Option<String>,
    /// Only lines after this line id (for paging and following).
    pub after: Option<i64>,
    /// At most this many lines (1–1000, default 200).
    pub limit: Option<i64>,
}

/// A log line.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogLine {
    /// Id (pass as `after` to get the next page).
    pub id: i64,
    /// When (unix ms).
    pub at: i64,
    /// `debug`, `info`, `warn`, `error`.
    pub level: String,
    /// The line.
    pub message: String,
}

/// A page of a run's log.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogPage {
    /// The lines, oldest first.
    pub lines: Vec<LogLine>,
    /// The `after` value for the next page (`None` when this page is the last for now).
    pub next_after: Option<i64>,
}

fn levels_from(level: Option<&str>) -> Result<Vec<&'static str>, ApiError> {
    let all = ["debug", "info", "warn", "error"];
    match level {
        None => Ok(all.to_vec()),
        Some(l) => match all.iter().position(|x| x.eq_ignore_ascii_case(l)) {
            Some(i) => Ok(all[i..].to_vec()),
            None => Err(ApiError::invalid(
                "level",
                "must be debug, info, warn or error",
            )),
        },
    }
}

/// A run's log, paginated.
#[utoipa::path(get, path = "/api/runs/{id}/logs", tag = "runs",
    params(("id" = i64, Path, description = "run id"), LogQuery),
    responses((status = 200, body = LogPage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn logs(
    State(app): State<App>,
    Path(id): Path<i64>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<LogPage>, ApiError> {
    load(&app, id).await?;
    let levels = levels_from(query.level.as_deref())?;
    let limit = query.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let rows = app
        .db
        .run_logs(
            id,
            query.after.unwrap_or(0),
            &levels,
            query.q.as_deref(),
            limit,
        )
        .await?;
    let next_after = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(Json(LogPage {
        lines: rows
            .into_iter()
            .map(|r| LogLine {
                id: r.id,
                at: r.at,
                level: r.level,
                message: r.message,
            })
            .collect(),
        next_after,
    }))
}

/// How long one event stream stays open at most.
const STREAM_LIMIT: Duration = Duration::from_secs(3600);
/// How often the stream looks for news.
const STREAM_POLL: Duration = Duration::from_millis(400);

/// Live events of a run as Server-Sent Events: `run` (state, progress, stats) whenever
/// it changes, `log` for each new log line, and a final `end` when the run is over. Works
/// whichever process executes the run (it follows the database).
#[utoipa::path(get, path = "/api/runs/{id}/events", tag = "runs",
    params(("id" = i64, Path, description = "run id")),
    responses((status = 200, description = "text/event-stream"), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    load(&app, id).await?;
    let stream = async_stream(app, id);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn async_stream(app: App, id: i64) -> impl Stream<Item = Result<Event, Infallible>> {
    struct Cursor {
        app: App,
        id: i64,
        last_update: i64,
        after: i64,
        started: tokio::time::Instant,
        done: bool,
        queue: std::collections::VecDeque<Event>,
    }
    let cursor = Cursor {
        app,
        id,
        last_update: -1,
        after: 0,
        started: tokio::time::Instant::now(),
        done: false,
        queue: std::collections::VecDeque::new(),
    };
    futures::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(event) = c.queue.pop_front() {
                return Some((Ok(event), c));
            }
            if c.done || c.started.elapsed() > STREAM_LIMIT {
                return None;
            }
            let Ok(Some(run)) = c.app.db.run(c.id).await else {
                return None;
            };
            if let Ok(lines) = c.app.db.run_logs(c.id, c.after, &[], None, 500).await {
                for line in lines {
                    c.after = line.id;
                    let data = serde_json::json!({
                        "id": line.id, "at": line.at, "level": line.level, "message": line.message
                    });
                    c.queue.push_back(
                        Event::default()
                            .event("log")
                            .id(line.id.to_string())
                            .data(data.to_string()),
                    );
                }
            }
            if run.updated_at != c.last_update {
                c.last_update = run.updated_at;
                let finished = run.finished();
                let view = Run::from(run);
                if let Ok(data) = serde_json::to_string(&view) {
                    c.queue.push_back(Event::default().event("run").data(data));
                }
                if finished {
                    c.queue
                        .push_back(Event::default().event("end").data(view.state));
                    c.done = true;
                }
            }
            if c.queue.is_empty() {
                tokio::time::sleep(STREAM_POLL).await;
            }
        }
    })
}
