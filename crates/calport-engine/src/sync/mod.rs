//! Continuous sync between two stores, one-way or two-way.
//!
//! A run goes collection pair by collection pair: *observe* both sides against the status
//! (incrementally: an unmoved collection marker costs nothing, a sync token costs one
//! report; only members whose etag moved are fetched), *plan* one [`plan::Decision`] per
//! UID ([`plan::plan_item`], pure), check the plan against the mass-deletion
//! [`guard`], then *execute* it with bounded concurrency and etag preconditions,
//! committing the status of every item as it lands. A run killed at any point converges
//! on the next one: writes are conditional, names derive from UIDs, and a re-run plans
//! from what both sides hold.

mod execute;
pub mod guard;
mod observe;
mod pair;
pub mod plan;
pub mod policy;
mod report;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use calport_core::{CollectionInfo, NewCollection, Store, StoreError};
use calport_state::StateDb;

pub use guard::GuardTrip;
pub use policy::{
    ConflictPolicy, Direction, Keep, ModifyDelete, Policy, Side, TargetPolicy, Window,
};
pub use report::{PlannedChange, SyncPairReport, SyncReport, SyncStats};

use crate::mapping::{CollectionMapping, Selection, map_collections};
use crate::migrate::EngineError;
use pair::PairSync;

/// How a job's collections are paired.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PairMapping {
    /// Every wanted collection of A with B's collection of the same name (then path
    /// segment); missing ones are created when allowed. Two-way jobs also bring B's
    /// unpaired collections to A.
    #[default]
    ByName,
    /// Exactly these pairs, each side named by href, display name or path segment.
    Explicit(Vec<(String, String)>),
    /// Every wanted collection of the source into this one collection of the target
    /// (one-way jobs only).
    Into(String),
}

/// A sync job: two accounts and the rules between them.
#[derive(Clone, Debug)]
pub struct SyncJob {
    /// The job's name (keys its status).
    pub name: String,
    /// Direction, conflict and deletion rules.
    pub policy: Policy,
    /// Which kinds of data.
    pub selection: Selection,
    /// How collections are paired.
    pub mapping: PairMapping,
    /// Create collections the other side lacks.
    pub create_collections: bool,
    /// Only events with an occurrence in this window.
    pub window: Option<Window>,
    /// The share (0–1) of a collection a run may delete before it stops.
    pub mass_delete_guard: f64,
    /// Add `SCHEDULE-AGENT=CLIENT` to organizer/attendees of written items.
    pub schedule_agent_client: bool,
}

impl SyncJob {
    /// A job with defaults: two-way, newest wins, modify wins, pairs by name, guard 0.5.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            policy: Policy::default(),
            selection: Selection::default(),
            mapping: PairMapping::ByName,
            create_collections: true,
            window: None,
            mass_delete_guard: 0.5,
            schedule_agent_client: true,
        }
    }

    /// The key of the job's status: its name, plus the one-way rules. The status of a
    /// `keep` job does not say which target edits it let stand, so switching a job to
    /// `mirror` (or changing its direction) starts from a fresh status: the first run then
    /// compares both sides item by item and makes the target a copy.
    pub fn status_key(&self) -> String {
        match self.policy.direction {
            Direction::Both => self.name.clone(),
            Direction::AToB | Direction::BToA => format!(
                "{} [{}, {}]",
                self.name,
                match self.policy.direction {
                    Direction::AToB => "a-to-b",
                    _ => "b-to-a",
                },
                match self.policy.target {
                    TargetPolicy::Keep => "keep",
                    TargetPolicy::Mirror => "mirror",
                }
            ),
        }
    }

    /// Checks rules that depend on each other.
    ///
    /// # Errors
    /// A sentence naming the option that does not fit.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.mass_delete_guard) {
            return Err("mass_delete_guard must be between 0 and 1".into());
        }
        if matches!(self.mapping, PairMapping::Into(_)) {
            if self.policy.direction.one_way().is_none() {
                return Err("into (several collections into one) needs a one-way direction".into());
            }
            if self.policy.target == TargetPolicy::Mirror {
                return Err(
                    "into (several collections into one) cannot mirror: each source would delete the others' items".into(),
                );
            }
        }
        Ok(())
    }
}

/// How a run behaves.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Plan and report only; write nothing, store nothing.
    pub dry_run: bool,
    /// Run deletions the mass-deletion guard would stop.
    pub force_delete: bool,
    /// Writes in flight per pair.
    pub concurrency: usize,
    /// Members fetched per request.
    pub batch_size: usize,
    /// "Now" for the sync window (unix seconds); the clock when `None`.
    pub now: Option<i64>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            force_delete: false,
            concurrency: 8,
            batch_size: 100,
            now: None,
        }
    }
}

/// Hooks for live progress.
pub trait SyncProgress: Send + std::marker::Sync {
    /// The job's collection pairs are known: `pairs` follow.
    fn run_planned(&self, _pairs: usize) {}
    /// A collection pair was planned; `writes` actions follow.
    fn pair_planned(&self, _label: &str, _writes: usize) {}
    /// One planned action finished.
    fn action_done(&self, _label: &str) {}
    /// A collection pair finished.
    fn pair_finished(&self, _report: &SyncPairReport) {}
}

/// Progress hooks that do nothing.
#[derive(Debug, Default)]
pub struct NoProgress;
impl SyncProgress for NoProgress {}

/// One run of a sync job.
pub struct Sync<'a> {
    a: &'a dyn Store,
    b: &'a dyn Store,
    db: &'a StateDb,
    job: &'a SyncJob,
    options: SyncOptions,
    progress: Arc<dyn SyncProgress>,
    cancel: Arc<AtomicBool>,
}

impl<'a> Sync<'a> {
    /// Prepares a run of `job` between stores `a` and `b` with status in `db`.
    pub fn new(
        a: &'a dyn Store,
        b: &'a dyn Store,
        db: &'a StateDb,
        job: &'a SyncJob,
        options: SyncOptions,
    ) -> Self {
        Self {
            a,
            b,
            db,
            job,
            options,
            progress: Arc::new(NoProgress),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Reports progress to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn SyncProgress>) -> Self {
        self.progress = progress;
        self
    }

    /// Stops at the next item boundary once `cancel` is set.
    pub fn with_cancel(mut self, cancel: Arc<AtomicBool>) -> Self {
        self.cancel = cancel;
        self
    }

    fn store(&self, side: Side) -> &'a dyn Store {
        match side {
            Side::A => self.a,
            Side::B => self.b,
        }
    }

    fn side_error(side: Side, err: StoreError) -> EngineError {
        match side {
            Side::A => EngineError::Source(err),
            Side::B => EngineError::Destination(err),
        }
    }

    async fn discover(&self, side: Side) -> Result<Vec<CollectionInfo>, EngineError> {
        let store = self.store(side);
        let key = format!("{}|{}", self.job.name, side.as_str());
        if let Some(saved) = self.db.discovery_state(&key).await? {
            store.restore_discovery_state(&saved);
        }
        let found = store
            .discover()
            .await
            .map_err(|e| Self::side_error(side, e))?;
        if !self.options.dry_run
            && let Some(state) = store.discovery_state()
        {
            self.db.set_discovery_state(&key, &state).await?;
        }
        Ok(found)
    }

    /// Runs the job once over every collection pair.
    ///
    /// # Errors
    /// Only when a whole side is unusable or the status database fails; per-item and
    /// per-collection problems are in the report.
    pub async fn run(&self) -> Result<SyncReport, EngineError> {
        let started = Instant::now();
        self.job.validate().map_err(EngineError::Config)?;
        // Both accounts at once: a run's fixed cost is the slower side, not the sum.
        let (a_collections, b_collections) =
            tokio::join!(self.discover(Side::A), self.discover(Side::B));
        let (a_collections, b_collections) = (a_collections?, b_collections?);
        let now = self.options.now.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default()
        });
        let mut report = SyncReport {
            job: self.job.name.clone(),
            dry_run: self.options.dry_run,
            ..SyncReport::default()
        };
        let planned = self.pairs(&a_collections, &b_collections, &mut report);
        self.progress.run_planned(planned.len());
        for (a, b) in planned {
            if self.cancel.load(Ordering::SeqCst) {
                report.cancelled = true;
                break;
            }
            let (a, b) = match self.ensure(a, b, &mut report).await {
                Ok(Some(pair)) => pair,
                Ok(None) => continue,
                Err(err) => return Err(err),
            };
            let run = PairSync {
                a: self.a,
                b: self.b,
                db: self.db,
                job: self.job,
                options: &self.options,
                progress: self.progress.as_ref(),
                cancel: &self.cancel,
                a_collection: &a,
                b_collection: &b,
                window: self.job.window.map(|w| w.range(now)),
            };
            let pair_report = run.run().await?;
            self.progress.pair_finished(&pair_report);
            report.pairs.push(pair_report);
        }
        if self.cancel.load(Ordering::SeqCst) {
            report.cancelled = true;
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// The collection pairs of the job: (A side, B side), either of which may still have
    /// to be created.
    fn pairs(
        &self,
        a: &[CollectionInfo],
        b: &[CollectionInfo],
        report: &mut SyncReport,
    ) -> Vec<(Planned, Planned)> {
        let selection = &self.job.selection;
        let create = self.job.create_collections;
        let mut out = Vec::new();
        match &self.job.mapping {
            PairMapping::ByName => {
                let (from, to, from_side) = match self.job.policy.direction {
                    Direction::BToA => (b, a, Side::B),
                    _ => (a, b, Side::A),
                };
                let mut used: Vec<String> = Vec::new();
                for mapping in map_collections(from, to, selection, create) {
                    let pair = match mapping {
                        CollectionMapping::Paired {
                            source,
                            destination,
                        } => (Planned::Exists(source), Planned::Exists(destination)),
                        CollectionMapping::Create { source, spec } => {
                            (Planned::Exists(source), Planned::Create(spec))
                        }
                        CollectionMapping::Skipped { source, reason } => {
                            report.skipped.push(format!("{}: {reason}", source.label()));
                            continue;
                        }
                    };
                    if let Planned::Exists(c) = &pair.1 {
                        used.push(c.href.to_string());
                    }
                    out.push(if from_side == Side::A {
                        pair
                    } else {
                        (pair.1, pair.0)
                    });
                }
                if self.job.policy.direction == Direction::Both {
                    // B's collections that no A collection took: bring them to A.
                    let rest: Vec<CollectionInfo> = b
                        .iter()
                        .filter(|c| !used.contains(&c.href.to_string()))
                        .cloned()
                        .collect();
                    for mapping in map_collections(&rest, &[], selection, create) {
                        match mapping {
                            CollectionMapping::Create { source, spec } => {
                                out.push((Planned::Create(spec), Planned::Exists(source)));
                            }
                            CollectionMapping::Skipped { source, reason } => {
                                report
                                    .skipped
                                    .push(format!("{} (on B): {reason}", source.label()));
                            }
                            CollectionMapping::Paired { .. } => {}
                        }
                    }
                }
            }
            PairMapping::Explicit(pairs) => {
                for (a_name, b_name) in pairs {
                    match (find_collection(a, a_name), find_collection(b, b_name)) {
                        (Some(x), Some(y)) => {
                            out.push((Planned::Exists(x.clone()), Planned::Exists(y.clone())))
                        }
                        (x, y) => {
                            let missing = if x.is_none() {
                                format!("A has no collection {a_name:?}")
                            } else {
                                format!("B has no collection {b_name:?}")
                            };
                            let _ = y;
                            report
                                .skipped
                                .push(format!("{a_name} ↔ {b_name}: {missing}"));
                        }
                    }
                }
            }
            PairMapping::Into(name) => {
                let (sources, targets) = match self.job.policy.direction {
                    Direction::BToA => (b, a),
                    _ => (a, b),
                };
                let Some(target) = find_collection(targets, name) else {
                    report
                        .skipped
                        .push(format!("into {name:?}: the target has no such collection"));
                    return out;
                };
                for source in sources
                    .iter()
                    .filter(|c| selection.wants_collection(c) && c.kind == target.kind)
                {
                    let pair = (
                        Planned::Exists(source.clone()),
                        Planned::Exists(target.clone()),
                    );
                    out.push(if self.job.policy.direction == Direction::BToA {
                        (pair.1, pair.0)
                    } else {
                        pair
                    });
                }
            }
        }
        out
    }

    /// Creates a collection a pair still lacks (not in a dry run). `Ok(None)` when the
    /// pair cannot go on (dry run with a collection to create is still planned).
    async fn ensure(
        &self,
        a: Planned,
        b: Planned,
        report: &mut SyncReport,
    ) -> Result<Option<(CollectionInfo, CollectionInfo)>, EngineError> {
        let mut made = Vec::new();
        for (side, planned) in [(Side::A, a), (Side::B, b)] {
            match planned {
                Planned::Exists(c) => made.push(c),
                Planned::Create(spec) if self.options.dry_run => {
                    report.collections_created.push(format!(
                        "would create {} on {side}",
                        spec.display_name.as_deref().unwrap_or(&spec.segment)
                    ));
                    made.push(placeholder(&spec));
                }
                Planned::Create(spec) => {
                    match self.store(side).create_collection(None, &spec).await {
                        Ok(c) => {
                            report
                                .collections_created
                                .push(format!("{} on {side}", c.label()));
                            made.push(c);
                        }
                        Err(err) => {
                            report.skipped.push(format!(
                                "{}: cannot create it on {side}: {err}",
                                spec.display_name.as_deref().unwrap_or(&spec.segment)
                            ));
                            return Ok(None);
                        }
                    }
                }
            }
        }
        let b = made.pop();
        let a = made.pop();
        Ok(a.zip(b))
    }
}

/// One side of a pair before the run: found, or to be created.
enum Planned {
    Exists(CollectionInfo),
    Create(NewCollection),
}

/// A stand-in for a collection a dry run would create: empty, never listed.
fn placeholder(spec: &NewCollection) -> CollectionInfo {
    CollectionInfo {
        href: calport_core::ItemRef::new(format!("(new)/{}/", spec.segment)),
        kind: spec.kind,
        display_name: spec.display_name.clone(),
        color: spec.color.clone(),
        description: spec.description.clone(),
        components: spec.components.clone(),
        ctag: None,
        sync_token: None,
        supports_sync: false,
        read_only: false,
    }
}

/// Whether a collection is a dry run's stand-in.
fn is_placeholder(c: &CollectionInfo) -> bool {
    c.href.as_str().starts_with("(new)/")
}

/// Finds a collection by href (or its path), display name, or path segment.
pub fn find_collection<'c>(
    collections: &'c [CollectionInfo],
    name: &str,
) -> Option<&'c CollectionInfo> {
    let trimmed = name.trim().trim_end_matches('/');
    let norm = |s: &str| s.trim().to_lowercase();
    collections
        .iter()
        .find(|c| c.href.as_str().trim_end_matches('/') == trimmed)
        .or_else(|| {
            collections.iter().find(|c| {
                c.href
                    .as_str()
                    .trim_end_matches('/')
                    .ends_with(&format!("/{}", trimmed.trim_start_matches('/')))
                    && trimmed.contains('/')
            })
        })
        .or_else(|| {
            collections.iter().find(|c| {
                c.display_name
                    .as_deref()
                    .is_some_and(|d| norm(d) == norm(name))
            })
        })
        .or_else(|| {
            collections
                .iter()
                .find(|c| norm(c.segment()) == norm(trimmed))
        })
}
