//! A run's live progress and stats, as the API shows them.

use std::sync::Mutex;

use calport_engine::Progress;
use calport_engine::report::{MigrationReport, Outcome, PairReport};
use calport_engine::sync::{SyncPairReport, SyncProgress, SyncReport};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;
use utoipa::ToSchema;

/// Progress of one collection pair.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CollectionProgress {
    /// `A name ↔ B name` (sync) or the source collection (migration).
    pub label: String,
    /// Items (migration) or planned writes (sync) done.
    pub done: u64,
    /// Items or planned writes in all.
    pub total: u64,
    /// Whether the pair is finished.
    pub finished: bool,
}

/// Progress of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunProgress {
    /// 0–100.
    pub percent: f64,
    /// Items done over all pairs so far.
    pub items_done: u64,
    /// Items known over all pairs so far.
    pub items_total: u64,
    /// Collection pairs expected (0: not known yet).
    pub collections_total: u64,
    /// Per collection pair.
    pub collections: Vec<CollectionProgress>,
}

impl RunProgress {
    fn recompute(&mut self) {
        self.items_done = self.collections.iter().map(|c| c.done).sum();
        self.items_total = self.collections.iter().map(|c| c.total).sum();
        let pairs = self.collections_total.max(self.collections.len() as u64);
        if pairs == 0 {
            self.percent = 0.0;
            return;
        }
        let per_pair: f64 = self
            .collections
            .iter()
            .map(|c| {
                if c.finished {
                    1.0
                } else if c.total == 0 {
                    0.0
                } else {
                    (c.done as f64 / c.total as f64).min(1.0)
                }
            })
            .sum();
        self.percent = (100.0 * per_pair / pairs as f64).clamp(0.0, 100.0);
        self.percent = (self.percent * 10.0).round() / 10.0;
    }
}

/// Counts of one kind of item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KindCounts {
    /// Created (on either side).
    pub created: u64,
    /// Updated.
    pub updated: u64,
    /// Deleted.
    pub deleted: u64,
    /// Already in step.
    pub unchanged: u64,
    /// Failed.
    pub failed: u64,
    /// Conflicts parked.
    pub conflicts: u64,
}

/// A run's stats by kind. Calendars count as events (their tasks included); address
/// books as contacts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunStats {
    /// Collection pairs handled.
    pub collections: u64,
    /// Collections created.
    pub collections_created: u64,
    /// Calendar items.
    pub events: KindCounts,
    /// Contacts.
    pub contacts: KindCounts,
}

impl RunStats {
    /// From a sync report.
    pub fn from_sync(report: &SyncReport) -> Self {
        let mut stats = RunStats {
            collections: report.pairs.len() as u64,
            collections_created: report.collections_created.len() as u64,
            ..RunStats::default()
        };
        for pair in &report.pairs {
            let s = &pair.stats;
            let counts = if pair.kind == "addressbook" {
                &mut stats.contacts
            } else {
                &mut stats.events
            };
            counts.created += s.created_on_a + s.created_on_b;
            counts.updated += s.updated_on_a + s.updated_on_b;
            counts.deleted += s.deleted_on_a + s.deleted_on_b;
            counts.unchanged += s.unchanged;
            counts.failed += s.failed.max(pair.failures.len() as u64);
            counts.conflicts += s.conflicts;
        }
        stats
    }

    /// From a migration report.
    pub fn from_migration(report: &MigrationReport) -> Self {
        let mut stats = RunStats {
            collections: report.collections.len() as u64,
            collections_created: report
                .collections
                .iter()
                .filter(|c| c.mapping == "created")
                .count() as u64,
            ..RunStats::default()
        };
        for c in &report.collections {
            let counts = if c.kind == "addressbook" {
                &mut stats.contacts
            } else {
                &mut stats.events
            };
            counts.created += c.stats.created;
            counts.updated += c.stats.updated;
            counts.unchanged += c.stats.unchanged;
            counts.failed += c.stats.failed + c.stats.corrupted;
        }
        stats
    }

    /// The stats of a run resumed after a pause: `self` (the part after the pause) plus
    /// `before` (the part before). Items written before the pause are seen again after it
    /// as already in step; they are counted once, as written.
    pub fn after_pause(mut self, before: &RunStats) -> RunStats {
        fn merge(after: &mut KindCounts, before: &KindCounts) {
            let seen_again = before.created + before.updated;
            after.unchanged = after.unchanged.saturating_sub(seen_again) + before.unchanged;
            after.created += before.created;
            after.updated += before.updated;
            after.deleted += before.deleted;
            after.failed = after.failed.max(before.failed);
            after.conflicts = after.conflicts.max(before.conflicts);
        }
        merge(&mut self.events, &before.events);
        merge(&mut self.contacts, &before.contacts);
        self.collections = self.collections.max(before.collections);
        self.collections_created += before.collections_created;
        self
    }

    /// Sum over kinds, by outcome name (for metrics).
    pub fn outcomes(&self) -> [(&'static str, u64); 6] {
        let (e, c) = (&self.events, &self.contacts);
        [
            ("created", e.created + c.created),
            ("updated", e.updated + c.updated),
            ("deleted", e.deleted + c.deleted),
            ("unchanged", e.unchanged + c.unchanged),
            ("failed", e.failed + c.failed),
            ("conflicts", e.conflicts + c.conflicts),
        ]
    }
}

/// A log line for the run's log.
pub type LogLine = (&'static str, String);

/// Receives engine progress and keeps the run's [`RunProgress`]; log lines go to `logs`.
pub struct Tracker {
    progress: Mutex<RunProgress>,
    logs: UnboundedSender<LogLine>,
}

impl Tracker {
    /// A tracker sending log lines to `logs`.
    pub fn new(logs: UnboundedSender<LogLine>) -> Self {
        Self {
            progress: Mutex::new(RunProgress::default()),
            logs,
        }
    }

    /// The progress now.
    pub fn snapshot(&self) -> RunProgress {
        self.lock().clone()
    }

    /// Sends a log line.
    pub fn log(&self, level: &'static str, message: impl Into<String>) {
        let _ = self.logs.send((level, message.into()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RunProgress> {
        self.progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut RunProgress)) {
        let mut p = self.lock();
        f(&mut p);
        p.recompute();
    }

    /// Marks everything finished (100 %).
    pub fn finish(&self) {
        self.update(|p| {
            for c in &mut p.collections {
                c.finished = true;
                c.done = c.done.max(c.total);
            }
            p.collections_total = p.collections.len() as u64;
        });
    }
}

impl SyncProgress for Tracker {
    fn run_planned(&self, pairs: usize) {
        self.update(|p| p.collections_total = pairs as u64);
        self.log("info", format!("{pairs} collection pairs to sync"));
    }

    fn pair_planned(&self, label: &str, writes: usize) {
        self.update(|p| {
            p.collections.push(CollectionProgress {
                label: label.to_owned(),
                done: 0,
                total: writes as u64,
                finished: false,
            });
        });
        self.log("info", format!("{label}: {writes} changes to write"));
    }

    fn action_done(&self, label: &str) {
        self.update(|p| {
            if let Some(c) = p.collections.iter_mut().rev().find(|c| c.label == label) {
                c.done += 1;
            }
        });
    }

    fn pair_finished(&self, report: &SyncPairReport) {
        let label = format!("{} ↔ {}", report.a, report.b);
        let complete = report.complete;
        self.update(
            |p| match p.collections.iter_mut().rev().find(|c| c.label == label) {
                // A pair stopped early (pause, cancel, guard) keeps its count.
                Some(c) if !complete => c.finished = false,
                Some(c) => {
                    c.finished = true;
                    c.done = c.done.max(c.total);
                }
                None => p.collections.push(CollectionProgress {
                    label: label.clone(),
                    done: 0,
                    total: 0,
                    finished: true,
                }),
            },
        );
        let s = &report.stats;
        self.log(
            "info",
            format!(
                "{label}: A +{} ~{} -{}, B +{} ~{} -{}, unchanged {}, conflicts {}",
                s.created_on_a,
                s.updated_on_a,
                s.deleted_on_a,
                s.created_on_b,
                s.updated_on_b,
                s.deleted_on_b,
                s.unchanged,
                s.conflicts
            ),
        );
        if let Some(trip) = &report.guard {
            self.log("warn", format!("{label}: stopped: {trip}"));
        }
        for f in &report.failures {
            self.log(
                "error",
                format!(
                    "{label}: {} {}: {}",
                    f.uid.as_deref().unwrap_or(""),
                    f.source_href,
                    f.reason
                ),
            );
        }
    }
}

impl Progress for Tracker {
    fn collection_started(&self, index: usize, label: &str, total: u64) {
        self.update(|p| {
            while p.collections.len() <= index {
                p.collections.push(CollectionProgress::default());
            }
            p.collections[index] = CollectionProgress {
                label: label.to_owned(),
                done: 0,
                total,
                finished: false,
            };
        });
        self.log("info", format!("{label}: {total} items"));
    }

    fn items_finished(&self, index: usize, _outcome: Outcome, count: u64) {
        self.update(|p| {
            if let Some(c) = p.collections.get_mut(index) {
                c.done += count;
            }
        });
    }

    fn collection_finished(&self, index: usize, report: &PairReport) {
        self.update(|p| {
            if let Some(c) = p.collections.get_mut(index) {
                c.finished = true;
            }
        });
        let s = &report.stats;
        self.log(
            "info",
            format!(
                "{}: created {}, updated {}, unchanged {}, failed {}",
                report.source, s.created, s.updated, s.unchanged, s.failed
            ),
        );
        for f in &report.failures {
            self.log(
                "error",
                format!("{}: {}: {}", report.source, f.source_href, f.reason),
            );
        }
    }

    fn note(&self, text: &str) {
        self.log("info", text.to_owned());
    }
}
