//! `calport serve`: the REST API, the worker that executes runs, the scheduler that
//! queues them, and the outbound webhooks that report them.
//!
//! One process (`serve`) runs all of it on the embedded SQLite database by default.
//! With PostgreSQL, extra processes (`calport worker`) share the queue: runs are claimed
//! with leases, so each run executes once, and a run whose worker dies is taken over.

pub mod api;
pub mod app;
pub mod config;
pub mod error;
pub mod ingest;
pub mod jobspec;
pub mod metrics;
pub mod progress;
pub mod scheduler;
pub mod session;
pub mod ui;
pub mod webhooks;
pub mod worker;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use calport_secure::secrets::MasterKey;
use calport_state::StateDb;
use tokio::sync::watch;

pub use app::App;
pub use config::Config;

/// Opens the database and the secret key of a configuration.
///
/// # Errors
/// An unreachable or unmigratable database, an unusable secret key.
pub async fn open(config: Config) -> anyhow::Result<App> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let env_key = std::env::var(calport_secure::secrets::KEY_ENV_VAR).ok();
    let key =
        MasterKey::from_env_or_file(env_key.as_deref(), &config.data_dir).context("secret key")?;
    let db = StateDb::connect(&config.database_url())
        .await
        .context("database")?;
    Ok(App {
        db,
        config: Arc::new(config),
        key,
        metrics: Arc::default(),
        started: Instant::now(),
        ingest: Arc::default(),
    })
}

/// Serves the API (and, unless disabled, a worker) until `shutdown` turns true.
///
/// # Errors
/// The listen address cannot be bound.
pub async fn serve(app: App, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let addr = app.config.listen_addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(
        "calport serve listening on http://{}",
        listener.local_addr()?
    );
    eprintln!("calport: listening on http://{}", listener.local_addr()?);
    let worker = app.config.worker.enabled.then(|| {
        let (app, shutdown) = (app.clone(), shutdown.clone());
        tokio::spawn(worker::run(app, worker::worker_id(), shutdown))
    });
    let router = api::router(app.clone());
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
        .context("HTTP server")?;
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    app.db.close().await;
    Ok(())
}

/// Runs only a worker (and scheduler, webhook dispatcher) until `shutdown`.
pub async fn work(app: App, shutdown: watch::Receiver<bool>) {
    worker::run(app.clone(), worker::worker_id(), shutdown).await;
    app.db.close().await;
}
