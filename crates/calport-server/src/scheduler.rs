//! The scheduler: queues a run of every enabled job whose schedule is due. Any number of
//! processes may run it: a job never has two runs in flight (a unique index), and the
//! next time is computed from the job's latest run, which all processes see.

use std::time::{Duration, UNIX_EPOCH};

use calport_engine::schedule::Schedule;
use calport_state::StateError;

use crate::app::App;
use crate::worker::now_ms;

/// Queues the runs that are due now.
///
/// # Errors
/// Database failures.
pub async fn tick(app: &App) -> Result<(), StateError> {
    let now = now_ms();
    for job in app.db.jobs().await? {
        if job.enabled == 0 {
            continue;
        }
        let Some(text) = &job.schedule else { continue };
        let Ok(schedule) = Schedule::parse(text) else {
            continue;
        };
        let last = app.db.job_runs(job.id, 1).await?.into_iter().next();
        if let Some(last) = &last
            && !last.finished()
        {
            continue;
        }
        let at = |ms: i64| UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
        let now_time = at(now);
        let due = match (&schedule, &last) {
            // An interval job that never ran starts at once.
            (Schedule::Every(_), None) => now_time,
            (Schedule::Every(every), Some(last)) => at(last.queued_at) + *every,
            // A cron job runs at the first matching time after its last run (or its
            // creation).
            (Schedule::Cron(cron), last) => {
                let since = at(last.as_ref().map_or(job.created_at, |r| r.queued_at));
                cron.next_after(since)
                    .unwrap_or(now_time + Duration::from_secs(86_400 * 366))
            }
        };
        if due <= now_time + Duration::from_millis(50)
            && let Some(run) = app.db.enqueue_run(job.id, "schedule", false).await?
        {
            tracing::info!(job = %job.name, run = run.id, "scheduled run queued");
        }
    }
    Ok(())
}
