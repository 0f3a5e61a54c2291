//! `calport migrate`: copy every calendar and address book from one server to another.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use calport_dav::{DavConfig, DavStore};
use calport_engine::{MigrateOptions, Migration, Selection};
use calport_state::StateDb;
use clap::Args;

use crate::config::{Account, AccountFile, MigrateFile, default_state_path};
use crate::progress::{BarProgress, LineProgress};
use crate::summary;

/// Options of `calport migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The migration file (see examples/migrate.toml).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Source server URL (instead of, or overriding, [source] url).
    #[arg(long, value_name = "URL")]
    from: Option<String>,
    /// Source user name; the password is read from CALPORT_FROM_PASSWORD.
    #[arg(long, value_name = "USER")]
    from_user: Option<String>,
    /// Destination server URL (instead of, or overriding, [destination] url).
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Destination user name; the password is read from CALPORT_TO_PASSWORD.
    #[arg(long, value_name = "USER")]
    to_user: Option<String>,
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
    /// Parallel requests per server (overrides [options] concurrency).
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
}

fn account(
    file: Option<&AccountFile>,
    section: &'static str,
    url_flag: Option<&str>,
    user_flag: Option<&str>,
    password_var: &str,
) -> Result<Account, crate::config::ConfigError> {
    let mut merged = AccountFile {
        url: file.and_then(|f| f.url.clone()),
        username: file.and_then(|f| f.username.clone()),
        password: file.and_then(|f| f.password.clone()),
        password_env: file.and_then(|f| f.password_env.clone()),
        password_file: file.and_then(|f| f.password_file.clone()),
    };
    if let Some(url) = url_flag {
        merged.url = Some(url.to_owned());
    }
    if let Some(user) = user_flag {
        merged.username = Some(user.to_owned());
    }
    let no_password_given = merged.password.is_none()
        && merged.password_env.is_none()
        && merged.password_file.is_none();
    if no_password_given || (url_flag.is_some() && std::env::var_os(password_var).is_some()) {
        merged.password = None;
        merged.password_file = None;
        merged.password_env = Some(password_var.to_owned());
    }
    merged.resolve(section)
}

/// Runs the command and returns the exit code (0 all arrived, 2 some failed).
///
/// # Errors
/// Fatal problems (configuration, an unusable server, the state database): exit 1.
pub async fn run(args: MigrateArgs, verbose: u8) -> Result<ExitCode> {
    let file = match &args.config {
        Some(path) => MigrateFile::load(path)?,
        None => MigrateFile::default(),
    };
    file.validate_options()?;
    if args.config.is_none() && (args.from.is_none() || args.to.is_none()) {
        anyhow::bail!(
            "nothing to do: give --config FILE, or --from URL --from-user USER --to URL --to-user USER \
             (passwords in CALPORT_FROM_PASSWORD / CALPORT_TO_PASSWORD)"
        );
    }
    let source = account(
        file.source.as_ref(),
        "source",
        args.from.as_deref(),
        args.from_user.as_deref(),
        "CALPORT_FROM_PASSWORD",
    )?;
    let destination = account(
        file.destination.as_ref(),
        "destination",
        args.to.as_deref(),
        args.to_user.as_deref(),
        "CALPORT_TO_PASSWORD",
    )?;
    let options = &file.options;
    let concurrency = args.concurrency.unwrap_or(options.concurrency).clamp(1, 64);

    let make_store = |account: &Account, side: &str| -> Result<DavStore> {
        let mut config = DavConfig::new(
            account.url.clone(),
            account.username.clone(),
            account.password.clone(),
        );
        config.concurrency = concurrency;
        config.timeout = Duration::from_secs(options.timeout_seconds);
        config.max_retries = options.retries;
        DavStore::new(config).with_context(|| format!("{side} ({})", account.url))
    };
    let source_store = make_store(&source, "source")?;
    let destination_store = make_store(&destination, "destination")?;

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
