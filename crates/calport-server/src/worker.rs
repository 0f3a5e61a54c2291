//! The worker: claims queued runs with a lease, executes them with the sync engine,
//! renews the lease while it works (and learns of pause/cancel requests that way), and
//! records the outcome. Also runs the scheduler and the webhook dispatcher.
//!
//! A run whose worker dies keeps its lease until it expires; then any worker claims it
//! and runs the job again from its sync status, which converges without duplicates.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use calport_core::Store;
use calport_dav::{DavConfig, DavStore};
use calport_engine::sync::{Sync, SyncOptions};
use calport_engine::{MigrateOptions, Migration};
use calport_state::{AccountRow, RunRow};
use tokio::sync::watch;

use crate::app::App;
use crate::jobspec::{JobInput, JobKind};
use crate::progress::{RunStats, Tracker};
use crate::{scheduler, webhooks};

/// How long a stopping worker waits for its runs to reach an item boundary.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// A worker's identity: host, process and start time.
pub fn worker_id() -> String {
    let host = hostname();
    format!("{host}:{}:{}", std::process::id(), now_ms())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Runs the worker loop until `shutdown` turns true: claims runs up to the configured
/// parallelism, queues scheduled runs and delivers webhooks.
pub async fn run(app: App, id: String, mut shutdown: watch::Receiver<bool>) {
    let running = Arc::new(AtomicUsize::new(0));
    let parallel = app.config.worker.parallel_runs;
    let poll = Duration::from_secs(app.config.worker.poll_seconds);
    tracing::info!(worker = %id, parallel, "worker started");
    let inbox = tokio::spawn(crate::ingest::apply::run(
        app.clone(),
        id.clone(),
        shutdown.clone(),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        if let Err(err) = app
            .db
            .worker_heartbeat(
                &id,
                &hostname(),
                i64::from(std::process::id()),
                running.load(Ordering::SeqCst) as i64,
            )
            .await
        {
            tracing::warn!(error = %err, "worker heartbeat failed");
        }
        if let Err(err) = scheduler::tick(&app).await {
            tracing::warn!(error = %err, "scheduler failed");
        }
        webhooks::dispatch_due(&app).await;
        // Claim as many runs as there are free slots.
        while running.load(Ordering::SeqCst) < parallel {
            let lease_until = now_ms() + app.config.worker.lease_seconds as i64 * 1000;
            match app.db.claim_run(&id, lease_until).await {
                Ok(Some(run)) => {
                    running.fetch_add(1, Ordering::SeqCst);
                    let (app, id, running) = (app.clone(), id.clone(), Arc::clone(&running));
                    let stop = shutdown.clone();
                    tasks.spawn(async move {
                        execute(&app, &id, run, stop).await;
                        running.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                Ok(None) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot claim runs");
                    break;
                }
            }
        }
        while tasks.try_join_next().is_some() {}
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => {}
        }
    }
    // Running runs stop at their next item boundary and are handed back to the queue;
    // what does not stop in time is dropped, and its lease expires.
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while !tasks.is_empty() {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                tracing::warn!("runs did not stop in time; their leases will expire");
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
        }
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, inbox).await.is_err() {
        tracing::warn!("the inbox applier did not stop in time; its leases will expire");
    }
    let _ = app.db.remove_worker(&id).await;
    tracing::info!(worker = %id, "worker stopped");
}

/// A DAV store for an account, with the service's remote settings.
///
/// # Errors
/// A stored password that cannot be decrypted, an unusable URL.
pub fn store_for(app: &App, account: &AccountRow) -> Result<DavStore, String> {
    let password = match &account.secret {
        Some(sealed) => app.open_password(sealed).map_err(|_| {
            format!(
                "the password of account {} cannot be decrypted (another secret key?)",
                account.name
            )
        })?,
        None => String::new(),
    };
    let url = url::Url::parse(&account.url)
        .map_err(|e| format!("account {}: bad URL: {e}", account.name))?;
    let mut config = DavConfig::new(url, account.username.clone(), password);
    config.concurrency = app.config.remote.concurrency;
    config.timeout = Duration::from_secs(app.config.remote.timeout_seconds);
    config.max_retries = app.config.remote.retries;
    DavStore::new(config).map_err(|e| format!("account {}: {e}", account.name))
}

/// How a run ended, as stored.
struct Ending {
    state: &'static str,
    stats: Option<RunStats>,
    report: Option<String>,
    error: Option<String>,
}

/// Executes one claimed run to its end (or until paused, cancelled or the lease is lost).
async fn execute(app: &App, worker: &str, run: RunRow, mut shutdown: watch::Receiver<bool>) {
    let (log_tx, mut log_rx) = tokio::sync::mpsc::unbounded_channel();
    let tracker = Arc::new(Tracker::new(log_tx));
    let db = app.db.clone();
    let run_id = run.id;
    let logger = tokio::spawn(async move {
        while let Some((level, message)) = log_rx.recv().await {
            if let Err(err) = db.add_run_log(run_id, level, &message).await {
                tracing::warn!(error = %err, "cannot store a run log line");
            }
        }
    });
    if run.attempts > 1 {
        tracker.log(
            "warn",
            format!("resumed by worker {worker} (attempt {})", run.attempts),
        );
    } else {
        tracker.log("info", format!("started by worker {worker}"));
    }

    let cancel = Arc::new(AtomicBool::new(false));
    let lost = Arc::new(AtomicBool::new(false));
    let control = Arc::new(std::sync::Mutex::new(None::<String>));
    let heartbeat = {
        let (app, worker, tracker) = (app.clone(), worker.to_owned(), Arc::clone(&tracker));
        let (cancel, lost, control) =
            (Arc::clone(&cancel), Arc::clone(&lost), Arc::clone(&control));
        let every = Duration::from_millis((app.config.worker.lease_seconds * 1000 / 3).max(200));
        let period = Duration::from_millis(500).min(every);
        tokio::spawn(async move {
            let mut last_renewal = std::time::Instant::now();
            loop {
                tokio::time::sleep(period).await;
                // Progress goes out every half second; the lease is renewed with it.
                let progress = serde_json::to_string(&tracker.snapshot()).ok();
                let lease_until = now_ms() + app.config.worker.lease_seconds as i64 * 1000;
                match app
                    .db
                    .renew_lease(run_id, &worker, lease_until, progress.as_deref())
                    .await
                {
                    Ok(Some(asked)) => {
                        last_renewal = std::time::Instant::now();
                        if let Some(asked) = asked {
                            *control
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(asked);
                            cancel.store(true, Ordering::SeqCst);
                        }
                    }
                    Ok(None) => {
                        lost.store(true, Ordering::SeqCst);
                        cancel.store(true, Ordering::SeqCst);
                        break;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot renew a run's lease");
                        if last_renewal.elapsed() > every * 2 {
                            // The lease may be gone: stop writing before another worker starts.
                            lost.store(true, Ordering::SeqCst);
                            cancel.store(true, Ordering::SeqCst);
                            break;
                        }
                    }
                }
            }
        })
    };

    // Stats of the part before a pause, to add to this part's.
    let before_pause: Option<RunStats> = run
        .stats
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok());
    // A stopping worker hands the run back instead of finishing it.
    let stopping = Arc::new(AtomicBool::new(false));
    let stop_watch = {
        let (cancel, stopping) = (Arc::clone(&cancel), Arc::clone(&stopping));
        tokio::spawn(async move {
            if shutdown.wait_for(|s| *s).await.is_ok() {
                stopping.store(true, Ordering::SeqCst);
                cancel.store(true, Ordering::SeqCst);
            }
        })
    };
    let mut ending = run_job(app, &run, Arc::clone(&tracker), Arc::clone(&cancel)).await;
    stop_watch.abort();
    ending.stats = match (ending.stats.take(), before_pause) {
        (Some(after), Some(before)) => Some(after.after_pause(&before)),
        (after, before) => after.or(before),
    };
    heartbeat.abort();
    let asked = control
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let ending = match (lost.load(Ordering::SeqCst), asked.as_deref()) {
        (true, _) => None,
        (false, _) if stopping.load(Ordering::SeqCst) => Some(Ending {
            state: "queued",
            ..ending
        }),
        (false, Some("pause")) => Some(Ending {
            state: "paused",
            ..ending
        }),
        (false, Some("cancel")) => Some(Ending {
            state: "cancelled",
            ..ending
        }),
        _ => Some(ending),
    };
    let Some(ending) = ending else {
        tracker.log(
            "warn",
            "this worker lost the run's lease; another worker continues it",
        );
        drop(tracker);
        let _ = logger.await;
        return;
    };
    let unfinished = matches!(ending.state, "paused" | "queued");
    if !unfinished {
        tracker.finish();
    }
    let stats_json = ending
        .stats
        .as_ref()
        .and_then(|s| serde_json::to_string(s).ok());
    let progress_json = serde_json::to_string(&tracker.snapshot()).ok();
    tracker.log(
        if ending.state == "failed" {
            "error"
        } else {
            "info"
        },
        match &ending.error {
            Some(e) => format!("run {}: {e}", ending.state),
            None => format!("run {}", ending.state),
        },
    );
    let _ = app
        .db
        .renew_lease(run_id, worker, now_ms() + 5000, progress_json.as_deref())
        .await;
    match app
        .db
        .finish_run(
            run_id,
            worker,
            ending.state,
            stats_json.as_deref(),
            ending.report.as_deref(),
            ending.error.as_deref(),
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            run = run_id,
            "the run's lease was lost before it could be recorded"
        ),
        Err(err) => tracing::error!(run = run_id, error = %err, "cannot record the end of a run"),
    }
    app.metrics.run_finished(ending.state);
    if let Some(stats) = &ending.stats {
        for (outcome, n) in stats.outcomes() {
            app.metrics.items(outcome, n);
        }
    }
    drop(tracker);
    let _ = logger.await;
    if !unfinished && let Err(err) = webhooks::enqueue_for_run(app, run_id).await {
        tracing::warn!(run = run_id, error = %err, "cannot queue the run's webhooks");
    }
}

fn failed(error: String) -> Ending {
    Ending {
        state: "failed",
        stats: None,
        report: None,
        error: Some(error),
    }
}

async fn run_job(
    app: &App,
    run: &RunRow,
    tracker: Arc<Tracker>,
    cancel: Arc<AtomicBool>,
) -> Ending {
    let job = match app.db.job(run.job_id).await {
        Ok(Some(job)) => job,
        Ok(None) => return failed("the job was deleted".into()),
        Err(e) => return failed(e.to_string()),
    };
    let input: JobInput = match serde_json::from_str(&job.spec) {
        Ok(input) => input,
        Err(e) => return failed(format!("the stored job cannot be read: {e}")),
    };
    let accounts = match (
        app.db.account(job.a_account).await,
        app.db.account(job.b_account).await,
    ) {
        (Ok(Some(a)), Ok(Some(b))) => (a, b),
        (Err(e), _) | (_, Err(e)) => return failed(e.to_string()),
        _ => return failed("an account of the job was deleted".into()),
    };
    let (a, b) = match (store_for(app, &accounts.0), store_for(app, &accounts.1)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return failed(e),
    };
    let dry_run = run.dry_run != 0 || input.options.dry_run;
    let ending = match input.kind {
        JobKind::Sync => {
            let mut sync_job = input.sync_job();
            // The status is keyed by the job's id, so renaming a job keeps it.
            sync_job.name = format!("job-{}", job.id);
            let options = SyncOptions {
                dry_run,
                force_delete: false,
                concurrency: app.config.remote.concurrency,
                batch_size: 100,
                now: None,
            };
            let result = Sync::new(&a, &b, &app.db, &sync_job, options)
                .with_progress(tracker.clone())
                .with_cancel(Arc::clone(&cancel))
                .run()
                .await;
            match result {
                Ok(report) => Ending {
                    state: if report.clean() {
                        "completed"
                    } else {
                        "partial_failure"
                    },
                    stats: Some(RunStats::from_sync(&report)),
                    report: serde_json::to_string(&report).ok(),
                    error: None,
                },
                Err(e) => failed(e.to_string()),
            }
        }
        JobKind::Migrate => {
            let o = &input.options;
            let options = MigrateOptions {
                job_key: format!("job-{}", job.id),
                selection: input.sync_job().selection,
                create_collections: o.create_collections,
                dry_run,
                concurrency: app.config.remote.concurrency,
                batch_size: 200,
                schedule_agent_client: o.suppress_invitations,
                verify: o.verify,
            };
            let result = Migration::new(&a, &b, &app.db, options)
                .with_progress(tracker.clone())
                .with_cancel(Arc::clone(&cancel))
                .run()
                .await;
            match result {
                Ok(report) => Ending {
                    state: if report.all_arrived() {
                        "completed"
                    } else {
                        "partial_failure"
                    },
                    stats: Some(RunStats::from_migration(&report)),
                    report: serde_json::to_string(&report).ok(),
                    error: None,
                },
                Err(e) => failed(e.to_string()),
            }
        }
    };
    for store in [&a, &b] {
        let stats = store.request_stats();
        for (class, n) in &stats.by_status_class {
            app.metrics.remote_requests(class, *n);
        }
        app.metrics
            .remote_requests("transport_error", stats.transport_errors);
    }
    let _ = (a.describe(), b.describe());
    ending
}
