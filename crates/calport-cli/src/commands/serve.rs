//! `calport serve`, `calport worker`, `calport apikey` and `calport config`: the service.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use calport_server::{App, Config};
use clap::{Args, Subcommand};
use tokio::sync::watch;

/// Where the service keeps its data.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// The data directory: SQLite database, secret key, calport.toml.
    #[arg(
        long,
        env = "CALPORT_DATA_DIR",
        default_value = "data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
}

fn config(data: &DataArgs) -> Result<Config> {
    Ok(Config::load(&data.data_dir, std::env::vars())?)
}

async fn app(data: &DataArgs) -> Result<App> {
    calport_server::open(config(data)?).await
}

/// A watch channel that turns true on Ctrl-C or SIGTERM.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async {
                    match term.as_mut() {
                        Some(t) => { t.recv().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("calport: shutting down");
        let _ = tx.send(true);
    });
    rx
}

/// `calport serve`.
pub async fn serve(data: DataArgs) -> Result<ExitCode> {
    let app = app(&data).await?;
    calport_server::serve(app, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// `calport worker`.
pub async fn worker(data: DataArgs) -> Result<ExitCode> {
    let app = app(&data).await?;
    eprintln!("calport worker: executing runs from {}", app.db.backend());
    calport_server::work(app, shutdown_signal()).await;
    Ok(ExitCode::SUCCESS)
}

/// `calport apikey …`.
#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(subcommand)]
    command: ApiKeyCommand,
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create a key; it is printed once (only its hash is stored).
    Create {
        /// A name to recognise it by.
        #[arg(long)]
        name: String,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by id.
    Revoke {
        /// The key's id (from `list`).
        id: i64,
    },
}

/// Runs `calport apikey`.
pub async fn apikey(args: ApiKeyArgs) -> Result<ExitCode> {
    let app = app(&args.data).await?;
    match args.command {
        ApiKeyCommand::Create { name } => {
            let name = name.trim();
            anyhow::ensure!(!name.is_empty(), "--name must not be empty");
            let created = calport_server::api::system::new_key(&app, name)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            eprintln!(
                "API key {} ({}) created; it is shown this once:",
                created.record.id, created.record.name
            );
            println!("{}", created.key);
        }
        ApiKeyCommand::List => {
            for key in app.db.api_keys().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    key.id,
                    key.name,
                    key.lookup_id,
                    if key.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            anyhow::ensure!(app.db.revoke_api_key(id).await?, "there is no API key {id}");
            eprintln!("API key {id} revoked");
        }
    }
    app.db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `calport config …`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print a documented example calport.toml.
    Example,
    /// Check the configuration (file and environment) and print it.
    Check(DataArgs),
}

/// Runs `calport config`.
pub fn config_command(args: ConfigArgs) -> Result<ExitCode> {
    match args.command {
        ConfigCommand::Example => print!("{}", calport_server::config::EXAMPLE),
        ConfigCommand::Check(data) => {
            let config = config(&data).context("configuration")?;
            println!("data directory: {}", config.data_dir.display());
            println!("listen:         {}", config.listen);
            let url = config.database_url();
            let shown = url::Url::parse(&url)
                .map(|mut u| {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    u.to_string()
                })
                .unwrap_or(url);
            println!("database:       {shown}");
            println!(
                "worker:         {} ({} parallel runs, lease {} s)",
                if config.worker.enabled {
                    "in-process"
                } else {
                    "off"
                },
                config.worker.parallel_runs,
                config.worker.lease_seconds
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
