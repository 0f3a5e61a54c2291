//! `calport migrate`: copy every calendar and address book from one server to another.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use calport_engine::{MigrateOptions, Migration, Selection};
use calport_state::StateDb;
use clap::Args;

use super::accounts::{AccountArgs, Sides};
use crate::config::default_state_path;
use crate::progress::{BarProgress, LineProgress};
use crate::summary;

/// Options of `calport migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    accounts: AccountArgs,
    /// The local status database (SQLite) that makes re-runs incremental.
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
    /// Show what would be done; write nothing anywhere.
    #[arg(long)]
    dry_run: bool,
    /// Print a machine-readable summary (JSON) on stdout.
    #[arg(long)]
    json: bool,
    /// Skip the read-back verification of written items ([options] verify = false).
    #[arg(long)]
    no_verify: bool,
}

/// Runs the command and returns the exit code (0 all arrived, 2 some failed).
///
/// # Errors
/// Fatal problems (configuration, an unusable server, the state database): exit 1.
pub async fn run(args: MigrateArgs, verbose: u8) -> Result<ExitCode> {
    let sides = Sides::resolve(&args.accounts)?;
    let (source, destination, options) = (&sides.source, &sides.destination, &sides.file.options);
    let concurrency = sides.concurrency;
    let source_store = sides.store(source, "source")?;
    let destination_store = sides.store(destination, "destination")?;

    let state_path = args
        .state
        .clone()
        .or_else(|| options.state.clone())
        .unwrap_or_else(default_state_path);
    let state = if args.dry_run && !state_path.exists() {
        StateDb::open_in_memory().await?
    } else {
        StateDb::open(&state_path).await?
    };

    let job_key = format!(
        "migrate|{}|{}|{}|{}",
        source.url, source.username, destination.url, destination.username
    );
    let engine_options = MigrateOptions {
        job_key,
        selection: Selection {
            calendars: options.calendars,
            tasks: options.tasks,
            contacts: options.contacts,
        },
        create_collections: options.create_collections,
        dry_run: args.dry_run,
        concurrency,
        batch_size: options.batch_size,
        schedule_agent_client: options.suppress_invitations,
        verify: options.verify && !args.no_verify,
    };

    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "\nstopping after the items in flight; run the same command again to resume"
                );
                cancel.store(true, Ordering::SeqCst);
            }
        });
    }

    let interactive = std::io::stderr().is_terminal() && !args.json && verbose == 0;
    let progress: Arc<dyn calport_engine::Progress> = if interactive {
        Arc::new(BarProgress::new())
    } else {
        Arc::new(LineProgress::new())
    };
    if !args.json {
        eprintln!(
            "{} {} ({}) → {} ({}){}",
            if args.dry_run {
                "planning"
            } else {
                "migrating"
            },
            source.url,
            source.username,
            destination.url,
            destination.username,
            if args.dry_run {
                " — dry run, nothing will be written"
            } else {
                ""
            }
        );
    }
    let migration = Migration::new(&source_store, &destination_store, &state, engine_options)
        .with_progress(progress.clone())
        .with_cancel(cancel.clone());
    let result = migration.run().await;
    state.close().await;
    let report = result?;

    let requests = summary::Requests {
        source: source_store.request_stats(),
        destination: destination_store.request_stats(),
    };
    if args.json {
        println!("{}", summary::json(&report, &requests, &state_path)?);
    } else {
        print!("{}", summary::table(&report));
        eprintln!(
            "requests: source {} ({}), destination {} ({}); state: {}",
            requests.source.requests,
            summary::methods(&requests.source),
            requests.destination.requests,
            summary::methods(&requests.destination),
            state_path.display()
        );
    }
    Ok(if report.all_arrived() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
