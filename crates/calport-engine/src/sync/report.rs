//! What a sync run did (or, in a dry run, would do).

use serde::Serialize;

use super::guard::GuardTrip;
use crate::report::FailedItem;

/// Counts of one collection pair (in a dry run: planned).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncStats {
    /// Items created on A.
    pub created_on_a: u64,
    /// Items updated on A.
    pub updated_on_a: u64,
    /// Items deleted on A.
    pub deleted_on_a: u64,
    /// Items created on B.
    pub created_on_b: u64,
    /// Items updated on B.
    pub updated_on_b: u64,
    /// Items deleted on B.
    pub deleted_on_b: u64,
    /// Items already in step (including ones whose etag moved without a real change).
    pub unchanged: u64,
    /// Conflicts parked for a person (manual policy).
    pub conflicts: u64,
    /// Conflicts resolved by the policy or a person's choice.
    pub resolved: u64,
    /// Items left alone this run (outside the window, unreadable, …).
    pub skipped: u64,
    /// Items whose action failed.
    pub failed: u64,
}

impl SyncStats {
    /// Adds another pair's counts.
    pub fn add(&mut self, other: &SyncStats) {
        self.created_on_a += other.created_on_a;
        self.updated_on_a += other.updated_on_a;
        self.deleted_on_a += other.deleted_on_a;
        self.created_on_b += other.created_on_b;
        self.updated_on_b += other.updated_on_b;
        self.deleted_on_b += other.deleted_on_b;
        self.unchanged += other.unchanged;
        self.conflicts += other.conflicts;
        self.resolved += other.resolved;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }

    /// Writes made (or planned) on either side.
    pub fn writes(&self) -> u64 {
        self.created_on_a
            + self.updated_on_a
            + self.deleted_on_a
            + self.created_on_b
            + self.updated_on_b
            + self.deleted_on_b
    }
}

/// One planned action, for `--dry-run` and the run's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedChange {
    /// The item's UID.
    pub uid: String,
    /// SUMMARY (events, tasks) or FN (contacts), when known.
    pub summary: Option<String>,
    /// `create on B`, `update on A`, `delete on B`, `park conflict`, `keep both`, …
    pub action: String,
    /// Why, in words.
    pub why: String,
}

/// What happened to one collection pair.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SyncPairReport {
    /// Side A's collection name.
    pub a: String,
    /// Side A's collection href.
    pub a_href: String,
    /// Side B's collection name.
    pub b: String,
    /// Side B's collection href.
    pub b_href: String,
    /// `calendar` or `addressbook`.
    pub kind: String,
    /// Counts (planned in a dry run).
    pub stats: SyncStats,
    /// Every write the plan holds, and every conflict and skip, in plan order.
    pub changes: Vec<PlannedChange>,
    /// Items whose action failed, with the reason.
    pub failures: Vec<FailedItem>,
    /// Items parked as dead letters by this run (they failed too many runs in a row).
    pub dead_letters: u64,
    /// Set when the mass-deletion guard stopped the pair before it wrote anything.
    pub guard: Option<GuardTrip>,
    /// How each side was listed: `unchanged` (collection marker did not move),
    /// `incremental` (sync token), `full`.
    pub listing: [String; 2],
    /// Whether every planned action ran and the sync point was saved.
    pub complete: bool,
}

/// The result of one run of one job.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// The job's name.
    pub job: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Whether the run was stopped early.
    pub cancelled: bool,
    /// Collections created (or, in a dry run, to create).
    pub collections_created: Vec<String>,
    /// Collections not synced, with the reason.
    pub skipped: Vec<String>,
    /// One entry per collection pair.
    pub pairs: Vec<SyncPairReport>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl SyncReport {
    /// Sum of every pair's counts.
    pub fn totals(&self) -> SyncStats {
        let mut totals = SyncStats::default();
        for pair in &self.pairs {
            totals.add(&pair.stats);
        }
        totals
    }

    /// True when nothing needs a person: no failures, no guard trip, no parked conflict,
    /// not cancelled.
    pub fn clean(&self) -> bool {
        !self.cancelled
            && self
                .pairs
                .iter()
                .all(|p| p.failures.is_empty() && p.guard.is_none() && p.stats.conflicts == 0)
    }
}
