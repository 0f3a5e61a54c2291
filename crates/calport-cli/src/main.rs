//! `calport`: move and mirror calendars and address books between servers.
//!
//! Results go to stdout, logs and progress to stderr. Exit codes: 0 everything arrived,
//! 2 some items failed (listed in the summary), 1 a fatal error (nothing more was done).

mod commands;
mod config;
mod progress;
mod summary;
mod sync_config;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Move and mirror calendars (CalDAV) and address books (CardDAV) between servers.
#[derive(Debug, Parser)]
#[command(name = "calport", version, about, long_about = None)]
struct Cli {
    /// More detail on stderr (-v: info, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Copy every calendar, task list and address book from one server to another.
    ///
    /// Collections are paired by display name, then by path segment; missing ones are
    /// created. Items keep their bytes and UIDs. Running it again transfers only what
    /// changed on the source and never duplicates; an interrupted run resumes.
    Migrate(commands::migrate::MigrateArgs),
    /// Preflight (read-only): connect to both sides, name the servers and what they can
    /// do, count the items of every collection, preview the mapping and list known risks.
    Check(commands::check::CheckArgs),
    /// Keep two accounts in step: run the jobs of a sync file once, or on their schedules
    /// with --watch.
    ///
    /// Each job pairs collections of account A and B and syncs them one-way or both ways,
    /// with conflict and deletion policies, an optional time window and a mass-deletion
    /// guard. Only what changed since the last run is fetched and written.
    Sync(commands::sync::SyncArgs),
    /// List parked conflicts (both versions) and resolve them.
    Conflicts(commands::conflicts::ConflictsArgs),
    /// Run the service: REST API on 127.0.0.1:8080, worker and scheduler in-process,
    /// SQLite in the data directory (or PostgreSQL via CALPORT_DATABASE_URL).
    Serve(commands::serve::DataArgs),
    /// Run only a worker (and scheduler) on the shared database, for extra machines.
    Worker(commands::serve::DataArgs),
    /// Create, list or revoke API keys of the service.
    Apikey(commands::serve::ApiKeyArgs),
    /// Print an example calport.toml, or check the configuration.
    Config(commands::serve::ConfigArgs),
}

fn init_logging(verbose: u8, service: bool) {
    let default = match verbose {
        // The service logs what it does at info level by default.
        0 if service => "info,sqlx=warn,hyper=warn",
        0 => "warn",
        1 => "info,calport=info",
        _ => "debug,hyper=info,reqwest=info,sqlx=warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CALPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // CALPORT_LOG_FORMAT=json: one JSON object per line, for log collectors.
    if std::env::var("CALPORT_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let service = matches!(cli.command, Command::Serve(_) | Command::Worker(_));
    init_logging(cli.verbose, service);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Migrate(args) => commands::migrate::run(args, cli.verbose).await,
            Command::Check(args) => commands::check::run(args).await,
            Command::Sync(args) => commands::sync::run(args).await,
            Command::Conflicts(args) => commands::conflicts::run(args).await,
            Command::Serve(args) => commands::serve::serve(args).await,
            Command::Worker(args) => commands::serve::worker(args).await,
            Command::Apikey(args) => commands::serve::apikey(args).await,
            Command::Config(args) => commands::serve::config_command(args),
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
