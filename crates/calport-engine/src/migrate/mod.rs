//! Executing a one-way transfer (a migration) from a source store to a destination store.
//!
//! Per collection pair: list both sides (incrementally from the stored tokens when the
//! stores can), work out which source members may have changed (new etag, no status, or
//! an earlier failure), fetch those in batches, plan each item ([`crate::plan`]) and carry
//! the actions out with bounded concurrency. The status of every item is committed as soon
//! as its write lands; tokens are stored only after the whole pair went through, so an
//! interrupted run is simply repeated from the old tokens and finds its own writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use calport_core::{CollectionInfo, ErrorClass, Store, StoreError};
use calport_state::{StateDb, StateError};
use thiserror::Error;

use crate::mapping::{CollectionMapping, Selection, map_collections};
use crate::report::{MigrationReport, Outcome, PairReport, PairStats};

pub(crate) mod items;
mod known;
mod pair;
mod verify;
mod write;

use pair::PairRun;

/// A failure that stops the whole run.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The source store is unusable.
    #[error("source: {0}")]
    Source(StoreError),
    /// The destination store is unusable.
    #[error("destination: {0}")]
    Destination(StoreError),
    /// The status database failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The job's options do not fit together.
    #[error("job configuration: {0}")]
    Config(String),
}

/// How a migration runs.
#[derive(Clone, Debug)]
pub struct MigrateOptions {
    /// Identifies this source/destination combination in the status database.
    pub job_key: String,
    /// What to move.
    pub selection: Selection,
    /// Create missing destination collections.
    pub create_collections: bool,
    /// Plan only: read both sides, write nothing (neither stores nor status).
    pub dry_run: bool,
    /// Parallel writes per collection.
    pub concurrency: usize,
    /// Members fetched per multiget round.
    pub batch_size: usize,
    /// Add `SCHEDULE-AGENT=CLIENT` to ORGANIZER/ATTENDEE so the destination sends no
    /// invitations.
    pub schedule_agent_client: bool,
    /// Read every written item back and compare it in meaning with what was sent.
    pub verify: bool,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self {
            job_key: "migrate".into(),
            selection: Selection::default(),
            create_collections: true,
            dry_run: false,
            concurrency: 8,
            batch_size: 200,
            schedule_agent_client: true,
            verify: true,
        }
    }
}

/// Observer of a run's progress (progress bars, log lines, live API updates).
pub trait Progress: Send + Sync {
    /// A collection pair starts; `total` items will be accounted for.
    fn collection_started(&self, _index: usize, _label: &str, _total: u64) {}
    /// `count` more items of the pair reached `outcome`.
    fn items_finished(&self, _index: usize, _outcome: Outcome, _count: u64) {}
    /// The pair is done.
    fn collection_finished(&self, _index: usize, _report: &PairReport) {}
    /// Something worth telling the user.
    fn note(&self, _text: &str) {}
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Default)]
pub struct SilentProgress;

impl Progress for SilentProgress {}

/// One migration run between two stores.
pub struct Migration<'a> {
    source: &'a dyn Store,
    destination: &'a dyn Store,
    state: &'a StateDb,
    options: MigrateOptions,
    progress: Arc<dyn Progress>,
    pub(super) cancel: Arc<AtomicBool>,
}

impl<'a> Migration<'a> {
    /// Prepares a run; nothing happens until [`Migration::run`].
    pub fn new(
        source: &'a dyn Store,
        destination: &'a dyn Store,
        state: &'a StateDb,
        options: MigrateOptions,
    ) -> Self {
        Self {
            source,
            destination,
            state,
            options,
            progress: Arc::new(SilentProgress),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Reports progress to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Stops at the next item boundary once `cancel` is set.
    pub fn with_cancel(mut self, cancel: Arc<AtomicBool>) -> Self {
        self.cancel = cancel;
        self
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Runs the migration: discovers both sides, maps collections, transfers items.
    ///
    /// # Errors
    /// [`EngineError`] when a side is unusable (bad credentials, unreachable, not DAV) or
    /// the status database fails. Per-item problems are never errors: they are listed in
    /// the report.
    pub async fn run(&self) -> Result<MigrationReport, EngineError> {
        let started = Instant::now();
        let source_collections = self.source.discover().await.map_err(EngineError::Source)?;
        let destination_collections = self
            .destination
            .discover()
            .await
            .map_err(EngineError::Destination)?;
        let mappings = map_collections(
            &source_collections,
            &destination_collections,
            &self.options.selection,
            self.options.create_collections,
        );

        let mut reports = Vec::with_capacity(mappings.len());
        let mut cancelled = false;
        for (index, mapping) in mappings.into_iter().enumerate() {
            if self.cancelled() {
                cancelled = true;
            }
            let report = match mapping {
                CollectionMapping::Skipped { source, reason } => {
                    skipped_report(&source, None, "skipped", reason)
                }
                _ if cancelled => continue,
                CollectionMapping::Paired {
                    source,
                    destination,
                } => {
                    self.transfer(index, &source, Some(&destination), "paired")
                        .await?
                }
                CollectionMapping::Create { source, spec } if self.options.dry_run => {
                    let mut report = self.transfer(index, &source, None, "would_create").await?;
                    report.destination = spec.display_name.clone();
                    report
                }
                CollectionMapping::Create { source, spec } => {
                    match self.destination.create_collection(None, &spec).await {
                        Ok(created) => {
                            self.progress.note(&format!(
                                "created {} \"{}\" at {}",
                                created.kind.as_str(),
                                created.label(),
                                created.href
                            ));
                            self.transfer(index, &source, Some(&created), "created")
                                .await?
                        }
                        Err(err) if err.class() == ErrorClass::Fatal => {
                            return Err(EngineError::Destination(err));
                        }
                        Err(err) => skipped_report(
                            &source,
                            spec.display_name.clone(),
                            "failed",
                            format!("cannot create the destination collection: {err}"),
                        ),
                    }
                }
            };
            if !report.complete && report.mapping != "skipped" && report.mapping != "failed" {
                cancelled = true;
            }
            self.progress.collection_finished(index, &report);
            reports.push(report);
        }

        let mut totals = PairStats::default();
        for report in &reports {
            totals.add(&report.stats);
        }
        Ok(MigrationReport {
            dry_run: self.options.dry_run,
            cancelled: cancelled || self.cancelled(),
            collections: reports,
            totals,
            seconds: started.elapsed().as_secs_f64(),
            source_server: self.source.server_info(),
            destination_server: self.destination.server_info(),
        })
    }

    async fn transfer(
        &self,
        index: usize,
        source: &CollectionInfo,
        destination: Option<&CollectionInfo>,
        mapping: &str,
    ) -> Result<PairReport, EngineError> {
        let mut pair = PairRun::new(self, index, source, destination).await?;
        let complete = pair.run().await?;
        let PairRun {
            stats,
            failures,
            corrupted,
            workarounds,
            ..
        } = pair;
        Ok(PairReport {
            source: source.label().to_owned(),
            source_href: source.href.to_string(),
            destination: destination.map(|d| d.label().to_owned()),
            destination_href: destination.map(|d| d.href.to_string()),
            kind: source.kind.as_str().to_owned(),
            mapping: mapping.to_owned(),
            note: None,
            stats,
            failures,
            corrupted,
            workarounds,
            complete,
        })
    }
}

fn skipped_report(
    source: &CollectionInfo,
    destination: Option<String>,
    mapping: &str,
    reason: String,
) -> PairReport {
    PairReport {
        source: source.label().to_owned(),
        source_href: source.href.to_string(),
        destination,
        destination_href: None,
        kind: source.kind.as_str().to_owned(),
        mapping: mapping.to_owned(),
        note: Some(reason),
        stats: PairStats::default(),
        failures: Vec::new(),
        corrupted: Vec::new(),
        workarounds: Vec::new(),
        complete: true,
    }
}
