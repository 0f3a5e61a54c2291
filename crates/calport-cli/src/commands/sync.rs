//! `calport sync`: run the jobs of a sync file once, or keep running them on their
//! schedules (`--watch`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use calport_dav::{DavConfig, DavStore, RequestStats};
use calport_engine::sync::{Sync, SyncOptions, SyncPairReport, SyncProgress, SyncReport};
use calport_state::StateDb;
use clap::Args;
use serde::Serialize;

use crate::config::{Account, ConfigError, default_state_path};
use crate::sync_config::{ResolvedJob, SyncFile, SyncOptionsFile};

/// Options of `calport sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The sync file (see examples/sync.toml).
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Run only this job (repeatable); default: every enabled job.
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,
    /// Print the plan (what would be created, updated, deleted where, and conflicts);
    /// write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep running each job on its schedule until Ctrl-C.
    #[arg(long, conflicts_with = "dry_run")]
    pub watch: bool,
    /// Let a run delete more than the job's mass_delete_guard allows.
    #[arg(long)]
    pub force_delete: bool,
    /// Print the reports as JSON lines on stdout.
    #[arg(long)]
    pub json: bool,
    /// The local status database (overrides [options] state).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// With --watch: stop after this many job runs (for scripts and tests).
    #[arg(long, value_name = "N", requires = "watch")]
    pub max_runs: Option<u64>,
}

/// The state database of a sync file: `--state`, then `[options] state`, then the
/// default path. A dry run without a database plans from an empty one in memory.
pub async fn open_state(
    flag: Option<&Path>,
    options: &SyncOptionsFile,
    dry_run: bool,
) -> Result<StateDb> {
    let path = flag
        .map(Path::to_path_buf)
        .or_else(|| options.state.clone())
        .unwrap_or_else(default_state_path);
    Ok(if dry_run && !path.exists() {
        StateDb::open_in_memory().await?
    } else {
        StateDb::open(&path).await?
    })
}

/// A DAV store for an account, with the file's timeouts and retries.
///
/// # Errors
/// An unusable URL, naming the account.
pub fn store(options: &SyncOptionsFile, name: &str, account: &Account) -> Result<DavStore> {
    let mut config = DavConfig::new(
        account.url.clone(),
        account.username.clone(),
        account.password.clone(),
    );
    config.concurrency = options.concurrency;
    config.timeout = Duration::from_secs(options.timeout_seconds);
    config.max_retries = options.retries;
    DavStore::new(config).with_context(|| format!("account {name} ({})", account.url))
}

/// One job's report with the HTTP requests each side cost.
#[derive(Debug, Serialize)]
struct JobOutput<'a> {
    #[serde(flatten)]
    report: &'a SyncReport,
    requests: BTreeMap<&'static str, u64>,
    requests_by_method: BTreeMap<&'static str, BTreeMap<String, u64>>,
}

/// Runs one job once and prints its report. Returns whether it ended clean.
///
/// # Errors
/// A side that cannot be used at all, or the state database.
pub async fn run_job(
    options: &SyncFile,
    resolved: &ResolvedJob,
    state: &StateDb,
    engine: SyncOptions,
    json: bool,
    cancel: Arc<AtomicBool>,
) -> Result<bool> {
    let a = store(&options.options, &resolved.a.0, &resolved.a.1)?;
    let b = store(&options.options, &resolved.b.0, &resolved.b.1)?;
    let report = Sync::new(&a, &b, state, &resolved.job, engine)
        .with_progress(Arc::new(LogProgress))
        .with_cancel(cancel)
        .run()
        .await
        .with_context(|| format!("job {}", resolved.job.name))?;
    let (ra, rb) = (a.request_stats(), b.request_stats());
    if json {
        let out = JobOutput {
            report: &report,
            requests: BTreeMap::from([("a", ra.requests), ("b", rb.requests)]),
            requests_by_method: BTreeMap::from([("a", ra.by_method), ("b", rb.by_method)]),
        };
        println!("{}", serde_json::to_string(&out)?);
    } else {
        print_report(&report, &ra, &rb);
    }
    Ok(report.clean())
}

struct LogProgress;

impl SyncProgress for LogProgress {
    fn pair_planned(&self, label: &str, writes: usize) {
        if writes > 0 {
            tracing::info!("{label}: {writes} changes to write");
        }
    }

    fn pair_finished(&self, report: &SyncPairReport) {
        tracing::info!(
            "{} ↔ {}: {} written, {} failed",
            report.a,
            report.b,
            report.stats.writes(),
            report.stats.failed
        );
    }
}

/// At most this many planned changes are listed per pair in the human summary.
const LISTED_CHANGES: usize = 50;

fn print_report(report: &SyncReport, a: &RequestStats, b: &RequestStats) {
    let t = report.totals();
    let mode = if report.dry_run {
        " (dry run: nothing written)"
    } else {
        ""
    };
    println!("job {}{mode}", report.job);
    for line in &report.collections_created {
        println!("  collection: {line}");
    }
    for line in &report.skipped {
        println!("  skipped: {line}");
    }
    for pair in &report.pairs {
        let s = &pair.stats;
        println!(
            "  {} ↔ {} [{}]: A +{} ~{} -{} | B +{} ~{} -{} | unchanged {} conflicts {} skipped {} failed {}",
            pair.a,
            pair.b,
            pair.kind,
            s.created_on_a,
            s.updated_on_a,
            s.deleted_on_a,
            s.created_on_b,
            s.updated_on_b,
            s.deleted_on_b,
            s.unchanged,
            s.conflicts,
            s.skipped,
            s.failed
        );
        if let Some(trip) = &pair.guard {
            println!("    STOPPED by the mass-deletion guard: {trip}");
        }
        for change in pair.changes.iter().take(LISTED_CHANGES) {
            println!(
                "    {:<14} {} ({}) — {}",
                change.action,
                change.summary.as_deref().unwrap_or("(no summary)"),
                change.uid,
                change.why
            );
        }
        if pair.changes.len() > LISTED_CHANGES {
            println!(
                "    … and {} more (--json lists all)",
                pair.changes.len() - LISTED_CHANGES
            );
        }
        for failure in &pair.failures {
            println!(
                "    FAILED {} {}: {}",
                failure.uid.as_deref().unwrap_or(""),
                failure.source_href,
                failure.reason
            );
        }
    }
    println!(
        "  total: written {} (A +{} ~{} -{}, B +{} ~{} -{}), conflicts {}, failed {}; {} + {} requests; {:.2} s{}",
        t.writes(),
        t.created_on_a,
        t.updated_on_a,
        t.deleted_on_a,
        t.created_on_b,
        t.updated_on_b,
        t.deleted_on_b,
        t.conflicts,
        t.failed,
        a.requests,
        b.requests,
        report.seconds,
        if report.cancelled { " (cancelled)" } else { "" }
    );
}

/// Runs the command: 0 when every job ended clean, 2 when something needs attention
/// (failed items, parked conflicts, a guard stop, a cancel).
///
/// # Errors
/// Configuration problems and unusable accounts: exit 1.
pub async fn run(args: SyncArgs) -> Result<ExitCode> {
    let file = SyncFile::load(&args.config)?;
    let jobs = file.resolve(&args.jobs)?;
    if jobs.is_empty() {
        anyhow::bail!("no enabled job in {}", args.config.display());
    }
    if args.watch
        && let Some(job) = jobs.iter().find(|j| j.schedule.is_none())
    {
        return Err(ConfigError::Invalid {
            section: format!("jobs.{}", job.job.name),
            key: "schedule",
            message: "--watch needs a schedule on every job it runs (e.g. \"15m\")".into(),
        }
        .into());
    }
    let state = open_state(args.state.as_deref(), &file.options, args.dry_run).await?;
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = Arc::clone(&cancel);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping at the next item (Ctrl-C again to quit at once)");
                cancel.store(true, Ordering::SeqCst);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }
    let engine = SyncOptions {
        dry_run: args.dry_run,
        force_delete: args.force_delete,
        concurrency: file.options.concurrency,
        batch_size: file.options.batch_size,
        now: None,
    };
    let code = if args.watch {
        watch(&file, &jobs, &state, &engine, &args, &cancel).await?
    } else {
        let mut clean = true;
        for job in &jobs {
            if cancel.load(Ordering::SeqCst) {
                clean = false;
                break;
            }
            clean &= run_job(
                &file,
                job,
                &state,
                engine.clone(),
                args.json,
                Arc::clone(&cancel),
            )
            .await?;
        }
        if clean { 0 } else { 2 }
    };
    state.close().await;
    Ok(ExitCode::from(code))
}

/// Runs every job whenever its schedule says, until Ctrl-C (or `--max-runs`). A job
/// that fails as a whole is reported and tried again at its next time.
async fn watch(
    file: &SyncFile,
    jobs: &[ResolvedJob],
    state: &StateDb,
    engine: &SyncOptions,
    args: &SyncArgs,
    cancel: &Arc<AtomicBool>,
) -> Result<u8> {
    let mut last: Vec<Option<SystemTime>> = vec![None; jobs.len()];
    let mut runs: u64 = 0;
    loop {
        let now = SystemTime::now();
        let due: Vec<SystemTime> = jobs
            .iter()
            .zip(&last)
            .map(|(job, last)| match &job.schedule {
                Some(schedule) if last.is_none() => {
                    // First round: run at once.
                    let _ = schedule;
                    now
                }
                Some(schedule) => schedule.next_after(*last, now),
                None => now + Duration::from_secs(366 * 86_400),
            })
            .collect();
        let Some((index, when)) = due.iter().enumerate().min_by_key(|(_, t)| **t) else {
            return Ok(0);
        };
        let wait = when.duration_since(SystemTime::now()).unwrap_or_default();
        if !wait.is_zero() {
            tracing::info!(
                "next run: job {} in {:.0} s",
                jobs[index].job.name,
                wait.as_secs_f64()
            );
        }
        // Sleep in short steps so that Ctrl-C is noticed promptly.
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            if cancel.load(Ordering::SeqCst) {
                return Ok(0);
            }
            let step = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .min(Duration::from_millis(250));
            tokio::time::sleep(step).await;
        }
        if cancel.load(Ordering::SeqCst) {
            return Ok(0);
        }
        last[index] = Some(SystemTime::now());
        let job = &jobs[index];
        match run_job(
            file,
            job,
            state,
            engine.clone(),
            args.json,
            Arc::clone(cancel),
        )
        .await
        {
            Ok(_) => {}
            Err(err) => eprintln!(
                "job {}: {err:#}; trying again at its next time",
                job.job.name
            ),
        }
        runs += 1;
        if args.max_runs.is_some_and(|max| runs >= max) {
            return Ok(0);
        }
    }
}
