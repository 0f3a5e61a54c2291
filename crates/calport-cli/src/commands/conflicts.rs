//! `calport conflicts`: list parked conflicts with both versions, and resolve them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Result, bail};
use calport_engine::sync::{Keep, SyncOptions};
use calport_state::{ConflictRecord, ConflictSide};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::sync::{open_state, run_job};
use crate::sync_config::SyncFile;

/// Options of `calport conflicts`.
#[derive(Debug, Args)]
pub struct ConflictsArgs {
    #[command(subcommand)]
    command: ConflictsCommand,
}

#[derive(Debug, Subcommand)]
enum ConflictsCommand {
    /// List parked conflicts with both versions.
    List(ListArgs),
    /// Choose which version wins, then run the conflict's job once to apply it.
    Resolve(ResolveArgs),
}

#[derive(Debug, Args)]
struct Common {
    /// The sync file (see examples/sync.toml).
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// The local status database (overrides [options] state).
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    common: Common,
    /// Only this job's conflicts.
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    /// Print every conflict as JSON (bodies included).
    #[arg(long)]
    json: bool,
    /// Print both versions in full.
    #[arg(long)]
    full: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum KeepArg {
    /// Side A's version goes to both sides.
    A,
    /// Side B's version goes to both sides.
    B,
    /// Keep both: the newer keeps the UID, the other becomes a new item on both sides.
    Both,
}

#[derive(Debug, Args)]
struct ResolveArgs {
    #[command(flatten)]
    common: Common,
    /// The conflict's id (from `calport conflicts list`).
    id: i64,
    /// Which version to keep.
    #[arg(long, value_enum)]
    keep: KeepArg,
    /// Only record the choice; the job's next run applies it.
    #[arg(long)]
    no_run: bool,
}

#[derive(Serialize)]
struct SideOut {
    href: String,
    etag: Option<String>,
    summary: Option<String>,
    last_modified: Option<String>,
    body: String,
}

#[derive(Serialize)]
struct ConflictOut {
    id: i64,
    job: String,
    a_collection: String,
    b_collection: String,
    uid: String,
    kind: String,
    reason: String,
    a: Option<SideOut>,
    b: Option<SideOut>,
    differences: Vec<String>,
    base_a_hash: Option<String>,
    base_b_hash: Option<String>,
    resolution: Option<String>,
}

fn side_out(side: &Option<ConflictSide>) -> Option<SideOut> {
    side.as_ref().map(|s| {
        let meta = calport_ical::inspect(&s.body).ok();
        let summary = calport_ical::parse(&s.body).ok().and_then(|doc| {
            let first = doc.item_components().into_iter().next()?;
            let p = first.property("SUMMARY").or_else(|| first.property("FN"))?;
            Some(calport_ical::unescape_text(&p.value))
        });
        SideOut {
            href: s.href.to_string(),
            etag: s.etag.as_ref().map(|e| e.to_string()),
            summary,
            last_modified: meta.and_then(|m| m.last_modified),
            body: String::from_utf8_lossy(&s.body).into_owned(),
        }
    })
}

fn describe(c: &ConflictRecord) -> ConflictOut {
    let differences = match (&c.a, &c.b) {
        (Some(a), Some(b)) => {
            calport_ical::compare(&a.body, &b.body, &calport_ical::Tolerance::default())
                .map(|d| d.iter().map(ToString::to_string).collect())
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    ConflictOut {
        id: c.id,
        job: c.job.clone(),
        a_collection: c.a_collection.clone(),
        b_collection: c.b_collection.clone(),
        uid: c.uid.clone(),
        kind: c.kind.clone(),
        reason: c.reason.clone(),
        a: side_out(&c.a),
        b: side_out(&c.b),
        differences,
        base_a_hash: c.base_a_hash.clone(),
        base_b_hash: c.base_b_hash.clone(),
        resolution: c.resolution.clone(),
    }
}

/// Runs the command.
///
/// # Errors
/// Configuration and database problems; an unknown conflict id.
pub async fn run(args: ConflictsArgs) -> Result<ExitCode> {
    match args.command {
        ConflictsCommand::List(list) => {
            let file = SyncFile::load(&list.common.config)?;
            let state = open_state(list.common.state.as_deref(), &file.options, false).await?;
            let conflicts = state.conflicts(list.job.as_deref()).await?;
            if list.json {
                let out: Vec<ConflictOut> = conflicts.iter().map(describe).collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else if conflicts.is_empty() {
                println!("no parked conflicts");
            } else {
                for c in &conflicts {
                    print_conflict(&describe(c), list.full);
                }
                println!(
                    "resolve with: calport conflicts resolve ID --keep a|b|both --config {}",
                    list.common.config.display()
                );
            }
            state.close().await;
            Ok(ExitCode::SUCCESS)
        }
        ConflictsCommand::Resolve(resolve) => {
            let file = SyncFile::load(&resolve.common.config)?;
            let state = open_state(resolve.common.state.as_deref(), &file.options, false).await?;
            let Some(conflict) = state.conflict(resolve.id).await? else {
                bail!(
                    "there is no parked conflict {} (see calport conflicts list)",
                    resolve.id
                );
            };
            let keep = match resolve.keep {
                KeepArg::A => Keep::A,
                KeepArg::B => Keep::B,
                KeepArg::Both => Keep::Both,
            };
            state.resolve_conflict(resolve.id, keep.as_str()).await?;
            println!(
                "conflict {} ({}): keeping {}",
                resolve.id,
                conflict.uid,
                keep.as_str()
            );
            if resolve.no_run {
                state.close().await;
                return Ok(ExitCode::SUCCESS);
            }
            let jobs = file.resolve(std::slice::from_ref(&conflict.job))?;
            let mut clean = true;
            for job in &jobs {
                clean &= run_job(
                    &file,
                    job,
                    &state,
                    SyncOptions {
                        concurrency: file.options.concurrency,
                        batch_size: file.options.batch_size,
                        ..SyncOptions::default()
                    },
                    false,
                    Arc::new(AtomicBool::new(false)),
                )
                .await?;
            }
            let still = state.conflict(resolve.id).await?;
            state.close().await;
            if still.is_some() {
                eprintln!(
                    "the conflict is still parked: one side changed again since it was listed; list it again and choose"
                );
                return Ok(ExitCode::from(2));
            }
            Ok(ExitCode::from(if clean { 0 } else { 2 }))
        }
    }
}

fn print_conflict(c: &ConflictOut, full: bool) {
    println!(
        "#{} job {} — {} ↔ {} — {} {} — {}",
        c.id, c.job, c.a_collection, c.b_collection, c.kind, c.uid, c.reason
    );
    for (name, side) in [("A", &c.a), ("B", &c.b)] {
        match side {
            Some(s) => println!(
                "  {name}: {} (last modified {}) at {}",
                s.summary.as_deref().unwrap_or("(no summary)"),
                s.last_modified.as_deref().unwrap_or("unknown"),
                s.href
            ),
            None => println!("  {name}: deleted"),
        }
    }
    for d in &c.differences {
        println!("    differs: {d}");
    }
    if let Some(r) = &c.resolution {
        println!("  chosen: keep {r} (applied by the next run)");
    }
    if full {
        for (name, side) in [("A", &c.a), ("B", &c.b)] {
            if let Some(s) = side {
                println!("  --- {name} ---\n{}", s.body.trim_end());
            }
        }
    }
}
